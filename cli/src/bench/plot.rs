//! The benchmark's chart, written by hand as SVG: one horizontal bar per mode for the median
//! total time (with the ratio to WebSocket mode) and one for the median uplink bytes.

use std::fmt::Write;

/// One mode's medians.
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    /// The mode's label.
    pub(crate) label: String,
    /// Median total time in milliseconds.
    pub(crate) total_ms: f64,
    /// Median bytes sent by the client.
    pub(crate) up_bytes: u64,
}

const WIDTH: f64 = 860.0;
const LEFT: f64 = 250.0;
const BAR_MAX: f64 = 380.0;
const BAR_HEIGHT: f64 = 26.0;
const GAP: f64 = 12.0;
const COLORS: [&str; 3] = ["#2b8a3e", "#c92a2a", "#e67700"];

/// The chart; `title` describes the setup (RTT, calls, …).
pub(crate) fn svg(title: &str, bars: &[Bar]) -> String {
    let panel = |bars_top: f64| bars_top + bars.len() as f64 * (BAR_HEIGHT + GAP);
    let time_top = 70.0;
    let bytes_top = panel(time_top) + 50.0;
    let height = panel(bytes_top) + 20.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="16" y="26" font-size="16" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let ws_ms = bars.first().map_or(0.0, |bar| bar.total_ms);
    let max_ms = bars.iter().map(|bar| bar.total_ms).fold(0.0, f64::max);
    let max_up = bars.iter().map(|bar| bar.up_bytes).max().unwrap_or(0) as f64;
    section(&mut out, time_top, "median total time (lower is better)");
    for (i, bar) in bars.iter().enumerate() {
        let ratio = match ws_ms > 0.0 {
            true => format!(" ({:.2}× WebSocket)", bar.total_ms / ws_ms),
            false => String::new(),
        };
        let value = format!("{:.0} ms{ratio}", bar.total_ms);
        row(
            &mut out,
            time_top,
            i,
            &bar.label,
            bar.total_ms / max_ms.max(1e-9),
            &value,
        );
    }
    section(&mut out, bytes_top, "median bytes sent by the client");
    for (i, bar) in bars.iter().enumerate() {
        let value = format!("{:.1} KiB", bar.up_bytes as f64 / 1024.0);
        row(
            &mut out,
            bytes_top,
            i,
            &bar.label,
            bar.up_bytes as f64 / max_up.max(1.0),
            &value,
        );
    }
    out.push_str("</svg>\n");
    out
}

fn section(out: &mut String, top: f64, title: &str) {
    let _ = writeln!(
        out,
        r#"<text x="16" y="{}" font-weight="bold">{}</text>"#,
        top - 12.0,
        escape(title)
    );
}

fn row(out: &mut String, top: f64, index: usize, label: &str, fraction: f64, value: &str) {
    let y = top + index as f64 * (BAR_HEIGHT + GAP);
    let width = (fraction.clamp(0.0, 1.0) * BAR_MAX).max(1.0);
    let color = COLORS[index % COLORS.len()];
    let text_y = y + BAR_HEIGHT * 0.68;
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{text_y}" text-anchor="end">{}</text>"#,
        LEFT - 10.0,
        escape(label)
    );
    let _ = writeln!(
        out,
        r#"<rect x="{LEFT}" y="{y}" width="{width:.1}" height="{BAR_HEIGHT}" fill="{color}"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{text_y}">{}</text>"#,
        LEFT + width + 8.0,
        escape(value)
    );
}

/// Text safe inside SVG elements.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_text_is_escaped() {
        let bars = [
            Bar {
                label: "WebSocket".into(),
                total_ms: 500.0,
                up_bytes: 10_240,
            },
            Bar {
                label: "HTTP <full>".into(),
                total_ms: 1000.0,
                up_bytes: 102_400,
            },
        ];
        let svg = svg("RTT 50 ms & 20 calls", &bars);
        assert!(svg.starts_with("<svg "));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("RTT 50 ms &amp; 20 calls"));
        assert!(svg.contains("HTTP &lt;full&gt;"));
        assert!(svg.contains(r#"width="190.0""#)); // 500 of 1000 ms
        assert!(svg.contains(r#"width="380.0""#));
        assert!(svg.contains("2.00× WebSocket"));
        assert!(svg.contains("100.0 KiB"));
    }
}
