//! Mapping what the server said onto the migration file: a driver error becomes a
//! [`Failure`] whose position is the file's line and column (the server counts characters in
//! the text strata sent, which is a slice of the script), its statement and its summary.

use super::Failure;
use strata_model::{char_pos_to_byte, Script};
use strata_sql::Analysis;
use tokio_postgres::error::ErrorPosition;

/// True when the error is the server's answer (so the session is usable and the transaction
/// state is known), false when the connection itself failed.
pub(super) fn server_answered(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some()
}

impl Failure {
    pub(super) fn plain(message: &str) -> Failure {
        Failure {
            sqlstate: String::new(),
            severity: "ERROR".into(),
            message: message.to_owned(),
            detail: None,
            hint: None,
            context: None,
            location: None,
            statement: None,
            statement_summary: None,
        }
    }
}

/// Maps a driver error to a [`Failure`]; `sent` is the script and the byte offset in it of the
/// text that was sent, used to turn the server's character position into a file position.
pub(super) fn failure_from(
    e: &tokio_postgres::Error,
    sent: Option<(&Script, usize, bool)>,
    analysis: Option<&Analysis>,
) -> Failure {
    let Some(db) = e.as_db_error() else {
        return Failure {
            sqlstate: String::new(),
            severity: "ERROR".into(),
            message: e.to_string(),
            detail: None,
            hint: None,
            context: None,
            location: None,
            statement: None,
            statement_summary: None,
        };
    };
    let mut byte_in_script = None;
    if let Some((script, offset, single_statement)) = sent {
        let sent_text = &script.sql()[offset..];
        byte_in_script = match db.position() {
            Some(ErrorPosition::Original(p)) => {
                Some(offset + char_pos_to_byte(sent_text, *p as usize))
            }
            _ => None,
        };
        if byte_in_script.is_none() && single_statement {
            byte_in_script = Some(offset);
        }
    }
    let (statement, statement_summary, stmt_start) = match (analysis, byte_in_script) {
        (Some(a), Some(b)) => a
            .statements
            .iter()
            .enumerate()
            .find(|(_, s)| s.range.start <= b && b <= s.range.end)
            .map(|(i, s)| (Some(i + 1), Some(s.summary.clone()), Some(s.range.start)))
            .unwrap_or((None, None, None)),
        _ => (None, None, None),
    };
    let location =
        sent.and_then(|(script, _, _)| byte_in_script.or(stmt_start).map(|b| script.locate(b)));
    let mut context = db.where_().map(str::to_owned);
    if let Some(ErrorPosition::Internal { position, query }) = db.position() {
        let note = format!("internal query (position {position}): {query}");
        context = Some(match context {
            Some(c) => format!("{c}\n{note}"),
            None => note,
        });
    }
    Failure {
        sqlstate: db.code().code().to_owned(),
        severity: db.severity().to_owned(),
        message: db.message().to_owned(),
        detail: db.detail().map(str::to_owned),
        hint: db.hint().map(str::to_owned),
        context,
        location,
        statement,
        statement_summary,
    }
}
