//! Key groups (format version 5, spec/FORMAT.md section 14): which key
//! seals each value, the keys a reader holds, and the MACs that bind each
//! scope's values to the readers of that scope.

use super::*;
use crate::crypto::{MacBuilder, MacKey};
use crate::metadata::Group;

/// Which key seals a value: the file's data key (the default scope) or a
/// group's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Default,
    Group(usize),
}

impl Scope {
    /// Index into per-scope lists: 0 the default scope, 1 + i group i.
    pub(super) fn index(self) -> usize {
        match self {
            Scope::Default => 0,
            Scope::Group(i) => i + 1,
        }
    }
}

/// The scope of the value at `path`: the first group whose patterns select
/// it, else the default scope.
pub fn scope_of(groups: &[Group], path: &KeyPath) -> Scope {
    groups
        .iter()
        .position(|g| !g.keys.is_empty() && select::selected(&g.keys, path))
        .map_or(Scope::Default, Scope::Group)
}

/// The keys a reader holds for one file. A file without groups has only
/// the default scope, and its data key gives the file MAC key.
#[derive(Clone)]
pub struct FileKeys {
    /// `F`, the file MAC key: from the data key, or a group's `file_key`.
    pub file_mac: MacKey,
    /// The file's data key `K0`, when a top-level recipient opened it.
    pub default: Option<DataKey>,
    /// Each group's data key, in the order of `groups`, when held.
    pub groups: Vec<Option<DataKey>>,
}

impl FileKeys {
    /// Every key of a file without groups: its data key.
    pub fn of(key: DataKey) -> Self {
        FileKeys {
            file_mac: key.mac_key(),
            default: Some(key),
            groups: Vec::new(),
        }
    }

    /// The data key of `scope`, if held.
    pub fn scope(&self, scope: Scope) -> Option<&DataKey> {
        match scope {
            Scope::Default => self.default.as_ref(),
            Scope::Group(i) => self.groups.get(i).and_then(Option::as_ref),
        }
    }

    /// One cipher per scope (index [`Scope::index`]), `None` where the key
    /// is not held.
    pub(super) fn ciphers(&self) -> Vec<Option<crate::crypto::ValueCipher>> {
        std::iter::once(&self.default)
            .chain(&self.groups)
            .map(|k| k.as_ref().map(DataKey::value_cipher))
            .collect()
    }

    /// Whether the keys hold every scope of a file with `groups` groups.
    pub fn holds_all(&self, groups: usize) -> bool {
        self.default.is_some()
            && self.groups.len() == groups
            && self.groups.iter().all(Option::is_some)
    }

    /// Whether every key is the same as `other`'s (same scopes held).
    pub fn same(&self, other: &FileKeys) -> bool {
        let same_key = |a: &Option<DataKey>, b: &Option<DataKey>| match (a, b) {
            (Some(a), Some(b)) => a.expose() == b.expose(),
            (None, None) => true,
            _ => false,
        };
        self.file_mac.expose() == other.file_mac.expose()
            && same_key(&self.default, &other.default)
            && self.groups.len() == other.groups.len()
            && self.groups.iter().zip(&other.groups).all(|(a, b)| same_key(a, b))
    }
}

/// A group's wrapped keys in the shape [`unwrap_data_key`] takes: its
/// `data_key`s, or (`file_key`) its wrapped file MAC keys.
fn wrapped_of(group: &Group, file_key: bool) -> Vec<WrappedKey> {
    group
        .recipients
        .iter()
        .map(|k| WrappedKey {
            recipient: k.recipient.clone(),
            data_key: if file_key { &k.file_key } else { &k.data_key }.clone(),
        })
        .collect()
}

/// A key this reader holds, `None` when no identity is a recipient of it.
fn unwrap_optional(wrapped: &[WrappedKey], ids: &Identities) -> Result<Option<DataKey>, DocError> {
    match unwrap_data_key(wrapped, ids) {
        Ok(key) => Ok(Some(key)),
        Err(UnwrapError::NoMatch { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Unwrap every key of `meta` that `ids` open. A file without groups needs
/// its data key; a file with groups needs any one scope's key (and gets
/// the file MAC key from the data key or from that group's `file_key`).
pub(super) fn unwrap_keys(meta: &Metadata, ids: &Identities) -> Result<FileKeys, DocError> {
    if meta.groups.is_empty() {
        return Ok(FileKeys::of(unwrap_data_key(&meta.recipients, ids)?));
    }
    let default = match unwrap_data_key(&meta.recipients, ids) {
        Ok(key) => Some(key),
        Err(UnwrapError::NoMatch { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let mut file_mac = default.as_ref().map(DataKey::mac_key);
    let mut groups = Vec::with_capacity(meta.groups.len());
    for group in &meta.groups {
        let key = unwrap_optional(&wrapped_of(group, false), ids)?;
        if key.is_some() && file_mac.is_none() {
            let f = unwrap_data_key(&wrapped_of(group, true), ids)?;
            file_mac = MacKey::from_bytes(f.expose());
        }
        groups.push(key);
    }
    let Some(file_mac) = file_mac else {
        // Not a recipient of any scope: the error names every recipient.
        let mut all = meta.recipients.clone();
        for group in &meta.groups {
            all.extend(wrapped_of(group, false));
        }
        return Err(unwrap_data_key(&all, ids).err().map_or(
            DocError::Internal("no scope opened, yet a key unwrapped"),
            DocError::from,
        ));
    };
    Ok(FileKeys {
        file_mac,
        default,
        groups,
    })
}

/// Check what the format-independent rules say of `groups` (spec 14.3):
/// present exactly in version 5, named uniquely, each with valid patterns
/// and at least one recipient. A file that fails was not written by seal.
pub(super) fn check_groups(meta: &Metadata) -> Result<(), DocError> {
    let bad = |m: String| Err(DocError::Groups(m));
    let has_groups = !meta.groups.is_empty();
    if has_groups != (meta.version >= crate::metadata::GROUPS_SINCE) {
        return bad(format!(
            "format version {} {} key groups",
            meta.version,
            if has_groups { "has no" } else { "needs" }
        ));
    }
    if has_groups == meta.default_mac.is_empty() {
        return bad("`default_mac` must be present exactly when `groups` is".into());
    }
    let mut names = std::collections::HashSet::new();
    for g in &meta.groups {
        if !valid_group_name(&g.name) {
            return bad(format!(
                "group name {:?} is not 1 to 64 characters of A-Z a-z 0-9 . _ -",
                g.name
            ));
        }
        if !names.insert(g.name.as_str()) {
            return bad(format!("group {} is named twice", g.name));
        }
        if g.keys.is_empty() {
            return bad(format!("group {} has no key patterns", g.name));
        }
        for p in &g.keys {
            select::validate(p).map_err(DocError::Pattern)?;
        }
        if g.recipients.is_empty() {
            return bad(format!("group {} has no recipients", g.name));
        }
    }
    Ok(())
}

/// 1 to 64 characters of `A-Z a-z 0-9 . _ -`, as a passphrase label.
pub fn valid_group_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Each scope's tokens in document order (index [`Scope::index`]): what
/// the default and group MACs cover. A non-empty value that a group selects
/// must be a token.
pub(super) fn scope_tokens<'s>(
    format: Format,
    src: &'s str,
    leaves: &'s [crate::format::Leaf],
    groups: &[Group],
) -> Result<Vec<Vec<(&'s KeyPath, &'s str)>>, DocError> {
    let mut scopes = vec![Vec::new(); groups.len() + 1];
    for leaf in leaves {
        let token = match leaf.kind {
            LeafKind::Scalar => format.token_in(&src[leaf.span.clone()]),
            LeafKind::Empty | LeafKind::Alias => continue,
        };
        let scope = scope_of(groups, &leaf.path);
        match (token, scope) {
            (Some(token), _) => scopes[scope.index()].push((&leaf.path, token)),
            (None, Scope::Group(i)) => {
                return Err(DocError::Groups(format!(
                    "the value at {} is in group {} but is not sealed (it was changed outside seal)",
                    leaf.path, groups[i].name
                )))
            }
            (None, Scope::Default) => {}
        }
    }
    Ok(scopes)
}

/// Feed a scope's MAC input (spec 14.4) to `mac`: a group's (`scope` a
/// group) or the default scope's.
pub(super) fn scope_input<D: hmac::digest::Update>(
    mac: &mut MacBuilder<D>,
    format: Format,
    meta: &Metadata,
    scope: Scope,
    tokens: &[(&KeyPath, &str)],
) {
    let mut pointer = String::new();
    match scope {
        Scope::Group(i) => {
            let g = &meta.groups[i];
            mac.field(crate::crypto::GROUP_MAC_LABEL)
                .field(format.name().as_bytes())
                .field(g.name.as_bytes());
            mac.count(g.keys.len());
            for k in &g.keys {
                mac.field(k.as_bytes());
            }
            mac.count(g.recipients.len());
            for r in &g.recipients {
                mac.field(r.recipient.as_bytes()).field(r.data_key.as_bytes());
            }
        }
        Scope::Default => {
            mac.field(crate::crypto::DEFAULT_MAC_LABEL)
                .field(format.name().as_bytes());
            mac.count(meta.encrypt.len());
            for p in &meta.encrypt {
                mac.field(p.as_bytes());
            }
            mac.count(meta.recipients.len());
            for r in &meta.recipients {
                mac.field(r.recipient.as_bytes()).field(r.data_key.as_bytes());
            }
            mac.count(meta.groups.len());
            for g in &meta.groups {
                mac.field(g.name.as_bytes()).count(g.keys.len());
                for k in &g.keys {
                    mac.field(k.as_bytes());
                }
            }
        }
    }
    mac.count(tokens.len());
    for (path, token) in tokens {
        pointer.clear();
        path.pointer_into(&mut pointer);
        mac.field(pointer.as_bytes()).field(token.as_bytes());
    }
}

/// The MAC key of `scope` from its data key.
fn scope_mac_key(scope: Scope, key: &DataKey) -> MacKey {
    match scope {
        Scope::Default => key.default_mac_key(),
        Scope::Group(_) => key.mac_key(),
    }
}

/// A scope a reader cannot open, as a version of the file has it: the
/// SHA-512 of its MAC input, which a writer without the scope's key
/// compares to be sure it changed nothing that MAC covers, and the MAC.
#[derive(Clone)]
pub struct LockedScope {
    scope: Scope,
    digest: [u8; 64],
    mac: String,
}

/// Verify the MAC of every scope `keys` open (spec 14.4), and return
/// every other scope, for [`seal_scopes`] to keep.
pub(super) fn verify_scopes(
    format: Format,
    meta: &Metadata,
    tokens: &[Vec<(&KeyPath, &str)>],
    keys: &FileKeys,
) -> Result<Vec<LockedScope>, DocError> {
    let mut locked = Vec::new();
    let scopes = std::iter::once(Scope::Default).chain((0..meta.groups.len()).map(Scope::Group));
    for scope in scopes {
        let tokens = &tokens[scope.index()];
        match keys.scope(scope) {
            Some(key) => {
                let mut mac = scope_mac_key(scope, key).mac();
                scope_input(&mut mac, format, meta, scope, tokens);
                let expected = match scope {
                    Scope::Default => &meta.default_mac,
                    Scope::Group(i) => &meta.groups[i].mac,
                };
                if !mac.verify(expected) {
                    return Err(DocError::Tampered);
                }
            }
            None => locked.push(LockedScope {
                scope,
                digest: scope_digest(format, meta, scope, tokens),
                mac: match scope {
                    Scope::Default => meta.default_mac.clone(),
                    Scope::Group(i) => meta.groups[i].mac.clone(),
                },
            }),
        }
    }
    Ok(locked)
}

fn scope_digest(
    format: Format,
    meta: &Metadata,
    scope: Scope,
    tokens: &[(&KeyPath, &str)],
) -> [u8; 64] {
    let mut hash = MacBuilder::for_signature();
    scope_input(&mut hash, format, meta, scope, tokens);
    hash.digest()
}

/// The name of a scope, as errors show it.
pub(super) fn scope_name(meta: &Metadata, scope: Scope) -> String {
    scope_name_of(&meta.groups, scope)
}

pub(super) fn scope_name_of(groups: &[Group], scope: Scope) -> String {
    match scope {
        Scope::Default => "the file's default scope, for its top-level recipients".to_owned(),
        Scope::Group(i) => format!("key group {}", groups[i].name),
    }
}

/// Fill in `meta`'s default and group MACs for a new version: computed
/// where `keys` hold the scope, and where they do not, taken from a
/// version whose scope is exactly this one (`locked`: the locked scopes of
/// the versions this one was made from); else nothing is written.
pub(super) fn seal_scopes(
    format: Format,
    meta: &mut Metadata,
    tokens: &[Vec<(&KeyPath, &str)>],
    keys: &FileKeys,
    locked: &[LockedScope],
) -> Result<(), DocError> {
    let scopes: Vec<Scope> = std::iter::once(Scope::Default)
        .chain((0..meta.groups.len()).map(Scope::Group))
        .collect();
    for scope in scopes {
        let scope_tokens = &tokens[scope.index()];
        let mac = match keys.scope(scope) {
            Some(key) => {
                let mut mac = scope_mac_key(scope, key).mac();
                scope_input(&mut mac, format, meta, scope, scope_tokens);
                mac.finish()
            }
            None => {
                let digest = scope_digest(format, meta, scope, scope_tokens);
                match locked.iter().find(|l| l.scope == scope && l.digest == digest) {
                    Some(kept) => kept.mac.clone(),
                    None => {
                        return Err(DocError::Locked {
                            scope: scope_name(meta, scope),
                        })
                    }
                }
            }
        };
        match scope {
            Scope::Default => meta.default_mac = mac,
            Scope::Group(i) => meta.groups[i].mac = mac,
        }
    }
    Ok(())
}

/// A key group to create: its name, patterns and recipients.
pub struct GroupSpec {
    pub name: String,
    pub keys: Vec<String>,
    pub recipients: Vec<Recipient>,
}

/// Fresh groups for `specs`: a new data key each, wrapped with the file
/// MAC key `file_mac` for every recipient (MACs are filled in by sealing).
pub(super) fn new_groups(
    specs: &[GroupSpec],
    file_mac: &MacKey,
) -> Result<(Vec<Group>, Vec<Option<DataKey>>), DocError> {
    let mut groups = Vec::with_capacity(specs.len());
    let mut keys = Vec::with_capacity(specs.len());
    for spec in specs {
        let key = DataKey::generate();
        let mut seen = std::collections::HashSet::new();
        let recipients = spec
            .recipients
            .iter()
            .filter(|r| seen.insert(r.as_str().to_owned()))
            .map(|r| {
                Ok(crate::metadata::GroupKey {
                    recipient: r.as_str().to_owned(),
                    data_key: r.wrap_secret(key.expose())?,
                    file_key: r.wrap_secret(file_mac.expose())?,
                })
            })
            .collect::<Result<Vec<_>, RecipientError>>()?;
        if recipients.is_empty() {
            return Err(DocError::NoRecipients);
        }
        groups.push(Group {
            name: spec.name.clone(),
            keys: spec.keys.clone(),
            recipients,
            mac: String::new(),
        });
        keys.push(Some(key));
    }
    Ok((groups, keys))
}

/// Whether `groups` are exactly `specs`: the same names, patterns and
/// recipients (as text), in order.
pub fn groups_match(groups: &[Group], specs: &[GroupSpec]) -> bool {
    groups.len() == specs.len()
        && groups.iter().zip(specs).all(|(g, s)| {
            g.name == s.name
                && g.keys == s.keys
                && g.recipients.len() == s.recipients.len()
                && g.recipients
                    .iter()
                    .zip(&s.recipients)
                    .all(|(w, r)| Recipient::same_key(&w.recipient, r.as_str()))
        })
}
