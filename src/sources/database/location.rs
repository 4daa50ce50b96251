//! Reading a [`DatabaseLocation`]: the server URL's parts, other database names on the same server,
//! and the redacted form that every message shows in place of a password.

use std::path::Path;

use url::Url;

use super::{DatabaseError, DatabaseLocation, DatastoreKind};

const MAX_NAME_BYTES: usize = 63;
const MASK: &str = "***";
/// The PostgreSQL URL parameters taken, and the libpq variable each is handed to the client programs in.
const PG_PARAMETERS: &[(&str, &str)] = &[
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("application_name", "PGAPPNAME"),
];

/// A server location's URL taken apart, each part percent-decoded.
pub(super) struct ServerUrl {
    pub(super) url: Url,
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) user: Option<String>,
    pub(super) password: Option<String>,
    raw_password: Option<String>,
    pub(super) database: String,
    /// The libpq environment variables the URL's parameters set.
    pub(super) parameters: Vec<(&'static str, String)>,
}

impl ServerUrl {
    /// The password as given and as decoded: what no message may show.
    pub(super) fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.password.iter().chain(self.raw_password.iter()).filter(|s| !s.is_empty()).cloned().collect();
        secrets.dedup();
        secrets
    }
}

impl DatabaseLocation {
    /// A location of the given kind.
    pub fn new(kind: DatastoreKind, location: impl Into<String>) -> Self {
        DatabaseLocation { kind, location: location.into() }
    }

    /// The same server, another database name (Sqlite: a sibling file `<name>.sqlite` in the same directory, or `name` itself if it is a path).
    pub fn with_database_name(&self, name: &str) -> Result<DatabaseLocation, DatabaseError> {
        match self.kind {
            DatastoreKind::Sqlite => {
                if name.is_empty() || name == "." || name == ".." || name.contains('\0') {
                    return Err(self.invalid(format!("{name:?} is not a usable SQLite database name")));
                }
                let path = Path::new(name);
                let target = if path.is_absolute() || name.contains('/') || name.contains(std::path::MAIN_SEPARATOR) {
                    path.to_path_buf()
                } else {
                    Path::new(&self.location).parent().unwrap_or_else(|| Path::new("")).join(format!("{name}.sqlite"))
                };
                Ok(DatabaseLocation { kind: self.kind, location: target.to_string_lossy().into_owned() })
            }
            DatastoreKind::Postgresql | DatastoreKind::Mysql => {
                let server = self.server_url()?;
                validate_server_name(name).map_err(|reason| self.invalid(reason))?;
                let mut url = server.url;
                url.set_path(&format!("/{}", percent_encode(name)));
                Ok(DatabaseLocation { kind: self.kind, location: url.to_string() })
            }
        }
    }

    /// The database name (Sqlite: the file stem).
    pub fn database_name(&self) -> Result<String, DatabaseError> {
        match self.kind {
            DatastoreKind::Sqlite => Path::new(&self.location)
                .file_stem()
                .and_then(|stem| stem.to_str())
                .filter(|stem| !stem.is_empty())
                .map(str::to_string)
                .ok_or_else(|| self.invalid("the path has no file name")),
            DatastoreKind::Postgresql | DatastoreKind::Mysql => Ok(self.server_url()?.database),
        }
    }

    /// Display form with any password replaced by ***.
    pub fn redacted(&self) -> String {
        if self.kind == DatastoreKind::Sqlite {
            return self.location.clone();
        }
        match Url::parse(&self.location) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some(MASK));
                }
                url.to_string()
            }
            Err(_) => redact_unparsed(&self.location),
        }
    }

    pub(super) fn invalid(&self, reason: impl Into<String>) -> DatabaseError {
        DatabaseError::InvalidLocation { kind: self.kind, location: self.redacted(), reason: reason.into() }
    }

    pub(super) fn server_url(&self) -> Result<ServerUrl, DatabaseError> {
        let schemes: &[&str] = match self.kind {
            DatastoreKind::Sqlite => return Err(self.invalid("a SQLite file has no server URL")),
            DatastoreKind::Postgresql => &["postgres", "postgresql"],
            DatastoreKind::Mysql => &["mysql", "mariadb"],
        };
        let url = Url::parse(&self.location).map_err(|e| self.invalid(format!("not a URL ({e})")))?;
        if !schemes.contains(&url.scheme()) {
            return Err(self.invalid(format!("the URL scheme must be {}", schemes.join(" or "))));
        }
        if url.fragment().is_some() {
            return Err(self.invalid("the URL must not have a fragment"));
        }
        let decode = |part: &str, what: &str| {
            percent_decode(part).ok_or_else(|| self.invalid(format!("the {what} is not valid percent-encoded UTF-8")))
        };
        let host = match url.host_str().map(|h| h.trim_start_matches('[').trim_end_matches(']')).filter(|h| !h.is_empty()) {
            Some(host) => Some(decode(host, "host")?),
            None => None,
        };
        let user = match url.username() {
            "" => None,
            user => Some(decode(user, "user name")?),
        };
        let password = match url.password() {
            Some(password) => Some(decode(password, "password")?),
            None => None,
        };
        let path = url.path().strip_prefix('/').unwrap_or(url.path());
        let database = decode(path, "database name")?;
        validate_server_name(&database).map_err(|reason| self.invalid(reason))?;
        let mut parameters = Vec::new();
        for (key, value) in url.query_pairs() {
            let known = match self.kind {
                DatastoreKind::Postgresql => PG_PARAMETERS.iter().find(|(name, _)| *name == key).map(|(_, env)| *env),
                _ => None,
            };
            match known {
                Some(env) => parameters.push((env, value.into_owned())),
                None => return Err(self.invalid(format!("unsupported URL parameter {key:?}"))),
            }
        }
        Ok(ServerUrl {
            host,
            port: url.port(),
            user,
            password,
            raw_password: url.password().map(str::to_string),
            database,
            parameters,
            url,
        })
    }
}

fn validate_server_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the URL names no database".to_string());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!("the database name is longer than {MAX_NAME_BYTES} bytes"));
    }
    if name.starts_with('-') || name.ends_with(' ') || name.contains('/') || name.chars().any(char::is_control) {
        return Err(format!("{name:?} is not a usable database name"));
    }
    Ok(())
}

fn redact_unparsed(location: &str) -> String {
    let Some(scheme_end) = location.find("://") else {
        return location.to_string();
    };
    let authority_start = scheme_end + 3;
    let authority_end = location[authority_start..].find(['/', '?', '#']).map_or(location.len(), |i| authority_start + i);
    let authority = &location[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return location.to_string();
    };
    match authority[..at].find(':') {
        Some(colon) => format!("{}{MASK}{}", &location[..authority_start + colon + 1], &location[authority_start + at..]),
        None => location.to_string(),
    }
}

pub(super) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `text` with every secret masked.
pub(super) fn scrub(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_string(), |text, secret| text.replace(secret.as_str(), MASK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redacted_location_hides_the_password() {
        let location = DatabaseLocation::new(DatastoreKind::Postgresql, "postgres://app:s%40cret@db.example:5432/shop");
        assert_eq!(location.redacted(), "postgres://app:***@db.example:5432/shop");
        assert!(!format!("{location:?}").contains("cret"));
        let unparsable = DatabaseLocation::new(DatastoreKind::Mysql, "mysql://root:hunter2@[bad/shop");
        assert!(!unparsable.redacted().contains("hunter2"), "{}", unparsable.redacted());
        assert_eq!(
            DatabaseLocation::new(DatastoreKind::Mysql, "mysql://root@127.0.0.1:3306/shop").redacted(),
            "mysql://root@127.0.0.1:3306/shop"
        );
    }

    #[test]
    fn another_database_name_keeps_the_server_and_credentials() {
        let source = DatabaseLocation::new(DatastoreKind::Postgresql, "postgres://app:pw@127.0.0.1:5432/shop?sslmode=disable");
        let target = source.with_database_name("shop restored").expect("a new name");
        assert_eq!(target.location, "postgres://app:pw@127.0.0.1:5432/shop%20restored?sslmode=disable");
        assert_eq!(target.database_name().expect("a name"), "shop restored");
        assert_eq!(source.database_name().expect("a name"), "shop");
        let mysql = DatabaseLocation::new(DatastoreKind::Mysql, "mysql://root@127.0.0.1:3306/shop")
            .with_database_name("shop_copy")
            .expect("a name");
        assert_eq!(mysql.location, "mysql://root@127.0.0.1:3306/shop_copy");
        assert!(source.with_database_name("-c").is_err());
        assert!(source.with_database_name("").is_err());
    }

    #[test]
    fn a_sqlite_location_names_a_sibling_file_or_takes_a_path() {
        let source = DatabaseLocation::new(DatastoreKind::Sqlite, "/var/lib/app/main.db");
        assert_eq!(source.database_name().expect("a stem"), "main");
        assert_eq!(source.with_database_name("restored").expect("a sibling").location, "/var/lib/app/restored.sqlite");
        assert_eq!(source.with_database_name("/srv/other.db").expect("a path").location, "/srv/other.db");
        assert_eq!(
            DatabaseLocation::new(DatastoreKind::Sqlite, "main.db").with_database_name("copy").expect("a sibling").location,
            "copy.sqlite"
        );
    }

    #[test]
    fn unusable_locations_are_rejected_without_revealing_the_password() {
        for location in [
            "mysql://app:hunter2@127.0.0.1/shop",
            "postgres://app:hunter2@127.0.0.1/",
            "postgres://app:hunter2@127.0.0.1/shop?host=elsewhere",
            "not a url hunter2",
        ] {
            let error = DatabaseLocation::new(DatastoreKind::Postgresql, location).database_name().expect_err("an invalid location");
            assert!(matches!(error, DatabaseError::InvalidLocation { .. }), "{error}");
            if location.contains("://") {
                assert!(!error.to_string().contains("hunter2"), "{error}");
            }
        }
    }
}
