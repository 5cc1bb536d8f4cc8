//! Signed edits (spec/FORMAT.md, section 12): an SSH ed25519 key signs the
//! MAC input of every file this process writes, as an SSHSIG with namespace
//! `seal`, the format `ssh-keygen -Y sign` writes, so OpenSSH verifies it.
//!
//! The signing key is a property of the run, like the identities: the CLI
//! says where it comes from once ([`configure`]), and the one place every
//! write goes through (`document::metadata_for`) asks for a signature. The
//! key is looked up on the first signature only, so commands that write
//! nothing never touch the key file or the agent. A library caller that
//! configures nothing writes unsigned files.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use signature::{Signer, Verifier};
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use zeroize::Zeroizing;

use crate::format::Format;
use crate::metadata::{Metadata, Signed};

/// The SSHSIG namespace of seal's signatures.
pub const NAMESPACE: &str = "seal";

/// Why a write could not be signed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("signing key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("ssh-agent ({socket}): {reason}")]
    Agent { socket: String, reason: String },
    #[error("cannot encode the signature: {0}")]
    Encode(String),
    #[error("the signature made does not verify ({0})")]
    SelfCheck(&'static str),
}

/// Where this run's signing key comes from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// No signing.
    None,
    /// `--sign-key FILE` / `SEAL_SIGNING_KEY`: an OpenSSH ed25519 private
    /// key, or a public key (or a passphrase-protected private key) whose
    /// private half ssh-agent at `agent` holds.
    File {
        path: PathBuf,
        agent: Option<PathBuf>,
    },
    /// A running ssh-agent: its first ed25519 key among `preferred` (the
    /// `signers` of `.seal.yaml`), else its first ed25519 key. An agent
    /// that cannot be reached or holds no ed25519 key means no signing.
    Agent {
        socket: PathBuf,
        /// Where to look for `.seal.yaml` (read only when signing).
        prefer_from: PathBuf,
    },
}

enum Key {
    Local {
        path: PathBuf,
        private: Box<PrivateKey>,
    },
    Agent {
        socket: PathBuf,
        public: PublicKey,
    },
}

struct State {
    source: KeySource,
    /// `None` until the first signature; then the key, or that there is none.
    key: Option<Option<Key>>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Say where this run's signing key comes from.
pub fn configure(source: KeySource) {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    *state = Some(State { source, key: None });
}

/// The signature fields for a file whose MAC input hashes to `digest()`,
/// or `None` when this run has no signing key. The digest is computed only
/// when there is a key: hashing a large file again costs a sixth of sealing.
pub fn sign(digest: impl FnOnce() -> [u8; 64]) -> Result<Option<Signed>, SignError> {
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(state) = guard.as_mut() else {
        return Ok(None);
    };
    if state.key.is_none() {
        state.key = Some(resolve(&state.source)?);
    }
    let Some(Some(key)) = &state.key else {
        return Ok(None);
    };
    let digest = digest();
    let data = signed_data(&digest);
    let key_err = |path: &Path, what: &str, e: ssh_key::Error| SignError::Key {
        path: path.display().to_string(),
        reason: format!("{what}: {e}"),
    };
    let (public, signature) = match key {
        Key::Local { path, private } => {
            let sig = private
                .try_sign(&data)
                .map_err(|e| key_err(path, "cannot sign", e.into()))?;
            (private.public_key().clone(), sig)
        }
        Key::Agent { socket, public } => {
            let agent_err = |reason: String| SignError::Agent {
                socket: socket.display().to_string(),
                reason,
            };
            let mut client = ssh_agent_client_rs::Client::connect(socket)
                .map_err(|e| agent_err(format!("cannot connect: {e}")))?;
            let sig = client
                .sign(public, &data)
                .map_err(|e| agent_err(format!("refused to sign: {e}")))?;
            (public.clone(), sig)
        }
    };
    let armored = SshSig::new(
        public.key_data().clone(),
        NAMESPACE,
        HashAlg::Sha512,
        signature,
    )
    .and_then(|s| s.to_pem(LineEnding::LF))
    .and_then(|armored| Ok((armored, public.to_openssh()?)));
    let (armored, signer) = armored.map_err(|e| SignError::Encode(e.to_string()))?;
    let signed = Signed {
        signer,
        signature: armored,
    };
    // An agent could answer with anything: never write a signature that
    // does not verify.
    check(&signed, &digest).map_err(SignError::SelfCheck)?;
    Ok(Some(signed))
}

/// The SSHSIG signed-data blob (OpenSSH PROTOCOL.sshsig) for a SHA-512
/// message digest: `"SSHSIG" || string("seal") || string("") ||
/// string("sha512") || string(digest)`.
pub fn signed_data(digest: &[u8; 64]) -> Vec<u8> {
    let mut out = b"SSHSIG".to_vec();
    for field in [NAMESPACE.as_bytes(), b"", b"sha512", digest.as_slice()] {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

fn resolve(source: &KeySource) -> Result<Option<Key>, SignError> {
    match source {
        KeySource::None => Ok(None),
        KeySource::File { path, agent } => key_from_file(path, agent.as_deref()).map(Some),
        KeySource::Agent {
            socket,
            prefer_from,
        } => {
            // Only to choose among the agent's keys: a broken .seal.yaml
            // is reported by the command itself.
            let preferred: Vec<String> = crate::config::Config::find(prefer_from)
                .ok()
                .flatten()
                .map(|c| c.signers.into_iter().map(|(_, k)| k).collect())
                .unwrap_or_default();
            Ok(agent_key(socket, &preferred))
        }
    }
}

fn key_from_file(path: &Path, agent: Option<&Path>) -> Result<Key, SignError> {
    let err = |reason: String| SignError::Key {
        path: path.display().to_string(),
        reason,
    };
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?,
    );
    let (public, private) = if text
        .trim_start()
        .starts_with("-----BEGIN OPENSSH PRIVATE KEY")
    {
        let private = PrivateKey::from_openssh(text.as_bytes())
            .map_err(|e| err(format!("not an OpenSSH private key: {e}")))?;
        (private.public_key().clone(), Some(private))
    } else {
        let public = PublicKey::from_openssh(text.trim())
            .map_err(|_| err("neither an OpenSSH private key nor a public key line".into()))?;
        (public, None)
    };
    if public.algorithm() != Algorithm::Ed25519 {
        return Err(err(format!(
            "a {} key; seal signs with ssh-ed25519 keys only",
            public.algorithm()
        )));
    }
    match private {
        Some(private) if !private.is_encrypted() => Ok(Key::Local {
            path: path.to_path_buf(),
            private: Box::new(private),
        }),
        _ => {
            let what = if text.contains("PRIVATE KEY") {
                "passphrase-protected"
            } else {
                "a public key"
            };
            let hint = format!("{what}: its private key must be in ssh-agent (`ssh-add`)");
            let Some(socket) = agent else {
                return Err(err(format!("{hint}, and SSH_AUTH_SOCK is not set")));
            };
            let keys = agent_keys(socket).map_err(|e| err(format!("{hint}; {e}")))?;
            if !keys.iter().any(|k| k.key_data() == public.key_data()) {
                return Err(err(format!("{hint}; the agent does not hold it")));
            }
            Ok(Key::Agent {
                socket: socket.to_path_buf(),
                public,
            })
        }
    }
}

/// The ed25519 keys ssh-agent at `socket` holds, in its order.
fn agent_keys(socket: &Path) -> Result<Vec<PublicKey>, String> {
    let mut client = ssh_agent_client_rs::Client::connect(socket)
        .map_err(|e| format!("cannot connect to ssh-agent at {}: {e}", socket.display()))?;
    let ids = client
        .list_all_identities()
        .map_err(|e| format!("ssh-agent at {}: {e}", socket.display()))?;
    Ok(ids
        .into_iter()
        .filter_map(|id| match id {
            ssh_agent_client_rs::Identity::PublicKey(k) => Some(k.into_owned()),
            ssh_agent_client_rs::Identity::Certificate(_) => None,
        })
        .filter(|k| k.algorithm() == Algorithm::Ed25519)
        .collect())
}

fn agent_key(socket: &Path, preferred: &[String]) -> Option<Key> {
    let keys = agent_keys(socket).ok()?;
    let listed = |k: &PublicKey| {
        preferred
            .iter()
            .any(|p| PublicKey::from_openssh(p).is_ok_and(|p| p.key_data() == k.key_data()))
    };
    let public = keys.iter().find(|k| listed(k)).or(keys.first())?.clone();
    Some(Key::Agent {
        socket: socket.to_path_buf(),
        public,
    })
}

/// What a file's signature says (spec section 12.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// No `signer` and `signature` fields.
    Unsigned,
    /// Signed by `signer` (its OpenSSH line), over the current content.
    Valid { signer: String },
    /// Signature fields that do not verify: why.
    Invalid {
        signer: String,
        reason: &'static str,
    },
}

impl Verification {
    /// The signer's key line, valid or not.
    pub fn signer(&self) -> Option<&str> {
        match self {
            Verification::Unsigned => None,
            Verification::Valid { signer } | Verification::Invalid { signer, .. } => Some(signer),
        }
    }
}

/// Verify the signature of a sealed file with metadata `meta` and body
/// `body` (its text without the metadata block).
pub fn verify(format: Format, meta: &Metadata, body: &[&str]) -> Verification {
    let Some(signed) = &meta.signed else {
        return Verification::Unsigned;
    };
    let digest = crate::document::signed_digest(format, meta, body);
    match check(signed, &digest) {
        Ok(()) => Verification::Valid {
            signer: signed.signer.clone(),
        },
        Err(reason) => Verification::Invalid {
            signer: signed.signer.clone(),
            reason,
        },
    }
}

fn check(signed: &Signed, digest: &[u8; 64]) -> Result<(), &'static str> {
    let public = PublicKey::from_openssh(&signed.signer)
        .map_err(|_| "the signer field is not an OpenSSH public key")?;
    if public.algorithm() != Algorithm::Ed25519 {
        return Err("the signer is not an ssh-ed25519 key");
    }
    let sig = SshSig::from_pem(&signed.signature)
        .map_err(|_| "the signature field is not an armored SSH signature")?;
    // One encoding per signature, as for every other field.
    if sig.to_pem(LineEnding::LF).ok().as_deref() != Some(signed.signature.as_str()) {
        return Err("the signature field is not armored as OpenSSH writes it");
    }
    if sig.namespace() != NAMESPACE
        || sig.hash_alg() != HashAlg::Sha512
        || !sig.reserved().is_empty()
    {
        return Err("the signature is not a seal signature (namespace seal, sha512)");
    }
    if sig.public_key() != public.key_data() {
        return Err("the signature was made by another key than the signer field names");
    }
    public
        .key_data()
        .verify(&signed_data(digest), sig.signature())
        .map_err(|_| "the signature does not match the file's content")
}

/// Whether two OpenSSH public key lines are the same key (comments ignored).
pub fn same_key(a: &str, b: &str) -> bool {
    match (
        PublicKey::from_openssh(a.trim()),
        PublicKey::from_openssh(b.trim()),
    ) {
        (Ok(a), Ok(b)) => a.key_data() == b.key_data(),
        _ => false,
    }
}

/// The SHA256 fingerprint of a key line, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &str) -> Option<String> {
    PublicKey::from_openssh(key.trim())
        .ok()
        .map(|k| k.fingerprint(HashAlg::Sha256).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]))
    }

    fn signed_by(private: &PrivateKey, digest: &[u8; 64]) -> Signed {
        let sig = private.try_sign(&signed_data(digest)).unwrap();
        Signed {
            signer: private.public_key().to_openssh().unwrap(),
            signature: SshSig::new(
                private.public_key().key_data().clone(),
                NAMESPACE,
                HashAlg::Sha512,
                sig,
            )
            .unwrap()
            .to_pem(LineEnding::LF)
            .unwrap(),
        }
    }

    /// Our signed-data blob is the one ssh-key builds for SshSig::sign.
    #[test]
    fn signed_data_matches_sshsig() {
        let msg = b"the mac input";
        let digest: [u8; 64] = {
            use sha2::Digest;
            sha2::Sha512::digest(msg).into()
        };
        assert_eq!(
            signed_data(&digest),
            SshSig::signed_data(NAMESPACE, HashAlg::Sha512, msg).unwrap()
        );
    }

    #[test]
    fn signatures_check_key_content_and_encoding() {
        let (alice, bob) = (key(1), key(2));
        let digest = [7u8; 64];
        let good = signed_by(&alice, &digest);
        assert_eq!(check(&good, &digest), Ok(()));
        assert!(check(&good, &[8u8; 64]).is_err(), "other content");
        let forged = Signed {
            signer: bob.public_key().to_openssh().unwrap(),
            ..good.clone()
        };
        assert_eq!(
            check(&forged, &digest),
            Err("the signature was made by another key than the signer field names")
        );
        let rewrapped = Signed {
            signature: good.signature.replacen('\n', "\n\n", 2),
            ..good.clone()
        };
        assert!(check(&rewrapped, &digest).is_err());
        let bare = good
            .signer
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(same_key(&good.signer, &format!("{bare} other-comment")));
        assert!(!same_key(&good.signer, &forged.signer));
    }
}
