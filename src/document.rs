//! Sealing and opening whole documents: the one-way pipeline
//! bytes → spans → crypto → splice → bytes (spec/FORMAT.md, "Sealing" and
//! "Opening").
//!
//! Opening verifies the file MAC before any value is decrypted, so a
//! tampered file shows no plaintext at all.
//! Sealing checks its own output before returning, so a parser bug can
//! never produce a file that does not decrypt to exactly its input: the
//! output is scanned again and must show the same values at the same paths,
//! the tokens where they were spliced and the metadata that was MACed
//! (`check_sealed_output`). Decrypting every fresh token again would only
//! test the AEAD crate, at the cost of a second opening.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use zeroize::Zeroizing;

use crate::crypto::{DataKey, ValueError};
use crate::envelope::{unwrap_data_key, Identities, Recipient, RecipientError, UnwrapError};
use crate::format::{EditError, Format, LeafKind, ParseError, Scan};
use crate::metadata::{readable, Changed, ChangedDates, Metadata, WrappedKey, VERSION};
use crate::path::KeyPath;
use crate::select;

/// Why a document could not be sealed or opened. Never carries plaintext.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("the file is not sealed (it has no seal metadata)")]
    NotSealed,
    #[error("the file is already sealed{}", at.as_ref().map(|p| format!(" (a sealed value is at {p})")).unwrap_or_default())]
    AlreadySealed { at: Option<String> },
    #[error("the file was {}", crate::metadata::unsupported_version(*.0))]
    UnsupportedVersion(u64),
    /// The metadata's `changed` field does not fit the file's values.
    #[error("seal metadata: {0}")]
    Changed(String),
    #[error("{0}")]
    Sign(#[from] crate::signing::SignError),
    #[error("{0}")]
    Unwrap(#[from] UnwrapError),
    #[error("the file's MAC does not match: a value, a key path or the metadata was changed outside seal")]
    Tampered,
    #[error("the value at {path} cannot be decrypted: {source}")]
    Value { path: String, source: ValueError },
    #[error("{0}")]
    Edit(#[from] EditError),
    #[error("{0}")]
    Recipient(#[from] RecipientError),
    #[error("no recipients: a sealed file needs at least one")]
    NoRecipients,
    #[error("the file has no recipients in its metadata")]
    NoWrappedKeys,
    #[error("invalid encrypt pattern: {0}")]
    Pattern(select::PatternError),
    #[error("internal error: {0} (please report this; nothing was written)")]
    Internal(&'static str),
}

/// A sealed file as read without any key: what `seal info` shows.
#[derive(Debug)]
pub struct Inspection {
    pub metadata: Metadata,
    pub encrypted_values: usize,
    pub plain_values: usize,
    /// Each value held in plaintext, in document order, and why.
    pub plaintext: Vec<(KeyPath, PlainReason)>,
    /// Each sealed value's key path, once, in document order, with the
    /// date `changed` gives it (none for version 1 files, and for values
    /// unchanged since the file was last written by a version-1 seal).
    pub dates: Vec<(KeyPath, Option<String>)>,
}

/// Why a sealed file holds a value in plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainReason {
    /// No source text (`key:` in YAML, `KEY=` in dotenv): nothing to hide.
    Empty,
    /// A YAML alias: a reference to its anchor's value, sealed there.
    Alias,
    /// The file's `encrypt` patterns do not select it.
    NotSelected,
    /// Selected, yet not a token: the file was changed outside seal (its
    /// MAC will not match).
    NotEncrypted,
}

impl PlainReason {
    /// A short name, as `seal info --json` gives it.
    pub fn name(self) -> &'static str {
        match self {
            PlainReason::Empty => "empty",
            PlainReason::Alias => "alias",
            PlainReason::NotSelected => "not selected",
            PlainReason::NotEncrypted => "not encrypted",
        }
    }
}

/// Read the metadata and count values, with no key.
pub fn inspect(format: Format, src: &str) -> Result<Inspection, DocError> {
    let scan = format.scan(src)?;
    let block = scan.metadata.ok_or(DocError::NotSealed)?;
    // Another version's layout and counting rules are not these (spec 6.1).
    if !readable(block.metadata.version) {
        return Err(DocError::UnsupportedVersion(block.metadata.version));
    }
    let mut dates = Vec::new();
    walk_changed(format, src, &scan.leaves, &block.metadata, |path, date| {
        dates.push((path.clone(), date.map(str::to_owned)))
    })?;
    let mut plaintext = Vec::new();
    for leaf in scan.leaves.iter() {
        let reason = match leaf.kind {
            LeafKind::Empty => PlainReason::Empty,
            LeafKind::Alias => PlainReason::Alias,
            LeafKind::Scalar if format.token_in(&src[leaf.span.clone()]).is_some() => continue,
            LeafKind::Scalar if select::selected(&block.metadata.encrypt, &leaf.path) => {
                PlainReason::NotEncrypted
            }
            LeafKind::Scalar => PlainReason::NotSelected,
        };
        plaintext.push((leaf.path.clone(), reason));
    }
    Ok(Inspection {
        metadata: block.metadata,
        encrypted_values: scan.leaves.len() - plaintext.len(),
        plain_values: plaintext.len(),
        plaintext,
        dates,
    })
}

/// Check the metadata's `changed` field against the sealed values (spec
/// section 6.1.1) and call `each` for every sealed value's key path, once
/// and in document order, with its date if `changed` has one (its own
/// entry, else the `*` entry's). `changed` must name sealed values only,
/// each once, in that order, after at most one `*` entry (version 3),
/// with dates written as `modified` is.
fn walk_changed(
    format: Format,
    src: &str,
    leaves: &[crate::format::Leaf],
    meta: &Metadata,
    mut each: impl FnMut(&KeyPath, Option<&str>),
) -> Result<(), DocError> {
    if meta.version == 1 && !meta.changed.is_empty() {
        return Err(DocError::Changed(
            "`changed` is not a field of format version 1".into(),
        ));
    }
    let (rest, entries) = meta.changed_parts();
    if rest.is_some() && meta.version < crate::metadata::CHANGED_REST_SINCE {
        return Err(DocError::Changed(format!(
            "`changed` has a `*` entry, which format version {} does not have",
            meta.version
        )));
    }
    if entries.iter().any(|c| c.path == crate::metadata::CHANGED_REST) {
        return Err(DocError::Changed(
            "`changed` has a `*` entry that is not its first".into(),
        ));
    }
    if let Some(bad) = meta
        .changed
        .iter()
        .find(|c| !crate::metadata::valid_date(&c.date))
    {
        return Err(DocError::Changed(format!(
            "`changed` gives {} a date that is not RFC 3339 UTC with seconds (YYYY-MM-DDTHH:MM:SSZ)",
            bad.path
        )));
    }
    // Only dotenv repeats a key path (a name); its first occurrence places it.
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut next = 0;
    let mut pointer = String::new();
    for leaf in leaves {
        let sealed =
            leaf.kind == LeafKind::Scalar && format.token_in(&src[leaf.span.clone()]).is_some();
        if !sealed {
            continue;
        }
        if let (Format::Dotenv, [crate::path::Segment::Key(name)]) =
            (format, leaf.path.segments.as_slice())
        {
            if !seen.insert(name) {
                continue;
            }
        }
        if entries.is_empty() {
            each(&leaf.path, rest);
            continue;
        }
        pointer.clear();
        leaf.path.pointer_into(&mut pointer);
        match entries.get(next) {
            Some(c) if c.path == pointer => {
                each(&leaf.path, Some(&c.date));
                next += 1;
            }
            _ => each(&leaf.path, rest),
        }
    }
    let sealed_here = |pointer: &str| {
        leaves.iter().any(|l| {
            l.kind == LeafKind::Scalar
                && format.token_in(&src[l.span.clone()]).is_some()
                && l.path.pointer() == pointer
        })
    };
    match entries.get(next) {
        None => Ok(()),
        Some(c) if sealed_here(&c.path) => Err(DocError::Changed(format!(
            "`changed` lists {} twice or out of document order",
            c.path
        ))),
        Some(c) => Err(DocError::Changed(format!(
            "`changed` names {}, which holds no sealed value",
            c.path
        ))),
    }
}

/// A decrypted value: where its token stood in the sealed file and where
/// its plaintext starts in the opened one, so that resealing an unchanged
/// value can write the same token. (Its length follows from the token's,
/// and leaving it out makes this no larger than a scan's leaf, so the
/// leaves' memory is reused for these when a file is opened.)
struct DecryptedValue {
    path: KeyPath,
    token: Range<usize>,
    plaintext_start: usize,
}

impl DecryptedValue {
    /// Where the plaintext stands in the opened text; `sealed` is the text
    /// the value was opened from.
    fn plaintext(&self, sealed: &str) -> Range<usize> {
        let len = crate::token::plaintext_len(&sealed[self.token.clone()]);
        self.plaintext_start..self.plaintext_start + len
    }
}

/// A value the sealed file holds in plaintext (not selected for
/// encryption, or empty): where its source text stands in the opened text.
struct PlainValue {
    path: KeyPath,
    text: Range<usize>,
}

/// A decrypted document with everything needed to seal it again.
pub struct Opened {
    pub format: Format,
    /// The document exactly as it was before sealing.
    pub plaintext: Zeroizing<String>,
    pub data_key: DataKey,
    pub metadata: Metadata,
    values: Vec<DecryptedValue>,
    plain_values: Vec<PlainValue>,
    sealed: String,
}

/// A sealed document that parsed and carries metadata of a version this
/// code reads, not yet decrypted.
pub struct Sealed<'a> {
    format: Format,
    src: Cow<'a, str>,
    scan: Scan,
    metadata: Metadata,
}

/// Parse a sealed document and check its metadata, without any key.
pub fn parse_sealed(format: Format, src: &str) -> Result<Sealed<'_>, DocError> {
    let (scan, metadata) = check_sealed(format, src)?;
    Ok(Sealed {
        format,
        src: Cow::Borrowed(src),
        scan,
        metadata,
    })
}

/// [`parse_sealed`] taking ownership of the text, which the opened
/// document then keeps without a copy. Text that is not a sealed file may
/// be plaintext: it is zeroized when refused.
pub fn parse_sealed_owned(
    format: Format,
    mut src: Zeroizing<String>,
) -> Result<Sealed<'static>, DocError> {
    let (scan, metadata) = check_sealed(format, &src)?;
    Ok(Sealed {
        format,
        src: Cow::Owned(std::mem::take(&mut *src)),
        scan,
        metadata,
    })
}

/// The scan of a sealed document, and its metadata if this version reads it.
fn check_sealed(format: Format, src: &str) -> Result<(Scan, Metadata), DocError> {
    let mut scan = format.scan(src)?;
    let block = scan.metadata.take().ok_or(DocError::NotSealed)?;
    if !readable(block.metadata.version) {
        return Err(DocError::UnsupportedVersion(block.metadata.version));
    }
    if block.metadata.recipients.is_empty() {
        return Err(DocError::NoWrappedKeys);
    }

    let metadata = block.metadata.clone();
    scan.metadata = Some(block);
    Ok((scan, metadata))
}

impl Sealed<'_> {
    /// Whether the file is signed, by whom, and whether the signature
    /// covers its current content (spec section 12). Needs no key.
    pub fn verification(&self) -> crate::signing::Verification {
        crate::signing::verify(self.format, &self.metadata, &self.body())
    }

    /// The bytes the signature covers (the MAC input), for OpenSSH.
    pub fn signed_message(&self) -> Vec<u8> {
        signed_message(self.format, &self.metadata, &self.body())
    }

    /// The sealed text without its metadata block, in two parts.
    fn body(&self) -> [&str; 2] {
        let region = self
            .scan
            .metadata
            .as_ref()
            .map_or(self.src.len()..self.src.len(), |b| b.region.clone());
        [&self.src[..region.start], &self.src[region.end..]]
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The document's values (the metadata block is not among them).
    pub fn leaves(&self) -> &[crate::format::Leaf] {
        &self.scan.leaves
    }

    /// Unwrap the data key with `identities` and decrypt.
    pub fn open(self, identities: &Identities) -> Result<Opened, DocError> {
        let key = unwrap_data_key(&self.metadata.recipients, identities)?;
        self.open_with_key(key)
    }

    /// Decrypt with a data key obtained elsewhere.
    pub fn open_with_key(self, key: DataKey) -> Result<Opened, DocError> {
        open_scanned(self.format, self.src, self.scan, self.metadata, key)
    }
}

/// Open a sealed document with the identities given.
pub fn open(format: Format, src: &str, identities: &Identities) -> Result<Opened, DocError> {
    parse_sealed(format, src)?.open(identities)
}

/// Open a sealed document with its raw data key (for tools and tests that
/// unwrapped it themselves, e.g. with the `age` CLI).
pub fn open_with_key(format: Format, src: &str, key: DataKey) -> Result<Opened, DocError> {
    parse_sealed(format, src)?.open_with_key(key)
}

/// The file MAC (spec/FORMAT.md, "MAC"): the metadata fields and the whole
/// sealed body, i.e. the sealed file without its metadata block.
fn compute_mac(
    key: &DataKey,
    format: Format,
    meta: &Metadata,
    body: &[&str],
) -> crate::crypto::MacBuilder {
    let mut mac = key.mac();
    mac_input(&mut mac, format, meta, body);
    mac
}

/// Feed the MAC input of section 9 to `mac`: HMAC for the MAC, SHA-512 for
/// the signature, which signs these same bytes (section 12).
fn mac_input<D: hmac::digest::Update>(
    mac: &mut crate::crypto::MacBuilder<D>,
    format: Format,
    meta: &Metadata,
    body: &[&str],
) {
    mac.field(crate::crypto::mac_label(meta.version))
        .field(format.name().as_bytes())
        .count(meta.version as usize)
        .field(meta.modified.as_bytes());
    mac.count(meta.encrypt.len());
    for p in &meta.encrypt {
        mac.field(p.as_bytes());
    }
    mac.count(meta.recipients.len());
    for r in &meta.recipients {
        mac.field(r.recipient.as_bytes())
            .field(r.data_key.as_bytes());
    }
    if meta.version >= 2 {
        mac_optional_fields(mac, meta);
    }
    mac.text_field_parts(body);
}

/// The SHA-512 of the MAC input (section 12): what a signature signs. It
/// needs no key, so anyone can verify a signature.
pub fn signed_digest(format: Format, meta: &Metadata, body: &[&str]) -> [u8; 64] {
    let mut hash = crate::crypto::MacBuilder::for_signature();
    mac_input(&mut hash, format, meta, body);
    hash.digest()
}

/// The MAC input itself, for `seal verify --signed-data` (what
/// `ssh-keygen -Y verify` reads as the message).
pub fn signed_message(format: Format, meta: &Metadata, body: &[&str]) -> Vec<u8> {
    struct Collect(Vec<u8>);
    impl hmac::digest::Update for Collect {
        fn update(&mut self, data: &[u8]) {
            self.0.extend_from_slice(data);
        }
    }
    let mut out = crate::crypto::MacBuilder::collecting(Collect(Vec::new()));
    mac_input(&mut out, format, meta, body);
    out.into_inner().0
}

/// Version 2's optional fields, each present one as `lp(name) || content`
/// in block order (spec section 9).
fn mac_optional_fields<D: hmac::digest::Update>(
    mac: &mut crate::crypto::MacBuilder<D>,
    meta: &Metadata,
) {
    if !meta.changed.is_empty() {
        mac.field(b"changed").count(meta.changed.len());
        for c in &meta.changed {
            mac.field(c.path.as_bytes()).field(c.date.as_bytes());
        }
    }
}

/// The last steps of opening: check the MAC over the sealed text, then
/// decrypt every token in document order into the opened text.
fn open_scanned(
    format: Format,
    sealed: Cow<'_, str>,
    scan: Scan,
    metadata: Metadata,
    key: DataKey,
) -> Result<Opened, DocError> {
    let src: &str = &sealed;
    let region = metadata_region(&scan)?;
    let body = [&src[..region.start], &src[region.end..]];
    // Nothing is decrypted from a file whose MAC does not hold.
    if !compute_mac(&key, format, &metadata, &body).verify(&metadata.mac) {
        return Err(DocError::Tampered);
    }
    // A MAC that holds over a `changed` that does not fit the values was
    // made so (spec section 6.1.1): refused all the same.
    if !metadata.changed.is_empty() {
        walk_changed(format, src, &scan.leaves, &metadata, |_, _| {})?;
    }
    let (plaintext, values, plain_values) = decrypt_values(format, src, scan.leaves, region, &key)?;
    Ok(Opened {
        format,
        plaintext,
        data_key: key,
        metadata,
        values,
        plain_values,
        sealed: sealed.into_owned(),
    })
}

fn metadata_region(scan: &Scan) -> Result<Range<usize>, DocError> {
    scan.metadata
        .as_ref()
        .map(|b| b.region.clone())
        .ok_or(DocError::NotSealed)
}

/// The opened text of `src` (its metadata block at `region` removed): the
/// text between values copied as it is, each token replaced by its
/// plaintext; and where each decrypted value and each plaintext value
/// stands in it.
#[allow(clippy::type_complexity)]
fn decrypt_values(
    format: Format,
    src: &str,
    leaves: Vec<crate::format::Leaf>,
    region: Range<usize>,
    key: &DataKey,
) -> Result<(Zeroizing<String>, Vec<DecryptedValue>, Vec<PlainValue>), DocError> {
    let cipher = key.value_cipher();
    let mut scratch = crate::crypto::Scratch::default();
    // A plaintext is shorter than its token, so the opened text fits in
    // the sealed text's length and is never reallocated (which would leave
    // a copy of it behind, unwiped).
    let mut out = Zeroizing::new(String::with_capacity(src.len()));
    let mut values = Vec::new();
    let mut plain_values = Vec::new();
    let mut cursor = 0;
    for leaf in leaves {
        if leaf.span.start < cursor {
            return Err(DocError::Internal("overlapping value spans"));
        }
        let text = &src[leaf.span.clone()];
        let token = match leaf.kind {
            LeafKind::Scalar => format.token_in(text),
            LeafKind::Empty | LeafKind::Alias => None,
        };
        let Some(token) = token else {
            let start = out.len() + (leaf.span.start - cursor);
            plain_values.push(PlainValue {
                path: leaf.path,
                text: start..start + leaf.span.len(),
            });
            continue;
        };
        let token_start = leaf.span.start + (token.as_ptr() as usize - text.as_ptr() as usize);
        // A value's whole source text was sealed (a JSON string with its
        // quotes), so it replaces the whole span.
        out.push_str(&src[cursor..leaf.span.start]);
        let failed = |source| DocError::Value {
            path: leaf.path.to_string(),
            source,
        };
        let plaintext = cipher
            .decrypt_with(&leaf.path, token, &mut scratch)
            .map_err(failed)?;
        let plaintext =
            std::str::from_utf8(plaintext).map_err(|_| failed(ValueError::Authentication))?;
        if plaintext.len() != crate::token::plaintext_len(token) {
            return Err(DocError::Internal(
                "a value's length does not match its token",
            ));
        }
        values.push(DecryptedValue {
            path: leaf.path,
            token: token_start..token_start + token.len(),
            plaintext_start: out.len(),
        });
        out.push_str(plaintext);
        cursor = leaf.span.end;
    }
    if region.start < cursor {
        return Err(DocError::Internal("metadata block before a value"));
    }
    out.push_str(&src[cursor..region.start]);
    out.push_str(&src[region.end..]);
    Ok((out, values, plain_values))
}

/// What sealing needs besides the plaintext.
pub struct SealPlan<'a> {
    pub key: &'a DataKey,
    pub recipients: Vec<WrappedKey>,
    pub encrypt: Vec<String>,
    /// RFC 3339 UTC time written as `modified`, and in `changed` for every
    /// value that changed.
    pub modified: String,
    /// Earlier versions of the document, for the `changed` dates of the
    /// values that did not change.
    pub prior: &'a dyn PriorDates,
}

/// Where sealing finds the last-changed date of a value: an earlier
/// version of the document (or several, for a merge).
pub trait PriorDates {
    /// `None` when this version does not hold the same value at `path`
    /// (`texts`: the source text of each occurrence, in document order):
    /// the value changed. `Some(date)` when it does, with the date it
    /// recorded, if any.
    fn prior(&self, path: &KeyPath, texts: &[&str]) -> Option<Option<String>>;
}

/// No earlier version: every value is new.
pub struct NoPrior;

impl PriorDates for NoPrior {
    fn prior(&self, _: &KeyPath, _: &[&str]) -> Option<Option<String>> {
        None
    }
}

/// Several versions (a merge's sides): the first that holds the value.
impl<T: PriorDates, const N: usize> PriorDates for [T; N] {
    fn prior(&self, path: &KeyPath, texts: &[&str]) -> Option<Option<String>> {
        self.iter().find_map(|v| v.prior(path, texts))
    }
}

/// An opened version's values and dates, indexed by key path.
pub struct OpenedDates<'a> {
    opened: &'a Opened,
    values: HashMap<&'a KeyPath, Vec<&'a DecryptedValue>>,
    dates: ChangedDates<&'a str>,
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
    format: Format,
    src: &'a str,
    scan: Scan,
}

/// Parse a plaintext document for sealing, refusing one that is sealed
/// already (a metadata block, or any value that is a token).
pub fn parse_plain(format: Format, src: &str) -> Result<Plain<'_>, DocError> {
    let scan = format.scan(src)?;
    if scan.metadata.is_some() {
        return Err(DocError::AlreadySealed { at: None });
    }
    if let Some(leaf) = scan
        .leaves
        .iter()
        .find(|l| l.kind == LeafKind::Scalar && format.token_in(&src[l.span.clone()]).is_some())
    {
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
        let plan = SealPlan {
            key: &key,
            recipients: wrap_for(&key, recipients)?,
            encrypt: encrypt.to_vec(),
            modified: now_rfc3339(),
            prior,
        };
        seal_plain(self, &plan, |_, _| None, &Replacements::new())
    }
}

fn validate_patterns(encrypt: &[String]) -> Result<(), DocError> {
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
fn seal_with<'p>(
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
    seal_plain(&parse_plain(format, plaintext)?, plan, reuse, replace)
}

/// Where sealing put a token in the body (the sealed file without its
/// metadata block), for the self-check.
struct Placed {
    /// Index of the value in the plaintext's scan.
    leaf: usize,
    /// The rendered token's range in the body: the value's whole new span.
    span: Range<usize>,
    /// The token's own range in the body (inside `span`).
    token: Range<usize>,
    /// A token taken from another file, which the self-check decrypts
    /// (a fresh token holds its value by construction).
    reused: bool,
}

/// The sealing pipeline: splice a token over each selected value, MAC the
/// body, attach the metadata block, then check the result.
fn seal_plain<'p>(
    doc: &Plain<'_>,
    plan: &SealPlan<'_>,
    reuse: impl Fn(&KeyPath, &str) -> Option<&'p str>,
    replace: &Replacements,
) -> Result<String, DocError> {
    let (body, placed) = splice_tokens(doc, plan, reuse, replace)?;
    let changed = changed_dates(doc, plan, replace, &placed);
    let meta = metadata_for(doc.format, plan, changed, &body)?;
    let sealed = doc.format.attach_metadata(&body, &meta)?;
    check_sealed_output(doc, plan.key, replace, &meta, &body, &placed, &sealed)?;
    Ok(sealed)
}

/// `changed` for the sealed values: each key path once, in document order,
/// with the date `plan.prior` has for it when its value did not change, and
/// `plan.modified` when it did. A value unchanged since a version that
/// recorded no date (format version 1) gets no entry. When every value has
/// a date, the most common one is written once, as `*` (spec 6.1.1).
fn changed_dates(
    doc: &Plain<'_>,
    plan: &SealPlan<'_>,
    replace: &Replacements,
    placed: &[Placed],
) -> Vec<Changed> {
    let mut order: Vec<&KeyPath> = Vec::new();
    let mut texts: HashMap<&KeyPath, Vec<&str>> = HashMap::with_capacity(placed.len());
    for p in placed {
        let leaf = &doc.scan.leaves[p.leaf];
        let text = match replace.get(&leaf.path) {
            Some(r) => r.as_str(),
            None => &doc.src[leaf.span.clone()],
        };
        let entry = texts.entry(&leaf.path).or_default();
        if entry.is_empty() {
            order.push(&leaf.path);
        }
        entry.push(text);
    }
    let mut dated = Vec::with_capacity(order.len());
    let mut every_date_known = true;
    for path in order {
        let date = if replace.contains_key(path) {
            Some(plan.modified.clone())
        } else {
            match plan.prior.prior(path, &texts[path]) {
                None => Some(plan.modified.clone()),
                Some(kept) => kept,
            }
        };
        match date {
            Some(date) => dated.push(Changed {
                path: path.pointer(),
                date,
            }),
            None => every_date_known = false,
        }
    }
    // A `*` entry would date the values with no known date too.
    if every_date_known && VERSION >= crate::metadata::CHANGED_REST_SINCE {
        crate::metadata::compact_changed(dated)
    } else {
        dated
    }
}

/// The metadata block for `body` sealed under `plan`, MAC included, and
/// signed when this process has a signing key: every write comes here.
fn metadata_for(
    format: Format,
    plan: &SealPlan<'_>,
    changed: Vec<Changed>,
    body: &str,
) -> Result<Metadata, DocError> {
    let mut meta = Metadata {
        version: VERSION,
        modified: plan.modified.clone(),
        encrypt: plan.encrypt.clone(),
        changed,
        recipients: plan.recipients.clone(),
        mac: String::new(),
        signed: None,
    };
    meta.mac = compute_mac(plan.key, format, &meta, &[body]).finish();
    meta.signed = crate::signing::sign(|| signed_digest(format, &meta, &[body]))?;
    Ok(meta)
}

/// The plaintext with a token spliced over each value that `plan` selects
/// or `replace` names, and where each token went.
fn splice_tokens<'p>(
    doc: &Plain<'_>,
    plan: &SealPlan<'_>,
    reuse: impl Fn(&KeyPath, &str) -> Option<&'p str>,
    replace: &Replacements,
) -> Result<(String, Vec<Placed>), DocError> {
    let (format, plaintext) = (doc.format, doc.src);
    let cipher = plan.key.value_cipher();
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
        let mut encrypt = |value: &[u8]| {
            fresh.clear();
            cipher.encrypt_into(&leaf.path, value, nonces.take(), &mut scratch, &mut fresh);
        };
        let reused = if let Some(replacement) = replace.get(&leaf.path) {
            encrypt(replacement.as_bytes());
            None
        } else if select::selected(&plan.encrypt, &leaf.path) {
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
fn check_sealed_output(
    doc: &Plain<'_>,
    key: &DataKey,
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
    let cipher = key.value_cipher();
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
        if p.reused {
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
                    return Ok(self
                        .format
                        .located_values(&self.plaintext)?
                        .into_iter()
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
    fn previous_tokens(&self) -> HashMap<&KeyPath, Vec<&DecryptedValue>> {
        let mut map: HashMap<&KeyPath, Vec<&DecryptedValue>> =
            HashMap::with_capacity(self.values.len());
        for v in &self.values {
            map.entry(&v.path).or_default().push(v);
        }
        map
    }

    fn reuse_token<'a>(
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
        self.reseal_for(
            plaintext,
            self.metadata.recipients.clone(),
            &self.data_key,
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
                wraps.push(r.wrap(&self.data_key)?);
                added.push(r.as_str().to_owned());
            }
        }
        let text = match self.reseal_for(plaintext, wraps, &self.data_key, encrypt)? {
            Resealed::Unchanged => self.sealed.clone(),
            Resealed::Changed(text) => text,
        };
        Ok(NextVersion::Sealed { text, added })
    }

    /// Like [`Opened::reseal`], with another recipient set (same data key:
    /// tokens are kept) or a new data key (every value re-encrypted).
    pub fn reseal_for(
        &self,
        plaintext: &str,
        recipients: Vec<WrappedKey>,
        key: &DataKey,
        encrypt: &[String],
    ) -> Result<Resealed, DocError> {
        let same_key = key.expose() == self.data_key.expose();
        let unchanged_meta = same_key
            && recipients == self.metadata.recipients
            && encrypt == self.metadata.encrypt.as_slice();
        if unchanged_meta && plaintext == self.plaintext.as_str() {
            return Ok(Resealed::Unchanged);
        }
        let prior = self.prior_dates();
        let plan = SealPlan {
            key,
            recipients,
            encrypt: encrypt.to_vec(),
            modified: now_rfc3339(),
            prior: &prior,
        };
        let sealed = if same_key {
            let previous = self.previous_tokens();
            seal_with(self.format, plaintext, &plan, |path, text| {
                self.reuse_token(&previous, path, text)
            })?
        } else {
            seal_with(self.format, plaintext, &plan, |_, _| None)?
        };
        Ok(Resealed::Changed(sealed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dotenv document of a few thousand values.
    fn large_dotenv() -> String {
        (0..2055)
            .map(|i| format!("NAME_{i}=value-{i}-{}\n", "x".repeat(i % 50)))
            .collect()
    }

    /// Sealing with `key` for a freshly generated identity.
    fn plan_for_new_identity(key: &DataKey, encrypt: Vec<String>) -> SealPlan<'_> {
        let (_, public) = crate::envelope::generate_identity();
        SealPlan {
            key,
            recipients: wrap_for(key, &[Recipient::parse(&public).unwrap()]).unwrap(),
            encrypt,
            modified: now_rfc3339(),
            prior: &NoPrior,
        }
    }

    fn sealed_with_key(plain: &str) -> (String, DataKey) {
        let key = DataKey::generate();
        let plan = plan_for_new_identity(&key, vec![]);
        (
            seal_with(Format::Dotenv, plain, &plan, |_, _| None).unwrap(),
            key,
        )
    }

    /// The file's MAC recomputed for its current text, as someone holding
    /// the data key could.
    fn remac(sealed: &str, key: &DataKey) -> String {
        let scan = Format::Dotenv.scan(sealed).unwrap();
        let block = scan.metadata.unwrap();
        let body = [&sealed[..block.region.start], &sealed[block.region.end..]];
        let fresh = compute_mac(key, Format::Dotenv, &block.metadata, &body).finish();
        sealed.replace(&block.metadata.mac, &fresh)
    }

    /// A sealed output and what the self-check compares it with.
    struct Spliced {
        doc_src: &'static str,
        body: String,
        placed: Vec<Placed>,
        meta: Metadata,
        sealed: String,
    }

    fn spliced(format: Format, src: &'static str, key: &DataKey) -> Spliced {
        let plan = plan_for_new_identity(key, vec![]);
        let doc = parse_plain(format, src).unwrap();
        let (body, placed) = splice_tokens(&doc, &plan, |_, _| None, &Replacements::new()).unwrap();
        let meta = metadata_for(
            format,
            &plan,
            changed_dates(&doc, &plan, &Replacements::new(), &placed),
            &body,
        )
        .unwrap();
        let sealed = format.attach_metadata(&body, &meta).unwrap();
        Spliced {
            doc_src: src,
            body,
            placed,
            meta,
            sealed,
        }
    }

    fn self_check(
        format: Format,
        s: &Spliced,
        key: &DataKey,
        sealed: &str,
    ) -> Result<(), DocError> {
        let doc = parse_plain(format, s.doc_src).unwrap();
        let none = Replacements::new();
        check_sealed_output(&doc, key, &none, &s.meta, &s.body, &s.placed, sealed)
    }

    /// The self-check passes what sealing writes, and each way an output
    /// could fail to open to its input is refused.
    #[test]
    fn the_self_check_refuses_output_that_would_not_open_to_its_input() {
        let key = DataKey::generate();
        for (format, src) in [
            (Format::Dotenv, "A=one\nB=two\n"),
            (Format::Yaml, "a: one\nb: [two, 3]\n"),
            (Format::Json, "{\"a\": \"one\", \"b\": [\"two\", 3]}\n"),
        ] {
            let s = spliced(format, src, &key);
            assert!(
                self_check(format, &s, &key, &s.sealed).is_ok(),
                "{format:?}"
            );
            assert_eq!(
                open_with_key(format, &s.sealed, key.clone())
                    .unwrap()
                    .plaintext
                    .as_str(),
                src
            );

            // The body changed after it was MACed (here: its first byte).
            let mut edited = s.sealed.clone().into_bytes();
            edited[0] = if edited[0] == b'{' { b'[' } else { b'Z' };
            let edited = String::from_utf8(edited).unwrap();
            assert!(self_check(format, &s, &key, &edited).is_err(), "{format:?}");

            // The metadata block says something other than what was MACed.
            let mut other = s.meta.clone();
            other.modified = "2000-01-01T00:00:00Z".into();
            let doc = parse_plain(format, src).unwrap();
            let none = Replacements::new();
            assert!(
                check_sealed_output(&doc, &key, &none, &other, &s.body, &s.placed, &s.sealed)
                    .is_err()
            );

            // The output reads as a different path than the one sealed
            // (a parser that disagrees with itself).
            let mut doc = parse_plain(format, src).unwrap();
            doc.scan.leaves[0].path = KeyPath::key("elsewhere");
            assert!(
                check_sealed_output(&doc, &key, &none, &s.meta, &s.body, &s.placed, &s.sealed)
                    .is_err()
            );

            // A token where none was spliced, or none where one was.
            let doc = parse_plain(format, src).unwrap();
            assert!(check_sealed_output(
                &doc,
                &key,
                &none,
                &s.meta,
                &s.body,
                &s.placed[1..],
                &s.sealed
            )
            .is_err());
        }
    }

    /// A reused token must be one the data key opens to the same value.
    #[test]
    fn a_reused_token_from_another_key_or_value_is_refused() {
        let key = DataKey::generate();
        let other_key = DataKey::generate();
        let path = KeyPath::key("A");
        let plan = plan_for_new_identity(&key, vec![]);
        let foreign = other_key.value_cipher().encrypt(&path, b"one");
        let err = seal_replacing(
            Format::Dotenv,
            "A=one\n",
            &plan,
            |_, _| Some(&foreign),
            &Replacements::new(),
        );
        assert!(matches!(err, Err(DocError::Internal(_))));
        let other_value = key.value_cipher().encrypt(&path, b"two");
        let err = seal_replacing(
            Format::Dotenv,
            "A=one\n",
            &plan,
            |_, _| Some(&other_value),
            &Replacements::new(),
        );
        assert!(matches!(err, Err(DocError::Internal(_))));
        let same = key.value_cipher().encrypt(&path, b"one");
        let sealed = seal_replacing(
            Format::Dotenv,
            "A=one\n",
            &plan,
            |_, _| Some(&same),
            &Replacements::new(),
        )
        .unwrap();
        assert!(sealed.contains(&same));
    }

    /// What `Opened::values` reads in place must be what parsing the
    /// plaintext gives, with every value sealed or only some.
    #[test]
    fn values_read_in_place_match_a_parse_of_the_plaintext() {
        let docs = [
            (
                Format::Dotenv,
                "# c\nA=plain\nexport B='single $x'\nC=\"dq \\n \\\" \\$ x\"\nD=\nE=esc\\ aped # note\r\nF=été\n",
            ),
            (
                Format::Json,
                "{\"a\": \"s\\u00e9\\n\\\"q\\\"\", \"b\": [1, -2.5e3, true, null], \"c\": {\"d\": \"\", \"e\": {}}}\n",
            ),
            (
                Format::Yaml,
                "a: plain\nb: |\n  block\n  text\nc: [1, 'q']\nd:\ne: &x v\nf: *x\n",
            ),
        ];
        for (format, plain) in docs {
            let expected = format.values(plain).unwrap();
            for encrypt in [vec![], vec!["C".to_owned(), "a".into(), "b.*".into()]] {
                let key = DataKey::generate();
                let plan = plan_for_new_identity(&key, encrypt);
                let sealed = seal_with(format, plain, &plan, |_, _| None).unwrap();
                let opened = open_with_key(format, &sealed, key.clone()).unwrap();
                let got: Vec<(KeyPath, String)> = opened
                    .values()
                    .unwrap()
                    .into_iter()
                    .map(|(p, v)| (p.into_owned(), v.to_string()))
                    .collect();
                let want: Vec<(KeyPath, String)> = expected
                    .iter()
                    .map(|(p, v)| (p.clone(), v.to_string()))
                    .collect();
                assert_eq!(got, want, "{format:?} {:?}", plan.encrypt);
            }
        }
    }

    /// A decrypted value that is not exactly one value where it stands (an
    /// unresolved merge conflict is stored as such a value) is an error, as
    /// it is when the whole plaintext is parsed, never a value to use.
    #[test]
    fn values_that_are_not_one_value_are_refused() {
        let key_a = || KeyPath::key("A");
        let json_a = || KeyPath::new(0, vec![crate::path::Segment::Key("a".into())]);
        let cases = [
            (
                Format::Dotenv,
                "A=old\nB=x\n",
                key_a(),
                "pw-ours",
                "pw-theirs",
            ),
            (
                Format::Json,
                "{\"a\": \"old\", \"b\": 1}\n",
                json_a(),
                "\"pw-ours\"",
                "\"pw-theirs\"",
            ),
        ];
        for (format, plain, path, ours, theirs) in cases {
            let key = DataKey::generate();
            let plan = plan_for_new_identity(&key, vec![]);
            let mut replace = Replacements::new();
            replace.insert(
                path,
                crate::merge::conflict_block(Some(ours), Some(theirs), "\n"),
            );
            let sealed = seal_replacing(format, plain, &plan, |_, _| None, &replace).unwrap();
            let opened = open_with_key(format, &sealed, key).unwrap();
            assert!(format.values(&opened.plaintext).is_err(), "{format:?}");
            assert!(opened.values().is_err(), "{format:?}");
        }
        // A JSON string whose closing quote is missing is not read on into
        // the text after it.
        let src = "{\"a\": \"x, \"b\": \"y\"}";
        assert!(matches!(Format::Json.value_at(src, 6..9), Some(Err(_))));
        assert!(matches!(
            Format::Dotenv.value_at("A='x\nB=y'\n", 2..4),
            Some(Err(_))
        ));
    }

    /// The next version of a document keeps its data key, tokens and
    /// wrapped keys for the same or more recipients, and refuses to when
    /// one of its recipients is dropped.
    #[test]
    fn the_next_version_keeps_the_key_unless_a_recipient_is_dropped() {
        let people: Vec<(Identities, Recipient)> = (0..2)
            .map(|i| {
                let (secret, public) = crate::envelope::generate_identity();
                (
                    Identities::from_text(&secret, &format!("p{i}")).unwrap(),
                    Recipient::parse(&public).unwrap(),
                )
            })
            .collect();
        let (alice, bob) = (&people[0], &people[1]);
        let plain = "A=one\nB=two\n";
        let sealed = seal(Format::Dotenv, plain, std::slice::from_ref(&alice.1), &[]).unwrap();
        let opened = open(Format::Dotenv, &sealed, &alice.0).unwrap();
        let line = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .unwrap()
                .to_owned()
        };

        let next = |plaintext: &str, recipients: &[Recipient]| match opened
            .seal_next_version(plaintext, recipients, &[])
            .unwrap()
        {
            NextVersion::Sealed { text, added } => (text, added),
            NextVersion::RecipientsRemoved(r) => panic!("removed {r:?}"),
        };
        let (same, added) = next(plain, std::slice::from_ref(&alice.1));
        assert_eq!(same, sealed);
        assert!(added.is_empty());

        let (changed, _) = next("A=one\nB=three\n", std::slice::from_ref(&alice.1));
        assert_eq!(line(&changed, "A="), line(&sealed, "A="));
        assert_ne!(line(&changed, "B="), line(&sealed, "B="));

        let both = [
            Recipient::parse(alice.1.as_str()).unwrap(),
            Recipient::parse(bob.1.as_str()).unwrap(),
        ];
        let (shared, added) = next(plain, &both);
        assert_eq!(added, [bob.1.as_str()]);
        assert_eq!(line(&shared, "A="), line(&sealed, "A="));
        let for_bob = open(Format::Dotenv, &shared, &bob.0).unwrap();
        assert_eq!(for_bob.plaintext.as_str(), plain);
        let meta = parse_sealed(Format::Dotenv, &shared).unwrap().metadata;
        assert_eq!(meta.recipients[0], opened.metadata.recipients[0]);

        match opened
            .seal_next_version(plain, std::slice::from_ref(&bob.1), &[])
            .unwrap()
        {
            NextVersion::RecipientsRemoved(removed) => assert_eq!(removed, [alice.1.as_str()]),
            NextVersion::Sealed { .. } => panic!("sealed with a key a removed recipient holds"),
        }
        assert!(matches!(
            opened.seal_next_version(plain, &[], &[]),
            Err(DocError::NoRecipients)
        ));
    }

    #[test]
    fn large_files_open() {
        let plain = large_dotenv();
        let (sealed, key) = sealed_with_key(&plain);
        let opened = open_with_key(Format::Dotenv, &sealed, key).unwrap();
        assert_eq!(opened.plaintext.as_str(), plain);
    }

    /// Values left in plaintext between sealed ones land where they stood.
    #[test]
    fn large_files_with_plaintext_values_open() {
        let plain = large_dotenv();
        let key = DataKey::generate();
        // NAME_1, NAME_10.., NAME_100.. and NAME_1000..: 1,111 values.
        let plan = plan_for_new_identity(&key, vec!["NAME_1*".into()]);
        let sealed = seal_with(Format::Dotenv, &plain, &plan, |_, _| None).unwrap();
        let sealed_values = sealed.matches(crate::token::PREFIX_V1).count();
        assert!(sealed_values >= 1024, "{sealed_values}");
        let opened = open_with_key(Format::Dotenv, &sealed, key).unwrap();
        assert_eq!(opened.plaintext.as_str(), plain);
        let got: Vec<(String, String)> = opened
            .values()
            .unwrap()
            .into_iter()
            .map(|(p, v)| (p.to_string(), v.to_string()))
            .collect();
        let want: Vec<(String, String)> = Format::Dotenv
            .values(&plain)
            .unwrap()
            .into_iter()
            .map(|(p, v)| (p.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_bad_mac_outranks_value_errors_in_large_files() {
        let plain = large_dotenv();
        let (sealed, key) = sealed_with_key(&plain);
        // Swap two tokens: both values then fail, and so does the MAC.
        let tokens: Vec<&str> = sealed
            .lines()
            .filter_map(|l| l.split_once('=').map(|(_, v)| v))
            .filter(|v| v.starts_with(crate::token::PREFIX_V1))
            .collect();
        let (first, last) = (tokens[0], tokens[tokens.len() - 1]);
        let swapped = sealed
            .replacen(first, "@FIRST@", 1)
            .replacen(last, first, 1)
            .replacen("@FIRST@", last, 1);
        assert!(matches!(
            open_with_key(Format::Dotenv, &swapped, key.clone()),
            Err(DocError::Tampered)
        ));
        // With the MAC made to match, the value errors are reported, naming
        // a key path and no plaintext.
        match open_with_key(Format::Dotenv, &remac(&swapped, &key), key) {
            Err(DocError::Value { path, .. }) => assert!(path.starts_with("NAME_")),
            Err(other) => panic!("expected a value error, got {other}"),
            Ok(_) => panic!("a swapped token opened"),
        }
    }
}
