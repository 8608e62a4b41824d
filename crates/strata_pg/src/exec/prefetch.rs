//! Parse-ahead: libpg_query parsing a script is the executor's main CPU cost, so a helper
//! thread parses the next few steps' scripts while the server runs the current one.

use strata_model::{Migration, Script};
use strata_plan::{Plan, Step};
use strata_sql::{analyze, Analysis};

/// How many scripts the parsing thread works ahead of the executor.
const PARSE_AHEAD: usize = 4;

/// The analyses of the plan's apply and revert scripts, in step order, parsed on a helper
/// thread [`PARSE_AHEAD`] steps ahead of the executor. Only that many script texts are copied
/// to the thread at a time, so memory does not grow with the plan. The thread ends when the
/// executor drops this (an early return) or has taken every analysis.
pub(super) struct Prefetch<'a> {
    local: &'a [Migration],
    /// The scripts of the plan's apply and revert steps: (migration index, revert?).
    order: Vec<(usize, bool)>,
    sent: usize,
    to_thread: Option<std::sync::mpsc::Sender<String>>,
    from_thread: Option<std::sync::mpsc::Receiver<(String, Analysis)>>,
}

impl<'a> Prefetch<'a> {
    pub(super) fn new(local: &'a [Migration], plan: &Plan) -> Prefetch<'a> {
        let order: Vec<(usize, bool)> = plan
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::Apply { index, .. } => Some((*index, false)),
                Step::Revert { index, .. } => Some((*index, true)),
                _ => None,
            })
            .collect();
        let mut prefetch = Prefetch {
            local,
            order,
            sent: 0,
            to_thread: None,
            from_thread: None,
        };
        if prefetch.order.len() > 1 {
            let (to_thread, texts) = std::sync::mpsc::channel::<String>();
            let (results, from_thread) = std::sync::mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("strata-parse".into())
                .spawn(move || {
                    for sql in texts {
                        let analysis = analyze(&sql);
                        if results.send((sql, analysis)).is_err() {
                            break;
                        }
                    }
                });
            // Without the thread (spawn refused), the executor parses each script itself.
            if spawned.is_ok() {
                prefetch.to_thread = Some(to_thread);
                prefetch.from_thread = Some(from_thread);
                for _ in 0..PARSE_AHEAD {
                    prefetch.send_one();
                }
            }
        }
        prefetch
    }

    fn send_one(&mut self) {
        let (Some(tx), Some(&(index, revert))) = (&self.to_thread, self.order.get(self.sent))
        else {
            return;
        };
        let m = &self.local[index];
        let sql = if revert {
            m.down.as_ref().map_or("", |d| d.sql())
        } else {
            m.up.sql()
        };
        let _ = tx.send(sql.to_owned());
        self.sent += 1;
    }

    /// The analysis of `script`, the next step's script. The text travels with its analysis
    /// and is compared, so a mismatch can never run one script's statement ranges against
    /// another's text; then (and without the thread) the script is parsed here.
    pub(super) fn analysis(&mut self, script: &Script) -> Analysis {
        self.send_one();
        match self.from_thread.as_ref().map(|rx| rx.recv()) {
            Some(Ok((sql, analysis))) if sql == script.sql() => analysis,
            _ => analyze(script.sql()),
        }
    }
}
