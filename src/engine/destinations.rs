//! Destinations: registering them (validated by writing, reading and deleting a probe object),
//! keeping their secrets sealed, and the region destinations every server has.

use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    Engine,
    stored::{archiving, destination_config},
};
use crate::{
    domain::{
        destination::{Destination, DestinationConfig, normalize_kind, redact_secret},
        identity::Principal,
    },
    error::{CoreError, CoreResult},
    persistence::catalog::{self, DestinationRow},
    store::StoreError,
};

/// A destination as a client describes it; `secret` is the S3 secret key or Azure storage key.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DestinationSpec {
    #[serde(default)]
    pub name: String,
    pub kind: String,
    #[serde(flatten)]
    pub config: DestinationConfig,
    #[serde(default)]
    pub secret: Option<String>,
}

/// Regions Cloud Databases knows but this service does not serve.
fn region_name(region: &str) -> String {
    region.trim().to_ascii_uppercase()
}

impl Engine {
    pub(crate) fn destination_view(&self, row: DestinationRow) -> CoreResult<Destination> {
        Ok(Destination {
            config: destination_config(&row)?,
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            kind: row.kind,
            has_secret: row.sealed_secret.is_some(),
            created_at: row.created_at,
        })
    }

    /// The secret of a destination, redacted for display.
    pub fn redacted_secret(&self, row: &DestinationRow) -> Option<String> {
        row.sealed_secret.as_ref().map(|s| self.inner.secrets.open(s).map(|plain| redact_secret(&plain)).unwrap_or_else(|_| "****".into()))
    }

    /// A destination the caller may use: the server's, a region's, or one of its tenant's (not a
    /// detached one).
    pub async fn destination_row(&self, caller: &Principal, id: Uuid) -> CoreResult<DestinationRow> {
        catalog::get_destination(&self.inner.db, id)
            .await?
            .filter(|d| d.detached_at.is_none())
            .filter(|d| {
                d.tenant_id.is_none() || d.tenant_id == Some(caller.tenant_id) || caller.role == crate::domain::identity::Role::Admin
            })
            .ok_or_else(|| CoreError::not_found("destination", id.to_string()))
    }

    pub async fn destinations(&self, caller: &Principal) -> CoreResult<Vec<DestinationRow>> {
        catalog::list_destinations(&self.inner.db, caller.tenant_id).await
    }

    fn check_spec(spec: &DestinationSpec) -> CoreResult<&'static str> {
        if !spec.name.trim().is_empty() {
            crate::domain::check_name("a destination name", &spec.name).map_err(CoreError::BadRequest)?;
        }
        let kind = normalize_kind(&spec.kind)
            .ok_or_else(|| CoreError::BadRequest(format!("unknown destination kind '{}' (server, localfs, s3, azure)", spec.kind)))?;
        let c = &spec.config;
        match kind {
            "server" => return Err(CoreError::BadRequest("the server destination exists already; it cannot be added".into())),
            "localfs" if c.path.as_deref().is_none_or(|p| !p.starts_with('/')) => {
                return Err(CoreError::BadRequest("a localfs destination needs an absolute path".into()));
            }
            "s3" if c.path.as_deref().is_none_or(|p| p.trim_matches('/').is_empty()) => {
                return Err(CoreError::BadRequest("an s3 destination needs a path: bucket[/prefix]".into()));
            }
            "s3" if c.access_key.is_some() != spec.secret.is_some() => {
                return Err(CoreError::BadRequest("give both access_key and its secret, or neither for ambient credentials".into()));
            }
            "azure" if c.container_name.as_deref().is_none_or(str::is_empty) => {
                return Err(CoreError::BadRequest("an azure destination needs container_name".into()));
            }
            "azure" if !c.use_emulator && (c.storage_account_name.is_none() || spec.secret.is_none()) => {
                return Err(CoreError::BadRequest("an azure destination needs storage_account_name and storage_key".into()));
            }
            _ => {}
        }
        Ok(kind)
    }

    /// Writes, reads back and deletes a probe object; any failure is a 400 with the provider's reason.
    async fn probe(&self, row: &DestinationRow, tenant_id: Uuid) -> CoreResult<()> {
        let backend = self.inner.stores.backend_for(row, tenant_id).await?;
        let key = format!("probe-{}", Uuid::new_v4().simple());
        let body = bytes::Bytes::from_static(b"coffer destination probe");
        let reason = |e: StoreError| CoreError::BadRequest(format!("destination '{}' failed validation: {e}", row.name));
        backend.put(&key, body.clone()).await.map_err(reason)?;
        let back = backend.get(&key).await.map_err(reason)?;
        backend.delete(&key).await.map_err(reason)?;
        if back != body {
            return Err(CoreError::BadRequest(format!("destination '{}' failed validation: it returned different bytes", row.name)));
        }
        Ok(())
    }

    /// Adds a destination after validating it; its secret is sealed at rest. A location the
    /// tenant detached before (see [`Engine::remove_destination`]) is attached again, under its
    /// id and with the new settings, and the backups kept there are listed again.
    pub async fn add_destination(&self, caller: &Principal, spec: DestinationSpec) -> CoreResult<DestinationRow> {
        let kind = Self::check_spec(&spec)?;
        let detached = catalog::detached_destinations_of(&self.inner.db, caller.tenant_id, kind).await?;
        let mut before = None;
        for d in detached {
            if destination_config(&d)?.same_location(&spec.config, kind) {
                before = Some(d);
                break;
            }
        }
        if let Some(before) = before {
            let row = DestinationRow {
                name: if spec.name.trim().is_empty() { before.name.clone() } else { spec.name.clone() },
                config: serde_json::to_value(&spec.config).map_err(CoreError::internal)?,
                sealed_secret: match spec.secret.as_deref() {
                    Some(s) => Some(self.inner.secrets.seal(s)),
                    None => before.sealed_secret.clone(),
                },
                detached_at: None,
                ..before
            };
            self.probe(&row, caller.tenant_id).await?;
            catalog::save_destination(&self.inner.db, &row).await?;
            self.inner.stores.forget(row.id).await;
            tracing::info!(destination = %row.id, "a detached destination was added again; its backups are listed again");
            return Ok(row);
        }
        let name =
            if spec.name.trim().is_empty() { format!("{kind}-{}", &Uuid::new_v4().simple().to_string()[..8]) } else { spec.name.clone() };
        let row = DestinationRow {
            id: Uuid::new_v4(),
            tenant_id: Some(caller.tenant_id),
            name,
            kind: kind.to_owned(),
            config: serde_json::to_value(&spec.config).map_err(CoreError::internal)?,
            sealed_secret: spec.secret.as_deref().map(|s| self.inner.secrets.seal(s)),
            created_at: Utc::now(),
            detached_at: None,
        };
        self.probe(&row, caller.tenant_id).await?;
        catalog::save_destination(&self.inner.db, &row).await?;
        Ok(row)
    }

    /// Replaces a destination's settings (and its secret when one is given), validating again.
    pub async fn update_destination(&self, caller: &Principal, id: Uuid, spec: DestinationSpec) -> CoreResult<DestinationRow> {
        let existing = self.destination_row(caller, id).await?;
        if existing.tenant_id.is_none() {
            return Err(CoreError::Forbidden("the server's own destinations cannot be changed".into()));
        }
        let kind = Self::check_spec(&DestinationSpec {
            secret: spec.secret.clone().or_else(|| existing.sealed_secret.as_ref().map(|_| "kept".into())),
            ..spec.clone()
        })?;
        let row = DestinationRow {
            kind: kind.to_owned(),
            name: if spec.name.trim().is_empty() { existing.name.clone() } else { spec.name.clone() },
            config: serde_json::to_value(&spec.config).map_err(CoreError::internal)?,
            sealed_secret: match spec.secret.as_deref() {
                Some(s) => Some(self.inner.secrets.seal(s)),
                None => existing.sealed_secret.clone(),
            },
            ..existing
        };
        self.probe(&row, caller.tenant_id).await?;
        catalog::save_destination(&self.inner.db, &row).await?;
        self.inner.stores.forget(row.id).await;
        Ok(row)
    }

    /// Removes a destination no backup keeps data in.
    pub async fn delete_destination(&self, caller: &Principal, id: Uuid) -> CoreResult<()> {
        let row = self.destination_row(caller, id).await?;
        if row.tenant_id.is_none() {
            return Err(CoreError::Forbidden("the server's own destinations cannot be removed".into()));
        }
        if catalog::destination_in_use(&self.inner.db, id).await? {
            return Err(CoreError::Conflict(format!("destination '{}' still holds backups; delete them first", row.name)));
        }
        catalog::delete_destination(&self.inner.db, id).await?;
        self.inner.stores.forget(id).await;
        Ok(())
    }

    /// Removes a destination from the tenant's lists, whatever it holds: an empty one is deleted;
    /// one still holding backups is detached: its data stays where it is, the backups kept only
    /// there leave the lists with it (those with a copy elsewhere stay, at that copy), and adding
    /// the same location again brings them back. A backup still being written there is waited for,
    /// and a job schedule or commitlog archiving writing there is changed first (409 naming it).
    pub async fn remove_destination(&self, caller: &Principal, id: Uuid) -> CoreResult<()> {
        let db = &self.inner.db;
        let row = self.destination_row(caller, id).await?;
        if row.tenant_id.is_none() {
            return Err(CoreError::Forbidden("the server's own destinations cannot be removed".into()));
        }
        // A schedule or archiving still writing there would fail at its next run: refused by name.
        if let Some(plan) = catalog::list_plans(db, caller.tenant_id).await?.into_iter().find(|p| p.destination_id == Some(id)) {
            return Err(CoreError::Conflict(format!(
                "job schedule {} backs up to destination '{}'; change or remove it first",
                plan.id, row.name
            )));
        }
        let clusters = catalog::list_sources(db, Some(caller.tenant_id), Some(crate::domain::source::SourceKind::Cluster)).await?;
        for cluster in &clusters {
            let settings = archiving(cluster)?;
            if settings.enabled && settings.destinations.contains_key(&id) {
                return Err(CoreError::Conflict(format!(
                    "commitlog archiving of cluster '{}' ships to destination '{}'; change its destinations or turn it off first",
                    cluster.name, row.name
                )));
            }
        }
        if !catalog::destination_in_use(db, id).await? {
            return self.delete_destination(caller, id).await;
        }
        if let Some(busy) = catalog::backup_being_written_to(db, id).await? {
            return Err(CoreError::Unprocessable(format!(
                "backup {busy} is still being written to destination '{}'; wait for it to end",
                row.name
            )));
        }
        catalog::detach_destination(db, id).await?;
        self.inner.stores.forget(id).await;
        Ok(())
    }

    /// Removes a tenant's destination once nothing is kept there (a delete asked for it).
    pub(crate) async fn remove_destination_if_empty(&self, id: Uuid) -> CoreResult<()> {
        let Some(row) = catalog::get_destination(&self.inner.db, id).await? else { return Ok(()) };
        if row.tenant_id.is_none() || catalog::destination_in_use(&self.inner.db, id).await? {
            tracing::info!(destination = %id, "the destination still holds backups (or is the server's); it stays");
            return Ok(());
        }
        catalog::delete_destination(&self.inner.db, id).await?;
        self.inner.stores.forget(id).await;
        Ok(())
    }

    /// The destination of a region: the one `region_destinations` names for it, else a
    /// directory under the data directory (created on first use). A region not served here is not
    /// found (404), as any unknown object the request names.
    pub async fn region_destination(&self, caller: &Principal, region: &str) -> CoreResult<Uuid> {
        let region = region_name(region);
        if !self.inner.settings.regions.iter().any(|r| r.eq_ignore_ascii_case(&region)) {
            tracing::debug!(%region, served = ?self.inner.settings.regions, "a region not served here");
            return Err(CoreError::NotFound { what: "region", id: region });
        }
        if let Some(name) = self.inner.settings.region_destinations.iter().find(|(r, _)| r.eq_ignore_ascii_case(&region)).map(|(_, n)| n) {
            let found = self.destinations(caller).await?.into_iter().find(|d| &d.name == name);
            return found
                .map(|d| d.id)
                .ok_or_else(|| CoreError::Unavailable(format!("region {region} maps to destination '{name}', which does not exist")));
        }
        let name = format!("region:{region}");
        if let Some(row) = catalog::global_destination_named(&self.inner.db, &name).await? {
            return Ok(row.id);
        }
        let path = self.inner.settings.data_dir.join("regions").join(&region);
        let path = std::path::absolute(&path).map_err(CoreError::internal)?;
        let row = DestinationRow {
            id: Uuid::new_v4(),
            tenant_id: None,
            name,
            kind: "localfs".into(),
            config: serde_json::json!({ "path": path, "region": region }),
            sealed_secret: None,
            created_at: Utc::now(),
            detached_at: None,
        };
        catalog::save_destination(&self.inner.db, &row).await?;
        Ok(row.id)
    }
}
