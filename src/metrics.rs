//! Prometheus metrics kept in memory and rendered as text at `GET /metrics`: requests by dialect,
//! route and status, a latency histogram, 429s and authentication failures.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    requests: Mutex<BTreeMap<(String, String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    rate_limited: Mutex<BTreeMap<String, u64>>,
    auth_failures: Mutex<BTreeMap<String, u64>>,
    in_flight: AtomicU64,
}

/// The process's metrics; cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, dialect: &str, method: &str, route: &str, status: u16, elapsed: Duration) {
        let key = (dialect.to_owned(), method.to_owned(), route.to_owned(), status);
        *self.inner.requests.lock().expect("metrics lock").entry(key).or_default() += 1;
        let secs = elapsed.as_secs_f64();
        let mut latency = self.inner.latency.lock().expect("metrics lock");
        let h = latency.entry(dialect.to_owned()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
        if status == 429 {
            *self.inner.rate_limited.lock().expect("metrics lock").entry(dialect.to_owned()).or_default() += 1;
        }
    }

    pub fn auth_failure(&self, dialect: &str) {
        *self.inner.auth_failures.lock().expect("metrics lock").entry(dialect.to_owned()).or_default() += 1;
    }

    pub fn started(&self) {
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn finished(&self) {
        self.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of everything recorded.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP coffer_http_requests_total HTTP requests by dialect, method, route and status.\n");
        out.push_str("# TYPE coffer_http_requests_total counter\n");
        for ((dialect, method, route, status), n) in self.inner.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "coffer_http_requests_total{{dialect=\"{dialect}\",method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP coffer_http_request_duration_seconds Request latency by dialect.\n");
        out.push_str("# TYPE coffer_http_request_duration_seconds histogram\n");
        for (dialect, h) in self.inner.latency.lock().expect("metrics lock").iter() {
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(out, "coffer_http_request_duration_seconds_bucket{{dialect=\"{dialect}\",le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(out, "coffer_http_request_duration_seconds_bucket{{dialect=\"{dialect}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "coffer_http_request_duration_seconds_sum{{dialect=\"{dialect}\"}} {}", h.sum);
            let _ = writeln!(out, "coffer_http_request_duration_seconds_count{{dialect=\"{dialect}\"}} {}", h.count);
        }
        out.push_str("# HELP coffer_rate_limited_total Requests refused with 429.\n");
        out.push_str("# TYPE coffer_rate_limited_total counter\n");
        for (dialect, n) in self.inner.rate_limited.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "coffer_rate_limited_total{{dialect=\"{dialect}\"}} {n}");
        }
        out.push_str("# HELP coffer_auth_failures_total Requests refused for a missing or wrong credential.\n");
        out.push_str("# TYPE coffer_auth_failures_total counter\n");
        for (dialect, n) in self.inner.auth_failures.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "coffer_auth_failures_total{{dialect=\"{dialect}\"}} {n}");
        }
        out.push_str("# HELP coffer_http_requests_in_flight Requests being served.\n");
        out.push_str("# TYPE coffer_http_requests_in_flight gauge\n");
        let _ = writeln!(out, "coffer_http_requests_in_flight {}", self.inner.in_flight.load(Ordering::Relaxed));
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
