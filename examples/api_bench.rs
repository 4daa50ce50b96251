//! The API-plane benchmark's tools; `scripts/bench-api.sh` drives them. Each prints one JSON line.
//!
//! - `bare ADDR BODY_FILE`: a bare poem server answering every request with the bytes of
//!   BODY_FILE as JSON (the baseline: the framework alone, same machine, same run).
//! - `load URL [--seconds S] [--connections C | --rate R] [--method M] [--body JSON]
//!   [--header NAME:VALUE] [--credentials FILE]`: a closed loop of C connections sending as fast as
//!   answers come (the maximum rate), or an open loop sending R requests per second on schedule,
//!   at most 256 in flight, latency counted from the scheduled moment (so a slow answer cannot
//!   hide the ones queued behind it). With `--credentials`, request k carries line k mod n of FILE as `X-Auth-Token`,
//!   and the answer counts per user and per second how many were let through (the limiter's
//!   precision).
//! - `limiter [--users U] [--rate R] [--seconds S]`: Coffer's own limiter in process, U users each
//!   offering R requests per second for S seconds on the real clock: accepted per user per second,
//!   and the limiter's cost per check.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    arg(args, name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bare") => bare(&args[1], &args[2]),
        Some("load") => load(&args[1..]),
        Some("limiter") => limiter(&args[1..]),
        _ => {
            eprintln!("usage: api_bench bare ADDR BODY_FILE | load URL [options] | limiter [options]");
            std::process::exit(2);
        }
    }
}

/// The baseline server: poem with one handler that answers a fixed body.
fn bare(addr: &str, body_file: &str) {
    use poem::{EndpointExt, Route, handler, web::Data};
    let body = bytes::Bytes::from(std::fs::read(body_file).expect("the body file"));
    #[handler]
    fn fixed(body: Data<&bytes::Bytes>) -> poem::Response {
        poem::Response::builder().content_type("application/json").body(body.0.clone())
    }
    let app = Route::new().at("/*path", fixed).data(body);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        poem::Server::new(poem::listener::TcpListener::bind(addr.to_owned())).run(app).await.expect("the bare server runs");
    });
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    /// Per user, per whole second since the start: requests let through (not 429).
    let_through: BTreeMap<usize, BTreeMap<u64, u64>>,
}

struct Plan {
    client: reqwest::Client,
    url: String,
    method: reqwest::Method,
    body: Option<String>,
    headers: Vec<(String, String)>,
    credentials: Vec<String>,
}

impl Plan {
    async fn send(&self, k: usize) -> Result<u16, reqwest::Error> {
        let mut req = self.client.request(self.method.clone(), &self.url);
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        if !self.credentials.is_empty() {
            req = req.header("x-auth-token", &self.credentials[k % self.credentials.len()]);
        }
        if let Some(b) = &self.body {
            req = req.header("content-type", "application/json").body(b.clone());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        resp.bytes().await?;
        Ok(status)
    }
}

fn record(tally: &Mutex<Tally>, plan: &Plan, k: usize, result: Result<u16, reqwest::Error>, latency: Duration, second: u64) {
    let mut t = tally.lock().expect("the tally");
    t.latencies_us.push(latency.as_micros() as u64);
    match result {
        Ok(status) => {
            *t.statuses.entry(status).or_default() += 1;
            if !plan.credentials.is_empty() && status != 429 {
                *t.let_through.entry(k % plan.credentials.len()).or_default().entry(second).or_default() += 1;
            }
        }
        Err(_) => t.errors += 1,
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn load(args: &[String]) {
    let url = args[0].clone();
    let seconds: f64 = num(args, "--seconds", 5.0);
    let connections: usize = num(args, "--connections", 32);
    let rate: Option<f64> = arg(args, "--rate").and_then(|r| r.parse().ok());
    let headers = args
        .windows(2)
        .filter(|w| w[0] == "--header")
        .filter_map(|w| w[1].split_once(':').map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())))
        .collect();
    let credentials = arg(args, "--credentials")
        .map(|f| std::fs::read_to_string(f).expect("the credentials file").lines().map(str::to_owned).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();
    let plan = Arc::new(Plan {
        client: reqwest::Client::builder().pool_max_idle_per_host(4096).build().expect("a client"),
        url,
        method: arg(args, "--method").unwrap_or_else(|| "GET".into()).parse().expect("a method"),
        body: arg(args, "--body"),
        headers,
        credentials,
    });
    // One thread: the load generator takes one core, whichever server it measures.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = runtime.block_on(async {
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(seconds);
        let mut tasks = Vec::new();
        match rate {
            None => {
                let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                for _ in 0..connections {
                    let (plan, tally, counter) = (plan.clone(), tally.clone(), counter.clone());
                    tasks.push(tokio::spawn(async move {
                        while Instant::now() < deadline {
                            let k = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let sent = Instant::now();
                            let result = plan.send(k).await;
                            record(&tally, &plan, k, result, sent.elapsed(), (sent - start).as_secs());
                        }
                    }));
                }
            }
            Some(rate) => {
                let total = (rate * seconds) as usize;
                // At most 256 requests in flight (so at most 256 connections): a server that falls
                // behind makes requests wait here, counted from their scheduled moment, instead of
                // making the client open a connection per request until the machine's ports run out.
                let in_flight = Arc::new(tokio::sync::Semaphore::new(256));
                for k in 0..total {
                    let due = start + Duration::from_secs_f64(k as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                    let (plan, tally, in_flight) = (plan.clone(), tally.clone(), in_flight.clone());
                    tasks.push(tokio::spawn(async move {
                        let _permit = in_flight.acquire().await.expect("the semaphore stays open");
                        let result = plan.send(k).await;
                        record(&tally, &plan, k, result, due.elapsed(), (due - start).as_secs());
                    }));
                }
            }
        }
        for t in tasks {
            let _ = t.await;
        }
        start
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut t = tally.lock().expect("the tally");
    t.latencies_us.sort_unstable();
    let requests = t.latencies_us.len();
    let mut out = json!({
        "requests": requests,
        "seconds": elapsed,
        "rps": requests as f64 / elapsed,
        "statuses": t.statuses,
        "errors": t.errors,
        "p50_ms": percentile(&t.latencies_us, 0.50),
        "p90_ms": percentile(&t.latencies_us, 0.90),
        "p99_ms": percentile(&t.latencies_us, 0.99),
        "max_ms": percentile(&t.latencies_us, 1.0),
    });
    if !plan.credentials.is_empty() {
        out["per_user"] = per_user(&t.let_through, plan.credentials.len(), seconds as u64, 3);
    }
    println!("{out}");
}

/// Let-through counts per user and second. GCRA lets a burst through on top of the rate, so the
/// first seconds (until a user offering more than the limit has spent the burst: `settle`) are
/// reported apart from the steady seconds after them, beside each user's total.
fn per_user(counts: &BTreeMap<usize, BTreeMap<u64, u64>>, users: usize, seconds: u64, settle: u64) -> Value {
    let (mut early, mut steady, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for user in 0..users {
        let by_second = counts.get(&user);
        let at = |s: u64| by_second.and_then(|m| m.get(&s)).copied().unwrap_or(0);
        early.extend((0..settle.min(seconds)).map(at));
        steady.extend((settle..seconds).map(at));
        totals.push((0..seconds).map(at).sum::<u64>());
    }
    let within = steady.iter().filter(|&&c| (34..=36).contains(&c)).count();
    json!({
        "users": users,
        "settle_seconds": settle,
        "early_seconds": { "min": early.iter().min(), "max": early.iter().max() },
        "steady_seconds": { "count": steady.len(), "min": steady.iter().min(), "max": steady.iter().max(),
                            "within_35_plus_minus_1": within },
        "total_per_user": { "min": totals.iter().min(), "max": totals.iter().max() },
    })
}

/// Coffer's limiter alone: U users × R offers per second on the real clock, then its cost.
fn limiter(args: &[String]) {
    use coffer::rate_limit::{Decision, Limiters, RateKey};
    let users: usize = num(args, "--users", 1000);
    let rate: u64 = num(args, "--rate", 50);
    let seconds: u64 = num(args, "--seconds", 10);
    let settings = coffer::config::Settings::default().rate_limit;
    let limiters = Limiters::new(&settings);
    let ids: Vec<uuid::Uuid> = (0..users).map(|_| uuid::Uuid::new_v4()).collect();
    let mut counts: BTreeMap<usize, BTreeMap<u64, u64>> = BTreeMap::new();
    // Each user's offers are evenly spaced, the users' phases spread over the interval.
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut next_due: Vec<Instant> = Vec::with_capacity(users);
    let start = Instant::now();
    for u in 0..users {
        next_due.push(start + interval.mul_f64(u as f64 / users as f64));
    }
    let end = start + Duration::from_secs(seconds);
    let mut offered = 0u64;
    while Instant::now() < end {
        let now = Instant::now();
        for u in 0..users {
            while next_due[u] <= now && next_due[u] < end {
                offered += 1;
                if let Decision::Allowed { .. } = limiters.check(RateKey::User(ids[u])) {
                    *counts.entry(u).or_default().entry((next_due[u] - start).as_secs()).or_default() += 1;
                }
                next_due[u] += interval;
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    // The cost of one check, over as many distinct users, in a tight loop.
    let rounds = 2_000_000usize;
    let costly = Limiters::new(&coffer::config::RateLimitSettings { per_second: 1_000_000, burst: 1_000_000, ..settings });
    let timer = Instant::now();
    for i in 0..rounds {
        std::hint::black_box(costly.check(RateKey::User(ids[i % users])));
    }
    let ns = timer.elapsed().as_nanos() as f64 / rounds as f64;
    println!(
        "{}",
        json!({
            "users": users, "offered_per_user_per_second": rate, "seconds": seconds, "offered": offered,
            "limit": settings.per_second, "burst": settings.burst,
            "per_user": per_user(&counts, users, seconds, 3),
            "check_ns": ns,
        })
    );
}
