//! The MAC input of spec section 9, keyed (the file MAC) or hashed (what a
//! signature signs, section 12).

use super::*;

/// The file MAC (spec/FORMAT.md, "MAC"): the metadata fields and the whole
/// sealed body, i.e. the sealed file without its metadata block.
pub(super) fn compute_mac(
    key: &crate::crypto::MacKey,
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
pub(super) fn mac_input<D: hmac::digest::Update>(
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
pub(super) fn mac_optional_fields<D: hmac::digest::Update>(
    mac: &mut crate::crypto::MacBuilder<D>,
    meta: &Metadata,
) {
    if !meta.changed.is_empty() {
        mac.field(b"changed").count(meta.changed.len());
        for c in &meta.changed {
            mac.field(c.path.as_bytes()).field(c.date.as_bytes());
        }
    }
    if !meta.groups.is_empty() {
        // Version 5 (spec 14.4): every byte of every group's entry.
        mac.field(b"groups").count(meta.groups.len());
        for g in &meta.groups {
            mac.field(g.name.as_bytes()).count(g.keys.len());
            for k in &g.keys {
                mac.field(k.as_bytes());
            }
            mac.count(g.recipients.len());
            for r in &g.recipients {
                mac.field(r.recipient.as_bytes())
                    .field(r.data_key.as_bytes())
                    .field(r.file_key.as_bytes());
            }
            mac.field(g.mac.as_bytes());
        }
        mac.field(b"default_mac").field(meta.default_mac.as_bytes());
    }
}
