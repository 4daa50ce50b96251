//! Prometheus metrics kept in memory and rendered as text at `GET /metrics`: requests by dialect,
//! route and status, a latency histogram, 429s and authentication failures; tasks this server saw
//! end (by kind and state, their bytes and durations), agents' heartbeats and lease takeovers.
//! Operations by kind and state are counted in the database when scraped (see `api::metrics`).

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use parking_lot::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
/// Upper bounds of the task duration buckets, in seconds.
const TASK_BUCKETS: [f64; 12] = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64; 12], value: f64) {
        for (i, bound) in bounds.iter().enumerate() {
            if value <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64; 12]) {
        for (bound, n) in bounds.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// Tasks of one kind that ended in one state.
#[derive(Default)]
struct Tasks {
    bytes: u64,
    files: u64,
    seconds: Histogram,
}

/// What every request adds to, under one lock: keys are static names and the route label the
/// request brought, so counting allocates nothing new.
#[derive(Default)]
struct Requests {
    counts: BTreeMap<(&'static str, &'static str, String, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    rate_limited: BTreeMap<&'static str, u64>,
}

#[derive(Default)]
struct Inner {
    requests: Mutex<Requests>,
    auth_failures: Mutex<BTreeMap<&'static str, u64>>,
    in_flight: AtomicU64,
    tasks: Mutex<BTreeMap<(&'static str, &'static str), Tasks>>,
    heartbeats: Mutex<BTreeMap<(String, uuid::Uuid), u64>>,
    lease_takeovers: AtomicU64,
}

/// The process's metrics; cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, dialect: &'static str, method: &poem::http::Method, route: String, status: u16, elapsed: Duration) {
        let mut requests = self.inner.requests.lock();
        *requests.counts.entry((dialect, method_name(method), route, status)).or_default() += 1;
        requests.latency.entry(dialect).or_default().observe(&BUCKETS, elapsed.as_secs_f64());
        if status == 429 {
            *requests.rate_limited.entry(dialect).or_default() += 1;
        }
    }

    pub fn auth_failure(&self, dialect: &'static str) {
        *self.inner.auth_failures.lock().entry(dialect).or_default() += 1;
    }

    /// Records a task that ended here: its kind, end state, the files and bytes it moved and how
    /// long it ran (from its claim).
    pub fn task_ended(&self, kind: &'static str, state: &'static str, files: u64, bytes: u64, ran: Duration) {
        let mut tasks = self.inner.tasks.lock();
        let t = tasks.entry((kind, state)).or_default();
        t.files += files;
        t.bytes += bytes;
        t.seconds.observe(&TASK_BUCKETS, ran.as_secs_f64());
    }

    /// Records an agent's claim or progress report.
    pub fn heartbeat(&self, agent: &str, id: uuid::Uuid) {
        *self.inner.heartbeats.lock().entry((agent.to_owned(), id)).or_default() += 1;
    }

    /// Records a task taken back from a claim whose lease ran out (or from this server's earlier run).
    pub fn lease_takeover(&self) {
        self.inner.lease_takeovers.fetch_add(1, Ordering::Relaxed);
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
        let requests = self.inner.requests.lock();
        for ((dialect, method, route, status), n) in requests.counts.iter() {
            let _ = writeln!(
                out,
                "coffer_http_requests_total{{dialect=\"{dialect}\",method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP coffer_http_request_duration_seconds Request latency by dialect.\n");
        out.push_str("# TYPE coffer_http_request_duration_seconds histogram\n");
        for (dialect, h) in requests.latency.iter() {
            h.render(&mut out, "coffer_http_request_duration_seconds", &format!("dialect=\"{dialect}\""), &BUCKETS);
        }
        out.push_str("# HELP coffer_rate_limited_total Requests refused with 429.\n");
        out.push_str("# TYPE coffer_rate_limited_total counter\n");
        for (dialect, n) in requests.rate_limited.iter() {
            let _ = writeln!(out, "coffer_rate_limited_total{{dialect=\"{dialect}\"}} {n}");
        }
        drop(requests);
        out.push_str("# HELP coffer_auth_failures_total Requests refused for a missing or wrong credential.\n");
        out.push_str("# TYPE coffer_auth_failures_total counter\n");
        for (dialect, n) in self.inner.auth_failures.lock().iter() {
            let _ = writeln!(out, "coffer_auth_failures_total{{dialect=\"{dialect}\"}} {n}");
        }
        out.push_str("# HELP coffer_http_requests_in_flight Requests being served.\n");
        out.push_str("# TYPE coffer_http_requests_in_flight gauge\n");
        let _ = writeln!(out, "coffer_http_requests_in_flight {}", self.inner.in_flight.load(Ordering::Relaxed));
        let tasks = self.inner.tasks.lock();
        out.push_str("# HELP coffer_task_bytes_total Bytes moved by tasks that ended on this server, by kind and end state.\n");
        out.push_str("# TYPE coffer_task_bytes_total counter\n");
        for ((kind, state), t) in tasks.iter() {
            let _ = writeln!(out, "coffer_task_bytes_total{{kind=\"{kind}\",state=\"{state}\"}} {}", t.bytes);
        }
        out.push_str("# HELP coffer_task_files_total Files moved by tasks that ended on this server, by kind and end state.\n");
        out.push_str("# TYPE coffer_task_files_total counter\n");
        for ((kind, state), t) in tasks.iter() {
            let _ = writeln!(out, "coffer_task_files_total{{kind=\"{kind}\",state=\"{state}\"}} {}", t.files);
        }
        out.push_str("# HELP coffer_task_duration_seconds How long tasks ran from their claim to their end, by kind and end state.\n");
        out.push_str("# TYPE coffer_task_duration_seconds histogram\n");
        for ((kind, state), t) in tasks.iter() {
            t.seconds.render(&mut out, "coffer_task_duration_seconds", &format!("kind=\"{kind}\",state=\"{state}\""), &TASK_BUCKETS);
        }
        drop(tasks);
        out.push_str("# HELP coffer_agent_heartbeats_total Claims and progress reports received from each agent.\n");
        out.push_str("# TYPE coffer_agent_heartbeats_total counter\n");
        for ((agent, id), n) in self.inner.heartbeats.lock().iter() {
            let _ = writeln!(out, "coffer_agent_heartbeats_total{{agent=\"{}\",agent_id=\"{id}\"}} {n}", escape(agent));
        }
        out.push_str("# HELP coffer_lease_takeovers_total Tasks taken back after their claim's lease ran out or its server restarted.\n");
        out.push_str("# TYPE coffer_lease_takeovers_total counter\n");
        let _ = writeln!(out, "coffer_lease_takeovers_total {}", self.inner.lease_takeovers.load(Ordering::Relaxed));
        out
    }
}

/// A method's name; methods outside HTTP's own are counted together.
fn method_name(method: &poem::http::Method) -> &'static str {
    use poem::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

pub fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
