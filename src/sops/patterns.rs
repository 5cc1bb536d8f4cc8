//! seal `encrypt` patterns that select the values SOPS encrypted and leave
//! out those it left in clear: the smallest subtrees holding only
//! encrypted values, each written as a dotted pattern.

use std::collections::BTreeMap;

use crate::path::{KeyPath, Segment};

#[derive(Default)]
struct Node {
    encrypted: bool,
    clear: bool,
    /// Children in document order (the index keeps first appearance).
    children: Vec<(String, Node)>,
    index: BTreeMap<String, usize>,
}

/// Patterns selecting every path marked `true` and none marked `false`;
/// empty (which selects everything) when nothing is marked `false`.
/// Patterns apply to every document, so paths are merged across documents;
/// a path that is encrypted anywhere is selected.
pub fn covering(paths: &[(KeyPath, bool)]) -> Vec<String> {
    let mut root = Node::default();
    for (path, encrypted) in paths {
        let mut node = &mut root;
        mark(node, *encrypted);
        for seg in &path.segments {
            let name = segment_pattern(seg);
            let at = match node.index.get(&name) {
                Some(&i) => i,
                None => {
                    node.children.push((name.clone(), Node::default()));
                    node.index.insert(name, node.children.len() - 1);
                    node.children.len() - 1
                }
            };
            node = &mut node.children[at].1;
            mark(node, *encrypted);
        }
    }
    let mut out = Vec::new();
    if root.clear {
        walk(&root, &mut Vec::new(), &mut out);
    }
    out
}

fn mark(node: &mut Node, encrypted: bool) {
    if encrypted {
        node.encrypted = true;
    } else {
        node.clear = true;
    }
}

fn walk(node: &Node, prefix: &mut Vec<String>, out: &mut Vec<String>) {
    for (name, child) in &node.children {
        prefix.push(name.clone());
        if child.encrypted && !child.clear {
            out.push(prefix.join("."));
        } else if child.encrypted {
            walk(child, prefix, out);
        }
        prefix.pop();
    }
}

/// A path segment as a pattern segment. SOPS decides by mapping keys
/// alone, so every position of a sequence is alike: `*` (which also keeps
/// patterns right when a comment SOPS stored as an item is taken out). A
/// pattern cannot name a key holding `.` or an empty key exactly; `*`
/// stands for those characters, which may select more values (never
/// fewer).
fn segment_pattern(seg: &Segment) -> String {
    match seg {
        Segment::Index(_) => "*".to_owned(),
        Segment::Key(k) if k.is_empty() => "*".to_owned(),
        Segment::Key(k) => k.replace('.', "*"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::selected;

    fn p(doc: usize, segs: &[&str]) -> KeyPath {
        KeyPath::new(
            doc,
            segs.iter()
                .map(|s| match s.parse::<usize>() {
                    Ok(i) => Segment::Index(i),
                    Err(_) => Segment::Key(s.to_string()),
                })
                .collect(),
        )
    }

    #[test]
    fn all_encrypted_needs_no_pattern() {
        assert!(covering(&[(p(0, &["a"]), true), (p(0, &["b", "c"]), true)]).is_empty());
    }

    #[test]
    fn patterns_select_exactly_the_encrypted_values() {
        let paths = [
            (p(0, &["db", "password"]), true),
            (p(0, &["db", "host_unencrypted"]), false),
            (p(0, &["api", "key"]), true),
            (p(0, &["api", "list", "0"]), true),
            (p(0, &["name_unencrypted"]), false),
            (p(1, &["db", "password"]), true),
            (p(0, &["a.b"]), true),
        ];
        let patterns = covering(&paths);
        assert_eq!(patterns, ["db.password", "api", "a*b"]);
        for (path, encrypted) in &paths {
            assert_eq!(selected(&patterns, path), *encrypted, "{path}");
        }
    }
}
