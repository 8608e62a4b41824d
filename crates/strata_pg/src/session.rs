//! One connection, with its server messages captured.
//!
//! tokio-postgres hands NOTICE/WARNING messages to whoever polls the connection; strata polls it
//! in a task that forwards them to a channel, so the executor can show them next to the
//! migration that raised them. Dropping a [`Session`] aborts that task, which closes the socket:
//! the server then ends the backend and releases its session-level locks.
//!
//! The driver client inside is private to this crate: other crates say what they want done
//! (run a script, create a database, read the registry through [`crate::Registry`], take a
//! schema snapshot) and this crate decides the SQL. That keeps every statement against
//! strata's own tables in [`crate::registry`], and keeps values out of SQL text in one place.

use crate::conn::{ConnInfo, ConnectError, SslMode};
use crate::ident::quote_ident;
use futures_util::future::poll_fn;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, Connection};

/// A NOTICE, WARNING or INFO message from the server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    /// `NOTICE`, `WARNING`, ...
    pub severity: String,
    /// The message.
    pub message: String,
    /// DETAIL, if any.
    pub detail: Option<String>,
    /// HINT, if any.
    pub hint: Option<String>,
}

/// An open connection. Other crates reach the database through its methods and the functions
/// of this crate that take a `&Session`, never through the driver client.
pub struct Session {
    /// The driver client; crate-private (see the module header).
    pub(crate) client: Client,
    notices: mpsc::UnboundedReceiver<Notice>,
    task: tokio::task::JoinHandle<()>,
    target: String,
    tls: Option<crate::tls::Connector>,
}

/// Cancels whatever statement a [`Session`] is running, from another task (Ctrl-C handling).
#[derive(Clone)]
pub struct CancelHandle {
    token: tokio_postgres::CancelToken,
    tls: Option<crate::tls::Connector>,
}

impl CancelHandle {
    /// Sends PostgreSQL's cancel request for the session's running statement, over the same
    /// kind of connection (TLS or not) the session uses.
    pub async fn cancel(&self) -> Result<(), tokio_postgres::Error> {
        let plain = || self.token.cancel_query(tokio_postgres::NoTls);
        match &self.tls {
            Some(tls) => match self.token.cancel_query(tls.clone()).await {
                Ok(()) => Ok(()),
                Err(_) => plain().await,
            },
            None => plain().await,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Session {
    /// Connects.
    pub async fn connect(info: &ConnInfo) -> Result<Session, ConnectError> {
        let target = info.redacted();
        let mut config = info.config.clone();
        let (tx, notices) = mpsc::unbounded_channel();
        let wrap = |source| ConnectError::Connect {
            target: target.clone(),
            source,
        };
        let (client, task, tls) = match info.ssl_mode {
            SslMode::Disable => {
                config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                let (client, conn) = config.connect(tokio_postgres::NoTls).await.map_err(wrap)?;
                (client, spawn_connection(conn, tx), None)
            }
            mode => {
                config.ssl_mode(if mode == SslMode::Prefer {
                    tokio_postgres::config::SslMode::Prefer
                } else {
                    tokio_postgres::config::SslMode::Require
                });
                let tls = crate::tls::make_connector(mode, info.ssl_root_cert.as_deref())?;
                match config.connect(tls.clone()).await {
                    Ok((client, conn)) => (client, spawn_connection(conn, tx), Some(tls)),
                    // libpq's `prefer`: when the server accepts TLS but the handshake fails
                    // (no protocol version or cipher in common, say), connect without it.
                    Err(_) if mode == SslMode::Prefer && tls.report().handshake_failed() => {
                        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                        let (client, conn) =
                            config.connect(tokio_postgres::NoTls).await.map_err(wrap)?;
                        (client, spawn_connection(conn, tx), None)
                    }
                    Err(_) if tls.report().v1_certificate() => {
                        return Err(ConnectError::Tls {
                            message: format!(
                                "the server at {target} presented an X.509 version 1 certificate, which sslmode={} cannot verify (only version 3 certificates can be verified); reissue the server certificate as version 3 (with a subjectAltName for its host name), or use sslmode=require, which encrypts without verifying",
                                if mode == SslMode::VerifyFull { "verify-full" } else { "verify-ca" }
                            ),
                        })
                    }
                    Err(e) => return Err(wrap(e)),
                }
            }
        };
        Ok(Session {
            client,
            notices,
            task,
            target,
            tls,
        })
    }

    /// Messages received since the last call.
    pub fn drain_notices(&mut self) -> Vec<Notice> {
        let mut out = Vec::new();
        while let Ok(n) = self.notices.try_recv() {
            out.push(n);
        }
        out
    }

    /// `user@host:port/db`, redacted.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Runs SQL text as one simple-query message, as psql sends a string given with `-c`: any
    /// number of statements, no parameters; without transaction control of its own the text
    /// is one implicit transaction, so an error undoes all of it. For the user's own
    /// scripts (a seed, a schema dump, the statements that reset a set's schemas); strata's
    /// tables are written through [`crate::Registry`] only.
    pub async fn run_script(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.client.batch_execute(sql).await
    }

    /// Creates the empty database `name` (quoted as an identifier, never formatted raw).
    pub async fn create_database(&self, name: &str) -> Result<(), tokio_postgres::Error> {
        self.client
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(name)))
            .await
    }

    /// Drops database `name` if it exists, ending the sessions still connected to it
    /// (PostgreSQL 13+ `WITH (FORCE)`).
    pub async fn drop_database(&self, name: &str) -> Result<(), tokio_postgres::Error> {
        self.client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(name)
            ))
            .await
    }

    /// The schemas a set without a schema of its own owns, by elimination: every schema but
    /// PostgreSQL's own, the registry's (`registry_schema`) and the ones other sets declare
    /// (`declared`), in name order.
    pub async fn undeclared_schemas(
        &self,
        registry_schema: &str,
        declared: &[String],
    ) -> Result<Vec<String>, tokio_postgres::Error> {
        Ok(self
            .client
            .query(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' \
                 AND nspname <> $1 AND NOT (nspname = ANY($2)) ORDER BY nspname",
                &[&registry_schema, &declared],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// The deterministic schema snapshot of this session's database (see [`strata_schema`]),
    /// leaving out the schemas in `exclude` (strata's registry) and extensions' objects.
    pub async fn snapshot(
        &self,
        exclude: &[String],
    ) -> Result<strata_schema::Snapshot, strata_schema::SchemaError> {
        strata_schema::Snapshot::read(&self.client, exclude).await
    }

    /// A handle that can cancel the statement this session is running.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle {
            token: self.client.cancel_token(),
            tls: self.tls.clone(),
        }
    }
}

fn spawn_connection<S, T>(
    mut conn: Connection<S, T>,
    tx: mpsc::UnboundedSender<Notice>,
) -> tokio::task::JoinHandle<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match poll_fn(|cx| conn.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notice(n))) => {
                    let _ = tx.send(Notice {
                        severity: n.severity().to_owned(),
                        message: n.message().to_owned(),
                        detail: n.detail().map(str::to_owned),
                        hint: n.hint().map(str::to_owned),
                    });
                }
                Some(Ok(_)) => {}
                // The client sees connection errors on its next request; nothing to do here.
                Some(Err(_)) | None => break,
            }
        }
    })
}
