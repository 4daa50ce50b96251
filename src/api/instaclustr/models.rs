//! The Instaclustr provisioning v1 request and response bodies, named and cased as the seed and
//! the clients that read them (Terraform, the provisioning demo) write them. Unknown request keys
//! are ignored.

use std::collections::BTreeMap;

use poem_openapi::{Enum, Object, registry::MetaSchema, types::Example};
use serde_json::Value;
use uuid::Uuid;

use crate::api::common::forms::{Formed, Forms, constraining};

/// The seed's example cluster.
const EXAMPLE_CLUSTER: Uuid = Uuid::from_u128(0x77b5a4e1_c422_4a78_b551_d8fa5c42ad95);

/// A cluster's (or a data centre's) state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE", rename = "InstaclustrClusterStatus")]
pub enum ClusterStatus {
    /// A restore is still filling the new cluster's nodes.
    Provisioning,
    Running,
    /// The restore that was to fill it failed.
    Failed,
}

/// A node's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE", rename = "InstaclustrNodeStatus")]
pub enum NodeStatus {
    Provisioning,
    Running,
    /// The node's agent has not been heard from lately.
    Unavailable,
    Failed,
}

/// The support tier of a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE", rename = "InstaclustrSlaTier")]
pub enum SlaTier {
    Production,
    NonProduction,
}

/// Whether a cluster runs in PCI compliance mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE", rename = "InstaclustrPciCompliance")]
pub enum PciCompliance {
    Enabled,
    Disabled,
}

/// One cluster of `GET /provisioning/v1`.
#[derive(Debug, Object)]
#[oai(rename = "InstaclustrClusterSummary")]
pub struct ClusterSummary {
    pub id: Uuid,
    pub name: String,
    #[oai(rename = "nodeCount")]
    pub node_count: u32,
    /// Nodes whose status is RUNNING.
    #[oai(rename = "runningNodeCount")]
    pub running_node_count: u32,
    #[oai(rename = "derivedStatus")]
    pub derived_status: ClusterStatus,
    #[oai(rename = "slaTier")]
    pub sla_tier: SlaTier,
    #[oai(rename = "pciCompliance")]
    pub pci_compliance: PciCompliance,
}

/// A node of a cluster's status document.
#[derive(Clone, Debug, Object)]
#[oai(rename = "InstaclustrNode")]
pub struct ClusterNode {
    pub id: Uuid,
    /// The node size (Coffer's nodes have one size).
    pub size: String,
    #[oai(nullable)]
    pub rack: Option<String>,
    #[oai(rename = "publicAddress")]
    pub public_address: String,
    #[oai(rename = "privateAddress")]
    pub private_address: String,
    #[oai(rename = "nodeStatus")]
    pub node_status: NodeStatus,
    /// The Coffer agent beside the node's data.
    pub agent: String,
}

/// A data centre of a cluster's status document.
#[derive(Debug, Object)]
#[oai(rename = "InstaclustrDataCentre")]
pub struct DataCentre {
    /// The data centre's id (`cdcId` in a restore's `cdcInfos`).
    pub id: Uuid,
    pub name: String,
    #[oai(rename = "cdcName")]
    pub cdc_name: String,
    pub provider: String,
    /// The data centre's network: the `customVpcNetwork` or `clusterNetwork` it was restored to,
    /// `null` when none was given.
    #[oai(rename = "cdcNetwork", nullable)]
    pub cdc_network: Option<String>,
    /// For a data centre restored with `restoreToSameVpc`: whether it went to the original's VPC.
    #[oai(rename = "restoreToSameVpc", skip_serializing_if_is_none)]
    pub restore_to_same_vpc: Option<bool>,
    /// For a data centre restored to a custom VPC: that VPC.
    #[oai(rename = "customVpcId", skip_serializing_if_is_none)]
    pub custom_vpc_id: Option<String>,
    pub bundles: Vec<String>,
    #[oai(rename = "nodeCount")]
    pub node_count: u32,
    #[oai(rename = "cdcStatus")]
    pub cdc_status: ClusterStatus,
    pub nodes: Vec<ClusterNode>,
}

/// Where a restored cluster's data came from.
#[derive(Debug, Object)]
#[oai(rename = "InstaclustrRestoredFrom")]
pub struct RestoredFrom {
    /// The cluster that was restored.
    #[oai(rename = "clusterId")]
    pub cluster_id: Uuid,
    /// The moment (ms since the epoch) the new cluster's data reaches.
    #[oai(rename = "pointInTime")]
    pub point_in_time: i64,
    /// The `pointInTime` the restore asked for; `null` when it named none.
    #[oai(rename = "requestedPointInTime", nullable)]
    pub requested_point_in_time: Option<i64>,
}

/// `GET /provisioning/v1/{clusterId}`: the cluster's status, data centres and nodes.
#[derive(Debug, Object)]
#[oai(rename = "InstaclustrCluster")]
pub struct Cluster {
    pub id: Uuid,
    #[oai(rename = "clusterName")]
    pub cluster_name: String,
    #[oai(rename = "clusterStatus")]
    pub cluster_status: ClusterStatus,
    /// `APACHE_CASSANDRA`.
    #[oai(rename = "bundleType")]
    pub bundle_type: String,
    #[oai(rename = "slaTier")]
    pub sla_tier: SlaTier,
    #[oai(rename = "pciCompliance")]
    pub pci_compliance: PciCompliance,
    /// The first data centre's name.
    #[oai(rename = "dataCentre", nullable)]
    pub data_centre: Option<String>,
    /// The cluster network it was restored to (`clusterNetwork`), `null` when none was given.
    #[oai(rename = "clusterNetwork", nullable)]
    pub cluster_network: Option<String>,
    /// For a restored cluster: the cluster and the moment its data comes from.
    #[oai(rename = "restoredFrom", skip_serializing_if_is_none)]
    pub restored_from: Option<RestoredFrom>,
    #[oai(rename = "dataCentres")]
    pub data_centres: Vec<DataCentre>,
}

/// `DELETE /provisioning/v1/{clusterId}`.
#[derive(Debug, Object)]
#[oai(rename = "InstaclustrMessage")]
pub struct Message {
    pub message: String,
}

/// What a backup event is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "kebab-case", rename = "InstaclustrEventType")]
pub enum EventType {
    /// A node's part of a backup.
    SnapshotUpload,
    /// A node's part of the restore that filled a restored cluster.
    SnapshotDownload,
}

/// Where a node's part of a backup or restore stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE", rename = "InstaclustrEventState")]
pub enum EventState {
    /// Running, or done on this node while others still run.
    Active,
    Completed,
    Failed,
}

/// One node's part of a backup or restore.
#[derive(Clone, Debug, Object)]
#[oai(rename = "InstaclustrBackupEvent")]
pub struct BackupEvent {
    #[oai(rename = "type")]
    pub kind: EventType,
    pub state: EventState,
    /// 0 to 1.
    pub progress: f64,
    /// When it started, in ms since the epoch.
    pub start: i64,
    /// When it ended, in ms since the epoch; `null` while it runs.
    #[oai(nullable)]
    pub end: Option<i64>,
}

/// A node with its backup and restore events.
#[derive(Debug, Object)]
#[oai(rename = "InstaclustrBackupNode")]
pub struct BackupNode {
    pub id: Uuid,
    #[oai(rename = "publicAddress")]
    pub public_address: String,
    #[oai(rename = "privateAddress")]
    pub private_address: String,
    /// Oldest first.
    pub events: Vec<BackupEvent>,
}

/// A data centre with its nodes' events.
#[derive(Debug, Object)]
#[oai(rename = "InstaclustrBackupDataCentre")]
pub struct BackupDataCentre {
    pub id: Uuid,
    pub name: String,
    pub nodes: Vec<BackupNode>,
}

/// `GET /provisioning/v1/{clusterId}/backups`: backups and restores of each node, last 7 days.
#[derive(Debug, Object)]
#[oai(example, rename = "InstaclustrClusterBackups")]
pub struct ClusterBackups {
    pub id: Uuid,
    pub name: String,
    #[oai(rename = "clusterDataCentres")]
    pub cluster_data_centres: Vec<BackupDataCentre>,
}

impl Example for ClusterBackups {
    fn example() -> Self {
        ClusterBackups {
            id: EXAMPLE_CLUSTER,
            name: "example-cluster".into(),
            cluster_data_centres: vec![BackupDataCentre {
                id: Uuid::from_u128(0xa8c32b20_5ddc_4f0b_9c2c_2b0bd0b2e0a1),
                name: "AWS_VPC_US_EAST_1".into(),
                nodes: vec![BackupNode {
                    id: Uuid::from_u128(0xcb986e08_2a28_4a3f_8b3e_6c1d0b9c3f10),
                    public_address: "50.0.0.1".into(),
                    private_address: "10.0.0.1".into(),
                    events: vec![BackupEvent {
                        kind: EventType::SnapshotUpload,
                        state: EventState::Active,
                        progress: 0.5,
                        start: 1_510_585_212_265,
                        end: None,
                    }],
                }],
            }],
        }
    }
}

/// A data centre's network settings for a restore, as sent.
#[derive(Debug, Object)]
#[oai(rename = "InstaclustrRestoreCdcInfo")]
pub struct RestoreCdcInfoFields {
    /// The data centre of the cluster being restored (its `dataCentres[].id`).
    #[oai(rename = "cdcId")]
    pub cdc_id: Uuid,
    /// Restore into the original data centre's VPC (and network); then `customVpcId` and
    /// `customVpcNetwork` are left out.
    #[oai(rename = "restoreToSameVpc", nullable)]
    pub restore_to_same_vpc: Option<bool>,
    /// The VPC to restore into, when not the same one.
    #[oai(rename = "customVpcId", nullable)]
    pub custom_vpc_id: Option<String>,
    /// The network (IPv4 CIDR) of that VPC for the data centre.
    #[oai(
        rename = "customVpcNetwork",
        nullable,
        validator(
            pattern = r"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}(/(3[0-2]|[12]?[0-9]))?$"
        )
    )]
    pub custom_vpc_network: Option<String>,
}

/// A data centre's network settings for a restore: its original VPC, or one of its own.
#[derive(Clone, Debug)]
pub struct RestoreCdcInfo {
    pub cdc_id: Uuid,
    pub place: CdcPlace,
}

/// Where a restored data centre goes.
#[derive(Clone, Debug)]
pub enum CdcPlace {
    /// The original data centre's VPC and network.
    SameVpc,
    /// A VPC of its own (`customVpcId`) and network (`customVpcNetwork`, else `clusterNetwork`).
    Custom { vpc_id: Option<String>, network: Option<String> },
}

impl Forms for RestoreCdcInfo {
    type Fields = RestoreCdcInfoFields;

    /// `restoreToSameVpc` is not true, or neither custom field is given.
    fn any_of() -> Vec<MetaSchema> {
        let only = |values: Vec<Value>, ty| MetaSchema { enum_items: values, nullable: true, ..MetaSchema::new(ty) };
        vec![
            constraining(vec![("restoreToSameVpc", only(vec![Value::Bool(false), Value::Null], "boolean"))]),
            constraining(vec![("customVpcId", only(vec![Value::Null], "string")), ("customVpcNetwork", only(vec![Value::Null], "string"))]),
        ]
    }

    fn read(f: RestoreCdcInfoFields) -> Result<Self, String> {
        let place = match (f.restore_to_same_vpc, f.custom_vpc_id, f.custom_vpc_network) {
            (Some(true), None, None) => CdcPlace::SameVpc,
            (Some(true), _, _) => {
                return Err(format!(
                    "cdcInfos entry {}: customVpcId and customVpcNetwork apply only when restoreToSameVpc is false",
                    f.cdc_id
                ));
            }
            (_, vpc_id, network) => CdcPlace::Custom { vpc_id, network },
        };
        Ok(RestoreCdcInfo { cdc_id: f.cdc_id, place })
    }

    fn fields(&self) -> RestoreCdcInfoFields {
        let (same, vpc_id, network) = match &self.place {
            CdcPlace::SameVpc => (true, None, None),
            CdcPlace::Custom { vpc_id, network } => (false, vpc_id.clone(), network.clone()),
        };
        RestoreCdcInfoFields { cdc_id: self.cdc_id, restore_to_same_vpc: Some(same), custom_vpc_id: vpc_id, custom_vpc_network: network }
    }
}

/// `POST /provisioning/v1/{clusterId}/backups/restore`. Every field may be left out: an empty
/// body restores the newest backup of every node into a cluster named after the original.
#[derive(Debug, Default, Object)]
#[oai(example, rename = "InstaclustrRestoreRequest")]
pub struct RestoreRequest {
    /// The restored cluster's name; by default the original's with `restored` and the time.
    #[oai(rename = "clusterNameOverride", nullable, validator(max_length = 200, pattern = r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$"))]
    pub cluster_name_override: Option<String>,
    /// Network settings per data centre: for every data centre of the cluster (each once), or
    /// left out. A `cdcId` that is not a data centre of the cluster is not found (404); a list
    /// that names one twice or leaves one out conflicts with the cluster (409).
    #[oai(rename = "cdcInfos", nullable)]
    pub cdc_infos: Option<Vec<Formed<RestoreCdcInfo>>>,
    /// Milliseconds since the epoch; the moment the data is restored to (now by default). A
    /// moment past the newest one that can be restored restores that newest one; the answer
    /// says which. No backup at or before it is a 412.
    #[oai(rename = "pointInTime", nullable, validator(minimum(value = "1420070400000"), maximum(value = "253402300799999")))]
    pub point_in_time: Option<i64>,
    /// `<keyspace>.<table>,...`: only these tables' data is restored (the schema is, whole). A
    /// table no backup of the cluster holds is not found (404).
    #[oai(
        rename = "keyspaceTables",
        nullable,
        validator(pattern = r"^( *[A-Za-z0-9_]+\.[A-Za-z0-9_]+ *(, *[A-Za-z0-9_]+\.[A-Za-z0-9_]+ *)*)?$")
    )]
    pub keyspace_tables: Option<String>,
    /// The restored cluster's network (IPv4, usually a CIDR such as `10.0.0.0/16`).
    #[oai(
        rename = "clusterNetwork",
        nullable,
        validator(
            pattern = r"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}(/(3[0-2]|[12]?[0-9]))?$"
        )
    )]
    pub cluster_network: Option<String>,
}

impl Example for RestoreRequest {
    fn example() -> Self {
        RestoreRequest {
            cluster_name_override: Some("my-restored-cluster".into()),
            cdc_infos: Some(vec![Formed(RestoreCdcInfo {
                cdc_id: Uuid::from_u128(0xa8c32b20_5ddc_4f0b_9c2c_2b0bd0b2e0a1),
                place: CdcPlace::Custom { vpc_id: Some("vpc-002512aa".into()), network: Some("10.1.0.0/16".into()) },
            })]),
            point_in_time: Some(1_420_070_400_000),
            keyspace_tables: Some("keyspace1.test1,keyspace1.test2".into()),
            cluster_network: Some("10.0.0.0/16".into()),
        }
    }
}

/// The answer to a restore.
#[derive(Debug, Object)]
#[oai(example, rename = "InstaclustrRestoreResponse")]
pub struct RestoreResponse {
    /// The new cluster's id.
    #[oai(rename = "restoredCluster")]
    pub restored_cluster: Uuid,
    /// The moment (ms since the epoch) the new cluster's data reaches: the `pointInTime` asked
    /// for, or the newest restorable moment when that lies beyond it, or the newest backup's time.
    /// Coffer always sends it; the seed's answer has only `restoredCluster`.
    #[oai(rename = "pointInTime", skip_serializing_if_is_none)]
    pub point_in_time: Option<i64>,
}

impl Example for RestoreResponse {
    fn example() -> Self {
        RestoreResponse { restored_cluster: EXAMPLE_CLUSTER, point_in_time: Some(1_420_070_400_000) }
    }
}

/// The v1 error body.
#[derive(Debug, Object)]
#[oai(example, rename = "InstaclustrError")]
pub struct ErrorBody {
    /// The HTTP status.
    pub status: u16,
    pub message: String,
    #[oai(rename = "errorDetails")]
    pub error_details: BTreeMap<String, Value>,
    /// The HTTP status again.
    pub code: u16,
    /// Where the API is described.
    pub link: String,
}

impl Example for ErrorBody {
    fn example() -> Self {
        ErrorBody {
            status: 400,
            message: "clusterNetwork must be an IPv4 network such as 10.0.0.0/16".into(),
            error_details: BTreeMap::new(),
            code: 400,
            link: "https://coffer.example.com/docs".into(),
        }
    }
}
