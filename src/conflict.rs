//! Unresolved merge conflicts in a sealed file, told apart from damage so
//! the user hears what happened and how to finish the merge.
//!
//! Two kinds exist. Git's own line merge (no `merge=seal` attribute for
//! the file) writes conflict markers into the sealed file, which then no
//! longer parses: [`git_conflicts`] finds them and the key paths between
//! them. seal's merge driver keeps the file valid and seals each
//! conflicting value as both candidates between markers: those values are
//! found after opening (`Opened::conflicted_paths`).

use crate::format::Format;

/// One conflict git wrote: 1-based line numbers of its `<<<<<<<` and
/// `>>>>>>>` lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hunk {
    pub start: usize,
    pub end: usize,
}

/// Git's conflicts in `text`, and the key paths inside them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitConflicts {
    pub hunks: Vec<Hunk>,
    /// Key paths of the values inside the hunks, read from each side's
    /// version of the file; `None` when neither side's version parses.
    pub paths: Option<Vec<String>>,
    /// Whether a hunk is in seal's metadata block (it always is when both
    /// sides changed the file: each rewrote the MAC).
    pub metadata: bool,
}

/// Which part of a conflict a line is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Outside,
    Ours,
    /// The common ancestor's lines (`merge.conflictStyle = diff3`).
    Base,
    Theirs,
}

fn marker(line: &str, m: &str) -> bool {
    let line = line.trim_end_matches(['\n', '\r']);
    line.strip_prefix(m)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// A line of the file and the part of a conflict it is in (`None` for a
/// marker line).
type Line<'t> = (&'t str, Option<Part>);

/// Each line of `text` with the part it is in, or `None` when `text` has
/// no complete conflict.
fn classify(text: &str) -> Option<(Vec<Line<'_>>, Vec<Hunk>)> {
    // Most files have no marker at all: one search says so.
    memchr::memmem::find(text.as_bytes(), b"<<<<<<<")?;
    let mut lines = Vec::new();
    let mut hunks = Vec::new();
    let mut part = Part::Outside;
    let mut start = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let next = match part {
            Part::Outside if marker(line, "<<<<<<<") => {
                start = i;
                Some(Part::Ours)
            }
            Part::Ours if marker(line, "|||||||") => Some(Part::Base),
            Part::Ours | Part::Base if marker(line, "=======") => Some(Part::Theirs),
            Part::Theirs if marker(line, ">>>>>>>") => {
                hunks.push(Hunk {
                    start: start + 1,
                    end: i + 1,
                });
                Some(Part::Outside)
            }
            _ => None,
        };
        match next {
            Some(p) => {
                part = p;
                lines.push((line, None));
            }
            None => lines.push((line, Some(part))),
        }
    }
    if hunks.is_empty() {
        return None;
    }
    Some((lines, hunks))
}

/// Git's conflict markers in `text` (a file of `format`), if it has any.
pub fn git_conflicts(format: Format, text: &str) -> Option<GitConflicts> {
    let (lines, hunks) = classify(text)?;
    let mut paths: Option<Vec<String>> = None;
    let mut metadata = false;
    for side in [Part::Ours, Part::Theirs] {
        // This side's version of the file, and which of its lines were in
        // a conflict.
        let mut version = String::with_capacity(text.len());
        let mut conflicted = Vec::new();
        for (line, part) in &lines {
            match part {
                Some(Part::Outside) => conflicted.push(false),
                Some(p) if *p == side => conflicted.push(true),
                _ => continue,
            }
            version.push_str(line);
        }
        let Ok(scan) = format.scan(&version) else {
            continue;
        };
        let starts: Vec<usize> = std::iter::once(0)
            .chain(version.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let line_of = |at: usize| starts.partition_point(|&s| s <= at).saturating_sub(1);
        let touches = |from: usize, to: usize| {
            (line_of(from)..=line_of(to)).any(|l| conflicted.get(l).copied().unwrap_or(false))
        };
        let found = paths.get_or_insert_with(Vec::new);
        for leaf in &scan.leaves {
            let path = leaf.path.to_string();
            if touches(leaf.span.start, leaf.span.end) && !found.contains(&path) {
                found.push(path);
            }
        }
        if let Some(block) = &scan.metadata {
            metadata |= touches(block.region.start, block.region.end.saturating_sub(1));
        }
    }
    Some(GitConflicts {
        hunks,
        paths,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_markers_are_found_with_the_key_paths_between_them() {
        let text =
            "a: 1\n<<<<<<< HEAD\nb: ours\n=======\nb: theirs\nc: new\n>>>>>>> theirs\nd: 4\n";
        let found = git_conflicts(Format::Yaml, text).unwrap();
        assert_eq!(found.hunks, [Hunk { start: 2, end: 7 }]);
        assert_eq!(found.paths.unwrap(), ["b", "c"]);
        // diff3 style, dotenv, CRLF.
        let text = "A=1\r\n<<<<<<< ours\r\nB=2\r\n||||||| base\r\nB=0\r\n=======\r\nB=3\r\n>>>>>>> theirs\r\n";
        let found = git_conflicts(Format::Dotenv, text).unwrap();
        assert_eq!(found.hunks, [Hunk { start: 2, end: 8 }]);
        assert_eq!(found.paths.unwrap(), ["B"]);
        // Neither side parses: lines only.
        let text = "{\"a\": 1,\n<<<<<<< HEAD\n\"b\": [\n=======\n\"b\": {\n>>>>>>> x\n}\n";
        let found = git_conflicts(Format::Json, text).unwrap();
        assert_eq!(found.paths, None);
        assert_eq!(found.hunks, [Hunk { start: 2, end: 6 }]);
    }

    #[test]
    fn text_without_a_whole_conflict_has_none() {
        assert_eq!(git_conflicts(Format::Yaml, "a: 1\n"), None);
        assert_eq!(git_conflicts(Format::Yaml, "a: <<<<<<< x\n"), None);
        assert_eq!(
            git_conflicts(Format::Yaml, "<<<<<<< x\na: 1\n=======\n"),
            None
        );
        // seal's own conflict block is inside a value, not at line start
        // of the sealed file.
        assert_eq!(
            git_conflicts(
                Format::Yaml,
                "a: |\n  <<<<<<< ours\n  x\n  =======\n  y\n  >>>>>>> theirs\n"
            ),
            None
        );
    }
}
