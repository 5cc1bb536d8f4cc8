//! `age-plugin-sealtest`: a small but real age plugin, built only so that
//! seal's integration tests (tests/integration/plugin.rs) can drive plugin
//! recipients and identities through the age plugin protocol, with seal and
//! with the reference `age` CLI. It is an example target so that `cargo test`
//! builds it and `cargo install` never installs it.
//!
//! Keys: the recipient `age1sealtest1…` holds an X25519 public key and the
//! identity `AGE-PLUGIN-SEALTEST-1…` the matching secret key (32 bytes each,
//! Bech32 as the age plugin spec says).
//!
//! Wrapping: the file key is wrapped with age's own X25519 recipient (an
//! ephemeral share, HKDF-SHA256 over both public keys, ChaCha20-Poly1305),
//! and the stanza is re-tagged `sealtest`, so that only this plugin claims
//! it. Unwrapping re-tags a `sealtest` stanza as `X25519` and hands it to
//! age's X25519 identity, which authenticates it: a wrong key unwraps
//! nothing.
//!
//! Usage:
//!   age-plugin-sealtest --generate            print a new identity file
//!                                             (`# recipient: age1sealtest1…`)
//!   age-plugin-sealtest --age-plugin=SM       run state machine SM for age
//!                                             (recipient-v1 or identity-v1)

use std::collections::{HashMap, HashSet};
use std::io;

use age::secrecy::ExposeSecret;
use age::{x25519, Identity as _, Recipient as _};
use age_core::format::{FileKey, Stanza};
use age_core::primitives::{bech32_decode, bech32_encode};
use age_core::secrecy::zeroize::Zeroize;
use age_plugin::{identity, recipient, run_state_machine, Callbacks, PluginHandler};
use bech32::Hrp;

/// The plugin's name: binary `age-plugin-sealtest`, recipients
/// `age1sealtest1…`, identities `AGE-PLUGIN-SEALTEST-1…`.
const PLUGIN_NAME: &str = "sealtest";
/// The tag of this plugin's stanzas in an age header.
const STANZA_TAG: &str = "sealtest";
/// The tag age's X25519 identity expects.
const X25519_TAG: &str = "X25519";
const KEY_LEN: usize = 32;

/// 32 key bytes out of a Bech32 string (an age X25519 key's text form).
fn bech32_bytes(text: &str) -> Option<Vec<u8>> {
    bech32_decode(
        text,
        |_| (),
        |_| Ok(()),
        |_, bytes| Ok::<Vec<u8>, ()>(bytes.collect()),
    )
    .ok()
    .filter(|b| b.len() == KEY_LEN)
}

/// An age X25519 recipient from the 32 bytes of a plugin recipient.
fn x25519_recipient(bytes: &[u8]) -> Option<x25519::Recipient> {
    if bytes.len() != KEY_LEN {
        return None;
    }
    bech32_encode(Hrp::parse_unchecked("age"), bytes)
        .parse()
        .ok()
}

/// An age X25519 identity from the 32 bytes of a plugin identity.
fn x25519_identity(bytes: &[u8]) -> Option<x25519::Identity> {
    if bytes.len() != KEY_LEN {
        return None;
    }
    let mut text = bech32_encode(Hrp::parse_unchecked("AGE-SECRET-KEY-"), bytes).to_uppercase();
    let identity = text.parse().ok();
    text.zeroize();
    identity
}

/// Print a new key pair in the layout of `age-keygen` / other plugins.
fn generate() -> io::Result<()> {
    let identity = x25519::Identity::generate();
    let public = bech32_bytes(&identity.to_public().to_string());
    let secret = bech32_bytes(identity.to_string().expose_secret());
    match (secret, public) {
        (Some(mut secret), Some(public)) => {
            age_plugin::print_new_identity(PLUGIN_NAME, &secret, &public);
            secret.zeroize();
            Ok(())
        }
        _ => Err(io::Error::other("could not encode a new key")),
    }
}

/// `recipient-v1`: wrap file keys to plugin recipients (or to the public
/// key of plugin identities).
#[derive(Default)]
struct Wrapper {
    recipients: Vec<x25519::Recipient>,
}

impl recipient::RecipientPluginV1 for Wrapper {
    fn add_recipient(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        match x25519_recipient(bytes).filter(|_| plugin_name == PLUGIN_NAME) {
            Some(r) => {
                self.recipients.push(r);
                Ok(())
            }
            None => Err(recipient::Error::Recipient {
                index,
                message: "not an age1sealtest1 recipient".to_owned(),
            }),
        }
    }

    fn add_identity(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        match x25519_identity(bytes).filter(|_| plugin_name == PLUGIN_NAME) {
            Some(id) => {
                self.recipients.push(id.to_public());
                Ok(())
            }
            None => Err(recipient::Error::Identity {
                index,
                message: "not an AGE-PLUGIN-SEALTEST-1 identity".to_owned(),
            }),
        }
    }

    fn labels(&mut self) -> HashSet<String> {
        // Nothing to enforce: these stanzas may sit beside any others.
        HashSet::new()
    }

    fn wrap_file_keys(
        &mut self,
        file_keys: Vec<FileKey>,
        _callbacks: impl Callbacks<recipient::Error>,
    ) -> io::Result<Result<Vec<Vec<Stanza>>, Vec<recipient::Error>>> {
        let mut files = Vec::with_capacity(file_keys.len());
        for file_key in &file_keys {
            let mut stanzas = Vec::with_capacity(self.recipients.len());
            for r in &self.recipients {
                match r.wrap_file_key(file_key) {
                    Ok((wrapped, _labels)) => {
                        stanzas.extend(wrapped.into_iter().map(|s| Stanza {
                            tag: STANZA_TAG.to_owned(),
                            ..s
                        }));
                    }
                    Err(e) => {
                        return Ok(Err(vec![recipient::Error::Internal {
                            message: e.to_string(),
                        }]))
                    }
                }
            }
            files.push(stanzas);
        }
        Ok(Ok(files))
    }
}

/// `identity-v1`: unwrap `sealtest` stanzas with plugin identities.
#[derive(Default)]
struct Unwrapper {
    identities: Vec<x25519::Identity>,
}

impl identity::IdentityPluginV1 for Unwrapper {
    fn add_identity(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), identity::Error> {
        match x25519_identity(bytes).filter(|_| plugin_name == PLUGIN_NAME) {
            Some(id) => {
                self.identities.push(id);
                Ok(())
            }
            None => Err(identity::Error::Identity {
                index,
                message: "not an AGE-PLUGIN-SEALTEST-1 identity".to_owned(),
            }),
        }
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        _callbacks: impl Callbacks<identity::Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<identity::Error>>>> {
        let mut results = HashMap::new();
        'files: for (file_index, stanzas) in files.into_iter().enumerate() {
            let mut errors = Vec::new();
            for (stanza_index, stanza) in stanzas.into_iter().enumerate() {
                if stanza.tag != STANZA_TAG {
                    continue;
                }
                let as_x25519 = Stanza {
                    tag: X25519_TAG.to_owned(),
                    ..stanza
                };
                for id in &self.identities {
                    match id.unwrap_stanza(&as_x25519) {
                        Some(Ok(file_key)) => {
                            results.insert(file_index, Ok(file_key));
                            continue 'files;
                        }
                        Some(Err(e)) => errors.push(identity::Error::Stanza {
                            file_index,
                            stanza_index,
                            message: e.to_string(),
                        }),
                        // Not this key: try the next one.
                        None => {}
                    }
                }
            }
            // No entry for a file means "no identity of mine matches it".
            if !errors.is_empty() {
                results.insert(file_index, Err(errors));
            }
        }
        Ok(results)
    }
}

struct Handler;

impl PluginHandler for Handler {
    type RecipientV1 = Wrapper;
    type IdentityV1 = Unwrapper;

    fn recipient_v1(self) -> io::Result<Wrapper> {
        Ok(Wrapper::default())
    }

    fn identity_v1(self) -> io::Result<Unwrapper> {
        Ok(Unwrapper::default())
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["--generate"] => generate(),
        [arg] if arg.starts_with("--age-plugin=") => {
            run_state_machine(&arg["--age-plugin=".len()..], Handler)
        }
        ["--age-plugin", state_machine] => run_state_machine(state_machine, Handler),
        _ => {
            eprintln!("usage: age-plugin-sealtest --generate | --age-plugin=STATE_MACHINE");
            std::process::exit(2);
        }
    }
}
