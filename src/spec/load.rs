//! Reading a spec file: YAML text → value tree → overrides → typed [`Spec`] → validated.

use super::locate::{locate, Segment};
use super::overrides::Override;
use super::plan::Plan;
use super::suggest::nearest;
use super::types::Spec;
use super::validate::validate;
use super::SpecError;
use serde_norway::Value;
use std::path::Path;

/// Reads, parses, overrides, validates and resolves the spec at `path`: the one way to a [`Plan`].
pub fn load(path: &Path, overrides: &[String]) -> Result<Plan, SpecError> {
    read_spec(path, overrides).map(Plan::resolve)
}

/// Parses, overrides, validates and resolves spec `text` (named `file` in messages).
pub fn parse(file: &str, text: &str, overrides: &[String]) -> Result<Plan, SpecError> {
    parse_text(file, text, overrides).map(Plan::resolve)
}

/// Reads, parses, overrides and validates the spec at `path`, as written (defaults undecided).
fn read_spec(path: &Path, overrides: &[String]) -> Result<Spec, SpecError> {
    let file = path.display().to_string();
    if path.exists() && !path.is_file() {
        return Err(SpecError::new(&file, "is not a regular file").help("a spec is a YAML text file, e.g. experiments/linear_gaussian.yaml"));
    }
    let text = match read_bounded(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            return Err(SpecError::new(&file, format!("is larger than {} KiB", MAX_SPEC_BYTES / 1024))
                .help("a spec is a short YAML file; data belong in files a `files` simulator names"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SpecError::new(&file, "no such file").help("check the path; experiments live in experiments/*.yaml"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(SpecError::new(&file, "not a text file (invalid UTF-8)").help("a spec is a YAML text file"))
        }
        Err(e) => return Err(SpecError::new(&file, format!("cannot read: {e}"))),
    };
    // Files a spec names are found beside it, wherever ndelab is started from.
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parse_spec_at(&file, &text, overrides, Some(base))
}

/// The largest spec file read (a spec is a few kilobytes; this stops a device or a data file
/// named by mistake from being read to the end).
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

/// Deepest nesting of `[` and `{` a spec may have (parsing deeper ones takes time quadratic in
/// the depth; real specs nest three or four levels).
pub const MAX_NESTING: usize = 64;

/// Reads at most [`MAX_SPEC_BYTES`] of a text file.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(MAX_SPEC_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(std::io::Error::from(std::io::ErrorKind::FileTooLarge));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))
}

/// The line of the first bracket nested deeper than [`MAX_NESTING`] (quotes and comments
/// skipped), if any.
fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut line, mut quote, mut comment) = (0usize, 1usize, None::<char>, false);
    let mut prev = ' ';
    for c in text.chars() {
        match (quote, c) {
            (_, '\n') => {
                line += 1;
                comment = false;
            }
            _ if comment => {}
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '#') if prev.is_whitespace() => comment = true,
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(line);
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
    }
    None
}

/// Parses spec `text` (named `file` in messages), applies `overrides` and validates; relative
/// paths in it are read from the working folder.
fn parse_text(file: &str, text: &str, overrides: &[String]) -> Result<Spec, SpecError> {
    parse_spec_at(file, text, overrides, None)
}

/// [`parse_text`], with the relative paths the spec names resolved against `base`.
fn parse_spec_at(file: &str, text: &str, overrides: &[String], base: Option<&Path>) -> Result<Spec, SpecError> {
    // Editors on Windows may start a UTF-8 file with a byte-order mark; it is not content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(line) = too_deep(text) {
        return Err(SpecError::new(file, format!("nests lists or mappings more than {MAX_NESTING} levels deep")).at(Some((line, 1))));
    }
    if text.trim().is_empty() || text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(SpecError::new(file, "the spec is empty")
            .help("a spec needs at least `name`, `dataset` and `model`; see experiments/linear_gaussian.yaml"));
    }
    // serde_norway appends " at line L column C"; the location is printed in front instead.
    let mut root = yaml_tree(file, text)?;
    if !root.is_mapping() {
        return Err(SpecError::new(file, format!("expected a mapping of sections (name, dataset, model, ...), found {}", crate::config::tagged::kind_of(&root)))
            .at(Some((1, 1))));
    }
    for raw in overrides {
        let o = Override::parse(raw).map_err(|m| SpecError::new(file, m.to_string()))?;
        o.apply(&mut root).map_err(|m| SpecError::new(file, m.to_string()))?;
    }
    let mut spec: Spec = typed(file, text, &root, overrides)?;
    if let Some(base) = base {
        for note in spec.dataset.simulator.resolve_paths(base) {
            crate::ui::note!("{note}");
        }
    }
    validate(&spec).map_err(|v| {
        let path: Vec<Segment> = v.key.split('.').map(|k| Segment::Key(k.to_string())).collect();
        let mut err = SpecError::new(file, format!("`{}`: {}", v.key, v.message)).at(position(text, &path, overrides));
        if let Some(h) = v.help {
            err = err.help(h);
        }
        blame(err, &path, overrides)
    })?;
    Ok(spec)
}

/// Deserializes a parsed YAML tree into `T`, turning serde's errors into messages that name
/// the file, line and column, the key path and the fix.
pub fn typed<T: serde::de::DeserializeOwned>(file: &str, text: &str, root: &Value, overrides: &[String]) -> Result<T, SpecError> {
    serde_path_to_error::deserialize(root.clone()).map_err(|e| {
        let mut path = segments(e.path());
        let mut inner = e.inner().to_string();
        // Errors inside `kind`-tagged sections carry their own path; splice it in.
        let mark = crate::config::tagged::PATH_MARK;
        if let Some(start) = inner.find(mark) {
            let rest = &inner[start + mark.len_utf8()..];
            if let Some((sub, msg)) = rest.split_once(mark) {
                for part in sub.split('.') {
                    match part.strip_prefix('[').and_then(|p| p.strip_suffix(']')).and_then(|p| p.parse().ok()) {
                        Some(i) => path.push(Segment::Index(i)),
                        None => path.push(Segment::Key(part.to_string())),
                    }
                }
                inner = msg.to_string();
            }
        }
        blame(describe(file, text, &root, &path, &inner, overrides), &path, overrides)
    })
}

/// Parses YAML text into a value tree; syntax errors carry their line and column.
pub fn yaml_tree(file: &str, text: &str) -> Result<Value, SpecError> {
    serde_norway::from_str(text).map_err(|e| {
        let loc = e.location().map(|l| (l.line(), l.column()));
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        let err = SpecError::new(file, format!("not valid YAML: {msg}")).at(loc);
        // YAML forbids tabs in indentation; say so where the line starts with one.
        let line = loc.and_then(|(l, _)| text.lines().nth(l.saturating_sub(1)));
        if line.is_some_and(|l| l.trim_start_matches(' ').starts_with('\t')) {
            err.help("indent with spaces: YAML does not allow tabs in indentation")
        } else {
            err
        }
    })
}

fn segments(path: &serde_path_to_error::Path) -> Vec<Segment> {
    use serde_path_to_error::Segment as S;
    path.iter()
        .filter_map(|s| match s {
            S::Map { key } => Some(Segment::Key(key.clone())),
            S::Seq { index } => Some(Segment::Index(*index)),
            S::Enum { variant } => Some(Segment::Key(variant.clone())),
            S::Unknown => None,
        })
        .collect()
}

fn dotted(path: &[Segment]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Segment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The command-line override that set a key path, if any.
fn overriding<'a>(path: &[Segment], overrides: &'a [String]) -> Option<&'a str> {
    let key: String = dotted(path).split('[').next().unwrap_or("").to_string();
    let nested = |outer: &str, inner: &str| inner == outer || inner.starts_with(&format!("{outer}."));
    overrides.iter().rev().map(String::as_str).find(|o| {
        let k = o.trim_start_matches(['+', '~']).split('=').next().unwrap_or("");
        !k.is_empty() && !key.is_empty() && nested(k, &key)
    })
}

/// Position of a key path: in the file, or nowhere if an override set it.
fn position(text: &str, path: &[Segment], overrides: &[String]) -> Option<(usize, usize)> {
    match overriding(path, overrides) {
        Some(_) => None,
        None => locate(text, path),
    }
}

/// Adds "set on the command line by ..." when an override is the culprit.
fn blame(err: SpecError, path: &[Segment], overrides: &[String]) -> SpecError {
    match overriding(path, overrides) {
        Some(o) => err.help(format!("set on the command line by `{o}`")),
        None => err,
    }
}

/// Turns serde's message about `path` into one that names the place, the key and the fix.
fn describe(file: &str, text: &str, root: &Value, path: &[Segment], inner: &str, overrides: &[String]) -> SpecError {
    // serde_path_to_error's path ends at the mapping that holds an unknown field.
    if let Some(rest) = inner.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        // For plain structs the path already ends with the unknown key; for tagged enums it does not.
        let path = match path.split_last() {
            Some((Segment::Key(k), parent)) if k == field => parent,
            _ => path,
        };
        let mut full = path.to_vec();
        full.push(Segment::Key(field.to_string()));
        let parent = dotted(path);
        let place = if parent.is_empty() { "the spec".to_string() } else { format!("`{parent}`") };
        let kind =
            lookup(root, path).and_then(|v| v.get("kind")).and_then(Value::as_str).map(|k| format!(" (kind: {k})")).unwrap_or_default();
        let mut err = SpecError::new(file, format!("unknown field `{field}` in {place}{kind}")).at(position(text, &full, overrides));
        if expected.is_empty() {
            err = err.help("this section takes no fields");
        } else {
            err = err.help(format!("expected one of: {}", expected.join(", ")));
            if let Some(n) = nearest(field, &expected) {
                err = err.help(format!("did you mean `{n}`?"));
            }
        }
        return err;
    }
    if let Some(rest) = inner.strip_prefix("unknown variant `") {
        let (value, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        // A tag (`kind: ...`) error reports the enum's own path; point at its `kind` key.
        let mut at = path.to_vec();
        if lookup(root, path).is_some_and(|v| v.get("kind").is_some()) {
            at.push(Segment::Key("kind".into()));
        }
        let mut err = SpecError::new(file, format!("`{}`: unknown value `{value}`", dotted(&at)))
            .at(position(text, &at, overrides))
            .help(format!("expected one of: {}", expected.join(", ")));
        if let Some(n) = nearest(value, &expected) {
            err = err.help(format!("did you mean `{n}`?"));
        }
        return if at.len() > path.len() { blame(err, &at, overrides) } else { err };
    }
    if let Some(rest) = inner.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        let mut full = path.to_vec();
        full.push(Segment::Key(field.to_string()));
        let parent = dotted(path);
        let place = if parent.is_empty() { "the spec".to_string() } else { format!("`{parent}`") };
        return SpecError::new(file, format!("missing field `{}` in {place}", dotted(&full)))
            .at(position(text, path, overrides))
            .help(format!("add `{field}:`; see experiments/linear_gaussian.yaml"));
    }
    let key = dotted(path);
    let msg = inner.split(" at line ").next().unwrap_or(inner);
    // A message may carry its fix on the lines after the first.
    let mut lines = msg.lines();
    let first = lines.next().unwrap_or_default();
    let first = if key.is_empty() { first.to_string() } else { format!("`{key}`: {first}") };
    lines.fold(SpecError::new(file, first).at(position(text, path, overrides)), |err, help| err.help(help))
}

fn lookup<'a>(root: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    let mut v = root;
    for s in path {
        v = match s {
            Segment::Key(k) => v.get(k.as_str())?,
            Segment::Index(i) => v.get(*i)?,
        };
    }
    Some(v)
}
