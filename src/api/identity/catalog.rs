//! The service catalog: where each Coffer API lives, per region, for a tenant. Stock Rackspace and
//! OpenStack clients pick their endpoint from it by service type or name and region.

use serde_json::{Value, json};

/// One catalog entry: a service name and type served at `/v1.0/{tenant}`.
const SERVICES: &[(&str, &str)] = &[("cloudDatabases", "rax:database"), ("cloudDatabases", "database"), ("cloudBackup", "rax:backup")];

/// The v2 `serviceCatalog` (publicURL/internalURL per region).
pub fn v2(base_url: &str, tenant: &str, regions: &[String]) -> Value {
    let url = format!("{base_url}/v1.0/{tenant}");
    SERVICES
        .iter()
        .map(|(name, ty)| {
            let endpoints: Vec<Value> = regions
                .iter()
                .map(|r| json!({ "region": r.to_uppercase(), "tenantId": tenant, "publicURL": url, "internalURL": url }))
                .collect();
            json!({ "name": name, "type": ty, "endpoints": endpoints })
        })
        .collect()
}

/// The v3 `catalog` (public and internal interfaces per region).
pub fn v3(base_url: &str, tenant: &str, regions: &[String]) -> Value {
    let url = format!("{base_url}/v1.0/{tenant}");
    SERVICES
        .iter()
        .map(|(name, ty)| {
            let endpoints: Vec<Value> = regions
                .iter()
                .flat_map(|r| {
                    let region = r.to_uppercase();
                    ["public", "internal"].map(|interface| {
                        json!({
                            "id": format!("{ty}-{region}-{interface}"),
                            "interface": interface,
                            "region": region,
                            "region_id": region,
                            "url": url,
                        })
                    })
                })
                .collect();
            json!({ "id": format!("{name}-{ty}"), "name": name, "type": ty, "endpoints": endpoints })
        })
        .collect()
}
