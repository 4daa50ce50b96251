//! Regions in Rackspace paths. The identity catalog gives each region of Cloud Databases an
//! endpoint of its own: the home region (the first of `regions`) `{base}/v1.0/{tenant}`, every
//! other `{base}/v1.0/{tenant}/regions/{REGION}`. Clients append their resource paths to the
//! endpoint they chose; the edge takes the marker out again (handlers see `/v1.0/{tenant}/backups`)
//! and leaves the region in the request as a [`Region`]. The marker follows the version and the
//! account because troveclient's shell reads the API version from the first path segment.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response};

use super::dialect::{CLOUD_BACKUP_WORDS, CLOUD_DATABASES_WORDS};
use crate::error::CoreError;

/// The path segment that introduces a region.
const MARKER: &str = "regions";

/// The region a Rackspace request talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// As the catalog writes it (`IAD`).
    pub name: String,
    /// The home region, served at the unmarked endpoint.
    pub home: bool,
}

impl Region {
    /// The endpoint of this region for `tenant`, as the catalog lists it.
    pub fn endpoint(&self, base_url: &str, tenant: &str) -> String {
        match self.home {
            true => format!("{base_url}/v1.0/{tenant}"),
            false => format!("{base_url}/v1.0/{tenant}/{MARKER}/{}", self.name),
        }
    }

    /// `region` of the served `regions` (the first is home); `None` when it is not served.
    pub fn of(regions: &[String], region: &str) -> Option<Region> {
        let pos = regions.iter().position(|r| r.eq_ignore_ascii_case(region.trim()))?;
        Some(Region { name: regions[pos].to_ascii_uppercase(), home: pos == 0 })
    }

    /// The home region of the served `regions`.
    pub fn home(regions: &[String]) -> Region {
        Region { name: regions.first().map(|r| r.to_ascii_uppercase()).unwrap_or_default(), home: true }
    }
}

/// Wraps the `/v1.0` routes: `/v1.0/{tenant}/regions/{REGION}/rest` is served as
/// `/v1.0/{tenant}/rest` in that region, anything else in the home region. A region not served
/// here is not found.
pub async fn regional<E: Endpoint>(next: Arc<E>, mut req: Request, regions: Arc<Vec<String>>) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    let segs: Vec<&str> = path.split('/').collect();
    let region = match segs.as_slice() {
        ["", version, tenant, MARKER, region, ..] if !CLOUD_DATABASES_WORDS.contains(tenant) && !CLOUD_BACKUP_WORDS.contains(tenant) => {
            let found = Region::of(&regions, region).ok_or_else(|| CoreError::not_found("region", *region))?;
            let rest = segs[5..].join("/");
            let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
            let sep = if rest.is_empty() { "" } else { "/" };
            *req.uri_mut() =
                format!("/{version}/{tenant}{sep}{rest}{query}").parse().map_err(|_| CoreError::BadRequest("bad path".into()))?;
            found
        }
        _ => Region::home(&regions),
    };
    req.extensions_mut().insert(region);
    Ok(next.call(req).await?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_home_region_has_the_plain_endpoint_and_others_a_marked_one() {
        let regions: Vec<String> = ["DFW", "IAD"].map(String::from).to_vec();
        let home = Region::of(&regions, "dfw").unwrap();
        assert_eq!(home.endpoint("http://h", "1234"), "http://h/v1.0/1234");
        assert_eq!(Region::of(&regions, "iad").unwrap().endpoint("http://h", "1234"), "http://h/v1.0/1234/regions/IAD");
        assert_eq!(Region::of(&regions, "LON"), None);
        assert_eq!(Region::home(&regions), home);
    }
}
