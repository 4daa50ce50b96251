//! Which API a path belongs to. Auth, rate limit, body limit and handlers all render their errors
//! in the shape of the dialect the path belongs to.

/// Resource words of Rackspace Cloud Databases under `/v1.0/[{account}/]`.
pub const CLOUD_DATABASES_WORDS: &[&str] = &["backups", "instances", "ha", "flavors"];
/// Resource words of Rackspace Cloud Backup under `/v1.0/[{tenant}/]`.
pub const CLOUD_BACKUP_WORDS: &[&str] = &["backup", "agent", "user", "backup-configuration", "restore", "system", "activity", "cleanup"];

/// The API families Coffer speaks, as far as errors and metrics are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `/{cluster_id}/...`, `/login`, `/logout`.
    OpsCenter,
    /// `/provisioning/v1/...`.
    Instaclustr,
    /// `/v1.0/{account}/backups|instances|ha|flavors...`.
    CloudDatabases,
    /// `/v1.0/[{tenant}/]backup|agent|...`.
    CloudBackup,
    /// `/v2.0/...` (Rackspace-style identity; fault bodies like Cloud Databases).
    IdentityV2,
    /// `/v3/...` and the discovery document at `/`.
    IdentityV3,
    /// `/admin/v1/...`, Coffer's own API.
    Admin,
    /// `/healthz`, `/readyz`, `/metrics`, `/docs`, `/openapi*`.
    Ops,
}

impl Dialect {
    /// The dialect serving `path`.
    pub fn from_path(path: &str) -> Self {
        let mut segs = path.trim_start_matches('/').split('/');
        let first = segs.next().unwrap_or("");
        match first {
            "" => Dialect::IdentityV3,
            "provisioning" => Dialect::Instaclustr,
            "v2.0" => Dialect::IdentityV2,
            "v3" => Dialect::IdentityV3,
            "admin" | "agent" => Dialect::Admin,
            "healthz" | "readyz" | "metrics" | "docs" | "openapi.json" | "openapi" | "favicon.ico" => Dialect::Ops,
            "v1.0" => {
                let second = segs.next().unwrap_or("");
                let word = if CLOUD_DATABASES_WORDS.contains(&second) || CLOUD_BACKUP_WORDS.contains(&second) {
                    second
                } else {
                    segs.next().unwrap_or("")
                };
                if CLOUD_BACKUP_WORDS.contains(&word) { Dialect::CloudBackup } else { Dialect::CloudDatabases }
            }
            _ => Dialect::OpsCenter,
        }
    }

    /// The account (tenant) a Rackspace path names, `/v1.0/{account}/...`; none for the forms
    /// without one (`/v1.0/backup/...`, as the Cloud Backup SDK sends them) and other dialects.
    pub fn account_in(self, path: &str) -> Option<&str> {
        if !matches!(self, Dialect::CloudDatabases | Dialect::CloudBackup) {
            return None;
        }
        let second = path.trim_start_matches('/').split('/').nth(1).filter(|s| !s.is_empty())?;
        (!CLOUD_DATABASES_WORDS.contains(&second) && !CLOUD_BACKUP_WORDS.contains(&second)).then_some(second)
    }

    /// The label used in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::OpsCenter => "opscenter",
            Dialect::Instaclustr => "instaclustr",
            Dialect::CloudDatabases => "clouddatabases",
            Dialect::CloudBackup => "cloudbackup",
            Dialect::IdentityV2 => "identity_v2",
            Dialect::IdentityV3 => "identity_v3",
            Dialect::Admin => "admin",
            Dialect::Ops => "ops",
        }
    }
}

/// A low-cardinality label for a path: ids and tenant or cluster segments become placeholders.
pub fn route_label(dialect: Dialect, path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').filter(|s| !s.is_empty()).enumerate() {
        let placeholder = match (dialect, i) {
            (Dialect::OpsCenter, 0) if !matches!(seg, "login" | "logout") => Some("{cluster_id}"),
            (Dialect::Instaclustr, 2) if seg != "extended" => Some("{cluster_id}"),
            (Dialect::CloudDatabases | Dialect::CloudBackup, 1)
                if !CLOUD_DATABASES_WORDS.contains(&seg) && !CLOUD_BACKUP_WORDS.contains(&seg) =>
            {
                Some("{tenant}")
            }
            _ if looks_like_id(seg) => Some("{id}"),
            _ => None,
        };
        out.push('/');
        out.push_str(placeholder.unwrap_or(seg));
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn looks_like_id(seg: &str) -> bool {
    seg.chars().all(|c| c.is_ascii_digit())
        || uuid::Uuid::parse_str(seg).is_ok()
        || (seg.len() >= 16 && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v1_0_space_is_split_by_resource_word() {
        assert_eq!(Dialect::from_path("/v1.0/1234/backups"), Dialect::CloudDatabases);
        assert_eq!(Dialect::from_path("/v1.0/1234/instances/x/backups"), Dialect::CloudDatabases);
        assert_eq!(Dialect::from_path("/v1.0/1234/backup/7"), Dialect::CloudBackup);
        assert_eq!(Dialect::from_path("/v1.0/backup-configuration"), Dialect::CloudBackup);
        assert_eq!(Dialect::from_path("/v1.0/agent/3"), Dialect::CloudBackup);
        assert_eq!(Dialect::from_path("/v1.0/backups"), Dialect::CloudDatabases);
    }

    #[test]
    fn rackspace_paths_name_their_account_unless_they_start_with_a_resource() {
        assert_eq!(Dialect::CloudDatabases.account_in("/v1.0/1234/backups"), Some("1234"));
        assert_eq!(Dialect::CloudBackup.account_in("/v1.0/demo/backup/7"), Some("demo"));
        assert_eq!(Dialect::CloudBackup.account_in("/v1.0/backup/7"), None);
        assert_eq!(Dialect::CloudDatabases.account_in("/v1.0/backups"), None);
        assert_eq!(Dialect::OpsCenter.account_in("/v1.0/1234/backups"), None);
    }

    #[test]
    fn unknown_first_segments_are_opscenter_clusters() {
        assert_eq!(Dialect::from_path("/Test_Cluster/backups"), Dialect::OpsCenter);
        assert_eq!(Dialect::from_path("/login"), Dialect::OpsCenter);
        assert_eq!(Dialect::from_path("/provisioning/v1/abc/backups"), Dialect::Instaclustr);
        assert_eq!(Dialect::from_path("/v2.0/tokens"), Dialect::IdentityV2);
        assert_eq!(Dialect::from_path("/v3/auth/tokens"), Dialect::IdentityV3);
        assert_eq!(Dialect::from_path("/healthz"), Dialect::Ops);
    }

    #[test]
    fn route_labels_hide_ids_tenants_and_clusters() {
        assert_eq!(route_label(Dialect::OpsCenter, "/Test_Cluster/backups/restore/tag1"), "/{cluster_id}/backups/restore/tag1");
        assert_eq!(
            route_label(Dialect::CloudDatabases, "/v1.0/1234/backups/0c1b5616-2d67-4a3f-9a6c-2f1b3a4c5d6e"),
            "/v1.0/{tenant}/backups/{id}"
        );
        assert_eq!(route_label(Dialect::CloudBackup, "/v1.0/backup/42"), "/v1.0/backup/{id}");
        assert_eq!(route_label(Dialect::Instaclustr, "/provisioning/v1/abc/backups"), "/provisioning/v1/{cluster_id}/backups");
    }
}
