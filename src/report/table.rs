//! Paper tables from summary.parquet files: group by keys, aggregate over seeds (mean ± std
//! and n), and format as Markdown, LaTeX (booktabs), Typst or CSV, with the best value of each
//! metric in bold.

use super::ReportError;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A cell of a summary table.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum Cell {
    /// A number.
    Num(f64),
    /// Anything else, as text.
    Text(String),
    /// Missing.
    Null,
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Num(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", *v as i64),
            Cell::Num(v) => format!("{v}"),
            Cell::Text(s) => s.clone(),
            Cell::Null => "—".into(),
        }
    }
}

/// One row of a summary.parquet.
pub type Record = BTreeMap<String, Cell>;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TableFormat {
    /// GitHub Markdown.
    Md,
    /// LaTeX with booktabs.
    Latex,
    /// Comma-separated values (means, stds and counts as separate columns).
    Csv,
    /// Typst.
    Typst,
}

/// What to tabulate.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// Keys whose values make the rows.
    pub rows: Vec<String>,
    /// Keys whose values make column groups.
    pub cols: Vec<String>,
    /// Metric columns to aggregate.
    pub metrics: Vec<String>,
    /// Show the standard deviation.
    pub std: bool,
    /// Show the count.
    pub n: bool,
    /// Output format.
    pub format: TableFormat,
    /// Caption (LaTeX and Typst).
    pub caption: Option<String>,
    /// Label (LaTeX).
    pub label: Option<String>,
}

/// Whether lower (`Some(true)`) or higher (`Some(false)`) values of a metric are better.
pub fn lower_is_better(metric: &str) -> Option<bool> {
    let lower = ["test_nll", "kl_to_truth", "best_val_loss", "rmse", "js", "wall_s"];
    let higher = ["acceptance", "ess", "sampling_efficiency", "ks_p", "pp_p"];
    if lower.iter().any(|m| metric == *m || metric.starts_with(&format!("{m}_")) && !metric.ends_with("_se")) || metric.ends_with("_s") {
        Some(true)
    } else if higher.iter().any(|m| metric.starts_with(m)) {
        Some(false)
    } else {
        None
    }
}

/// Files a PATH argument names: a summary.parquet, a folder holding them (searched
/// recursively), or a glob pattern.
pub fn resolve_paths(arg: &str) -> Result<Vec<PathBuf>, ReportError> {
    let err = |m: String| ReportError::Request(format!("{arg}: {m}"));
    let p = Path::new(arg);
    let mut out = Vec::new();
    if arg.contains(['*', '?', '[']) {
        // `*` must not match the hidden folders of runs in progress or killed (`.KEY.tmp-PID`).
        let opts = glob::MatchOptions { require_literal_leading_dot: true, ..Default::default() };
        for e in glob::glob_with(arg, opts).map_err(|e| err(e.to_string()))?.flatten() {
            if e.is_file() {
                out.push(e);
            }
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    } else if p.is_dir() {
        fn walk(d: &Path, out: &mut Vec<PathBuf>) {
            if let Ok(rd) = std::fs::read_dir(d) {
                let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
                entries.sort();
                for e in entries {
                    if e.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                        continue;
                    }
                    if e.is_dir() {
                        walk(&e, out);
                    } else if e.file_name().is_some_and(|n| n == "summary.parquet") {
                        out.push(e);
                    }
                }
            }
        }
        walk(p, &mut out);
    } else {
        return Err(err("no such file or folder".into()));
    }
    if out.is_empty() {
        return Err(err("no summary.parquet found there".into()));
    }
    out.sort();
    Ok(out)
}

/// Reads every row of every file.
pub fn read_records(paths: &[PathBuf]) -> Result<Vec<Record>, ReportError> {
    let mut out = Vec::new();
    for p in paths {
        let df = super::read_parquet(p)?;
        for i in 0..df.height() {
            let mut r = Record::new();
            for c in df.columns() {
                let v = c.get(i).map(|v| v.into_static()).unwrap_or(AnyValue::Null);
                let cell = match v {
                    AnyValue::Null => Cell::Null,
                    AnyValue::Boolean(b) => Cell::Text(b.to_string()),
                    AnyValue::String(s) => Cell::Text(s.to_string()),
                    AnyValue::StringOwned(s) => Cell::Text(s.to_string()),
                    other => match other.extract::<f64>() {
                        Some(f) if f.is_finite() => Cell::Num(f),
                        Some(_) => Cell::Null,
                        None => Cell::Text(other.to_string()),
                    },
                };
                r.insert(c.name().to_string(), cell);
            }
            out.push(r);
        }
    }
    Ok(out)
}

/// mean, sample std (None for n < 2), n of the numbers among `cells`.
fn aggregate(cells: &[&Cell]) -> Option<(f64, Option<f64>, usize)> {
    let v: Vec<f64> = cells.iter().filter_map(|c| if let Cell::Num(x) = c { Some(*x) } else { None }).collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let std = (n > 1).then(|| (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
    Some((mean, std, n))
}

/// mean ± std with the precision the std allows (two significant digits of the std when it
/// starts with 1, else one); without a std, four significant digits.
pub fn format_pm(mean: f64, std: Option<f64>) -> (String, Option<String>) {
    match std {
        Some(s) if s > 0.0 && s.is_finite() => {
            let exp = s.log10().floor() as i32;
            let lead = (s / 10f64.powi(exp)).floor() as i32;
            let sig = if lead == 1 { 2 } else { 1 };
            let places = sig - 1 - exp;
            if places >= 0 {
                let decimals = places as usize;
                (format!("{mean:.decimals$}"), Some(format!("{s:.decimals$}")))
            } else {
                let unit = 10f64.powi(-places);
                (format!("{}", (mean / unit).round() * unit), Some(format!("{}", (s / unit).round() * unit)))
            }
        }
        Some(_) => (sig4(mean), Some("0".into())),
        None => (sig4(mean), None),
    }
}

fn sig4(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-3..6).contains(&exp) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - exp).max(0) as usize;
    format!("{x:.decimals$}")
}

/// One formatted value cell.
struct Value {
    mean: String,
    std: Option<String>,
    n: usize,
    raw: Option<(f64, Option<f64>)>,
    best: bool,
}

/// The table's cells: row keys, column keys, values[row][col][metric], records per row.
struct Grid {
    row_keys: Vec<Vec<Cell>>,
    col_keys: Vec<Vec<Cell>>,
    values: Vec<Vec<Vec<Value>>>,
    counts: Vec<usize>,
}

/// Builds the table text.
pub fn render(records: &[Record], spec: &TableSpec) -> Result<String, ReportError> {
    check_columns(records, spec)?;
    let mut grid = grid(records, spec);
    mark_best(&mut grid, spec);
    let (header, body) = header_and_body(&grid, spec);
    Ok(match spec.format {
        TableFormat::Md => markdown(&header, &body, spec),
        TableFormat::Latex => latex(&header, &body, spec),
        TableFormat::Typst => typst(&header, &body, spec),
        TableFormat::Csv => csv(&grid, spec),
    })
}

/// Every key the table names must be a column of the files.
fn check_columns(records: &[Record], spec: &TableSpec) -> Result<(), ReportError> {
    let err = |m: String| ReportError::Request(format!("table: {m}"));
    for k in spec.rows.iter().chain(&spec.cols).chain(&spec.metrics) {
        if !records.iter().any(|r| r.contains_key(k)) {
            let known: Vec<&String> = records.first().map(|r| r.keys().collect()).unwrap_or_default();
            return Err(err(format!(
                "no column `{k}`; the files have: {}",
                known.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

/// Groups the records by row and column keys and aggregates each metric.
fn grid(records: &[Record], spec: &TableSpec) -> Grid {
    let get = |r: &Record, k: &str| r.get(k).cloned().unwrap_or(Cell::Null);
    let mut row_keys: Vec<Vec<Cell>> = Vec::new();
    let mut col_keys: Vec<Vec<Cell>> = Vec::new();
    for r in records {
        let rk: Vec<Cell> = spec.rows.iter().map(|k| get(r, k)).collect();
        let ck: Vec<Cell> = spec.cols.iter().map(|k| get(r, k)).collect();
        if !row_keys.contains(&rk) {
            row_keys.push(rk);
        }
        if !col_keys.contains(&ck) {
            col_keys.push(ck);
        }
    }
    row_keys.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    col_keys.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    // values[row][col][metric]
    let mut values: Vec<Vec<Vec<Value>>> = Vec::new();
    let mut counts = Vec::new();
    for rk in &row_keys {
        let in_row: Vec<&Record> = records.iter().filter(|r| spec.rows.iter().zip(rk).all(|(k, v)| &get(r, k) == v)).collect();
        counts.push(in_row.len());
        let mut per_col = Vec::new();
        for ck in &col_keys {
            let group: Vec<&Record> = in_row.iter().copied().filter(|r| spec.cols.iter().zip(ck).all(|(k, v)| &get(r, k) == v)).collect();
            let mut per_metric = Vec::new();
            for m in &spec.metrics {
                let cells: Vec<&Cell> = group.iter().filter_map(|r| r.get(m)).collect();
                per_metric.push(match aggregate(&cells) {
                    Some((mean, std, n)) => {
                        let (ms, ss) = format_pm(mean, std);
                        Value { mean: ms, std: ss, n, raw: Some((mean, std)), best: false }
                    }
                    None => Value { mean: "—".into(), std: None, n: 0, raw: None, best: false },
                });
            }
            per_col.push(per_metric);
        }
        values.push(per_col);
    }
    Grid { row_keys, col_keys, values, counts }
}

/// Marks the best value per (column group, metric), comparing the values as displayed (ties
/// all bold).
fn mark_best(grid: &mut Grid, spec: &TableSpec) {
    let values = &mut grid.values;
    for c in 0..grid.col_keys.len() {
        for (mi, m) in spec.metrics.iter().enumerate() {
            let Some(lower) = lower_is_better(m) else { continue };
            let shown: Vec<Option<f64>> = values.iter().map(|row| row[c][mi].raw.and(row[c][mi].mean.parse::<f64>().ok())).collect();
            let best = shown.iter().flatten().copied().fold(None, |acc: Option<f64>, v| match acc {
                None => Some(v),
                Some(a) => Some(if (v < a) == lower { v } else { a }),
            });
            if let Some(b) = best {
                if shown.iter().flatten().count() > 1 {
                    for (r, s) in shown.iter().enumerate() {
                        if *s == Some(b) {
                            values[r][c][mi].best = true;
                        }
                    }
                }
            }
        }
    }
}

/// The label of a column group.
fn col_label(spec: &TableSpec, ck: &[Cell]) -> String {
    spec.cols.iter().zip(ck).map(|(k, v)| format!("{k}={}", v.text())).collect::<Vec<_>>().join(", ")
}

/// Header cells, and body rows of (text, bold).
fn header_and_body(grid: &Grid, spec: &TableSpec) -> (Vec<String>, Vec<Vec<(String, bool)>>) {
    let (row_keys, col_keys, values, counts) = (&grid.row_keys, &grid.col_keys, &grid.values, &grid.counts);
    let mut header: Vec<String> = spec.rows.clone();
    for ck in col_keys {
        for m in &spec.metrics {
            header.push(if spec.cols.is_empty() { m.clone() } else { format!("{m} ({})", col_label(spec, ck)) });
        }
    }
    if spec.n {
        header.push("n".into());
    }
    let body: Vec<Vec<(String, bool)>> = row_keys
        .iter()
        .zip(values)
        .zip(counts)
        .map(|((rk, row), count)| {
            let mut cells: Vec<(String, bool)> = rk.iter().map(|c| (c.text(), false)).collect();
            for col in row {
                for v in col {
                    let text = match (&v.std, spec.std) {
                        (Some(s), true) => format!("{} ± {s}", v.mean),
                        _ => v.mean.clone(),
                    };
                    cells.push((text, v.best));
                }
            }
            if spec.n {
                cells.push((count.to_string(), false));
            }
            cells
        })
        .collect();
    (header, body)
}

fn markdown(header: &[String], body: &[Vec<(String, bool)>], spec: &TableSpec) -> String {
    let mut s = format!("| {} |\n", header.join(" | "));
    s.push_str(&format!(
        "|{}\n",
        header.iter().enumerate().map(|(i, _)| if i < spec.rows.len() { " --- |" } else { " ---: |" }).collect::<String>()
    ));
    for row in body {
        let cells: Vec<String> = row.iter().map(|(t, b)| if *b { format!("**{t}**") } else { t.clone() }).collect();
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s
}

fn latex(header: &[String], body: &[Vec<(String, bool)>], spec: &TableSpec) -> String {
    let esc = |t: &str| {
        t.replace('\\', r"\textbackslash{}")
            .replace('_', r"\_")
            .replace('%', r"\%")
            .replace('&', r"\&")
            .replace('#', r"\#")
            .replace('—', "--")
    };
    let cell = |t: &str, b: bool| {
        let t = esc(t).replace(" ± ", r" \pm ");
        let math = if t.contains(r"\pm") || t.parse::<f64>().is_ok() { format!("${t}$") } else { t };
        if b {
            if math.starts_with('$') {
                format!(r"$\mathbf{{{}}}$", &math[1..math.len() - 1])
            } else {
                format!(r"\textbf{{{math}}}")
            }
        } else {
            math
        }
    };
    let align: String = header.iter().enumerate().map(|(i, _)| if i < spec.rows.len() { 'l' } else { 'r' }).collect();
    let mut s = String::from("\\begin{table}\n  \\centering\n");
    if let Some(c) = &spec.caption {
        s.push_str(&format!("  \\caption{{{}}}\n", esc(c)));
    }
    if let Some(l) = &spec.label {
        s.push_str(&format!("  \\label{{{l}}}\n"));
    }
    s.push_str(&format!("  \\begin{{tabular}}{{{align}}}\n    \\toprule\n"));
    s.push_str(&format!("    {} \\\\\n    \\midrule\n", header.iter().map(|h| esc(h)).collect::<Vec<_>>().join(" & ")));
    for row in body {
        s.push_str(&format!("    {} \\\\\n", row.iter().map(|(t, b)| cell(t, *b)).collect::<Vec<_>>().join(" & ")));
    }
    s.push_str("    \\bottomrule\n  \\end{tabular}\n\\end{table}\n");
    s
}

fn typst(header: &[String], body: &[Vec<(String, bool)>], spec: &TableSpec) -> String {
    let esc = |t: &str| t.replace('\\', "\\\\").replace('*', "\\*").replace('_', "\\_").replace('#', "\\#").replace('$', "\\$");
    let mut s = String::from("#figure(\n  table(\n");
    s.push_str(&format!(
        "    columns: {},\n    align: ({}),\n",
        header.len(),
        header.iter().enumerate().map(|(i, _)| if i < spec.rows.len() { "left" } else { "right" }).collect::<Vec<_>>().join(", ")
    ));
    s.push_str("    table.hline(),\n");
    s.push_str(&format!("    {},\n", header.iter().map(|h| format!("[*{}*]", esc(h))).collect::<Vec<_>>().join(", ")));
    s.push_str("    table.hline(),\n");
    for row in body {
        s.push_str(&format!(
            "    {},\n",
            row.iter().map(|(t, b)| if *b { format!("[*{}*]", esc(t)) } else { format!("[{}]", esc(t)) }).collect::<Vec<_>>().join(", ")
        ));
    }
    s.push_str("    table.hline(),\n  ),\n");
    match &spec.caption {
        Some(c) => s.push_str(&format!("  caption: [{}],\n)\n", esc(c))),
        None => s.push_str(")\n"),
    }
    s
}

/// CSV keeps the numbers unrounded: mean, std and n per metric.
fn csv(grid: &Grid, spec: &TableSpec) -> String {
    let (row_keys, col_keys, values) = (&grid.row_keys, &grid.col_keys, &grid.values);
    let q = |t: &str| if t.contains([',', '"', '\n']) { format!("\"{}\"", t.replace('"', "\"\"")) } else { t.to_string() };
    let mut head: Vec<String> = spec.rows.clone();
    for ck in col_keys {
        for m in &spec.metrics {
            let base = if spec.cols.is_empty() { m.clone() } else { format!("{m} ({})", col_label(spec, ck)) };
            head.push(format!("{base} mean"));
            head.push(format!("{base} std"));
            head.push(format!("{base} n"));
        }
    }
    let mut s = head.iter().map(|h| q(h)).collect::<Vec<_>>().join(",") + "\n";
    for (rk, row) in row_keys.iter().zip(values) {
        let mut cells: Vec<String> = rk.iter().map(|c| q(&c.text())).collect();
        for col in row {
            for v in col {
                match v.raw {
                    Some((m, sd)) => {
                        cells.push(format!("{m}"));
                        cells.push(sd.map(|x| format!("{x}")).unwrap_or_default());
                        cells.push(v.n.to_string());
                    }
                    None => cells.extend([String::new(), String::new(), "0".into()]),
                }
            }
        }
        s.push_str(&(cells.join(",") + "\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_follows_the_std() {
        assert_eq!(format_pm(4.36712, Some(0.0123)), ("4.367".into(), Some("0.012".into())));
        assert_eq!(format_pm(4.36712, Some(0.0345)), ("4.37".into(), Some("0.03".into())));
        assert_eq!(format_pm(1234.5, Some(23.0)), ("1230".into(), Some("20".into())));
        assert_eq!(format_pm(0.5, None), ("0.5000".into(), None));
        assert_eq!(format_pm(2.0e-5, None), ("2.000e-5".into(), None));
    }

    #[test]
    fn directions_of_metrics() {
        assert_eq!(lower_is_better("test_nll"), Some(true));
        assert_eq!(lower_is_better("kl_to_truth"), Some(true));
        assert_eq!(lower_is_better("train_s"), Some(true));
        assert_eq!(lower_is_better("seed"), None);
    }
}

/// What `ndelab table` was asked for; empty lists take the defaults.
#[derive(Debug, Clone)]
pub struct TableRequest {
    /// Keys whose values make the rows (default: the swept keys but seed, else `model`).
    pub rows: Vec<String>,
    /// Keys whose values make column groups.
    pub cols: Vec<String>,
    /// Metrics (default: test_nll and kl_to_truth, where present).
    pub metrics: Vec<String>,
    /// Aggregates: mean, std, n.
    pub agg: Vec<String>,
    /// Output format.
    pub format: TableFormat,
    /// Caption (LaTeX, Typst).
    pub caption: Option<String>,
    /// Label (LaTeX).
    pub label: Option<String>,
}

impl TableRequest {
    /// The table to render from `records`, defaults decided (`swept`: a sweep's swept keys).
    pub fn resolve(self, records: &[Record], swept: Vec<String>) -> Result<TableSpec, ReportError> {
        if let Some(a) = self.agg.iter().find(|a| !["mean", "std", "n"].contains(&a.as_str())) {
            return Err(ReportError::Request(format!("--agg: unknown aggregate `{a}`; choose from mean, std, n")));
        }
        let rows = match (self.rows.is_empty(), swept.is_empty()) {
            (false, _) => self.rows,
            (true, false) => swept,
            (true, true) => vec!["model".into()],
        };
        let metrics = if self.metrics.is_empty() {
            ["test_nll", "kl_to_truth"]
                .iter()
                .filter(|m| records.iter().any(|r| matches!(r.get(**m), Some(Cell::Num(_)))))
                .map(|m| m.to_string())
                .collect()
        } else {
            self.metrics
        };
        if metrics.is_empty() {
            return Err(ReportError::Request("no metric to show: name some with --metrics".into()));
        }
        Ok(TableSpec {
            rows,
            cols: self.cols,
            metrics,
            std: self.agg.iter().any(|a| a == "std"),
            n: self.agg.iter().any(|a| a == "n"),
            format: self.format,
            caption: self.caption,
            label: self.label,
        })
    }
}

/// One line of a metric-against-key plot: its label and (x, mean, std over seeds) points.
pub type Series = (String, Vec<(f64, f64, f64)>);

/// `y` against `x`, averaged over the records that share an x (seeds), one series per value
/// of `hue`.
pub fn series(records: &[Record], x: &str, y: &str, hue: Option<&str>) -> Result<Vec<Series>, ReportError> {
    for k in [Some(x), Some(y), hue].into_iter().flatten() {
        if !records.iter().any(|r| r.contains_key(k)) {
            return Err(ReportError::Request(format!("no column `{k}`")));
        }
    }
    let num = |c: Option<&Cell>| if let Some(Cell::Num(v)) = c { Some(*v) } else { None };
    let mut groups: BTreeMap<String, BTreeMap<i64, (f64, Vec<f64>)>> = BTreeMap::new();
    for r in records {
        let (Some(xv), Some(yv)) = (num(r.get(x)), num(r.get(y))) else { continue };
        let label = match hue.and_then(|h| r.get(h).map(|c| (h, c))) {
            Some((h, Cell::Num(v))) => format!("{h}={v}"),
            Some((h, Cell::Text(t))) => format!("{h}={t}"),
            Some((h, Cell::Null)) => format!("{h}=—"),
            None => y.to_string(),
        };
        groups.entry(label).or_default().entry((xv * 1e6).round() as i64).or_insert((xv, Vec::new())).1.push(yv);
    }
    if groups.is_empty() {
        return Err(ReportError::Request(format!("no rows with numbers in both `{x}` and `{y}`")));
    }
    let mean_sd = |ys: &[f64]| {
        let n = ys.len() as f64;
        let mean = ys.iter().sum::<f64>() / n;
        let sd = if ys.len() > 1 { (ys.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
        (mean, sd)
    };
    Ok(groups
        .into_iter()
        .map(|(label, pts)| {
            let p = pts.into_values().map(|(xv, ys)| {
                let (mean, sd) = mean_sd(&ys);
                (xv, mean, sd)
            });
            (label, p.collect())
        })
        .collect())
}
