//! Thin entry points for the fuzz targets in `fuzz/` (not an API): each calls one real parsing or
//! decoding function of the store or of a dialect that is otherwise private to its module.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    api::{instaclustr, opscenter, rackspace_backup, rackspace_db},
    domain::{backup::Selection, identity::Principal},
    error::CoreError,
    store::{StoreError, pack},
};

pub use crate::store::pack::{PackEntry, PackHeader, TRAILER_LEN};

/// A pack header (or `index/<pack>` object) from its opened bytes.
pub fn pack_parse_header(plain: &[u8]) -> Result<PackHeader, StoreError> {
    pack::parse_header(plain)
}

/// The sealed header length a pack's trailer announces.
pub fn pack_sealed_header_len(trailer: &[u8]) -> Result<u64, StoreError> {
    pack::sealed_header_len(trailer)
}

/// OpsCenter: a form body as a JSON object.
pub fn opscenter_form_to_json(bytes: &[u8]) -> Value {
    opscenter::form_to_json(bytes)
}

/// OpsCenter: a lenient boolean.
pub fn opscenter_flag(v: Option<&Value>) -> bool {
    opscenter::flag(v)
}

/// OpsCenter: a lenient number.
pub fn opscenter_number(v: Option<&Value>, name: &str) -> Result<Option<f64>, CoreError> {
    opscenter::number(v, name)
}

/// OpsCenter: a list of strings.
pub fn opscenter_strings(v: Option<&Value>, name: &str) -> Result<Vec<String>, CoreError> {
    opscenter::strings(v, name)
}

/// OpsCenter: the body as an object.
pub fn opscenter_object(body: Value) -> Result<Map<String, Value>, CoreError> {
    opscenter::object(body)
}

/// OpsCenter: `pit` (seconds since the epoch) of a `pit_check` / `pit/run` body.
pub fn opscenter_pit_moment(body: &Map<String, Value>) -> Result<DateTime<Utc>, CoreError> {
    opscenter::pit::moment(opscenter::number(body.get("pit"), "pit")?.map(|n| opscenter::models::Numeric(Some(n))))
}

/// OpsCenter: `sleep` of a commitlog archiving body.
pub fn opscenter_pit_sleep_secs(body: &Map<String, Value>) -> Result<u64, CoreError> {
    opscenter::pit::sleep_secs(opscenter::number(body.get("sleep"), "sleep")?.map(|n| opscenter::models::Numeric(Some(n))))
}

/// Cloud Backup: `/v1.0/{tenant}/x/...` rewritten to `/v1.0/x/...` for `caller`; `None` when `uri`
/// is not a URI at all (the HTTP server would have refused it), else the rewritten URI or the status.
pub fn rackspace_backup_tenantless(uri: &str, caller: Option<Principal>) -> Option<Result<String, u16>> {
    let mut req = poem::Request::builder().uri(uri.parse().ok()?).finish();
    if let Some(p) = caller {
        req.extensions_mut().insert(p);
    }
    Some(rackspace_backup::tenantless(req).map(|r| r.uri().to_string()).map_err(|e| e.status().as_u16()))
}

/// Cloud Backup: an integer id from a path.
pub fn rackspace_backup_int_id(text: &str) -> Result<i64, CoreError> {
    rackspace_backup::int_id(text, "agent")
}

/// Cloud Backup: an optional whole number of a body (a number or a numeric string).
pub fn rackspace_backup_int(v: Option<&Value>, name: &str) -> Result<Option<i64>, CoreError> {
    use poem_openapi::types::ParseFromJSON;
    Option::<rackspace_backup::models::NumericId>::parse_from_json(v.cloned())
        .map(|id| id.map(|id| id.0))
        .map_err(|e| CoreError::BadRequest(format!("{name}: {}", e.into_message())))
}

/// Cloud Backup: a yes or no of a body (false when it is not one).
pub fn rackspace_backup_boolean(v: Option<&Value>) -> bool {
    use poem_openapi::types::ParseFromJSON;
    Option::<crate::api::common::lenient::Flag>::parse_from_json(v.cloned()).ok().flatten().is_some_and(|f| f.0)
}

/// Instaclustr: `keyspaceTables` (`ks.t1,ks.t2`) of a restore body.
pub fn instaclustr_tables(list: &str) -> Result<Selection, CoreError> {
    instaclustr::tables(list)
}

/// Instaclustr: whether `clusterNameOverride` is an acceptable name.
pub fn instaclustr_valid_name(name: &str) -> bool {
    instaclustr::valid_name(name)
}

/// Instaclustr: a whole restore body (`clusterNameOverride`, `cdcInfos` against the cluster's data
/// centres `dcs`, `pointInTime`, `keyspaceTables`, `clusterNetwork`), read at `now`; answers the new
/// cluster's name, the moment, whether `pointInTime` was given, and the selection.
pub fn instaclustr_restore_request(
    body: &Value,
    dcs: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>, bool, Selection), CoreError> {
    let r = instaclustr::restore_request(body, "Fuzzed", dcs, now)?;
    Ok((r.name, r.at, r.point_in_time_given, r.selection))
}

/// Cloud Databases: a backup id from a path.
pub fn rackspace_db_backup_id(id: &str) -> Result<Uuid, CoreError> {
    rackspace_db::backup_id(id)
}

/// Cloud Databases: an instance id from a path.
pub fn rackspace_db_instance_id(id: &str) -> Result<Uuid, CoreError> {
    rackspace_db::instance_id(id)
}

/// Cloud Databases: a page of a listing after `marker`, at most `limit`.
pub fn rackspace_db_page(items: Vec<Value>, limit: Option<usize>, marker: Option<&str>) -> (Vec<Value>, Option<String>) {
    rackspace_db::page(items, |v: &Value| v["id"].as_str().unwrap_or_default(), limit, marker)
}
