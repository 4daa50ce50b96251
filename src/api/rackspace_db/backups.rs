//! Backups of instances and HA groups: create (full or incremental, copies to regions), list
//! (all, of an instance, of an HA group; paged), show, delete, copy to a region. Each request
//! talks to one region ([`Region`]) and sees that region's backups only.

use poem::{Request, web::Data};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{
    Accepted, CloudDbTag, MAX_PAGE, check_account, instance_id,
    models::{self, BackupAction, BackupList, CreateBackup, Link, OneBackup, SourceType},
    page, view,
};
use crate::{
    api::common::{region::Region, security::Caller},
    domain::{identity::Principal, source::SourceKind},
    engine::{BackupPage, BackupSpec, RegionCopy},
    error::CoreError,
    state::AppState,
};

/// The Cloud Databases backups API.
pub struct BackupsApi;

#[derive(ApiResponse)]
enum BackupAccepted {
    /// The new backup, NEW until it runs.
    #[oai(status = 202)]
    Body(Json<OneBackup>),
}

#[derive(ApiResponse)]
enum CopyAccepted {
    /// Accepted, with no body (as the seed shows): the copy is a new backup in the target region,
    /// NEW until the copy runs; `Location` is its address at that region's endpoint.
    #[oai(status = 202)]
    Accepted(#[oai(header = "Location")] String),
}

fn listing(req: &Request, items: Vec<models::BackupView>, limit: Option<usize>) -> BackupList {
    let (backups, next) = page(items, |b| b.id.as_str(), limit, None);
    let links = next.zip(limit).map(|(next, limit)| {
        // The next page keeps the request's filters; only limit and marker change.
        let mut query: Vec<String> = req
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.starts_with("limit=") && !pair.starts_with("marker="))
            .map(str::to_owned)
            .collect();
        query.extend([format!("limit={limit}"), format!("marker={next}")]);
        vec![Link { rel: "next".into(), href: format!("{}?{}", req.uri().path(), query.join("&")) }]
    });
    BackupList { backups, links }
}

/// The backups of one instance or HA group in the region, as a page.
// One argument per part of the listing; a struct would only move them.
#[allow(clippy::too_many_arguments)]
async fn source_backups(
    state: &AppState,
    req: &Request,
    p: &Principal,
    region: &Region,
    kind: SourceKind,
    id: &str,
    limit: Option<usize>,
    marker: Option<&str>,
) -> Result<BackupList, CoreError> {
    let what = if kind == SourceKind::Instance { "Instance" } else { "HA group" };
    let not_found = || CoreError::NotFound { what, id: id.to_owned() };
    let uuid = Uuid::parse_str(id).map_err(|_| not_found())?;
    let source = state.engine.source(p, uuid).await.map_err(|_| not_found())?;
    if source.source.kind != kind {
        return Err(not_found());
    }
    paged(state, req, p, region, Some(source.source.id), &[], limit, marker, |_| true).await
}

/// A page of the region's backups as the listings answer it: read from SQL a page at a time
/// (newest first, after the marker) until one more than the page holds has passed `keep`, which
/// can leave a page short; `limit` defaults to, and is at most, [`MAX_PAGE`].
#[allow(clippy::too_many_arguments)]
async fn paged(
    state: &AppState,
    req: &Request,
    p: &Principal,
    region: &Region,
    source: Option<Uuid>,
    kinds: &[SourceKind],
    limit: Option<usize>,
    marker: Option<&str>,
    keep: impl Fn(&models::BackupView) -> bool,
) -> Result<BackupList, CoreError> {
    let wanted = limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let mut after = match marker.and_then(|m| Uuid::parse_str(m).ok()) {
        Some(id) => state.engine.backup_cursor(p, id).await?,
        None => None,
    };
    let mut items = Vec::new();
    while items.len() <= wanted {
        let page =
            BackupPage { source_id: source, source_kinds: kinds.to_vec(), after, limit: Some((wanted + 1) as u64), ..Default::default() };
        let batch = state.engine.backups_page(p, &page).await?;
        let Some(last) = batch.last() else { break };
        after = Some((last.created_at, last.id));
        let exhausted = batch.len() <= wanted;
        let here = batch.iter().filter(|b| state.engine.region_of(b) == region.name);
        items.extend(here.map(|b| view::backup(state, p, b)).filter(|v| keep(v)));
        if exhausted {
            break;
        }
    }
    Ok(listing(req, items, Some(wanted)))
}

#[OpenApi]
impl BackupsApi {
    /// Creates a backup of an instance (`instance`) or an HA group (`source: {"type": "ha", "id"}`);
    /// `parent_id` or `incremental: 1` makes it incremental; `copy_to` lists regions to copy it to.
    #[oai(path = "/v1.0/:account/backups", method = "post", operation_id = "clouddb_create_backup", tag = "CloudDbTag::Backups")]
    async fn create_backup(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        caller: Caller,
        account: Path<String>,
        body: Json<CreateBackup>,
    ) -> poem::Result<BackupAccepted> {
        let p = caller.principal();
        check_account(p, &account)?;
        let b = body.0.backup.into_fields();
        let named = match &b.source {
            Some(s) if s.kind == SourceType::Ha => {
                Some((Uuid::parse_str(&s.id).map_err(|_| CoreError::not_found("HA group", s.id.clone()))?, SourceKind::HaGroup))
            }
            Some(s) => Some((instance_id(&s.id)?, SourceKind::Instance)),
            None => None,
        };
        let (source_id, kind) = match (b.instance.as_deref(), named) {
            (Some(i), Some((id, SourceKind::Instance))) if instance_id(i)? != id => {
                return Err(CoreError::BadRequest("instance and source.id name different instances".into()).into());
            }
            (_, Some(named)) => named,
            (Some(i), None) => (instance_id(i)?, SourceKind::Instance),
            (None, None) => return Err(CoreError::BadRequest("give the instance to back up (\"instance\") or an HA source".into()).into()),
        };
        let source =
            state.engine.source(p, source_id).await.map_err(|_| {
                CoreError::not_found(if kind == SourceKind::Instance { "Instance" } else { "HA group" }, source_id.to_string())
            })?;
        if source.source.kind != kind {
            return Err(CoreError::not_found("Instance", source_id.to_string()).into());
        }
        let parent_id = match b.parent_id.as_deref().filter(|s| !s.is_empty()) {
            Some(p_id) => Some(view::find(&state, p, &region, p_id).await?.id),
            None => None,
        };
        let incremental = b.incremental.is_some_and(|f| f.0);
        let copy_to = b.copy_to.unwrap_or_default();
        let spec = BackupSpec {
            source_id,
            name: b.name,
            description: b.description.unwrap_or_default(),
            incremental,
            parent_id,
            copy_to,
            region: Some(region.name.clone()),
            ..Default::default()
        };
        let (_, backup) = state.engine.start_backup(p, spec).await?;
        Ok(BackupAccepted::Body(Json(OneBackup { backup: view::backup(&state, p, &backup) })))
    }

    /// Lists backups, newest first; `datastore` and `instance_id` filter, `limit` and `marker` page.
    #[oai(path = "/v1.0/:account/backups", method = "get", operation_id = "clouddb_list_backups", tag = "CloudDbTag::Backups")]
    // One argument per request part is how poem-openapi reads a request.
    #[allow(clippy::too_many_arguments)]
    async fn list_backups(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        req: &Request,
        caller: Caller,
        account: Path<String>,
        datastore: Query<Option<String>>,
        instance_id: Query<Option<String>>,
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))] limit: Query<Option<u32>>,
        marker: Query<Option<String>>,
    ) -> poem::Result<Json<BackupList>> {
        let p = caller.principal();
        check_account(p, &account)?;
        let source = match instance_id.0.as_deref() {
            Some(i) => match Uuid::parse_str(i) {
                Ok(id) => Some(id),
                Err(_) => return Ok(Json(BackupList { backups: Vec::new(), links: None })),
            },
            None => None,
        };
        // An HA group's backups are not an instance's, even when its id is given as instance_id.
        let keep = |v: &models::BackupView| {
            datastore.0.as_deref().is_none_or(|d| v.datastore.as_ref().is_some_and(|s| s.kind == d))
                && (source.is_none() || v.instance_id.is_some())
        };
        let kinds = [SourceKind::Instance, SourceKind::HaGroup];
        Ok(Json(paged(&state, req, p, &region, source, &kinds, limit.0.map(|l| l as usize), marker.0.as_deref(), keep).await?))
    }

    /// One backup.
    #[oai(path = "/v1.0/:account/backups/:id", method = "get", operation_id = "clouddb_get_backup", tag = "CloudDbTag::Backups")]
    async fn get_backup(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        caller: Caller,
        account: Path<String>,
        id: Path<String>,
    ) -> poem::Result<Json<OneBackup>> {
        let p = caller.principal();
        check_account(p, &account)?;
        let backup = view::find(&state, p, &region, &id).await?;
        Ok(Json(OneBackup { backup: view::backup(&state, p, &backup) }))
    }

    /// Deletes a backup and its incrementals (asynchronously).
    #[oai(path = "/v1.0/:account/backups/:id", method = "delete", operation_id = "clouddb_delete_backup", tag = "CloudDbTag::Backups")]
    async fn delete_backup(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        caller: Caller,
        account: Path<String>,
        id: Path<String>,
    ) -> poem::Result<Accepted> {
        let p = caller.principal();
        check_account(p, &account)?;
        let backup = view::find(&state, p, &region, &id).await?;
        state.engine.delete_backup(p, backup.id).await?;
        Ok(Accepted::Empty)
    }

    /// `{"copy-backup": {"target_backup_region", "name", "description"}}` copies a complete backup to
    /// another region: a new backup there with that name and description (the original's when
    /// `null` or empty), listed at that region's endpoint. An incremental's parent must be there first.
    #[oai(path = "/v1.0/:account/backups/:id/action", method = "post", operation_id = "clouddb_backup_action", tag = "CloudDbTag::Backups")]
    async fn backup_action(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        caller: Caller,
        account: Path<String>,
        id: Path<String>,
        body: Json<BackupAction>,
    ) -> poem::Result<CopyAccepted> {
        let p = caller.principal();
        check_account(p, &account)?;
        let backup = view::find(&state, p, &region, &id).await?;
        let copy = body.0.copy_backup;
        if copy.name.as_ref().is_some_and(|n| n.chars().count() > 64) {
            return Err(CoreError::BadRequest("Backup name must be at most 64 characters".into()).into());
        }
        let spec = RegionCopy { backup_id: backup.id, region: copy.target_backup_region, name: copy.name, description: copy.description };
        let made = state.engine.start_region_copy(p, spec).await?;
        let endpoint = view::region_of(&state, &made).endpoint(state.settings.base_url(), &account);
        Ok(CopyAccepted::Accepted(format!("{endpoint}/backups/{}", made.id)))
    }

    /// Backups of one instance.
    #[oai(
        path = "/v1.0/:account/instances/:id/backups",
        method = "get",
        operation_id = "clouddb_instance_backups",
        tag = "CloudDbTag::Backups"
    )]
    // One argument per request part is how poem-openapi reads a request.
    #[allow(clippy::too_many_arguments)]
    async fn instance_backups(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        req: &Request,
        caller: Caller,
        account: Path<String>,
        id: Path<String>,
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))] limit: Query<Option<u32>>,
        marker: Query<Option<String>>,
    ) -> poem::Result<Json<BackupList>> {
        let p = caller.principal();
        check_account(p, &account)?;
        Ok(Json(
            source_backups(&state, req, p, &region, SourceKind::Instance, &id, limit.0.map(|l| l as usize), marker.0.as_deref()).await?,
        ))
    }

    /// Backups of one HA group.
    #[oai(path = "/v1.0/:account/ha/:id/backups", method = "get", operation_id = "clouddb_ha_backups", tag = "CloudDbTag::Backups")]
    // One argument per request part is how poem-openapi reads a request.
    #[allow(clippy::too_many_arguments)]
    async fn ha_backups(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        req: &Request,
        caller: Caller,
        account: Path<String>,
        id: Path<String>,
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))] limit: Query<Option<u32>>,
        marker: Query<Option<String>>,
    ) -> poem::Result<Json<BackupList>> {
        let p = caller.principal();
        check_account(p, &account)?;
        Ok(Json(source_backups(&state, req, p, &region, SourceKind::HaGroup, &id, limit.0.map(|l| l as usize), marker.0.as_deref()).await?))
    }
}
