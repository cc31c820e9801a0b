//! The reliability plot of an evaluation as a PNG: predicted risk per decile against the observed churn
//! rate, with the diagonal of perfect calibration — so a person can see whether "30 %" means 30 %.
//!
//! Drawn with plotters' bitmap backend and a Latin-1 subset of DejaVu Sans compiled in (22 KB, Bitstream
//! Vera licence, `assets/LICENSE-DejaVu.txt`), so it needs no system fonts or fontconfig.

use super::churn::EvalReport;
use crate::error::{Error, Result};
use plotters::prelude::*;
use std::path::Path;

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");
const FAMILY: &str = "sans-serif";

/// Writes the plot to `path` (through a temporary file, so there is never half a PNG).
pub fn reliability_png(report: &EvalReport, path: &Path) -> Result<()> {
    register_font()?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name =
        path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_else(|| "plot.png".into());
    let tmp = dir.join(format!(".{file_name}.tmp.png"));
    let drawn = draw(report, &tmp);
    if let Err(e) = drawn {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(
            path,
            std::io::Error::other(format!("drawing the reliability plot failed: {e}")),
        ));
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn register_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok =
        *REGISTERED.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Config("the plot font could not be loaded".into()))
    }
}

fn draw(report: &EvalReport, path: &Path) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (720, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(500);
    let title = format!(
        "Reliability: {} ({} rows)   ROC AUC {:.3}   Brier {:.3}   ECE {:.3}",
        report.model, report.rows, report.roc_auc, report.brier, report.ece
    );
    let axis_max = report
        .calibration
        .iter()
        .map(|b| b.mean_predicted.max(b.observed))
        .fold(0.0f64, f64::max)
        .clamp(0.1, 1.0);
    let axis_max = ((axis_max * 10.0).ceil() / 10.0).min(1.0);
    let mut chart = ChartBuilder::on(&top)
        .caption(title, (FAMILY, 15))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..axis_max, 0.0..axis_max)?;
    chart
        .configure_mesh()
        .x_desc("mean predicted churn risk (per decile)")
        .y_desc("observed churn rate")
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (axis_max, axis_max)],
            ShapeStyle::from(RGBColor(150, 150, 150)).stroke_width(1),
        ))?
        .label("perfect calibration")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RGBColor(150, 150, 150)));
    let points: Vec<(f64, f64)> = report.calibration.iter().map(|b| (b.mean_predicted, b.observed)).collect();
    let blue = RGBColor(31, 119, 180);
    chart
        .draw_series(LineSeries::new(points.clone(), ShapeStyle::from(blue).stroke_width(2)))?
        .label("model")
        .legend(move |(x, y)| {
            PathElement::new([(x, y), (x + 20, y)], ShapeStyle::from(blue).stroke_width(2))
        });
    chart.draw_series(points.iter().map(|&(x, y)| Circle::new((x, y), 4, blue.filled())))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;

    // Rows per decile as bars underneath: equal by construction, but the predicted range of each shows
    // where the model spends its scores.
    let mut hist = ChartBuilder::on(&bottom)
        .margin_left(12)
        .margin_right(12)
        .margin_bottom(8)
        .x_label_area_size(30)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..axis_max, 0.0..1.0)?;
    hist.configure_mesh()
        .disable_mesh()
        .y_labels(0)
        .x_desc("range of predicted risk in each decile")
        .label_style((FAMILY, 12))
        .axis_desc_style((FAMILY, 13))
        .draw()?;
    hist.draw_series(report.calibration.iter().enumerate().map(|(i, b)| {
        let y0 = if i % 2 == 0 { 0.15 } else { 0.55 };
        Rectangle::new(
            [(b.min_predicted, y0), (b.max_predicted.max(b.min_predicted + 0.002), y0 + 0.3)],
            blue.mix(0.5).filled(),
        )
    }))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::eval::churn::evaluate_scores;

    #[test]
    fn writes_a_png() {
        let s: Vec<f64> = (0..200).map(|i| i as f64 / 200.0).collect();
        let y: Vec<bool> = (0..200).map(|i| (i * 7919 % 200) < i).collect();
        let report = evaluate_scores(&s, &y, "test").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.png");
        super::reliability_png(&report, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(bytes.len() > 5_000);
    }
}
