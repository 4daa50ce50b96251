//! The HTTP surface: one OpenAPI service per dialect, mounted side by side behind one edge.

pub mod admin;
pub mod agent;
pub mod common;
pub mod console;
pub mod identity;
pub mod instaclustr;
pub mod opscenter;
pub mod rackspace_backup;
pub mod rackspace_db;

use std::sync::Arc;

use poem::{
    Endpoint, EndpointExt, IntoEndpoint, Response, Route, get, handler,
    http::StatusCode,
    web::{Data, Html},
};
use poem_openapi::OpenApiService;
use serde_json::Value;

use crate::state::AppState;
use common::statuses::ErrorDialect;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn identity_service(base: &str) -> OpenApiService<(identity::IdentityApi, identity::TokensApi), ()> {
    OpenApiService::new(identity::api(), "Coffer identity (Keystone v2.0 and v3)", VERSION).server(base)
}

fn opscenter_service(base: &str) -> OpenApiService<opscenter::OpsCenterApi, ()> {
    OpenApiService::new(opscenter::api(), "Coffer: OpsCenter backup API", VERSION).server(base)
}

fn agent_service(base: &str) -> OpenApiService<agent::AgentApi, ()> {
    OpenApiService::new(agent::AgentApi, "Coffer agent protocol", VERSION).server(base)
}

type CloudBackupApis = (
    rackspace_backup::CloudBackupApi,
    rackspace_backup::ConfigurationsApi,
    rackspace_backup::BackupsApi,
    rackspace_backup::RestoresApi,
    rackspace_backup::ActivityApi,
);

fn cloudbackup_service(base: &str) -> OpenApiService<CloudBackupApis, ()> {
    let apis = (
        rackspace_backup::CloudBackupApi,
        rackspace_backup::ConfigurationsApi,
        rackspace_backup::BackupsApi,
        rackspace_backup::RestoresApi,
        rackspace_backup::ActivityApi,
    );
    OpenApiService::new(apis, "Coffer: Rackspace Cloud Backup v1.0", VERSION).server(base)
}

fn instaclustr_service(base: &str) -> OpenApiService<(instaclustr::ClustersApi, instaclustr::BackupsApi, instaclustr::RestoreApi), ()> {
    OpenApiService::new(instaclustr::api(), "Coffer: Instaclustr provisioning v1", VERSION).server(base)
}

fn clouddb_service(base: &str) -> OpenApiService<(rackspace_db::BackupsApi, rackspace_db::InstancesApi), ()> {
    OpenApiService::new((rackspace_db::BackupsApi, rackspace_db::InstancesApi), "Coffer: Rackspace Cloud Databases v1.0", VERSION)
        .server(base)
}

fn admin_service(base: &str) -> OpenApiService<(admin::AccountsApi, admin::EngineApi), ()> {
    OpenApiService::new(admin::api(), "Coffer admin API", VERSION).server(base)
}

/// Each dialect's OpenAPI document, by file name stem.
pub fn specs(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("admin", common::spec::complete(&common::strict::close_request_bodies(&admin_service(base).spec()), ErrorDialect::Keystone)),
        ("agent", common::spec::complete(&common::strict::close_request_bodies(&agent_service(base).spec()), ErrorDialect::Keystone)),
        (
            "cloudbackup",
            rackspace_backup::with_tenant_paths(&common::spec::complete(&cloudbackup_service(base).spec(), ErrorDialect::CloudBackup)),
        ),
        ("clouddatabases", common::spec::complete(&clouddb_service(base).spec(), ErrorDialect::CloudDatabases)),
        ("identity", common::spec::complete(&identity_service(base).spec(), ErrorDialect::Identity)),
        ("instaclustr", common::spec::complete(&instaclustr_service(base).spec(), ErrorDialect::Instaclustr)),
        ("opscenter", common::spec::complete(&opscenter_service(base).spec(), ErrorDialect::OpsCenter)),
    ]
}

/// All dialects in one document.
pub fn merged_spec(base: &str) -> String {
    let docs: Vec<Value> = specs(base).iter().filter_map(|(_, s)| serde_json::from_str(s).ok()).collect();
    serde_json::to_string_pretty(&common::spec::merge("Coffer", VERSION, &docs)).unwrap_or_default()
}

/// The whole application with its edge, ready to serve.
pub fn app(state: AppState) -> impl Endpoint {
    let base = state.settings.base_url().to_owned();
    let identity = Arc::new(identity_service(&base).into_endpoint());
    let opscenter =
        Arc::new(opscenter_service(&base).into_endpoint().around(opscenter::normalize_body).around(opscenter::destination_ids_in_errors));
    let admin = admin_service(&base);
    let swagger_template = admin.swagger_ui_html();
    let admin = Arc::new(admin.into_endpoint());

    let documents: Vec<(&'static str, String)> = specs(&base);
    let mut selector: Vec<(&str, String)> = vec![("all", "/openapi.json".to_owned())];
    selector.extend(documents.iter().map(|(name, _)| (*name, format!("/openapi/{name}.json"))));
    let docs_page = common::spec::swagger_page(&swagger_template, &selector);
    let merged = merged_spec(&base);
    let regions = Arc::new(state.settings.regions.clone());

    let mut route = Route::new()
        .at("/", identity.clone())
        .nest_no_strip("/v2.0", identity.clone())
        .nest_no_strip("/v3", identity)
        .at("/login", opscenter.clone())
        .at("/logout", opscenter.clone())
        .nest_no_strip("/cluster-configs", opscenter.clone())
        .nest_no_strip("/request", opscenter.clone())
        .at("/:cluster_id/*rest", opscenter)
        .nest_no_strip("/admin/v1", admin)
        .nest("/agent/v1/stores", agent::store_routes())
        .nest_no_strip(
            "/v1.0",
            rackspace_backup::ByResource {
                databases: clouddb_service(&base).into_endpoint(),
                backup: cloudbackup_service(&base).into_endpoint(),
            }
            .around(move |ep, req| common::region::regional(ep, req, regions.clone())),
        )
        .nest_no_strip("/provisioning", Arc::new(instaclustr_service(&base).into_endpoint().around(instaclustr::json_bodies)))
        .nest_no_strip("/agent/v1", Arc::new(agent_service(&base).into_endpoint()))
        .nest("/ui", console::routes())
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .at("/metrics", get(metrics))
        .at("/docs", get(poem::endpoint::make_sync(move |_| Html(docs_page.clone()))))
        .at("/openapi.json", get(poem::endpoint::make_sync(move |_| json_response(merged.clone()))));
    for (name, doc) in documents {
        route = route.at(format!("/openapi/{name}.json"), get(poem::endpoint::make_sync(move |_| json_response(doc.clone()))));
    }
    let edge_state = state.clone();
    route
        .data(state)
        .with(poem::middleware::CatchPanic::new().with_handler(|_| common::panic_response()))
        .around(move |ep, req| common::edge::edge(ep, req, edge_state.clone()))
}

fn json_response(body: String) -> Response {
    Response::builder().content_type("application/json").body(body)
}

/// Liveness: the process answers.
#[handler]
fn healthz() -> poem::web::Json<Value> {
    poem::web::Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers.
#[handler]
async fn readyz(state: Data<&AppState>) -> Response {
    let ok = crate::persistence::ping(&state.db).await;
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::json!({ "status": if ok { "ready" } else { "unavailable" }, "database": ok });
    Response::builder().status(status).content_type("application/json").body(body.to_string())
}

/// Prometheus text: what this server counted, then what the database holds. It names every
/// tenant's agents, so it asks for `metrics_token` as a bearer token, or, when none is set,
/// answers only clients on this host.
#[handler]
async fn metrics(req: &poem::Request, state: Data<&AppState>) -> Response {
    if let Some(refusal) = metrics_refusal(req, state.settings.metrics_token.as_deref().filter(|t| !t.trim().is_empty())) {
        return refusal;
    }
    let mut body = state.metrics.render();
    match state.engine.metrics_from_database().await {
        Ok(lines) => body.push_str(&lines),
        Err(e) => tracing::warn!(error = %e, "metrics could not read the database"),
    }
    Response::builder().content_type("text/plain; version=0.0.4").body(body)
}

/// Why `/metrics` refuses this request, if it does.
fn metrics_refusal(req: &poem::Request, token: Option<&str>) -> Option<Response> {
    let refuse = |status: StatusCode, text: &str| Response::builder().status(status).content_type("text/plain").body(format!("{text}\n"));
    match token {
        Some(token) => {
            let sent = req.headers().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| {
                let (scheme, credentials) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(credentials)
            });
            // blake3's Hash compares in constant time.
            match sent {
                Some(sent) if blake3::hash(sent.trim().as_bytes()) == blake3::hash(token.trim().as_bytes()) => None,
                _ => Some(refuse(StatusCode::UNAUTHORIZED, "metrics need the bearer token configured as metrics_token")),
            }
        }
        // A forwarded request came through a proxy, which may well run on this host: not local.
        None if !req.headers().contains_key("x-forwarded-for")
            && !req.headers().contains_key("forwarded")
            && common::edge::client_ip(req).to_canonical().is_loopback() =>
        {
            None
        }
        None => Some(refuse(StatusCode::FORBIDDEN, "metrics answer only this host unless metrics_token is set")),
    }
}
