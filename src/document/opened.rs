//! What an opened document offers: its values, and sealing it again after
//! an edit with the tokens of unchanged values kept.

use super::*;

/// What [`Opened::seal_next_version`] did.
pub enum NextVersion {
    /// Sealed with the data key of the opened version: every value whose
    /// plaintext did not change kept its token, and the recipients it had
    /// kept their wrapped keys. `added` recipients were wrapped anew.
    Sealed { text: String, added: Vec<String> },
    /// These recipients of the opened version are not among the new ones.
    /// They hold its data key, so it must not seal what they may no
    /// longer read: nothing was sealed.
    RecipientsRemoved(Vec<String>),
}

/// A value of an opened document: its key path, its meaning, and whether
/// the sealed file holds it as a token.
pub struct MarkedValue<'a> {
    pub path: Cow<'a, KeyPath>,
    pub value: Zeroizing<String>,
    pub sealed: bool,
}

/// The outcome of sealing an edited document again.
pub enum Resealed {
    /// Nothing changed: the sealed file stays byte-identical.
    Unchanged,
    Changed(String),
}

impl Opened {
    /// The file's data key, which a reader holds unless the file has key
    /// groups and the reader is a recipient of some groups only.
    pub fn data_key(&self) -> Result<&DataKey, DocError> {
        self.keys.default.as_ref().ok_or_else(|| DocError::Locked {
            scope: scope_name(&self.metadata, Scope::Default),
        })
    }

    /// The sealed values this reader cannot open, each with the name of
    /// its key group (or `None` for the default scope), in document order:
    /// their tokens stand in the opened text as they are.
    pub fn locked_paths(&self) -> Vec<(&KeyPath, Option<&str>)> {
        self.locked
            .iter()
            .map(|v| {
                let group = match v.scope {
                    Scope::Group(i) => self.metadata.groups.get(i).map(|g| g.name.as_str()),
                    Scope::Default => None,
                };
                (&v.path, group)
            })
            .collect()
    }

    /// The scopes this reader cannot open, as this version has them: what
    /// a new version made from it (or from several, merged) must keep.
    pub fn locked_scopes(&self) -> &[LockedScope] {
        &self.locked_scopes
    }

    /// The token this file holds for the value `text` at `path`, if any.
    pub fn token_for(&self, path: &KeyPath, text: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|v| &v.path == path && &self.plaintext[v.plaintext(&self.sealed)] == text)
            .map(|v| &self.sealed[v.token.clone()])
    }

    /// Every value's key path and meaning, as [`Format::values`] reads them
    /// from the plaintext, in document order. JSON and dotenv values are
    /// read from where opening put them, without parsing the text again.
    #[allow(clippy::type_complexity)]
    pub fn values(&self) -> Result<Vec<(Cow<'_, KeyPath>, Zeroizing<String>)>, ParseError> {
        Ok(self
            .marked_values()?
            .into_iter()
            .map(|v| (v.path, v.value))
            .collect())
    }

    /// [`Opened::values`], each marked with whether the sealed file holds
    /// it as a token (rather than in plaintext).
    pub fn marked_values(&self) -> Result<Vec<MarkedValue<'_>>, ParseError> {
        let decrypted = self
            .values
            .iter()
            .map(|v| (&v.path, v.plaintext(&self.sealed), true));
        let plain = self
            .plain_values
            .iter()
            .map(|v| (&v.path, v.text.clone(), false));
        let mut all: Vec<_> = decrypted.chain(plain).collect();
        // Both lists are in document order: this sort only interleaves them.
        all.sort_by_key(|(_, text, _)| text.start);
        let mut out = Vec::with_capacity(all.len());
        for (path, text, sealed) in all {
            match self.format.value_at(&self.plaintext, text.clone()) {
                Some(value) => out.push(MarkedValue {
                    path: Cow::Borrowed(path),
                    value: value?,
                    sealed,
                }),
                // YAML scalars need the parser. A value shown through an
                // alias or merge key is sealed when the text it shows is,
                // so it is told by where that text starts, not by path.
                None => {
                    let sealed: std::collections::HashSet<usize> =
                        self.values.iter().map(|v| v.plaintext_start).collect();
                    let locked: std::collections::HashSet<usize> =
                        self.locked.iter().map(|v| v.text.start).collect();
                    return Ok(self
                        .format
                        .located_values(&self.plaintext)?
                        .into_iter()
                        .filter(|(_, at, _)| !locked.contains(at))
                        .map(|(path, at, value)| MarkedValue {
                            sealed: sealed.contains(&at),
                            path: Cow::Owned(path),
                            value,
                        })
                        .collect());
                }
            }
        }
        Ok(out)
    }

    /// Key paths of the values that hold an unresolved conflict of seal's
    /// merge driver: both candidates between conflict markers.
    pub fn conflicted_paths(&self) -> Vec<&KeyPath> {
        self.values
            .iter()
            .filter(|v| {
                crate::merge::conflict_marker_line(&self.plaintext[v.plaintext(&self.sealed)])
                    .is_some()
            })
            .map(|v| &v.path)
            .collect()
    }

    /// The sealed file this was opened from.
    pub fn sealed_text(&self) -> &str {
        &self.sealed
    }

    /// This version's values and `changed` dates, for keeping the dates
    /// of the values a new version leaves unchanged.
    pub fn prior_dates(&self) -> OpenedDates<'_> {
        OpenedDates {
            opened: self,
            values: self.previous_tokens(),
            dates: ChangedDates::of(&self.metadata.changed),
        }
    }

    /// Tokens of the opened file by key path, for keeping unchanged values'
    /// tokens when resealing.
    pub(super) fn previous_tokens(&self) -> HashMap<&KeyPath, Vec<&DecryptedValue>> {
        let mut map: HashMap<&KeyPath, Vec<&DecryptedValue>> =
            HashMap::with_capacity(self.values.len());
        for v in &self.values {
            map.entry(&v.path).or_default().push(v);
        }
        map
    }

    pub(super) fn reuse_token<'a>(
        &'a self,
        previous: &HashMap<&KeyPath, Vec<&'a DecryptedValue>>,
        path: &KeyPath,
        text: &str,
    ) -> Option<&'a str> {
        previous
            .get(path)?
            .iter()
            .find(|v| &self.plaintext[v.plaintext(&self.sealed)] == text)
            .map(|v| &self.sealed[v.token.clone()])
    }

    /// Seal `plaintext` (an edited version of this document) with the same
    /// data key, recipients and selection, keeping the token of every value
    /// whose plaintext did not change.
    pub fn reseal(&self, plaintext: &str) -> Result<Resealed, DocError> {
        self.reseal_with(
            plaintext,
            self.metadata.recipients.clone(),
            self.keys.clone(),
            &self.metadata.encrypt,
        )
    }

    /// Seal `plaintext`, a new version of this document (say, the
    /// committed version of a file that was decrypted and is encrypted
    /// again), for `recipients` with this document's data key, so that
    /// values whose plaintext did not change keep their tokens and the
    /// file's diff shows only what changed. Recipients it has keep their
    /// wrapped keys; new ones get the same key. Refused when one of its
    /// recipients is not among `recipients` ([`NextVersion::RecipientsRemoved`]).
    pub fn seal_next_version(
        &self,
        plaintext: &str,
        recipients: &[Recipient],
        encrypt: &[String],
    ) -> Result<NextVersion, DocError> {
        validate_patterns(encrypt)?;
        if recipients.is_empty() {
            return Err(DocError::NoRecipients);
        }
        let removed: Vec<String> = self
            .metadata
            .recipients
            .iter()
            .filter(|w| {
                !recipients
                    .iter()
                    .any(|r| Recipient::same_key(r.as_str(), &w.recipient))
            })
            .map(|w| w.recipient.clone())
            .collect();
        if !removed.is_empty() {
            return Ok(NextVersion::RecipientsRemoved(removed));
        }
        let mut wraps = self.metadata.recipients.clone();
        let mut added = Vec::new();
        for r in recipients {
            if !wraps
                .iter()
                .any(|w| Recipient::same_key(&w.recipient, r.as_str()))
            {
                wraps.push(r.wrap(self.data_key()?)?);
                added.push(r.as_str().to_owned());
            }
        }
        let text = match self.reseal_with(plaintext, wraps, self.keys.clone(), encrypt)? {
            Resealed::Unchanged => self.sealed.clone(),
            Resealed::Changed(text) => text,
        };
        Ok(NextVersion::Sealed { text, added })
    }

    /// Like [`Opened::reseal`], with another recipient set (same data key:
    /// tokens are kept) or a new data key (every value re-encrypted).
    /// Pending values (version 4) are carried over unchanged.
    pub fn reseal_for(
        &self,
        plaintext: &str,
        recipients: Vec<WrappedKey>,
        key: &DataKey,
        encrypt: &[String],
    ) -> Result<Resealed, DocError> {
        let keys = self.keys_with_data_key(key)?;
        self.reseal_with(plaintext, recipients, keys, encrypt)
    }

    /// This document's keys with `key` as the file's data key: when it is
    /// a new key, the file MAC key changes with it and is wrapped anew for
    /// every recipient of every group (spec 14.5). Needs the data key.
    pub fn keys_with_data_key(&self, key: &DataKey) -> Result<FileKeys, DocError> {
        if self.data_key()?.expose() == key.expose() {
            return Ok(self.keys.clone());
        }
        let mut keys = self.keys.clone();
        keys.default = Some(key.clone());
        keys.file_mac = key.mac_key();
        Ok(keys)
    }

    /// [`Opened::reseal_for`] with every key given.
    fn reseal_with(
        &self,
        plaintext: &str,
        recipients: Vec<WrappedKey>,
        keys: FileKeys,
        encrypt: &[String],
    ) -> Result<Resealed, DocError> {
        let prior = self.prior_dates();
        let unchanged_meta = keys.same(&self.keys)
            && recipients == self.metadata.recipients
            && encrypt == self.metadata.encrypt.as_slice();
        if unchanged_meta && plaintext == self.plaintext.as_str() {
            return Ok(Resealed::Unchanged);
        }
        let plan = self.plan(keys, recipients, encrypt, &prior, self.metadata.pending.clone())?;
        self.seal_plan(plaintext, &plan).map(Resealed::Changed)
    }

    /// The plan for a new version of this document: its groups (their
    /// `file_key`s wrapped anew when the file MAC key changed), and what
    /// the scopes it cannot open must keep.
    pub fn plan<'a>(
        &self,
        keys: FileKeys,
        recipients: Vec<WrappedKey>,
        encrypt: &[String],
        prior: &'a dyn PriorDates,
        pending: Vec<Pending>,
    ) -> Result<SealPlan<'a>, DocError> {
        let mut groups = self.metadata.groups.clone();
        if keys.file_mac.expose() != self.keys.file_mac.expose() {
            for g in &mut groups {
                for r in &mut g.recipients {
                    r.file_key = Recipient::parse(&r.recipient)?.wrap_secret(keys.file_mac.expose())?;
                }
            }
        }
        Ok(SealPlan {
            keys,
            recipients,
            groups,
            default_mac: self.metadata.default_mac.clone(),
            locked: self.locked_scopes.clone(),
            encrypt: encrypt.to_vec(),
            modified: now_rfc3339(),
            prior,
            pending,
            sign: true,
        })
    }

    /// Seal `plaintext`, this document with its pending values applied (or
    /// with none), as the next version with nothing pending: the fold of
    /// spec section 13. It is written at the current format version even
    /// when nothing else changed, so that a file of an older version can
    /// take pending values afterwards. `sign`: whether a signing key signs
    /// it (an in-memory fold for `--allow-pending` is never signed).
    pub fn fold(&self, plaintext: &str, sign: bool) -> Result<String, DocError> {
        let prior = self.prior_dates();
        let mut plan = self.plan(
            self.keys.clone(),
            self.metadata.recipients.clone(),
            &self.metadata.encrypt,
            &prior,
            Vec::new(),
        )?;
        plan.sign = sign;
        self.seal_plan(plaintext, &plan)
    }

    /// This document opened again with its pending values applied to its
    /// plaintext (sealed and opened in memory, nothing written): what
    /// `--allow-pending` reads. `pending` are the opened values of
    /// [`crate::pending::open_all`].
    pub fn with_pending(
        &self,
        pending: &[crate::pending::OpenPending],
    ) -> Result<Opened, crate::pending::PendingError> {
        let applied = crate::pending::apply(self.format, &self.plaintext, pending)?;
        let sealed = self.fold(&applied, false)?;
        Ok(parse_sealed(self.format, &sealed)?.open_with_keys(self.keys.clone())?)
    }

    /// Seal `plaintext` under `plan`, keeping the tokens of unchanged values
    /// when the data key is this document's.
    fn seal_plan(&self, plaintext: &str, plan: &SealPlan<'_>) -> Result<String, DocError> {
        if plan.keys.same(&self.keys) {
            let previous = self.previous_tokens();
            seal_with(self.format, plaintext, plan, |path, text| {
                self.reuse_token(&previous, path, text)
            })
        } else {
            seal_with(self.format, plaintext, plan, |_, _| None)
        }
    }
}
