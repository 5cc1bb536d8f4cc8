//! The `sops` metadata block (SOPS `stores/stores.go`): which master keys
//! hold the data key, the MAC, and which values were left in clear.

use crate::path::Segment;

/// One age master key: the recipient and the data key encrypted to it
/// (an armored age file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgeKey {
    pub recipient: String,
    pub enc: String,
}

/// Which values SOPS encrypted (at most one of these is set; none means
/// `unencrypted_suffix: _unencrypted`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CryptRules {
    pub unencrypted_suffix: Option<String>,
    pub encrypted_suffix: Option<String>,
    pub unencrypted_regex: Option<String>,
    pub encrypted_regex: Option<String>,
    pub unencrypted_comment_regex: Option<String>,
    pub encrypted_comment_regex: Option<String>,
}

/// What seal needs of the metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SopsMetadata {
    pub age: Vec<AgeKey>,
    /// Master keys of other kinds (`pgp`, `kms`, …), by kind, for messages.
    pub other_keys: Vec<String>,
    /// Number of `key_groups` (Shamir's secret sharing when above one).
    pub key_groups: usize,
    pub shamir_threshold: Option<String>,
    pub lastmodified: String,
    pub mac: String,
    pub mac_only_encrypted: bool,
    pub rules: CryptRules,
    pub version: Option<String>,
}

/// Why the metadata cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("the SOPS metadata has no `{0}` entry")]
    Missing(&'static str),
    #[error("the SOPS metadata entry {0} is not what SOPS writes")]
    Malformed(String),
    #[error("the SOPS metadata sets more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex and unencrypted_comment_regex")]
    TwoRules,
}

const KEY_KINDS: [&str; 7] = [
    "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms", "age",
];

impl SopsMetadata {
    /// Read the metadata from its scalar entries, each given by its path
    /// below `sops` and its value (a flattened dotenv key is turned into
    /// the same path first, see [`unflatten`]).
    pub fn from_entries(entries: &[(Vec<Segment>, String)]) -> Result<SopsMetadata, MetadataError> {
        let mut meta = SopsMetadata::default();
        let mut ages: Vec<(Option<String>, Option<String>)> = Vec::new();
        let mut groups = std::collections::BTreeSet::new();
        let mut group_ages: std::collections::BTreeMap<
            (usize, usize),
            (Option<String>, Option<String>),
        > = Default::default();
        let mut others = Vec::new();
        let mut rule_count = 0;
        for (path, value) in entries {
            let key = |i: usize| match path.get(i) {
                Some(Segment::Key(k)) => Some(k.as_str()),
                _ => None,
            };
            let shown = || path_text(path);
            let Some(first) = key(0) else {
                return Err(MetadataError::Malformed(shown()));
            };
            let one = path.len() == 1;
            match first {
                "lastmodified" if one => meta.lastmodified = value.clone(),
                "mac" if one => meta.mac = value.clone(),
                "version" if one => meta.version = Some(value.clone()),
                "shamir_threshold" if one => meta.shamir_threshold = Some(value.clone()),
                "mac_only_encrypted" if one => {
                    meta.mac_only_encrypted =
                        matches!(value.as_str(), "true" | "True" | "TRUE" | "1")
                }
                "unencrypted_suffix"
                | "encrypted_suffix"
                | "unencrypted_regex"
                | "encrypted_regex"
                | "unencrypted_comment_regex"
                | "encrypted_comment_regex"
                    if one =>
                {
                    if value.is_empty() {
                        continue;
                    }
                    rule_count += 1;
                    let r = &mut meta.rules;
                    let slot = match first {
                        "unencrypted_suffix" => &mut r.unencrypted_suffix,
                        "encrypted_suffix" => &mut r.encrypted_suffix,
                        "unencrypted_regex" => &mut r.unencrypted_regex,
                        "encrypted_regex" => &mut r.encrypted_regex,
                        "unencrypted_comment_regex" => &mut r.unencrypted_comment_regex,
                        _ => &mut r.encrypted_comment_regex,
                    };
                    *slot = Some(value.clone());
                }
                "age" => {
                    let (Some(Segment::Index(i)), Some(field), true) =
                        (path.get(1), key(2), path.len() == 3)
                    else {
                        return Err(MetadataError::Malformed(shown()));
                    };
                    if ages.len() <= *i {
                        if *i > 10_000 {
                            return Err(MetadataError::Malformed(shown()));
                        }
                        ages.resize(*i + 1, (None, None));
                    }
                    match field {
                        "recipient" => ages[*i].0 = Some(value.clone()),
                        "enc" => ages[*i].1 = Some(value.clone()),
                        _ => {}
                    }
                }
                "key_groups" => {
                    let Some(Segment::Index(g)) = path.get(1) else {
                        return Err(MetadataError::Malformed(shown()));
                    };
                    groups.insert(*g);
                    if let (Some("age"), Some(Segment::Index(i)), Some(field), 5) =
                        (key(2), path.get(3), key(4), path.len())
                    {
                        let slot = group_ages.entry((*g, *i)).or_default();
                        match field {
                            "recipient" => slot.0 = Some(value.clone()),
                            "enc" => slot.1 = Some(value.clone()),
                            _ => {}
                        }
                    } else if let Some(kind) = key(2) {
                        if kind != "age"
                            && KEY_KINDS.contains(&kind)
                            && !others.iter().any(|o| o == kind)
                        {
                            others.push(kind.to_owned());
                        }
                    }
                }
                kind if KEY_KINDS.contains(&kind) && !others.iter().any(|o| o == kind) => {
                    others.push(kind.to_owned());
                }
                _ => {}
            }
        }
        if rule_count > 1 {
            return Err(MetadataError::TwoRules);
        }
        if rule_count == 0 {
            meta.rules.unencrypted_suffix = Some("_unencrypted".to_owned());
        }
        // One key group holds the whole data key, like the keys outside
        // groups; several split it (Shamir), which seal does not combine.
        let grouped = group_ages
            .into_iter()
            .filter(|_| groups.len() == 1)
            .map(|((g, i), v)| (format!("key_groups.{g}.age.{i}"), v));
        let plain = ages
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("age.{i}"), v));
        for (at, (recipient, enc)) in plain.chain(grouped) {
            match (recipient, enc) {
                (Some(recipient), Some(enc)) => meta.age.push(AgeKey { recipient, enc }),
                (None, None) => {}
                _ => return Err(MetadataError::Malformed(at)),
            }
        }
        meta.key_groups = groups.len();
        meta.other_keys = others;
        if meta.lastmodified.is_empty() {
            return Err(MetadataError::Missing("lastmodified"));
        }
        if meta.mac.is_empty() {
            return Err(MetadataError::Missing("mac"));
        }
        Ok(meta)
    }

    /// The `lastmodified` text the MAC is bound to: SOPS parses it as RFC
    /// 3339 and formats it again (whole seconds, `Z` for UTC).
    pub fn mac_additional_data(&self) -> Result<String, MetadataError> {
        let bad = || MetadataError::Malformed("lastmodified".to_owned());
        let t = &self.lastmodified;
        let b = t.as_bytes();
        if b.len() < 20 || !b[..19].is_ascii() || b[10] != b'T' && b[10] != b't' {
            return Err(bad());
        }
        let (head, mut rest) = t.split_at(19);
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            rest = &frac[digits..];
        }
        let zone = match rest {
            "Z" | "z" | "+00:00" | "-00:00" => "Z",
            z if z.len() == 6 && z.starts_with(['+', '-']) && z.as_bytes()[3] == b':' => z,
            _ => return Err(bad()),
        };
        let mut head = head.to_owned();
        head.replace_range(10..11, "T");
        Ok(format!("{head}{zone}"))
    }
}

/// `sops_age__list_0__map_enc` (SOPS's flattened dotenv metadata, after
/// the `sops_` prefix) as the path `age.0.enc`.
pub fn unflatten(key: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = key;
    let mut kind_is_list = false;
    loop {
        let next = [rest.find("__map_"), rest.find("__list_")]
            .into_iter()
            .flatten()
            .min();
        let (part, after) = match next {
            Some(at) => (&rest[..at], Some(at)),
            None => (rest, None),
        };
        if kind_is_list {
            match part.parse::<usize>() {
                Ok(i) => out.push(Segment::Index(i)),
                Err(_) => out.push(Segment::Key(part.to_owned())),
            }
        } else {
            out.push(Segment::Key(part.to_owned()));
        }
        let Some(at) = after else { break };
        if rest[at..].starts_with("__map_") {
            kind_is_list = false;
            rest = &rest[at + "__map_".len()..];
        } else {
            kind_is_list = true;
            rest = &rest[at + "__list_".len()..];
        }
    }
    out
}

fn path_text(path: &[Segment]) -> String {
    path.iter()
        .map(|s| match s {
            Segment::Key(k) => k.clone(),
            Segment::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Segment {
        Segment::Key(s.to_owned())
    }

    #[test]
    fn flattened_dotenv_keys_become_paths() {
        assert_eq!(
            unflatten("age__list_0__map_enc"),
            vec![k("age"), Segment::Index(0), k("enc")]
        );
        assert_eq!(unflatten("lastmodified"), vec![k("lastmodified")]);
        assert_eq!(
            unflatten("key_groups__list_1__map_age__list_0__map_recipient"),
            vec![
                k("key_groups"),
                Segment::Index(1),
                k("age"),
                Segment::Index(0),
                k("recipient")
            ]
        );
    }

    #[test]
    fn metadata_reads_age_keys_and_rules() {
        let e = |p: Vec<Segment>, v: &str| (p, v.to_owned());
        let meta = SopsMetadata::from_entries(&[
            e(vec![k("age"), Segment::Index(0), k("recipient")], "age1x"),
            e(vec![k("age"), Segment::Index(0), k("enc")], "ENC"),
            e(vec![k("pgp"), Segment::Index(0), k("fp")], "ABC"),
            e(vec![k("lastmodified")], "2026-01-01T00:00:00Z"),
            e(vec![k("mac")], "ENC[…]"),
            e(vec![k("encrypted_regex")], "^data$"),
        ])
        .unwrap();
        assert_eq!(
            meta.age,
            vec![AgeKey {
                recipient: "age1x".into(),
                enc: "ENC".into()
            }]
        );
        assert_eq!(meta.other_keys, vec!["pgp".to_owned()]);
        assert_eq!(meta.rules.encrypted_regex.as_deref(), Some("^data$"));
        assert_eq!(meta.rules.unencrypted_suffix, None);
        assert_eq!(meta.mac_additional_data().unwrap(), "2026-01-01T00:00:00Z");
        let two = SopsMetadata::from_entries(&[
            e(vec![k("lastmodified")], "2026-01-01T00:00:00Z"),
            e(vec![k("mac")], "x"),
            e(vec![k("encrypted_regex")], "a"),
            e(vec![k("unencrypted_suffix")], "b"),
        ]);
        assert_eq!(two, Err(MetadataError::TwoRules));
        let none = SopsMetadata::from_entries(&[e(vec![k("mac")], "x")]);
        assert_eq!(none, Err(MetadataError::Missing("lastmodified")));
    }

    #[test]
    fn lastmodified_is_normalised_as_go_formats_it() {
        let m = |t: &str| {
            SopsMetadata {
                lastmodified: t.into(),
                ..Default::default()
            }
            .mac_additional_data()
        };
        assert_eq!(
            m("2026-01-01T10:00:00.123Z").unwrap(),
            "2026-01-01T10:00:00Z"
        );
        assert_eq!(
            m("2026-01-01T10:00:00+02:00").unwrap(),
            "2026-01-01T10:00:00+02:00"
        );
        assert_eq!(
            m("2026-01-01T10:00:00+00:00").unwrap(),
            "2026-01-01T10:00:00Z"
        );
        assert!(m("yesterday").is_err());
        assert!(m("2026-01-01T10:00:0é0Z").is_err());
    }
}
