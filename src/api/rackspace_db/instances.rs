//! Instances (listed, shown, made empty or restored from a backup, deleted), the datastores new
//! ones can use, and flavors.

use poem::web::Data;
use poem_openapi::{OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{
    Accepted, CloudDbTag, check_account, instance_id,
    models::{self, CreateInstance, DatastoreEntry, DatastoreList, DatastoreVersion, FlavorList, InstanceList, OneFlavor, OneInstance},
    view,
};
use crate::{
    api::common::{region::Region, security::Caller},
    domain::source::SourceKind,
    engine::{RestoreSpec, RestoreTarget},
    error::CoreError,
    state::AppState,
};

/// The Cloud Databases instances API.
pub struct InstancesApi;

#[OpenApi]
impl InstancesApi {
    /// Lists instances.
    #[oai(path = "/v1.0/:account/instances", method = "get", operation_id = "clouddb_list_instances", tag = "CloudDbTag::Instances")]
    async fn list_instances(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        caller: Caller,
        account: Path<String>,
    ) -> poem::Result<Json<InstanceList>> {
        let p = caller.principal();
        check_account(p, &account)?;
        let mut instances = Vec::new();
        for s in state.engine.list_sources(p, Some(SourceKind::Instance)).await? {
            instances.push(view::instance(&state, p, &region, &s.source).await?);
        }
        Ok(Json(InstanceList { instances }))
    }

    /// One instance.
    #[oai(path = "/v1.0/:account/instances/:id", method = "get", operation_id = "clouddb_get_instance", tag = "CloudDbTag::Instances")]
    async fn get_instance(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        caller: Caller,
        account: Path<String>,
        id: Path<String>,
    ) -> poem::Result<Json<OneInstance>> {
        let p = caller.principal();
        check_account(p, &account)?;
        let source = state.engine.source(p, instance_id(&id)?).await.map_err(|_| CoreError::not_found("Instance", id.0.clone()))?;
        if source.source.kind != SourceKind::Instance {
            return Err(CoreError::not_found("Instance", id.0.clone()).into());
        }
        Ok(Json(OneInstance { instance: view::instance(&state, p, &region, &source.source).await? }))
    }

    /// Restores a backup into a NEW instance: `{"instance": {"name", "flavorRef", "volume": {"size"}, "restorePoint": {"backupRef"}}}`.
    #[oai(path = "/v1.0/:account/instances", method = "post", operation_id = "clouddb_create_instance", tag = "CloudDbTag::Instances")]
    async fn create_instance(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        caller: Caller,
        account: Path<String>,
        body: Json<CreateInstance>,
    ) -> poem::Result<Json<OneInstance>> {
        let p = caller.principal();
        check_account(p, &account)?;
        let i = body.0.instance;
        let flavor = i.flavor_ref.as_ref().and_then(models::FlavorRef::id);
        let volume = i.volume.as_ref().map(|v| v.size);
        let Some(restore_point) = i.restore_point else {
            let datastore = i.datastore.unwrap_or(models::DatastoreChoice { kind: None, version: None });
            let config = crate::domain::source::InstanceConfig {
                datastore_version: datastore.version.unwrap_or_default(),
                flavor_ram_mb: flavor.as_deref().and_then(view::flavor_ram).unwrap_or(0),
                flavor: flavor.unwrap_or_else(|| "1".into()),
                volume_gb: volume.unwrap_or(1),
                ..Default::default()
            };
            let created = state.engine.create_empty_instance(p, &i.name.0, datastore.kind.as_ref().map(|k| k.0.as_str()), config).await?;
            return Ok(Json(OneInstance { instance: view::instance(&state, p, &region, &created.source).await? }));
        };
        let backup = view::find(&state, p, &region, &restore_point.backup_ref).await?;
        let target = RestoreTarget::NewInstance {
            name: i.name.0,
            flavor: flavor.clone(),
            flavor_ram_mb: flavor.as_deref().and_then(view::flavor_ram),
            volume_gb: volume,
        };
        let op = state
            .engine
            .start_restore(
                p,
                RestoreSpec {
                    backup_id: backup.id,
                    target,
                    selection: Default::default(),
                    options: Default::default(),
                    destination_id: None,
                    point_in_time: None,
                },
            )
            .await?;
        let new_id = op
            .result
            .get("source_id")
            .and_then(serde_json::Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| CoreError::internal(anyhow::anyhow!("restore without a new instance")))?;
        let source = state.engine.source(p, new_id).await?;
        let mut instance = view::instance(&state, p, &region, &source.source).await?;
        // The restore has just been queued: the new instance is building, whatever the timing.
        instance.status = models::InstanceStatus::Build;
        Ok(Json(OneInstance { instance }))
    }

    /// Deletes an instance (its database when Coffer created it); its backups stay.
    #[oai(
        path = "/v1.0/:account/instances/:id",
        method = "delete",
        operation_id = "clouddb_delete_instance",
        tag = "CloudDbTag::Instances"
    )]
    async fn delete_instance(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        account: Path<String>,
        id: Path<String>,
    ) -> poem::Result<Accepted> {
        let p = caller.principal();
        check_account(p, &account)?;
        state.engine.delete_instance(p, instance_id(&id)?).await.map_err(|e| match e {
            CoreError::NotFound { .. } => CoreError::not_found("Instance", id.0.clone()),
            other => other,
        })?;
        Ok(Accepted::Empty)
    }

    /// The datastores new instances can use.
    #[oai(path = "/v1.0/:account/datastores", method = "get", operation_id = "clouddb_list_datastores", tag = "CloudDbTag::Instances")]
    async fn list_datastores(&self, state: Data<&AppState>, caller: Caller, account: Path<String>) -> poem::Result<Json<DatastoreList>> {
        check_account(caller.principal(), &account)?;
        let mut kinds = vec!["sqlite".to_owned()];
        kinds.extend(state.settings.datastores.keys().cloned());
        let datastores = kinds
            .into_iter()
            .map(|k| {
                let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, k.as_bytes()).to_string();
                let version = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{k}:current").as_bytes()).to_string();
                let versions = vec![DatastoreVersion { id: version.clone(), name: "current".into(), active: 1 }];
                DatastoreEntry { id, name: k, default_version: version, versions }
            })
            .collect();
        Ok(Json(DatastoreList { datastores }))
    }

    /// Lists flavors.
    #[oai(path = "/v1.0/:account/flavors", method = "get", operation_id = "clouddb_list_flavors", tag = "CloudDbTag::Instances")]
    async fn list_flavors(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        caller: Caller,
        account: Path<String>,
    ) -> poem::Result<Json<FlavorList>> {
        check_account(caller.principal(), &account)?;
        Ok(Json(FlavorList {
            flavors: view::FLAVORS.iter().map(|(id, name, ram)| view::flavor(&state, &region, &account, *id, name, *ram)).collect(),
        }))
    }

    /// One flavor.
    #[oai(path = "/v1.0/:account/flavors/:id", method = "get", operation_id = "clouddb_get_flavor", tag = "CloudDbTag::Instances")]
    async fn get_flavor(
        &self,
        state: Data<&AppState>,
        region: Data<&Region>,
        caller: Caller,
        account: Path<String>,
        id: Path<String>,
    ) -> poem::Result<Json<OneFlavor>> {
        check_account(caller.principal(), &account)?;
        let (fid, name, ram) =
            view::FLAVORS.iter().find(|(fid, _, _)| fid.to_string() == id.0).ok_or_else(|| CoreError::not_found("Flavor", id.0.clone()))?;
        Ok(Json(OneFlavor { flavor: view::flavor(&state, &region, &account, *fid, name, *ram) }))
    }
}
