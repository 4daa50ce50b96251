//! The request edge: every request passes here before any dialect sees it. In order: request id
//! and span, body limit, credential check, rate limit, role check; on the way out, errors are
//! rendered in the dialect's shape and the request is counted in the metrics.

use std::{net::IpAddr, sync::Arc, time::Instant};

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, Method, header},
};
use tracing::Instrument;

use super::{ErrorContext, RequestId, cache, core_error_from_poem, dialect::route_label, new_request_id, render_error};
use crate::{
    auth::Credential,
    domain::identity::Principal,
    error::CoreError,
    rate_limit::{Decision, RateKey},
    state::AppState,
};

/// Largest object an agent may upload through the store proxy.
const STORE_BODY_LIMIT: usize = 256 << 20;

/// Paths served without a credential: discovery, token issue, login, health, metrics and docs.
pub fn is_public(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    match p {
        "" | "/v2.0" | "/v3" | "/healthz" | "/readyz" | "/metrics" | "/openapi.json" | "/login" | "/favicon.ico" => true,
        // Issuing a token needs none; the other methods are answered 405.
        "/v2.0/tokens" | "/v3/auth/tokens" => true,
        _ => p.starts_with("/docs") || p.starts_with("/openapi/") || p == "/ui" || p.starts_with("/ui/"),
    }
}

/// Tenants and users are the admins' (a user may only change their own password): refused here,
/// before any body is read.
fn admin_only(method: &Method, path: &str, p: &Principal) -> bool {
    let path = path.trim_end_matches('/');
    let accounts = path == "/admin/v1/tenants"
        || path.starts_with("/admin/v1/tenants/")
        || path == "/admin/v1/users"
        || path.starts_with("/admin/v1/users/");
    let own_password = method == Method::PUT && path == format!("/admin/v1/users/{}/password", p.user_name);
    accounts && !own_password && p.role != crate::domain::identity::Role::Admin
}

/// Wraps the whole application.
pub async fn edge<E: Endpoint>(next: Arc<E>, mut req: Request, state: AppState) -> poem::Result<Response> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    // Scripts (the console) handle a 401 themselves: a Basic challenge would make the browser ask
    // for a password in a box of its own.
    let scripted = req.headers().contains_key("x-requested-with");
    let ctx = ErrorContext {
        dialect: super::Dialect::from_path(&path),
        request_id: request_id.clone(),
        base_url: state.settings.base_url().to_owned(),
    };
    let client = client_address(&req, &state.settings.trusted_proxies);
    req.extensions_mut().insert(ClientAddress(client));
    req.extensions_mut().insert(RequestId(request_id.clone()));
    req.extensions_mut().insert(ctx.clone());

    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %path, dialect = ctx.dialect.name());
    state.metrics.started();
    let (mut resp, matched) = guarded(next, req, &state, &ctx).instrument(span.clone()).await;
    state.metrics.finished();

    let status = resp.status().as_u16();
    let route = if matched { route_label(ctx.dialect, &path) } else { "unmatched".into() };
    let elapsed = started.elapsed();
    state.metrics.observe(ctx.dialect.name(), &method, route, status, elapsed);
    span.in_scope(|| tracing::info!(status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "request finished"));
    if scripted {
        resp.headers_mut().remove(header::WWW_AUTHENTICATE);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", value.clone());
        resp.headers_mut().insert("x-compute-request-id", value);
    }
    Ok(resp)
}

/// Runs the checks and the endpoint; answers the response and whether a route matched.
async fn guarded<E: Endpoint>(next: Arc<E>, mut req: Request, state: &AppState, ctx: &ErrorContext) -> (Response, bool) {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let client = client_ip(&req);
    let public = is_public(&path);

    // Agents upload whole packs through the store proxy.
    let body_limit = if path.starts_with("/agent/v1/stores/") { STORE_BODY_LIMIT } else { state.settings.body_limit };
    if let Err(err) = limit_body(&mut req, body_limit).await {
        return (render_error(&err, ctx), true);
    }

    let principal = match authenticate_all(state, &credentials(&req), client).await {
        Ok(p) => p,
        Err(_) if public => None,
        Err(err) => {
            state.metrics.auth_failure(ctx.dialect.name());
            let resp = with_limit_headers(render_error(&err, ctx), state.limiter.check(RateKey::Address(client)));
            return (resp, true);
        }
    };

    // Agents move data through many small requests; the per-user limit is for API callers.
    let decision = match &principal {
        Some(p) if p.agent.is_some() && path.starts_with("/agent/v1/") => {
            let limit = state.settings.rate_limit.per_second;
            Decision::Allowed { limit, remaining: limit }
        }
        Some(p) => state.limiter.check_user(p.user_id).await,
        None => state.limiter.check(RateKey::Address(client)),
    };
    if let Decision::Refused { retry_after_secs, .. } = decision {
        let resp = render_error(&CoreError::RateLimited { retry_after_secs }, ctx);
        return (with_limit_headers(resp, decision), true);
    }

    if !public {
        let refusal = match &principal {
            None => {
                state.metrics.auth_failure(ctx.dialect.name());
                Some(CoreError::Unauthorized("authentication required".into()))
            }
            Some(p) if p.agent.is_some() && !path.starts_with("/agent/v1/") => Some(CoreError::Forbidden(format!(
                "the key of agent '{}' serves the agent protocol only",
                p.agent.as_deref().unwrap_or_default()
            ))),
            Some(p) if admin_only(&method, &path, p) => Some(CoreError::Forbidden("this needs the admin role".into())),
            // Another tenant's account is not found, whatever the request would have asked of it.
            Some(p) if let Some(account) = ctx.dialect.account_in(&path).filter(|a| !p.owns_account(a)) => {
                Some(CoreError::not_found("account", account))
            }
            Some(p) if !is_read(&method) && !p.can_write() => {
                Some(CoreError::Forbidden(format!("user '{}' has a read-only role or key and may not {} here", p.user_name, method)))
            }
            Some(_) => None,
        };
        if let Some(err) = refusal {
            return (with_limit_headers(render_error(&err, ctx), decision), true);
        }
    }
    // A backup listing asked again before anything was written gets the answer kept from before.
    let mut kept = None;
    if let Some(p) = principal.as_ref().filter(|_| method == Method::GET && cache::is_listing(&path))
        && let Some(writes) = state.lists.writes(&state.db).await
    {
        match state.lists.lookup(cache::Key::of(&req, p), writes).await {
            cache::Lookup::Hit(resp) => return (with_limit_headers(resp, decision), true),
            cache::Lookup::Make(maker) => kept = Some(maker),
        }
    }
    if let Some(p) = principal {
        req.extensions_mut().insert::<Principal>(p);
    }

    let (resp, matched) = match next.call(req).await {
        Ok(resp) => {
            let resp = resp.into_response();
            if resp.extensions().get::<super::Panicked>().is_some() {
                let err = CoreError::internal(anyhow::anyhow!("handler panicked on {method} {path}"));
                (render_error(&err, ctx), true)
            } else if let Some(maker) = kept {
                (state.lists.keep(maker, resp).await, true)
            } else {
                (resp, true)
            }
        }
        Err(err) => {
            let core = core_error_from_poem(err, &path, method.as_str());
            let matched = !matches!(core, CoreError::NoRoute(_));
            let mut resp = render_error(&core, ctx);
            if let CoreError::MethodNotAllowed(_) = core
                && let Ok(allow) = HeaderValue::from_str(&allowed_methods(&path).join(", "))
            {
                resp.headers_mut().insert(header::ALLOW, allow);
            }
            (resp, matched)
        }
    };
    (with_limit_headers(resp, decision), matched)
}

/// The methods the documents list for a path (what a 405's `Allow` header names). A template with
/// fewer placeholders wins, as in the router: `/v1.0/agent/delete` is not `/v1.0/agent/{agent_id}`.
fn allowed_methods(path: &str) -> Vec<String> {
    static ROUTES: std::sync::OnceLock<Vec<(Vec<String>, Vec<String>)>> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        let mut routes = Vec::new();
        for (_, doc) in crate::api::specs("") {
            let Ok(doc) = serde_json::from_str::<serde_json::Value>(&doc) else { continue };
            for (template, item) in doc["paths"].as_object().into_iter().flatten() {
                let segments = template.trim_end_matches('/').split('/').map(str::to_owned).collect();
                let methods = item.as_object().into_iter().flatten().map(|(m, _)| m.to_uppercase()).collect();
                routes.push((segments, methods));
            }
        }
        routes
    });
    let wanted: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let placeholder = |s: &String| s.starts_with('{') && s.ends_with('}');
    let matching: Vec<&(Vec<String>, Vec<String>)> = routes
        .iter()
        .filter(|(segments, _)| segments.len() == wanted.len() && segments.iter().zip(&wanted).all(|(s, w)| s == w || placeholder(s)))
        .collect();
    let fewest = matching.iter().map(|(segments, _)| segments.iter().filter(|s| placeholder(s)).count()).min();
    let mut allowed: Vec<String> = matching
        .iter()
        .filter(|(segments, _)| Some(segments.iter().filter(|s| placeholder(s)).count()) == fewest)
        .flat_map(|(_, methods)| methods.iter().cloned())
        .collect();
    allowed.sort();
    allowed.dedup();
    allowed
}

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses bodies over `limit`: by `Content-Length` when given, else by reading at most `limit` bytes.
async fn limit_body(req: &mut Request, limit: usize) -> Result<(), CoreError> {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit as u64 => Err(CoreError::PayloadTooLarge { limit }),
        Some(_) => Ok(()),
        None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
            let body = req.take_body().into_bytes_limit(limit).await.map_err(|e| match e {
                poem::error::ReadBodyError::PayloadTooLarge => CoreError::PayloadTooLarge { limit },
                other => CoreError::BadRequest(format!("cannot read the request body: {other}")),
            })?;
            req.set_body(body);
            Ok(())
        }
        None => Ok(()),
    }
}

/// Every credential the request carries: tokens (`X-Auth-Token`, `opscenter-session`, a bearer,
/// the `TWISTED_SESSION` cookie) and Basic. A header that is present but empty or unreadable
/// counts, as an invalid credential.
fn credentials(req: &Request) -> Vec<Credential> {
    let header = |name: &str| req.headers().get(name).map(|v| v.to_str().map(str::trim).unwrap_or_default());
    let mut found = Vec::new();
    for name in ["x-auth-token", "opscenter-session"] {
        if let Some(token) = header(name) {
            found.push(Credential::Token(token.to_owned()));
        }
    }
    if let Some(auth) = header("authorization") {
        let (scheme, value) = auth.split_once(' ').unwrap_or((auth, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            found.push(Credential::Basic(value.trim().to_owned()));
        } else {
            // A bearer token, or a scheme nobody speaks here (which fails as a token).
            found.push(Credential::Token(value.trim().to_owned()));
        }
    }
    if let Some(cookies) = header("cookie") {
        let session = cookies.split(';').filter_map(|c| c.trim().split_once('=')).find(|(name, _)| *name == "TWISTED_SESSION");
        if let Some((_, value)) = session {
            found.push(Credential::Token(value.trim_matches('"').to_owned()));
        }
    }
    found
}

/// The caller, when every credential presented is valid and names the same user; a request
/// that carries a good credential beside a bad one is refused, so no credential is ever ignored.
async fn authenticate_all(state: &AppState, credentials: &[Credential], client: IpAddr) -> Result<Option<Principal>, CoreError> {
    let mut caller: Option<Principal> = None;
    for credential in credentials {
        let p = state.auth.authenticate(credential, client).await?;
        match &caller {
            Some(first) if first.user_id != p.user_id => {
                return Err(CoreError::Unauthorized("the credentials of this request name different users".into()));
            }
            Some(_) => {}
            None => caller = Some(p),
        }
    }
    Ok(caller)
}

/// The peer address (the limiter's key before authentication).
/// The client's address as the edge found it (see [`client_address`]).
#[derive(Clone, Copy)]
struct ClientAddress(IpAddr);

/// The address a request is counted against: the one the edge recorded, else the peer's.
pub fn client_ip(req: &Request) -> IpAddr {
    match req.extensions().get::<ClientAddress>() {
        Some(ClientAddress(ip)) => *ip,
        None => peer(req),
    }
}

fn peer(req: &Request) -> IpAddr {
    req.remote_addr().as_socket_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// The peer, or, when the peer is a trusted proxy, the nearest address in `X-Forwarded-For` that
/// is not one (proxies append, so the addresses right of it were added by trusted hops).
fn client_address(req: &Request, trusted: &[String]) -> IpAddr {
    let peer = peer(req);
    if trusted.is_empty() || !is_trusted(peer, trusted) {
        return peer;
    }
    let forwarded = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let hops: Vec<IpAddr> = forwarded.split(',').filter_map(|h| h.trim().parse().ok()).collect();
    hops.into_iter().rev().find(|ip| !is_trusted(*ip, trusted)).unwrap_or(peer)
}

fn is_trusted(ip: IpAddr, trusted: &[String]) -> bool {
    trusted.iter().any(|block| in_block(ip, block))
}

/// Whether `ip` is `block` (an address) or inside it (`address/prefix`).
fn in_block(ip: IpAddr, block: &str) -> bool {
    let (base, bits) = match block.trim().split_once('/') {
        Some((base, bits)) => (base, bits.parse::<u32>().ok()),
        None => (block.trim(), None),
    };
    let Ok(base) = base.parse::<IpAddr>() else { return false };
    match (ip, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

fn with_limit_headers(mut resp: Response, decision: Decision) -> Response {
    let (limit, remaining) = match decision {
        Decision::Allowed { limit, remaining } => (limit, remaining),
        Decision::Refused { limit, .. } => (limit, 0),
    };
    resp.headers_mut().insert("x-ratelimit-limit", HeaderValue::from(limit));
    resp.headers_mut().insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> Request {
        // A request built here comes from no socket: its peer reads as 127.0.0.1.
        Request::builder().header("x-forwarded-for", value).finish()
    }

    #[test]
    fn addresses_and_blocks_match_as_written() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_block(ip("172.18.0.7"), "172.16.0.0/12"));
        assert!(!in_block(ip("172.32.0.1"), "172.16.0.0/12"));
        assert!(in_block(ip("10.1.2.3"), "10.1.2.3"));
        assert!(in_block(ip("fd00::1"), "fd00::/8"));
        assert!(!in_block(ip("10.1.2.3"), "fd00::/8"));
        assert!(!in_block(ip("10.1.2.3"), "not an address"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_anyone_else_is_the_client() {
        let trusted = vec!["127.0.0.1".to_owned(), "10.0.0.0/8".to_owned()];
        let req = forwarded("203.0.113.9, 10.0.0.5");
        assert_eq!(client_address(&req, &trusted), "203.0.113.9".parse::<IpAddr>().unwrap());
        // A client cannot pose as another by writing the header itself: only the part right of
        // the first untrusted address counts, and that address is the client.
        let spoofed = forwarded("198.51.100.1, 203.0.113.9");
        assert_eq!(client_address(&spoofed, &trusted), "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(client_address(&req, &[]), "127.0.0.1".parse::<IpAddr>().unwrap(), "no trusted proxy: the peer");
        let only_private = vec!["10.0.0.0/8".to_owned()];
        assert_eq!(client_address(&req, &only_private), "127.0.0.1".parse::<IpAddr>().unwrap(), "an untrusted peer is the client");
    }
}
