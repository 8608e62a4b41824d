//! Running psql meta-commands of migration scripts (see `strata_sql::meta`) as psql runs them.
//!
//! `\copy t from 'file'` is psql reading a file on the client and streaming it through
//! `COPY t FROM STDIN`; strata does the same with tokio-postgres's `copy_in`, inside the
//! migration's transaction (COPY FROM STDIN is transactional, so a migration with `\copy` keeps
//! its transaction mode). psql resolves a relative file and runs a `program` in its working
//! directory; for strata that is the set's directory ([`crate::ExecOptions::set_dir`]): the
//! sqitch project's top directory (where `sqitch` runs psql) or the migration directory of a
//! psql loop. `\echo` text is collected as output lines; display settings are no-ops. The
//! executor refuses every other meta-command before the migration starts.

use futures_util::{SinkExt, StreamExt};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use strata_sql::meta::{parse_copy, CopyDirection, CopyEndpoint, MetaCommand};
use strata_sql::MetaSupport;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Why a meta-command failed.
pub(crate) enum MetaError {
    /// The server refused the `COPY` (a missing table, bad data): the transaction is aborted.
    Server(tokio_postgres::Error),
    /// strata could not do its part (a missing file, a failing program). If the `COPY` had
    /// started it was aborted with CopyFail; the caller rolls the transaction back either way.
    Client(String),
}

impl From<tokio_postgres::Error> for MetaError {
    fn from(e: tokio_postgres::Error) -> MetaError {
        MetaError::Server(e)
    }
}

/// Bytes read from a file or program per CopyData message.
const CHUNK: usize = 64 * 1024;

/// Runs meta-command `command` of `script_sql`; `echo` receives the lines `\echo` prints.
pub(crate) async fn run(
    client: &tokio_postgres::Client,
    script_sql: &str,
    command: &MetaCommand,
    set_dir: &Path,
    echo: &mut Vec<String>,
) -> Result<(), MetaError> {
    match command.support() {
        MetaSupport::Ignored => Ok(()),
        MetaSupport::Echo => {
            let (text, _) = strata_sql::meta::echo_text(&command.args);
            echo.push(text);
            Ok(())
        }
        MetaSupport::Copy => copy(client, script_sql, command, set_dir, echo).await,
        // The executor refuses these before the migration starts; reaching one is a bug, but
        // it must still never be sent to the server or skipped silently.
        MetaSupport::Unsupported => Err(MetaError::Client(
            command
                .unsupported_message()
                .unwrap_or_else(|| format!("`{}` is not supported", command.display())),
        )),
    }
}

fn resolve(set_dir: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() || set_dir.as_os_str().is_empty() {
        path.to_owned()
    } else {
        set_dir.join(path)
    }
}

fn shell(command: &str, set_dir: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c").arg(command).kill_on_drop(true);
    if !set_dir.as_os_str().is_empty() {
        cmd.current_dir(set_dir);
    }
    cmd
}

/// The last lines of a program's standard error, for the message.
fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(5)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!("; its standard error ends: {}", tail.join(" | "))
    }
}

async fn copy(
    client: &tokio_postgres::Client,
    script_sql: &str,
    command: &MetaCommand,
    set_dir: &Path,
    echo: &mut Vec<String>,
) -> Result<(), MetaError> {
    let copy = parse_copy(&command.args).map_err(MetaError::Client)?;
    let sql = copy.sql();
    match (copy.direction, &copy.endpoint) {
        (CopyDirection::From, CopyEndpoint::File(file)) => {
            let path = resolve(set_dir, file);
            // Opened before the COPY starts, as psql does: a missing file sends nothing.
            let reader = tokio::fs::File::open(&path)
                .await
                .map_err(|e| MetaError::Client(format!("cannot read {}: {e}", path.display())))?;
            copy_from_reader(client, &sql, reader, &path.display().to_string()).await
        }
        (CopyDirection::From, CopyEndpoint::Program(program)) => {
            let mut child = shell(program, set_dir)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| MetaError::Client(format!("cannot run `{program}`: {e}")))?;
            let stdout = child.stdout.take().expect("piped");
            let mut stderr = child.stderr.take().expect("piped");
            let sink = client.copy_in::<_, Cursor<Vec<u8>>>(sql.as_str()).await?;
            futures_util::pin_mut!(sink);
            let mut err_bytes = Vec::new();
            // Standard error is drained alongside, so a chatty program cannot block on a full
            // pipe while strata waits for its output.
            let what = format!("the output of `{program}`");
            let (sent, _) = tokio::join!(
                send_all(&mut sink, stdout, &what),
                stderr.read_to_end(&mut err_bytes)
            );
            let status = child
                .wait()
                .await
                .map_err(|e| MetaError::Client(format!("cannot wait for `{program}`: {e}")))?;
            sent?;
            if !status.success() {
                // Dropping the unfinished sink sends CopyFail: the server ends the COPY with an
                // error, and nothing of the program's output stays.
                return Err(MetaError::Client(format!(
                    "the program `{program}` failed ({status}){}",
                    stderr_tail(&err_bytes)
                )));
            }
            sink.as_mut().finish().await?;
            Ok(())
        }
        (CopyDirection::From, CopyEndpoint::Stdin) => {
            let data = command
                .inline_data
                .clone()
                .map_or("", |range| &script_sql[range]);
            copy_from_reader(
                client,
                &sql,
                data.as_bytes(),
                "the data lines after `\\copy`",
            )
            .await
        }
        (CopyDirection::From, CopyEndpoint::Pstdin) => {
            copy_from_reader(client, &sql, tokio::io::stdin(), "strata's standard input").await
        }
        (CopyDirection::To, endpoint) => {
            let stream = client.copy_out(sql.as_str()).await?;
            futures_util::pin_mut!(stream);
            let mut data = Vec::new();
            while let Some(chunk) = stream.next().await {
                data.extend_from_slice(&chunk?);
            }
            match endpoint {
                CopyEndpoint::File(file) => {
                    let path = resolve(set_dir, file);
                    tokio::fs::write(&path, &data).await.map_err(|e| {
                        MetaError::Client(format!("cannot write {}: {e}", path.display()))
                    })
                }
                CopyEndpoint::Program(program) => {
                    let mut child = shell(program, set_dir)
                        .stdin(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .map_err(|e| MetaError::Client(format!("cannot run `{program}`: {e}")))?;
                    let mut stdin = child.stdin.take().expect("piped");
                    let mut stderr = child.stderr.take().expect("piped");
                    let mut err_bytes = Vec::new();
                    let write = async {
                        let written = stdin.write_all(&data).await;
                        drop(stdin);
                        written
                    };
                    let (written, _) = tokio::join!(write, stderr.read_to_end(&mut err_bytes));
                    let status = child.wait().await.map_err(|e| {
                        MetaError::Client(format!("cannot wait for `{program}`: {e}"))
                    })?;
                    if !status.success() {
                        return Err(MetaError::Client(format!(
                            "the program `{program}` failed ({status}){}",
                            stderr_tail(&err_bytes)
                        )));
                    }
                    written
                        .map_err(|e| MetaError::Client(format!("cannot write to `{program}`: {e}")))
                }
                // psql prints the rows; strata shows them with the migration's output.
                _ => {
                    echo.extend(String::from_utf8_lossy(&data).lines().map(str::to_owned));
                    Ok(())
                }
            }
        }
        (CopyDirection::From, CopyEndpoint::Stdout | CopyEndpoint::Pstdout) => Err(
            MetaError::Client("`\\copy ... from stdout` reads nothing".into()),
        ),
    }
}

async fn copy_from_reader(
    client: &tokio_postgres::Client,
    sql: &str,
    reader: impl AsyncRead + Unpin,
    what: &str,
) -> Result<(), MetaError> {
    let sink = client.copy_in::<_, Cursor<Vec<u8>>>(sql).await?;
    futures_util::pin_mut!(sink);
    send_all(&mut sink, reader, what).await?;
    sink.as_mut().finish().await?;
    Ok(())
}

/// Streams `reader` into the COPY. On a read error the sink is left unfinished, so dropping it
/// aborts the COPY.
async fn send_all(
    sink: &mut std::pin::Pin<&mut tokio_postgres::CopyInSink<Cursor<Vec<u8>>>>,
    mut reader: impl AsyncRead + Unpin,
    what: &str,
) -> Result<(), MetaError> {
    loop {
        let mut buf = vec![0u8; CHUNK];
        let n = reader
            .read(&mut buf)
            .await
            .map_err(|e| MetaError::Client(format!("cannot read {what}: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        buf.truncate(n);
        sink.send(Cursor::new(buf)).await?;
    }
}
