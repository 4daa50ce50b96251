//! Backup destinations: the server's own store (`OPSC_ON_SERVER`), local directories, S3 and Azure.
//! Secrets are sealed at rest and redacted in every answer.

use poem::web::Data;
use poem_openapi::{OpenApi, Tags, param::Path, payload::Json};
use serde_json::{Map, Value, json};

use super::{cluster_row, flag, number, object, strings, view};
use crate::{api::common::security::Caller, engine::DestinationSpec, error::CoreError, state::AppState};

#[derive(Tags)]
enum DestinationTag {
    /// Where backups are stored.
    Destinations,
}

pub struct DestinationsApi;

/// An OpsCenter destination body as the engine's spec: `provider` s3 (`path` = bucket[/prefix],
/// `access_key`, `access_secret`, `region`, `server_side_encryption`, `throttle_bytes_per_second`),
/// azure (`storage_account_name`, `storage_key`, `container_name`, `subfolder`) or local/localfs
/// (`path`). `endpoint`, `path_style` and `use_emulator` reach S3-compatible stores and emulators.
fn spec(body: &Map<String, Value>) -> Result<DestinationSpec, CoreError> {
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let provider = text("provider").ok_or_else(|| CoreError::BadRequest("provider is required: s3, azure or local".into()))?;
    let kind = match provider.to_ascii_lowercase().as_str() {
        "s3" => "s3",
        "azure" => "azure",
        "local" | "localfs" => "localfs",
        "server" => return Err(CoreError::BadRequest("the server destination (OPSC_ON_SERVER) always exists; it cannot be added".into())),
        other => return Err(CoreError::BadRequest(format!("provider '{other}' is not supported; use s3, azure or local"))),
    };
    let throttle = number(body.get("throttle_bytes_per_second"), "throttle_bytes_per_second")?.unwrap_or(0.0);
    if throttle < 0.0 {
        return Err(CoreError::BadRequest("throttle_bytes_per_second cannot be negative".into()));
    }
    let config = json!({
        "path": text("path"),
        "region": text("region"),
        "endpoint": text("endpoint"),
        "path_style": flag(body.get("path_style")),
        "access_key": text("access_key"),
        "server_side_encryption": flag(body.get("server_side_encryption")),
        "storage_account_name": text("storage_account_name"),
        "container_name": text("container_name"),
        "subfolder": text("subfolder"),
        "use_emulator": flag(body.get("use_emulator")),
        "validation_dc_list": strings(body.get("validation_dc_list"), "validation_dc_list")?,
        "throttle_bytes_per_second": throttle as u64,
    });
    // A secret sent back as shown (redacted) keeps the stored one.
    let secret = if kind == "azure" { text("storage_key") } else { text("access_secret") }.filter(|s| !s.ends_with("************"));
    let config = serde_json::from_value(config).map_err(|e| CoreError::BadRequest(format!("invalid destination: {e}")))?;
    Ok(DestinationSpec { name: text("name").unwrap_or_default(), kind: kind.to_owned(), config, secret })
}

#[OpenApi(tag = "DestinationTag::Destinations")]
impl DestinationsApi {
    /// Every destination the cluster can use: id → destination.
    #[oai(path = "/:cluster_id/backups/destinations", method = "get", operation_id = "opscenter_destinations")]
    async fn list(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        cluster_row(&state, p, &cluster_id).await?;
        let server = state.engine.server_destination();
        let rows = state.engine.destinations(p).await?;
        let listed = rows.iter().filter(|r| r.id == server || r.tenant_id == Some(p.tenant_id));
        Ok(Json(Value::Object(listed.map(|r| (view::destination_id(&state, r.id), view::destination(&state, r))).collect())))
    }

    /// One destination.
    #[oai(path = "/:cluster_id/backups/destinations/:destination_id", method = "get", operation_id = "opscenter_destination")]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        destination_id: Path<String>,
    ) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        cluster_row(&state, p, &cluster_id).await?;
        Ok(Json(view::destination(&state, &view::find_destination(&state, p, &destination_id).await?)))
    }

    /// Adds a destination after checking it can be written, read and cleaned; with `id` updates
    /// it, with `delete_this: true` removes it. Answers the destination and a request id.
    #[oai(path = "/:cluster_id/backups/destinations", method = "post", operation_id = "opscenter_save_destination")]
    async fn save(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>, body: Json<Value>) -> poem::Result<Json<Value>> {
        let p = caller.principal();
        let source = cluster_row(&state, p, &cluster_id).await?.id;
        let body = object(body.0)?;
        let existing = match body.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            Some(id) => Some(view::find_destination(&state, p, id).await?),
            None => None,
        };
        if existing.is_none() && flag(body.get("delete_this")) {
            return Err(CoreError::BadRequest("delete_this needs the id of the destination to delete".into()).into());
        }
        let (row, what) = match existing {
            Some(row) if flag(body.get("delete_this")) => {
                state.engine.remove_destination(p, row.id).await?;
                let id = view::destination_id(&state, row.id);
                let request =
                    state.engine.record_request(p, "destination.deleted", &format!("destination {id} removed"), Some(source)).await?;
                return Ok(Json(json!({ "destination": [{ id: view::destination(&state, &row) }], "request_id": request })));
            }
            Some(row) => (state.engine.update_destination(p, row.id, spec(&body)?).await?, "updated"),
            None => (state.engine.add_destination(p, spec(&body)?).await?, "added"),
        };
        let id = view::destination_id(&state, row.id);
        let request =
            state.engine.record_request(p, &format!("destination.{what}"), &format!("destination {id} {what}"), Some(source)).await?;
        Ok(Json(json!({ "destination": [{ id: view::destination(&state, &row) }], "request_id": request })))
    }

    /// Removes a destination from the cluster's lists; answers a request id. The backups it
    /// holds stay there (and leave the lists unless kept elsewhere too); adding the same location
    /// again brings them back.
    #[oai(path = "/:cluster_id/backups/destinations/:destination_id", method = "delete", operation_id = "opscenter_delete_destination")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        destination_id: Path<String>,
    ) -> poem::Result<Json<String>> {
        let p = caller.principal();
        let source = cluster_row(&state, p, &cluster_id).await?.id;
        let row = view::find_destination(&state, p, &destination_id).await?;
        state.engine.remove_destination(p, row.id).await?;
        let id = view::destination_id(&state, row.id);
        let request = state.engine.record_request(p, "destination.deleted", &format!("destination {id} removed"), Some(source)).await?;
        Ok(Json(request.to_string()))
    }
}
