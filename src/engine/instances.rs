//! Database instances: registering one, creating a new empty one, where a restore into a new
//! instance puts its database, and deleting one (dropping the database Coffer created).

use uuid::Uuid;

use super::{Engine, SourceView, sources::NodeLocations, stored::instance_config};
use crate::{
    domain::{
        agent::LOCAL_AGENT,
        identity::Principal,
        source::{InstanceConfig, NodeSpec, SourceKind},
    },
    error::{CoreError, CoreResult},
    persistence::catalog,
    sources::database::{DatabaseLocation, DatastoreKind},
};

/// How to register an instance: its name, where its database is and which agent reaches it,
/// and what it is.
#[derive(Clone, Debug)]
pub struct InstanceSpec {
    pub name: String,
    /// A SQLite file path, or a postgres:// / mysql:// URL.
    pub location: String,
    /// The agent that reaches it (`local`: the server's own).
    pub agent: String,
    /// Its datastore (`sqlite`, `postgresql` or `mysql`), version, flavor and volume;
    /// `restored_from` and `managed` are the engine's to set and ignored here.
    pub config: InstanceConfig,
}

/// The name of a database Coffer creates for instance `name`: `<prefix>_<name in lower case
/// letters, digits and _>_<8 random hex digits>`.
pub(super) fn new_database_name(prefix: &str, name: &str) -> String {
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(40).collect();
    format!("{prefix}_{name}_{}", &Uuid::new_v4().simple().to_string()[..8])
}

impl Engine {
    /// Registers a database instance; its location is sealed at rest.
    pub async fn add_instance(&self, caller: &Principal, spec: InstanceSpec) -> CoreResult<SourceView> {
        let kind: DatastoreKind =
            spec.config.datastore.parse().map_err(|e: crate::sources::database::DatabaseError| CoreError::BadRequest(e.to_string()))?;
        DatabaseLocation::new(kind, spec.location.clone()).database_name().map_err(|e| CoreError::BadRequest(e.to_string()))?;
        if kind == DatastoreKind::Sqlite {
            self.check_local_path(caller, &spec.agent, &spec.location)?;
        }
        self.check_agents_registered(caller, &[spec.agent.as_str()]).await?;
        let config = InstanceConfig { datastore: kind.as_str().to_owned(), restored_from: None, managed: false, ..spec.config };
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
            NodeLocations::Sealed,
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
        let db_name = new_database_name("coffer", name);
        let location = match kind {
            DatastoreKind::Sqlite => DatabaseLocation::new(kind, self.instance_file(caller.tenant_id, &db_name)?),
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
            .create_source(
                caller.tenant_id,
                SourceKind::Instance,
                name,
                serde_json::to_value(&config).expect("config"),
                vec![node],
                NodeLocations::Sealed,
            )
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
            return Ok(DatabaseLocation::new(original.kind, self.instance_file(tenant_id, db_name)?));
        }
        original.with_database_name(db_name).map_err(|e| CoreError::BadRequest(e.to_string()))
    }

    /// Where the server keeps the SQLite database `db_name` of an instance it creates:
    /// `<data_dir>/instances/<tenant>/<db_name>.sqlite`, as an absolute path.
    fn instance_file(&self, tenant_id: Uuid, db_name: &str) -> CoreResult<String> {
        let path = self.inner.settings.data_dir.join("instances").join(tenant_id.to_string()).join(format!("{db_name}.sqlite"));
        Ok(std::path::absolute(path).map_err(CoreError::internal)?.display().to_string())
    }

    /// Deletes an instance; a database Coffer created is dropped, a registered one is left alone.
    /// Its backups stay.
    pub async fn delete_instance(&self, caller: &Principal, id: Uuid) -> CoreResult<()> {
        let view = self.source(caller, id).await?;
        if view.source.kind != SourceKind::Instance {
            return Err(CoreError::not_found("instance", id.to_string()));
        }
        // While it is backed up, an instance cannot be deleted (Cloud Databases' rule).
        if catalog::has_backup_in_progress(&self.inner.db, id).await? {
            return Err(CoreError::Unprocessable(format!(
                "instance '{}' is being backed up; delete it once the backup ends",
                view.source.name
            )));
        }
        let config = instance_config(&view.source)?;
        catalog::mark_source_deleted(&self.inner.db, id).await?;
        if config.managed
            && let (Ok(kind), Some(node)) =
                (config.datastore.parse::<DatastoreKind>(), catalog::nodes_of(&self.inner.db, id).await?.into_iter().next())
        {
            let location = DatabaseLocation::new(kind, self.inner.secrets.open(&node.location)?);
            if let Err(e) = crate::sources::database::drop_database(&location).await {
                tracing::warn!(instance = %id, error = %e, "could not drop the database of a deleted instance");
            }
        }
        catalog::add_event(
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
