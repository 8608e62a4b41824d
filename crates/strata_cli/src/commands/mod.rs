//! One module per verb. Each takes resolved settings and writers, calls the engine
//! (`strata_engine`), renders its outcome and returns the exit code; none of them calls
//! another. The migrating verbs share `crate::run`, which drives `strata_engine::migrate`.

pub mod adopt;
pub mod baseline;
pub mod fresh;
pub mod lint;
pub mod new;
pub mod renumber;
pub mod schema;
pub mod squash;
pub mod status;
pub mod validate;
pub mod verify;

/// Exit codes, documented in the README.
pub mod exit {
    /// Success, or nothing to do.
    pub const OK: i32 = 0;
    /// Findings: pending or drifted migrations under `--check`, validation failures.
    pub const FINDINGS: i32 = 1;
    /// Errors: bad input, failed migration, unreachable database; also crashes (panics).
    pub const ERROR: i32 = 2;
    /// The reader of stdout exited first (`strata status | head -1`): 128 + SIGPIPE, as a shell
    /// reports a process the signal killed.
    pub const BROKEN_PIPE: i32 = 141;
}

/// Output streams of a command.
pub struct Io<'a> {
    /// Results (text or JSON).
    pub out: &'a mut dyn std::io::Write,
    /// Progress, notes and diagnostics.
    pub err: &'a mut dyn std::io::Write,
}
