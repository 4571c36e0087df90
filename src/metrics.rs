//! What an operator watches, in Prometheus' text exposition format
//! (`GET /metrics`): counters and histograms kept in atomics by the parts
//! that do the work (the web layer's requests, the store's commits), and
//! gauges read from the database when scraped (the outbox, timers, leases).
//!
//! No personal data: requests are counted by route pattern and status.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

/// A histogram with fixed upper bounds; each observation counted in the
/// first bucket it fits (cumulated when written out).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    /// Sum of observations in millionths, to stay an integer.
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// Seconds, for latencies: 1 ms to 10 s.
pub const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Items in a batch: 1 to the committer's most.
pub const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        if let Some(bucket) = self.bounds.iter().position(|bound| value <= *bound) {
            self.counts[bucket].fetch_add(1, Relaxed);
        }
        // Truncation to whole millionths is the intent; negatives are 0.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let micros = (value * 1_000_000.0).max(0.0) as u64;
        self.sum_micros.fetch_add(micros, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(elapsed.as_secs_f64());
    }

    /// The `_bucket`, `_sum` and `_count` lines of `name` with `labels`
    /// (`key="value",…` or empty).
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let separator = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{separator}le=\"{bound}\"}} {cumulative}"
            );
        }
        let total = self.count.load(Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {total}"
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        #[allow(clippy::cast_precision_loss)]
        let sum = self.sum_micros.load(Relaxed) as f64 / 1_000_000.0;
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {total}");
    }
}

/// The requests the web layer answered: by method, route pattern and
/// status, and their latency by route pattern.
#[derive(Debug, Default)]
pub struct Requests {
    counts: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl Requests {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        drop(counts);
        let mut latency = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        latency
            .entry(route.to_string())
            .or_insert_with(|| Histogram::new(SECONDS))
            .observe_duration(elapsed);
    }

    pub fn write(&self, out: &mut String) {
        family(
            out,
            "onewindow_http_requests_total",
            "counter",
            "Requests answered, by method, route pattern and status.",
        );
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for ((method, route, status), count) in counts.iter() {
            let _ = writeln!(
                out,
                "onewindow_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                escape(route)
            );
        }
        drop(counts);
        family(
            out,
            "onewindow_http_request_duration_seconds",
            "histogram",
            "Time to answer a request, by route pattern.",
        );
        let latency = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (route, histogram) in latency.iter() {
            histogram.write(
                out,
                "onewindow_http_request_duration_seconds",
                &format!("route=\"{}\"", escape(route)),
            );
        }
    }
}

/// The `# HELP` and `# TYPE` lines of a metric family.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One sample of a gauge or counter without labels, with its family lines.
pub fn single(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// A histogram family with its lines.
pub fn histogram(out: &mut String, name: &str, help: &str, histogram: &Histogram) {
    family(out, name, "histogram", help);
    histogram.write(out, name, "");
}

/// A label value as the format wants it: backslash, quote and newline escaped.
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_cumulates_its_buckets() {
        let histogram = Histogram::new(&[1.0, 2.0]);
        for value in [0.5, 1.5, 1.5, 3.0] {
            histogram.observe(value);
        }
        let mut out = String::new();
        histogram.write(&mut out, "x", "");
        assert_eq!(
            out,
            "x_bucket{le=\"1\"} 1\nx_bucket{le=\"2\"} 3\nx_bucket{le=\"+Inf\"} 4\nx_sum 6.5\nx_count 4\n"
        );
    }

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let requests = Requests::default();
        requests.record("GET", "/filings/{id}", 200, Duration::from_millis(3));
        requests.record("GET", "/filings/{id}", 200, Duration::from_millis(4));
        requests.record("GET", "/filings/{id}", 404, Duration::from_millis(1));
        let mut out = String::new();
        requests.write(&mut out);
        assert!(out.contains(
            "onewindow_http_requests_total{method=\"GET\",route=\"/filings/{id}\",status=\"200\"} 2\n"
        ));
        assert!(out.contains(
            "onewindow_http_request_duration_seconds_count{route=\"/filings/{id}\"} 3\n"
        ));
    }
}
