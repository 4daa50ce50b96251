//! The error answers each operation documents, in its dialect's error shape.
//!
//! Cloud Databases and Cloud Backup list their codes per operation in their seeds, and every
//! operation of those documents carries that list. The OpsCenter and Instaclustr seeds list none, so
//! their operations, identity's and the admin API's document what each can answer: 401 and 403
//! where a credential is needed, 400 where the request carries parameters or a body, 404 where the
//! path or a query parameter (`marker`, `*_id`) names an object, 413 and 415 where there is a body, 409 and 422 where the operation changes
//! state. Every operation documents 429 (the per-user request rate), 500 and 503. Codes an operation
//! answers for a reason of its own say that reason (see [`SPECIFIC`]).

use serde_json::{Value, json};

/// Which error shape and which seed's list a document follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorDialect {
    /// Rackspace faults; the seed lists 400 401 403 404 405 413 422 500 501 503 on every operation.
    CloudDatabases,
    /// Rackspace faults; the seed lists 400 401 403 404 500 503 on every operation.
    CloudBackup,
    /// OpsCenter's `{message, type, brief}`.
    OpsCenter,
    /// Instaclustr's `{status, message, errorDetails, code, link}`.
    Instaclustr,
    /// Rackspace faults under `/v2.0`, Keystone errors elsewhere.
    Identity,
    /// Keystone errors (the admin and agent APIs).
    Keystone,
}

/// What a code means when the operation has no reason of its own.
fn general(code: u16) -> &'static str {
    match code {
        400 => "The request is malformed, or a parameter or field is missing or invalid; the answer names it.",
        401 => "No valid credential: none was sent, or it is wrong or expired.",
        403 => "The caller is known, but its role or key may not do this.",
        404 => "No such object for this caller (another tenant's objects are not found either).",
        405 => "The path exists, but not with this method; `Allow` lists the methods it takes.",
        409 => "The object already exists, or its state does not allow this now.",
        412 => "A precondition of the request does not hold.",
        413 => "The body is larger than the server accepts.",
        415 => "The body is not in a media type this operation reads (JSON).",
        422 => "Well formed, but refused now: work on the object is in progress, or it is not ready.",
        429 => {
            "Over the per-user request rate (35 per second by default); `Retry-After` says when to retry. Beyond the seed: Coffer's own limit."
        }
        500 => "A fault in the server. The answer says no more; the details stay in the server's log.",
        501 => "The operation or option is one this server does not implement.",
        503 => "A dependency (the catalog database or a store) cannot be reached now; retry later.",
        _ => "An error.",
    }
}

/// Codes some operations answer for a reason of their own: (operation id, code, reason).
const SPECIFIC: &[(&str, u16, &str)] = &[
    ("opscenter_login", 401, "The username or password is wrong."),
    (
        "instaclustr_restore",
        404,
        "The cluster, a data centre `cdcInfos` names, or a `keyspaceTables` table no backup of the cluster holds.",
    ),
    (
        "instaclustr_restore",
        409,
        "`cdcInfos` names a data centre twice or leaves one out (it names every data centre or none), a cluster of that name exists, or a new node's directory is not empty.",
    ),
    (
        "instaclustr_restore",
        412,
        "No backup of the cluster at or before `pointInTime` holds every table asked for (a later one may), or the archived commitlogs do not reach the moment.",
    ),
    ("instaclustr_trigger_backup", 409, "The cluster is being restored, or a backup or a restore of it is running."),
    ("instaclustr_trigger_backup", 503, "No node's agent can take the backup now."),
    ("instaclustr_delete_cluster", 409, "Work on the cluster (a backup or a restore) is running."),
    ("cloudbackup_delete_agent", 409, "The agent is the server's own, or it is running a task."),
    ("cloudbackup_agent_settings", 404, "The agent, or a `BackupDataCenter` not served here, is not found."),
    ("cloudbackup_create_configuration", 409, "An included path lies outside every machine the agent backs up."),
    ("cloudbackup_update_configuration", 409, "An included path lies outside every machine the agent backs up."),
    (
        "cloudbackup_backup_action",
        409,
        "StartManual: a backup of the machine (or a restore into it) is running, or its agent is disabled; StopManual: the backup has ended.",
    ),
    ("cloudbackup_create_restore", 403, "The server's own agent writes only under the directories users may use there (`local_roots`)."),
    ("cloudbackup_create_restore", 404, "The backup, the destination agent, or a `BackupDataCenter` not served here, is not found."),
    ("cloudbackup_create_restore", 409, "`BackupMachineId` or `BackupDataCenter` is not the backup's, or the backup is not complete."),
    (
        "cloudbackup_update_restore",
        409,
        "The restore has started, or the body names another backup, machine or data centre than the restore's.",
    ),
    ("cloudbackup_restore_action", 409, "StartManual: the restore has started already; StopManual: it has not started, or it has ended."),
    ("cloudbackup_add_restore_file", 409, "The restore has started."),
    ("cloudbackup_clear_restore_files", 409, "The restore has started."),
    ("clouddb_create_backup", 422, "The instance is not ACTIVE, or a backup of it is already running."),
    ("clouddb_delete_instance", 422, "A backup of the instance is running; the seed's rule is that it cannot be deleted then."),
    ("clouddb_delete_backup", 422, "The backup is still running."),
    ("clouddb_backup_action", 400, "The copy's region is the backup's own, or an incremental backup's parent is not in that region."),
    ("clouddb_backup_action", 404, "The backup, or the region to copy to, is not found (a region not served here)."),
    ("clouddb_create_backup", 404, "The instance, the parent backup or a `copy_to` region is not found (a region not served here)."),
];

/// The codes a seed lists on each of its operations, for the dialects whose seeds list them.
fn seed_list(dialect: ErrorDialect) -> &'static [u16] {
    match dialect {
        ErrorDialect::CloudDatabases => &[400, 401, 403, 404, 405, 413, 422, 500, 501, 503],
        ErrorDialect::CloudBackup => &[400, 401, 403, 404, 500, 503],
        _ => &[],
    }
}

/// The codes, beyond the 2xx it declares, an operation of `dialect` documents.
fn codes(dialect: ErrorDialect, method: &str, operation: &Value) -> Vec<u16> {
    let seed = seed_list(dialect);
    if !seed.is_empty() {
        let mut codes = seed.to_vec();
        codes.push(429);
        if operation.get("requestBody").is_some() {
            codes.extend([413, 415]);
        }
        if method != "get" {
            codes.extend([409, 422]);
        }
        return codes;
    }
    let parameters = operation.get("parameters").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let body = operation.get("requestBody").is_some();
    let secured = operation.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
    let mut codes = vec![429, 500, 503];
    if body || !parameters.is_empty() {
        codes.push(400);
    }
    if secured || dialect == ErrorDialect::Identity && body {
        codes.push(401);
    }
    if secured {
        codes.push(403);
    }
    let names_an_object = |p: &Value| {
        let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
        p.get("in").and_then(Value::as_str) == Some("path") || name == "marker" || name == "id" || name.ends_with("_id")
    };
    // A body or the caller's account may name an object that is not there, too.
    if secured || parameters.iter().any(names_an_object) {
        codes.push(404);
    }
    if body {
        codes.extend([413, 415]);
    }
    if method != "get" && secured {
        codes.extend([409, 422]);
    }
    codes
}

/// The name and schema of `dialect`'s error bodies (for identity: of the one `path` answers).
fn error_schema(dialect: ErrorDialect, path: &str) -> (&'static str, Value) {
    let fault = || {
        json!({
            "type": "object",
            "description": "A Rackspace fault: one key, the fault's name (badRequest, itemNotFound, overLimit, ...).",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": { "type": "integer", "description": "The HTTP status code." },
                    "message": { "type": "string", "description": "What went wrong." },
                    "details": { "type": "string" },
                    "retryAfter": { "type": "string", "description": "With overLimit: whole seconds to wait." },
                },
            },
        })
    };
    let keystone = || {
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "title", "message"],
                    "properties": {
                        "code": { "type": "integer" },
                        "title": { "type": "string" },
                        "message": { "type": "string" },
                    },
                },
            },
        })
    };
    match dialect {
        ErrorDialect::CloudDatabases | ErrorDialect::CloudBackup => ("RackspaceFault", fault()),
        ErrorDialect::Identity if path.starts_with("/v2.0") => ("RackspaceFault", fault()),
        ErrorDialect::Identity | ErrorDialect::Keystone => ("KeystoneError", keystone()),
        ErrorDialect::OpsCenter => (
            "OpsCenterError",
            json!({
                "type": "object",
                "required": ["message", "type"],
                "properties": {
                    "message": { "type": "string", "description": "What went wrong." },
                    "type": { "type": "string", "description": "The error's class, e.g. InvalidArguments, NoSuchCluster, Unauthorized." },
                    "brief": { "type": "string", "enum": ["error"], "description": "Absent on 401." },
                },
            }),
        ),
        ErrorDialect::Instaclustr => (
            "InstaclustrError",
            json!({
                "type": "object",
                "required": ["status", "message"],
                "properties": {
                    "status": { "type": "integer" },
                    "message": { "type": "string" },
                    "errorDetails": { "type": "object" },
                    "code": { "type": "integer" },
                    "link": { "type": "string" },
                },
            }),
        ),
    }
}

/// Adds its error answers to each operation of a document (an answer the code already declares
/// is kept).
pub fn document_errors(doc: &mut Value, dialect: ErrorDialect) {
    let mut schemas = serde_json::Map::new();
    let Some(Value::Object(paths)) = doc.get_mut("paths") else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, operation) in item.iter_mut() {
            let mut codes = codes(dialect, method, operation);
            let id = operation.get("operationId").and_then(Value::as_str).unwrap_or_default().to_owned();
            codes.extend(SPECIFIC.iter().filter(|(op, _, _)| *op == id).map(|(_, code, _)| *code));
            codes.sort_unstable();
            codes.dedup();
            let Some(Value::Object(responses)) = operation.get_mut("responses") else { continue };
            for code in codes {
                let reason = SPECIFIC.iter().find(|(op, c, _)| *op == id && *c == code).map(|(_, _, why)| *why).unwrap_or(general(code));
                let seed = seed_list(dialect);
                let beyond = if !seed.is_empty() && !seed.contains(&code) && code != 429 {
                    " Not in the seed's list: Coffer's own answer."
                } else {
                    ""
                };
                let (name, schema) = error_schema(dialect, path);
                schemas.insert(name.to_owned(), schema);
                responses.entry(code.to_string()).or_insert_with(|| {
                    json!({
                        "description": format!("{reason}{beyond}"),
                        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } },
                    })
                });
            }
        }
    }
    let components = doc.as_object_mut().map(|d| d.entry("components").or_insert_with(|| json!({})));
    if let Some(Value::Object(components)) = components
        && let Value::Object(existing) = components.entry("schemas").or_insert_with(|| json!({}))
    {
        existing.extend(schemas);
    }
}
