//! Interoperability with the reference `age` CLI and OpenSSH keys. These
//! need `age`, `age-keygen` and `ssh-keygen` on PATH (`.ci/run` installs
//! them).

use seal::crypto::DataKey;
use seal::format::Format;

use crate::common::{tool, Env};

#[test]
fn the_age_cli_unwraps_the_data_key() {
    let env = Env::new();
    let id = env.path("age-keygen.txt");
    let out = tool("age-keygen").arg("-o").arg(&id).output().unwrap();
    assert!(out.status.success());
    let public = String::from_utf8_lossy(&out.stderr)
        .trim()
        .trim_start_matches("Public key: ")
        .to_owned();
    assert!(public.starts_with("age1"), "{public}");

    let plain = "db:\n  password: hunter2\n  port: 5432\n";
    env.write("s.yaml", plain);
    env.seal()
        .args(["encrypt", "--in-place", "-r", &public, "s.yaml"])
        .assert()
        .success();
    let sealed = env.read("s.yaml");

    // Take the armored data key out of the metadata and let `age` open it.
    let scan = Format::Yaml.scan(&sealed).unwrap();
    let meta = scan.metadata.unwrap().metadata;
    assert_eq!(meta.recipients.len(), 1);
    assert_eq!(meta.recipients[0].recipient, public);
    env.write("wrapped.age", &meta.recipients[0].data_key);
    let out = tool("age")
        .arg("-d")
        .arg("-i")
        .arg(&id)
        .arg(env.path("wrapped.age"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age -d failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 32);

    // That key opens the file: the MAC verifies and the values decrypt.
    let key = DataKey::from_bytes(&out.stdout).unwrap();
    let opened = seal::document::open_with_key(Format::Yaml, &sealed, key).unwrap();
    assert_eq!(opened.plaintext.as_str(), plain);

    // And seal itself reads age-keygen's identity file.
    assert_eq!(
        env.seal()
            .args(["get", "-i"])
            .arg(&id)
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
    for (kind, bits) in [("ed25519", None), ("rsa", Some("3072"))] {
        let env = Env::new();
        let id = env.path(&format!("id_{kind}"));
        let mut cmd = tool("ssh-keygen");
        cmd.args(["-q", "-t", kind, "-N", "", "-C", "tester@example", "-f"])
            .arg(&id);
        if let Some(b) = bits {
            cmd.args(["-b", b]);
        }
        assert!(cmd.status().unwrap().success());
        let public = std::fs::read_to_string(id.with_extension("pub"))
            .unwrap()
            .trim()
            .to_owned();
        env.write("a.env", "SECRET=ssh-protected\n");
        env.seal()
            .args(["encrypt", "--in-place", "-r", &public, "a.env"])
            .assert()
            .success();
        assert!(env.read("a.env").contains(&format!("recipient={public}")));
        env.seal()
            .args(["get", "-i"])
            .arg(&id)
            .args(["a.env", "SECRET"])
            .assert()
            .success()
            .stdout("ssh-protected\n");
        // keygen -y prints an SSH key's public line too.
        let y = env.seal().args(["keygen", "-y"]).arg(&id).output().unwrap();
        assert!(String::from_utf8_lossy(&y.stdout).starts_with(&format!(
            "ssh-{}",
            if kind == "rsa" { "rsa" } else { "ed25519" }
        )));
    }
}
