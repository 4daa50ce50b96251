//! MySQL and MariaDB: dumped by `mariadb-dump` (or `mysqldump`) in one transaction with routines, triggers
//! and events; loaded by `mariadb` (or `mysql`) into a database created with that client first.

use std::process::{Command, Output, Stdio};

use super::location::ServerUrl;
use super::process::{ToolProcess, client_failure, dump_stream, load_sink, run_client};
use super::{DatabaseError, DatabaseLocation, DumpStream, LoadSink};

const MYSQL_DUMP: &[&str] = &["mariadb-dump", "mysqldump"];
const MYSQL_CLIENT: &[&str] = &["mariadb", "mysql"];

/// `program` set to connect to `server`, the password in the environment.
fn command(program: &str, server: &ServerUrl) -> Command {
    let mut command = Command::new(program);
    command.arg("--default-character-set=utf8mb4");
    if let Some(host) = &server.host {
        command.arg(format!("--host={host}"));
    }
    if let Some(port) = server.port {
        command.arg(format!("--port={port}"));
    }
    if let Some(user) = &server.user {
        command.arg(format!("--user={user}"));
    }
    if let Some(password) = &server.password {
        command.env("MYSQL_PWD", password);
    }
    command
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

async fn run_statement(server: &ServerUrl, statement: &str) -> Result<(&'static str, Output), DatabaseError> {
    run_client(MYSQL_CLIENT, |tool| {
        let mut command = command(tool, server);
        command.args(["--batch", "--skip-column-names", "-e", statement]);
        command
    })
    .await
}

pub(super) fn start_dump(source: &DatabaseLocation) -> Result<DumpStream, DatabaseError> {
    let server = source.server_url()?;
    let process = ToolProcess::spawn(MYSQL_DUMP, source, server.secrets(), |tool| {
        let mut command = command(tool, &server);
        command.args(["--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--no-tablespaces"]);
        command.arg(&server.database);
        command.stdin(Stdio::null()).stdout(Stdio::piped());
        command
    })?;
    dump_stream(source, process)
}

pub(super) async fn start_load(target: &DatabaseLocation) -> Result<LoadSink, DatabaseError> {
    let server = target.server_url()?;
    let statement = format!("CREATE DATABASE {}", quote(&server.database));
    let (tool, output) = run_statement(&server, &statement).await?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("ERROR 1007") {
            return Err(DatabaseError::AlreadyExists(target.redacted()));
        }
        return Err(client_failure(tool, target, &server, &output));
    }
    let spawned = ToolProcess::spawn(MYSQL_CLIENT, target, server.secrets(), |tool| {
        let mut command = command(tool, &server);
        command.arg(format!("--database={}", server.database));
        command.stdin(Stdio::piped()).stdout(Stdio::null());
        command
    });
    load_sink(target, spawned).await
}

pub(super) async fn drop_database(target: &DatabaseLocation) -> Result<(), DatabaseError> {
    let server = target.server_url()?;
    let (tool, output) = run_statement(&server, &format!("DROP DATABASE {}", quote(&server.database))).await?;
    if output.status.success() {
        return Ok(());
    }
    if String::from_utf8_lossy(&output.stderr).contains("ERROR 1008") {
        return Err(DatabaseError::NotFound(target.redacted()));
    }
    Err(client_failure(tool, target, &server, &output))
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;
    use crate::sources::database::testing::{Cleanup, copy_dump, read_all, server_is_up, unique_name};
    use crate::sources::database::{DatastoreKind, drop_database, start_dump, start_load};

    const MYSQL_ADMIN: &str = "mysql://root@127.0.0.1:3306/mysql";

    const MYSQL_FIXTURE: &str = r#"
        CREATE TABLE authors (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, bio TEXT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
        CREATE TABLE books (
            id BIGINT PRIMARY KEY,
            author_id INT NULL,
            title VARCHAR(200) NULL,
            cover BLOB NULL,
            pages INT NULL,
            published TIMESTAMP NULL DEFAULT NULL,
            FOREIGN KEY (author_id) REFERENCES authors (id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
        INSERT INTO authors VALUES
            (1, 'Zoë Ørsted', NULL),
            (2, '李白', 'poet 🌙'),
            (3, 'O''Brien', 'line one\nline two\ttabbed \\ backslash');
        INSERT INTO books VALUES
            (10, 1, 'Ünïcødé', X'00FF10', 321, '2024-02-29 13:37:00'),
            (11, 2, NULL, NULL, NULL, NULL),
            (12, 3, 'Ends with a backslash \\', X'DEADBEEF00', -2147483648, '1999-12-31 23:59:59');
        CREATE TRIGGER books_default_pages BEFORE INSERT ON books FOR EACH ROW SET NEW.pages = COALESCE(NEW.pages, 0);
        CREATE PROCEDURE count_books() SELECT COUNT(*) FROM books;
        CREATE EVENT forget_nothing ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM books WHERE id < 0;
    "#;

    fn mysql_admin() -> DatabaseLocation {
        DatabaseLocation::new(
            DatastoreKind::Mysql,
            std::env::var("COFFER_TEST_MYSQL_ADMIN_URL").unwrap_or_else(|_| MYSQL_ADMIN.to_string()),
        )
    }

    fn cleanup() -> Cleanup {
        Cleanup::new(|name| {
            let admin = mysql_admin().server_url().expect("a server URL");
            let _ = command("mariadb", &admin).args(["-e", &format!("DROP DATABASE IF EXISTS {}", quote(name))]).output();
        })
    }

    fn mariadb(database: Option<&str>, sql: &str) -> String {
        let mut command = command("mariadb", &mysql_admin().server_url().expect("a server URL"));
        command.args(["--batch", "--skip-column-names"]);
        if let Some(database) = database {
            command.arg(format!("--database={database}"));
        }
        let output = command.arg("-e").arg(sql).output().expect("running mariadb");
        assert!(output.status.success(), "mariadb failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    fn mysql_location(name: &str) -> DatabaseLocation {
        mysql_admin().with_database_name(name).expect("a mysql location")
    }

    /// A database `name` holding the fixture, dropped by `cleanup`.
    fn create_source(name: &str, cleanup: &mut Cleanup) {
        cleanup.push(name.to_string());
        mariadb(None, &format!("CREATE DATABASE {name}"));
        mariadb(Some(name), MYSQL_FIXTURE);
    }

    fn mariadb_contents(name: &str) -> Vec<String> {
        vec![
            mariadb(Some(name), "SELECT id, name, bio FROM authors ORDER BY id"),
            mariadb(Some(name), "SELECT id, author_id, title, HEX(cover), pages, published FROM books ORDER BY id"),
            mariadb(None, &format!("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '{name}'")),
            mariadb(None, &format!("SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '{name}'")),
            mariadb(None, &format!("SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '{name}'")),
        ]
    }

    #[tokio::test]
    async fn a_mariadb_dump_loads_into_a_new_database_with_the_same_rows_triggers_routines_and_events() {
        if !server_is_up(&mysql_admin()) {
            return;
        }
        let mut cleanup = cleanup();
        let source_name = unique_name("my_src");
        let target_name = unique_name("my_dst");
        create_source(&source_name, &mut cleanup);
        cleanup.push(target_name.clone());
        let source = mysql_location(&source_name);
        let target = mysql_location(&target_name);

        copy_dump(&source, &target).await.expect("the copy succeeds");

        let expected = mariadb_contents(&source_name);
        assert!(expected[0].contains("李白") && expected[1].contains("DEADBEEF00") && expected[2].trim() == "1", "{expected:?}");
        assert_eq!(mariadb_contents(&target_name), expected);
        drop_database(&target).await.expect("dropping the target");
        drop_database(&source).await.expect("dropping the source");
        assert!(matches!(drop_database(&target).await, Err(DatabaseError::NotFound(_))));
    }

    #[tokio::test]
    async fn loading_into_an_existing_mariadb_database_is_refused() {
        if !server_is_up(&mysql_admin()) {
            return;
        }
        let mut cleanup = cleanup();
        let name = unique_name("my_taken");
        create_source(&name, &mut cleanup);
        let before = mariadb_contents(&name);

        let error = start_load(&mysql_location(&name)).await.err().expect("refused");
        assert!(matches!(error, DatabaseError::AlreadyExists(_)), "{error}");
        assert_eq!(mariadb_contents(&name), before);
        drop_database(&mysql_location(&name)).await.expect("dropping");
    }

    #[tokio::test]
    async fn a_mariadb_dump_of_a_missing_database_fails_with_a_clear_message() {
        if !server_is_up(&mysql_admin()) {
            return;
        }
        let name = unique_name("my_missing");
        let dump = start_dump(&mysql_location(&name)).await.expect("the dumper starts");
        let (_, result) = read_all(dump).await;
        let message = result.expect_err("the dump fails").to_string();
        assert!(message.contains("dump") && message.contains("Unknown database") && message.contains(&name), "{message}");
    }

    #[tokio::test]
    async fn a_mariadb_login_failure_does_not_reveal_the_password() {
        if !server_is_up(&mysql_admin()) {
            return;
        }
        let mut url = Url::parse(&mysql_admin().location).expect("a URL");
        url.set_password(Some("Wr0ngPassw0rd")).expect("a password can be set");
        let location = DatabaseLocation::new(DatastoreKind::Mysql, url.to_string());
        let (_, result) = read_all(start_dump(&location).await.expect("the dumper starts")).await;
        let message = result.expect_err("access is denied").to_string();
        assert!(message.contains("Access denied") && message.contains(":***@"), "{message}");
        assert!(!message.contains("Wr0ngPassw0rd"), "{message}");

        let target = location.with_database_name(&unique_name("my_denied")).expect("a target");
        let message = start_load(&target).await.err().expect("access is denied").to_string();
        assert!(message.contains("Access denied") && !message.contains("Wr0ngPassw0rd"), "{message}");
    }
}
