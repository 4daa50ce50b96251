//! Request parsing of every dialect, on one input that is at once a body and a path:
//! - OpsCenter: `normalize_body` (the middleware every OpsCenter request goes through: a body that is
//!   JSON whatever its label, a form (`form_to_json`), or a 400), then `object`, and per field the
//!   lenient `flag`, `number` and `strings`, and the pit body's `pit` (`moment`) and `sleep`;
//! - Cloud Backup: `tenantless` (the `/v1.0/{tenant}/...` rewrite, with and without a caller),
//!   `int_id` for path ids, `int` and `boolean` for body fields;
//! - Instaclustr: `tables` (`keyspaceTables`), `valid_name` (`clusterNameOverride`);
//! - Cloud Databases: `backup_id`, `instance_id` (path ids) and `page` (`limit` / `marker`);
//! - every dialect: `Dialect::from_path` and `route_label`.
//! Nothing may panic, and the results keep the promises their callers rely on.

#![no_main]

use coffer::{
    api::{
        common::dialect::{Dialect, route_label},
        opscenter::normalize_body,
    },
    domain::identity::{CredentialKind, Principal, Role},
    fuzzing as f,
};
use libfuzzer_sys::fuzz_target;
use poem::{Request, Response, http::Method};
use serde_json::{Map, Value};

const CONTENT_TYPES: [Option<&str>; 4] = [None, Some("application/x-www-form-urlencoded"), Some("text/plain"), Some("application/json")];

/// OpsCenter's middleware: what reaches a handler must be JSON when it is labelled JSON.
fn opscenter_normalize(data: &[u8], text: &str) {
    let content_type = CONTENT_TYPES[data.len() % CONTENT_TYPES.len()];
    let handler = poem::endpoint::make(|mut req: Request| async move {
        let ct = req.content_type().map(str::to_owned);
        let body = req.take_body().into_vec().await.unwrap_or_default();
        let mut resp = Response::builder().body(body);
        if let Some(ct) = ct {
            resp.headers_mut().insert("content-type", ct.parse().expect("a content type seen before"));
        }
        resp
    });
    let path = if text.starts_with('/') && text.len() < 200 { text } else { "/Test_Cluster/backups/run/" };
    for method in [Method::POST, Method::DELETE] {
        let mut req = Request::builder().method(method).uri(path.parse().unwrap_or_else(|_| "/c/backups".parse().unwrap()));
        if let Some(ct) = content_type {
            req = req.content_type(ct);
        }
        let Ok(resp) = futures_executor::block_on(normalize_body(handler_ref(&handler), req.body(data.to_vec()))) else { continue };
        let forwarded_json = resp.content_type().is_some_and(|c| c.starts_with("application/json"));
        let body = futures_executor::block_on(resp.into_body().into_vec()).expect("an in-memory body");
        if forwarded_json && content_type != Some("application/json") {
            // JSON syntax, checked without `Value`: with serde_json's `raw_value` feature (turned on
            // by a dependency) an object whose first key is `$serde_json::private::RawValue` is not
            // a `Value` even though it is JSON (fuzz/regressions/dialect_requests/README.md).
            assert!(
                body.is_empty() || serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok(),
                "normalize_body labelled a body JSON that is not: {:?}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

fn handler_ref<E: poem::Endpoint>(e: &E) -> &E {
    e
}

fn opscenter_fields(map: &Map<String, Value>) {
    for (name, v) in map {
        let _ = f::opscenter_flag(Some(v));
        if let Ok(Some(n)) = f::opscenter_number(Some(v), name)
            && let Value::String(s) = v
        {
            assert_eq!(n.to_bits(), s.trim().parse::<f64>().expect("parsed before").to_bits());
        }
        if let (Ok(list), Value::String(_)) = (f::opscenter_strings(Some(v), name), v) {
            assert!(list.iter().all(|s| !s.is_empty() && !s.contains(',') && s.trim() == s));
        }
    }
    if let Ok(at) = f::opscenter_pit_moment(map) {
        assert!(at.timestamp() >= 0, "pit before the epoch accepted: {at}");
    }
    if let Ok(secs) = f::opscenter_pit_sleep_secs(map) {
        assert!(secs <= 3600);
    }
}

fn cloud_backup(map: &Map<String, Value>, text: &str) {
    for (name, v) in map {
        let _ = (f::rackspace_backup_int(Some(v), name), f::rackspace_backup_boolean(Some(v)));
    }
    let _ = f::rackspace_backup_int_id(text);
    let caller = Principal {
        user_id: uuid::Uuid::from_u128(1),
        user_name: "demo".into(),
        tenant_id: uuid::Uuid::from_u128(2),
        tenant_name: "123456".into(),
        role: Role::Operator,
        credential: CredentialKind::Token,
        read_only: false,
        token: None,
        agent: None,
    };
    for caller in [None, Some(caller)] {
        if let Some(Ok(uri)) = f::rackspace_backup_tenantless(text, caller) {
            let path = uri.split('?').next().unwrap_or_default();
            assert!(path.starts_with('/'), "rewritten path {uri:?} is not absolute");
            assert!(path == "/" || !path.ends_with('/'), "rewritten path {uri:?} keeps a trailing /");
        }
    }
}

fn instaclustr(body: &Value, map: &Map<String, Value>, text: &str) {
    let dcs = [uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2)];
    let now = chrono::DateTime::from_timestamp(1_764_633_600, 0).expect("a fixed moment");
    if let Ok((name, at, given, _)) = f::instaclustr_restore_request(body, &dcs, now) {
        assert!(f::instaclustr_valid_name(&name) || name.starts_with("Fuzzed-restored-"), "{name:?}");
        assert!(name.len() <= 200, "{name:?}");
        if given {
            assert!(at.timestamp_millis() >= 1_420_070_400_000, "pointInTime before 2015 accepted: {at}");
            assert_eq!(Some(at.timestamp_millis()), map.get("pointInTime").and_then(Value::as_i64));
        } else {
            assert_eq!(at, now);
        }
        if let Some(Value::Array(infos)) = map.get("cdcInfos").filter(|v| v.as_array().is_some_and(|a| !a.is_empty())) {
            assert_eq!(infos.len(), dcs.len(), "cdcInfos accepted without naming each data centre once");
        }
    }
    let lists = [Some(text), map.get("keyspaceTables").and_then(Value::as_str)];
    for list in lists.into_iter().flatten() {
        if let Ok(selection) = f::instaclustr_tables(list) {
            for t in &selection.tables {
                let (ks, table) = t.split_once('.').expect("a table is keyspace.table");
                assert!(!ks.is_empty() && !table.is_empty() && !table.contains('.'), "{t:?}");
            }
        }
    }
    if let Some(name) = map.get("clusterNameOverride").and_then(Value::as_str) {
        let _ = f::instaclustr_valid_name(name);
    }
    let _ = f::instaclustr_valid_name(text);
}

fn cloud_databases(body: &Value, map: &Map<String, Value>, text: &str) {
    let _ = (f::rackspace_db_backup_id(text), f::rackspace_db_instance_id(text));
    let items = match body {
        Value::Array(items) => items.clone(),
        _ => map.get("backups").and_then(Value::as_array).cloned().unwrap_or_default(),
    };
    let limit = map.get("limit").and_then(Value::as_u64).map(|l| l as usize);
    let marker = map.get("marker").and_then(Value::as_str);
    let (page, next) = f::rackspace_db_page(items, limit, marker);
    if let Some(limit) = limit {
        assert!(page.len() <= limit);
    }
    assert!(next.is_none() || limit.is_some());
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    opscenter_normalize(data, &text);
    // The body as the handlers see it: JSON when it parses, a form otherwise.
    let body = match serde_json::from_slice::<Value>(data) {
        Ok(v) => v,
        Err(_) => {
            let form = f::opscenter_form_to_json(data);
            assert!(form.is_object(), "a form is an object");
            form
        }
    };
    let map = f::opscenter_object(body.clone()).unwrap_or_default();
    opscenter_fields(&map);
    cloud_backup(&map, &text);
    instaclustr(&body, &map, &text);
    cloud_databases(&body, &map, &text);
    let dialect = Dialect::from_path(&text);
    let _ = (dialect.name(), route_label(dialect, &text));
});
