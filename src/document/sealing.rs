//! Sealing: splice a token over each selected value, MAC the body, attach
//! the metadata block, and check the output before handing it back.

use super::*;
use std::collections::hash_map::Entry;

/// What sealing needs besides the plaintext.
pub struct SealPlan<'a> {
    /// The keys of the scopes this writer seals; a scope it has no key for
    /// keeps its tokens, and its MAC from `groups` or `default_mac`.
    pub keys: FileKeys,
    pub recipients: Vec<WrappedKey>,
    /// Key groups (version 5), with their recipients' wrapped keys; the
    /// MACs of the scopes `keys` hold are computed anew.
    pub groups: Vec<crate::metadata::Group>,
    /// The default MAC of the opened version, kept when `keys` lack the
    /// file's data key.
    pub default_mac: String,
    /// The digest of each scope's MAC input that `keys` cannot open, as
    /// the opened version had it: a new version must leave it unchanged.
    pub locked: Vec<LockedScope>,
    pub encrypt: Vec<String>,
    /// RFC 3339 UTC time written as `modified`, and in `changed` for every
    /// value that changed.
    pub modified: String,
    /// Earlier versions of the document, for the `changed` dates of the
    /// values that did not change.
    pub prior: &'a dyn PriorDates,
    /// Pending values (version 4) the new version carries unchanged: a
    /// write that does not fold them must not drop them.
    pub pending: Vec<Pending>,
    /// Whether a signing key, when this process has one, signs the result.
    pub sign: bool,
}

impl<'a> SealPlan<'a> {
    /// A plan dated now that signs when a signing key is set.
    pub fn new(
        key: &'a DataKey,
        recipients: Vec<WrappedKey>,
        encrypt: &[String],
        prior: &'a dyn PriorDates,
        pending: Vec<Pending>,
    ) -> Self {
        SealPlan {
            keys: FileKeys::of(key.clone()),
            recipients,
            groups: Vec::new(),
            default_mac: String::new(),
            locked: Vec::new(),
            encrypt: encrypt.to_vec(),
            modified: now_rfc3339(),
            prior,
            pending,
            sign: true,
        }
    }
}

/// Where sealing finds the last-changed date of a value: an earlier
/// version of the document (or several, for a merge).
pub trait PriorDates {
    /// `None` when this version does not hold the same value at `path`
    /// (`texts`: the source text of each occurrence, in document order):
    /// the value changed. `Some(date)` when it does, with the date it
    /// recorded, if any.
    fn prior(&self, path: &KeyPath, texts: &[&str]) -> Option<Option<String>>;

    /// True when `prior` answers `None` for every path: there is no earlier
    /// version (a first encrypt), so every value is dated `modified`.
    fn knows_nothing(&self) -> bool {
        false
    }
}

/// No earlier version: every value is new.
pub struct NoPrior;

impl PriorDates for NoPrior {
    fn prior(&self, _: &KeyPath, _: &[&str]) -> Option<Option<String>> {
        None
    }

    fn knows_nothing(&self) -> bool {
        true
    }
}

/// Several versions (a merge's sides): the first that holds the value.
impl<T: PriorDates, const N: usize> PriorDates for [T; N] {
    fn prior(&self, path: &KeyPath, texts: &[&str]) -> Option<Option<String>> {
        self.iter().find_map(|v| v.prior(path, texts))
    }

    fn knows_nothing(&self) -> bool {
        self.iter().all(T::knows_nothing)
    }
}

/// An opened version's values and dates, indexed by key path.
pub struct OpenedDates<'a> {
    pub(super) opened: &'a Opened,
    pub(super) values: HashMap<&'a KeyPath, Vec<&'a DecryptedValue>>,
    pub(super) dates: ChangedDates<&'a str>,
}

impl PriorDates for OpenedDates<'_> {
    fn prior(&self, path: &KeyPath, texts: &[&str]) -> Option<Option<String>> {
        let before = self.values.get(path)?;
        let o = self.opened;
        let same = before.len() == texts.len()
            && before
                .iter()
                .zip(texts)
                .all(|(v, t)| &o.plaintext[v.plaintext(&o.sealed)] == *t);
        if !same {
            return None;
        }
        if self.dates.is_empty() {
            return Some(None);
        }
        Some(self.dates.date(&path.pointer()).map(str::to_owned))
    }

    fn knows_nothing(&self) -> bool {
        self.values.is_empty()
    }
}

/// Wrap `key` for every recipient, in order, without duplicates.
pub fn wrap_for(key: &DataKey, recipients: &[Recipient]) -> Result<Vec<WrappedKey>, DocError> {
    if recipients.is_empty() {
        return Err(DocError::NoRecipients);
    }
    let mut seen = std::collections::HashSet::new();
    recipients
        .iter()
        .filter(|r| seen.insert(r.as_str().to_owned()))
        .map(|r| r.wrap(key).map_err(DocError::from))
        .collect()
}

/// The current time as written in `modified`.
pub fn now_rfc3339() -> String {
    crate::clock::rfc3339(crate::clock::now_or_system())
}

/// A plaintext document parsed for sealing: it has no metadata block and
/// no value that is already a token.
pub struct Plain<'a> {
    pub(super) format: Format,
    pub(super) src: &'a str,
    pub(super) scan: Scan,
}

/// Parse a plaintext document for sealing, refusing one that is sealed
/// already (a metadata block, or any value that is a token).
pub fn parse_plain(format: Format, src: &str) -> Result<Plain<'_>, DocError> {
    parse_plain_keeping(format, src, |_| false)
}

/// [`parse_plain`] allowing a token at each key path `locked` names (the
/// values of a scope the writer cannot open).
fn parse_plain_keeping(
    format: Format,
    src: &str,
    locked: impl Fn(&KeyPath) -> bool,
) -> Result<Plain<'_>, DocError> {
    let scan = format.scan(src)?;
    if scan.metadata.is_some() {
        return Err(DocError::AlreadySealed { at: None });
    }
    if let Some(leaf) = scan.leaves.iter().find(|l| {
        l.kind == LeafKind::Scalar
            && format.token_in(&src[l.span.clone()]).is_some()
            && !locked(&l.path)
    }) {
        return Err(DocError::AlreadySealed {
            at: Some(leaf.path.to_string()),
        });
    }
    Ok(Plain { format, src, scan })
}

impl Plain<'_> {
    /// The document's values, in document order.
    pub fn leaves(&self) -> &[crate::format::Leaf] {
        &self.scan.leaves
    }

    /// The first value of SOPS metadata in the document, if it is a SOPS
    /// file: a top-level `sops:` block (YAML, JSON) or a `sops_` variable
    /// (dotenv). Its values are SOPS's ciphertext and MAC, so sealing the
    /// file would encrypt it a second time.
    pub fn sops_metadata(&self) -> Option<&KeyPath> {
        use crate::path::Segment;
        self.scan.leaves.iter().map(|l| &l.path).find(|path| {
            match (self.format, path.segments.as_slice()) {
                (Format::Dotenv, [Segment::Key(k)]) => k.starts_with("sops_"),
                (Format::Yaml | Format::Json, [Segment::Key(k), _, ..]) => k == "sops",
                _ => false,
            }
        })
    }

    /// Seal for `recipients` with a fresh data key.
    pub fn seal(&self, recipients: &[Recipient], encrypt: &[String]) -> Result<String, DocError> {
        self.seal_after(recipients, encrypt, &NoPrior)
    }

    /// [`Plain::seal`] keeping the `changed` dates of the values `prior`
    /// holds unchanged (a new data key for the next version of a file).
    pub fn seal_after(
        &self,
        recipients: &[Recipient],
        encrypt: &[String],
        prior: &dyn PriorDates,
    ) -> Result<String, DocError> {
        validate_patterns(encrypt)?;
        let key = DataKey::generate();
        let plan = SealPlan::new(&key, wrap_for(&key, recipients)?, encrypt, prior, Vec::new());
        seal_plain(self, &plan, |_, _| None, &Replacements::new())
    }
}

impl Plain<'_> {
    /// [`Plain::seal_after`] with key groups (format version 5): each
    /// group's values sealed under its own data key for its recipients
    /// only. Without groups, exactly [`Plain::seal_after`].
    pub fn seal_with_groups(
        &self,
        recipients: &[Recipient],
        encrypt: &[String],
        groups: &[GroupSpec],
        prior: &dyn PriorDates,
    ) -> Result<String, DocError> {
        if groups.is_empty() {
            return self.seal_after(recipients, encrypt, prior);
        }
        validate_patterns(encrypt)?;
        let key = DataKey::generate();
        let file_mac = key.mac_key();
        let (groups, group_keys) = new_groups(groups, &file_mac)?;
        let plan = SealPlan {
            recipients: wrap_for(&key, recipients)?,
            keys: FileKeys {
                file_mac,
                default: Some(key),
                groups: group_keys,
            },
            groups,
            default_mac: String::new(),
            locked: Vec::new(),
            encrypt: encrypt.to_vec(),
            modified: now_rfc3339(),
            prior,
            pending: Vec::new(),
            sign: true,
        };
        seal_plain(self, &plan, |_, _| None, &Replacements::new())
    }
}

pub(super) fn validate_patterns(encrypt: &[String]) -> Result<(), DocError> {
    encrypt
        .iter()
        .try_for_each(|p| select::validate(p).map_err(DocError::Pattern))
}

/// Seal a plaintext document for `recipients` with a fresh data key.
pub fn seal(
    format: Format,
    plaintext: &str,
    recipients: &[Recipient],
    encrypt: &[String],
) -> Result<String, DocError> {
    validate_patterns(encrypt)?;
    parse_plain(format, plaintext)?.seal(recipients, encrypt)
}

/// Seal `plaintext` under `plan`; `reuse(path, source)` may return an
/// existing token for an unchanged value.
pub(super) fn seal_with<'p>(
    format: Format,
    plaintext: &str,
    plan: &SealPlan<'_>,
    reuse: impl Fn(&KeyPath, &str) -> Option<&'p str>,
) -> Result<String, DocError> {
    seal_replacing(format, plaintext, plan, reuse, &Replacements::new())
}

/// Texts to encrypt in place of the plaintext values at some key paths.
/// The merge driver stores an unresolved conflict this way: the sealed file
/// stays valid (tokens, MAC), and the value decrypts to a block that shows
/// both candidates between conflict markers.
pub type Replacements = HashMap<KeyPath, Zeroizing<String>>;

/// Seal `plaintext` under `plan` for a document assembled from several
/// sealed versions (the merge driver): `reuse(path, source)` may return an
/// existing token (it must have been made with `plan.key`; the self-check
/// refuses anything else), and the value at each path of `replace` is
/// encrypted as the replacement text instead of its plaintext, whether or
/// not the encrypt patterns select it.
pub fn seal_replacing<'p>(
    format: Format,
    plaintext: &str,
    plan: &SealPlan<'_>,
    reuse: impl Fn(&KeyPath, &str) -> Option<&'p str>,
    replace: &Replacements,
) -> Result<String, DocError> {
    validate_patterns(&plan.encrypt)?;
    // The values of scopes this writer cannot open are tokens already.
    let locked = |path: &KeyPath| {
        !plan.groups.is_empty() && plan.keys.scope(scope_of(&plan.groups, path)).is_none()
    };
    seal_plain(&parse_plain_keeping(format, plaintext, locked)?, plan, reuse, replace)
}

/// Where sealing put a token in the body (the sealed file without its
/// metadata block), for the self-check.
pub(super) struct Placed {
    /// Index of the value in the plaintext's scan.
    pub(super) leaf: usize,
    /// The rendered token's range in the body: the value's whole new span.
    pub(super) span: Range<usize>,
    /// The token's own range in the body (inside `span`).
    pub(super) token: Range<usize>,
    /// A token taken from another file, which the self-check decrypts
    /// (a fresh token holds its value by construction).
    pub(super) reused: bool,
    /// The token of a scope the writer cannot open, copied as it was.
    pub(super) locked: bool,
    pub(super) scope: Scope,
}

/// The sealing pipeline: splice a token over each selected value, MAC the
/// body, attach the metadata block, then check the result.
pub(super) fn seal_plain<'p>(
    doc: &Plain<'_>,
    plan: &SealPlan<'_>,
    reuse: impl Fn(&KeyPath, &str) -> Option<&'p str>,
    replace: &Replacements,
) -> Result<String, DocError> {
    let (body, placed) = splice_tokens(doc, plan, reuse, replace)?;
    let changed = changed_dates(doc, plan, replace, &placed);
    let meta = metadata_for(doc, plan, changed, &body, &placed)?;
    let sealed = doc.format.attach_metadata(&body, &meta)?;
    check_sealed_output(doc, plan, replace, &meta, &body, &placed, &sealed)?;
    Ok(sealed)
}

/// `changed` for the sealed values: each key path once, in document order,
/// with the date `plan.prior` has for it when its value did not change, and
/// `plan.modified` when it did. A value unchanged since a version that
/// recorded no date (format version 1) gets no entry. When every value has
/// a date, the most common one is written once, as `*` (spec 6.1.1).
pub(super) fn changed_dates(
    doc: &Plain<'_>,
    plan: &SealPlan<'_>,
    replace: &Replacements,
    placed: &[Placed],
) -> Vec<Changed> {
    let rest_entry = VERSION >= crate::metadata::CHANGED_REST_SINCE;
    if rest_entry && plan.prior.knows_nothing() {
        // Every value is dated `modified` (a first encrypt): compacting
        // leaves the `*` entry alone, so no path needs grouping.
        return match placed.is_empty() {
            true => Vec::new(),
            false => vec![Changed {
                path: crate::metadata::CHANGED_REST.to_owned(),
                date: plan.modified.clone(),
            }],
        };
    }
    // Group the texts by key path in order of first occurrence. A path
    // nearly always occurs once (only dotenv may repeat a variable), so a
    // group keeps its first text inline and repeats go to `more`.
    let mut group_of: HashMap<&KeyPath, usize> = HashMap::with_capacity(placed.len());
    let mut groups: Vec<(&KeyPath, &str)> = Vec::with_capacity(placed.len());
    let mut more: HashMap<usize, Vec<&str>> = HashMap::new();
    for p in placed {
        let leaf = &doc.scan.leaves[p.leaf];
        let text = match replace.get(&leaf.path) {
            Some(r) => r.as_str(),
            None => &doc.src[leaf.span.clone()],
        };
        match group_of.entry(&leaf.path) {
            Entry::Occupied(g) => {
                let g = *g.get();
                more.entry(g).or_insert_with(|| vec![groups[g].1]).push(text);
            }
            Entry::Vacant(v) => {
                v.insert(groups.len());
                groups.push((&leaf.path, text));
            }
        }
    }
    let mut dated: Vec<(&KeyPath, Cow<'_, str>)> = Vec::with_capacity(groups.len());
    let mut every_date_known = true;
    for (g, (path, first)) in groups.iter().enumerate() {
        let now = Some(Cow::Borrowed(plan.modified.as_str()));
        let date = if replace.contains_key(*path) {
            now
        } else {
            let texts = more.get(&g).map_or(std::slice::from_ref(first), Vec::as_slice);
            match plan.prior.prior(path, texts) {
                None => now,
                Some(kept) => kept.map(Cow::Owned),
            }
        };
        match date {
            Some(date) => dated.push((path, date)),
            None => every_date_known = false,
        }
    }
    // A `*` entry would date the values with no known date too.
    if every_date_known && rest_entry {
        crate::metadata::compact_changed(dated, |path| path.pointer())
    } else {
        dated
            .into_iter()
            .map(|(path, date)| Changed {
                path: path.pointer(),
                date: date.into_owned(),
            })
            .collect()
    }
}

/// The metadata block for `body` sealed under `plan`, MAC included, and
/// signed when this process has a signing key: every write comes here.
pub(super) fn metadata_for(
    doc: &Plain<'_>,
    plan: &SealPlan<'_>,
    changed: Vec<Changed>,
    body: &str,
    placed: &[Placed],
) -> Result<Metadata, DocError> {
    let format = doc.format;
    let mut meta = Metadata {
        version: crate::metadata::version_for(&plan.groups),
        modified: plan.modified.clone(),
        encrypt: plan.encrypt.clone(),
        changed,
        recipients: plan.recipients.clone(),
        groups: plan.groups.clone(),
        default_mac: plan.default_mac.clone(),
        pending: plan.pending.clone(),
        mac: String::new(),
        signed: None,
    };
    if !meta.groups.is_empty() {
        let mut tokens = vec![Vec::new(); meta.groups.len() + 1];
        for p in placed {
            let path = &doc.scan.leaves[p.leaf].path;
            tokens[p.scope.index()].push((path, &body[p.token.clone()]));
        }
        seal_scopes(format, &mut meta, &tokens, &plan.keys, &plan.locked)?;
        check_groups(&meta)?;
    }
    meta.mac = compute_mac(&plan.keys.file_mac, format, &meta, &[body]).finish();
    if plan.sign {
        meta.signed = crate::signing::sign(|| signed_digest(format, &meta, &[body]))?;
    }
    Ok(meta)
}

/// The plaintext with a token spliced over each value that `plan` selects
/// or `replace` names, and where each token went.
pub(super) fn splice_tokens<'p>(
    doc: &Plain<'_>,
    plan: &SealPlan<'_>,
    reuse: impl Fn(&KeyPath, &str) -> Option<&'p str>,
    replace: &Replacements,
) -> Result<(String, Vec<Placed>), DocError> {
    let (format, plaintext) = (doc.format, doc.src);
    let ciphers = plan.keys.ciphers();
    let mut nonces = crate::crypto::Nonces::generate(doc.scan.leaves.len());
    let mut body = String::with_capacity(plaintext.len() * 2);
    let mut placed = Vec::new();
    let mut scratch = crate::crypto::Scratch::default();
    let mut fresh = String::new();
    let mut cursor = 0;
    for (index, leaf) in doc.scan.leaves.iter().enumerate() {
        if leaf.span.start < cursor {
            return Err(DocError::Internal("overlapping value spans"));
        }
        if leaf.kind != LeafKind::Scalar {
            continue;
        }
        let text = &plaintext[leaf.span.clone()];
        let scope = match plan.groups.is_empty() {
            true => Scope::Default,
            false => scope_of(&plan.groups, &leaf.path),
        };
        let Some(cipher) = ciphers.get(scope.index()).and_then(Option::as_ref) else {
            // A scope this writer cannot open: its token stays as it was.
            let (Some(token), false) = (format.token_in(text), replace.contains_key(&leaf.path))
            else {
                return Err(DocError::Locked {
                    scope: format!(
                        "the value at {} ({})",
                        leaf.path,
                        scope_name_of(&plan.groups, scope)
                    ),
                });
            };
            body.push_str(&plaintext[cursor..leaf.span.start]);
            let start = body.len();
            let token_start = start + (token.as_ptr() as usize - text.as_ptr() as usize);
            body.push_str(text);
            placed.push(Placed {
                leaf: index,
                span: start..body.len(),
                token: token_start..token_start + token.len(),
                reused: false,
                locked: true,
                scope,
            });
            cursor = leaf.span.end;
            continue;
        };
        let mut encrypt = |value: &[u8]| {
            fresh.clear();
            cipher.encrypt_into(&leaf.path, value, nonces.take(), &mut scratch, &mut fresh);
        };
        let reused = if let Some(replacement) = replace.get(&leaf.path) {
            encrypt(replacement.as_bytes());
            None
        } else if matches!(scope, Scope::Group(_)) || select::selected(&plan.encrypt, &leaf.path) {
            let reused = reuse(&leaf.path, text);
            if reused.is_none() {
                encrypt(text.as_bytes());
            }
            reused
        } else {
            continue;
        };
        let token = reused.unwrap_or(&fresh);
        body.push_str(&plaintext[cursor..leaf.span.start]);
        let start = body.len();
        format.push_token(&mut body, token);
        let token_start = match format.token_in(&body[start..]) {
            Some(t) if t == token => t.as_ptr() as usize - body.as_ptr() as usize,
            _ => return Err(DocError::Internal("a rendered token does not read back")),
        };
        placed.push(Placed {
            leaf: index,
            span: start..body.len(),
            token: token_start..token_start + token.len(),
            reused: reused.is_some(),
            locked: false,
            scope,
        });
        cursor = leaf.span.end;
    }
    body.push_str(&plaintext[cursor..]);
    Ok((body, placed))
}

/// Never hand back a file that does not open to exactly its input (with
/// `replace`'s texts at their paths). Rather than opening it again, this
/// checks what opening relies on: the output scans to the same values at
/// the same paths; its metadata block is `meta` and removing it leaves
/// exactly the `body` that was MACed; each sealed value's span is the one
/// spliced, holding the token written there, and no other value is a
/// token. A fresh token decrypts to its value by construction; a reused
/// one is decrypted here, since it came from another file.
pub(super) fn check_sealed_output(
    doc: &Plain<'_>,
    plan: &SealPlan<'_>,
    replace: &Replacements,
    meta: &Metadata,
    body: &str,
    placed: &[Placed],
    sealed: &str,
) -> Result<(), DocError> {
    let bad = DocError::Internal("the sealed output does not round-trip");
    // The formats' attach checks cover the layouts people write; this
    // catches the rest, which is the document's shape and not a bug.
    let layout = || {
        DocError::Edit(EditError::Unsupported(
            "seal's metadata block does not read back from this document's layout; \
             put the values in one top-level mapping (YAML: a block mapping starting at column 1)"
                .into(),
        ))
    };
    let format = doc.format;
    let scan = format.scan(sealed).map_err(|_| layout())?;
    let block = scan.metadata.as_ref().ok_or_else(layout)?;
    let region = block.region.clone();
    let (before, after) = (&sealed[..region.start], &sealed[region.end..]);
    if block.metadata != *meta
        || before.len() + after.len() != body.len()
        || !body.starts_with(before)
        || !body.ends_with(after)
    {
        return Err(layout());
    }
    if scan.leaves.len() != doc.scan.leaves.len() {
        return Err(bad);
    }
    // A span of the output in body coordinates (the metadata block cut out).
    let in_body = |span: &Range<usize>| -> Option<Range<usize>> {
        if span.end <= region.start {
            Some(span.clone())
        } else if span.start >= region.end {
            Some(span.start - region.len()..span.end - region.len())
        } else {
            None
        }
    };
    let ciphers = plan.keys.ciphers();
    let mut scratch = crate::crypto::Scratch::default();
    let mut placed = placed.iter().peekable();
    for (index, (was, now)) in doc.scan.leaves.iter().zip(&scan.leaves).enumerate() {
        if was.path != now.path || was.kind != now.kind {
            return Err(bad);
        }
        let span = in_body(&now.span).ok_or(DocError::Internal(
            "a value of the sealed output overlaps its metadata block",
        ))?;
        let token = match now.kind {
            LeafKind::Scalar => format.token_in(&body[span.clone()]),
            LeafKind::Empty | LeafKind::Alias => None,
        };
        let Some(p) = placed.next_if(|p| p.leaf == index) else {
            if token.is_some() {
                return Err(bad);
            }
            continue;
        };
        let Some(token) = token else {
            return Err(bad);
        };
        let token_start = token.as_ptr() as usize - body.as_ptr() as usize;
        if span != p.span || (token_start..token_start + token.len()) != p.token {
            return Err(bad);
        }
        if p.locked && body[span.clone()] != doc.src[was.span.clone()] {
            return Err(bad);
        }
        if p.reused {
            let cipher = ciphers
                .get(p.scope.index())
                .and_then(Option::as_ref)
                .ok_or(DocError::Internal("a reused token of a locked scope"))?;
            let expected = match replace.get(&was.path) {
                Some(r) => r.as_str(),
                None => &doc.src[was.span.clone()],
            };
            let opened = cipher
                .decrypt_with(&now.path, token, &mut scratch)
                .map_err(|_| DocError::Internal("a reused token does not open"))?;
            if opened != expected.as_bytes() {
                return Err(bad);
            }
        }
    }
    if placed.next().is_some() {
        return Err(bad);
    }
    Ok(())
}
