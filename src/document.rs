//! Sealing and opening whole documents: the one-way pipeline
//! bytes → spans → crypto → splice → bytes (spec/FORMAT.md, "Sealing" and
//! "Opening").
//!
//! Opening verifies the file MAC before any plaintext is handed out, so a
//! tampered file shows no plaintext at all (large files are decrypted in
//! memory while the MAC is checked, and discarded if it does not match).
//! Sealing checks its own output by opening it again before returning, so a
//! parser bug can never produce a file that does not decrypt to exactly its
//! input.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use zeroize::Zeroizing;

use crate::crypto::{DataKey, ValueError};
use crate::envelope::{unwrap_data_key, Identities, Recipient, RecipientError, UnwrapError};
use crate::format::{EditError, Format, LeafKind, ParseError, Scan};
use crate::metadata::{Metadata, WrappedKey, VERSION};
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
    #[error("the file was sealed with format version {0}; this seal reads version {VERSION}")]
    UnsupportedVersion(u64),
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
    Pattern(String),
    #[error("internal error: {0} (please report this; nothing was written)")]
    Internal(&'static str),
}

/// A sealed file as read without any key: what `seal info` shows.
#[derive(Debug)]
pub struct Inspection {
    pub metadata: Metadata,
    pub encrypted_values: usize,
    pub plain_values: usize,
}

/// Read the metadata and count values, with no key.
pub fn inspect(format: Format, src: &str) -> Result<Inspection, DocError> {
    let scan = format.scan(src)?;
    let block = scan.metadata.ok_or(DocError::NotSealed)?;
    // Another version's layout and counting rules are not these (spec 6.1).
    if block.metadata.version != VERSION {
        return Err(DocError::UnsupportedVersion(block.metadata.version));
    }
    let encrypted = scan
        .leaves
        .iter()
        .filter(|l| l.kind == LeafKind::Scalar && format.token_in(&src[l.span.clone()]).is_some())
        .count();
    Ok(Inspection {
        metadata: block.metadata,
        encrypted_values: encrypted,
        plain_values: scan.leaves.len() - encrypted,
    })
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
    if block.metadata.version != VERSION {
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
    mac.field(format.name().as_bytes())
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
    mac.text_field_parts(body);
    mac
}

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
    let verify_mac = || compute_mac(&key, format, &metadata, &body).verify(&metadata.mac);
    let (plaintext, values, plain_values) =
        decrypt_document(format, src, scan.leaves, region, &key, verify_mac)?;
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

/// Files at least this large (bytes) are opened with helper threads that
/// start before the text is read (see [`open_read`]). Below it (a
/// 1,000-value dotenv file is about 115 KiB) starting one early cost more
/// than it saved: 0.1 to 0.25 ms.
pub const EARLY_HELPER_MIN_BYTES: u64 = 256 * 1024;

/// Bytes of sealed text per helper started early: a helper that would get
/// only a few chunks costs more to start than it saves.
const BYTES_PER_EARLY_HELPER: u64 = 128 * 1024;

/// Open a sealed document the way a command does: `read` gets its text,
/// `identities` the keys to open it with (asked for only once the text is
/// known to be a sealed file), and `doc_error` turns this module's errors
/// into the caller's.
///
/// For a file of at least [`EARLY_HELPER_MIN_BYTES`] (`size_hint`, its
/// length if known) helper threads start before anything is read: a new
/// thread can take a millisecond or more to get a CPU of its own (see
/// `placement`), and this way it has one by the time the MAC can be
/// checked and values decrypted. The result is the same as [`Sealed::open`]
/// after [`parse_sealed_owned`].
pub fn open_read<E>(
    format: Format,
    size_hint: Option<u64>,
    read: impl FnOnce() -> Result<Zeroizing<String>, E>,
    identities: impl FnOnce() -> Result<Identities, E>,
    doc_error: impl Fn(DocError) -> E,
) -> Result<Opened, E> {
    let size = size_hint.unwrap_or(0);
    // Asking how many CPUs there are reads files: only for a large file.
    let helpers = if size < EARLY_HELPER_MIN_BYTES {
        0
    } else {
        (available_threads() - 1).min((size / BYTES_PER_EARLY_HELPER) as usize)
    };
    if helpers == 0 {
        let sealed = parse_sealed_owned(format, read()?).map_err(&doc_error)?;
        let identities = identities()?;
        return sealed.open(&identities).map_err(doc_error);
    }
    // What the helpers borrow lives outside the scope, which fills it in.
    let text = std::sync::OnceLock::new();
    let metadata = std::sync::OnceLock::new();
    let key = std::sync::OnceLock::new();
    let opening = std::sync::OnceLock::new();
    let mut layout = None;
    let mut out = Zeroizing::new(Vec::new());
    let mac: MacCheck<'_> = std::sync::Mutex::new(None);
    let queue: Queue<'_> = std::sync::Mutex::new(None);
    let placement = crate::placement::Placement::new();
    let checked = std::thread::scope(|scope| {
        let release = placement.release_on_drop();
        // Held in this closure: any early return closes the helpers'
        // channels, which sends them home before the scope waits for them.
        let mut helpers = spawn_helpers(scope, helpers, &placement, &mac, &queue);
        let read = read()?;
        let src: &str = text.get_or_init(|| read);
        let (scan, found) = check_sealed(format, src).map_err(&doc_error)?;
        let region = metadata_region(&scan).map_err(&doc_error)?;
        let identities = identities()?;
        let unwrapped =
            unwrap_data_key(&found.recipients, &identities).map_err(|e| doc_error(e.into()))?;
        let meta: &Metadata = metadata.get_or_init(|| found);
        let key: &DataKey = key.get_or_init(|| unwrapped);
        let (body, cipher) = opening.get_or_init(|| {
            (
                [&src[..region.start], &src[region.end..]],
                key.value_cipher(),
            )
        });
        let verify: Box<dyn FnOnce() -> bool + Send + '_> =
            Box::new(move || compute_mac(key, format, meta, body).verify(&meta.mac));
        *mac.lock().map_err(|_| doc_error(thread_failed()))? = Some(verify);
        // A helper that is gone has nothing to be told.
        let _ = helpers.mac_ready.send(());
        let values = ToOpen {
            format,
            src,
            cipher,
            leaves: scan.leaves,
            region,
        };
        let go = std::mem::take(&mut helpers.go);
        let decrypted =
            decrypt_alongside(values, &mut layout, &mut out, &queue, go).map_err(&doc_error)?;
        let mine = take_mac(&mac);
        release.now();
        gather(mine, decrypted, helpers.started).map_err(&doc_error)
    });
    // The helpers are done: end what borrows the text and the key.
    drop((mac, queue));
    let (mac_ok, decrypted) = checked?;
    let sealed = text.get().map(|t| t.as_str()).unwrap_or_default();
    let (plaintext, values, plain_values) =
        finish(mac_ok, decrypted, layout, out, sealed).map_err(&doc_error)?;
    let missing = || doc_error(DocError::Internal("an opened document lost its parts"));
    let mut sealed = text.into_inner().ok_or_else(missing)?;
    Ok(Opened {
        format,
        plaintext,
        data_key: key.into_inner().ok_or_else(missing)?,
        metadata: metadata.into_inner().ok_or_else(missing)?,
        values,
        plain_values,
        sealed: std::mem::take(&mut *sealed),
    })
}

/// How many threads opening a large document may use.
fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// The opened text of `src` (its metadata block at `region` removed), where
/// each decrypted value stands in it and where each plaintext value does,
/// provided `verify_mac` holds.
///
/// A small file is laid out, checked, then decrypted on this thread. For a
/// large one a helper thread starts first and checks the MAC while this
/// thread lays the text out; then both decrypt (more helpers on more
/// cores), and nothing is used unless the MAC holds. No step waits for a
/// helper to start: if one runs late, this thread takes its share.
#[allow(clippy::type_complexity)]
fn decrypt_document(
    format: Format,
    src: &str,
    leaves: Vec<crate::format::Leaf>,
    region: Range<usize>,
    key: &DataKey,
    verify_mac: impl FnOnce() -> bool + Send,
) -> Result<(Zeroizing<String>, Vec<DecryptedValue>, Vec<PlainValue>), DocError> {
    let cipher = key.value_cipher();
    let threads = if leaves.len() < PARALLEL_MIN_VALUES {
        1
    } else {
        available_threads()
    };
    let mut layout = None;
    let mut out = Zeroizing::new(Vec::new());
    let (mac_ok, decrypted) = if threads < 2 {
        let laid_out = layout.insert(lay_out(format, src, leaves, region)?);
        if !verify_mac() {
            return Err(DocError::Tampered);
        }
        let whole = Chunk {
            values: &laid_out.values,
            quote: laid_out.quote,
            text_start: 0,
            out: allocate(&mut out, laid_out),
            base: 0,
        };
        (true, decrypt_chunk(&cipher, src, whole))
    } else {
        let values = ToOpen {
            format,
            src,
            cipher: &cipher,
            leaves,
            region,
        };
        decrypt_on_threads(values, verify_mac, threads, &mut layout, &mut out)?
    };
    finish(mac_ok, decrypted, layout, out, src)
}

/// The opened text, once decryption is over: an error unless the MAC held
/// and every value decrypted; else the text after the last value copied
/// in, and where each value stands.
#[allow(clippy::type_complexity)]
fn finish(
    mac_ok: bool,
    decrypted: Result<(), DocError>,
    layout: Option<Layout>,
    mut out: Zeroizing<Vec<u8>>,
    src: &str,
) -> Result<(Zeroizing<String>, Vec<DecryptedValue>, Vec<PlainValue>), DocError> {
    // A bad MAC outranks any value error: the file was changed outside seal.
    if !mac_ok {
        return Err(DocError::Tampered);
    }
    decrypted?;
    let Layout {
        values,
        plain_values,
        values_end,
        tail,
        ..
    } = layout.ok_or(DocError::Internal("no layout"))?;
    let mut tail_out = &mut out[values_end..];
    for range in tail {
        let (head, rest) = tail_out.split_at_mut(range.len());
        head.copy_from_slice(&src.as_bytes()[range]);
        tail_out = rest;
    }
    // Every value was checked to be UTF-8 and everything else comes from
    // `src`, so this cannot fail; it is checked rather than assumed.
    let plaintext = String::from_utf8(std::mem::take(&mut *out)).map_err(|e| {
        drop(Zeroizing::new(e.into_bytes()));
        DocError::Internal("the opened text is not UTF-8")
    })?;
    Ok((Zeroizing::new(plaintext), values, plain_values))
}

/// Where everything goes in the opened text, before any decryption.
struct Layout {
    /// Every sealed value, with where its plaintext goes.
    values: Vec<DecryptedValue>,
    /// Bytes of quotes around each token in its value's source text (JSON
    /// strings): the text between values is what is outside them.
    quote: usize,
    plain_values: Vec<PlainValue>,
    /// Where the last value's plaintext ends in the opened text.
    values_end: usize,
    /// The sealed text after the last value, less the metadata block.
    tail: [Range<usize>; 2],
}

/// Lay out the opened text of `src` (its metadata block at `region`
/// removed): a token's length fixes its plaintext's length, so every value
/// can then be decrypted straight into its place.
fn lay_out(
    format: Format,
    src: &str,
    leaves: Vec<crate::format::Leaf>,
    region: Range<usize>,
) -> Result<Layout, DocError> {
    let quote = format.token_quote();
    let mut plain_values = Vec::new();
    let mut cursor = 0;
    let mut at = 0;
    let mut overlap = false;
    let mut misplaced = false;
    // An iterator chain over the leaves, so the collected values reuse
    // their memory (a fresh megabyte costs hundreds of page faults).
    let values: Vec<DecryptedValue> = leaves
        .into_iter()
        .filter_map(|leaf| {
            if leaf.span.start < cursor {
                overlap = true;
                return None;
            }
            let token = match leaf.kind {
                LeafKind::Scalar => format.token_in(&src[leaf.span.clone()]),
                LeafKind::Empty | LeafKind::Alias => None,
            };
            let Some(token) = token else {
                // Text between tokens is copied as it is, so this value
                // stands as far from `at` as it does from `cursor`.
                let start = at + (leaf.span.start - cursor);
                plain_values.push(PlainValue {
                    path: leaf.path,
                    text: start..start + leaf.span.len(),
                });
                return None;
            };
            let token_start = token.as_ptr() as usize - src.as_ptr() as usize;
            // Decryption finds the text between values from the tokens.
            misplaced |= token_start != leaf.span.start + quote
                || token_start + token.len() + quote != leaf.span.end;
            at += leaf.span.start - cursor;
            let value = DecryptedValue {
                path: leaf.path,
                token: token_start..token_start + token.len(),
                plaintext_start: at,
            };
            at += crate::token::plaintext_len(token);
            cursor = leaf.span.end;
            Some(value)
        })
        .collect();
    if overlap {
        return Err(DocError::Internal("overlapping value spans"));
    }
    if misplaced {
        return Err(DocError::Internal("a token not where its value stands"));
    }
    if region.start < cursor {
        return Err(DocError::Internal("metadata block before a value"));
    }
    Ok(Layout {
        values,
        quote,
        plain_values,
        values_end: at,
        tail: [cursor..region.start, region.end..src.len()],
    })
}

/// Size `out` for the opened text `layout` describes, and return the part
/// the values and the text between them go to.
fn allocate<'o>(out: &'o mut Zeroizing<Vec<u8>>, layout: &Layout) -> &'o mut [u8] {
    let tail: usize = layout.tail.iter().map(|r| r.len()).sum();
    **out = vec![0u8; layout.values_end + tail];
    &mut out[..layout.values_end]
}

/// Below this many values one thread is faster than several.
const PARALLEL_MIN_VALUES: usize = 1024;
/// Values per unit of work handed to a decryption thread.
const VALUES_PER_CHUNK: usize = 256;

/// One unit of decryption work: consecutive values, where the sealed text
/// before the first of them starts, and their part of the output, which
/// starts at `base`.
struct Chunk<'v, 'o> {
    values: &'v [DecryptedValue],
    /// As in [`Layout`].
    quote: usize,
    text_start: usize,
    out: &'o mut [u8],
    base: usize,
}

/// Chunks waiting for a thread, handed out in order, so a thread that
/// starts late or runs on a busy core takes fewer; with what decrypting
/// them needs.
struct Batch<'v> {
    src: &'v str,
    cipher: &'v crate::crypto::ValueCipher,
    chunks: std::vec::IntoIter<Chunk<'v, 'v>>,
}

/// The batch being decrypted, once the calling thread has laid it out.
type Queue<'v> = std::sync::Mutex<Option<Batch<'v>>>;

/// The MAC check, run once by whichever thread takes it first.
type MacCheck<'v> = std::sync::Mutex<Option<Box<dyn FnOnce() -> bool + Send + 'v>>>;

/// What one thread did: the MAC check if it ran it, and how decryption went.
type ThreadResult = (Option<bool>, Result<(), DocError>);

fn thread_failed() -> DocError {
    DocError::Internal("a decryption thread failed")
}

/// Run the MAC check unless another thread has taken it.
fn take_mac(mac: &MacCheck<'_>) -> Option<bool> {
    let taken = mac.lock().ok().and_then(|mut m| m.take());
    taken.map(|verify| verify())
}

/// A helper's part in opening a large document: move off the calling
/// thread's CPU; check the MAC once word comes that it can be (if `mac` is
/// given); then decrypt chunks once word comes that they are queued. A
/// channel closed without word (an error or a panic in the calling thread)
/// sends it home.
fn help(
    placement: &crate::placement::Placement,
    mac: Option<(std::sync::mpsc::Receiver<()>, &MacCheck<'_>)>,
    go: std::sync::mpsc::Receiver<()>,
    queue: &Queue<'_>,
) -> ThreadResult {
    let _moved = placement.move_off_parent();
    let mac_ok = mac.and_then(|(ready, mac)| ready.recv().ok().and_then(|()| take_mac(mac)));
    let decrypted = go.recv().map_or(Ok(()), |()| drain(queue));
    (mac_ok, decrypted)
}

/// Decrypt chunks from `queue` until it is empty or one fails.
fn drain(queue: &Queue<'_>) -> Result<(), DocError> {
    loop {
        let next = queue
            .lock()
            .map_err(|_| thread_failed())?
            .as_mut()
            .and_then(|batch| Some((batch.src, batch.cipher, batch.chunks.next()?)));
        let Some((src, cipher, chunk)) = next else {
            return Ok(());
        };
        if let Err(e) = decrypt_chunk(cipher, src, chunk) {
            // Leave nothing for the other threads to do.
            if let Ok(mut q) = queue.lock() {
                *q = None;
            }
            return Err(e);
        }
    }
}

/// The values of a sealed text to decrypt, with what it takes.
struct ToOpen<'v> {
    format: Format,
    src: &'v str,
    cipher: &'v crate::crypto::ValueCipher,
    leaves: Vec<crate::format::Leaf>,
    /// The metadata block.
    region: Range<usize>,
}

/// Helpers started in a scope, and the word they wait for.
struct Helpers<'scope> {
    /// To the first helper: the MAC check can be taken.
    mac_ready: std::sync::mpsc::Sender<()>,
    /// To each helper: chunks are queued.
    go: Vec<std::sync::mpsc::Sender<()>>,
    started: Vec<std::thread::ScopedJoinHandle<'scope, ThreadResult>>,
}

/// Start `count` helpers in `scope` (see [`help`]); the first checks the
/// MAC once word comes on `mac_ready`. A helper the system refuses is work
/// for the calling thread.
fn spawn_helpers<'scope, 'env, 'v: 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    count: usize,
    placement: &'env crate::placement::Placement,
    mac: &'env MacCheck<'v>,
    queue: &'env Queue<'v>,
) -> Helpers<'scope> {
    let (mac_ready, mac_wait) = std::sync::mpsc::channel::<()>();
    let mut mac_wait = Some(mac_wait);
    let (mut go, mut started) = (Vec::new(), Vec::new());
    for _ in 0..count {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let mac = mac_wait.take().map(|wait| (wait, mac));
        if let Ok(h) =
            std::thread::Builder::new().spawn_scoped(scope, move || help(placement, mac, rx, queue))
        {
            go.push(tx);
            started.push(h);
        }
    }
    Helpers {
        mac_ready,
        go,
        started,
    }
}

/// On the calling thread: lay out the values into `layout`, queue their
/// decryption into `out` in chunks, send word to the helpers on `go`, and
/// decrypt alongside them until nothing is left.
fn decrypt_alongside<'v>(
    values: ToOpen<'v>,
    layout: &'v mut Option<Layout>,
    out: &'v mut Zeroizing<Vec<u8>>,
    queue: &Queue<'v>,
    go: Vec<std::sync::mpsc::Sender<()>>,
) -> Result<Result<(), DocError>, DocError> {
    let ToOpen {
        format,
        src,
        cipher,
        leaves,
        region,
    } = values;
    let laid_out = layout.insert(lay_out(format, src, leaves, region)?);
    let mut rest = allocate(out, laid_out);
    let mut chunks = Vec::with_capacity(laid_out.values.len().div_ceil(VALUES_PER_CHUNK));
    let (mut base, mut text_start) = (0, 0);
    for values in laid_out.values.chunks(VALUES_PER_CHUNK) {
        let end = values.last().map_or(base, |v| v.plaintext(src).end);
        let (mine, others) = std::mem::take(&mut rest).split_at_mut(end - base);
        chunks.push(Chunk {
            values,
            quote: laid_out.quote,
            text_start,
            out: mine,
            base,
        });
        rest = others;
        base = end;
        text_start = values
            .last()
            .map_or(text_start, |v| v.token.end + laid_out.quote);
    }
    *queue.lock().map_err(|_| thread_failed())? = Some(Batch {
        src,
        cipher,
        chunks: chunks.into_iter(),
    });
    for tx in go {
        // A helper that is gone has nothing to be told.
        let _ = tx.send(());
    }
    Ok(drain(queue))
}

/// Wait for the helpers and put every thread's results together: whether
/// the MAC holds (checked exactly once, by some thread), and how
/// decryption went. Every helper is joined before any result counts (a
/// scope panics over a panicked thread left unjoined).
fn gather(
    mine: Option<bool>,
    decrypted: Result<(), DocError>,
    helpers: Vec<std::thread::ScopedJoinHandle<'_, ThreadResult>>,
) -> Result<(bool, Result<(), DocError>), DocError> {
    let joined: Vec<_> = helpers.into_iter().map(|h| h.join()).collect();
    let mut checks: Vec<bool> = mine.into_iter().collect();
    let mut decrypted = decrypted;
    for helper in joined {
        let (their_check, theirs) = helper.map_err(|_| thread_failed())?;
        checks.extend(their_check);
        decrypted = decrypted.and(theirs);
    }
    match checks[..] {
        [mac_ok] => Ok((mac_ok, decrypted)),
        _ => Err(DocError::Internal("the MAC was not checked exactly once")),
    }
}

/// Lay out and decrypt into `out` on `threads` threads while the first
/// helper checks the MAC; the layout is left in `layout`. Returns whether
/// the MAC holds, and how decryption went.
fn decrypt_on_threads<'v>(
    values: ToOpen<'v>,
    verify_mac: impl FnOnce() -> bool + Send + 'v,
    threads: usize,
    layout: &'v mut Option<Layout>,
    out: &'v mut Zeroizing<Vec<u8>>,
) -> Result<(bool, Result<(), DocError>), DocError> {
    let mac: MacCheck<'v> = std::sync::Mutex::new(Some(Box::new(verify_mac)));
    let queue: Queue<'v> = std::sync::Mutex::new(None);
    let placement = crate::placement::Placement::new();
    std::thread::scope(|scope| {
        // Helpers may be kept off this thread's CPU only while it works.
        let release = placement.release_on_drop();
        let mut helpers = spawn_helpers(scope, threads - 1, &placement, &mac, &queue);
        // The first helper starts on the MAC at once.
        let _ = helpers.mac_ready.send(());
        let go = std::mem::take(&mut helpers.go);
        let decrypted = decrypt_alongside(values, layout, out, &queue, go)?;
        // Nothing is left but the MAC, if no helper has started on it.
        let mine = take_mac(&mac);
        release.now();
        gather(mine, decrypted, helpers.started)
    })
}

/// Decrypt the values of `chunk` into its part of the opened text.
fn decrypt_chunk(
    cipher: &crate::crypto::ValueCipher,
    src: &str,
    chunk: Chunk<'_, '_>,
) -> Result<(), DocError> {
    let Chunk {
        values,
        quote,
        text_start,
        out,
        base,
    } = chunk;
    let mut places = values.iter();
    let mut cursor = text_start;
    let tokens = values.iter().map(|v| (&v.path, &src[v.token.clone()]));
    cipher.decrypt_each(tokens, |decrypted| {
        let value = places
            .next()
            .ok_or(DocError::Internal("more plaintexts than values"))?;
        let gap = cursor..value.token.start - quote;
        cursor = value.token.end + quote;
        let plaintext = value.plaintext(src);
        let value_at = plaintext.start - base;
        out[value_at - gap.len()..value_at].copy_from_slice(&src.as_bytes()[gap]);
        let failed = |source| DocError::Value {
            path: value.path.to_string(),
            source,
        };
        let bytes = decrypted.map_err(failed)?;
        if std::str::from_utf8(bytes).is_err() {
            return Err(failed(ValueError::Authentication));
        }
        if bytes.len() != plaintext.len() {
            return Err(DocError::Internal(
                "a value's length does not match its token",
            ));
        }
        out[value_at..value_at + bytes.len()].copy_from_slice(bytes);
        Ok(())
    })?;
    if places.next().is_some() {
        return Err(DocError::Internal("a value was not decrypted"));
    }
    Ok(())
}

/// What sealing needs besides the plaintext.
pub struct SealPlan<'a> {
    pub key: &'a DataKey,
    pub recipients: Vec<WrappedKey>,
    pub encrypt: Vec<String>,
    /// RFC 3339 UTC time written as `modified`.
    pub modified: String,
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
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Seal a plaintext document for `recipients` with a fresh data key.
pub fn seal(
    format: Format,
    plaintext: &str,
    recipients: &[Recipient],
    encrypt: &[String],
) -> Result<String, DocError> {
    let key = DataKey::generate();
    let plan = SealPlan {
        key: &key,
        recipients: wrap_for(&key, recipients)?,
        encrypt: encrypt.to_vec(),
        modified: now_rfc3339(),
    };
    seal_with(format, plaintext, &plan, |_, _| None)
}

/// Seal `plaintext` under `plan`; `reuse(path, source)` may return an
/// existing token for an unchanged value.
fn seal_with<'p>(
    format: Format,
    plaintext: &str,
    plan: &SealPlan<'_>,
    reuse: impl Fn(&KeyPath, &str) -> Option<&'p str>,
) -> Result<String, DocError> {
    seal_with_replacements(format, plaintext, plan, reuse, &Replacements::new())
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
    seal_with_replacements(format, plaintext, plan, reuse, replace)
}

/// [`seal_with`], storing each value at a `replace` path as its replacement
/// text; the self-check expects the plaintext with those replacements.
fn seal_with_replacements<'p>(
    format: Format,
    plaintext: &str,
    plan: &SealPlan<'_>,
    reuse: impl Fn(&KeyPath, &str) -> Option<&'p str>,
    replace: &Replacements,
) -> Result<String, DocError> {
    for p in &plan.encrypt {
        select::validate(p).map_err(DocError::Pattern)?;
    }
    let scan = format.scan(plaintext)?;
    if scan.metadata.is_some() {
        return Err(DocError::AlreadySealed { at: None });
    }
    let cipher = plan.key.value_cipher();
    let mut nonces = crate::crypto::Nonces::generate(scan.leaves.len());
    let mut body = String::with_capacity(plaintext.len() * 2);
    // What opening the result must give: the plaintext with replacements.
    let mut expected = Zeroizing::new(String::new());
    let mut expected_cursor = 0;
    let mut cursor = 0;
    for leaf in &scan.leaves {
        let text = &plaintext[leaf.span.clone()];
        if leaf.span.start < cursor {
            return Err(DocError::Internal("overlapping value spans"));
        }
        if leaf.kind != LeafKind::Scalar {
            continue;
        }
        if format.token_in(text).is_some() {
            return Err(DocError::AlreadySealed {
                at: Some(leaf.path.to_string()),
            });
        }
        if let Some(replacement) = replace.get(&leaf.path) {
            let token = cipher.encrypt(&leaf.path, replacement.as_bytes());
            body.push_str(&plaintext[cursor..leaf.span.start]);
            body.push_str(&format.render_token(&token));
            cursor = leaf.span.end;
            expected.push_str(&plaintext[expected_cursor..leaf.span.start]);
            expected.push_str(replacement);
            expected_cursor = leaf.span.end;
        } else if select::selected(&plan.encrypt, &leaf.path) {
            let token = match reuse(&leaf.path, text) {
                Some(t) => t.to_owned(),
                None => cipher.encrypt_with_nonce(&leaf.path, text.as_bytes(), nonces.take()),
            };
            body.push_str(&plaintext[cursor..leaf.span.start]);
            body.push_str(&format.render_token(&token));
            cursor = leaf.span.end;
        }
    }
    body.push_str(&plaintext[cursor..]);
    expected.push_str(&plaintext[expected_cursor..]);

    let mut meta = Metadata {
        version: VERSION,
        modified: plan.modified.clone(),
        encrypt: plan.encrypt.clone(),
        recipients: plan.recipients.clone(),
        mac: String::new(),
    };
    meta.mac = compute_mac(plan.key, format, &meta, &[&body]).finish();
    let sealed = format.attach_metadata(&body, &meta)?;

    // Never hand back a file that does not open to exactly its input.
    let check = open_with_key(format, &sealed, plan.key.clone())
        .map_err(|_| DocError::Internal("the sealed output does not open"))?;
    if check.plaintext.as_str() != expected.as_str() {
        return Err(DocError::Internal("the sealed output does not round-trip"));
    }
    Ok(sealed)
}

/// The outcome of sealing an edited document again.
pub enum Resealed {
    /// Nothing changed: the sealed file stays byte-identical.
    Unchanged,
    Changed(String),
}

impl Opened {
    /// Wipe what is secret, the plaintext and the data key, now, and leave
    /// the rest (key paths, the sealed text) to the process's exit. For a
    /// command about to exit: freeing tens of thousands of key paths one by
    /// one gains nothing then.
    pub fn wipe_and_leave_the_rest(self) {
        let Opened {
            format: _,
            plaintext,
            data_key,
            metadata,
            values,
            plain_values,
            sealed,
        } = self;
        drop(plaintext);
        drop(data_key);
        std::mem::forget((metadata, values, plain_values, sealed));
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
        let decrypted = self
            .values
            .iter()
            .map(|v| (&v.path, v.plaintext(&self.sealed)));
        let plain = self.plain_values.iter().map(|v| (&v.path, v.text.clone()));
        let mut all: Vec<_> = decrypted.chain(plain).collect();
        // Both lists are in document order: this sort only interleaves them.
        all.sort_by_key(|(_, text)| text.start);
        let mut out = Vec::with_capacity(all.len());
        for (path, text) in all {
            match self.format.value_at(&self.plaintext, text.clone()) {
                Some(value) => out.push((Cow::Borrowed(path), value?)),
                // YAML scalars need the parser.
                None => {
                    return Ok(self
                        .format
                        .values(&self.plaintext)?
                        .into_iter()
                        .map(|(path, value)| (Cow::Owned(path), value))
                        .collect())
                }
            }
        }
        Ok(out)
    }

    /// The sealed file this was opened from.
    pub fn sealed_text(&self) -> &str {
        &self.sealed
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
        let plan = SealPlan {
            key,
            recipients,
            encrypt: encrypt.to_vec(),
            modified: now_rfc3339(),
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

    /// A dotenv document large enough to be decrypted on several threads.
    fn large_dotenv() -> String {
        (0..PARALLEL_MIN_VALUES * 2 + 7)
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

    /// A large dotenv text sealed for a new identity, and that identity.
    fn large_sealed_for_identity() -> (String, String, Zeroizing<String>) {
        // Large enough for helpers started early (about 500 KiB sealed).
        let plain: String = (0..PARALLEL_MIN_VALUES * 4)
            .map(|i| format!("NAME_{i}=value-{i}-{}\n", "x".repeat(i % 50)))
            .collect();
        let (identity, public) = crate::envelope::generate_identity();
        let key = DataKey::generate();
        let plan = SealPlan {
            key: &key,
            recipients: wrap_for(&key, &[Recipient::parse(&public).unwrap()]).unwrap(),
            encrypt: vec![],
            modified: now_rfc3339(),
        };
        let sealed = seal_with(Format::Dotenv, &plain, &plan, |_, _| None).unwrap();
        (plain, sealed, identity)
    }

    /// `open_read` as the CLI calls it for a large file, with helpers
    /// started before the text is read.
    fn open_read_large(sealed: &str, identity: Option<&str>) -> (Result<Opened, DocError>, bool) {
        let asked = std::cell::Cell::new(false);
        let opened = open_read(
            Format::Dotenv,
            Some(EARLY_HELPER_MIN_BYTES.max(sealed.len() as u64)),
            || Ok(Zeroizing::new(sealed.to_owned())),
            || {
                asked.set(true);
                match identity {
                    Some(text) => {
                        Identities::from_text(text, "test").map_err(|_| DocError::NoRecipients)
                    }
                    None => Ok(Identities::empty()),
                }
            },
            |e| e,
        );
        (opened, asked.get())
    }

    #[test]
    fn large_files_open_with_early_helpers_as_without() {
        let (plain, sealed, identity) = large_sealed_for_identity();
        assert!(sealed.len() as u64 >= EARLY_HELPER_MIN_BYTES);
        let (early, asked) = open_read_large(&sealed, Some(&identity));
        let early = early.unwrap();
        assert!(asked);
        assert_eq!(early.plaintext.as_str(), plain);
        let ids = Identities::from_text(&identity, "test").unwrap();
        let late = open(Format::Dotenv, &sealed, &ids).unwrap();
        assert_eq!(early.values().unwrap(), late.values().unwrap());
        assert_eq!(early.metadata, late.metadata);
        assert_eq!(early.sealed_text(), sealed);
        assert!(matches!(early.reseal(&plain).unwrap(), Resealed::Unchanged));
    }

    #[test]
    fn large_files_with_early_helpers_fail_as_without() {
        let (_, sealed, identity) = large_sealed_for_identity();
        // A changed value: the MAC fails, whichever thread checks it.
        let at = sealed.find("seal.v1.").unwrap() + 20;
        let flipped = if &sealed[at..=at] == "A" { "B" } else { "A" };
        let tampered = format!("{}{flipped}{}", &sealed[..at], &sealed[at + 1..]);
        let (opened, _) = open_read_large(&tampered, Some(&identity));
        assert!(matches!(opened, Err(DocError::Tampered)));
        // Another identity: the data key does not unwrap.
        let (other, _) = crate::envelope::generate_identity();
        let (opened, _) = open_read_large(&sealed, Some(&other));
        assert!(matches!(opened, Err(DocError::Unwrap(_))));
        // Not sealed: refused before any identity is asked for.
        let (opened, asked) = open_read_large(&large_dotenv(), Some(&identity));
        assert!(matches!(opened, Err(DocError::NotSealed)));
        assert!(!asked);
        // The caller's own errors come back as they are.
        let (opened, asked) = open_read_large(&sealed, None);
        assert!(asked);
        assert!(matches!(opened, Err(DocError::Unwrap(_))));
        let failed_read = open_read(
            Format::Dotenv,
            Some(u64::MAX),
            || Err(DocError::Internal("no text")),
            || unreachable!("no identities without a text"),
            |e| e,
        );
        assert!(matches!(failed_read, Err(DocError::Internal("no text"))));
    }

    #[test]
    fn large_files_open_on_several_threads() {
        let plain = large_dotenv();
        let (sealed, key) = sealed_with_key(&plain);
        let opened = open_with_key(Format::Dotenv, &sealed, key).unwrap();
        assert_eq!(opened.plaintext.as_str(), plain);
    }

    /// With no helper thread (the system refused one), the calling thread
    /// checks the MAC itself, exactly once, and decrypts everything.
    #[test]
    fn without_helpers_the_mac_is_still_checked_once() {
        let plain = large_dotenv();
        let (sealed, key) = sealed_with_key(&plain);
        let cipher = key.value_cipher();
        for (threads, mac_holds) in [(1, true), (1, false), (2, false), (3, true)] {
            let scan = Format::Dotenv.scan(&sealed).unwrap();
            let region = scan.metadata.as_ref().unwrap().region.clone();
            let calls = std::sync::atomic::AtomicUsize::new(0);
            let (mut layout, mut out) = (None, Zeroizing::new(Vec::new()));
            let values = ToOpen {
                format: Format::Dotenv,
                src: &sealed,
                cipher: &cipher,
                leaves: scan.leaves,
                region,
            };
            let (mac_ok, decrypted) = decrypt_on_threads(
                values,
                || {
                    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    mac_holds
                },
                threads,
                &mut layout,
                &mut out,
            )
            .unwrap();
            assert_eq!(calls.into_inner(), 1, "{threads} threads");
            assert_eq!(mac_ok, mac_holds, "{threads} threads");
            decrypted.unwrap();
            let values_end = layout.unwrap().values_end;
            assert!(plain.as_bytes().starts_with(&out[..values_end]));
        }
    }

    /// Values left in plaintext between sealed ones land where they stood,
    /// when the sealed ones are decrypted on several threads.
    #[test]
    fn large_files_with_plaintext_values_open_on_several_threads() {
        let plain = large_dotenv();
        let key = DataKey::generate();
        // NAME_1, NAME_10.., NAME_100.. and NAME_1000..: 1,111 values.
        let plan = plan_for_new_identity(&key, vec!["NAME_1*".into()]);
        let sealed = seal_with(Format::Dotenv, &plain, &plan, |_, _| None).unwrap();
        let sealed_values = sealed.matches(crate::token::PREFIX_V1).count();
        assert!(sealed_values >= PARALLEL_MIN_VALUES, "{sealed_values}");
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
