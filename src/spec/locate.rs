//! Finding the line and column of a key path (`training.optimizer.lr`) in YAML text.
//!
//! Specs are deserialized from a parsed value tree (so that overrides can be applied first),
//! which forgets positions; this scan recovers them for error messages. It understands block
//! mappings, sequences and one-line flow mappings, which is what specs are written in; when a
//! key cannot be found it returns the position of the deepest parent it found.

/// A segment of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

struct Line<'a> {
    indent: usize,
    text: &'a str,
}

fn lines(text: &str) -> Vec<Option<Line<'_>>> {
    text.lines()
        .map(|l| {
            let trimmed = l.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                None
            } else {
                Some(Line { indent: l.len() - trimmed.len(), text: l })
            }
        })
        .collect()
}

/// Returns the 1-based (line, column) of the deepest segment of `path` found in `text`.
pub fn locate(text: &str, path: &[Segment]) -> Option<(usize, usize)> {
    let lines = lines(text);
    let mut found: Option<(usize, usize)> = None;
    // Search window: lines [start, end) whose indent is > parent_indent.
    let mut start = 0usize;
    let mut parent_indent: Option<usize> = None;
    for seg in path {
        let Segment::Key(key) = seg else {
            // Sequence items: keep the parent position; good enough for messages.
            continue;
        };
        let mut hit = None;
        let mut i = start;
        while i < lines.len() {
            if let Some(l) = &lines[i] {
                if parent_indent.is_some_and(|p| l.indent <= p) {
                    break; // left the parent's block
                }
                let body = l.text[l.indent..].trim_start_matches("- ");
                let offset = l.text.len() - body.len();
                if body.starts_with(&format!("{key}:")) && parent_indent.map_or(offset == 0, |p| offset > p) {
                    hit = Some((i, offset));
                    break;
                }
            }
            i += 1;
        }
        match hit {
            Some((i, col)) => {
                found = Some((i + 1, col + 1));
                parent_indent = Some(col);
                start = i + 1;
            }
            None => {
                // A one-line flow mapping on the parent's line: `optimizer: { kind: adam, lr: 1 }`.
                if let Some((pl, _)) = found {
                    if let Some(Some(l)) = lines.get(pl - 1) {
                        let needle_a = format!("{{{key}:");
                        let needle_b = format!(" {key}:");
                        let needle_c = format!(",{key}:");
                        for n in [needle_a, needle_b, needle_c] {
                            if let Some(pos) = l.text.find(&n) {
                                let col = pos + n.len() - key.len() - 1;
                                return Some((pl, col + 1));
                            }
                        }
                    }
                }
                return found;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<Segment> {
        s.split('.').map(|k| Segment::Key(k.to_string())).collect()
    }

    const TEXT: &str = "name: a\n# comment\ndataset:\n  simulator: linear_gaussian\n  n_train: 5\nmodel:\n  kind: gaussian\n  hiden: [1]\ntraining:\n  optimizer: { kind: adam, lr: -1 }\n  batch_size: 3\n";

    #[test]
    fn finds_nested_keys() {
        assert_eq!(locate(TEXT, &p("name")), Some((1, 1)));
        assert_eq!(locate(TEXT, &p("dataset.n_train")), Some((5, 3)));
        assert_eq!(locate(TEXT, &p("model.hiden")), Some((8, 3)));
        assert_eq!(locate(TEXT, &p("training.batch_size")), Some((11, 3)));
    }

    #[test]
    fn finds_keys_in_flow_mappings() {
        assert_eq!(locate(TEXT, &p("training.optimizer.lr")), Some((10, 28)));
    }

    #[test]
    fn does_not_leave_the_parent_block() {
        // `kind` exists under model, not under dataset: fall back to `dataset`.
        assert_eq!(locate(TEXT, &p("dataset.kind")), Some((3, 1)));
        assert_eq!(locate(TEXT, &p("nothing")), None);
    }
}
