//! Opening: parse a sealed document, verify its MAC, then decrypt every
//! token into the opened text.

use super::*;

/// A decrypted value: where its token stood in the sealed file and where
/// its plaintext starts in the opened one, so that resealing an unchanged
/// value can write the same token. (Its length follows from the token's,
/// and leaving it out makes this no larger than a scan's leaf, so the
/// leaves' memory is reused for these when a file is opened.)
pub(super) struct DecryptedValue {
    pub(super) path: KeyPath,
    pub(super) token: Range<usize>,
    pub(super) plaintext_start: usize,
}

impl DecryptedValue {
    /// Where the plaintext stands in the opened text; `sealed` is the text
    /// the value was opened from.
    pub(super) fn plaintext(&self, sealed: &str) -> Range<usize> {
        let len = crate::token::plaintext_len(&sealed[self.token.clone()]);
        self.plaintext_start..self.plaintext_start + len
    }
}

/// A value the sealed file holds in plaintext (not selected for
/// encryption, or empty): where its source text stands in the opened text.
pub(super) struct PlainValue {
    pub(super) path: KeyPath,
    pub(super) text: Range<usize>,
}

/// A sealed value of a scope whose key the reader does not hold (a key
/// group it is not in): its token stands in the opened text as it is.
pub(super) struct LockedValue {
    pub(super) path: KeyPath,
    pub(super) scope: Scope,
    /// The token's source text in the opened text.
    pub(super) text: Range<usize>,
}

/// A decrypted document with everything needed to seal it again.
pub struct Opened {
    pub format: Format,
    /// The document exactly as it was before sealing, except that the
    /// values of locked scopes (key groups the reader is not in) keep
    /// their tokens.
    pub plaintext: Zeroizing<String>,
    /// The keys the reader holds: every scope's for a file without groups.
    pub keys: FileKeys,
    pub metadata: Metadata,
    pub(super) values: Vec<DecryptedValue>,
    pub(super) plain_values: Vec<PlainValue>,
    pub(super) locked: Vec<LockedValue>,
    /// The digest of each locked scope's MAC input, which a new version
    /// must leave unchanged.
    pub(super) locked_scopes: Vec<LockedScope>,
    pub(super) sealed: String,
}

/// A sealed document that parsed and carries metadata of a version this
/// code reads, not yet decrypted.
pub struct Sealed<'a> {
    pub(super) format: Format,
    pub(super) src: Cow<'a, str>,
    pub(super) scan: Scan,
    pub(super) metadata: Metadata,
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
pub(super) fn check_sealed(format: Format, src: &str) -> Result<(Scan, Metadata), DocError> {
    let mut scan = format.scan(src)?;
    let block = scan.metadata.take().ok_or(DocError::NotSealed)?;
    if !readable(block.metadata.version) {
        return Err(DocError::UnsupportedVersion(block.metadata.version));
    }
    if block.metadata.recipients.is_empty() {
        return Err(DocError::NoWrappedKeys);
    }
    check_groups(&block.metadata)?;

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
    pub fn body(&self) -> [&str; 2] {
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

    /// Unwrap every key `identities` open and decrypt what they open.
    pub fn open(self, identities: &Identities) -> Result<Opened, DocError> {
        let keys = unwrap_keys(&self.metadata, identities)?;
        self.open_with_keys(keys)
    }

    /// Decrypt with a data key obtained elsewhere (the values of key
    /// groups stay locked).
    pub fn open_with_key(self, key: DataKey) -> Result<Opened, DocError> {
        self.open_with_keys(FileKeys::of(key))
    }

    /// Decrypt with keys obtained elsewhere.
    pub fn open_with_keys(self, keys: FileKeys) -> Result<Opened, DocError> {
        open_scanned(self.format, self.src, self.scan, self.metadata, keys)
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


/// The last steps of opening: check the MAC over the sealed text, then
/// decrypt every token in document order into the opened text.
pub(super) fn open_scanned(
    format: Format,
    sealed: Cow<'_, str>,
    scan: Scan,
    metadata: Metadata,
    keys: FileKeys,
) -> Result<Opened, DocError> {
    let src: &str = &sealed;
    let region = metadata_region(&scan)?;
    let body = [&src[..region.start], &src[region.end..]];
    // Nothing is decrypted from a file whose MAC does not hold.
    if !compute_mac(&keys.file_mac, format, &metadata, &body).verify(&metadata.mac) {
        return Err(DocError::Tampered);
    }
    // A MAC that holds over a `changed` that does not fit the values was
    // made so (spec section 6.1.1): refused all the same.
    if !metadata.changed.is_empty() {
        walk_changed(format, src, &scan.leaves, &metadata, |_, _| {})?;
    }
    // The file MAC stops outsiders; each scope's own MAC stops the readers
    // of other scopes, who hold the file MAC key too (spec 14.4).
    let locked_scopes = if metadata.groups.is_empty() {
        Vec::new()
    } else {
        let tokens = scope_tokens(format, src, &scan.leaves, &metadata.groups)?;
        verify_scopes(format, &metadata, &tokens, &keys)?
    };
    let opened = decrypt_values(format, src, scan.leaves, region, &keys, &metadata.groups)?;
    Ok(Opened {
        format,
        plaintext: opened.plaintext,
        keys,
        metadata,
        values: opened.values,
        plain_values: opened.plain_values,
        locked: opened.locked,
        locked_scopes,
        sealed: sealed.into_owned(),
    })
}

/// What [`decrypt_values`] makes of a sealed text.
pub(super) struct DecryptedText {
    pub(super) plaintext: Zeroizing<String>,
    pub(super) values: Vec<DecryptedValue>,
    pub(super) plain_values: Vec<PlainValue>,
    pub(super) locked: Vec<LockedValue>,
}

pub(super) fn metadata_region(scan: &Scan) -> Result<Range<usize>, DocError> {
    scan.metadata
        .as_ref()
        .map(|b| b.region.clone())
        .ok_or(DocError::NotSealed)
}

/// The opened text of `src` (its metadata block at `region` removed): the
/// text between values copied as it is, each token replaced by its
/// plaintext (a token of a scope `keys` do not hold stays as it is); and
/// where each decrypted, plaintext and locked value stands in it.
pub(super) fn decrypt_values(
    format: Format,
    src: &str,
    leaves: Vec<crate::format::Leaf>,
    region: Range<usize>,
    keys: &FileKeys,
    groups: &[crate::metadata::Group],
) -> Result<DecryptedText, DocError> {
    let ciphers = keys.ciphers();
    let mut locked = Vec::new();
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
        let scope = match groups.is_empty() {
            true => Scope::Default,
            false => scope_of(groups, &leaf.path),
        };
        let Some(cipher) = ciphers.get(scope.index()).and_then(Option::as_ref) else {
            let start = out.len() + (leaf.span.start - cursor);
            locked.push(LockedValue {
                path: leaf.path,
                scope,
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
    Ok(DecryptedText {
        plaintext: out,
        values,
        plain_values,
        locked,
    })
}
