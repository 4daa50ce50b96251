//! The client programs a server database is dumped and loaded with (pg_dump, psql, mariadb-dump, mariadb):
//! starting the first one found on PATH, reading or feeding its pipe, and turning how it ended into a
//! [`DatabaseError`] that carries the end of its standard error without the password.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::thread::JoinHandle;

use super::location::{ServerUrl, scrub};
use super::{DatabaseError, DatabaseLocation, DumpBody, DumpStream, LoadBody, LoadSink, has_more, io_error};

/// How much of a program's standard error a failure keeps: its end.
const STDERR_TAIL: usize = 8 * 1024;
const STDERR_MARGIN: usize = 1024;

/// A running client program. Dropping it kills and reaps the program if it has not been waited for.
pub(super) struct ToolProcess {
    tool: &'static str,
    location: String,
    secrets: Vec<String>,
    child: Child,
    stderr: Option<JoinHandle<Vec<u8>>>,
    reaped: bool,
}

impl ToolProcess {
    /// Starts the first of `candidates` that is on PATH, as `build` makes its command, with its standard
    /// error read on a thread of its own.
    pub(super) fn spawn(
        candidates: &[&'static str],
        location: &DatabaseLocation,
        secrets: Vec<String>,
        build: impl Fn(&'static str) -> Command,
    ) -> Result<ToolProcess, DatabaseError> {
        for &tool in candidates {
            let mut command = build(tool);
            command.stderr(Stdio::piped());
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error(format!("starting {tool}"))(e)),
            };
            let stderr = match child
                .stderr
                .take()
                .map(|pipe| std::thread::Builder::new().name(format!("{tool}-stderr")).spawn(|| read_tail(pipe)))
            {
                Some(Ok(handle)) => Some(handle),
                Some(Err(e)) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(io_error(format!("watching {tool}"))(e));
                }
                None => None,
            };
            return Ok(ToolProcess { tool, location: location.redacted(), secrets, child, stderr, reaped: false });
        }
        Err(DatabaseError::ToolMissing { tool: candidates.join(" or ") })
    }

    fn take_stdout(&mut self) -> Result<ChildStdout, DatabaseError> {
        self.child.stdout.take().ok_or_else(|| io_error(format!("reading from {}", self.tool))(io::ErrorKind::BrokenPipe.into()))
    }

    fn take_stdin(&mut self) -> Result<ChildStdin, DatabaseError> {
        self.child.stdin.take().ok_or_else(|| io_error(format!("writing to {}", self.tool))(io::ErrorKind::BrokenPipe.into()))
    }

    fn wait(&mut self) -> Result<(), DatabaseError> {
        let status = self.child.wait().map_err(io_error(format!("waiting for {}", self.tool)))?;
        self.reaped = true;
        let stderr = self.stderr.take().and_then(|handle| handle.join().ok()).unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        Err(DatabaseError::ToolFailed {
            tool: self.tool.to_string(),
            location: self.location.clone(),
            status: status.to_string(),
            stderr: stderr_text(&stderr, &self.secrets),
        })
    }

    fn kill(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.reaped = true;
        }
    }
}

impl Drop for ToolProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_tail(mut pipe: impl Read) -> Vec<u8> {
    let limit = STDERR_TAIL + STDERR_MARGIN;
    let mut tail = VecDeque::with_capacity(limit);
    let mut buffer = [0u8; 4096];
    loop {
        match pipe.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                tail.extend(&buffer[..n]);
                let excess = tail.len().saturating_sub(limit);
                tail.drain(..excess);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    tail.into()
}

fn stderr_text(bytes: &[u8], secrets: &[String]) -> String {
    let text = scrub(String::from_utf8_lossy(bytes).trim(), secrets);
    if text.is_empty() {
        return "no output on stderr".to_string();
    }
    if text.len() <= STDERR_TAIL {
        return text;
    }
    let mut cut = text.len() - STDERR_TAIL;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &text[cut..])
}

/// Runs the first of `candidates` that is on PATH to its end, with no input, and returns which one ran and its output.
pub(super) async fn run_client(
    candidates: &[&'static str],
    build: impl Fn(&'static str) -> Command,
) -> Result<(&'static str, Output), DatabaseError> {
    for &tool in candidates {
        let mut command = tokio::process::Command::from(build(tool));
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        match command.output().await {
            Ok(output) => return Ok((tool, output)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(format!("running {tool}"))(e)),
        }
    }
    Err(DatabaseError::ToolMissing { tool: candidates.join(" or ") })
}

/// The failure of a program [`run_client`] ran.
pub(super) fn client_failure(tool: &str, location: &DatabaseLocation, server: &ServerUrl, output: &Output) -> DatabaseError {
    DatabaseError::ToolFailed {
        tool: tool.to_string(),
        location: location.redacted(),
        status: output.status.to_string(),
        stderr: stderr_text(&output.stderr, &server.secrets()),
    }
}

/// A dump read from a dumper's standard output.
pub(super) struct ProcessDump {
    stdout: ChildStdout,
    process: ToolProcess,
}

impl ProcessDump {
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stdout.read(buf)
    }

    pub(super) fn finish(self, location: String) -> Result<(), DatabaseError> {
        let ProcessDump { mut stdout, mut process } = self;
        let unread = has_more(&mut stdout);
        drop(stdout);
        match unread {
            Ok(false) => process.wait(),
            Ok(true) => {
                process.kill();
                Err(DatabaseError::Unread(location))
            }
            Err(e) => {
                process.kill();
                Err(io_error(format!("reading from {}", process.tool))(e))
            }
        }
    }

    #[cfg(test)]
    pub(super) fn pid(&self) -> u32 {
        self.process.child.id()
    }
}

/// The dump of `source` that the started dumper writes to its standard output.
pub(super) fn dump_stream(source: &DatabaseLocation, mut process: ToolProcess) -> Result<DumpStream, DatabaseError> {
    let stdout = process.take_stdout()?;
    Ok(DumpStream { location: source.redacted(), body: DumpBody::Process(ProcessDump { stdout, process }) })
}

/// A load written to a loader's standard input.
pub(super) struct ProcessLoad {
    stdin: Option<ChildStdin>,
    process: ToolProcess,
    failure: Option<DatabaseError>,
}

impl ProcessLoad {
    pub(super) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let ProcessLoad { stdin, process, failure } = self;
        if let Some(failure) = failure {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, failure.to_string()));
        }
        let Some(pipe) = stdin else {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, format!("{} is no longer reading", process.tool)));
        };
        match pipe.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                *stdin = None;
                let error = match process.wait() {
                    Err(error) => error,
                    Ok(()) => DatabaseError::ToolFailed {
                        tool: process.tool.to_string(),
                        location: process.location.clone(),
                        status: "exit status: 0".to_string(),
                        stderr: "it stopped reading before the end of the dump".to_string(),
                    },
                };
                let message = error.to_string();
                *failure = Some(error);
                Err(io::Error::new(io::ErrorKind::BrokenPipe, message))
            }
            other => other,
        }
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        match &mut self.stdin {
            Some(pipe) => pipe.flush(),
            None => Ok(()),
        }
    }

    pub(super) fn finish(self) -> Result<(), DatabaseError> {
        let ProcessLoad { stdin, mut process, failure } = self;
        if let Some(failure) = failure {
            return Err(failure);
        }
        drop(stdin);
        process.wait()
    }
}

/// The load into the just created `target` that the started loader reads from its standard input; if the
/// loader did not start, `target` is dropped again.
pub(super) async fn load_sink(target: &DatabaseLocation, spawned: Result<ToolProcess, DatabaseError>) -> Result<LoadSink, DatabaseError> {
    let stdin = spawned.and_then(|mut process| process.take_stdin().map(|stdin| (stdin, process)));
    match stdin {
        Ok((stdin, process)) => Ok(LoadSink {
            location: target.redacted(),
            body: LoadBody::Process(ProcessLoad { stdin: Some(stdin), process, failure: None }),
        }),
        Err(error) => {
            let _ = super::drop_database(target).await;
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_tool_error_keeps_its_end_without_the_password() {
        let mut stderr = "x".repeat(3 * STDERR_TAIL).into_bytes();
        stderr.extend_from_slice("password hunter2 rejected — fatal".as_bytes());
        let text = stderr_text(&stderr, &["hunter2".to_string()]);
        assert!(text.len() <= STDERR_TAIL + "…".len());
        assert!(text.ends_with("password *** rejected — fatal"), "{text}");
        assert_eq!(stderr_text(b"  \n", &[]), "no output on stderr");
    }
}
