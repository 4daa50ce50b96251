//! The web console at `/ui`: one page, its script and its style, compiled into the binary (no
//! build step). The page logs in through `POST /login` (the session cookie) and then speaks only
//! the admin API, so it can do nothing its user could not do with curl, and the server checks
//! every change whatever the page shows.

use poem::{Response, Route, get, handler, http::header};

const PAGE: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

/// Scripts and styles from this server only; no framing by other sites.
const POLICY: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'";

fn asset(content_type: &str, body: &'static str) -> Response {
    Response::builder()
        .content_type(content_type)
        .header(header::CACHE_CONTROL, "no-cache")
        .header("content-security-policy", POLICY)
        .header("x-content-type-options", "nosniff")
        .body(body)
}

#[handler]
fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

#[handler]
fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

#[handler]
fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// The console's routes, nested at `/ui`.
pub fn routes() -> Route {
    Route::new().at("/", get(page)).at("/console.js", get(script)).at("/console.css", get(style))
}
