//! Destinations: where backups are stored (the server's own store, a local directory, S3, Azure).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json, types::Example};
use uuid::Uuid;

use super::{Created, EngineTag, NoContent, models::AdminRetention};
use crate::{
    api::common::{security::Caller, strict::StrictJson},
    domain::destination::DestinationConfig,
    engine::DestinationSpec,
    error::CoreResult,
    persistence::catalog::DestinationRow,
    state::AppState,
};

/// `POST /destinations` and `PUT /destinations/{id}`: a destination's settings, validated by
/// writing, reading and deleting a probe object in it.
#[derive(Debug, Object)]
#[oai(rename = "AdminNewDestination", deny_unknown_fields, example)]
pub struct AdminNewDestination {
    #[oai(default)]
    pub name: String,
    /// `localfs`, `s3` or `azure` (`local`, `aws` and `azure_blob` are read as these too).
    pub kind: String,
    /// S3's secret key or Azure's storage key; kept sealed and only ever shown redacted. On an
    /// update, the stored one is kept when absent.
    #[oai(nullable)]
    pub secret: Option<String>,
    /// localfs: the directory; s3: `bucket[/prefix]`.
    #[oai(nullable)]
    pub path: Option<String>,
    #[oai(nullable)]
    pub region: Option<String>,
    /// An S3-compatible or Azure endpoint URL (emulators, other providers).
    #[oai(nullable)]
    pub endpoint: Option<String>,
    /// S3: address buckets by path rather than by host name.
    #[oai(default)]
    pub path_style: bool,
    /// S3: the access key id (shown in full); ambient credentials when absent.
    #[oai(nullable)]
    pub access_key: Option<String>,
    /// S3: ask the service to encrypt objects at rest.
    #[oai(default)]
    pub server_side_encryption: bool,
    /// Azure: the storage account.
    #[oai(nullable)]
    pub storage_account_name: Option<String>,
    #[oai(nullable)]
    pub container_name: Option<String>,
    #[oai(nullable)]
    pub subfolder: Option<String>,
    /// Azure: talk to the Azurite emulator.
    #[oai(default)]
    pub use_emulator: bool,
    /// Bytes per second for transfers to and from this destination; 0 is unlimited.
    #[oai(default)]
    pub throttle_bytes_per_second: u64,
    /// How long backups kept here live, whatever plan made them.
    #[oai(nullable)]
    pub retention: Option<AdminRetention>,
}

impl Example for AdminNewDestination {
    fn example() -> Self {
        AdminNewDestination {
            name: "offsite".into(),
            kind: "s3".into(),
            secret: Some("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
            path: Some("coffer-backups/prod".into()),
            region: Some("us-east-1".into()),
            endpoint: None,
            path_style: false,
            access_key: Some("AKIAIOSFODNN7EXAMPLE".into()),
            server_side_encryption: true,
            storage_account_name: None,
            container_name: None,
            subfolder: None,
            use_emulator: false,
            throttle_bytes_per_second: 0,
            retention: Some(AdminRetention { keep_last: Some(30), max_age_secs: None }),
        }
    }
}

impl From<AdminNewDestination> for DestinationSpec {
    fn from(d: AdminNewDestination) -> Self {
        DestinationSpec {
            name: d.name,
            kind: d.kind,
            secret: d.secret,
            config: DestinationConfig {
                validation_dc_list: Vec::new(),
                path: d.path,
                region: d.region,
                endpoint: d.endpoint,
                path_style: d.path_style,
                access_key: d.access_key,
                server_side_encryption: d.server_side_encryption,
                storage_account_name: d.storage_account_name,
                container_name: d.container_name,
                subfolder: d.subfolder,
                use_emulator: d.use_emulator,
                throttle_bytes_per_second: d.throttle_bytes_per_second,
                retention: d.retention.map(Into::into),
            },
        }
    }
}

/// A destination's settings as shown (the secret is not among them).
#[derive(Debug, Object)]
#[oai(rename = "AdminDestinationConfig")]
pub struct AdminDestinationConfig {
    #[oai(skip_serializing_if_is_none)]
    pub path: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub region: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub endpoint: Option<String>,
    pub path_style: bool,
    #[oai(skip_serializing_if_is_none)]
    pub access_key: Option<String>,
    pub server_side_encryption: bool,
    #[oai(skip_serializing_if_is_none)]
    pub storage_account_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub container_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub subfolder: Option<String>,
    pub use_emulator: bool,
    pub throttle_bytes_per_second: u64,
    #[oai(skip_serializing_if_is_none)]
    pub retention: Option<AdminRetention>,
}

impl From<DestinationConfig> for AdminDestinationConfig {
    fn from(c: DestinationConfig) -> Self {
        AdminDestinationConfig {
            path: c.path,
            region: c.region,
            endpoint: c.endpoint,
            path_style: c.path_style,
            access_key: c.access_key,
            server_side_encryption: c.server_side_encryption,
            storage_account_name: c.storage_account_name,
            container_name: c.container_name,
            subfolder: c.subfolder,
            use_emulator: c.use_emulator,
            throttle_bytes_per_second: c.throttle_bytes_per_second,
            retention: c.retention.map(Into::into),
        }
    }
}

/// A destination; its secret, when it has one, redacted.
#[derive(Debug, Object)]
#[oai(rename = "AdminDestination")]
pub struct AdminDestination {
    pub id: Uuid,
    /// Null for the server's own destination, which every tenant shares (each its own repository).
    #[oai(nullable)]
    pub tenant_id: Option<Uuid>,
    pub name: String,
    /// `server`, `localfs`, `s3` or `azure`.
    pub kind: String,
    pub config: AdminDestinationConfig,
    /// Whether a secret is stored.
    pub has_secret: bool,
    pub created_at: DateTime<Utc>,
    /// The secret's first four characters and stars.
    #[oai(skip_serializing_if_is_none)]
    pub secret: Option<String>,
}

fn destination(state: &AppState, row: DestinationRow) -> CoreResult<AdminDestination> {
    let secret = state.engine.redacted_secret(&row);
    let d = state.engine.destination_view(row)?;
    Ok(AdminDestination {
        id: d.id,
        tenant_id: d.tenant_id,
        name: d.name,
        kind: d.kind,
        config: d.config.into(),
        has_secret: d.has_secret,
        created_at: d.created_at,
        secret,
    })
}

/// Destinations.
pub struct DestinationsApi;

#[OpenApi(prefix_path = "/admin/v1")]
impl DestinationsApi {
    /// Lists the destinations the caller may use (the server's own, regions, and the tenant's); secrets are redacted.
    #[oai(path = "/destinations", method = "get", operation_id = "admin_list_destinations", tag = "EngineTag::Destinations")]
    async fn list_destinations(&self, state: Data<&AppState>, caller: Caller) -> poem::Result<Json<Vec<AdminDestination>>> {
        let rows = state.engine.destinations(caller.principal()).await?;
        Ok(Json(rows.into_iter().map(|r| destination(&state, r)).collect::<CoreResult<_>>()?))
    }

    /// Adds a destination after writing, reading and deleting a probe object in it.
    #[oai(path = "/destinations", method = "post", operation_id = "admin_add_destination", tag = "EngineTag::Destinations")]
    async fn add_destination(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: StrictJson<AdminNewDestination>,
    ) -> poem::Result<Created<AdminDestination>> {
        let row = state.engine.add_destination(caller.principal(), body.read()?.into()).await?;
        Ok(Created::Created(Json(destination(&state, row)?)))
    }

    /// One destination; its secret is redacted.
    #[oai(path = "/destinations/:id", method = "get", operation_id = "admin_get_destination", tag = "EngineTag::Destinations")]
    async fn get_destination(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<Json<AdminDestination>> {
        let row = state.engine.destination_row(caller.principal(), id.0).await?;
        Ok(Json(destination(&state, row)?))
    }

    /// Replaces a destination's settings (the secret is kept unless a new one is given), validating it again.
    #[oai(path = "/destinations/:id", method = "put", operation_id = "admin_update_destination", tag = "EngineTag::Destinations")]
    async fn update_destination(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<Uuid>,
        body: StrictJson<AdminNewDestination>,
    ) -> poem::Result<Json<AdminDestination>> {
        state.engine.destination_row(caller.principal(), id.0).await?;
        let row = state.engine.update_destination(caller.principal(), id.0, body.read()?.into()).await?;
        Ok(Json(destination(&state, row)?))
    }

    /// Removes a destination that holds no backup.
    #[oai(path = "/destinations/:id", method = "delete", operation_id = "admin_delete_destination", tag = "EngineTag::Destinations")]
    async fn delete_destination(&self, state: Data<&AppState>, caller: Caller, id: Path<Uuid>) -> poem::Result<NoContent> {
        state.engine.delete_destination(caller.principal(), id.0).await?;
        Ok(NoContent::Done)
    }
}
