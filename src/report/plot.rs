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
        let pts: Vec<(f64, f64)> =
            history.iter().map(|r| (r.epoch as f64, if which == 0 { r.train_loss } else { r.val_loss })).collect();
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
