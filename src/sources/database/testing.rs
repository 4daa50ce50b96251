//! What the engines' tests share: unique names, whether a server is up, and copying a dump into a load.

use std::io::{self, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use url::Url;

use super::location::percent_decode;
use super::{DatabaseError, DatabaseLocation, DatastoreKind, DumpStream, LoadSink, io_error, start_dump, start_load};

/// The databases a test made, each dropped by `drop_one` when the test ends, however it ends.
pub(super) struct Cleanup {
    names: Vec<String>,
    drop_one: fn(&str),
}

impl Cleanup {
    pub(super) fn new(drop_one: fn(&str)) -> Self {
        Cleanup { names: Vec::new(), drop_one }
    }

    pub(super) fn push(&mut self, name: impl Into<String>) {
        self.names.push(name.into());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.names {
            (self.drop_one)(name);
        }
    }
}

pub(super) fn unique_name(prefix: &str) -> String {
    format!("coffer_{prefix}_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Whether the server `admin` names answers; when it does not, the test says SKIPPED (and fails under CI).
pub(super) fn server_is_up(admin: &DatabaseLocation) -> bool {
    let server = admin.server_url().expect("a server URL");
    let default_port = if admin.kind == DatastoreKind::Postgresql { 5432 } else { 3306 };
    let host = server.host.clone().unwrap_or_else(|| "127.0.0.1".to_string());
    let address = format!("{host}:{}", server.port.unwrap_or(default_port));
    let reachable = address
        .to_socket_addrs()
        .map(|mut addresses| addresses.any(|socket| TcpStream::connect_timeout(&socket, Duration::from_secs(2)).is_ok()))
        .unwrap_or(false);
    let what = if admin.kind == DatastoreKind::Postgresql { "PostgreSQL" } else { "MariaDB/MySQL" };
    if !reachable {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{what} at {address} is not reachable and CI=true");
        println!("SKIPPED: {what} at {address} is not reachable");
    }
    reachable
}

/// `location` with a password (its own, or `fallback`), and that password.
pub(super) fn with_some_password(location: DatabaseLocation, fallback: &str) -> (DatabaseLocation, String) {
    let mut url = Url::parse(&location.location).expect("a URL");
    let password = match url.password() {
        Some(password) => percent_decode(password).expect("a password"),
        None => {
            url.set_password(Some(fallback)).expect("a password can be set");
            fallback.to_string()
        }
    };
    (DatabaseLocation::new(location.kind, url.to_string()), password)
}

pub(super) async fn copy_dump(source: &DatabaseLocation, target: &DatabaseLocation) -> Result<(), DatabaseError> {
    let dump = start_dump(source).await?;
    let load = start_load(target).await?;
    tokio::task::spawn_blocking(move || pipe(dump, load)).await.expect("the copy thread panicked")
}

pub(super) fn pipe(mut dump: DumpStream, mut load: LoadSink) -> Result<(), DatabaseError> {
    io::copy(&mut dump, &mut load).map_err(io_error("copying the dump"))?;
    dump.finish()?;
    load.finish()
}

/// The whole dump and how it finished.
pub(super) async fn read_all(dump: DumpStream) -> (Vec<u8>, Result<(), DatabaseError>) {
    tokio::task::spawn_blocking(move || {
        let mut dump = dump;
        let mut bytes = Vec::new();
        match dump.read_to_end(&mut bytes) {
            Ok(_) => (bytes, dump.finish()),
            Err(e) => (bytes, Err(io_error("reading the dump")(e))),
        }
    })
    .await
    .expect("the reading thread panicked")
}
