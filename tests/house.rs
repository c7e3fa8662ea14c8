//! The shape of the source tree, checked: the layer order of src/lib.rs holds (no module names
//! one of a later layer, so no cycle), functions stay short, every `unsafe fn` says what its
//! caller must ensure, and only the user-facing layers print.

use crate::util::root;
use std::path::{Path, PathBuf};

/// The layers, lowest first: a module may name modules of its own layer's folder and of
/// earlier layers only. src/lib.rs and docs/architecture.md state the same order.
const LAYERS: &[&str] =
    &["ui", "math", "config", "store", "interrupt", "sim", "data", "nn", "train", "reference", "eval", "report", "spec", "pipeline", "sweep", "app", "cli"];

/// Longest function body, in lines (signature to closing brace).
const MAX_FUNCTION_LINES: usize = 80;

/// Longest cli.rs: clap's types and the dispatch, nothing else.
const MAX_CLI_LINES: usize = 350;

/// Where printing is allowed: the progress/log interface and the commands.
fn may_print(file: &str) -> bool {
    file == "src/ui.rs" || file == "src/main.rs" || file.starts_with("src/app/")
}

struct Source {
    /// Path relative to the repository root, with `/`.
    name: String,
    /// The text with comments, strings and character literals blanked (newlines kept).
    code: String,
    /// The text as written.
    text: String,
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
            Source { name, code: blank_non_code(&text), text }
        })
        .collect()
}

/// `text` with comments, string and character literals replaced by spaces, so that what
/// they say is not read as code; line numbers are kept.
fn blank_non_code(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let ident_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if b[i..].starts_with(b"//") {
            let end = b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let (mut depth, mut j) = (1, i + 2);
            while j < b.len() && depth > 0 {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if b[i] == b'r' && !ident_before && matches!(b.get(i + 1), Some(b'"' | b'#')) {
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat(b'#').take(hashes)).collect();
            let start = i + 2 + hashes;
            let end = b[start..].windows(close.len()).position(|w| w == close.as_slice()).map_or(b.len(), |p| start + p + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if b[i] == b'\'' {
            // A character literal ('a', '\n', '\u{1}'), not a lifetime ('a).
            let len = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..].iter().position(|&c| c == b'\'').map(|p| p + 3)
            } else {
                let ch = std::str::from_utf8(&b[i + 1..]).ok().or_else(|| std::str::from_utf8(&b[i + 1..(i + 5).min(b.len())]).ok());
                ch.and_then(|s| s.chars().next()).map(char::len_utf8).filter(|&n| b.get(i + 1 + n) == Some(&b'\'')).map(|n| n + 2)
            };
            match len {
                Some(n) => {
                    blank(&mut out, i, i + n);
                    i += n;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn line_of(code: &str, at: usize) -> usize {
    code[..at].matches('\n').count() + 1
}

/// The top-level module a file of src/ belongs to: its folder, or its own name.
fn module_of(file: &str) -> &str {
    let rest = file.trim_start_matches("src/");
    match rest.split_once('/') {
        Some((folder, _)) => folder,
        None => rest.trim_end_matches(".rs"),
    }
}

/// Every top-level module a file names through `crate::`, with the line.
fn named_modules(code: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && code.as_bytes()[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::c}`: the first name of each item, at this brace level.
            let (mut depth, mut item_start) = (0usize, true);
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_ascii_alphabetic() || c == '_') => {
                        out.push((ident(&group[k..]), line_of(code, at)));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push((ident(rest), line_of(code, at)));
        }
    }
    out
}

#[test]
fn no_module_names_one_of_a_later_layer() {
    let layer = |m: &str| LAYERS.iter().position(|&l| l == m);
    let mut wrong = Vec::new();
    for s in sources() {
        let own = module_of(&s.name);
        if own == "lib" || own == "main" {
            continue;
        }
        let Some(mine) = layer(own) else {
            wrong.push(format!("{}: module `{own}` is in no layer; add it to LAYERS, src/lib.rs and docs/architecture.md", s.name));
            continue;
        };
        for (m, line) in named_modules(&s.code) {
            match layer(&m) {
                Some(theirs) if theirs > mine => wrong.push(format!("{}:{line}: `{own}` names `crate::{m}`, a later layer", s.name)),
                None if !m.is_empty() => wrong.push(format!("{}:{line}: `crate::{m}` is in no layer", s.name)),
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "the layer order ({}) is broken:\n{}", LAYERS.join(" → "), wrong.join("\n"));
}

#[test]
fn the_layer_order_is_stated_once_and_the_same_everywhere() {
    let order = LAYERS.join(" → ");
    for doc in ["src/lib.rs", "docs/architecture.md"] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        assert!(text.contains(&order), "{doc} does not state the layer order `{order}`");
    }
}

/// (name, first line, lines) of every function with a body.
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = code[from..].find("fn ") {
        let at = from + p;
        from = at + 3;
        if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_') {
            continue;
        }
        let name: String = code[at + 3..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            continue;
        }
        // The body opens at the first `{` outside the signature's brackets; `;` means none.
        let (mut depth, mut j) = (0i32, at);
        while j < b.len() {
            match b[j] {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b';' if depth == 0 => break,
                b'{' if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        if j >= b.len() || b[j] == b';' {
            continue;
        }
        let (mut braces, mut k) = (0i32, j);
        while k < b.len() {
            match b[k] {
                b'{' => braces += 1,
                b'}' => {
                    braces -= 1;
                    if braces == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        let (first, last) = (line_of(code, at), line_of(code, k.min(b.len())));
        out.push((name, first, last - first + 1));
    }
    out
}

#[test]
fn no_function_is_longer_than_80_lines() {
    let mut long = Vec::new();
    for s in sources() {
        for (name, line, lines) in functions(&s.code) {
            if lines > MAX_FUNCTION_LINES {
                long.push(format!("{}:{line}: fn {name} has {lines} lines", s.name));
            }
        }
    }
    assert!(long.is_empty(), "functions over {MAX_FUNCTION_LINES} lines (split them):\n{}", long.join("\n"));
}

#[test]
fn every_unsafe_fn_says_what_its_caller_must_ensure() {
    let mut missing = Vec::new();
    for s in sources() {
        let lines: Vec<&str> = s.text.lines().collect();
        for (at, _) in s.code.match_indices("unsafe fn ") {
            let line = line_of(&s.code, at);
            // The doc comment and attributes above the signature.
            let doc = lines[..line - 1].iter().rev().take_while(|l| {
                let t = l.trim_start();
                t.starts_with("///") || t.starts_with("#[")
            });
            if !doc.into_iter().any(|l| l.trim_start().starts_with("/// # Safety")) {
                missing.push(format!("{}:{line}", s.name));
            }
        }
    }
    assert!(missing.is_empty(), "`unsafe fn` without a `# Safety` section in its doc comment:\n{}", missing.join("\n"));
}

#[test]
fn every_unsafe_block_says_why_it_is_sound() {
    let mut missing = Vec::new();
    for s in sources() {
        let lines: Vec<&str> = s.text.lines().collect();
        for (at, _) in s.code.match_indices("unsafe {") {
            let line = line_of(&s.code, at);
            // A `// SAFETY:` comment on the block's line or in the few lines above it.
            if !lines[line.saturating_sub(9)..line].iter().any(|l| l.contains("SAFETY")) {
                missing.push(format!("{}:{line}", s.name));
            }
        }
    }
    assert!(missing.is_empty(), "`unsafe` blocks without a `// SAFETY:` comment:\n{}", missing.join("\n"));
}

#[test]
fn only_the_interface_and_the_commands_print() {
    let mut printing = Vec::new();
    for s in sources().iter().filter(|s| !may_print(&s.name)) {
        for mac in ["println!", "eprintln!", "print!", "eprint!"] {
            for (at, _) in s.code.match_indices(mac) {
                let before = s.code.as_bytes()[at.saturating_sub(1)];
                if at == 0 || !(before.is_ascii_alphanumeric() || before == b'_') {
                    printing.push(format!("{}:{}: {mac}", s.name, line_of(&s.code, at)));
                }
            }
        }
    }
    assert!(printing.is_empty(), "library stages report through ndelab::ui, not by printing:\n{}", printing.join("\n"));
}

#[test]
fn cli_holds_arguments_and_dispatch_only() {
    let lines = std::fs::read_to_string(root().join("src/cli.rs")).unwrap().lines().count();
    assert!(lines <= MAX_CLI_LINES, "src/cli.rs has {lines} lines, more than {MAX_CLI_LINES}: move what a command does into src/app/");
}

#[test]
fn the_checker_sees_what_it_checks() {
    // The scanner itself: a name in a comment or string is not an import, a grouped import is.
    let code = blank_non_code("// crate::cli\nlet s = \"crate::app\";\nuse crate::{math::Mat, store};\nfn f<'a>(c: char) { let _ = 'x'; }\n");
    let named: Vec<String> = named_modules(&code).into_iter().map(|(m, _)| m).collect();
    assert_eq!(named, ["math", "store"]);
    assert_eq!(functions(&code), [("f".to_string(), 4, 1)]);
    assert_eq!(module_of("src/nn/kernels/gemm.rs"), "nn");
    assert_eq!(module_of("src/cli.rs"), "cli");
}
