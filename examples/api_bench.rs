//! The API-plane benchmark's tools; `scripts/bench-api.sh` drives them. Each prints one JSON line.
//!
//! - `bare ADDR BODY_FILE`: a bare poem server answering every request with the bytes of
//!   BODY_FILE as JSON (the baseline: the framework alone, same machine, same run).
//! - `load URL [--seconds S] [--connections C | --rate R] [--method M] [--body JSON]
//!   [--header NAME:VALUE] [--credentials FILE] [--warmup W]`: after W seconds (default 1) of the
//!   same load, unrecorded, a closed loop of C connections (default 32) sending as fast as
//!   answers come (the maximum rate), or an open loop sending R requests per second on schedule,
//!   at most C in flight, latency counted from the scheduled moment (so a slow answer cannot
//!   hide the ones queued behind it). With `--credentials`, request k carries line k mod n of FILE as `X-Auth-Token`,
//!   and the answer counts per user and per second how many were let through (the limiter's
//!   precision). `--trace FILE` writes each request's moment and latency (microseconds) to FILE.
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
    /// With `--trace`: (scheduled or sent moment since the start, latency), both in microseconds.
    trace: Vec<(u64, u64)>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    /// Per user, per whole second since the start: requests let through (not 429).
    let_through: BTreeMap<usize, BTreeMap<u64, u64>>,
}

/// What every request of a run sends: the request's bytes are made once (per credential).
struct Plan {
    addr: String,
    /// One request per credential (or one without): method, path, host, headers and body.
    requests: Vec<Vec<u8>>,
    per_user: bool,
    trace: bool,
}

impl Plan {
    fn new(url: &str, method: &str, body: Option<&str>, headers: &[(String, String)], credentials: &[String], trace: bool) -> Plan {
        let url = url::Url::parse(url).expect("a URL");
        let host = format!("{}:{}", url.host_str().expect("a host"), url.port_or_known_default().expect("a port"));
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let one = |token: Option<&str>| {
            let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\naccept: application/json\r\n");
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            if let Some(token) = token {
                head.push_str(&format!("x-auth-token: {token}\r\n"));
            }
            if let Some(body) = body {
                head.push_str(&format!("content-type: application/json\r\ncontent-length: {}\r\n", body.len()));
            }
            head.push_str("\r\n");
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(body.unwrap_or_default().as_bytes());
            bytes
        };
        let requests = match credentials.is_empty() {
            true => vec![one(None)],
            false => credentials.iter().map(|c| one(Some(c))).collect(),
        };
        Plan { addr: host, requests, per_user: !credentials.is_empty(), trace }
    }

    fn users(&self) -> usize {
        self.requests.len()
    }
}

/// One keep-alive HTTP/1.1 connection of the load generator: writes a request, reads the answer
/// to its last byte (by its `content-length`) and answers the status. Lean on purpose: the
/// generator shares the machine's two cores with the server it measures, so what it spends per
/// request is taken from the server.
struct Connection {
    stream: Option<tokio::net::TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    async fn exchange(&mut self, addr: &str, request: &[u8]) -> std::io::Result<u16> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let stream = match &mut self.stream {
            Some(s) => s,
            None => {
                let s = tokio::net::TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                self.stream.insert(s)
            }
        };
        let result = async {
            stream.write_all(request).await?;
            self.buf.clear();
            let (head_len, status, length, close) = loop {
                if let Some(parsed) = parse_head(&self.buf)? {
                    break parsed;
                }
                if self.buf.len() == self.buf.capacity() {
                    self.buf.reserve(self.buf.len().max(16 * 1024));
                }
                if stream.read_buf(&mut self.buf).await? == 0 {
                    return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before the answer's head"));
                }
            };
            // The body is read into the same buffer and thrown away.
            let mut left = (head_len + length).saturating_sub(self.buf.len());
            while left > 0 {
                self.buf.clear();
                self.buf.reserve(left.min(256 * 1024));
                let n = stream.read_buf(&mut self.buf).await?;
                if n == 0 {
                    return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed inside the answer's body"));
                }
                left = left.saturating_sub(n);
            }
            Ok((status, close))
        }
        .await;
        match result {
            Ok((status, close)) => {
                if close {
                    self.stream = None;
                }
                Ok(status)
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }
}

/// The status, head length, body length and `connection: close` of an answer whose head is
/// complete in `buf`; `None` while it is not. Only answers with a `content-length` are understood.
fn parse_head(buf: &[u8]) -> std::io::Result<Option<(usize, u16, usize, bool)>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return Ok(None) };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad("a head that is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).ok_or_else(|| bad("no status"))?;
    let (mut length, mut close) = (None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok();
        } else if name.eq_ignore_ascii_case("connection") && value.trim().eq_ignore_ascii_case("close") {
            close = true;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad("a chunked answer (only content-length is read)"));
        }
    }
    Ok(Some((end + 4, status, length.ok_or_else(|| bad("no content-length"))?, close)))
}

fn record(tally: &Mutex<Tally>, plan: &Plan, k: usize, result: std::io::Result<u16>, latency: Duration, since_start: Duration) {
    let mut t = tally.lock().expect("the tally");
    t.latencies_us.push(latency.as_micros() as u64);
    if plan.trace {
        t.trace.push((since_start.as_micros() as u64, latency.as_micros() as u64));
    }
    let second = since_start.as_secs();
    match result {
        Ok(status) => {
            *t.statuses.entry(status).or_default() += 1;
            if plan.per_user && status != 429 {
                *t.let_through.entry(k % plan.users()).or_default().entry(second).or_default() += 1;
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
    let warmup: f64 = num(args, "--warmup", 1.0);
    let rate: Option<f64> = arg(args, "--rate").and_then(|r| r.parse().ok());
    let headers: Vec<(String, String)> = args
        .windows(2)
        .filter(|w| w[0] == "--header")
        .filter_map(|w| w[1].split_once(':').map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())))
        .collect();
    let credentials: Vec<String> = arg(args, "--credentials")
        .map(|f| std::fs::read_to_string(f).expect("the credentials file").lines().map(str::to_owned).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();
    let method = arg(args, "--method").unwrap_or_else(|| "GET".into());
    let body = arg(args, "--body");
    let plan = Arc::new(Plan::new(&url, &method, body.as_deref(), &headers, &credentials, arg(args, "--trace").is_some()));
    // One thread: the load generator takes one core, whichever server it measures.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = runtime.block_on(async {
        // The warm-up runs the same load unrecorded: connections are open and the server is warm
        // when counting starts (as wrk and wrk2 do), so the first requests' connection set-up is
        // not counted as the server's latency.
        let begin = Instant::now();
        let start = begin + Duration::from_secs_f64(warmup);
        let deadline = start + Duration::from_secs_f64(seconds);
        // Request k is due at begin + k / rate in an open loop, or as soon as a connection is free
        // in a closed one. Each of the C connections takes the next request when its last one is
        // answered, so at most C are in flight: a server that falls behind makes due requests
        // wait for a connection, their latency still counted from the moment they were due (no
        // coordinated omission), and the client never opens more than C connections.
        let total = rate.map(|r| (r * (warmup + seconds)) as usize);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let workers: Vec<_> = (0..connections)
            .map(|_| {
                let (plan, tally, next) = (plan.clone(), tally.clone(), next.clone());
                tokio::spawn(async move {
                    let mut connection = Connection { stream: None, buf: Vec::with_capacity(64 * 1024) };
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let due = match (rate, total) {
                            (Some(rate), Some(total)) if k < total => {
                                let due = begin + Duration::from_secs_f64(k as f64 / rate);
                                tokio::time::sleep_until(due.into()).await;
                                due
                            }
                            (None, _) if Instant::now() < deadline => Instant::now(),
                            _ => break,
                        };
                        let result = connection.exchange(&plan.addr, &plan.requests[k % plan.users()]).await;
                        if due >= start {
                            record(&tally, &plan, k, result, due.elapsed(), due - start);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.await;
        }
        start
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut t = tally.lock().expect("the tally");
    if let Some(file) = arg(args, "--trace") {
        t.trace.sort_unstable();
        let lines: String = t.trace.iter().map(|(at, latency)| format!("{at} {latency}\n")).collect();
        std::fs::write(file, lines).expect("the trace file");
    }
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
    if plan.per_user {
        out["per_user"] = per_user(&t.let_through, plan.users(), seconds as u64, 3);
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
