//! The model card as one self-contained HTML page: the figures a reviewer looks at, drawn as inline
//! SVG from what the registry stores (the test metrics with their intervals and curves, the
//! guardrails, importance, the latest subgroup audit and drift report, drift by day of the logged
//! scoring calls). No script, no font, no
//! image and no other file is referenced: the page opens offline, from an e-mail or an archive, as
//! it was written.

use std::fmt::Write;

use serde::Deserialize;
use serde_json::Value;

/// What `healthml.model_card(..., format => 'html')` gathers from the registry.
#[derive(Debug, Default, Deserialize)]
pub struct CardData {
    pub name: String,
    pub version: i64,
    pub algorithm: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub deployed: bool,
    #[serde(default)]
    pub metrics: Value,
    /// The unresolved leakage findings, as healthml._leakage_findings words them (the rule that
    /// makes deploy refuse a version lives there alone); None: there are none.
    #[serde(default)]
    pub leakage_findings: Option<String>,
    /// The latest subgroup report of each column, one row per group (not the overall row).
    #[serde(default)]
    pub subgroups: Vec<SubgroupRow>,
    /// The latest drift report, one row per feature and the score.
    #[serde(default)]
    pub drift: Vec<DriftRow>,
    /// Drift of the version's logged scoring calls, per UTC day and feature (healthml.inference_drift).
    #[serde(default)]
    pub drift_by_day: Vec<DayDrift>,
}

#[derive(Debug, Deserialize)]
pub struct DayDrift {
    pub day: String,
    pub feature: String,
    pub psi: f64,
}

#[derive(Debug, Deserialize)]
pub struct SubgroupRow {
    pub by_column: String,
    pub subgroup: Option<String>,
    pub n: i64,
    pub auc: Option<f64>,
    pub auc_low: Option<f64>,
    pub auc_high: Option<f64>,
    pub mean_score: Option<f64>,
    pub observed_rate: Option<f64>,
    #[serde(default)]
    pub intervals: Value,
}

#[derive(Debug, Deserialize)]
pub struct DriftRow {
    pub feature: String,
    pub psi: f64,
    pub status: String,
}

/// Text for HTML: `<`, `>`, `&` and quotes escaped.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.filter(|x| x.is_finite()).map_or_else(|| "–".to_string(), |x| format!("{x:.digits$}"))
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// A plot area: `w`×`h` pixels with margins, mapping data ranges onto it.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    bottom: f64,
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn unit() -> Self {
        Frame { w: 340.0, h: 280.0, left: 46.0, bottom: 38.0, x: (0.0, 1.0), y: (0.0, 1.0) }
    }

    fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * (self.w - self.left - 24.0)
    }

    fn py(&self, y: f64) -> f64 {
        (self.h - self.bottom) - (y - self.y.0) / (self.y.1 - self.y.0) * (self.h - self.bottom - 12.0)
    }

    fn open(&self, plot: &str, label: &str) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}" data-plot="{plot}">"#,
            self.w,
            self.h,
            self.w,
            self.h,
            esc(label)
        )
    }

    /// Both axes with three ticks each, and their titles.
    fn axes(&self, x_title: &str, y_title: &str) -> String {
        let mut s = String::new();
        let (x0, x1, y0, y1) = (self.px(self.x.0), self.px(self.x.1), self.py(self.y.0), self.py(self.y.1));
        let _ = write!(s, r#"<path class="axis" d="M{x0:.1},{y1:.1}V{y0:.1}H{x1:.1}"/>"#);
        for i in 0..=2 {
            let t = i as f64 / 2.0;
            let (xv, yv) = (self.x.0 + t * (self.x.1 - self.x.0), self.y.0 + t * (self.y.1 - self.y.0));
            let _ = write!(
                s,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                self.px(xv),
                y0 + 14.0,
                trim(xv),
                x0 - 4.0,
                self.py(yv) + 4.0,
                trim(yv)
            );
        }
        let _ = write!(
            s,
            r#"<text class="title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="title" transform="translate(12 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            self.h - 6.0,
            esc(x_title),
            (y0 + y1) / 2.0,
            esc(y_title)
        );
        s
    }

    fn polyline(&self, points: &[(f64, f64)], class: &str) -> String {
        let d: Vec<String> = points.iter().map(|&(x, y)| format!("{:.1},{:.1}", self.px(x), self.py(y))).collect();
        format!(r#"<polyline class="{class}" points="{}"/>"#, d.join(" "))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn interval_text(metrics: &Value, figure: &str) -> String {
    let i = &metrics["test"]["intervals"][figure];
    match (f(&i["low"]), f(&i["high"])) {
        (Some(l), Some(h)) => format!(" (95 % interval {l:.3} to {h:.3})"),
        _ => String::new(),
    }
}

fn figure(plot: &str, svg: Option<String>, caption: &str, missing: &str) -> String {
    match svg {
        Some(svg) => {
            format!(r#"<figure class="plot" data-figure="{plot}">{svg}<figcaption>{}</figcaption></figure>"#, esc(caption))
        }
        None => format!(
            r#"<figure class="plot empty" data-figure="{plot}"><p>{}</p><figcaption>{}</figcaption></figure>"#,
            esc(missing),
            esc(caption)
        ),
    }
}

fn pairs(v: &Value) -> Vec<(f64, f64)> {
    v.as_array().map(|a| a.iter().filter_map(|p| Some((f(&p[0])?, f(&p[1])?))).collect()).unwrap_or_default()
}

fn roc(m: &Value) -> Option<String> {
    let points = pairs(&m["test"]["curves"]["roc"]);
    if points.len() < 2 {
        return None;
    }
    let fr = Frame::unit();
    let mut s = fr.open("roc", "ROC curve on the test rows");
    s += &fr.axes("false positive rate", "true positive rate");
    s += &fr.polyline(&[(0.0, 0.0), (1.0, 1.0)], "reference");
    s += &fr.polyline(&points, "curve");
    s += "</svg>";
    Some(s)
}

fn pr(m: &Value) -> Option<String> {
    let points = pairs(&m["test"]["curves"]["pr"]);
    if points.len() < 2 {
        return None;
    }
    let fr = Frame::unit();
    let mut s = fr.open("pr", "Precision-recall curve on the test rows");
    s += &fr.axes("recall", "precision");
    let (n, positives) = (f(&m["test"]["n"]).unwrap_or(0.0), f(&m["test"]["positives"]).unwrap_or(0.0));
    if n > 0.0 {
        s += &fr.polyline(&[(0.0, positives / n), (1.0, positives / n)], "reference");
    }
    s += &fr.polyline(&points, "curve");
    s += "</svg>";
    Some(s)
}

fn calibration(m: &Value) -> Option<String> {
    let bins: Vec<&Value> =
        m["test"]["curves"]["calibration"].as_array()?.iter().filter(|b| f(&b["n"]).unwrap_or(0.0) > 0.0).collect();
    if bins.is_empty() {
        return None;
    }
    let fr = Frame::unit();
    let mut s = fr.open("calibration", "Calibration: observed rate against mean predicted probability, with its 95 % interval");
    s += &fr.axes("mean predicted probability", "observed rate");
    s += &fr.polyline(&[(0.0, 0.0), (1.0, 1.0)], "reference");
    let band: Vec<(f64, f64, f64)> =
        bins.iter().filter_map(|b| Some((f(&b["mean_predicted"])?, f(&b["observed_low"])?, f(&b["observed_high"])?))).collect();
    if band.len() >= 2 {
        let upper: Vec<String> = band.iter().map(|&(x, _, h)| format!("{:.1},{:.1}", fr.px(x), fr.py(h))).collect();
        let lower: Vec<String> = band.iter().rev().map(|&(x, l, _)| format!("{:.1},{:.1}", fr.px(x), fr.py(l))).collect();
        let _ = write!(s, r#"<polygon class="band" points="{} {}"/>"#, upper.join(" "), lower.join(" "));
    }
    let points: Vec<(f64, f64)> = bins.iter().filter_map(|b| Some((f(&b["mean_predicted"])?, f(&b["observed_rate"])?))).collect();
    s += &fr.polyline(&points, "curve");
    for &(x, y) in &points {
        let _ = write!(s, r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="3"/>"#, fr.px(x), fr.py(y));
    }
    s += "</svg>";
    Some(s)
}

/// Dots with whiskers, one row per group, on a shared x axis.
fn dot_whiskers(
    plot: &str,
    label: &str,
    x_title: &str,
    rows: &[(String, f64, Option<f64>, Option<f64>)],
    reference: Option<f64>,
) -> Option<String> {
    if rows.is_empty() {
        return None;
    }
    let lo = rows.iter().map(|r| r.2.unwrap_or(r.1)).chain(reference).fold(f64::INFINITY, f64::min);
    let hi = rows.iter().map(|r| r.3.unwrap_or(r.1)).chain(reference).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.1).max(0.01);
    let row_h = 18.0;
    let label_w = 210.0;
    let fr = Frame {
        w: 560.0,
        h: 50.0 + row_h * rows.len() as f64,
        left: label_w,
        bottom: 38.0,
        x: (lo - pad, hi + pad),
        y: (0.0, rows.len() as f64),
    };
    let mut s = fr.open(plot, label);
    let (x0, x1, y_axis) = (fr.px(fr.x.0), fr.px(fr.x.1), fr.h - fr.bottom);
    let _ = write!(s, r#"<path class="axis" d="M{x0:.1},{y_axis:.1}H{x1:.1}"/>"#);
    for i in 0..=2 {
        let v = fr.x.0 + i as f64 / 2.0 * (fr.x.1 - fr.x.0);
        let _ =
            write!(s, r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{v:.3}</text>"#, fr.px(v), y_axis + 14.0);
    }
    let _ = write!(
        s,
        r#"<text class="title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (x0 + x1) / 2.0,
        fr.h - 6.0,
        esc(x_title)
    );
    if let Some(r) = reference {
        let _ = write!(s, r#"<path class="reference" d="M{:.1},12V{y_axis:.1}"/>"#, fr.px(r));
    }
    for (i, (name, v, low, high)) in rows.iter().enumerate() {
        let y = 12.0 + row_h * (i as f64 + 0.5);
        let _ = write!(
            s,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            y + 4.0,
            esc(name)
        );
        if let (Some(l), Some(h)) = (low, high) {
            let _ = write!(s, r#"<path class="whisker" d="M{:.1},{y:.1}H{:.1}"/>"#, fr.px(*l), fr.px(*h));
        }
        let _ = write!(s, r#"<circle class="dot" cx="{:.1}" cy="{y:.1}" r="3.5"/>"#, fr.px(*v));
    }
    s += "</svg>";
    Some(s)
}

fn subgroup_name(r: &SubgroupRow) -> String {
    format!("{} = {} ({})", r.by_column, r.subgroup.as_deref().unwrap_or("NULL"), r.n)
}

fn subgroup_auc(data: &CardData) -> Option<String> {
    let rows: Vec<_> = data.subgroups.iter().filter_map(|r| Some((subgroup_name(r), r.auc?, r.auc_low, r.auc_high))).collect();
    dot_whiskers("subgroup_auc", "AUC of each subgroup with its 95 % interval", "AUC", &rows, f(&data.metrics["test"]["auc"]))
}

fn subgroup_calibration(data: &CardData) -> Option<String> {
    let rows: Vec<_> = data
        .subgroups
        .iter()
        .filter_map(|r| {
            let slope = &r.intervals["calibration_slope"];
            Some((subgroup_name(r), f(&slope["estimate"])?, f(&slope["low"]), f(&slope["high"])))
        })
        .collect();
    dot_whiskers(
        "subgroup_calibration",
        "Calibration slope of each subgroup with its 95 % interval",
        "calibration slope (1: calibrated)",
        &rows,
        Some(1.0),
    )
}

/// Horizontal bars from zero.
fn bars(plot: &str, label: &str, x_title: &str, rows: &[(String, f64, &str)], marks: &[f64]) -> Option<String> {
    if rows.is_empty() {
        return None;
    }
    let hi = rows.iter().map(|r| r.1).chain(marks.iter().copied()).fold(0.0, f64::max).max(1e-9) * 1.05;
    let row_h = 16.0;
    let label_w = 210.0;
    let fr = Frame { w: 560.0, h: 50.0 + row_h * rows.len() as f64, left: label_w, bottom: 38.0, x: (0.0, hi), y: (0.0, 1.0) };
    let mut s = fr.open(plot, label);
    let y_axis = fr.h - fr.bottom;
    let _ = write!(s, r#"<path class="axis" d="M{:.1},{y_axis:.1}H{:.1}"/>"#, fr.px(0.0), fr.px(hi));
    for i in 0..=2 {
        let v = i as f64 / 2.0 * hi;
        let _ =
            write!(s, r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{v:.3}</text>"#, fr.px(v), y_axis + 14.0);
    }
    let _ = write!(
        s,
        r#"<text class="title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (fr.px(0.0) + fr.px(hi)) / 2.0,
        fr.h - 6.0,
        esc(x_title)
    );
    for &m in marks {
        let _ = write!(s, r#"<path class="reference" d="M{:.1},12V{y_axis:.1}"/>"#, fr.px(m));
    }
    for (i, (name, v, class)) in rows.iter().enumerate() {
        let y = 12.0 + row_h * i as f64;
        let _ = write!(
            s,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            y + 11.0,
            esc(name)
        );
        let _ = write!(
            s,
            r#"<rect class="bar {class}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/>"#,
            fr.px(0.0),
            y + 2.0,
            (fr.px(*v) - fr.px(0.0)).max(0.5),
            row_h - 4.0
        );
    }
    s += "</svg>";
    Some(s)
}

fn importance(m: &Value) -> Option<String> {
    let rows: Vec<(String, f64, &str)> = m["importance"]
        .as_array()?
        .iter()
        .take(15)
        .filter_map(|i| Some((i["column"].as_str()?.to_string(), f(&i["mean_abs_contribution"])?, "")))
        .collect();
    bars(
        "importance",
        "Global importance: mean absolute contribution to the log-odds",
        "mean |contribution| (log-odds)",
        &rows,
        &[],
    )
}

fn drift(data: &CardData) -> Option<String> {
    let mut rows: Vec<(String, f64, &str)> = data
        .drift
        .iter()
        .map(|d| {
            (
                d.feature.clone(),
                d.psi,
                match d.status.as_str() {
                    "alert" => "alert",
                    "warn" => "warn",
                    _ => "",
                },
            )
        })
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    rows.truncate(15);
    bars(
        "drift",
        "Drift of the latest report: PSI per feature and of the score",
        "PSI (0.1 warn, 0.25 alert)",
        &rows,
        &[0.1, 0.25],
    )
}

/// Lines of PSI by day: the score and the four features that drifted most on any day.
fn drift_by_day(data: &CardData) -> Option<String> {
    let mut days: Vec<&str> = data.drift_by_day.iter().map(|d| d.day.as_str()).collect();
    days.sort_unstable();
    days.dedup();
    if days.is_empty() {
        return None;
    }
    let mut worst: Vec<(&str, f64)> = Vec::new();
    for d in data.drift_by_day.iter().filter(|d| d.feature != crate::monitor::SCORE_FEATURE) {
        match worst.iter_mut().find(|(f, _)| *f == d.feature) {
            Some(entry) => entry.1 = entry.1.max(d.psi),
            None => worst.push((d.feature.as_str(), d.psi)),
        }
    }
    worst.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let mut shown: Vec<&str> = vec![crate::monitor::SCORE_FEATURE];
    shown.extend(worst.iter().take(4).map(|(f, _)| *f));
    let top = data.drift_by_day.iter().filter(|d| shown.contains(&d.feature.as_str())).map(|d| d.psi).fold(0.3, f64::max);
    // each day in the middle of its own band, so one day alone stands in the middle
    let frame = Frame { w: 520.0, h: 280.0, left: 46.0, bottom: 38.0, x: (-0.5, days.len() as f64 - 0.5), y: (0.0, top * 1.1) };
    let mut svg = frame.open("drift_by_day", "PSI of the logged scoring calls by day");
    let (x0, x1, y0) = (frame.px(frame.x.0), frame.px(frame.x.1), frame.py(0.0));
    let _ = write!(svg, r#"<path class="axis" d="M{x0:.1},{:.1}V{y0:.1}H{x1:.1}"/>"#, frame.py(frame.y.1));
    for mark in [0.1, 0.25] {
        let _ = write!(svg, r#"<path class="reference" d="M{x0:.1},{y:.1}H{x1:.1}"/>"#, y = frame.py(mark));
    }
    for t in [0.0, frame.y.1 / 2.0, frame.y.1] {
        let _ = write!(
            svg,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            x0 - 4.0,
            frame.py(t) + 4.0,
            trim(t)
        );
    }
    let last = days.len() - 1;
    for (i, day) in days.iter().enumerate() {
        if i == 0 || i == last || i == last / 2 {
            let _ = write!(
                svg,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                frame.px(i as f64),
                y0 + 14.0,
                esc(day)
            );
        }
    }
    let palette = ["#111111", "#1f5fa8", "#c0392b", "#d9a400", "#2e8b57"];
    for (k, feature) in shown.iter().enumerate() {
        let points: Vec<(f64, f64)> = days
            .iter()
            .enumerate()
            .filter_map(|(i, day)| {
                data.drift_by_day.iter().find(|d| d.day == *day && d.feature == *feature).map(|d| (i as f64, d.psi))
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        let color = palette[k % palette.len()];
        let d: Vec<String> = points.iter().map(|&(x, y)| format!("{:.1},{:.1}", frame.px(x), frame.py(y))).collect();
        let _ = write!(svg, r#"<polyline class="day-line" style="stroke:{color}" points="{}"/>"#, d.join(" "));
        for &(x, y) in &points {
            let _ = write!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="3" style="fill:{color}"/>"#, frame.px(x), frame.py(y));
        }
        let _ = write!(
            svg,
            r#"<text class="label" x="{:.1}" y="{:.1}" style="fill:{color}">{}</text>"#,
            x0 + 8.0,
            16.0 + 13.0 * k as f64,
            esc(feature)
        );
    }
    let _ = write!(
        svg,
        r#"<text class="title" x="{:.1}" y="{:.1}" text-anchor="middle">day (UTC)</text><text class="title" transform="translate(12 {:.1}) rotate(-90)" text-anchor="middle">PSI (0.1 warn, 0.25 alert)</text></svg>"#,
        (x0 + x1) / 2.0,
        frame.h - 6.0,
        (y0 + frame.py(frame.y.1)) / 2.0
    );
    Some(svg)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1b1b1b}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}\
.plots{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}figcaption{font-size:.85em;color:#444;max-width:520px}\
svg{background:#fff}.axis{stroke:#333;fill:none}.tick,.label{font-size:11px;fill:#333}.title{font-size:12px;fill:#111}\
.curve{stroke:#1f5fa8;stroke-width:2;fill:none}.reference{stroke:#999;stroke-dasharray:4 3;fill:none}\
.band{fill:#1f5fa8;fill-opacity:.18;stroke:none}.dot{fill:#1f5fa8}.whisker{stroke:#1f5fa8;stroke-width:2}\
.day-line{fill:none;stroke-width:2}.bar{fill:#1f5fa8}.bar.warn{fill:#d9a400}.bar.alert{fill:#c0392b}.alert-text{color:#c0392b;font-weight:bold}\
.empty p{width:340px;padding:2em 0;color:#777;font-style:italic}";

/// The card as one HTML page.
pub fn render(data: &CardData) -> String {
    let m = &data.metrics;
    let mut h = String::new();
    let title = format!("Model card: {}, version {}", data.name, data.version);
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>"#,
        esc(&title),
        esc(&title)
    );
    let _ = write!(
        h,
        "<p><strong>Purpose.</strong> {}</p><ul><li>Predicts <code>{}</code> from <code>{}</code> ({}).</li><li>Trained {} by {}; deployed: {}.</li></ul>",
        esc(data.description.as_deref().unwrap_or("(no description)")),
        esc(&data.target),
        esc(&data.source),
        esc(&data.algorithm),
        esc(&data.created),
        esc(&data.created_by),
        if data.deployed { "yes" } else { "no" }
    );

    h += "<h2>Test metrics</h2><table><tr><th>figure</th><th>value</th><th>95 % interval</th></tr>";
    for (label, key) in [
        ("AUC", "auc"),
        ("average precision", "average_precision"),
        ("Brier", "brier"),
        ("calibration intercept", "calibration_intercept"),
        ("calibration slope", "calibration_slope"),
    ] {
        let i = &m["test"]["intervals"][key];
        let interval = match (f(&i["low"]), f(&i["high"])) {
            (Some(l), Some(h)) => format!("{l:.4} to {h:.4}"),
            _ => "–".to_string(),
        };
        let _ = write!(h, "<tr><td>{label}</td><td>{}</td><td>{interval}</td></tr>", num(f(&m["test"][key]), 4));
    }
    h += "</table>";
    let i = &m["test"]["intervals"];
    if let (Some(resamples), Some(groups)) = (i["resamples_used"].as_u64(), i["groups"].as_u64()) {
        let _ = write!(
            h,
            "<p>Intervals: {resamples} resamples of {groups} {}, seed {}.</p>",
            i["grouped_by"].as_str().map_or("rows".to_string(), |g| format!("groups by <code>{}</code>", esc(g))),
            i["seed"]
        );
    } else {
        h += "<p>No intervals stored for this version (imported, trained before healthml 0.2.0, or with \"resamples\": 0).</p>";
    }

    h += "<h2>Leakage and guardrails</h2>";
    match m["guardrails"].as_array() {
        Some(findings) => {
            h += if data.leakage_findings.is_some() {
                r#"<p class="alert-text">Probable leakage: healthml.deploy and retrain refuse this version.</p>"#
            } else {
                "<p>No unresolved leakage finding: the version may be deployed.</p>"
            };
            h += "<table><tr><th>check</th><th>column</th><th>value</th><th>limit</th><th>status</th><th>finding</th></tr>";
            for g in findings {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(g["check"].as_str().unwrap_or("")),
                    esc(g["column"].as_str().unwrap_or("–")),
                    num(f(&g["value"]), 3),
                    num(f(&g["limit"]), 3),
                    esc(&g["status"].as_str().unwrap_or("").to_uppercase()),
                    esc(g["message"].as_str().unwrap_or(""))
                );
            }
            h += "</table>";
        }
        None => h += "<p>Not checked: the version was imported, or trained before healthml 0.2.0.</p>",
    }

    h += r#"<h2>Figures</h2><div class="plots">"#;
    let no_curves = "no curves stored: the version was imported or trained before healthml 0.2.0";
    h += &figure(
        "roc",
        roc(m),
        &format!("ROC curve on the test rows; AUC {}{}", num(f(&m["test"]["auc"]), 3), interval_text(m, "auc")),
        no_curves,
    );
    h += &figure(
        "pr",
        pr(m),
        &format!(
            "Precision-recall curve; average precision {}{}; dashed: the positive rate",
            num(f(&m["test"]["average_precision"]), 3),
            interval_text(m, "average_precision")
        ),
        no_curves,
    );
    h += &figure(
        "calibration",
        calibration(m),
        &format!(
            "Calibration in 10 bins, the band the 95 % interval of each bin's observed rate; slope {}{}",
            num(f(&m["test"]["calibration_slope"]), 2),
            interval_text(m, "calibration_slope")
        ),
        no_curves,
    );
    let no_audit = "no subgroup audit yet: run healthml.subgroup_report";
    h += &figure(
        "subgroup_auc",
        subgroup_auc(data),
        "AUC by subgroup (dashed: the whole test set), patients resampled within each group",
        no_audit,
    );
    h += &figure(
        "subgroup_calibration",
        subgroup_calibration(data),
        "Calibration slope by subgroup (dashed: 1, calibrated; below 1 the scores are too extreme for the group)",
        no_audit,
    );
    h += &figure("importance", importance(m), "The 15 most important features on validation rows", "no importance stored");
    h += &figure(
        "drift",
        drift(data),
        "Drift of the latest report against the training rows",
        "no drift report yet: run healthml.drift",
    );
    h += &figure(
        "drift_by_day",
        drift_by_day(data),
        "Drift of the logged scoring calls by day (UTC, the last 30 days): the score and the four features that drifted most",
        "no logged scoring calls: turn the inference log on with healthml.set_inference_logging",
    );
    h += "</div></body></html>\n";
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> CardData {
        let roc: Vec<[f64; 2]> = (0..=10).map(|i| [i as f64 / 10.0, (i as f64 / 10.0).sqrt()]).collect();
        CardData {
            name: "risk <b>".into(),
            version: 2,
            algorithm: "gbdt".into(),
            description: Some("30-day \"readmission\" & more".into()),
            metrics: json!({
                "test": {"n": 1000, "positives": 110, "auc": 0.69, "average_precision": 0.25, "brier": 0.09,
                         "calibration_intercept": 0.01, "calibration_slope": 1.02,
                         "intervals": {"auc": {"low": 0.67, "high": 0.71}, "resamples_used": 1000, "groups": 800, "seed": 42,
                                       "grouped_by": "patient_nbr"},
                         "curves": {"roc": roc, "pr": [[0.0, 1.0], [0.5, 0.3], [1.0, 0.11]],
                                    "calibration": [{"n": 10, "mean_predicted": 0.05, "observed_rate": 0.06, "observed_low": 0.03, "observed_high": 0.09},
                                                    {"n": 5, "mean_predicted": 0.3, "observed_rate": 0.28, "observed_low": 0.2, "observed_high": 0.35},
                                                    {"n": 0}]}},
                "guardrails": [{"check": "leakage_single_column", "column": "x<y", "value": 0.99, "limit": 0.9, "status": "alert",
                                "message": "x<y alone predicts the target"}],
                "importance": [{"column": "number_inpatient", "mean_abs_contribution": 0.2}],
            }),
            leakage_findings: Some("x<y alone predicts the target".into()),
            subgroups: vec![SubgroupRow {
                by_column: "race".into(),
                subgroup: None,
                n: 300,
                auc: Some(0.66),
                auc_low: Some(0.6),
                auc_high: Some(0.72),
                mean_score: Some(0.1),
                observed_rate: Some(0.12),
                intervals: json!({"calibration_slope": {"estimate": 0.9, "low": 0.7, "high": 1.1}}),
            }],
            drift: vec![DriftRow { feature: "age".into(), psi: 0.3, status: "alert".into() }],
            drift_by_day: ["2026-12-01", "2026-12-02", "2026-12-03"]
                .iter()
                .enumerate()
                .flat_map(|(i, day)| {
                    ["(score)", "age", "diag_1", "a<b", "payer", "weight"].iter().enumerate().map(move |(k, feature)| DayDrift {
                        day: day.to_string(),
                        feature: feature.to_string(),
                        psi: 0.02 * (i + k) as f64,
                    })
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn every_figure_is_drawn_and_nothing_is_fetched() {
        let html = render(&data());
        for plot in ["roc", "pr", "calibration", "subgroup_auc", "subgroup_calibration", "importance", "drift", "drift_by_day"] {
            assert!(html.contains(&format!(r#"data-plot="{plot}""#)), "{plot} is drawn");
        }
        // the score and the four features that drifted most on any day: "age" drifted least
        let by_day = &html[html.find(r#"data-plot="drift_by_day""#).unwrap()..];
        assert_eq!(by_day.matches("<polyline class=\"day-line\"").count(), 5);
        assert!(by_day.contains(">weight<") && by_day.contains(">a&lt;b<") && !by_day.contains(">age<"));
        assert!(!html.contains("class=\"plot empty\""));
        // the SVG namespace is the only URL: no script, stylesheet, font or image is loaded
        let urls = html.matches("http").count();
        assert_eq!(urls, html.matches(r#"xmlns="http://www.w3.org/2000/svg""#).count());
        for tag in ["<script", "<link", "<img", "url(", "@import"] {
            assert!(!html.contains(tag), "{tag}");
        }
        assert!(html.contains(r#"<polygon class="band""#), "the calibration band");
        assert!(html.contains("Probable leakage"));
    }

    #[test]
    fn text_from_the_registry_is_escaped() {
        let html = render(&data());
        assert!(html.contains("risk &lt;b&gt;") && !html.contains("risk <b>"));
        assert!(html.contains("x&lt;y alone predicts"));
        assert!(html.contains("30-day &quot;readmission&quot; &amp; more"));
    }

    #[test]
    fn a_version_without_stored_figures_says_so() {
        let html = render(&CardData { name: "old".into(), version: 1, algorithm: "logistic".into(), ..Default::default() });
        assert_eq!(html.matches("class=\"plot empty\"").count(), 8);
        assert!(html.contains("Not checked") && html.contains("No intervals stored"));
    }
}
