//! Typing for `seal get`: what a scalar means as JSON under the YAML 1.2
//! core schema, and whether a core-schema tag fits its value.

use zeroize::Zeroizing;

use crate::format::{ParseError, Typed};
use crate::path::{KeyPath, PathQuery};

use super::for_each_leaf;
use super::metadata::analyze;
use super::tree::{Kind, Node};
use super::view::for_each_value;

pub(super) fn typed_values(src: &str) -> Result<Vec<(KeyPath, Typed)>, ParseError> {
    let analysis = analyze(src)?;
    let mut out = Vec::new();
    // An alias's value is typed as the node it names.
    for_each_value(src, &analysis, |path, node| {
        let typed = match &node.kind {
            Kind::Scalar { span, value } => scalar_type(
                tag_of(src, node),
                src.get(span.clone()).unwrap_or(""),
                value,
            ),
            Kind::Empty { .. } => Typed::literal("null"),
            Kind::Alias { .. } => return,
            Kind::Map { .. } => Typed::literal("{}"),
            Kind::Seq { .. } => Typed::literal("[]"),
        };
        out.push((path.clone(), typed));
    })?;
    Ok(out)
}

/// A scalar's tag (`!!int`, `!x`), from the properties before its text.
fn tag_of<'s>(src: &'s str, node: &Node) -> Option<&'s str> {
    let Kind::Scalar { span, .. } = &node.kind else {
        return None;
    };
    src.get(node.start..span.start)?
        .split_whitespace()
        .find(|p| p.starts_with('!'))
}

/// The JSON type of a scalar: quoted and block scalars and `!!str` are
/// strings; a plain scalar is resolved by the YAML 1.2 core schema (null,
/// booleans, integers in decimal, octal `0o` and hex `0x`, floats), as are
/// `!!null`, `!!bool`, `!!int` and `!!float` ones. Anything JSON cannot
/// hold (`.inf`, `.nan`, an integer past 128 bits) stays a string.
fn scalar_type(tag: Option<&str>, text: &str, value: &Zeroizing<String>) -> Typed {
    let quoted = text.starts_with(['"', '\'', '|', '>']);
    let core = match tag {
        None => !quoted,
        Some("!!null" | "!!bool" | "!!int" | "!!float") => true,
        Some(_) => false,
    };
    match core.then(|| core_schema_json(value)).flatten() {
        Some(literal) => Typed::Literal(literal),
        None => Typed::String(value.clone()),
    }
}

/// The tag of the scalar at `path` when its value does not fit it (`!!int`
/// on `abc`): loaders that apply tags refuse such a document, though it
/// parses. Only the core schema's tags are checked; others mean what their
/// application says.
pub fn misfit_tag(src: &str, path: &PathQuery) -> Result<Option<String>, ParseError> {
    let analysis = analyze(src)?;
    let mut misfit = None;
    for_each_leaf(&analysis, |leaf, node| {
        let Kind::Scalar { value, .. } = &node.kind else {
            return;
        };
        if !leaf.matches(path) {
            return;
        }
        let Some(tag) = tag_of(src, node) else {
            return;
        };
        let meaning = core_schema_json(value);
        let special_float =
            [".inf", "-.inf", "+.inf", ".nan"].contains(&value.to_ascii_lowercase().as_str());
        let fits = match tag {
            "!!null" => meaning.as_deref().is_some_and(|m| m == "null"),
            "!!bool" => meaning
                .as_deref()
                .is_some_and(|m| m == "true" || m == "false"),
            "!!int" => meaning
                .as_deref()
                .is_some_and(|m| m.bytes().all(|b| b == b'-' || b.is_ascii_digit())),
            "!!float" => {
                special_float
                    || meaning
                        .as_deref()
                        .is_some_and(|m| m.starts_with(|c: char| c == '-' || c.is_ascii_digit()))
            }
            _ => true,
        };
        if !fits {
            misfit = Some(tag.to_owned());
        }
    });
    Ok(misfit)
}

/// JSON text for what a plain scalar means under the YAML 1.2 core schema,
/// or `None` for a string.
pub(super) fn core_schema_json(value: &str) -> Option<Zeroizing<String>> {
    let json = |s: String| Some(Zeroizing::new(s));
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return json("null".into()),
        "true" | "True" | "TRUE" => return json("true".into()),
        "false" | "False" | "FALSE" => return json("false".into()),
        _ => {}
    }
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if let Some(octal) = value.strip_prefix("0o").filter(|s| digits(s, 8)) {
        return u128::from_str_radix(octal, 8)
            .ok()
            .and_then(|n| json(n.to_string()));
    }
    if let Some(hex) = value.strip_prefix("0x").filter(|s| digits(s, 16)) {
        return u128::from_str_radix(hex, 16)
            .ok()
            .and_then(|n| json(n.to_string()));
    }
    let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
    if digits(unsigned, 10) {
        return value.parse::<i128>().ok().and_then(|n| json(n.to_string()));
    }
    // [-+]? ( . [0-9]+ | [0-9]+ ( . [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (whole.is_empty() && digits(fraction, 10))
                || (digits(whole, 10) && (fraction.is_empty() || digits(fraction, 10)))
        }
        None => digits(mantissa, 10),
    };
    if !mantissa_ok || exponent.is_some_and(|e| !digits(e, 10)) {
        return None;
    }
    let number: f64 = value.parse().ok()?;
    number
        .is_finite()
        .then(|| format!("{number:?}"))
        .and_then(json)
}
