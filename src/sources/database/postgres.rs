//! PostgreSQL: dumped by `pg_dump` as plain SQL, loaded by `psql` into a database this module creates
//! from `template0`; databases are created and dropped over a connection to the maintenance database.

use std::process::{Command, Stdio};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use super::location::{ServerUrl, scrub};
use super::process::{ToolProcess, dump_stream, load_sink};
use super::{DatabaseError, DatabaseLocation, DumpStream, LoadSink};

const PG_DUMP: &[&str] = &["pg_dump"];
const PSQL: &[&str] = &["psql"];

/// `program` set to work on `server`'s database through libpq's environment variables, none of them
/// inherited from this process.
fn command(program: &str, server: &ServerUrl) -> Command {
    let mut command = Command::new(program);
    for variable in ["PGSERVICE", "PGHOSTADDR", "PGDATABASE"] {
        command.env_remove(variable);
    }
    if let Some(host) = &server.host {
        command.env("PGHOST", host);
    }
    if let Some(port) = server.port {
        command.env("PGPORT", port.to_string());
    }
    if let Some(user) = &server.user {
        command.env("PGUSER", user);
    }
    if let Some(password) = &server.password {
        command.env("PGPASSWORD", password);
    }
    for (variable, value) in &server.parameters {
        command.env(variable, value);
    }
    command.env("PGDATABASE", &server.database);
    command
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(super) fn start_dump(source: &DatabaseLocation) -> Result<DumpStream, DatabaseError> {
    let server = source.server_url()?;
    let process = ToolProcess::spawn(PG_DUMP, source, server.secrets(), |tool| {
        let mut command = command(tool, &server);
        command.args(["--format=plain", "--no-owner", "--no-privileges", "--no-password"]);
        command.stdin(Stdio::null()).stdout(Stdio::piped());
        command
    })?;
    dump_stream(source, process)
}

pub(super) async fn start_load(target: &DatabaseLocation) -> Result<LoadSink, DatabaseError> {
    let server = target.server_url()?;
    create_database(target, &server).await?;
    let spawned = ToolProcess::spawn(PSQL, target, server.secrets(), |tool| {
        let mut command = command(tool, &server);
        command.args(["--no-psqlrc", "--quiet", "--no-password", "-v", "ON_ERROR_STOP=1"]);
        command.stdin(Stdio::piped()).stdout(Stdio::null());
        command
    });
    load_sink(target, spawned).await
}

/// A connection to a database other than `server`'s own, from which that one can be created or dropped.
async fn maintenance(location: &DatabaseLocation, server: &ServerUrl) -> Result<PgConnection, DatabaseError> {
    let maintenance = if server.database == "postgres" { "template1" } else { "postgres" };
    let mut url = server.url.clone();
    url.set_path(&format!("/{maintenance}"));
    let options = PgConnectOptions::from_url(&url).map_err(|e| query_error("reading the connection settings", location, server, e))?;
    PgConnection::connect_with(&options).await.map_err(|e| query_error("connecting to the maintenance database", location, server, e))
}

fn query_error(action: &str, location: &DatabaseLocation, server: &ServerUrl, error: sqlx::Error) -> DatabaseError {
    DatabaseError::Query {
        action: action.to_string(),
        location: location.redacted(),
        message: scrub(&error.to_string(), &server.secrets()),
    }
}

fn sql_state(error: &sqlx::Error) -> Option<String> {
    error.as_database_error().and_then(|e| e.code()).map(|code| code.into_owned())
}

async fn create_database(target: &DatabaseLocation, server: &ServerUrl) -> Result<(), DatabaseError> {
    let mut connection = maintenance(target, server).await?;
    let statement = format!("CREATE DATABASE {} TEMPLATE template0", quote(&server.database));
    let created = sqlx::raw_sql(AssertSqlSafe(statement)).execute(&mut connection).await;
    let _ = connection.close().await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if sql_state(&e).as_deref() == Some("42P04") => Err(DatabaseError::AlreadyExists(target.redacted())),
        Err(e) => Err(query_error("creating the database", target, server, e)),
    }
}

/// `DROP DATABASE … WITH (FORCE)`, or without `FORCE` on a server older than PostgreSQL 13.
pub(super) async fn drop_database(target: &DatabaseLocation) -> Result<(), DatabaseError> {
    let server = target.server_url()?;
    let mut connection = maintenance(target, &server).await?;
    let name = quote(&server.database);
    let mut dropped = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&mut connection).await;
    if matches!(&dropped, Err(e) if sql_state(e).as_deref() == Some("42601")) {
        dropped = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE {name}"))).execute(&mut connection).await;
    }
    let _ = connection.close().await;
    match dropped {
        Ok(_) => Ok(()),
        Err(e) if sql_state(&e).as_deref() == Some("3D000") => Err(DatabaseError::NotFound(target.redacted())),
        Err(e) => Err(query_error("dropping the database", target, &server, e)),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read, Write};
    use std::path::Path;

    use super::*;
    use crate::sources::database::testing::{Cleanup, copy_dump, read_all, server_is_up, unique_name, with_some_password};
    use crate::sources::database::{DatastoreKind, DumpBody, drop_database, start_dump, start_load};

    const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    const PG_FIXTURE: &str = r#"
        CREATE TABLE authors (id integer PRIMARY KEY, name text NOT NULL, bio text);
        CREATE TABLE books (
            id bigint PRIMARY KEY,
            author_id integer REFERENCES authors (id),
            title text,
            cover bytea,
            pages integer,
            published timestamptz
        );
        INSERT INTO authors VALUES
            (1, 'Zoë Ørsted', NULL),
            (2, '李白', 'poet 🌙'),
            (3, 'O''Brien', E'line one\nline two\ttabbed \\ backslash');
        INSERT INTO books VALUES
            (10, 1, 'Ünïcødé', '\x00ff10'::bytea, 321, '2024-02-29 13:37:00+00'),
            (11, 2, NULL, NULL, NULL, NULL),
            (12, 3, 'Ends with a backslash \', decode('deadbeef00', 'hex'), -2147483648, '1999-12-31 23:59:59.999999+00');
    "#;

    fn pg_admin() -> DatabaseLocation {
        DatabaseLocation::new(DatastoreKind::Postgresql, std::env::var("COFFER_TEST_PG_ADMIN_URL").unwrap_or_else(|_| PG_ADMIN.to_string()))
    }

    fn cleanup() -> Cleanup {
        Cleanup::new(|name| {
            let admin = pg_admin().server_url().expect("a server URL");
            let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(name));
            let _ = command("psql", &admin).args(["-X", "-q", "-w", "-c", &statement]).output();
        })
    }

    fn pg_location(name: &str) -> DatabaseLocation {
        pg_admin().with_database_name(name).expect("a postgres location")
    }

    async fn pg_connect(location: &DatabaseLocation) -> PgConnection {
        PgConnection::connect(&location.location).await.expect("connecting to postgres")
    }

    async fn pg_execute(location: &DatabaseLocation, sql: String) {
        let mut connection = pg_connect(location).await;
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut connection).await.expect("running SQL on postgres");
        connection.close().await.expect("closing");
    }

    async fn create_pg_source(name: &str, cleanup: &mut Cleanup, fixture: &str) -> DatabaseLocation {
        cleanup.push(name.to_string());
        pg_execute(&pg_location("postgres"), format!("CREATE DATABASE {}", quote(name))).await;
        let location = pg_location(name);
        pg_execute(&location, fixture.to_string()).await;
        location
    }

    async fn pg_rows(location: &DatabaseLocation) -> Vec<String> {
        let mut connection = pg_connect(location).await;
        let mut rows = Vec::new();
        for table in ["authors", "books"] {
            let sql = format!("SELECT coalesce(json_agg(t ORDER BY t.id)::text, '[]') FROM {table} t");
            rows.push(sqlx::query_scalar::<_, String>(AssertSqlSafe(sql)).fetch_one(&mut connection).await.expect("reading rows"));
        }
        connection.close().await.expect("closing");
        rows
    }

    #[tokio::test]
    async fn a_postgresql_dump_loads_into_a_new_database_with_the_same_rows() {
        if !server_is_up(&pg_admin()) {
            return;
        }
        let mut cleanup = cleanup();
        let source = create_pg_source(&unique_name("pg_src"), &mut cleanup, PG_FIXTURE).await;
        let target_name = unique_name("pg_dst");
        cleanup.push(target_name.clone());
        let target = source.with_database_name(&target_name).expect("a target");

        copy_dump(&source, &target).await.expect("the copy succeeds");

        let rows = pg_rows(&source).await;
        assert!(rows[0].contains("李白") && rows[1].contains("\\\\x00ff10"), "{rows:?}");
        assert_eq!(pg_rows(&target).await, rows);
        drop_database(&target).await.expect("dropping the target");
        drop_database(&source).await.expect("dropping the source");
        assert!(matches!(drop_database(&target).await, Err(DatabaseError::NotFound(_))));
    }

    #[tokio::test]
    async fn loading_into_an_existing_postgresql_database_is_refused() {
        if !server_is_up(&pg_admin()) {
            return;
        }
        let mut cleanup = cleanup();
        let existing = create_pg_source(&unique_name("pg_taken"), &mut cleanup, PG_FIXTURE).await;
        let before = pg_rows(&existing).await;

        let error = start_load(&existing).await.err().expect("refused");
        assert!(matches!(error, DatabaseError::AlreadyExists(_)), "{error}");
        assert_eq!(pg_rows(&existing).await, before);
        drop_database(&existing).await.expect("dropping");
    }

    #[tokio::test]
    async fn a_postgresql_dump_of_a_missing_database_fails_with_pg_dump_stderr_and_no_password() {
        if !server_is_up(&pg_admin()) {
            return;
        }
        let name = unique_name("pg_missing");
        let (source, password) = with_some_password(pg_location(&name), "Sup3rS3cretPw");
        let dump = start_dump(&source).await.expect("pg_dump starts");
        let (bytes, result) = read_all(dump).await;
        assert!(bytes.is_empty());
        let error = result.expect_err("pg_dump fails");
        let message = error.to_string();
        assert!(matches!(error, DatabaseError::ToolFailed { .. }), "{message}");
        assert!(message.contains("pg_dump") && message.contains("does not exist") && message.contains(&name), "{message}");
        assert!(message.contains(":***@") && !message.contains(&password), "{message}");
    }

    #[tokio::test]
    async fn a_failing_postgresql_load_reports_psql_stderr() {
        if !server_is_up(&pg_admin()) {
            return;
        }
        let mut cleanup = cleanup();
        let name = unique_name("pg_bad");
        cleanup.push(name.clone());
        let (target, password) = with_some_password(pg_location(&name), "An0therPw");
        let mut load = start_load(&target).await.expect("a load");
        let error = tokio::task::spawn_blocking(move || {
            load.write_all(b"CREATE TABLE fine (id integer);\nTHIS IS NOT SQL;\nCREATE TABLE never (id integer);\n")?;
            load.finish().map_err(io::Error::other)
        })
        .await
        .expect("no panic")
        .expect_err("psql fails");
        let message = error.to_string();
        assert!(message.contains("psql") && message.contains("syntax error"), "{message}");
        assert!(!message.contains(&password), "{message}");
        drop_database(&target).await.expect("dropping");
    }

    #[tokio::test]
    async fn a_dropped_postgresql_dump_leaves_no_process_behind() {
        if !server_is_up(&pg_admin()) {
            return;
        }
        let mut cleanup = cleanup();
        let fixture = "CREATE TABLE big (id integer PRIMARY KEY, body text); INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;";
        let source = create_pg_source(&unique_name("pg_big"), &mut cleanup, fixture).await;
        let mut dump = start_dump(&source).await.expect("a dump");
        let DumpBody::Process(process) = &dump.body else { panic!("a postgres dump is a process") };
        let pid = process.pid();
        let mut buffer = vec![0u8; 4096];
        dump.read_exact(&mut buffer).expect("reading");
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        drop(dump);
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "pg_dump {pid} was not reaped");
        drop_database(&source).await.expect("dropping");
    }
}
