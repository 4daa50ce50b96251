//! Database instances: registering one, creating a new empty one, where a restore into a new
//! instance puts its database, and deleting one (dropping the database Coffer created).

use serde::Deserialize;
use uuid::Uuid;

use super::{Engine, SourceView};
use crate::{
    domain::{
        agent::LOCAL_AGENT,
        identity::Principal,
        source::{InstanceConfig, NodeSpec, SourceKind},
    },
    error::{CoreError, CoreResult},
    persistence::engine as repo,
    sources::database::{DatabaseLocation, DatastoreKind},
};

/// How to register an instance.
#[derive(Clone, Debug, Deserialize)]
pub struct InstanceSpec {
    pub name: String,
    /// `sqlite`, `postgresql` or `mysql`.
    pub datastore: String,
    #[serde(default)]
    pub datastore_version: String,
    /// A SQLite file path, or a postgres:// / mysql:// URL.
    pub location: String,
    #[serde(default = "crate::domain::source::local_agent")]
    pub agent: String,
    #[serde(default)]
    pub flavor: String,
    #[serde(default)]
    pub flavor_ram_mb: u32,
    #[serde(default)]
    pub volume_gb: u32,
}

impl Engine {
    /// Registers a database instance; its location is sealed at rest.
    pub async fn add_instance(&self, caller: &Principal, spec: InstanceSpec) -> CoreResult<SourceView> {
        let kind: DatastoreKind =
            spec.datastore.parse().map_err(|e: crate::sources::database::DatabaseError| CoreError::BadRequest(e.to_string()))?;
        DatabaseLocation::new(kind, spec.location.clone()).database_name().map_err(|e| CoreError::BadRequest(e.to_string()))?;
        if kind == DatastoreKind::Sqlite {
            self.check_local_path(caller, &spec.agent, &spec.location)?;
        }
        self.check_agents_registered(caller, &[spec.agent.as_str()]).await?;
        let config = InstanceConfig {
            datastore: kind.as_str().to_owned(),
            datastore_version: spec.datastore_version,
            flavor: spec.flavor,
            flavor_ram_mb: spec.flavor_ram_mb,
            volume_gb: spec.volume_gb,
            restored_from: None,
            managed: false,
        };
        let node = NodeSpec {
            name: spec.name.clone(),
            agent: spec.agent,
            location: spec.location,
            commitlog_dir: None,
            datacenter: None,
            rack: None,
        };
        self.create_source(
            caller.tenant_id,
            SourceKind::Instance,
            &spec.name,
            serde_json::to_value(config).expect("config"),
            vec![node],
            true,
        )
        .await
    }

    /// Creates a NEW, empty database on the server configured for `datastore` (a file under the
    /// data directory for SQLite) and registers it as an instance.
    pub async fn create_empty_instance(
        &self,
        caller: &Principal,
        name: &str,
        datastore: Option<&str>,
        mut config: InstanceConfig,
    ) -> CoreResult<SourceView> {
        let wanted = datastore.unwrap_or(&self.inner.settings.default_datastore);
        let kind: DatastoreKind =
            wanted.parse().map_err(|e: crate::sources::database::DatabaseError| CoreError::BadRequest(e.to_string()))?;
        let db_name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(40).collect();
        let db_name = format!("coffer_{db_name}_{}", &Uuid::new_v4().simple().to_string()[..8]);
        let location = match kind {
            DatastoreKind::Sqlite => {
                let path =
                    self.inner.settings.data_dir.join("instances").join(caller.tenant_id.to_string()).join(format!("{db_name}.sqlite"));
                DatabaseLocation::new(kind, std::path::absolute(path).map_err(CoreError::internal)?.display().to_string())
            }
            _ => {
                let server = self.inner.settings.datastores.get(kind.as_str()).ok_or_else(|| CoreError::NotFound {
                    what: "datastore with a server for new instances (datastores.<kind>)",
                    id: kind.to_string(),
                })?;
                DatabaseLocation::new(kind, server.clone())
                    .with_database_name(&db_name)
                    .map_err(|e| CoreError::BadRequest(e.to_string()))?
            }
        };
        crate::sources::database::create_empty(&location).await.map_err(|e| CoreError::Unavailable(e.to_string()))?;
        config.datastore = kind.as_str().to_owned();
        config.managed = true;
        let node = NodeSpec {
            name: name.to_owned(),
            agent: LOCAL_AGENT.into(),
            location: location.location.clone(),
            commitlog_dir: None,
            datacenter: None,
            rack: None,
        };
        match self
            .create_source(caller.tenant_id, SourceKind::Instance, name, serde_json::to_value(&config).expect("config"), vec![node], true)
            .await
        {
            Ok(view) => Ok(view),
            Err(e) => {
                let _ = crate::sources::database::drop_database(&location).await;
                Err(e)
            }
        }
    }

    /// Where a restore into a new instance creates the database `db_name`: for SQLite written by
    /// the server's own agent, a file under `<data_dir>/instances/<tenant>/` like every instance
    /// the service creates; for SQLite on a remote agent (whose disk the server does not know), a
    /// file beside the original; otherwise a new database on the original's server.
    pub(crate) fn new_instance_location(
        &self,
        tenant_id: Uuid,
        original: &DatabaseLocation,
        agent: &str,
        db_name: &str,
    ) -> CoreResult<DatabaseLocation> {
        if original.kind == DatastoreKind::Sqlite && agent == LOCAL_AGENT {
            let path = self.inner.settings.data_dir.join("instances").join(tenant_id.to_string()).join(format!("{db_name}.sqlite"));
            let path = std::path::absolute(path).map_err(CoreError::internal)?;
            return Ok(DatabaseLocation::new(original.kind, path.display().to_string()));
        }
        original.with_database_name(db_name).map_err(|e| CoreError::BadRequest(e.to_string()))
    }

    /// Deletes an instance; a database Coffer created is dropped, a registered one is left alone.
    /// Its backups stay.
    pub async fn delete_instance(&self, caller: &Principal, id: Uuid) -> CoreResult<()> {
        let view = self.source(caller, id).await?;
        if view.source.kind != SourceKind::Instance {
            return Err(CoreError::not_found("instance", id.to_string()));
        }
        // While it is backed up, an instance cannot be deleted (Cloud Databases' rule).
        if repo::has_backup_in_progress(&self.inner.db, id).await? {
            return Err(CoreError::Unprocessable(format!(
                "instance '{}' is being backed up; delete it once the backup ends",
                view.source.name
            )));
        }
        let config: InstanceConfig = serde_json::from_value(view.source.config.clone()).unwrap_or_default();
        repo::mark_source_deleted(&self.inner.db, id).await?;
        if config.managed
            && let (Ok(kind), Some(node)) =
                (config.datastore.parse::<DatastoreKind>(), repo::nodes_of(&self.inner.db, id).await?.into_iter().next())
        {
            let location = DatabaseLocation::new(kind, self.inner.secrets.open(&node.location)?);
            if let Err(e) = crate::sources::database::drop_database(&location).await {
                tracing::warn!(instance = %id, error = %e, "could not drop the database of a deleted instance");
            }
        }
        repo::add_event(
            &self.inner.db,
            view.source.tenant_id,
            "source.deleted",
            &format!("instance '{}' deleted", view.source.name),
            None,
            None,
            Some(id),
        )
        .await
    }
}
