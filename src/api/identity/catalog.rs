//! The service catalog: where each Coffer API lives, per region, for a tenant. Stock Rackspace and
//! OpenStack clients pick their endpoint from it by service type or name and region. Cloud
//! Databases has an endpoint per region (see [`Region::endpoint`]); Cloud Backup has one for all.

use serde_json::{Value, json};

use crate::api::common::region::Region;

/// One catalog entry: a service name and type, and whether each region has its own endpoint.
const SERVICES: &[(&str, &str, bool)] =
    &[("cloudDatabases", "rax:database", true), ("cloudDatabases", "database", true), ("cloudBackup", "rax:backup", false)];

/// The endpoint of a service in one region.
fn url(base_url: &str, tenant: &str, regions: &[String], region: &str, regional: bool) -> String {
    match Region::of(regions, region).filter(|_| regional) {
        Some(r) => r.endpoint(base_url, tenant),
        None => format!("{base_url}/v1.0/{tenant}"),
    }
}

/// The v2 `serviceCatalog` (publicURL/internalURL per region).
pub fn v2(base_url: &str, tenant: &str, regions: &[String]) -> Value {
    SERVICES
        .iter()
        .map(|(name, ty, regional)| {
            let endpoints: Vec<Value> = regions
                .iter()
                .map(|r| {
                    let url = url(base_url, tenant, regions, r, *regional);
                    json!({ "region": r.to_uppercase(), "tenantId": tenant, "publicURL": url, "internalURL": url })
                })
                .collect();
            json!({ "name": name, "type": ty, "endpoints": endpoints })
        })
        .collect()
}

/// The v3 `catalog` (public and internal interfaces per region).
pub fn v3(base_url: &str, tenant: &str, regions: &[String]) -> Value {
    SERVICES
        .iter()
        .map(|(name, ty, regional)| {
            let endpoints: Vec<Value> = regions
                .iter()
                .flat_map(|r| {
                    let region = r.to_uppercase();
                    let url = url(base_url, tenant, regions, r, *regional);
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
