//! The rules: token formats with a fixed prefix, and which names make an
//! assignment's value a secret.

/// A token format recognised by its prefix.
pub struct TokenRule {
    /// The rule name shown with a finding.
    pub name: &'static str,
    /// The token's regex (no anchors; the scanner adds them).
    pub pattern: &'static str,
    /// Bytes of fixed prefix: the rest must look random.
    pub prefix: usize,
    /// The token has a fixed length, so it must not run on into more
    /// letters or digits.
    pub fixed: bool,
}

const fn rule(name: &'static str, pattern: &'static str, prefix: usize, fixed: bool) -> TokenRule {
    TokenRule {
        name,
        pattern,
        prefix,
        fixed,
    }
}

/// Order matters where prefixes overlap: the first rule matching at a
/// position wins (`sk-ant-` before `sk-`).
pub const TOKEN_RULES: &[TokenRule] = &[
    rule("anthropic", r"sk-ant-[A-Za-z0-9_\-]{32,}", 7, false),
    rule(
        "openai",
        r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,}",
        3,
        false,
    ),
    rule("github", r"gh[pousr]_[A-Za-z0-9]{36,}", 4, false),
    rule("github", r"github_pat_[A-Za-z0-9_]{50,}", 11, false),
    rule("gitlab", r"glpat-[A-Za-z0-9_\-]{20,}", 6, false),
    rule("aws-access-key", r"(?:AKIA|ASIA)[A-Z0-9]{16}", 4, true),
    rule("slack", r"xox[abpr]-[A-Za-z0-9\-]{10,}", 5, false),
    rule("stripe", r"[sr]k_live_[A-Za-z0-9]{20,}", 8, false),
    rule("supabase", r"sbp_[A-Za-z0-9]{40,}", 4, false),
    rule("digitalocean", r"dop_v1_[a-f0-9]{64}", 7, true),
    rule("google-api-key", r"AIza[A-Za-z0-9_\-]{35}", 4, true),
    rule(
        "private-key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        0,
        false,
    ),
    // seal's own keys: an age identity in plaintext is the worst leak here.
    rule(
        "age-secret-key",
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        16,
        true,
    ),
    rule(
        "jwt",
        r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}",
        0,
        false,
    ),
];

/// The rule name of a high-entropy value assigned to a secret-looking name.
pub const ASSIGNMENT: &str = "secret-assignment";
/// The rule name of the secret key found beside an AWS access key id.
pub const AWS_SECRET: &str = "aws-secret-key";

/// Cheap substrings (any case) a line must contain before the assignment
/// rule parses it.
pub const NAME_HINTS: &[&str] = &["pass", "pwd", "secret", "token", "key", "cred", "auth"];

/// Name words that alone make a name secret-looking.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "apikey",
    "credential",
    "credentials",
    "creds",
    "privatekey",
    "accesskey",
    "secretkey",
    "authkey",
];

/// Words that, before `key`, make a secret-looking name (`api_key`,
/// `PRIVATE_KEY`, `signingKey`).
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "auth",
    "access",
    "private",
    "priv",
    "secret",
    "client",
    "signing",
    "encryption",
    "master",
    "session",
    "service",
    "account",
    "license",
    "webhook",
];

/// A last word that makes the name about a secret, not the secret itself
/// (`token_url`, `password_file`, `secret_name`).
const NOT_THE_SECRET: &[&str] = &[
    "url",
    "uri",
    "file",
    "path",
    "dir",
    "name",
    "type",
    "length",
    "len",
    "ttl",
    "expiry",
    "expires",
    "expiration",
    "header",
    "endpoint",
    "count",
    "policy",
    "field",
    "label",
    "hint",
    "prompt",
    "format",
    "regex",
    "pattern",
    "env",
    "var",
    "ref",
    "version",
    "hash",
    "id",
    "ids",
    "enabled",
    "required",
    "min",
    "max",
    "prefix",
    "location",
    "store",
];

/// The words of an identifier: split at non-alphanumerics and at
/// lower-to-upper case changes, lower-cased.
fn words(name: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for &b in name {
        if !b.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if b.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = b.is_ascii_lowercase() || b.is_ascii_digit();
        cur.push(b.to_ascii_lowercase() as char);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a value assigned to `name` is meant to be a secret.
pub fn secret_name(name: &[u8]) -> bool {
    let w = words(name);
    let Some(last) = w.last() else {
        return false;
    };
    if NOT_THE_SECRET.contains(&last.as_str()) {
        return false;
    }
    w.iter().any(|x| SECRET_WORDS.contains(&x.as_str()))
        || w.windows(2)
            .any(|p| p[1] == "key" && KEY_QUALIFIERS.contains(&p[0].as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "password",
            "DB_PASSWORD",
            "apiKey",
            "api_key",
            "API-KEY",
            "client_secret",
            "GITHUB_TOKEN",
            "db_pass",
            "privateKey",
            "aws_secret_access_key",
            "spring.datasource.password",
        ] {
            assert!(secret_name(n.as_bytes()), "{n}");
        }
        for n in [
            "token_url",
            "password_file",
            "secret_name",
            "tokenizer",
            "compass",
            "bypass",
            "key",
            "primary_key",
            "sort_key",
            "username",
            "id",
        ] {
            assert!(!secret_name(n.as_bytes()), "{n}");
        }
    }
}
