//! The Cloud Databases request and response bodies, named and cased as the seed writes them.
//! Unknown request keys are ignored, as every Trove client needs (troveclient always sends
//! `incremental`, cdbclient `is_automated`).

use std::borrow::Cow;

use poem_openapi::{
    Enum, Object,
    registry::{MetaSchema, MetaSchemaRef},
    types::{Example, ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

pub use super::scalars::{Automated, BackupName, DatastoreType, FlavorRef, InstanceName};

use crate::api::common::lenient::Flag;

/// `POST /backups`.
#[derive(Debug, Object)]
#[oai(example, rename = "CloudDbCreateBackup")]
pub struct CreateBackup {
    pub backup: NewBackup,
}

impl Example for CreateBackup {
    fn example() -> Self {
        CreateBackup {
            backup: NewBackup::OfInstance(InstanceBackup {
                name: BackupName("snapshot".into()),
                instance: "d4603f69-ec7e-4e9b-803f-600b9205576f".into(),
                description: Some("My Backup".into()),
                parent_id: None,
                incremental: None,
                copy_to: Some(vec!["IAD".into(), "ORD".into()]),
                source: None,
            }),
        }
    }
}

/// What to back up and how: an instance named by `instance`, or a source (an HA group or an
/// instance) named by `source`. Read by which of the two names the body gives, so a refusal says
/// what is wrong with that form.
#[derive(Debug)]
pub enum NewBackup {
    OfInstance(InstanceBackup),
    OfSource(SourceBackup),
}

impl Type for NewBackup {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "CloudDbNewBackup".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("A backup of the instance `instance`, or of the HA group or instance `source` names."),
            any_of: vec![InstanceBackup::schema_ref(), SourceBackup::schema_ref()],
            ..MetaSchema::ANY
        }))
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        InstanceBackup::register(registry);
        SourceBackup::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for NewBackup {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let names = |key: &str| value.as_ref().and_then(|v| v.get(key)).is_some_and(|v| !v.is_null());
        if names("instance") {
            InstanceBackup::parse_from_json(value).map(NewBackup::OfInstance).map_err(ParseError::propagate)
        } else if names("source") {
            SourceBackup::parse_from_json(value).map(NewBackup::OfSource).map_err(ParseError::propagate)
        } else {
            Err(ParseError::custom("give the instance to back up (\"instance\") or an HA source"))
        }
    }
}

impl ToJSON for NewBackup {
    fn to_json(&self) -> Option<Value> {
        match self {
            NewBackup::OfInstance(b) => b.to_json(),
            NewBackup::OfSource(b) => b.to_json(),
        }
    }
}

/// A backup of the instance `instance`.
#[derive(Debug, Object)]
#[oai(rename = "CloudDbInstanceBackup")]
pub struct InstanceBackup {
    pub name: BackupName,
    /// The instance to back up.
    pub instance: String,
    /// A longer description.
    #[oai(nullable)]
    pub description: Option<String>,
    /// The backup an incremental one is based on.
    #[oai(nullable)]
    pub parent_id: Option<String>,
    /// `1` (or `true`) without `parent_id`: incremental on the instance's newest complete backup.
    pub incremental: Option<Flag>,
    /// Regions the completed backup is copied to (DFW, IAD, ORD, HKG, SYD by default; one not served here is not found, 404).
    pub copy_to: Option<Vec<String>>,
    /// The same instance again, as some clients send both.
    pub source: Option<BackupSourceRef>,
}

/// A backup of the HA group or instance `source` names.
#[derive(Debug, Object)]
#[oai(rename = "CloudDbSourceBackup")]
pub struct SourceBackup {
    pub name: BackupName,
    /// What to back up: an HA group (`"ha"`) or an instance.
    pub source: BackupSourceRef,
    /// `null` (or absent): `source` names what to back up.
    #[oai(nullable)]
    pub instance: Option<String>,
    #[oai(nullable)]
    pub description: Option<String>,
    #[oai(nullable)]
    pub parent_id: Option<String>,
    pub incremental: Option<Flag>,
    pub copy_to: Option<Vec<String>>,
}

/// One request's fields, whichever form named the source.
pub struct BackupFields {
    pub name: String,
    pub instance: Option<String>,
    pub source: Option<BackupSourceRef>,
    pub description: Option<String>,
    pub parent_id: Option<String>,
    pub incremental: Option<Flag>,
    pub copy_to: Option<Vec<String>>,
}

impl NewBackup {
    pub fn into_fields(self) -> BackupFields {
        match self {
            NewBackup::OfInstance(b) => BackupFields {
                name: b.name.0,
                instance: Some(b.instance),
                source: b.source,
                description: b.description,
                parent_id: b.parent_id,
                incremental: b.incremental,
                copy_to: b.copy_to,
            },
            NewBackup::OfSource(b) => BackupFields {
                name: b.name.0,
                instance: b.instance,
                source: Some(b.source),
                description: b.description,
                parent_id: b.parent_id,
                incremental: b.incremental,
                copy_to: b.copy_to,
            },
        }
    }
}

/// The kind of thing a backup is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase", rename = "CloudDbSourceType")]
pub enum SourceType {
    Instance,
    Ha,
}

/// A backup's source as the request names it.
#[derive(Debug, Object)]
#[oai(rename = "CloudDbBackupSourceRef")]
pub struct BackupSourceRef {
    #[oai(rename = "type")]
    pub kind: SourceType,
    pub id: String,
}

/// `POST /backups/{id}/action`.
#[derive(Debug, Object)]
#[oai(rename = "CloudDbBackupAction")]
pub struct BackupAction {
    #[oai(rename = "copy-backup")]
    pub copy_backup: CopyBackup,
}

/// A copy of a backup to another region.
#[derive(Debug, Object)]
#[oai(rename = "CloudDbCopyBackup")]
pub struct CopyBackup {
    /// The region the copy goes to.
    pub target_backup_region: String,
    /// The copy's name (cdbclient sends `null`).
    #[oai(nullable)]
    pub name: Option<String>,
    #[oai(nullable)]
    pub description: Option<String>,
}

/// `POST /instances`: a new instance, empty or restored from `restorePoint`.
#[derive(Debug, Object)]
#[oai(example, rename = "CloudDbCreateInstance")]
pub struct CreateInstance {
    pub instance: NewInstance,
}

impl Example for CreateInstance {
    fn example() -> Self {
        CreateInstance {
            instance: NewInstance {
                name: InstanceName("json_restore".into()),
                flavor_ref: Some(FlavorRef::Number(1)),
                volume: Some(Volume { size: 2 }),
                restore_point: Some(RestorePoint { backup_ref: "61f12fef-edb1-4561-8122-e7c00ef26a82".into() }),
                datastore: None,
            },
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename = "CloudDbNewInstance")]
pub struct NewInstance {
    pub name: InstanceName,
    /// A flavor id (a number or a numeric string) or a flavor's href, as pyrax sends it.
    #[oai(rename = "flavorRef")]
    pub flavor_ref: Option<FlavorRef>,
    pub volume: Option<Volume>,
    /// The backup to restore into the new instance.
    #[oai(rename = "restorePoint")]
    pub restore_point: Option<RestorePoint>,
    /// The datastore of a new empty instance.
    pub datastore: Option<DatastoreChoice>,
}

#[derive(Debug, Object)]
#[oai(rename = "CloudDbVolume")]
pub struct Volume {
    /// Gigabytes.
    #[oai(validator(minimum(value = "1"), maximum(value = "4294967295")))]
    pub size: u32,
}

#[derive(Debug, Object)]
#[oai(rename = "CloudDbRestorePoint")]
pub struct RestorePoint {
    #[oai(rename = "backupRef")]
    pub backup_ref: String,
}

#[derive(Debug, Object)]
#[oai(rename = "CloudDbDatastoreChoice")]
pub struct DatastoreChoice {
    #[oai(rename = "type")]
    pub kind: Option<DatastoreType>,
    pub version: Option<String>,
}

/// A backup's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE", rename = "CloudDbBackupStatus")]
pub enum BackupStatus {
    /// Created, not started.
    New,
    /// Running.
    Building,
    Completed,
    Failed,
    /// Its stored data could not be removed.
    DeleteFailed,
}

/// An instance's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename = "CloudDbInstanceStatus")]
pub enum InstanceStatus {
    /// Being restored.
    #[oai(rename = "BUILD")]
    Build,
    #[oai(rename = "ACTIVE")]
    Active,
}

/// A datastore as a backup or instance shows it.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudDbDatastoreView")]
pub struct DatastoreView {
    #[oai(rename = "type")]
    pub kind: String,
    pub version: String,
    /// Always answered; the seed's restore answer lacks it.
    #[oai(skip_serializing_if_is_none)]
    pub version_id: Option<String>,
}

/// A backup's source.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudDbBackupSourceView")]
pub struct BackupSourceView {
    #[oai(rename = "type")]
    pub kind: SourceType,
    pub id: String,
}

/// A backup.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudDbBackupView")]
pub struct BackupView {
    pub id: String,
    pub name: String,
    #[oai(nullable)]
    pub description: Option<String>,
    pub status: BackupStatus,
    /// The backed-up instance; `null` for an HA group's backup.
    #[oai(nullable)]
    pub instance_id: Option<String>,
    #[oai(nullable)]
    pub parent_id: Option<String>,
    /// Where the completed backup lives; `null` until it completes.
    #[oai(rename = "locationRef", nullable)]
    pub location_ref: Option<String>,
    /// Gigabytes; `null` until it completes.
    #[oai(nullable)]
    pub size: Option<f64>,
    pub created: String,
    pub updated: String,
    // Always answered; optional in the schema because the seed's older examples lack them.
    #[oai(skip_serializing_if_is_none)]
    pub datastore: Option<DatastoreView>,
    #[oai(skip_serializing_if_is_none)]
    pub source: Option<BackupSourceView>,
    #[oai(skip_serializing_if_is_none)]
    pub is_automated: Option<Automated>,
    /// Megabytes of RAM of the instance's flavor.
    #[oai(skip_serializing_if_is_none)]
    pub flavor_ram: Option<u32>,
    /// The backup's kind, e.g. `InnoBackupEx` or `InnoBackupExIncremental`.
    #[oai(rename = "type", skip_serializing_if_is_none)]
    pub kind: Option<String>,
    /// Gigabytes of the instance's volume.
    #[oai(skip_serializing_if_is_none)]
    pub volume_size: Option<u32>,
    /// The tenant.
    #[oai(skip_serializing_if_is_none)]
    pub project_id: Option<String>,
}

/// `{"backup": {...}}`.
#[derive(Debug, Object)]
#[oai(rename = "CloudDbOneBackup")]
pub struct OneBackup {
    pub backup: BackupView,
}

/// A link of a listing or a resource.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudDbLink")]
pub struct Link {
    pub rel: String,
    pub href: String,
}

/// `{"backups": [...]}`, with a `next` link when more follow.
#[derive(Debug, Object)]
#[oai(rename = "CloudDbBackupList")]
pub struct BackupList {
    pub backups: Vec<BackupView>,
    #[oai(skip_serializing_if_is_none)]
    pub links: Option<Vec<Link>>,
}

#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudDbFlavorLink")]
pub struct FlavorLink {
    pub id: String,
    pub links: Vec<Link>,
}

#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudDbVolumeView")]
pub struct VolumeView {
    pub size: u32,
}

/// An instance.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudDbInstanceView")]
pub struct InstanceView {
    pub id: String,
    pub name: String,
    pub status: InstanceStatus,
    pub created: String,
    pub updated: String,
    pub datastore: DatastoreView,
    pub flavor: FlavorLink,
    pub volume: VolumeView,
    pub hostname: String,
    pub links: Vec<Link>,
}

#[derive(Debug, Object)]
#[oai(rename = "CloudDbOneInstance")]
pub struct OneInstance {
    pub instance: InstanceView,
}

#[derive(Debug, Object)]
#[oai(rename = "CloudDbInstanceList")]
pub struct InstanceList {
    pub instances: Vec<InstanceView>,
}

/// A flavor: RAM in megabytes.
#[derive(Clone, Debug, Object)]
#[oai(rename = "CloudDbFlavorView")]
pub struct FlavorView {
    pub id: u32,
    pub name: String,
    pub ram: u32,
    pub links: Vec<Link>,
}

#[derive(Debug, Object)]
#[oai(rename = "CloudDbOneFlavor")]
pub struct OneFlavor {
    pub flavor: FlavorView,
}

#[derive(Debug, Object)]
#[oai(rename = "CloudDbFlavorList")]
pub struct FlavorList {
    pub flavors: Vec<FlavorView>,
}

#[derive(Debug, Object)]
#[oai(rename = "CloudDbDatastoreVersion")]
pub struct DatastoreVersion {
    pub id: String,
    pub name: String,
    pub active: i32,
}

/// A datastore new instances can use.
#[derive(Debug, Object)]
#[oai(rename = "CloudDbDatastoreEntry")]
pub struct DatastoreEntry {
    pub id: String,
    pub name: String,
    pub default_version: String,
    pub versions: Vec<DatastoreVersion>,
}

#[derive(Debug, Object)]
#[oai(rename = "CloudDbDatastoreList")]
pub struct DatastoreList {
    pub datastores: Vec<DatastoreEntry>,
}
