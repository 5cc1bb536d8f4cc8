//! Reconciling sealed files with `.seal.yaml`: for each file, decide which
//! recipients it should have, then re-wrap its data key for them (or give
//! it a new one). The engine behind `seal updatekeys`, `seal rotate` and
//! `seal recipients add/remove`; the command line only prints what it
//! reports.
//!
//! Each file is read, checked, re-sealed in memory and written atomically
//! under its lock, one at a time: an interrupted run leaves every file
//! either old or new, and running it again finishes the job (a file that
//! already matches its rule is left byte-identical).
//!
//! A file is handled in two steps, [`Reconciler::prepare`] and
//! [`Reconciler::apply`], so that identities are asked for only once a
//! file really needs opening (a dry run, or a run where every file is up
//! to date, needs none).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use zeroize::Zeroizing;

use super::{diff, label, Diff, TeamError};
use crate::config::Config;
use crate::crypto::DataKey;
use crate::document::{self, DocError, Resealed, Sealed};
use crate::envelope::{unwrap_data_key, Identities, Recipient, RecipientError, UnwrapError};
use crate::format::{Format, Leaf, LeafKind};
use crate::fsio::{self, LockError, Mode, ReadError};
use crate::select;

/// What the engine does to each file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make the recipients match the rule.
    Update,
    /// New data key, same recipients.
    Rotate,
    /// Wrap the same data key for `Options::new_key` in every file whose
    /// rule names it, and change nothing else: onboarding is not the place
    /// to settle other differences between a file and its rule.
    Add,
}

/// How the engine runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Action,
    pub dry_run: bool,
    /// Rotate the data key when a recipient is dropped.
    pub rotate_on_removal: bool,
    /// Also rewrite files that the identities could not open afterwards.
    pub force: bool,
    /// Keys to drop from files that no rule covers (`recipients remove`).
    pub drop_keys: Vec<String>,
    /// The key `Action::Add` gives to the files its rules name it for.
    pub new_key: Option<String>,
    /// Keep the text of every file before it is rewritten.
    pub keep_old: bool,
}

/// What happened to one file.
#[derive(Debug)]
pub enum Outcome {
    UpToDate,
    /// No rule covers the file; `config` is the `.seal.yaml` that governs
    /// its directory, if there is one.
    NoRule {
        config: Option<PathBuf>,
    },
    /// Recipients by name in `.seal.yaml` (else a short form of the key).
    Changed {
        added: Vec<String>,
        removed: Vec<String>,
        rotated: bool,
    },
    Skipped(Skip),
}

/// Why a file was left unchanged. The run goes on with the next file.
#[derive(Debug)]
pub enum Skip {
    /// The file name is not one of a format seal reads.
    UnknownFormat,
    Read(ReadError),
    Doc(DocError),
    Lock(LockError),
    /// Every recipient would be removed.
    NoRecipientsLeft,
    /// None of the identities opens the file; `drop_keys` are the keys of
    /// [`Options::drop_keys`] it still has, for whoever can run it again.
    NotARecipient {
        drop_keys: Vec<String>,
    },
    Wrap {
        recipient: String,
        error: RecipientError,
    },
    /// None of the identities would open the file afterwards (no `force`).
    WouldLoseAccess,
    /// A recipient would be removed while values added with `seal set
    /// --public` are pending: those stay sealed to everyone they were
    /// written for, the leaver too, until they are folded in.
    PendingValues(Vec<String>),
    Write(std::io::Error),
}

/// A file whose change is decided and whose lock is held, waiting for the
/// identities that open it.
pub struct Pending {
    file: PathBuf,
    sealed: Sealed<'static>,
    _lock: std::fs::File,
    wanted: Vec<String>,
    diff: Diff,
    /// The rule's `encrypt:` patterns, when they are to replace the file's.
    stricter: Option<Vec<String>>,
    rotated: bool,
    added: Vec<String>,
    removed: Vec<String>,
}

/// The first step for a file: done already, or ready to be applied.
pub enum Step {
    Done(Outcome),
    Ready(Box<Pending>),
}

/// Reconciles files one at a time, remembering each directory's
/// `.seal.yaml`.
pub struct Reconciler {
    opts: Options,
    configs: HashMap<PathBuf, Option<Rc<Config>>>,
    old_texts: Vec<(PathBuf, Zeroizing<String>)>,
}

fn done(skip: Skip) -> Result<Step, TeamError> {
    Ok(Step::Done(Outcome::Skipped(skip)))
}

impl Reconciler {
    pub fn new(opts: Options) -> Self {
        Reconciler {
            opts,
            configs: HashMap::new(),
            old_texts: Vec::new(),
        }
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// (file, text before the change) for every file rewritten so far, with
    /// [`Options::keep_old`].
    pub fn take_old_texts(&mut self) -> Vec<(PathBuf, Zeroizing<String>)> {
        std::mem::take(&mut self.old_texts)
    }

    /// Both steps for `file` with identities at hand.
    #[cfg(test)]
    pub fn reconcile(&mut self, file: &Path, ids: &Identities) -> Result<Outcome, TeamError> {
        Ok(match self.prepare(file)? {
            Step::Done(outcome) => outcome,
            Step::Ready(pending) => self.apply(*pending, ids),
        })
    }

    fn config_for(&mut self, file: &Path) -> Result<Option<Rc<Config>>, TeamError> {
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        if let Some(c) = self.configs.get(&dir) {
            return Ok(c.clone());
        }
        let found = Config::find(&dir).map_err(TeamError::Config)?.map(Rc::new);
        self.configs.insert(dir, found.clone());
        Ok(found)
    }

    /// The recipients `file` should have, or the outcome when there is
    /// nothing to decide.
    fn wanted(
        &self,
        file: &Path,
        current: &[crate::metadata::WrappedKey],
        config: Option<&Config>,
    ) -> Result<Result<Vec<String>, Outcome>, TeamError> {
        let texts = |keys: &[crate::metadata::WrappedKey]| -> Vec<String> {
            keys.iter().map(|w| w.recipient.clone()).collect()
        };
        let rule = config.and_then(|c| c.rule_for(file).map(|r| (c, r)));
        Ok(Ok(match self.opts.mode {
            Action::Rotate => texts(current),
            Action::Add => {
                let new_key = self.opts.new_key.as_ref().ok_or(TeamError::NoKeyToAdd)?;
                let named = match rule {
                    Some((c, rule)) => c
                        .resolve(&rule.recipients)
                        .map_err(TeamError::Resolve)?
                        .iter()
                        .any(|(_, k)| Recipient::same_key(k, new_key)),
                    None => false,
                };
                let has = current
                    .iter()
                    .any(|w| Recipient::same_key(&w.recipient, new_key));
                if !named || has {
                    return Ok(Err(Outcome::UpToDate));
                }
                let mut all = texts(current);
                all.push(new_key.clone());
                all
            }
            Action::Update => match rule {
                Some((c, rule)) => c
                    .resolve(&rule.recipients)
                    .map_err(TeamError::Resolve)?
                    .into_iter()
                    .map(|(_, k)| k)
                    .collect(),
                None => {
                    let dropped = |w: &&crate::metadata::WrappedKey| {
                        self.opts
                            .drop_keys
                            .iter()
                            .any(|d| Recipient::same_key(d, &w.recipient))
                    };
                    if !current.iter().any(|w| dropped(&w)) {
                        return Ok(Err(Outcome::NoRule {
                            config: config.map(|c| c.file.clone()),
                        }));
                    }
                    current
                        .iter()
                        .filter(|w| !dropped(w))
                        .map(|w| w.recipient.clone())
                        .collect()
                }
            },
        }))
    }

    /// Decide what `file` needs, without any identity; a file to change is
    /// locked (unless this is a dry run) and returned ready to apply.
    pub fn prepare(&mut self, file: &Path) -> Result<Step, TeamError> {
        let Some(format) = Format::from_path(file) else {
            return done(Skip::UnknownFormat);
        };
        let text = match fsio::read_document(file) {
            Ok(t) => t,
            Err(e) => return done(Skip::Read(e)),
        };
        let sealed = match document::parse_sealed_owned(format, text) {
            Ok(s) => s,
            Err(e) => return done(Skip::Doc(e)),
        };
        let current = sealed.metadata().recipients.clone();
        let config = self.config_for(file)?;
        let wanted = match self.wanted(file, &current, config.as_deref())? {
            Ok(w) => w,
            Err(outcome) => return Ok(Step::Done(outcome)),
        };
        let d = diff(&current, &wanted);
        // A rule that now selects more values than the file encrypts (a
        // stricter `encrypt:`) is applied too; one that selects fewer is
        // not: turning sealed values into plaintext is no key update.
        let recorded = &sealed.metadata().encrypt;
        let stricter: Option<Vec<String>> = match self.opts.mode {
            Action::Update => config
                .as_deref()
                .and_then(|c| c.rule_for(file))
                .map(|rule| rule.encrypt.clone())
                .filter(|patterns| patterns != recorded)
                .filter(|patterns| {
                    let values = || {
                        sealed
                            .leaves()
                            .iter()
                            .filter(|l| l.kind == LeafKind::Scalar)
                    };
                    let now = |l: &Leaf| select::selected(recorded, &l.path);
                    let rule = |l: &Leaf| select::selected(patterns, &l.path);
                    values().any(|l| rule(l) && !now(l)) && values().all(|l| rule(l) || !now(l))
                }),
            _ => None,
        };
        if self.opts.mode != Action::Rotate && d.is_empty() && stricter.is_none() {
            return Ok(Step::Done(Outcome::UpToDate));
        }
        if wanted.is_empty() {
            return done(Skip::NoRecipientsLeft);
        }
        if !d.removed.is_empty() && !sealed.metadata().pending.is_empty() {
            return done(Skip::PendingValues(crate::pending::paths(
                sealed.metadata(),
            )));
        }
        let rotated = self.opts.mode == Action::Rotate
            || (!d.removed.is_empty() && self.opts.rotate_on_removal);
        let labels = |keys: &[String]| -> Vec<String> {
            keys.iter().map(|k| label(config.as_deref(), k)).collect()
        };
        let added = labels(&d.added);
        let removed = labels(&d.removed);
        if self.opts.dry_run {
            return Ok(Step::Done(Outcome::Changed {
                added,
                removed,
                rotated,
            }));
        }
        let lock = match fsio::lock(file) {
            Ok(l) => l,
            Err(e) => return done(Skip::Lock(e)),
        };
        Ok(Step::Ready(Box::new(Pending {
            file: file.to_path_buf(),
            sealed,
            _lock: lock,
            wanted,
            diff: d,
            stricter,
            rotated,
            added,
            removed,
        })))
    }

    /// Open the file with `ids`, re-wrap or rotate, and write it.
    pub fn apply(&mut self, p: Pending, ids: &Identities) -> Outcome {
        let skip = Outcome::Skipped;
        let opened = match p.sealed.open(ids) {
            Ok(o) => o,
            Err(DocError::Unwrap(UnwrapError::NoMatch { .. })) => {
                // The keys being dropped go in the hint too: the person
                // who runs it may have a .seal.yaml that no longer names them.
                let drop_keys = self
                    .opts
                    .drop_keys
                    .iter()
                    .filter(|k| p.diff.removed.iter().any(|r| Recipient::same_key(r, k)))
                    .cloned()
                    .collect();
                return skip(Skip::NotARecipient { drop_keys });
            }
            Err(e) => return skip(Skip::Doc(e)),
        };
        let wrap = |recipient: &String, key: &DataKey| {
            Recipient::parse(recipient)
                .and_then(|r| r.wrap(key))
                .map_err(|error| {
                    skip(Skip::Wrap {
                        recipient: recipient.clone(),
                        error,
                    })
                })
        };
        let (key, mut wraps, to_wrap) = if p.rotated {
            (DataKey::generate(), Vec::new(), &p.wanted)
        } else {
            match opened.data_key() {
                Ok(key) => (key.clone(), p.diff.kept.clone(), &p.diff.added),
                Err(e) => return skip(Skip::Doc(e)),
            }
        };
        for k in to_wrap {
            match wrap(k, &key) {
                Ok(w) => wraps.push(w),
                Err(outcome) => return outcome,
            }
        }
        if !self.opts.force && unwrap_data_key(&wraps, ids).is_err() {
            return skip(Skip::WouldLoseAccess);
        }
        let patterns = p.stricter.as_ref().unwrap_or(&opened.metadata.encrypt);
        let new_text = match opened.reseal_for(&opened.plaintext, wraps, &key, patterns) {
            Ok(Resealed::Changed(t)) => t,
            Ok(Resealed::Unchanged) => return Outcome::UpToDate,
            Err(e) => return skip(Skip::Doc(e)),
        };
        if let Err(e) = fsio::write_atomic(&p.file, new_text.as_bytes(), Mode::KeepOr(0o644)) {
            return skip(Skip::Write(e));
        }
        if self.opts.keep_old {
            let old = Zeroizing::new(opened.sealed_text().to_owned());
            self.old_texts.push((p.file.clone(), old));
        }
        Outcome::Changed {
            added: p.added,
            removed: p.removed,
            rotated: p.rotated,
        }
    }
}

/// Why removing a key from `.seal.yaml` would go wrong for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lockout {
    /// The key is the file's only recipient.
    OnlyRecipient,
    /// The identities open the file now and would not afterwards.
    LoseAccess,
}

/// Before `key` is removed from `config` (leaving `after`): the files
/// among `files` that it would leave with nobody, or (without `force`)
/// that `ids` could no longer open. Files that cannot be read or do not
/// have the key are not a concern here.
pub fn removal_lockouts(
    files: &[PathBuf],
    config: &Config,
    after: &Config,
    key: &str,
    ids: &Identities,
    force: bool,
) -> Vec<(PathBuf, Lockout)> {
    let mut out = Vec::new();
    for f in files {
        let (Some(format), Ok(t)) = (Format::from_path(f), fsio::read_document(f)) else {
            continue;
        };
        let Ok(info) = document::inspect(format, &t) else {
            continue;
        };
        let current = &info.metadata.recipients;
        if !current
            .iter()
            .any(|w| Recipient::same_key(&w.recipient, key))
        {
            continue;
        }
        // A file under a nearer `.seal.yaml` follows that one's rules.
        let governed = Config::find(f.parent().unwrap_or(Path::new(".")))
            .ok()
            .flatten()
            .is_some_and(|c| c.file == config.file);
        let wanted: Vec<String> = match after.rule_for(f).filter(|_| governed) {
            Some(rule) => after
                .resolve(&rule.recipients)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, k)| k)
                .collect(),
            None => current
                .iter()
                .filter(|w| !Recipient::same_key(&w.recipient, key))
                .map(|w| w.recipient.clone())
                .collect(),
        };
        if wanted.is_empty() {
            out.push((f.clone(), Lockout::OnlyRecipient));
            continue;
        }
        let kept = diff(current, &wanted).kept;
        if !force && unwrap_data_key(current, ids).is_ok() && unwrap_data_key(&kept, ids).is_err() {
            out.push((f.clone(), Lockout::LoseAccess));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::generate_identity;

    struct Person {
        public: String,
        ids: Identities,
    }

    fn person(name: &str) -> Person {
        let (secret, public) = generate_identity();
        Person {
            public,
            ids: Identities::from_text(&secret, name).unwrap(),
        }
    }

    fn options(mode: Action) -> Options {
        Options {
            mode,
            dry_run: false,
            rotate_on_removal: true,
            force: false,
            drop_keys: Vec::new(),
            new_key: None,
            keep_old: true,
        }
    }

    fn write_policy(dir: &Path, recipients: &[(&str, &Person)], rule: &[&str]) {
        let mut text = String::from("recipients:\n");
        for (name, p) in recipients {
            text.push_str(&format!("  {name}: {}\n", p.public));
        }
        text.push_str(&format!(
            "rules:\n  - path: \"**\"\n    recipients: [{}]\n",
            rule.join(", ")
        ));
        std::fs::write(dir.join(crate::config::FILE_NAME), text).unwrap();
    }

    fn recipients_of(file: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(file).unwrap();
        document::inspect(Format::Dotenv, &text)
            .unwrap()
            .metadata
            .recipients
            .into_iter()
            .map(|w| w.recipient)
            .collect()
    }

    fn value_line(file: &Path) -> String {
        let text = std::fs::read_to_string(file).unwrap();
        text.lines()
            .find(|l| l.starts_with("TOKEN="))
            .unwrap()
            .to_owned()
    }

    #[test]
    fn adds_and_removes_recipients_as_the_policy_says() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, bob) = (person("alice"), person("bob"));
        let file = dir.path().join("app.env");
        let sealed = document::seal(
            Format::Dotenv,
            "TOKEN=s3cret\n",
            &[Recipient::parse(&alice.public).unwrap()],
            &[],
        )
        .unwrap();
        std::fs::write(&file, sealed).unwrap();
        let before = value_line(&file);

        // Bob joins: wrapped for him with the same data key, values untouched.
        write_policy(
            dir.path(),
            &[("alice", &alice), ("bob", &bob)],
            &["alice", "bob"],
        );
        let outcome = Reconciler::new(options(Action::Update))
            .reconcile(&file, &alice.ids)
            .unwrap();
        assert!(
            matches!(&outcome, Outcome::Changed { added, removed, rotated: false }
                if added == &["bob"] && removed.is_empty()),
            "{outcome:?}"
        );
        assert_eq!(
            recipients_of(&file),
            [alice.public.as_str(), bob.public.as_str()]
        );
        assert_eq!(value_line(&file), before);
        let opened = document::open(
            Format::Dotenv,
            &std::fs::read_to_string(&file).unwrap(),
            &bob.ids,
        )
        .unwrap();
        assert_eq!(opened.plaintext.as_str(), "TOKEN=s3cret\n");

        // Alice leaves: she may not lock herself out, bob may remove her,
        // and the data key is new.
        write_policy(dir.path(), &[("alice", &alice), ("bob", &bob)], &["bob"]);
        let mut engine = Reconciler::new(options(Action::Update));
        let outcome = engine.reconcile(&file, &alice.ids).unwrap();
        assert!(
            matches!(outcome, Outcome::Skipped(Skip::WouldLoseAccess)),
            "{outcome:?}"
        );
        assert_eq!(
            recipients_of(&file),
            [alice.public.as_str(), bob.public.as_str()]
        );
        let outcome = engine.reconcile(&file, &bob.ids).unwrap();
        assert!(
            matches!(&outcome, Outcome::Changed { added, removed, rotated: true }
                if added.is_empty() && removed == &["alice"]),
            "{outcome:?}"
        );
        assert_eq!(recipients_of(&file), [bob.public.as_str()]);
        assert_ne!(value_line(&file), before);
        assert_eq!(engine.take_old_texts().len(), 1);

        // Done: a second run changes nothing, and needs no identity.
        let step = engine.prepare(&file).unwrap();
        assert!(matches!(step, Step::Done(Outcome::UpToDate)));
    }

    #[test]
    fn files_without_a_rule_or_readable_name_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let alice = person("alice");
        let file = dir.path().join("app.env");
        let sealed = document::seal(
            Format::Dotenv,
            "TOKEN=x\n",
            &[Recipient::parse(&alice.public).unwrap()],
            &[],
        )
        .unwrap();
        std::fs::write(&file, sealed).unwrap();
        std::fs::write(
            dir.path().join(crate::config::FILE_NAME),
            format!(
                "recipients:\n  alice: {}\nrules:\n  - path: \"prod/**\"\n    recipients: [alice]\n",
                alice.public
            ),
        )
        .unwrap();
        let mut engine = Reconciler::new(options(Action::Update));
        let outcome = engine.reconcile(&file, &alice.ids).unwrap();
        assert!(
            matches!(&outcome, Outcome::NoRule { config: Some(c) } if c.ends_with(crate::config::FILE_NAME)),
            "{outcome:?}"
        );
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "x").unwrap();
        let outcome = engine.reconcile(&other, &alice.ids).unwrap();
        assert!(matches!(outcome, Outcome::Skipped(Skip::UnknownFormat)));
    }

    #[test]
    fn removal_lockouts_name_the_files_left_with_nobody_or_out_of_reach() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, bob) = (person("alice"), person("bob"));
        let seal_for = |name: &str, people: &[&Person]| {
            let recipients: Vec<Recipient> = people
                .iter()
                .map(|p| Recipient::parse(&p.public).unwrap())
                .collect();
            let file = dir.path().join(name);
            let text = document::seal(Format::Dotenv, "TOKEN=x\n", &recipients, &[]).unwrap();
            std::fs::write(&file, text).unwrap();
            file
        };
        let only_alice = seal_for("a.env", &[&alice]);
        let both = seal_for("b.env", &[&alice, &bob]);
        let only_bob = seal_for("c.env", &[&bob]);
        write_policy(
            dir.path(),
            &[("alice", &alice), ("bob", &bob)],
            &["alice", "bob"],
        );
        let before = Config::load(&dir.path().join(crate::config::FILE_NAME)).unwrap();
        let text = std::fs::read_to_string(&before.file).unwrap();
        let removal = crate::config::remove_recipient(&before, &text, "alice", false).unwrap();
        let after = Config::parse(&removal.text, &before.file, &before.dir).unwrap();
        let files = [only_alice.clone(), both.clone(), only_bob];

        // Alice removing herself: every file of hers is out of her reach.
        let found = removal_lockouts(&files, &before, &after, &alice.public, &alice.ids, false);
        assert_eq!(
            found,
            [
                (only_alice.clone(), Lockout::LoseAccess),
                (both, Lockout::LoseAccess)
            ]
        );
        // Bob removing her, forced: nothing is in the way.
        assert!(
            removal_lockouts(&files, &before, &after, &alice.public, &bob.ids, true).is_empty()
        );
        // Without a rule for it, a file keeps its other recipients, and
        // alice has none besides herself.
        std::fs::write(
            &before.file,
            format!(
                "recipients:\n  alice: {}\n  bob: {}\nrules:\n  - path: \"b.env\"\n    recipients: [alice, bob]\n",
                alice.public, bob.public
            ),
        )
        .unwrap();
        let before = Config::load(&before.file).unwrap();
        let after = Config::parse(
            &crate::config::remove_recipient(
                &before,
                &std::fs::read_to_string(&before.file).unwrap(),
                "alice",
                false,
            )
            .unwrap()
            .text,
            &before.file,
            &before.dir,
        )
        .unwrap();
        let found = removal_lockouts(&files, &before, &after, &alice.public, &bob.ids, false);
        assert_eq!(found, [(only_alice, Lockout::OnlyRecipient)]);
    }
}
