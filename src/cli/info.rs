//! `seal info`: what a sealed file says about itself, with no key.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{detect_format, display, print_stdout, read_input, CliError, FormatArg};
use crate::document::{self, PlainReason};
use crate::path::KeyPath;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    format: FormatArg,
    /// The sealed file (`-` for standard input).
    file: PathBuf,
}

pub fn run(args: InfoArgs) -> Result<ExitCode, CliError> {
    let format = detect_format(&args.file, &args.format)?;
    let name = display(&args.file);
    let text = read_input(&args.file)?;
    let info = document::inspect(format, &text).map_err(|e| CliError::doc(&name, e))?;
    let m = &info.metadata;
    let recipients: Vec<&str> = m.recipients.iter().map(|r| r.recipient.as_str()).collect();
    let out = if args.json {
        let v = serde_json::json!({
            "file": name,
            "format": format.name(),
            "version": m.version,
            "modified": m.modified,
            "encrypted_values": info.encrypted_values,
            "plaintext_values": info.plain_values,
            "encrypt": m.encrypt,
            "recipients": recipients,
            "signer": m.signed.as_ref().map(|s| s.signer.as_str()),
            "pending": crate::pending::paths(m),
            "plaintext": info.plaintext.iter().map(|(path, why)| serde_json::json!({
                "path": path.to_string(),
                "reason": why.name(),
            })).collect::<Vec<_>>(),
            "changed": info.dates.iter().map(|(path, date)| serde_json::json!({
                "path": path.to_string(),
                "date": date,
            })).collect::<Vec<_>>(),
        });
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
    } else {
        let encrypt = if m.encrypt.is_empty() {
            "every value".to_owned()
        } else {
            m.encrypt.join(", ")
        };
        let mut s = format!(
            "file:        {name}\nformat:      {} (seal format version {})\nmodified:    {}\nvalues:      {} encrypted, {} plaintext\nencrypts:    {encrypt}\n",
            format.name(),
            m.version,
            m.modified,
            info.encrypted_values,
            info.plain_values,
        );
        s.push_str(&plaintext_lines(&info.plaintext));
        s.push_str(&format!("recipients:  {}\n", recipients.len()));
        for r in recipients {
            s.push_str(&format!("  {r}\n"));
        }
        // Who the file says signed it; `seal verify` checks the signature.
        if let Some(signed) = &m.signed {
            s.push_str(&format!(
                "signer:      {} (see `seal verify`)\n",
                signed.signer
            ));
        }
        let pending = crate::pending::paths(m);
        if !pending.is_empty() {
            s.push_str(&format!(
                "pending:     {} (added with `seal set --public`, not authenticated; `seal fold` folds them in)\n",
                pending.len()
            ));
            for p in &pending {
                s.push_str(&format!("  {p}\n"));
            }
        }
        s.push_str(&changed_lines(&info.dates));
        // Recipients, `modified` and patterns are the file's text.
        super::printable(&s).into_owned()
    };
    print_stdout(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The `changed:` lines: when each sealed value last changed (spec
/// section 6.1); values with no recorded date say so (`seal status` looks
/// them up in git history).
fn changed_lines(dates: &[(KeyPath, Option<String>)]) -> String {
    dates
        .iter()
        .enumerate()
        .map(|(i, (path, date))| {
            let label = if i == 0 { "changed:" } else { "" };
            let date = date.as_deref().unwrap_or("no date recorded");
            format!("{label:<13}{date:<20}  {path}\n")
        })
        .collect()
}

/// The `plaintext:` lines: each value left in plaintext by key path and
/// why, except that values the encrypt patterns leave out are counted (a
/// rule that seals `stringData.*` leaves the rest of the file readable on
/// purpose).
fn plaintext_lines(plaintext: &[(KeyPath, PlainReason)]) -> String {
    let mut lines: Vec<String> = plaintext
        .iter()
        .filter(|(_, why)| *why != PlainReason::NotSelected)
        .map(|(path, why)| {
            let why = match why {
                PlainReason::Empty => "an empty value: nothing to encrypt",
                PlainReason::Alias => "an alias: it only refers to its anchor's value",
                PlainReason::NotEncrypted => {
                    "selected but not encrypted: the file was changed outside seal"
                }
                PlainReason::NotSelected => "",
            };
            format!("{path} ({why})")
        })
        .collect();
    let unselected = plaintext
        .iter()
        .filter(|(_, why)| *why == PlainReason::NotSelected)
        .count();
    if unselected > 0 {
        lines.push(format!(
            "{unselected} value(s) the encrypt patterns do not select"
        ));
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let label = if i == 0 { "plaintext:" } else { "" };
            format!("{label:<13}{line}\n")
        })
        .collect()
}
