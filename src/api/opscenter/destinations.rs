//! Backup destinations: the server's own store (`OPSC_ON_SERVER`), local directories, S3 and Azure.
//! Secrets are sealed at rest and redacted in every answer.

use poem::web::Data;
use poem_openapi::{
    OpenApi, Tags,
    param::{Path, Query},
    payload::Json,
};
use serde_json::json;

use super::{
    cluster_row,
    models::{
        DestinationBody, DestinationView, Destinations, Edition, OlderSavedDestination, RequestId, SavedAnswer, SavedDestination, names,
        numeric,
    },
    view,
};
use crate::{api::common::security::Caller, engine::DestinationSpec, error::CoreError, state::AppState};

#[derive(Tags)]
enum DestinationTag {
    /// Where backups are stored.
    Destinations,
}

pub struct DestinationsApi;

fn text(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// An OpsCenter destination body as the engine's spec: `provider` s3 (`path` = bucket[/prefix],
/// `access_key`, `access_secret`, `region`, `server_side_encryption`, `throttle_bytes_per_second`),
/// azure (`storage_account_name`, `storage_key`, `container_name`, `subfolder`) or local/localfs
/// (`path`). `endpoint`, `path_style` and `use_emulator` reach S3-compatible stores and emulators.
fn spec(body: &DestinationBody) -> Result<DestinationSpec, CoreError> {
    let provider = text(&body.provider).ok_or_else(|| CoreError::BadRequest("provider is required: s3, azure or local".into()))?;
    let kind = match provider.to_ascii_lowercase().as_str() {
        "s3" => "s3",
        "azure" => "azure",
        "local" | "localfs" => "localfs",
        "server" => return Err(CoreError::BadRequest("the server destination (OPSC_ON_SERVER) always exists; it cannot be added".into())),
        other => return Err(CoreError::BadRequest(format!("provider '{other}' is not supported; use s3, azure or local"))),
    };
    let throttle = numeric(body.throttle_bytes_per_second).unwrap_or(0.0);
    if throttle < 0.0 {
        return Err(CoreError::BadRequest("throttle_bytes_per_second cannot be negative".into()));
    }
    let flag = |f: Option<super::models::Truthy>| f.is_some_and(|f| f.0);
    let config = json!({
        "path": text(&body.path),
        "region": text(&body.region),
        "endpoint": text(&body.endpoint),
        "path_style": flag(body.path_style),
        "access_key": text(&body.access_key),
        "server_side_encryption": flag(body.server_side_encryption),
        "storage_account_name": text(&body.storage_account_name),
        "container_name": text(&body.container_name),
        "subfolder": text(&body.subfolder),
        "use_emulator": flag(body.use_emulator),
        "validation_dc_list": names(body.validation_dc_list.clone()),
        "throttle_bytes_per_second": throttle as u64,
    });
    // A secret sent back as shown (redacted) keeps the stored one.
    let secret = if kind == "azure" { text(&body.storage_key) } else { text(&body.access_secret) }.filter(|s| !s.ends_with("************"));
    let config = serde_json::from_value(config).map_err(|e| CoreError::BadRequest(format!("invalid destination: {e}")))?;
    Ok(DestinationSpec { name: text(&body.name).unwrap_or_default(), kind: kind.to_owned(), config, secret })
}

/// The answer to an add, update or removal, in the edition asked for.
fn saved(edition: Edition, id: String, destination: DestinationView, request_id: String) -> SavedAnswer {
    match edition {
        Edition::Newer => SavedAnswer::Newer(SavedDestination { destination: vec![Destinations([(id, destination)].into())], request_id }),
        Edition::Older => SavedAnswer::Older(OlderSavedDestination { id, destination: Box::new(destination), request_id }),
    }
}

#[OpenApi(tag = "DestinationTag::Destinations")]
impl DestinationsApi {
    /// Every destination the cluster can use: id → destination.
    #[oai(path = "/:cluster_id/backups/destinations", method = "get", operation_id = "opscenter_destinations")]
    async fn list(&self, state: Data<&AppState>, caller: Caller, cluster_id: Path<String>) -> poem::Result<Json<Destinations>> {
        let p = caller.principal();
        cluster_row(&state, p, &cluster_id).await?;
        let server = state.engine.server_destination();
        let rows = state.engine.destinations(p).await?;
        let listed = rows.iter().filter(|r| r.id == server || r.tenant_id == Some(p.tenant_id));
        Ok(Json(listed.map(|r| (view::destination_id(&state, r.id), view::destination(&state, r))).collect()))
    }

    /// One destination.
    #[oai(path = "/:cluster_id/backups/destinations/:destination_id", method = "get", operation_id = "opscenter_destination")]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        destination_id: Path<String>,
    ) -> poem::Result<Json<DestinationView>> {
        let p = caller.principal();
        cluster_row(&state, p, &cluster_id).await?;
        Ok(Json(view::destination(&state, &view::find_destination(&state, p, &destination_id).await?)))
    }

    /// Adds a destination after checking it can be written, read and cleaned; with `id` updates
    /// it, with `delete_this: true` removes it. Answers the destination and a request id, in the
    /// shape of the edition asked for: by default the 6.5+ shape
    /// `{"destination": [{<id>: {...}}], "request_id"}`; with `?edition=6.1` the 6.1 shape
    /// `{<id>: {...}, "request_id"}` that scripts written for OpsCenter 6.1 read.
    #[oai(path = "/:cluster_id/backups/destinations", method = "post", operation_id = "opscenter_save_destination")]
    async fn save(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        cluster_id: Path<String>,
        /// The shape of the answer: `6.8` (the default, 6.5 and later) or `6.1`.
        edition: Query<Option<Edition>>,
        body: Json<DestinationBody>,
    ) -> poem::Result<Json<SavedAnswer>> {
        let p = caller.principal();
        let edition = edition.0.unwrap_or_default();
        let source = cluster_row(&state, p, &cluster_id).await?.id;
        let body = body.0;
        let existing = match text(&body.id) {
            Some(id) => Some(view::find_destination(&state, p, &id).await?),
            None => None,
        };
        let delete_this = body.delete_this.is_some_and(|d| d.0);
        if existing.is_none() && delete_this {
            return Err(CoreError::BadRequest("delete_this needs the id of the destination to delete".into()).into());
        }
        let (row, what) = match existing {
            Some(row) if delete_this => {
                state.engine.remove_destination(p, row.id).await?;
                let id = view::destination_id(&state, row.id);
                let request =
                    state.engine.record_request(p, "destination.deleted", &format!("destination {id} removed"), Some(source)).await?;
                return Ok(Json(saved(edition, id, view::destination(&state, &row), request.to_string())));
            }
            Some(row) => (state.engine.update_destination(p, row.id, spec(&body)?).await?, "updated"),
            None => (state.engine.add_destination(p, spec(&body)?).await?, "added"),
        };
        let id = view::destination_id(&state, row.id);
        let request =
            state.engine.record_request(p, &format!("destination.{what}"), &format!("destination {id} {what}"), Some(source)).await?;
        let mut shown = view::destination(&state, &row);
        if body.validation_dc_list.is_some() {
            shown.validation_dc_list = Some(names(body.validation_dc_list));
        }
        Ok(Json(saved(edition, id, shown, request.to_string())))
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
    ) -> poem::Result<Json<RequestId>> {
        let p = caller.principal();
        let source = cluster_row(&state, p, &cluster_id).await?.id;
        let row = view::find_destination(&state, p, &destination_id).await?;
        state.engine.remove_destination(p, row.id).await?;
        let id = view::destination_id(&state, row.id);
        let request = state.engine.record_request(p, "destination.deleted", &format!("destination {id} removed"), Some(source)).await?;
        Ok(Json(RequestId::of(request)))
    }
}
