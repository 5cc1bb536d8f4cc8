//! Signed edits (spec/FORMAT.md section 12) through the real binary,
//! OpenSSH's `ssh-keygen` and `ssh-agent`: who signed, whether `signers`
//! trusts them, whether the signature covers the content, and the refusal
//! of `require_signed` files.

use std::path::Path;

use crate::common::{tool, Env, Key, RunOk};

/// An age identity to decrypt with, and two SSH ed25519 signing keys:
/// alice (in `signers`) and mallory (not).
struct Team {
    env: Env,
    me: Key,
    alice: Key,
    mallory: Key,
}

impl Team {
    fn new() -> Team {
        let env = Env::new();
        let me = env.keygen("me");
        let alice = env.ssh_keygen("alice", "ed25519", &[], "");
        let mallory = env.ssh_keygen("mallory", "ed25519", &[], "");
        let team = Team {
            env,
            me,
            alice,
            mallory,
        };
        team.policy(true, &["alice"]);
        team
    }

    /// `.seal.yaml`: `prod/**` requires signatures when `required`; every
    /// other file is sealed for `me` too. `signers` lists `trusted`.
    fn policy(&self, required: bool, trusted: &[&str]) {
        let mut y = format!("recipients:\n  me: {}\n", self.me.public);
        if !trusted.is_empty() {
            y += "signers:\n";
            for name in trusted {
                let key = match *name {
                    "alice" => &self.alice.public,
                    _ => &self.mallory.public,
                };
                y += &format!("  {name}: {key}\n");
            }
        }
        y += &format!(
            "rules:\n  - path: \"prod/**\"\n    recipients: [me]\n    require_signed: {required}\n  - path: \"**\"\n    recipients: [me]\n"
        );
        self.env.write(".seal.yaml", &y);
    }

    /// `seal ARGS` with `me` as identity (from the environment).
    fn seal(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.env.seal();
        cmd.env("SEAL_IDENTITY_FILE", &self.me.identity).args(args);
        cmd
    }

    /// `name` with `text`, sealed in place, signed with `signer` if any.
    fn sealed(&self, name: &str, text: &str, signer: Option<&Key>) {
        self.env.write(name, text);
        let mut cmd = self.seal(&["encrypt", "--in-place", name]);
        if let Some(k) = signer {
            cmd.arg("--sign-key").arg(&k.identity);
        }
        cmd.run_ok();
    }

    fn verify_json(&self, name: &str) -> serde_json::Value {
        let out = self.seal(&["verify", "--json", name]).output().unwrap();
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        list[0].clone()
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_change_signed_by_a_trusted_key_verifies_and_opens() {
    let t = Team::new();
    t.env.write("prod/.keep", "");
    t.sealed("prod/app.env", "TOKEN=abc\n", Some(&t.alice));
    let text = t.env.read("prod/app.env");
    assert!(text.contains("# seal: version=4\n"), "{text}");
    assert!(text.contains(&format!("# seal: signer={}\n", t.alice.public)));
    let out = t.seal(&["verify", "prod/app.env"]).run_ok();
    assert_eq!(
        out,
        "prod/app.env: signed by alice (trusted), signature valid\n"
    );
    let v = t.verify_json("prod/app.env");
    assert_eq!(v["signed"], true);
    assert_eq!(v["valid"], true);
    assert_eq!(v["trusted"], true);
    assert_eq!(v["signer_name"], "alice");
    assert_eq!(v["require_signed"], true);
    assert_eq!(v["signer"], t.alice.public.as_str());
    assert_eq!(t.seal(&["get", "prod/app.env", "TOKEN"]).run_ok(), "abc\n");
    // Without PATHS: every tracked (here: every) file a rule covers.
    t.sealed("other.yaml", "a: 1\n", None);
    let all = t.seal(&["verify"]).run_ok();
    assert!(all.contains("other.yaml: unsigned\n"), "{all}");
    assert!(
        all.contains("prod/app.env: signed by alice (trusted)"),
        "{all}"
    );
}

/// `ssh-keygen -Y verify` accepts seal's signature over the bytes
/// `seal verify --signed-data` prints, in every format, and refuses it over
/// any other content.
#[test]
fn ssh_keygen_verifies_seals_signatures() {
    let t = Team::new();
    let allowed = t
        .env
        .write("allowed_signers", &format!("alice {}\n", t.alice.public));
    for (name, text) in [
        ("s.yaml", "db:\n  password: hunter2\n"),
        ("s.json", "{\"db\": {\"password\": \"hunter2\"}}\n"),
        ("s.env", "PASSWORD=hunter2\n"),
    ] {
        t.sealed(name, text, Some(&t.alice));
        let message = t
            .seal(&["verify", "--signed-data", name])
            .output_ok()
            .stdout;
        let signature = t.seal(&["verify", "--signature", name]).run_ok();
        assert!(
            signature.starts_with("-----BEGIN SSH SIGNATURE-----\n"),
            "{signature}"
        );
        let sig = t.env.write("sig", &signature);
        let run = |message: &[u8]| {
            use std::io::Write;
            let mut child = tool("ssh-keygen")
                .args(["-Y", "verify", "-n", "seal", "-I", "alice", "-f"])
                .arg(&allowed)
                .arg("-s")
                .arg(&sig)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(message).unwrap();
            child.wait_with_output().unwrap()
        };
        let ok = run(&message);
        assert!(ok.status.success(), "{name}: {}", stderr(&ok));
        assert!(
            String::from_utf8_lossy(&ok.stdout).contains("Good \"seal\" signature for alice"),
            "{name}"
        );
        let mut other = message.clone();
        *other.last_mut().unwrap() ^= 1;
        assert!(
            !run(&other).status.success(),
            "{name}: other content verified"
        );
    }
    // An unsigned file has no signature to hand out.
    t.sealed("u.yaml", "a: 1\n", None);
    let out = t
        .seal(&["verify", "--signature", "u.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("u.yaml: the file is not signed"));
}

#[test]
fn a_change_by_an_untrusted_key_is_reported_and_refused_where_required() {
    let t = Team::new();
    t.env.write("prod/.keep", "");
    t.sealed("prod/app.env", "TOKEN=abc\n", Some(&t.mallory));
    let out = t.seal(&["verify", "prod/app.env"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("which `signers` does not list: untrusted, signature valid"),
        "{text}"
    );
    let v = t.verify_json("prod/app.env");
    assert_eq!(
        (v["valid"].clone(), v["trusted"].clone()),
        (true.into(), false.into())
    );
    let out = t.seal(&["get", "prod/app.env", "TOKEN"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("its rule (prod/**) requires a signature by one of `signers`, and it is signed by SHA256:"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
    let ok = t
        .seal(&["get", "--allow-unsigned", "prod/app.env", "TOKEN"])
        .run_ok();
    assert_eq!(ok, "abc\n");
    // Outside a require_signed rule an untrusted signature is reported only.
    t.sealed("dev.env", "TOKEN=x\n", Some(&t.mallory));
    t.seal(&["verify", "dev.env"]).run_ok();
    t.seal(&["get", "dev.env", "TOKEN"]).run_ok();
}

/// Under `require_signed`, decrypt, exec, get and edit refuse an unsigned
/// file with exit 1 and run nothing; `--allow-unsigned` lets each through.
#[test]
fn unsigned_files_under_require_signed_are_refused_by_every_reader() {
    let t = Team::new();
    t.env.write("prod/.keep", "");
    t.sealed("prod/app.env", "TOKEN=abc\n", None);
    let ran = t.env.path("ran");
    let editor = t.env.script("editor", &format!("touch {}", ran.display()));
    let cases: [(&[&str], &str); 4] = [
        (&["decrypt", "prod/app.env"], "nothing was decrypted"),
        (&["get", "prod/app.env", "TOKEN"], "nothing was decrypted"),
        (
            &["exec", "prod/app.env", "--", "touch", "ran"],
            "nothing was run",
        ),
        (&["edit", "prod/app.env"], "no editor was started"),
    ];
    for (args, outcome) in cases {
        let out = t.seal(args).env("SEAL_EDITOR", &editor).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("prod/app.env: its rule (prod/**) requires a signature by one of `signers`, and it is not signed"), "{args:?}: {err}");
        assert!(err.contains(outcome), "{args:?}: {err}");
        assert!(err.contains("--allow-unsigned"), "{err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!ran.exists(), "{args:?} ran something");
    }
    for (args, _) in cases {
        let mut with: Vec<&str> = vec![args[0], "--allow-unsigned"];
        with.extend(&args[1..]);
        t.seal(&with).env("SEAL_EDITOR", &editor).run_ok();
    }
    assert!(ran.exists());
    // An edit let through signs the file it writes with its key.
    let change = t.env.script("change", "sed -i s/abc/xyz/ \"$1\"");
    t.seal(&["edit", "--allow-unsigned", "prod/app.env"])
        .env("SEAL_EDITOR", &change)
        .env("SEAL_SIGNING_KEY", &t.alice.identity)
        .run_ok();
    assert_eq!(t.seal(&["get", "prod/app.env", "TOKEN"]).run_ok(), "xyz\n");
}

/// Each new field tampered with: the file still opens (the signature is
/// not MAC input), and the signature no longer verifies.
#[test]
fn tampering_with_each_signature_field() {
    let t = Team::new();
    t.env.write("prod/.keep", "");
    t.sealed("prod/s.yaml", "a: 1\nb: 2\n", Some(&t.alice));
    let good = t.env.read("prod/s.yaml");
    let refuse = |text: &str, reason: &str| {
        t.env.write("prod/s.yaml", text);
        let v = t.verify_json("prod/s.yaml");
        assert_eq!(v["valid"], false, "{reason}: {v}");
        assert_eq!(v["reason"], reason);
        assert_eq!(v["ok"], false);
        let out = t.seal(&["get", "prod/s.yaml", "a"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains(&format!("its signature is invalid: {reason}")),
            "{}",
            stderr(&out)
        );
        // The MAC does not cover these fields: the values still open.
        t.seal(&["get", "--allow-unsigned", "prod/s.yaml", "a"])
            .run_ok();
    };
    // The signer field names another key.
    let forged = good.replace(&t.alice.public, &t.mallory.public);
    refuse(
        &forged,
        "the signature was made by another key than the signer field names",
    );
    // The signature changed: one character of its last line.
    let lines: Vec<&str> = good.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.contains("-----END SSH SIGNATURE"))
        .unwrap();
    let last = lines[end - 1];
    let flipped = format!(
        "{}{}{}",
        &last[..8],
        if &last[8..9] == "A" { "B" } else { "A" },
        &last[9..]
    );
    refuse(
        &good.replacen(last, &flipped, 1),
        "the signature does not match the file's content",
    );
    // The signature's armor rewrapped: one encoding per signature.
    let rewrapped = good.replacen(
        "-----BEGIN SSH SIGNATURE-----\n",
        "-----BEGIN SSH SIGNATURE-----\n\n",
        1,
    );
    refuse(
        &rewrapped,
        "the signature field is not an armored SSH signature",
    );
    // Both fields removed: unsigned, which only `require_signed` refuses.
    let start = good.find("  signer:").unwrap();
    let stripped = good[..start].to_owned();
    t.env.write("prod/s.yaml", &stripped);
    assert_eq!(t.verify_json("prod/s.yaml")["signed"], false);
    let out = t.seal(&["get", "prod/s.yaml", "a"]).output().unwrap();
    assert!(
        stderr(&out).contains("and it is not signed"),
        "{}",
        stderr(&out)
    );
    // One field without the other is no seal metadata at all.
    let end_of_signer = good[start..].find('\n').unwrap() + start + 1;
    t.env.write("prod/s.yaml", &good[..end_of_signer]);
    let out = t
        .seal(&["get", "--allow-unsigned", "prod/s.yaml", "a"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`signer` without `signature`"),
        "{}",
        stderr(&out)
    );
}

/// A valid signature of older content, put on the file as it is now, is
/// invalid; a signer later taken out of `signers` is valid but untrusted.
#[test]
fn an_old_signature_and_a_removed_signer() {
    let t = Team::new();
    t.env.write("prod/.keep", "");
    t.sealed("prod/s.json", "{\"a\": 1}\n", Some(&t.alice));
    let old = t.env.read("prod/s.json");
    t.seal(&["set", "--raw", "prod/s.json", "a", "2"])
        .env("SEAL_SIGNING_KEY", &t.alice.identity)
        .run_ok();
    let new = t.env.read("prod/s.json");
    let signature = |text: &str| {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        v["seal"]["signature"].as_str().unwrap().to_owned()
    };
    let (old_sig, new_sig) = (signature(&old), signature(&new));
    assert_ne!(old_sig, new_sig);
    let json_str = |s: &str| serde_json::to_string(s).unwrap();
    let replayed = new.replace(&json_str(&new_sig), &json_str(&old_sig));
    t.env.write("prod/s.json", &replayed);
    let v = t.verify_json("prod/s.json");
    assert_eq!(
        v["reason"],
        "the signature does not match the file's content"
    );
    t.env.write("prod/s.json", &new);
    assert_eq!(t.verify_json("prod/s.json")["trusted"], true);

    // alice leaves `signers`: her signature still holds, she is no longer trusted.
    t.policy(true, &["mallory"]);
    let v = t.verify_json("prod/s.json");
    assert_eq!(
        (v["valid"].clone(), v["trusted"].clone()),
        (true.into(), false.into())
    );
    assert_eq!(v["signer_name"], serde_json::Value::Null);
    let out = t.seal(&["decrypt", "prod/s.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("a key `signers` does not list"),
        "{}",
        stderr(&out)
    );
}

/// Every write signs: set, unset, rotate, updatekeys and recipients add,
/// with the key from SEAL_SIGNING_KEY; a key that cannot sign stops the
/// write and leaves the file as it was.
#[test]
fn every_write_signs() {
    let t = Team::new();
    t.env.write(
        ".seal.yaml",
        &format!(
            "recipients:\n  me: {}\ngroups:\n  team: [me]\nsigners:\n  alice: {}\nrules:\n  - path: \"**\"\n    recipients: [team]\n",
            t.me.public, t.alice.public
        ),
    );
    t.sealed("w.yaml", "a: 1\nb: 2\n", None);
    let signed_by_alice = |what: &str| {
        let v = t.verify_json("w.yaml");
        assert_eq!(v["signer_name"], "alice", "{what}: {v}");
        assert_eq!(v["valid"], true, "{what}");
    };
    let with_key = |args: &[&str]| {
        t.seal(args)
            .env("SEAL_SIGNING_KEY", &t.alice.identity)
            .run_ok();
    };
    with_key(&["set", "w.yaml", "c", "3"]);
    signed_by_alice("set");
    t.seal(&["set", "w.yaml", "c", "4"]).run_ok();
    assert_eq!(
        t.verify_json("w.yaml")["signed"],
        false,
        "an unsigned write drops the signature"
    );
    with_key(&["unset", "w.yaml", "c"]);
    signed_by_alice("unset");
    t.seal(&["rotate", "w.yaml"]).run_ok();
    with_key(&["rotate", "w.yaml"]);
    signed_by_alice("rotate");
    let bob = t.env.keygen("bob");
    t.seal(&["recipients", "add", "bob", &bob.public, "--group", "team"])
        .env("SEAL_SIGNING_KEY", &t.mallory.identity)
        .run_ok();
    assert!(t.verify_json("w.yaml")["signer"].as_str().unwrap() == t.mallory.public);
    t.seal(&["set", "w.yaml", "c", "5"]).run_ok();
    t.seal(&["updatekeys", "--no-rotate"]).run_ok();
    let before = t.env.read("w.yaml");
    // A key that is not ed25519, or not there, refuses the write.
    let rsa = t.env.ssh_keygen("rsa", "rsa", &["-b", "2048"], "");
    for (key, says) in [
        (
            rsa.identity.as_path(),
            "seal signs with ssh-ed25519 keys only",
        ),
        (Path::new("missing-key"), "cannot read"),
    ] {
        let out = t
            .seal(&["set", "w.yaml", "c", "6", "--sign-key"])
            .arg(key)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert!(stderr(&out).contains("nothing was written"));
        assert_eq!(t.env.read("w.yaml"), before);
    }
}

/// A running ssh-agent signs: its ed25519 key when nothing is named, and
/// the key whose public half `--sign-key` names.
#[test]
fn ssh_agent_signs() {
    let t = Team::new();
    let socket = t.env.path("agent.sock");
    let mut agent = tool("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let added = tool("ssh-add")
        .arg("-q")
        .arg(&t.alice.identity)
        .env("SSH_AUTH_SOCK", &socket)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", stderr(&added));
    t.env.write("a.yaml", "a: 1\n");
    t.seal(&["encrypt", "--in-place", "a.yaml"])
        .env("SSH_AUTH_SOCK", &socket)
        .run_ok();
    assert_eq!(t.verify_json("a.yaml")["signer_name"], "alice");
    // Named by its public key: the private key stays in the agent.
    let public = format!("{}.pub", t.alice.identity.display());
    t.seal(&["set", "a.yaml", "b", "2", "--sign-key", &public])
        .env("SSH_AUTH_SOCK", &socket)
        .run_ok();
    assert_eq!(t.verify_json("a.yaml")["signer_name"], "alice");
    // A key the agent does not hold is an error, not an unsigned write.
    let other = format!("{}.pub", t.mallory.identity.display());
    let out = t
        .seal(&["set", "a.yaml", "b", "3", "--sign-key", &other])
        .env("SSH_AUTH_SOCK", &socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the agent does not hold it"),
        "{}",
        stderr(&out)
    );
    let _ = agent.kill();
    let _ = agent.wait();
    // No agent any more: writes are unsigned, not refused.
    t.seal(&["set", "a.yaml", "b", "4"])
        .env("SSH_AUTH_SOCK", &socket)
        .run_ok();
    assert_eq!(t.verify_json("a.yaml")["signed"], false);
}

#[test]
fn bad_signers_and_require_signed_are_config_errors() {
    let t = Team::new();
    t.sealed("x.yaml", "a: 1\n", None);
    for (config, says) in [
        (
            format!("recipients:\n  me: {}\nsigners:\n  me: me\nrules:\n  - path: \"**\"\n    recipients: [me]\n", t.me.public),
            "signers.me: expected an ssh-ed25519 public key line, or the name of a recipient whose key is one",
        ),
        (
            format!("recipients:\n  me: {}\nrules:\n  - path: \"**\"\n    recipients: [me]\n    require_signed: yes please\n", t.me.public),
            "rules[0].require_signed: expected true or false",
        ),
    ] {
        t.env.write(".seal.yaml", &config);
        let out = t.seal(&["verify", "x.yaml"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
    // A recipient that is an SSH ed25519 key may be named as a signer.
    t.env.write(
        ".seal.yaml",
        &format!(
            "recipients:\n  me: {}\n  alice: {}\nsigners: [alice]\nrules:\n  - path: \"**\"\n    recipients: [me]\n",
            t.me.public, t.alice.public
        ),
    );
    t.sealed("y.yaml", "a: 1\n", Some(&t.alice));
    assert_eq!(t.verify_json("y.yaml")["signer_name"], "alice");
}

/// A version-1 file (the spec's vectors) opens as it is, stays
/// byte-identical while only read, and its next write makes it version 2,
/// signed when there is a key.
#[test]
fn a_version_1_file_becomes_version_2_when_written() {
    let t = Team::new();
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors");
    let v1 = std::fs::read_to_string(vectors.join("app.sealed.env")).unwrap();
    assert!(v1.contains("# seal: version=1\n"));
    t.env.write("app.env", &v1);
    let id = vectors.join("identity.txt");
    let seal = |args: &[&str]| {
        let mut cmd = t.env.seal();
        cmd.env("SEAL_IDENTITY_FILE", &id).args(args);
        cmd
    };
    let plain = std::fs::read_to_string(vectors.join("app.plain.env")).unwrap();
    assert_eq!(seal(&["decrypt", "app.env"]).run_ok(), plain);
    seal(&["verify", "app.env"]).run_ok();
    seal(&["info", "app.env"]).run_ok();
    assert_eq!(t.env.read("app.env"), v1);
    seal(&["set", "app.env", "NEW", "x", "--sign-key"])
        .arg(&t.alice.identity)
        .run_ok();
    let v2 = t.env.read("app.env");
    assert!(v2.contains("# seal: version=4\n"), "{v2}");
    assert!(v2.contains("# seal: signer="));
    assert_eq!(t.verify_json("app.env")["trusted"], true);
    // Unchanged values kept their tokens across the version change.
    let line = |text: &str, name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_owned()
    };
    assert_eq!(line(&v1, "API_KEY="), line(&v2, "API_KEY="));
}
