//! Interoperability with the reference `age` CLI and OpenSSH keys. These
//! need `age`, `age-keygen` and `ssh-keygen` on PATH (`.ci/run` installs
//! them).

use seal::crypto::DataKey;
use seal::format::Format;

use crate::common::{tool, Env, RunOk};

#[test]
fn the_age_cli_unwraps_the_data_key() {
    let env = Env::new();
    let age_key = env.age_keygen("age-keygen");
    let (id, public) = (&age_key.identity, &age_key.public);

    let plain = "db:\n  password: hunter2\n  port: 5432\n";
    let sealed = env.sealed_for("s.yaml", plain, &[&age_key]);

    // Take the armored data key out of the metadata and let `age` open it.
    let scan = Format::Yaml.scan(&sealed).unwrap();
    let meta = scan.metadata.unwrap().metadata;
    assert_eq!(meta.recipients.len(), 1);
    assert_eq!(&meta.recipients[0].recipient, public);
    env.write("wrapped.age", &meta.recipients[0].data_key);
    let out = tool("age")
        .arg("-d")
        .arg("-i")
        .arg(id)
        .arg(env.path("wrapped.age"))
        .output_ok();
    assert_eq!(out.stdout.len(), 32);

    // That key opens the file: the MAC verifies and the values decrypt.
    let key = DataKey::from_bytes(&out.stdout).unwrap();
    let opened = seal::document::open_with_key(Format::Yaml, &sealed, key).unwrap();
    assert_eq!(opened.plaintext.as_str(), plain);

    // And seal itself reads age-keygen's identity file.
    assert_eq!(
        env.seal()
            .args(["get", "-i"])
            .arg(id)
            .args(["s.yaml", "db.password"])
            .output()
            .unwrap()
            .stdout,
        b"hunter2\n"
    );
}

#[test]
fn seal_keygen_identities_work_with_age() {
    let env = Env::new();
    let key = env.keygen("seal");
    env.write("msg.txt", "hello");
    let enc = tool("age")
        .args(["-r", &key.public, "-o"])
        .arg(env.path("msg.age"))
        .arg(env.path("msg.txt"))
        .output()
        .unwrap();
    assert!(enc.status.success());
    let dec = tool("age")
        .arg("-d")
        .arg("-i")
        .arg(&key.identity)
        .arg(env.path("msg.age"))
        .output()
        .unwrap();
    assert_eq!(dec.stdout, b"hello");
}

#[test]
fn ssh_ed25519_and_rsa_keys() {
    for (kind, bits) in [("ed25519", &[][..]), ("rsa", &["-b", "3072"])] {
        let env = Env::new();
        let key = env.ssh_keygen(&format!("id_{kind}"), kind, bits, "");
        let (id, public) = (&key.identity, &key.public);
        env.sealed_for("a.env", "SECRET=ssh-protected\n", &[&key]);
        assert!(env.read("a.env").contains(&format!("recipient={public}")));
        env.seal()
            .args(["get", "-i"])
            .arg(id)
            .args(["a.env", "SECRET"])
            .assert()
            .success()
            .stdout("ssh-protected\n");
        // keygen -y prints an SSH key's public line too.
        let y = env.seal().args(["keygen", "-y"]).arg(id).output().unwrap();
        assert!(String::from_utf8_lossy(&y.stdout).starts_with(&format!(
            "ssh-{}",
            if kind == "rsa" { "rsa" } else { "ed25519" }
        )));
    }
}

/// A SOPS file (real SOPS 3.11 output) is refused, not encrypted a second
/// time, with a pointer to what to do; a key that only looks like SOPS's
/// (a scalar `sops`, an upper-case `SOPS_` variable) is sealed as usual.
#[test]
fn a_sops_file_is_refused_not_sealed_twice() {
    let env = Env::new();
    let key = env.keygen("k");
    let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sops");
    for (name, at) in [
        ("app.yaml", "sops.age.0.recipient"),
        ("app.json", "sops.age.0.recipient"),
        ("app.env", "sops_age__list_0__map_enc"),
    ] {
        let text = std::fs::read_to_string(testdata.join(name)).unwrap();
        env.write(name, &text);
        let out = env
            .seal()
            .args(["encrypt", "--in-place", "-r", &key.public, name])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{name}: this is a SOPS-encrypted file (SOPS metadata at {at})"
            )),
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("`seal import --in-place {name}`")),
            "{stderr}"
        );
        assert_eq!(env.read(name), text, "{name} was changed");
    }
    for (name, text) in [
        ("own.yaml", "sops: 3\nb: x\n"),
        ("own.env", "SOPS_AGE_KEY_FILE=/k\n"),
    ] {
        let sealed = env.sealed_for(name, text, &[&key]);
        assert!(sealed.contains("seal.v1."), "{name}: {sealed}");
    }
}
