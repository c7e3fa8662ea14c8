//! PNG plots. Text is drawn with DejaVu Sans compiled into the binary, so plots look the same
//! on every machine and need no system fonts.

use super::ReportError;
use crate::train::EpochRecord;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../data/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// plots/loss_curve.png: training and validation loss per epoch, the kept epoch marked.
pub fn loss_curve(path: &Path, history: &[EpochRecord], best_epoch: usize, title: &str) -> Result<(), ReportError> {
    register_font();
    let err = |e: String| ReportError::Plot { path: path.display().to_string(), message: e };
    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let values: Vec<f64> = history.iter().flat_map(|r| [r.train_loss, r.val_loss]).filter(|v| v.is_finite()).collect();
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (lo - 1.0, lo + 1.0) };
    let pad = 0.05 * (hi - lo);
    let last = history.last().map_or(1, |r| r.epoch).max(2);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(1f64..last as f64, (lo - pad)..(hi + pad))
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss (nats)")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let series = [("training", RGBColor(31, 119, 180), 0usize), ("validation", RGBColor(255, 127, 14), 1)];
    for (label, color, which) in series {
        let pts: Vec<(f64, f64)> = history.iter().map(|r| (r.epoch as f64, if which == 0 { r.train_loss } else { r.val_loss })).collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    if let Some(best) = history.iter().find(|r| r.epoch == best_epoch) {
        chart
            .draw_series(std::iter::once(Circle::new((best.epoch as f64, best.val_loss), 6, BLACK.stroke_width(2))))
            .map_err(|e| err(e.to_string()))?
            .label(format!("kept: epoch {best_epoch}"))
            .legend(|(x, y)| Circle::new((x + 10, y), 5, BLACK.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// Viridis, by linear interpolation between nine of its colours; `t` in [0, 1].
fn viridis(t: f64) -> RGBColor {
    const C: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 } * (C.len() - 1) as f64;
    let i = (t.floor() as usize).min(C.len() - 2);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    RGBColor(mix(C[i].0, C[i + 1].0), mix(C[i].1, C[i + 1].1), mix(C[i].2, C[i + 1].2))
}

fn range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v.filter(|x| x.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.04 * (hi - lo) } else { 0.5 };
    (lo - pad, hi + pad)
}

/// plots/latent_space.png: latent means of test data (first two dimensions), one panel per
/// parameter, coloured by that parameter's true value.
pub fn latent_space(path: &Path, latent_dim: usize, z: &[f64], theta: &[f64], names: &[String], title: &str) -> Result<(), ReportError> {
    register_font();
    let err = |e: String| ReportError::Plot { path: path.display().to_string(), message: e };
    let d = names.len();
    let n = z.len() / latent_dim.max(1);
    let cols = d.min(3).max(1);
    let rows = d.div_ceil(cols);
    let root = BitMapBackend::new(path, (420 * cols as u32, 400 * rows as u32 + 40)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let root = root.titled(title, ("sans-serif", 24)).map_err(|e| err(e.to_string()))?;
    let z0: Vec<f64> = (0..n).map(|i| z[i * latent_dim]).collect();
    let z1: Vec<f64> = (0..n).map(|i| if latent_dim > 1 { z[i * latent_dim + 1] } else { 0.0 }).collect();
    let (x_lo, x_hi) = range(z0.iter().copied());
    let (y_lo, y_hi) = range(z1.iter().copied());
    for (k, area) in root.split_evenly((rows, cols)).into_iter().enumerate().take(d) {
        let vals: Vec<f64> = (0..n).map(|i| theta[i * d + k]).collect();
        let (lo, hi) = range(vals.iter().copied());
        let mut chart = ChartBuilder::on(&area)
            .caption(format!("coloured by {}", names[k]), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(5)
            .y_labels(5)
            .x_desc("z₁")
            .y_desc(if latent_dim > 1 { "z₂" } else { "" })
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series((0..n).map(|i| Circle::new((z0[i], z1[i]), 2, viridis((vals[i] - lo) / (hi - lo)).filled())))
            .map_err(|e| err(e.to_string()))?;
    }
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// A corner plot: 1-D histograms on the diagonal and scatter plots of each pair below it, with
/// the true values marked.
pub fn corner(path: &Path, samples: &[f64], truth: Option<&[f64]>, names: &[String], title: &str) -> Result<(), ReportError> {
    corner_sets(path, &[samples], truth, names, title)
}

/// Colours of the sample sets of a corner plot, and of the true values.
const PALETTE: [RGBColor; 3] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44)];
const RED: RGBColor = RGBColor(214, 39, 40);

/// What every panel of a corner plot draws from.
struct Corner<'a> {
    sets: &'a [&'a [f64]],
    truth: Option<&'a [f64]>,
    names: &'a [String],
    ranges: Vec<(f64, f64)>,
    path: &'a Path,
}

type Panel<'a, 'b> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

impl Corner<'_> {
    fn err(&self, e: impl ToString) -> ReportError {
        ReportError::Plot { path: self.path.display().to_string(), message: e.to_string() }
    }

    /// The histogram of parameter `c` (normalised per set) on the diagonal.
    fn diagonal(&self, area: &Panel, c: usize, label_x: u32, label_y: u32) -> Result<(), ReportError> {
        let (d, r) = (self.names.len(), c);
        let err = |e: String| self.err(e);
        let (lo, hi) = self.ranges[c];
        let bins = 40;
        let hists: Vec<Vec<f64>> = self
            .sets
            .iter()
            .map(|s| {
                let mut counts = vec![0.0f64; bins];
                let n = (s.len() / d).max(1) as f64;
                for v in s.iter().skip(c).step_by(d) {
                    let b = (((v - lo) / (hi - lo)) * bins as f64).floor();
                    if b >= 0.0 && (b as usize) < bins {
                        counts[b as usize] += 1.0 / n;
                    }
                }
                counts
            })
            .collect();
        let top = hists.iter().flatten().cloned().fold(0.0, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(area)
            .margin(6)
            .x_label_area_size(label_x)
            .y_label_area_size(label_y)
            .build_cartesian_2d(lo..hi, 0.0..top.max(1e-9))
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(if r == d - 1 { self.names[c].as_str() } else { "" })
            .label_style(("sans-serif", 11))
            .x_labels(4)
            .y_labels(0)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let w = (hi - lo) / bins as f64;
        for (h, color) in hists.iter().zip(PALETTE.iter().cycle()) {
            let steps: Vec<(f64, f64)> =
                h.iter().enumerate().flat_map(|(b, &k)| [(lo + b as f64 * w, k), (lo + (b + 1) as f64 * w, k)]).collect();
            chart.draw_series(LineSeries::new(steps, color.stroke_width(2))).map_err(|e| err(e.to_string()))?;
        }
        if let Some(t) = self.truth {
            chart.draw_series(LineSeries::new(vec![(t[c], 0.0), (t[c], top)], RED.stroke_width(2))).map_err(|e| err(e.to_string()))?;
        }
        Ok(())
    }

    /// Parameter `c` against `r` below the diagonal: the draws as points.
    fn scatter(&self, area: &Panel, r: usize, c: usize, label_x: u32, label_y: u32) -> Result<(), ReportError> {
        let d = self.names.len();
        let err = |e: String| self.err(e);
        let ((xl, xh), (yl, yh)) = (self.ranges[c], self.ranges[r]);
        let mut chart = ChartBuilder::on(area)
            .margin(6)
            .x_label_area_size(label_x)
            .y_label_area_size(label_y)
            .build_cartesian_2d(xl..xh, yl..yh)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(if r == d - 1 { self.names[c].as_str() } else { "" })
            .y_desc(if c == 0 { self.names[r].as_str() } else { "" })
            .label_style(("sans-serif", 11))
            .x_labels(4)
            .y_labels(4)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (s, color) in self.sets.iter().zip(PALETTE.iter().cycle()) {
            let n = s.len() / d.max(1);
            let step = (n / 4000).max(1);
            let alpha = if self.sets.len() > 1 { 0.2 } else { 0.3 };
            chart
                .draw_series((0..n).step_by(step).map(|i| Circle::new((s[i * d + c], s[i * d + r]), 1, color.mix(alpha).filled())))
                .map_err(|e| err(e.to_string()))?;
        }
        if let Some(t) = self.truth {
            chart.draw_series(LineSeries::new(vec![(t[c], yl), (t[c], yh)], RED.stroke_width(1))).map_err(|e| err(e.to_string()))?;
            chart.draw_series(LineSeries::new(vec![(xl, t[r]), (xh, t[r])], RED.stroke_width(1))).map_err(|e| err(e.to_string()))?;
            chart.draw_series(std::iter::once(Circle::new((t[c], t[r]), 4, RED.filled()))).map_err(|e| err(e.to_string()))?;
        }
        Ok(())
    }
}

/// Corner plot of several sample sets over one another (the first blue, the second orange:
/// an estimator against a reference), histograms normalised so that sets of different sizes
/// compare; true values in red.
pub fn corner_sets(path: &Path, sets: &[&[f64]], truth: Option<&[f64]>, names: &[String], title: &str) -> Result<(), ReportError> {
    register_font();
    let err = |e: String| ReportError::Plot { path: path.display().to_string(), message: e };
    let d = names.len();
    let side = (220 * d as u32).max(440);
    let root = BitMapBackend::new(path, (side, side + 40)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(|e| err(e.to_string()))?;
    let all = |k: usize| sets.iter().flat_map(move |s| s.iter().skip(k).step_by(d).copied());
    let ranges: Vec<(f64, f64)> = (0..d)
        .map(|k| {
            let (lo, hi) = range(all(k));
            match truth {
                Some(t) if t[k].is_finite() => (lo.min(t[k]), hi.max(t[k])),
                _ => (lo, hi),
            }
        })
        .collect();
    let corner = Corner { sets, truth, names, ranges, path };
    for (idx, area) in root.split_evenly((d, d)).into_iter().enumerate() {
        let (r, c) = (idx / d, idx % d);
        let label_x = if r == d - 1 { 30 } else { 0 };
        let label_y = if c == 0 { 44 } else { 0 };
        match c.cmp(&r) {
            std::cmp::Ordering::Greater => continue,
            std::cmp::Ordering::Equal => corner.diagonal(&area, c, label_x, label_y)?,
            std::cmp::Ordering::Less => corner.scatter(&area, r, c, label_x, label_y)?,
        }
    }
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// A metric against a key: mean with ±1 std error bars, one line per series. Drawn into a
/// hidden PNG beside `path` and renamed over it when complete (the path may be one the user
/// named).
pub fn metric_vs_key(path: &Path, x: &str, y: &str, series: &[(String, Vec<(f64, f64, f64)>)]) -> Result<(), ReportError> {
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{stem}.tmp-{}.png", std::process::id()));
    let _registered = crate::store::leftovers::Temporary::register(&tmp);
    let drawn = draw_metric_vs_key(&tmp, path, x, y, series);
    let renamed = drawn.and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| ReportError::Plot { path: path.display().to_string(), message: e.to_string() })
    });
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

fn draw_metric_vs_key(tmp: &Path, path: &Path, x: &str, y: &str, series: &[(String, Vec<(f64, f64, f64)>)]) -> Result<(), ReportError> {
    register_font();
    let err = |e: String| ReportError::Plot { path: path.display().to_string(), message: e };
    let root = BitMapBackend::new(tmp, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let (x_lo, x_hi) = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
    let (y_lo, y_hi) = range(series.iter().flat_map(|(_, p)| p.iter().flat_map(|q| [q.1 - q.2, q.1 + q.2])));
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{y} against {x}"), ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc(x)
        .y_desc(y)
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    for (i, (label, pts)) in series.iter().enumerate() {
        let color = palette[i % palette.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().map(|p| (p.0, p.1)), color.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|p| ErrorBar::new_vertical(p.0, p.1 - p.2, p.1, p.1 + p.2, color.filled(), 8)))
            .map_err(|e| err(e.to_string()))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// P-P plot: for each parameter, the fraction of injections whose true value lies below each
/// credible level, against that level, with the binomial 68/95/99.7% bands of `n` calibrated
/// injections shaded, and each parameter's KS p-value in the legend (bilby's `make_pp_plot`).
pub fn pp_plot(path: &Path, names: &[String], columns: &[Vec<f64>], ks_p: &[f64], combined_p: f64, title: &str) -> Result<(), ReportError> {
    register_font();
    let err = |e: String| ReportError::Plot { path: path.display().to_string(), message: e };
    let root = BitMapBackend::new(path, (760, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let n = columns.first().map_or(0, Vec::len);
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{title}: {n} injections, combined p = {combined_p:.3}"), ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("credible level")
        .y_desc("fraction of injections in credible interval")
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let grid: Vec<f64> = (0..=200).map(|i| i as f64 / 200.0).collect();
    for (conf, shade) in [(0.997, 0.08), (0.95, 0.14), (0.68, 0.22)] {
        let band = crate::eval::pp_band(n.max(1), &grid, conf);
        let mut poly: Vec<(f64, f64)> = grid.iter().zip(&band).map(|(&x, b)| (x, b.1)).collect();
        poly.extend(grid.iter().zip(&band).rev().map(|(&x, b)| (x, b.0)));
        chart.draw_series(std::iter::once(Polygon::new(poly, BLACK.mix(shade).filled()))).map_err(|e| err(e.to_string()))?;
    }
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
    ];
    for (j, (name, col)) in names.iter().zip(columns).enumerate() {
        let mut v = col.clone();
        v.sort_by(f64::total_cmp);
        let m = v.len().max(1) as f64;
        let pts: Vec<(f64, f64)> = grid.iter().map(|&x| (x, v.partition_point(|&p| p <= x) as f64 / m)).collect();
        let color = palette[j % palette.len()];
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?
            .label(format!("{name} (p = {:.3})", ks_p.get(j).copied().unwrap_or(f64::NAN)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// Simulation-based-calibration rank histograms (Talts et al. 2018), one panel per parameter,
/// with the 99% band of a uniform histogram.
pub fn sbc_ranks(path: &Path, names: &[String], ranks: &[Vec<usize>], rank_samples: usize, title: &str) -> Result<(), ReportError> {
    register_font();
    let err = |e: String| ReportError::Plot { path: path.display().to_string(), message: e };
    let d = names.len();
    let root = BitMapBackend::new(path, (320 * d.max(1) as u32, 340)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(|e| err(e.to_string()))?;
    let n = ranks.len();
    let bins = 20usize.min(rank_samples + 1);
    let p = 1.0 / bins as f64;
    let lo = crate::math::stats::binomial_quantile(n, p, 0.005) as f64;
    let hi = crate::math::stats::binomial_quantile(n, p, 0.995) as f64;
    for (j, area) in root.split_evenly((1, d.max(1))).into_iter().enumerate().take(d) {
        let mut counts = vec![0usize; bins];
        for r in ranks {
            let b = (r[j] * bins / (rank_samples + 1)).min(bins - 1);
            counts[b] += 1;
        }
        let top = (*counts.iter().max().unwrap_or(&1) as f64).max(hi) * 1.15;
        let mut chart = ChartBuilder::on(&area)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(40)
            .build_cartesian_2d(0.0..(rank_samples + 1) as f64, 0.0..top)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(format!("rank of {}", names[j]))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let w = (rank_samples + 1) as f64 / bins as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new([(0.0, lo), ((rank_samples + 1) as f64, hi)], BLACK.mix(0.12).filled())))
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(counts.iter().enumerate().map(|(b, &k)| {
                Rectangle::new([(b as f64 * w, 0.0), ((b + 1) as f64 * w, k as f64)], RGBColor(31, 119, 180).mix(0.7).filled())
            }))
            .map_err(|e| err(e.to_string()))?;
    }
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}
