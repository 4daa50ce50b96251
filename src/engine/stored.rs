//! What the engine keeps as JSON in its rows, as types: each operation kind's parameters
//! (written when it starts, read back when it ends), what backups and restores answer, and the
//! configuration of sources and destinations. Every type serialises with the keys rows already
//! hold, so stored rows still read; JSON that does not decode is an error naming its row, never
//! a default standing in for it.

use std::fmt::Display;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use uuid::Uuid;

use super::RestoreTarget;
use crate::{
    domain::{
        archive::Archiving,
        backup::{BackupNode, Selection},
        destination::DestinationConfig,
        operation::Operation,
        source::{InstanceConfig, Source},
    },
    error::{CoreError, CoreResult},
    persistence::catalog::DestinationRow,
};

/// Decodes `field` of `row` (named in the error, as `operation <id>`).
fn decode<T: DeserializeOwned>(row: impl Display, field: &str, value: &Value) -> CoreResult<T> {
    T::deserialize(value).map_err(|e| CoreError::internal(anyhow::anyhow!("{row}: its stored {field} does not decode: {e}")))
}

/// The parameters one kind of operation records in `Operation.params`.
pub trait Params: Serialize + DeserializeOwned {
    /// The parameters of `op`, which must be of this kind.
    fn of(op: &Operation) -> CoreResult<Self> {
        decode(format_args!("{} operation {}", op.kind, op.id), "params", &op.params)
    }

    /// As the operation row keeps them.
    fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("operation parameters serialise")
    }
}

/// Operations that need nothing beyond their backup, source and options (verify, inventory, an
/// archive round): stored as `null`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NoParams;

impl Params for NoParams {}

/// A started backup.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupParams {
    /// Based on a parent backup.
    pub incremental: bool,
    /// Destinations the backup is copied to once it completes.
    #[serde(default)]
    pub copy_to: Vec<Uuid>,
    /// Regions the backup is copied to once it completes (each copy a backup of its own there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copy_to_regions: Vec<String>,
    /// How many nodes it reads.
    #[serde(default)]
    pub nodes: usize,
}

impl Params for BackupParams {}

/// A plan's run that did not happen (missed or skipped), recorded as a backup operation that
/// ended at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MissedRunParams {
    pub plan_id: Uuid,
    pub due_at: DateTime<Utc>,
}

impl Params for MissedRunParams {}

/// A restore: its target (with the target's keys at the top level, `type` naming it), and what
/// it restores from where when not the whole backup from its own destination.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RestoreParams {
    #[serde(flatten)]
    pub target: RestoreTarget,
    /// Only these keyspaces, tables or paths (absent: everything the backup holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    /// Read from this destination (absent: the backup's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_id: Option<Uuid>,
}

impl Params for RestoreParams {}

/// A copy: of a backup into another destination, or into another region as a backup of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CopyParams {
    ToRegion(RegionCopyParams),
    ToDestination(DestinationCopyParams),
}

impl Params for CopyParams {}

/// A copy of a backup into another destination; the backup then lists it among its copies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DestinationCopyParams {
    pub to: Uuid,
}

/// A copy of a backup into another region: what the copy (the operation's backup) will hold is
/// taken when it starts, so the original may go while it is copied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionCopyParams {
    pub region: String,
    /// The original.
    pub copy_of: Uuid,
    /// Where the original is read.
    pub destination_id: Uuid,
    pub copied_nodes: Vec<BackupNode>,
    pub size_bytes: i64,
    pub file_count: i64,
}

/// A delete: of backups everywhere they are kept, or of one backup's data at one destination.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteParams {
    /// The backups deleted, the one asked for first, then the incrementals built on it; empty
    /// when only the data at `copy_at` goes.
    pub backups: Vec<Uuid>,
    /// The destination whose data of the operation's backup goes (the rest stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_at: Option<Uuid>,
    /// The copy that becomes the backup's place when `copy_at` was its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_at: Option<Uuid>,
    /// The destination removed once the delete ends, when nothing else is kept there.
    #[serde(default)]
    pub remove_destination: Option<Uuid>,
}

impl Params for DeleteParams {}

/// Commitlog archiving turned on or off, node after node `sleep_secs` apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigureParams {
    pub archiving: bool,
    pub sleep_secs: u64,
}

impl Params for ConfigureParams {}

/// What a backup, restore, inventory, archive round or configuration answers
/// (`Operation.result`): a restore that creates a source names it from its start; once the
/// operation ends, the files and bytes its tasks moved are added. (Copies, deletes and
/// verifications answer their task's own report instead.)
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationTotals {
    /// The new cluster or instance a restore writes into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<Uuid>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
}

impl OperationTotals {
    /// What `op` answers so far (nothing before it ends, unless it created a source).
    pub fn of(op: &Operation) -> CoreResult<Self> {
        let answer: Option<Self> = decode(format_args!("{} operation {}", op.kind, op.id), "result", &op.result)?;
        Ok(answer.unwrap_or_default())
    }

    /// A restore's answer from its start: the source it creates.
    pub(super) fn created(source: &Source) -> Self {
        OperationTotals { source_id: Some(source.id), name: Some(source.name.clone()), ..Default::default() }
    }

    pub(super) fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("operation totals serialise")
    }
}

/// An instance's (or HA group's) description.
pub(super) fn instance_config(source: &Source) -> CoreResult<InstanceConfig> {
    decode(format_args!("source {}", source.id), "config", &source.config)
}

/// A source's configuration as the object every source keeps.
pub(super) fn config_object(source: &Source) -> CoreResult<serde_json::Map<String, Value>> {
    decode(format_args!("source {}", source.id), "config", &source.config)
}

/// A cluster's commitlog archiving settings (off when it never had any).
pub(super) fn archiving(source: &Source) -> CoreResult<Archiving> {
    match source.config.get("archiving") {
        None | Some(Value::Null) => Ok(Archiving::default()),
        Some(settings) => decode(format_args!("source {}", source.id), "archiving settings", settings),
    }
}

/// The operation that restored a cluster into being, when it was restored.
pub(super) fn restore_operation(source: &Source) -> CoreResult<Option<Uuid>> {
    match source.config.get("restore_operation") {
        None | Some(Value::Null) => Ok(None),
        Some(id) => decode(format_args!("source {}", source.id), "restore operation", id),
    }
}

/// A destination's settings.
pub(super) fn destination_config(row: &DestinationRow) -> CoreResult<DestinationConfig> {
    decode(format_args!("destination {}", row.id), "config", &row.config)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn round_trip<T: Params + std::fmt::Debug>(stored: Value) -> T {
        let params: T = serde_json::from_value(stored.clone()).expect("stored params decode");
        assert_eq!(params.to_json(), stored, "written back as stored: {params:?}");
        params
    }

    #[test]
    fn parameters_read_and_write_the_keys_stored_rows_hold() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        round_trip::<BackupParams>(json!({ "incremental": true, "copy_to": [a], "nodes": 3 }));
        round_trip::<BackupParams>(json!({ "incremental": false, "copy_to": [], "copy_to_regions": ["IAD"], "nodes": 1 }));
        round_trip::<DeleteParams>(json!({ "backups": [a, b], "remove_destination": null }));
        round_trip::<DeleteParams>(json!({ "backups": [], "copy_at": a, "kept_at": b, "remove_destination": a }));
        assert!(matches!(round_trip::<CopyParams>(json!({ "to": a })), CopyParams::ToDestination(DestinationCopyParams { to }) if to == a));
        let region = json!({ "region": "IAD", "copy_of": a, "destination_id": b, "copied_nodes": [], "size_bytes": 5, "file_count": 1 });
        assert!(matches!(round_trip::<CopyParams>(region), CopyParams::ToRegion(RegionCopyParams { copy_of, .. }) if copy_of == a));
        round_trip::<ConfigureParams>(json!({ "archiving": true, "sleep_secs": 0 }));
        round_trip::<NoParams>(Value::Null);
    }

    #[test]
    fn a_restore_keeps_its_target_at_the_top_level_as_before() {
        let target =
            RestoreTarget::SameNodes { truncate: true, truncate_only: None, keyspace_renames: Default::default(), check_schema: false };
        let mut before = serde_json::to_value(&target).unwrap();
        let selection = Selection { keyspaces: vec!["ks".into()], ..Default::default() };
        before["selection"] = json!(selection);
        let params = RestoreParams { target, selection: Some(selection), destination_id: None };
        assert_eq!(params.to_json(), before);
        let read: RestoreParams = serde_json::from_value(before).unwrap();
        assert!(matches!(read.target, RestoreTarget::SameNodes { truncate: true, .. }));
        assert_eq!(read.selection.unwrap().keyspaces, ["ks"]);

        let to_path = json!({ "type": "path", "path": "/tmp/x", "agent": null, "overwrite": false, "destination_id": Uuid::nil() });
        let read: RestoreParams = serde_json::from_value(to_path.clone()).unwrap();
        assert_eq!(read.destination_id, Some(Uuid::nil()));
        assert_eq!(read.to_json(), to_path);
    }

    #[test]
    fn parameters_that_do_not_decode_are_an_error_naming_the_operation() {
        let op = Operation {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            kind: crate::domain::operation::OperationKind::Delete,
            state: crate::domain::state::State::Running,
            source_id: None,
            backup_id: None,
            progress: 0.0,
            options: Default::default(),
            params: json!({ "backups": "all of them" }),
            result: Value::Null,
            error: None,
            created_by: "test".into(),
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
        };
        let err = DeleteParams::of(&op).unwrap_err().to_string();
        assert!(err.contains(&format!("delete operation {}", Uuid::nil())) && err.contains("params"), "{err}");
        assert_eq!(OperationTotals::of(&op).unwrap(), OperationTotals::default(), "no answer yet is no error");
    }
}
