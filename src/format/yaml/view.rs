//! The document as a YAML loader sees it, for reading values (`get`,
//! `exec`, `export`, `decrypt --extract`): aliases give the values of the
//! node they name, and merge keys (`<<`) are resolved as PyYAML's
//! `safe_load` does.
//!
//! This is a view only. Sealing, key-path binding (AAD), `encrypt`
//! patterns and edits work on the tree as written, where `<<` is an
//! ordinary key and an alias is a value of its own (spec/FORMAT.md 4.2).
//!
//! PyYAML's rules, followed here:
//!
//! * A key `<<` written plain (or tagged `!!merge`) merges a mapping, or a
//!   list of mappings, into the mapping that holds it; anything else there
//!   is an error.
//! * Keys written in the merging mapping override merged ones, wherever
//!   the `<<` stands; of a list of mappings, an earlier one overrides a
//!   later one.
//! * Merged keys come first, in the order PyYAML's dict keeps them.

use std::collections::HashMap;

use crate::format::ParseError;
use crate::metadata::RESERVED_KEY;
use crate::path::{KeyPath, Segment};

use super::metadata::Analysis;
use super::tree::{Kind, Node};

/// Most values and entries aliases may add to what a document has
/// written: they can repeat a subtree many times over (the "billion
/// laughs" document), and the view is refused rather than built past this.
const MAX_EXPANSION: usize = 100_000;

/// Deepest path the view may reach: aliases nest anchored subtrees inside
/// each other, past the tree's own depth limit.
const MAX_DEPTH: usize = 1024;

/// Call `f` with the path and node of every value of the view, in order:
/// scalars, empty values, and empty mappings and sequences (which have
/// no values below them). A node reached through an alias is the anchored
/// node itself.
pub(super) fn for_each_value(
    src: &str,
    analysis: &Analysis,
    mut f: impl FnMut(&KeyPath, &Node),
) -> Result<(), ParseError> {
    let mut anchors = HashMap::new();
    let mut written = 0;
    for doc in &analysis.tree.docs {
        if let Some(root) = &doc.root {
            written += index_anchors(root, &mut anchors);
        }
    }
    let mut view = View {
        src,
        anchors,
        expanding: Vec::new(),
        budget: written + MAX_EXPANSION,
    };
    let last = analysis.tree.docs.len().saturating_sub(1);
    for (d, doc) in analysis.tree.docs.iter().enumerate() {
        let Some(root) = &doc.root else { continue };
        if matches!(root.kind, Kind::Empty { .. }) {
            continue;
        }
        let mut path = KeyPath::new(d, Vec::new());
        let skip_meta = d == last && analysis.meta_entry.is_some();
        view.walk(root, &mut path, skip_meta, &mut f)?;
    }
    Ok(())
}

/// Every anchored node by saphyr's anchor id (unique per `&name` written,
/// so a redefined name has a new id and aliases after it get the new node).
/// Returns the number of nodes and entries below `node`, itself included.
fn index_anchors<'t>(node: &'t Node, out: &mut HashMap<usize, &'t Node>) -> usize {
    if node.anchor != 0 {
        out.insert(node.anchor, node);
    }
    match &node.kind {
        Kind::Map { entries, .. } => {
            1 + entries
                .iter()
                .map(|e| 1 + index_anchors(&e.value, out))
                .sum::<usize>()
        }
        Kind::Seq { items, .. } => {
            1 + items
                .iter()
                .map(|i| index_anchors(&i.node, out))
                .sum::<usize>()
        }
        _ => 1,
    }
}

struct View<'t> {
    src: &'t str,
    anchors: HashMap<usize, &'t Node>,
    /// Anchors of the collections being walked or merged: an alias to one
    /// of them makes a recursive structure, which has no flat view.
    expanding: Vec<usize>,
    /// Values and entries the view may still produce.
    budget: usize,
}

impl<'t> View<'t> {
    fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, at, message)
    }

    fn spend(&mut self, at: usize) -> Result<(), ParseError> {
        self.budget = self.budget.checked_sub(1).ok_or_else(|| {
            self.error(
                at,
                format!("the aliases here add more than {MAX_EXPANSION} values to the document"),
            )
        })?;
        Ok(())
    }

    /// The node an alias names (or `node` itself), refusing an alias to a
    /// collection that contains it.
    fn resolve(&self, node: &'t Node) -> Result<&'t Node, ParseError> {
        let Kind::Alias { id, .. } = node.kind else {
            return Ok(node);
        };
        let target = self
            .anchors
            .get(&id)
            .copied()
            .ok_or_else(|| self.error(node.start, "an alias names no anchor"))?;
        if self.expanding.contains(&id) {
            return Err(self.error(
                node.start,
                "this alias names a mapping or sequence that contains it (a recursive structure), which has no list of values",
            ));
        }
        Ok(target)
    }

    fn walk(
        &mut self,
        node: &'t Node,
        path: &mut KeyPath,
        skip_meta: bool,
        f: &mut impl FnMut(&KeyPath, &Node),
    ) -> Result<(), ParseError> {
        if path.segments.len() > MAX_DEPTH {
            return Err(self.error(
                node.start,
                format!("aliases here nest values deeper than {MAX_DEPTH} levels"),
            ));
        }
        let node = self.resolve(node)?;
        let pushed = node.anchor != 0 && matches!(node.kind, Kind::Map { .. } | Kind::Seq { .. });
        if pushed {
            self.expanding.push(node.anchor);
        }
        let result = self.walk_resolved(node, path, skip_meta, f);
        if pushed {
            self.expanding.pop();
        }
        result
    }

    fn walk_resolved(
        &mut self,
        node: &'t Node,
        path: &mut KeyPath,
        skip_meta: bool,
        f: &mut impl FnMut(&KeyPath, &Node),
    ) -> Result<(), ParseError> {
        match &node.kind {
            Kind::Map { entries, .. } => {
                let merges = entries
                    .iter()
                    .any(|e| e.key == "<<" && self.is_merge_key(e.start, e.key_start, e.key_end));
                // Most mappings merge nothing: their entries are the view's.
                let entries: Vec<(&'t str, &'t Node)> = if merges {
                    self.entries(node)?
                } else {
                    entries.iter().map(|e| (e.key.as_str(), &e.value)).collect()
                };
                if entries.is_empty() {
                    // An empty mapping is a value of its own.
                    self.spend(node.start)?;
                    f(path, node);
                }
                for (key, value) in entries {
                    if skip_meta && key == RESERVED_KEY {
                        continue;
                    }
                    path.segments.push(Segment::Key(key.to_owned()));
                    self.walk(value, path, false, f)?;
                    path.segments.pop();
                }
            }
            Kind::Seq { items, .. } => {
                if items.is_empty() {
                    self.spend(node.start)?;
                    f(path, node);
                }
                for (i, item) in items.iter().enumerate() {
                    path.segments.push(Segment::Index(i));
                    self.walk(&item.node, path, false, f)?;
                    path.segments.pop();
                }
            }
            _ => {
                self.spend(node.start)?;
                f(path, node);
            }
        }
        Ok(())
    }

    /// Whether an entry's key is a merge key: `<<` written plain, untagged
    /// or tagged `!!merge` (what PyYAML's resolver gives the merge tag).
    fn is_merge_key(&self, start: usize, key_start: usize, key_end: usize) -> bool {
        if self.src.get(key_start..key_end) != Some("<<") {
            return false;
        }
        let props = self.src.get(start..key_start).unwrap_or("");
        let props = props.trim_start_matches('?');
        props
            .split_whitespace()
            .all(|p| !p.starts_with('!') || p == "!!merge")
    }

    /// The entries of a mapping after its merge keys are resolved, in the
    /// order of the dict PyYAML builds (see the module docs).
    fn entries(&mut self, map: &'t Node) -> Result<Vec<(&'t str, &'t Node)>, ParseError> {
        let Kind::Map { entries, .. } = &map.kind else {
            return Ok(Vec::new());
        };
        // Merges of merges recurse once per level: keep the stack shallow.
        if self.expanding.len() > MAX_DEPTH {
            return Err(self.error(
                map.start,
                format!("merge keys here nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        let mut merged: Vec<(&'t str, &'t Node)> = Vec::new();
        let mut own: Vec<(&'t str, &'t Node)> = Vec::new();
        for e in entries {
            self.spend(e.start)?;
            if !self.is_merge_key(e.start, e.key_start, e.key_end) {
                own.push((e.key.as_str(), &e.value));
                continue;
            }
            let not_mergeable = || {
                self.error(
                    e.key_start,
                    "a merge key (`<<`) must be given a mapping, an alias of one, or a list of them",
                )
            };
            let value = self.resolve(&e.value)?;
            let sources: Vec<&'t Node> = match &value.kind {
                Kind::Map { .. } => vec![value],
                Kind::Seq { items, .. } => {
                    // Of a list, an earlier mapping overrides a later one:
                    // PyYAML merges the list in reverse.
                    let mut maps = Vec::with_capacity(items.len());
                    for item in items.iter().rev() {
                        let m = self.resolve(&item.node)?;
                        if !matches!(m.kind, Kind::Map { .. }) {
                            return Err(not_mergeable());
                        }
                        maps.push(m);
                    }
                    maps
                }
                _ => return Err(not_mergeable()),
            };
            for source in sources {
                let pushed = source.anchor != 0;
                if pushed {
                    self.expanding.push(source.anchor);
                }
                let result = self.entries(source);
                if pushed {
                    self.expanding.pop();
                }
                merged.extend(result?);
            }
        }
        // A dict filled in order: a later key replaces an earlier one's
        // value and keeps its place.
        let mut out: Vec<(&'t str, &'t Node)> = Vec::with_capacity(merged.len() + own.len());
        let mut place: HashMap<&'t str, usize> = HashMap::new();
        for (key, value) in merged.into_iter().chain(own) {
            match place.get(key) {
                Some(&i) => out[i].1 = value,
                None => {
                    place.insert(key, out.len());
                    out.push((key, value));
                }
            }
        }
        Ok(out)
    }
}
