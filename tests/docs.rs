//! The documentation points at things that exist: every relative link of README.md,
//! CHANGELOG.md, docs/ and results/README.md resolves to a file (and its `#anchor` to a
//! heading), and every experiment they name is shipped.

use crate::util::root;
use std::path::{Path, PathBuf};

fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md"), root().join("CHANGELOG.md"), root().join("results/README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The text outside fenced code blocks (links in code are examples, not links).
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The targets of `[text](target)` links.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// GitHub's anchor of a heading: lower case, spaces to `-`, other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(page: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(page).unwrap_or_default();
    prose(&text).lines().filter(|l| l.starts_with('#')).map(|l| anchor(l.trim_start_matches('#'))).collect()
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        for target in links(&prose(&text)) {
            if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, hash) = target.split_once('#').map_or((target.as_str(), None), |(f, h)| (f, Some(h)));
            let dest = if file.is_empty() { page.clone() } else { page.parent().unwrap().join(file) };
            let name = page.strip_prefix(root()).unwrap().display().to_string();
            if !dest.exists() {
                broken.push(format!("{name}: `{target}`: no such file"));
            } else if let Some(h) = hash.filter(|_| dest.extension().is_some_and(|x| x == "md")) {
                if !anchors(&dest).iter().any(|a| a == h) {
                    broken.push(format!("{name}: `{target}`: no heading with that anchor"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked > 40, "only {checked} links found; is the scanner reading the pages?");
}

#[test]
fn every_experiment_the_docs_name_is_shipped() {
    let mut missing = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for (at, _) in text.match_indices("experiments/") {
            let path: String =
                text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')).collect();
            if path.ends_with(".yaml") && !root().join(&path).is_file() {
                missing.push(format!("{name}: {path}"));
            }
        }
        for (at, _) in text.match_indices("NAME=") {
            let exp: String = text[at + 5..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let shipped = root().join(format!("experiments/{exp}.yaml")).is_file() || root().join(format!("experiments/sweeps/{exp}.yaml")).is_file();
            if !exp.is_empty() && exp != "NAME" && !shipped {
                missing.push(format!("{name}: NAME={exp}"));
            }
        }
    }
    assert!(missing.is_empty(), "named but not shipped:\n{}", missing.join("\n"));
}

#[test]
fn every_source_file_the_docs_name_exists() {
    let mut missing = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for folder in ["src/", "bench/", "scripts/", "examples/", "tests/"] {
            for (at, _) in text.match_indices(folder) {
                if at > 0 && text.as_bytes()[at - 1].is_ascii_alphanumeric() {
                    continue;
                }
                let path: String =
                    text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')).collect();
                let path = path.trim_end_matches(['.', '/']);
                // A file or a folder; not a pattern (src/nn/<kind>.rs) or what `make bench` makes (bench/.venv).
                let made = path.contains("/.venv");
                if path.len() > folder.len() && !made && !text[at + path.len()..].starts_with('<') && !root().join(path).exists() {
                    missing.push(format!("{name}: {path}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "named in the docs but not in the tree:\n{}", missing.join("\n"));
}

#[test]
fn the_readme_is_a_front_door() {
    let lines = std::fs::read_to_string(root().join("README.md")).unwrap().lines().count();
    assert!(lines <= 200, "README.md has {lines} lines; move what is not the front door into docs/");
}

#[test]
fn the_link_scanner_sees_links_and_anchors() {
    assert_eq!(links("see [a](docs/a.md#b) and [c](https://x.y)."), ["docs/a.md#b", "https://x.y"]);
    assert_eq!(anchor(" The GW benchmark (`gw_bbh`) and ringdown"), "the-gw-benchmark-gw_bbh-and-ringdown");
    assert_eq!(prose("a\n```\n[x](y)\n```\nb"), "a\n\nb\n");
}

/// docs/defaults.md: every section with nothing set, resolved as `ndelab validate` resolves it.
/// The defaults are written once, in the code (each section's `Default`); this page is made
/// from them, so it cannot drift.
fn defaults_page() -> String {
    use ndelab::nn::ModelSpec;
    use ndelab::sim::SimulatorSpec;
    let resolve = |text: &str| ndelab::spec::parse("defaults.yaml", text, &[]).unwrap_or_else(|e| panic!("{e}")).to_spec();
    let yaml = |v: &dyn erased::Yaml| v.yaml();
    let mut page = String::from(
        "# Every default\n\nWhat ndelab fills in for a value a spec leaves out, section by section. The defaults are \
         written once, in the code; this page is made from them by the test suite (`NDELAB_BLESS=1 cargo test --release \
         --test tests docs::` rewrites it) and checked against them, so it cannot drift. `ndelab validate SPEC` prints the \
         same for any spec, as `spec.resolved.yaml` stores it. What each value means is on its section's page of the \
         [guide](README.md) and in the doc comments of its type.\n",
    );
    let base = resolve("name: defaults\ndataset:\n  simulator: linear_gaussian\nmodel:\n  kind: gaussian\n");
    page += &format!("\n## The top level\n\n```yaml\nseed: {}\n```\n", base.seed);
    page += &format!("\n## `training`\n\n```yaml\n{}```\n", yaml(&base.training));
    page += &format!("\n## `eval`\n\n```yaml\n{}```\n", yaml(&base.eval));
    for kind in SimulatorSpec::KINDS {
        // The two simulators of declared parameters have fields without a default.
        let own = match *kind {
            "command" => "  command:\n    program: simulator.py\n    parameters: [{ name: a, prior: { kind: uniform, min: 0, max: 1 } }]\n    data_dim: 8\n",
            "files" => "  files:\n    theta: { path: theta.npy }\n    data: { path: data.npy }\n    parameters: [{ name: a, prior: { kind: uniform, min: 0, max: 1 } }]\n    data_dim: 8\n",
            _ => "",
        };
        let spec = resolve(&format!("name: defaults\ndataset:\n  simulator: {kind}\n{own}model:\n  kind: gaussian\n"));
        let note = if own.is_empty() { String::new() } else { " (with the fields that have no default given)".to_string() };
        page += &format!("\n## `dataset`, simulator `{kind}`{note}\n\n```yaml\n{}```\n", yaml(&spec.dataset));
    }
    for kind in ModelSpec::KINDS {
        let spec = resolve(&format!("name: defaults\ndataset:\n  simulator: linear_gaussian\nmodel:\n  kind: {kind}\n"));
        page += &format!("\n## `model`, kind `{kind}`\n\n```yaml\n{}```\n", yaml(&spec.model));
    }
    page
}

mod erased {
    /// Anything serde can write, as YAML.
    pub trait Yaml {
        fn yaml(&self) -> String;
    }
    impl<T: serde::Serialize> Yaml for T {
        fn yaml(&self) -> String {
            serde_norway::to_string(self).unwrap()
        }
    }
}

#[test]
fn docs_defaults_md_is_what_the_code_fills_in() {
    let want = defaults_page();
    let path = root().join("docs/defaults.md");
    if std::env::var_os("NDELAB_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let got = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(got == want, "docs/defaults.md is not what the code fills in; NDELAB_BLESS=1 cargo test --release --test tests docs:: rewrites it");
}
