//! Waiting on other sessions' locks: a step that hits `lock_timeout` is retried with backoff,
//! and while it waits, the migration lock's idle connection looks up who blocks it so the
//! operator learns it while strata still waits.

use super::statements::run_statements;
use super::transactional::run_transactional;
use super::{ExecError, ExecOptions, Failure, Reporter, Run};
use crate::session::Session;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use strata_model::TransactionMode;
use strata_sql::ExecutionShape;

/// A session holding a lock the migration waits for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Blocker {
    /// Its backend PID (what `pg_terminate_backend` takes).
    pub pid: i32,
    /// `application_name`.
    pub application_name: String,
    /// `state` (`active`, `idle in transaction`, ...).
    pub state: String,
    /// Age of its transaction in seconds, when it has one.
    pub transaction_age_s: Option<i64>,
    /// Its current or last query, truncated.
    pub query: String,
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} ({}, {}",
            self.pid,
            if self.application_name.is_empty() {
                "no application_name"
            } else {
                &self.application_name
            },
            self.state
        )?;
        if let Some(age) = self.transaction_age_s {
            write!(f, ", transaction open for {age}s")?;
        }
        write!(f, "): {}", self.query)
    }
}

/// Exponential backoff with jitter: `base * 2^(attempt-1)`, capped at 30 s, scaled by a
/// random factor in [0.75, 1.25) so that several blocked runs do not retry in lockstep.
pub(super) fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(Duration::from_secs(30));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = u64::from(nanos) ^ (u64::from(std::process::id()) << 32) ^ u64::from(attempt);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    let factor = 0.75 + (x % 1000) as f64 / 2000.0;
    exp.mul_f64(factor)
}

/// Runs `step`; once it has taken longer than a moment, looks every second for sessions that
/// block the executing backend and reports each new set of them.
pub(super) async fn watch_blockers<F: std::future::Future>(
    step: F,
    monitor: Option<&Session>,
    backend_pid: i32,
    on_blocked: &mut impl FnMut(&[Blocker]),
) -> F::Output {
    let Some(monitor) = monitor else {
        return step.await;
    };
    tokio::pin!(step);
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_millis(700),
        Duration::from_secs(1),
    );
    let mut last: Vec<i32> = Vec::new();
    loop {
        tokio::select! {
            out = &mut step => return out,
            _ = ticks.tick() => {
                if let Ok(blockers) = blockers_of(monitor, backend_pid).await {
                    let pids: Vec<i32> = blockers.iter().map(|b| b.pid).collect();
                    if !blockers.is_empty() && pids != last {
                        on_blocked(&blockers);
                    }
                    last = pids;
                }
            }
        }
    }
}

/// The sessions `pg_blocking_pids` names for backend `pid`, looked up on `session`, with what
/// an operator needs to act.
pub async fn blockers_of(
    session: &Session,
    pid: i32,
) -> Result<Vec<Blocker>, tokio_postgres::Error> {
    let rows = session
        .client
        .query(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), \
                    extract(epoch FROM now() - a.xact_start)::bigint, left(coalesce(a.query, ''), 200) \
             FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1)) ORDER BY a.pid",
            &[&pid],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Blocker {
            pid: r.get(0),
            application_name: r.get(1),
            state: r.get(2),
            transaction_age_s: r.get(3),
            query: r
                .get::<_, String>(4)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect())
}

/// Runs one step, and again after `lock_timeout` (55P03) up to `opts.lock_retries` times
/// with [`backoff`]: the failed attempt was rolled back (or, statement by statement, resumes
/// where it stopped), so trying again later is safe. Meanwhile [`watch_blockers`] reports the
/// sessions the step waits for; they are named in the error if strata gives up.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_with_retries(
    session: &mut Session,
    run: &Run<'_>,
    shape: &ExecutionShape,
    resume_from: usize,
    opts: &ExecOptions,
    monitor: Option<&Session>,
    backend_pid: i32,
    reporter: &mut impl Reporter,
) -> Result<(), Box<ExecError>> {
    let (m, key) = (run.m, run.key);
    let mut resume = resume_from;
    let mut attempt = 0u32;
    let mut seen_blockers: Vec<Blocker> = Vec::new();
    loop {
        // A resumed run continues statement by statement whatever the file looks like now:
        // running it whole would repeat the statements that already completed.
        let step = async {
            match shape.decision.mode {
                TransactionMode::Transactional if resume == 0 => {
                    run_transactional(session, run, shape).await
                }
                TransactionMode::Transactional => run_statements(session, run, resume).await,
                _ => run_statements(session, run, resume).await,
            }
        };
        let outcome = watch_blockers(step, monitor, backend_pid, &mut |b: &[Blocker]| {
            reporter.waiting(m, b);
            for blocker in b {
                if !seen_blockers.iter().any(|x| x.pid == blocker.pid) {
                    seen_blockers.push(blocker.clone());
                }
            }
        })
        .await;
        match outcome {
            // lock_timeout: the transaction (or the one statement) was rolled back, so
            // trying again later is safe; a non-transactional run resumes where it stopped.
            Err(f)
                if f.failure.sqlstate == "55P03"
                    && attempt < opts.lock_retries
                    && !opts.interrupted.load(Ordering::SeqCst) =>
            {
                attempt += 1;
                resume = f.statements_done.unwrap_or(resume);
                let delay = backoff(opts.retry_delay, attempt);
                reporter.retrying(m, attempt, opts.lock_retries, delay, &seen_blockers);
                let until = Instant::now() + delay;
                while Instant::now() < until && !opts.interrupted.load(Ordering::SeqCst) {
                    tokio::time::sleep(
                        Duration::from_millis(50)
                            .min(until.saturating_duration_since(Instant::now())),
                    )
                    .await;
                }
                if opts.interrupted.load(Ordering::SeqCst) {
                    let mut f = run.error(
                        Failure::plain("interrupted while waiting to retry after lock_timeout"),
                        format!("stopped by a signal; {key} was rolled back after its last attempt and is not applied"),
                        "run the same command again to continue".into(),
                    );
                    f.interrupted = true;
                    f.blockers = seen_blockers.clone();
                    break Err(f);
                }
            }
            Err(mut f) => {
                f.blockers = seen_blockers.clone();
                if f.failure.sqlstate == "55P03" {
                    f.next = format!(
                        "{}; strata gave up after {} attempt(s) waiting for locks{} (raise --lock-timeout or --lock-retries, or end the blocking session)",
                        f.next,
                        attempt + 1,
                        if seen_blockers.is_empty() { String::new() } else { format!(" held by {}", seen_blockers.iter().map(|b| format!("pid {}", b.pid)).collect::<Vec<_>>().join(", ")) }
                    );
                }
                break Err(f);
            }
            Ok(()) => break Ok(()),
        }
    }
}
