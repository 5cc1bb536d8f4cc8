use super::*;

/// A deterministic random-looking string over `alphabet` (tests must not
/// hold real-looking secrets as literals, or scanning seal itself would
/// report them).
fn random(seed: u64, len: usize, alphabet: &[u8]) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            alphabet[((x >> 33) % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

const B62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX: &[u8] = b"0123456789abcdef";

fn scan(text: &str) -> Vec<Finding> {
    Scanner::new().unwrap().scan(text.as_bytes()).findings
}

fn rules_of(text: &str) -> Vec<&'static str> {
    scan(text).iter().map(|f| f.rule).collect()
}

#[test]
fn every_token_kind_is_found() {
    let cases = [
        (
            format!("sk-ant-api03-{}AA", random(1, 93, B62)),
            "anthropic",
        ),
        (format!("sk-proj-{}", random(2, 120, B62)), "openai"),
        (format!("sk-{}", random(3, 48, B62)), "openai"),
        (format!("ghp_{}", random(4, 36, B62)), "github"),
        (format!("gho_{}", random(5, 36, B62)), "github"),
        (format!("ghs_{}", random(6, 36, B62)), "github"),
        (
            format!("github_pat_{}_{}", random(7, 22, B62), random(8, 59, B62)),
            "github",
        ),
        (format!("glpat-{}", random(9, 20, B62)), "gitlab"),
        (format!("xoxb-1234567890-{}", random(10, 24, B62)), "slack"),
        (format!("sk_live_{}", random(11, 24, B62)), "stripe"),
        (format!("rk_live_{}", random(12, 24, B62)), "stripe"),
        (format!("sbp_{}", random(13, 40, HEX)), "supabase"),
        (format!("dop_v1_{}", random(14, 64, HEX)), "digitalocean"),
        (format!("AIza{}", random(15, 35, B62)), "google-api-key"),
        (
            format!(
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.{}",
                random(16, 43, B62)
            ),
            "jwt",
        ),
    ];
    for (token, rule) in &cases {
        let text = format!("value = {token}\n");
        let found = scan(&text);
        assert_eq!(found.len(), 1, "{rule}: {found:?}");
        assert_eq!(found[0].rule, *rule);
        assert_eq!((found[0].line, found[0].column), (1, 9));
        assert!(
            !found[0].masked.contains(&token[8..]),
            "masked: {}",
            found[0].masked
        );
    }
}

#[test]
fn age_identities_are_found() {
    // The file `seal keygen` writes: a created line, the public key, the key.
    let (identity, _public) = crate::envelope::generate_identity();
    let found = scan(&identity);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].rule, found[0].line, found[0].column),
        ("age-secret-key", 3, 1)
    );
    assert_eq!(found[0].masked, "AGE-SE… [74 chars]");
}

#[test]
fn aws_key_id_needs_its_secret_nearby() {
    let id = format!("AKIA{}", random(20, 16, UPPER_DIGITS));
    let secret = random(
        21,
        40,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    );
    let both = format!("[default]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n");
    let found = scan(&both);
    let rules: Vec<_> = found.iter().map(|f| (f.rule, f.line)).collect();
    assert_eq!(rules, [("aws-access-key", 2), ("aws-secret-key", 3)]);
    // The id alone (a log line, an ARN) is no credential.
    assert!(scan(&format!("user {id} logged in\n")).is_empty());
    let asia = format!("ASIA{}\n{secret}\n", random(22, 16, UPPER_DIGITS));
    assert_eq!(rules_of(&asia), ["aws-access-key", "aws-secret-key"]);
}

#[test]
fn private_keys_need_a_body() {
    let body = random(30, 64, B62);
    let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n");
    assert_eq!(rules_of(&pem), ["private-key"]);
    let escaped = format!("{{\"key\": \"-----BEGIN PRIVATE KEY-----\\n{body}\\n\"}}");
    assert_eq!(rules_of(&escaped), ["private-key"]);
    let openssh = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n");
    assert_eq!(rules_of(&openssh), ["private-key"]);
    // Documentation naming the header.
    assert!(scan("Paste it (-----BEGIN PRIVATE KEY----- ...) here\n").is_empty());
}

#[test]
fn assignments_in_each_syntax() {
    let v = random(40, 24, B62);
    for text in [
        format!("password: {v}\n"),
        format!("db:\n  password: \"{v}\"\n"),
        format!("{{\"api_key\": \"{v}\"}}\n"),
        format!("DB_PASSWORD={v}\n"),
        format!("export GITHUB_TOKEN='{v}'\n"),
        format!("const apiKey = \"{v}\";\n"),
        format!("client_secret := \"{v}\"\n"),
        format!("settings[\"secret_key\"] = '{v}'\n"),
        format!("{{ token => '{v}' }}\n"),
        format!("DB_PASSWORD=!Jk#{v}\n"),
    ] {
        assert_eq!(rules_of(&text), ["secret-assignment"], "{text}");
    }
    // Random letters without a digit still change case too often to be
    // a CamelCase name.
    assert_eq!(
        rules_of("token: qWeRtyUIoPaSdfGHjKlZ\n"), // seal:allow (a test value)
        ["secret-assignment"]
    );
    let found = scan(&format!("x: 1\npassword: \"{v}\"\n"));
    assert_eq!((found[0].line, found[0].column), (2, 12));
}

#[test]
fn no_findings_for_decoys() {
    let decoys = [
        "password: your_api_key_here\n".to_owned(),
        "ANTHROPIC_API_KEY=sk-ant-...\n".to_owned(),
        "token: <token>\n".to_owned(),
        "password: changeme\n".to_owned(),
        "password: ${DB_PASSWORD}\n".to_owned(),
        "token = os.environ[\"TOKEN\"]\n".to_owned(),
        "api_key = config.api_key\n".to_owned(),
        "password_file: /run/secrets/db_password_2\n".to_owned(),
        "if password == \"Zx81kQ2mP0aa\":\n".to_owned(),
        "token: hunter2\n".to_owned(),
        "\"TOKEN=s3cret\\n\",\n".to_owned(),
        "Err(TokenError::NotAToken)\n".to_owned(),
        "secret: age::secrecy::SecretString,\n".to_owned(),
        "pub const TOKEN_RULES: &[TokenRule] = &[\n".to_owned(),
        "struct A { api_key: SecretString }\n".to_owned(),
        "password: !vault |\n".to_owned(),
        "password: ENC[AES256_GCM,data:Tr0ub4dor3x,iv:q8Zr2LmX9vTb4NcW,type:str]\n".to_owned(),
        "id: 550e8400-e29b-41d4-a716-446655440000\n".to_owned(),
        format!("\"integrity\": \"sha512-{}==\"\n", random(50, 86, B62)),
        format!("image: data:image/png;base64,{}\n", random(51, 400, B62)),
        format!("password: seal.v1.{}\n", random(52, 80, B62)),
        format!("API_KEY=seal.v1.AIza{}\n", random(53, 60, B62)),
        format!("token: {} # seal:allow\n", random(54, 30, B62)),
        format!("ghp_{} seal:allow\n", random(55, 36, B62)),
        "sk-this-is-not-a-real-key-just-an-example-string\n".to_owned(),
        "AKIAIOSFODNN7EXAMPLE\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n".to_owned(),
    ];
    for d in &decoys {
        assert!(scan(d).is_empty(), "{d}: {:?}", scan(d));
    }
}

#[test]
fn masking() {
    assert_eq!(mask(b"short"), "[5 chars]");
    assert_eq!(mask(b"elevenchars"), "[11 chars]");
    assert_eq!(mask(b"ghp_abcdefghij"), "ghp_ab… [14 chars]");
}

#[test]
fn binary_invalid_utf8_and_long_lines() {
    let s = Scanner::new().unwrap();
    assert!(s.scan(b"PK\x03\x04\x00\x00ghp_").binary);
    let v = random(60, 24, B62);
    let latin1 = [b"caf\xe9\npassword: ".as_slice(), v.as_bytes(), b"\n"].concat();
    let out = s.scan(&latin1);
    assert!(out.invalid_utf8);
    assert_eq!(out.findings.len(), 1);
    let long = format!(
        "{}token:\"{v}\"\nghp_{}\n",
        "a".repeat(MAX_LINE_LEN + 1),
        random(61, 36, B62)
    );
    let out = s.scan(long.as_bytes());
    assert_eq!(out.long_lines, Some((1, 1)));
    assert_eq!(
        out.findings.iter().map(|f| f.rule).collect::<Vec<_>>(),
        ["github"]
    );
}
