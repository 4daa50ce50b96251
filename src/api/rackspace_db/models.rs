//! The Cloud Databases request and response bodies, named and cased as the seed writes them.
//! Unknown request keys are ignored, as every Trove client needs (troveclient always sends
//! `incremental`, cdbclient `is_automated`).

use poem_openapi::{Enum, Object, Union, types::Example};

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
            backup: NewBackup {
                name: "snapshot".into(),
                instance: Some("d4603f69-ec7e-4e9b-803f-600b9205576f".into()),
                description: Some("My Backup".into()),
                parent_id: None,
                incremental: None,
                copy_to: Some(vec!["IAD".into(), "ORD".into()]),
                source: None,
            },
        }
    }
}

/// What to back up and how.
#[derive(Debug, Object)]
#[oai(rename = "CloudDbNewBackup")]
pub struct NewBackup {
    /// The backup's short name, at most 64 characters.
    pub name: String,
    /// The instance to back up; `null` (or absent) when `source` names it.
    #[oai(nullable)]
    pub instance: Option<String>,
    /// A longer description.
    #[oai(nullable)]
    pub description: Option<String>,
    /// The backup an incremental one is based on.
    #[oai(nullable)]
    pub parent_id: Option<String>,
    /// `1` (or `true`) without `parent_id`: incremental on the instance's newest complete backup.
    pub incremental: Option<Flag>,
    /// Regions the completed backup is copied to (DFW, IAD, ORD, HKG, SYD; LON is refused).
    pub copy_to: Option<Vec<String>>,
    /// What to back up: an HA group (`"ha"`) or an instance.
    pub source: Option<BackupSourceRef>,
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
                name: "json_restore".into(),
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
    pub name: String,
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

/// A flavor as clients name it.
#[derive(Debug, Union)]
#[oai(rename = "CloudDbFlavorRef")]
pub enum FlavorRef {
    Number(u32),
    /// A numeric string, or an href ending in `/flavors/{id}`.
    Text(String),
}

impl FlavorRef {
    /// The flavor id it names.
    pub fn id(&self) -> Option<String> {
        match self {
            FlavorRef::Number(n) => Some(n.to_string()),
            FlavorRef::Text(s) => s.rsplit('/').next().map(str::to_owned).filter(|s| !s.is_empty()),
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename = "CloudDbVolume")]
pub struct Volume {
    /// Gigabytes.
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
    pub kind: Option<String>,
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
    pub version_id: String,
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
    pub datastore: DatastoreView,
    pub source: BackupSourceView,
    /// 1 when a schedule made it.
    pub is_automated: i32,
    pub flavor_ram: u32,
    #[oai(rename = "type")]
    pub kind: String,
    pub volume_size: u32,
    pub project_id: String,
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
