//! Unit tests for the SOPS reader on files built here with a known data
//! key (the integration tests use files made by the real `sops`).

use sha2::{Digest, Sha512};

use super::cipher::tests::encrypt;
use super::*;

const KEY: [u8; 32] = [42u8; 32];
const WHEN: &str = "2026-01-02T03:04:05Z";

fn data_key() -> DataKey {
    DataKey::from_bytes(&KEY).unwrap()
}

/// The `mac:` value SOPS would write for values hashed as `parts`.
fn mac_for(parts: &[&str], init: bool) -> String {
    let mut h = Sha512::new();
    if init {
        h.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    for p in parts {
        h.update(p.as_bytes());
    }
    encrypt(&KEY, hex_upper(&h.finalize()).as_bytes(), WHEN, "str")
}

fn yaml_file(body: &str, mac: &str, extra: &str) -> String {
    format!(
        "{body}sops:\n    age:\n        - recipient: age1qqq\n          enc: |\n            x\n    lastmodified: \"{WHEN}\"\n    mac: {mac}\n{extra}    version: 3.11.0\n"
    )
}

#[test]
fn a_yaml_file_decrypts_with_its_comments_and_clear_values() {
    let body = format!(
        "{}\ndb:\n    password: {}\n    port: {}\n    when_unencrypted: 2001-12-14\n    list:\n        - {}\n",
        format_args!("#{}", encrypt(&KEY, b" top", ":", "comment")),
        encrypt(&KEY, b"p: w", "db:password:", "str"),
        encrypt(&KEY, b"5432", "db:port:", "int"),
        encrypt(&KEY, b"x", "db:list:", "str"),
    );
    let mac = mac_for(&["p: w", "5432", "2001-12-14T00:00:00Z", "x"], false);
    let text = yaml_file(&body, &mac, "");
    let file = parse(Format::Yaml, &text).unwrap();
    assert_eq!(file.metadata.age[0].recipient, "age1qqq");
    let imported = file.decrypt(&data_key(), false).unwrap();
    assert_eq!(
        imported.plaintext.as_str(),
        "# top\ndb:\n    password: \"p: w\"\n    port: 5432\n    when_unencrypted: 2001-12-14\n    list:\n        - x\n"
    );
    assert_eq!(imported.encrypt, ["db.password", "db.port", "db.list"]);
    assert_eq!(imported.clear.len(), 1);
    assert!(!imported.mac_mismatch_ignored);
}

#[test]
fn a_changed_clear_value_fails_the_mac_unless_ignored() {
    let body = format!(
        "a: {}\nb_unencrypted: 1\n",
        encrypt(&KEY, b"s", "a:", "str")
    );
    let text = yaml_file(&body, &mac_for(&["s", "2"], false), "");
    let file = parse(Format::Yaml, &text).unwrap();
    assert!(matches!(
        file.decrypt(&data_key(), false),
        Err(SopsError::MacMismatch)
    ));
    assert!(
        file.decrypt(&data_key(), true)
            .unwrap()
            .mac_mismatch_ignored
    );
    // A value moved to another key does not decrypt, whatever the MAC.
    let moved = yaml_file(
        &format!("b: {}\n", encrypt(&KEY, b"s", "a:", "str")),
        &mac_for(&["s"], false),
        "",
    );
    let err = parse(Format::Yaml, &moved)
        .unwrap()
        .decrypt(&data_key(), true)
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "the value at b cannot be decrypted: it does not decrypt with the file's data key (a changed value, or a value moved to another key)"
    );
}

#[test]
fn mac_only_encrypted_and_encrypted_regex_follow_sops() {
    let body = format!(
        "data:\n    k: {}\nmeta:\n    name: free\n",
        encrypt(&KEY, b"v", "data:k:", "str")
    );
    let extra = "    encrypted_regex: ^data$\n    mac_only_encrypted: true\n";
    let text = yaml_file(&body, &mac_for(&["v"], true), extra);
    let imported = parse(Format::Yaml, &text)
        .unwrap()
        .decrypt(&data_key(), false)
        .unwrap();
    assert_eq!(imported.encrypt, ["data"]);
    assert_eq!(
        imported.plaintext.as_str(),
        "data:\n    k: v\nmeta:\n    name: free\n"
    );
}

#[test]
fn dotenv_and_json_files() {
    let env = format!(
        "#{}\nA={}\nB_unencrypted=x y\nsops_age__list_0__map_recipient=age1qqq\nsops_age__list_0__map_enc=x\\ny\nsops_lastmodified={WHEN}\nsops_mac={}\nsops_version=3.11.0\n",
        encrypt(&KEY, b" note", ":", "comment"),
        encrypt(&KEY, b"it's $HOME", "A:", "str"),
        mac_for(&["it's $HOME", "x y"], false),
    );
    let file = parse(Format::Dotenv, &env).unwrap();
    assert_eq!(file.metadata.age[0].enc, "x\ny");
    let imported = file.decrypt(&data_key(), false).unwrap();
    assert_eq!(
        imported.plaintext.as_str(),
        "# note\nA=\"it's \\$HOME\"\nB_unencrypted='x y'\n"
    );
    let json = format!(
        "{{\n\t\"n\": \"{}\",\n\t\"t\": \"{}\",\n\t\"c\": 2,\n\t\"sops\": {{\n\t\t\"age\": [{{\"recipient\": \"age1qqq\", \"enc\": \"x\"}}],\n\t\t\"lastmodified\": \"{WHEN}\",\n\t\t\"mac\": \"{}\"\n\t}}\n}}\n",
        encrypt(&KEY, b"1.5", "n:", "float"),
        encrypt(&KEY, b"True", "t:", "bool"),
        mac_for(&["1.5", "True"], false),
    );
    let imported = parse(Format::Json, &json)
        .unwrap()
        .decrypt(&data_key(), false)
        .err();
    // `c` is in clear although the default rule encrypts it.
    assert!(
        matches!(&imported, Some(SopsError::BadValue { path, .. }) if path == "c"),
        "{imported:?}"
    );
    let json = json.replace("\t\"c\": 2,\n", "");
    let imported = parse(Format::Json, &json)
        .unwrap()
        .decrypt(&data_key(), false)
        .unwrap();
    assert_eq!(
        imported.plaintext.as_str(),
        "{\n\t\"n\": 1.5,\n\t\"t\": true\n}\n"
    );
}

#[test]
fn files_seal_cannot_open_are_told_apart() {
    let pgp_only = "a: x\nsops:\n    pgp:\n        - fp: ABC\n          enc: x\n    lastmodified: \"2026-01-01T00:00:00Z\"\n    mac: x\n";
    let file = parse(Format::Yaml, pgp_only).unwrap();
    let ids = Identities::empty();
    assert!(matches!(file.data_key(&ids), Err(SopsError::NoAgeKeys(k)) if k == ["pgp"]));
    let shamir = "a: x\nsops:\n    key_groups:\n        - age:\n            - recipient: age1a\n              enc: x\n        - age:\n            - recipient: age1b\n              enc: y\n    lastmodified: \"2026-01-01T00:00:00Z\"\n    mac: x\n";
    let file = parse(Format::Yaml, shamir).unwrap();
    assert!(matches!(file.data_key(&ids), Err(SopsError::Shamir(2))));
    assert!(matches!(
        parse(Format::Yaml, "a: 1\n"),
        Err(SopsError::NotSops)
    ));
    assert!(matches!(
        parse(Format::Yaml, "a: 1\nsops:\n    mac: x\n"),
        Err(SopsError::Metadata(MetadataError::Missing("lastmodified")))
    ));
}
