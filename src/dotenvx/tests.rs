//! Unit tests of the dotenvx import on a file the real dotenvx 2.38.2
//! encrypted (`dotenvx encrypt -f .env.production`); the integration tests
//! make their files with dotenvx at test time.

use std::path::Path;

use zeroize::Zeroizing;

use super::*;

// The private key of FIXTURE, made for this test: it protects nothing else.
const KEY: &str = "b00c58ab1e252f199ad295935c752c915f636139ad0fa003877c0a13887942af";

const FIXTURE: &str = r#"#/-------------------[DOTENV_PUBLIC_KEY]--------------------/
#/            public-key encryption for .env files          /
#/       [how it works](https://dotenvx.com/encryption)     /
#/----------------------------------------------------------/
DOTENV_PUBLIC_KEY_PRODUCTION="023d1ceb34e3b4d48e4010aa8d3124da581847f4a7999db614459fdbc0ce0f16da"

# .env.production
# app settings
HELLO=encrypted:BNLq1c+/u95T1JjYmrBXT0+B5tafblHepDceDJ9ekXTuC4Or+G/KvHoynKHAlt7/CTMa4/bVjo78sZdlPgH/TtTsBIiiJIvj9XflrU/EZmTnr8G3KV5zxdkDNAoZrbXhQivSUA4f
export QUOTED="encrypted:BDCADa8aW6reqbx2oA3QShGoRUDIqsl49lNjlJ09IYGuXqjxHXMHKuOYcusfjSqUGzIDFbVfo7lG8oGFRpsnrjaQKVm+8Wrc14NN+YojWWtgcAZYjxXAdMTDj4EPMtkA+EAtfFc1eOdS6Jijpg==" # note
MULTI="encrypted:BLBrR0EdnJ1LOM38zr+dwmp+WryhVZEZydETNK1xmrkaXW96gSkr4Xajwb7vGqvxtk71XxpCiKhPprPKbTsFpArJKBgYHhvrSCQ/6LXpBwrdCY+tJDQ+DVhOXYZdD3vOgm1yJspvvpfCG478"
SINGLE='encrypted:BBaeg9Xif4aqNl9UIg+HIwh3t4xScIiR24Ajqfaf5KqKl/9YBtUWmyVgu8/qy8u9zCWB82YXKrAB5QXWuVz3ceBZkF6U+gUd2i3j4a40JMWU30LVTS7XCi1wjhs+f3vFTLjrbSHTAyIeHQ/U/5VW'
TICK=`encrypted:BEh69mM7EKKSy7aKYKhXiHyPvvrEd7DRwjwM+9DYBv01rXr5zoHfGKWY+Cv7c+1uhzXLfds7+j2W70sxozoQUeaNFMTeyt3x6Dg2qe9yEL6Le+ABrNDnBPENoUP/gOojFNBvvD/3UPeZKA==`

EMPTY=encrypted:BNbhosnKP58u5yMPGW6VXNi5Ubmnf2TvaKn0yiaj6gflz4gEyqenE9ooIQt8vQir/Wd4n50MrGpW6YVKeUJVPfxr7JbakPHdbl2SmgvROKTm1KGUCzTVAyRzczdbPqHyMQ==
HASH=encrypted:BFQ/yHYtBbCpBx1qHgcm/M7ImyeJmbO7dFx96tn32F5U+0fLJhOnhD2RS/TufP0zuTvJjiSCDR8xsm5bxqpwDPvaYmDEt6IFzZuILMBtjU755Hhc0kksPAjBX0rvQSM7SfA=#comment
ESC="encrypted:BJCblDbVyk/Vi84GiNAiHebVQHrtfllOsZ2IU6WQosfr0iZ7LKUOCIo3ZYZog/9eQw3pw7XuM01K6YlFQ7udyBTMGs4/6LE5ngd4/jppqR6rM98Ppe6H/rpm/nMKuLCYEeUTTCBPy1RkJKZ/j/D3qHYLNC8="
"#;

// The plaintext the file was made from, as seal's dotenv parser reads it.
const EXPECTED: &str = r#"# app settings
HELLO=world
export QUOTED="quoted value" # note
MULTI="line1
line2"
SINGLE='it has $dollar'
TICK="back tick"

EMPTY=
HASH=x #comment
ESC="with \\\"q\\\" and a\$b"
"#;

fn env_with<'a>(
    pairs: &'a [(&'a str, &'a str)],
) -> impl Fn(&str) -> Option<Zeroizing<String>> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| Zeroizing::new((*v).to_owned()))
    }
}

fn no_keys_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn opens_the_fixture_with_the_environments_key() {
    let dir = no_keys_dir();
    let path = dir.path().join(".env.production");
    let env = env_with(&[("DOTENV_PRIVATE_KEY_PRODUCTION", KEY)]);
    let got = import(&path, FIXTURE, &env).unwrap();
    assert_eq!(got.text.as_str(), EXPECTED);
    assert_eq!(got.decrypted, 8);
    // Line 1 of the text is line 8 of the file, below dotenvx's header;
    // the lines of a value opened into two lines are both its line.
    assert_eq!(got.source_line(FIXTURE, 1), 8);
    assert_eq!(got.source_line(FIXTURE, 4), 11);
    assert_eq!(got.source_line(FIXTURE, 5), 11);
    assert_eq!(got.source_line(FIXTURE, 6), 12);
    assert_eq!(got.key_source, "$DOTENV_PRIVATE_KEY_PRODUCTION");
    assert_eq!(
        got.dropped,
        vec!["DOTENV_PUBLIC_KEY_PRODUCTION (line 5), the banner above it, the file name comment below it"]
    );
}

#[test]
fn the_result_reads_in_seals_dotenv_parser() {
    use crate::format::Format;
    let dir = no_keys_dir();
    let path = dir.path().join(".env.production");
    let env = env_with(&[("DOTENV_PRIVATE_KEY_PRODUCTION", KEY)]);
    let got = import(&path, FIXTURE, &env).unwrap();
    let scan = Format::Dotenv.scan(&got.text).unwrap();
    assert_eq!(scan.leaves.len(), 8);
}

#[test]
fn key_from_env_keys_beside_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env.keys"),
        format!("# .env.production\nDOTENV_PRIVATE_KEY_PRODUCTION={KEY}\n"),
    )
    .unwrap();
    let path = dir.path().join(".env.production");
    let got = import(&path, FIXTURE, &env_with(&[])).unwrap();
    assert_eq!(got.text.as_str(), EXPECTED);
    assert!(got
        .key_source
        .ends_with(".env.keys (DOTENV_PRIVATE_KEY_PRODUCTION)"));
}

#[test]
fn the_right_key_is_picked_among_several() {
    let dir = no_keys_dir();
    let path = dir.path().join(".env.production");
    let other = "1".repeat(64);
    let list = format!("{other},{KEY}");
    let pairs = [
        ("DOTENV_PRIVATE_KEY", other.as_str()),
        ("DOTENV_PRIVATE_KEY_PRODUCTION", list.as_str()),
    ];
    let env = env_with(&pairs);
    let got = import(&path, FIXTURE, &env).unwrap();
    assert_eq!(got.text.as_str(), EXPECTED);
}

#[test]
fn no_key_names_every_place_looked_at() {
    let dir = no_keys_dir();
    let path = dir.path().join(".env.production");
    let err = import(
        &path,
        FIXTURE,
        &env_with(&[("DOTENV_PRIVATE_KEY_PRODUCTION", " ")]),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("$DOTENV_PRIVATE_KEY_PRODUCTION, $DOTENV_PRIVATE_KEY"),
        "{err}"
    );
    assert!(err.contains(".env.keys"), "{err}");
}

#[test]
fn a_wrong_key_is_refused_without_showing_it() {
    let dir = no_keys_dir();
    let path = dir.path().join(".env.production");
    let other = "2".repeat(64);
    let err = import(
        &path,
        FIXTURE,
        &env_with(&[("DOTENV_PRIVATE_KEY_PRODUCTION", &other)]),
    )
    .err()
    .unwrap();
    assert!(matches!(err, DotenvxError::WrongKey { .. }));
    let text = err.to_string();
    assert!(text.contains("DOTENV_PUBLIC_KEY_PRODUCTION"), "{text}");
    assert!(!text.contains(&other));
    let err = import(
        &path,
        FIXTURE,
        &env_with(&[("DOTENV_PRIVATE_KEY_PRODUCTION", "zz")]),
    )
    .err()
    .unwrap();
    assert!(matches!(err, DotenvxError::InvalidKey { .. }));
}

#[test]
fn a_changed_value_names_its_line_and_key() {
    let dir = no_keys_dir();
    let path = dir.path().join(".env.production");
    let tampered = FIXTURE.replace("MULTI=\"encrypted:BLBr", "MULTI=\"encrypted:BLBs");
    let env = env_with(&[("DOTENV_PRIVATE_KEY_PRODUCTION", KEY)]);
    let err = import(&path, &tampered, &env).err().unwrap().to_string();
    assert!(err.contains(".env.production:11: MULTI:"), "{err}");
    assert!(err.contains("changed or damaged"), "{err}");
}

#[test]
fn without_a_public_key_a_failure_says_either_cause() {
    let dir = no_keys_dir();
    let path = dir.path().join(".env.production");
    let start = FIXTURE.find("# app settings").unwrap();
    let bare = &FIXTURE[start..];
    let env = env_with(&[("DOTENV_PRIVATE_KEY_PRODUCTION", KEY)]);
    let got = import(&path, bare, &env).unwrap();
    assert_eq!(got.text.as_str(), EXPECTED);
    assert!(got.dropped.is_empty());
    // Without a public key, the key that opens the values is picked.
    let wrong = "4".repeat(64);
    let both = [
        ("DOTENV_PRIVATE_KEY_PRODUCTION", wrong.as_str()),
        ("DOTENV_PRIVATE_KEY", KEY),
    ];
    let got = import(&path, bare, &env_with(&both)).unwrap();
    assert_eq!(got.key_source, "$DOTENV_PRIVATE_KEY");
    let other = "3".repeat(64);
    let err = import(
        &path,
        bare,
        &env_with(&[("DOTENV_PRIVATE_KEY_PRODUCTION", &other)]),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains(":2: HELLO:"), "{err}");
    assert!(
        err.contains("a wrong key, or the value was changed"),
        "{err}"
    );
}

#[test]
fn private_key_names_follow_dotenvx() {
    let name = |f: &str| private_name_for(Path::new(f));
    assert_eq!(name(".env"), "DOTENV_PRIVATE_KEY");
    assert_eq!(name("dir/.env.production"), "DOTENV_PRIVATE_KEY_PRODUCTION");
    assert_eq!(name(".env.prod.eu"), "DOTENV_PRIVATE_KEY_PROD_EU");
    assert_eq!(name(".env.a.b.c"), "DOTENV_PRIVATE_KEY_A_B");
    assert_eq!(name(".env1"), "DOTENV_PRIVATE_KEY_DEVELOPMENT1");
    assert_eq!(name(".env.ci.txt"), "DOTENV_PRIVATE_KEY_CI");
    assert_eq!(name("t.env"), "DOTENV_PRIVATE_KEY_TDEVELOPMENT");
}

#[test]
fn the_keys_file_a_public_key_names() {
    let src = "DOTENV_PUBLIC_KEY=\"02aa\" # -fk ../secrets/.env.keys\n";
    let entries = scan::entries(src);
    let path = keys_file(Path::new("app/.env"), src, entries.first());
    assert_eq!(path, Path::new("app/../secrets/.env.keys"));
    let path = keys_file(Path::new(".env"), "A=1\n", None);
    assert_eq!(path, Path::new(".env.keys"));
}

#[test]
fn detection() {
    assert!(is_dotenvx(FIXTURE));
    assert!(is_dotenvx("A=encrypted:BAAA\n"));
    assert!(is_dotenvx("DOTENV_PUBLIC_KEY=\"02aa\"\n"));
    assert!(!is_dotenvx("A=1\n# encrypted:x\nB='plain'\n"));
}

#[test]
fn a_renamed_file_keeps_its_old_filename_comment() {
    let dir = no_keys_dir();
    let path = dir.path().join(".env.prod");
    let env = env_with(&[("DOTENV_PRIVATE_KEY_PRODUCTION", KEY)]);
    let got = import(&path, FIXTURE, &env).unwrap();
    assert_eq!(
        got.text.as_str(),
        format!("\n# .env.production\n{EXPECTED}")
    );
    assert_eq!(
        got.dropped,
        vec!["DOTENV_PUBLIC_KEY_PRODUCTION (line 5), the banner above it"]
    );
}
