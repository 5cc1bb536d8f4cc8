//! Which values SOPS encrypted: its `shouldBeEncrypted` for the rules a
//! file's metadata records (`unencrypted_suffix`, `encrypted_suffix`,
//! `unencrypted_regex`, `encrypted_regex`). Only mapping keys take part;
//! sequence positions do not.

use regex::Regex;

use super::metadata::CryptRules;
use super::SopsError;

/// The one rule of a file, compiled.
pub enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
}

impl Rule {
    pub fn from_metadata(rules: &CryptRules) -> Result<Rule, SopsError> {
        let compile = |field: &'static str, re: &str| {
            Regex::new(re).map_err(|e| SopsError::Regex {
                field,
                reason: e.to_string(),
            })
        };
        if rules.unencrypted_comment_regex.is_some() || rules.encrypted_comment_regex.is_some() {
            return Err(SopsError::CommentRules);
        }
        Ok(if let Some(s) = &rules.encrypted_suffix {
            Rule::EncryptedSuffix(s.clone())
        } else if let Some(r) = &rules.unencrypted_regex {
            Rule::UnencryptedRegex(compile("unencrypted_regex", r)?)
        } else if let Some(r) = &rules.encrypted_regex {
            Rule::EncryptedRegex(compile("encrypted_regex", r)?)
        } else {
            Rule::UnencryptedSuffix(
                rules
                    .unencrypted_suffix
                    .clone()
                    .unwrap_or_else(|| "_unencrypted".to_owned()),
            )
        })
    }

    /// Whether SOPS encrypts the value under these mapping keys.
    pub fn encrypts(&self, keys: &[&str]) -> bool {
        match self {
            Rule::UnencryptedSuffix(s) => !keys.iter().any(|k| k.ends_with(s.as_str())),
            Rule::EncryptedSuffix(s) => keys.iter().any(|k| k.ends_with(s.as_str())),
            Rule::UnencryptedRegex(r) => !keys.iter().any(|k| r.is_match(k)),
            Rule::EncryptedRegex(r) => keys.iter().any(|k| r.is_match(k)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_sops() {
        let suffix = Rule::UnencryptedSuffix("_unencrypted".into());
        assert!(suffix.encrypts(&["db", "password"]));
        assert!(!suffix.encrypts(&["db_unencrypted", "password"]));
        let re = Rule::EncryptedRegex(Regex::new("^(data|stringData)$").unwrap());
        assert!(re.encrypts(&["stringData", "x"]));
        assert!(!re.encrypts(&["metadata", "name"]));
        let un = Rule::UnencryptedRegex(Regex::new("^public").unwrap());
        assert!(!un.encrypts(&["public_key"]));
        assert!(un.encrypts(&["private_key"]));
        let enc = Rule::EncryptedSuffix("_secret".into());
        assert!(enc.encrypts(&["a_secret"]));
        assert!(!enc.encrypts(&["a"]));
    }
}
