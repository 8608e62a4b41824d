//! Everything strata shows a person or a script: status tables, plans, progress, JSON, and
//! diagnostics against source lines. Library crates return data; this module turns it into
//! text, so the same `Plan` is rendered by `status`, `up --dry-run` and `up`.

use std::io::Write;
use strata_engine::documents::{JournalDocument, PlanDocument, PlanStepDocument};
use strata_engine::LoadedSet;
use strata_model::{Migration, TransactionMode};
use strata_pg::{ExecError, Notice, StepDone};
use strata_plan::{Plan, State, Step};
use strata_sql::{analyze, decide_transaction_mode};

/// Prints a JSON document on one line. Through `serde_json::Value`, so the keys come out in
/// the alphabetical order the JSON contract has always had (see `strata_engine::documents`).
pub fn print_json(out: &mut dyn Write, doc: &impl serde::Serialize) -> std::io::Result<()> {
    let value = serde_json::to_value(doc).map_err(std::io::Error::other)?;
    writeln!(out, "{value}")
}

/// The ignored files as `status` lists them: top-level files by name, and the files below a
/// sub-directory once, as that directory with a count (a sqitch project's `queries/`, a
/// `seeds/` folder), so a large helper tree does not bury the table.
fn ignored_summary(ignored: &[std::path::PathBuf]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut dirs: Vec<(String, usize)> = Vec::new();
    for path in ignored {
        let mut parts = path.components();
        let first = parts
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        match (first, parts.next()) {
            (Some(dir), Some(_)) => match dirs.iter_mut().find(|(d, _)| *d == dir) {
                Some((_, n)) => *n += 1,
                None => dirs.push((dir, 1)),
            },
            _ => out.push(path.display().to_string()),
        }
    }
    out.extend(
        dirs.into_iter()
            .map(|(dir, n)| format!("{dir}/ ({n} file{})", if n == 1 { "" } else { "s" })),
    );
    out
}

/// The BY cell of a status row: who applied it and how long it took.
struct ByCell<'a>(&'a str, i64);

impl std::fmt::Display for ByCell<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {} ms", self.0, self.1)
    }
}

/// A cell that is empty when there is nothing to show.
struct OptionalCell<T>(Option<T>);

impl<T: std::fmt::Display> std::fmt::Display for OptionalCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(cell) => cell.fmt(f),
            None => Ok(()),
        }
    }
}

/// How many characters `n` takes in decimal (with its sign).
fn decimal_digits(n: i64) -> usize {
    let sign = usize::from(n < 0);
    sign + n
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1)
}

/// Status of one set as a table.
pub fn status_text(set: &LoadedSet, plan: &Plan, out: &mut dyn Write) -> std::io::Result<()> {
    // One line per migration: buffered, so 10,000 migrations are a few writes, not 10,000.
    let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, out);
    status_table(set, plan, &mut buffered)?;
    buffered.flush()
}

fn status_table(set: &LoadedSet, plan: &Plan, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "set {} ({}, {} layout: {})",
        set.spec.name,
        set.set.dir.display(),
        set.set.detection.layout,
        set.set.detection.reason
    )?;
    if !set.set.ignored.is_empty() {
        writeln!(
            out,
            "  not migrations (ignored): {}",
            ignored_summary(&set.set.ignored).join(", ")
        )?;
    }
    for warning in &set.set.warnings {
        writeln!(out, "  warning: {warning}")?;
    }
    if plan.entries.is_empty() {
        writeln!(out, "  no migrations")?;
        return Ok(());
    }
    // Cells are written straight from the entries into one reused line (no string per cell
    // and row: a status of 10,000 migrations is 50,000 cells).
    // why not a crate: `tabwriter` and `comfy-table` measure cells in display width
    // (`unicode-width`) where this table has always counted chars, so a name with wide or
    // combining characters would line up differently; they also build a string per cell, and
    // pull a dependency into the binary for twenty lines. The `status_table` snapshot pins
    // the output.
    let header = ["STATE", "VERSION", "NAME", "APPLIED AT", "BY"];
    let mut widths = header.map(str::len);
    for e in &plan.entries {
        let by = e.applied.as_ref().map_or(0, |a| {
            a.applied_by.chars().count()
                + " in ".len()
                + decimal_digits(a.duration_ms)
                + " ms".len()
        });
        let cells = [
            e.state.as_str().chars().count(),
            e.version.as_ref().map_or(1, |v| v.chars().count()),
            e.name.chars().count(),
            e.applied
                .as_ref()
                .map_or(0, |a| a.applied_at.chars().count()),
            by,
        ];
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(cell);
        }
    }
    let mut line = String::new();
    let mut write_line = |cells: [&dyn std::fmt::Display; 5]| -> std::io::Result<()> {
        use std::fmt::Write as _;
        line.clear();
        line.push(' ');
        for (i, cell) in cells.iter().enumerate() {
            line.push(' ');
            let before = line.len();
            let _ = write!(line, "{cell}");
            if i < 4 {
                let written = line[before..].chars().count();
                line.extend(std::iter::repeat_n(' ', widths[i].saturating_sub(written)));
            }
        }
        writeln!(out, "{}", line.trim_end())
    };
    let [state, version, name, applied_at, by] = header;
    write_line([&state, &version, &name, &applied_at, &by])?;
    for e in &plan.entries {
        let by = e
            .applied
            .as_ref()
            .map(|a| ByCell(&a.applied_by, a.duration_ms));
        write_line([
            &e.state.as_str(),
            &e.version.as_deref().unwrap_or("R"),
            &e.name,
            &e.applied.as_ref().map_or("", |a| a.applied_at.as_str()),
            &OptionalCell(by),
        ])?;
    }
    let count = |s: State| plan.entries.iter().filter(|e| e.state == s).count();
    writeln!(
        out,
        "  {} applied, {} pending, {} other",
        count(State::Applied),
        count(State::Pending),
        plan.entries.len() - count(State::Applied) - count(State::Pending)
    )?;
    for f in &plan.findings {
        writeln!(out, "  {} {}: {}", f.state.as_str(), f.key, f.message)?;
        let entry = plan
            .entries
            .iter()
            .find(|e| e.key == f.key && f.state == State::Partial);
        if let Some(j) = entry.and_then(|e| JournalDocument::of(set, e)) {
            let ran = if j.done == 0 {
                "none".to_owned()
            } else {
                format!("1..{}", j.done)
            };
            writeln!(out, "    statements ran: {ran} of {}", j.total)?;
            if let Some(next) = &j.next {
                writeln!(
                    out,
                    "    next: statement {} ({}) at {}:{}:{}",
                    next.statement, next.summary, j.file, next.line, next.col
                )?;
            }
        }
    }
    Ok(())
}

/// What a step does, for rendering.
struct StepView<'a> {
    action: &'static str,
    key: String,
    migration: Option<&'a Migration>,
    /// The script that runs; `None` for steps that only record (baseline, mark, accept).
    script: Option<&'a strata_model::Script>,
    /// What is recorded instead of running, for steps that run nothing.
    records: Option<&'static str>,
    resume: usize,
}

fn view<'a>(set: &'a LoadedSet, step: &Step) -> StepView<'a> {
    let m = |i: usize| &set.migrations()[i];
    match step {
        Step::Apply {
            index,
            key,
            resume_from,
            reason,
        } => StepView {
            action: if matches!(reason, strata_plan::ApplyReason::Resume) {
                "resume"
            } else {
                "apply"
            },
            key: key.clone(),
            migration: Some(m(*index)),
            script: Some(&m(*index).up),
            records: None,
            resume: *resume_from,
        },
        Step::Revert { index, key } => StepView {
            action: "revert",
            key: key.clone(),
            migration: Some(m(*index)),
            script: m(*index).down.as_ref(),
            records: None,
            resume: 0,
        },
        Step::Baseline { index, key } => StepView {
            action: "baseline",
            key: key.clone(),
            migration: Some(m(*index)),
            script: None,
            records: Some("recorded as applied, not run"),
            resume: 0,
        },
        Step::Mark {
            index,
            key,
            applied,
        } => StepView {
            action: if *applied {
                "mark applied"
            } else {
                "mark reverted"
            },
            key: key.clone(),
            migration: index.map(m),
            script: None,
            records: Some(if *applied {
                "recorded as applied, nothing runs"
            } else {
                "its history row is removed, nothing runs"
            }),
            resume: 0,
        },
        Step::Accept { index, key } => StepView {
            action: "accept",
            key: key.clone(),
            migration: Some(m(*index)),
            script: None,
            records: Some("its recorded checksum becomes the file's current one"),
            resume: 0,
        },
    }
}

fn mode_name(mode: TransactionMode) -> &'static str {
    match mode {
        TransactionMode::Transactional => "in one transaction",
        TransactionMode::NonTransactional => "statement by statement, outside a transaction",
        TransactionMode::ScriptManaged => "under the script's own BEGIN/COMMIT",
    }
}

/// A plan as its JSON document.
pub fn plan_document(set: &LoadedSet, plan: &Plan, with_sql: bool) -> PlanDocument {
    let steps = plan
        .steps
        .iter()
        .map(|s| {
            let v = view(set, s);
            let (mode, reason) = match v.script {
                Some(sc) => {
                    let a = analyze(sc.sql());
                    let shape = decide_transaction_mode(sc.sql(), &a, &sc.directives);
                    (Some(shape.decision.mode), Some(shape.decision.reason))
                }
                None => (None, v.records.map(str::to_owned)),
            };
            PlanStepDocument {
                action: v.action,
                key: v.key,
                version: v
                    .migration
                    .and_then(|m| m.id.version.as_ref())
                    .map(|v| v.to_string()),
                name: v.migration.map(|m| m.id.name.clone()),
                file: v
                    .script
                    .map(|s| s.file.path().display().to_string())
                    .or_else(|| v.migration.map(|m| m.path().display().to_string())),
                mode,
                mode_reason: reason,
                resume_from_statement: (v.resume > 0).then_some(v.resume + 1),
                sql: if with_sql {
                    v.script.map(|s| s.sql().to_owned())
                } else {
                    None
                },
            }
        })
        .collect();
    PlanDocument {
        name: set.spec.name.clone(),
        layout: set.set.detection.layout.as_str(),
        steps,
    }
}

/// A plan as text; with `with_sql`, the exact SQL that would run.
pub fn plan_text(
    set: &LoadedSet,
    plan: &Plan,
    with_sql: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if plan.steps.is_empty() {
        writeln!(out, "set {}: nothing to do", set.spec.name)?;
        return Ok(());
    }
    writeln!(out, "set {}: {} step(s)", set.spec.name, plan.steps.len())?;
    for s in &plan.steps {
        let v = view(set, s);
        let name = v
            .migration
            .map(|m| m.id.to_string())
            .unwrap_or_else(|| v.key.clone());
        let from = if v.resume > 0 {
            format!(", from statement {}", v.resume + 1)
        } else {
            String::new()
        };
        match v.script {
            Some(script) => {
                let a = analyze(script.sql());
                let shape = decide_transaction_mode(script.sql(), &a, &script.directives);
                writeln!(
                    out,
                    "  {} {name}{from}: {} ({})",
                    v.action,
                    mode_name(shape.decision.mode),
                    shape.decision.reason
                )?;
                writeln!(out, "    file: {}", script.file.path().display())?;
                if with_sql {
                    for line in script.sql().trim_end().lines() {
                        writeln!(out, "    | {}", line.trim_end_matches('\r'))?;
                    }
                }
            }
            None => writeln!(
                out,
                "  {} {name}: {}",
                v.action,
                v.records.unwrap_or("nothing runs")
            )?,
        }
    }
    Ok(())
}

impl Progress<'_> {
    /// Where step lines go: nowhere with `--json` (the JSON document says it all).
    fn out(&mut self) -> &mut dyn Write {
        if self.json {
            &mut self.sink
        } else {
            &mut *self.out
        }
    }

    /// Writes a line even in quiet mode (operational warnings), above a progress bar if any.
    fn line(&mut self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(self.out(), "{text}");
            }
        }
    }
}

/// Progress output for `up`/`down`: what the engine reports while a run applies, as lines
/// (or a progress bar on a terminal for long plans), and each set's server notices kept for
/// the JSON document.
pub struct Progress<'a> {
    /// Where step lines go.
    pub out: &'a mut dyn Write,
    /// Where notes about the run go.
    pub err: &'a mut dyn Write,
    /// `--json`: no step lines (the document carries them).
    pub json: bool,
    /// Hide notices and per-migration lines.
    pub quiet: bool,
    /// The current set's notices.
    pub notices: Vec<(String, Notice)>,
    /// Each finished set's notices, in run order.
    pub finished: Vec<Vec<(String, Notice)>>,
    /// The current set's terminal progress bar.
    pub bar: Option<indicatif::ProgressBar>,
    sink: std::io::Sink,
}

impl<'a> Progress<'a> {
    /// Progress for a run printing to `out` and `err`.
    pub fn new(out: &'a mut dyn Write, err: &'a mut dyn Write, json: bool, quiet: bool) -> Self {
        Progress {
            out,
            err,
            json,
            quiet,
            notices: Vec::new(),
            finished: Vec::new(),
            bar: None,
            sink: std::io::sink(),
        }
    }
}

impl strata_engine::migrate::ApplyReporter for Progress<'_> {
    fn note(&mut self, message: &str) {
        let _ = writeln!(self.err, "{message}");
    }

    fn rehashed(&mut self, set: &str, rows: usize) {
        if !self.quiet && !self.json {
            let _ = writeln!(
                self.err,
                "set {set}: recorded {rows} checksum(s) in the current algorithm (the files are unchanged; see docs/REGISTRY.md)"
            );
        }
    }

    fn set_started(&mut self, set: &str, steps: usize) {
        if !self.json && !self.quiet {
            let _ = if steps == 0 {
                writeln!(self.out, "set {set}: nothing to do")
            } else {
                writeln!(self.out, "set {set}: {steps} step(s)")
            };
        }
        self.bar = (!self.json
            && !self.quiet
            && steps > 20
            && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .then(|| indicatif::ProgressBar::new(steps as u64));
    }

    fn set_finished(&mut self, _set: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.finished.push(std::mem::take(&mut self.notices));
    }
}

impl strata_pg::Reporter for Progress<'_> {
    fn step_started(&mut self, m: &Migration, action: &'static str, _mode: TransactionMode) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{action} {}", m.id));
        }
    }

    fn step_finished(&mut self, done: &StepDone) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if !self.quiet {
            let verb = match done.action {
                "apply" => "applied",
                "revert" => "reverted",
                "baseline" => "baselined",
                "resume" => "resumed",
                "mark" => "marked",
                "accept" => "accepted",
                other => other,
            };
            let line = format!(
                "  {verb} {} ({} ms{})",
                done.key,
                done.duration_ms,
                if done.mode == TransactionMode::Transactional {
                    ""
                } else {
                    ", outside a transaction"
                }
            );
            match &self.bar {
                Some(bar) => bar.println(line),
                None => {
                    let _ = writeln!(self.out(), "{line}");
                }
            }
        }
    }

    fn waiting(&mut self, m: &Migration, blockers: &[strata_pg::exec::Blocker]) {
        let mut text = format!("    {} is waiting for locks held by:", m.id);
        for b in blockers {
            text.push_str(&format!("\n      {b}"));
        }
        text.push_str("\n      (strata keeps waiting up to lock_timeout, then retries; ending a blocker: SELECT pg_cancel_backend(pid))");
        self.line(text);
    }

    fn retrying(
        &mut self,
        m: &Migration,
        attempt: u32,
        of: u32,
        delay: std::time::Duration,
        blockers: &[strata_pg::exec::Blocker],
    ) {
        let who = if blockers.is_empty() {
            String::new()
        } else {
            format!(
                " (blocked by {})",
                blockers
                    .iter()
                    .map(|b| format!("pid {}", b.pid))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        self.line(format!(
            "    lock_timeout reached{who}: {} rolled back; retry {attempt} of {of} in {:.1}s",
            m.id,
            delay.as_secs_f64()
        ));
    }

    fn notice(&mut self, m: &Migration, notice: &Notice) {
        if !self.quiet {
            let _ = writeln!(
                self.out(),
                "    {}: {} ({})",
                notice.severity,
                notice.message,
                m.id
            );
        }
        self.notices.push((m.id.registry_key(), notice.clone()));
    }
}

/// A failed migration, rendered against its source line (without colour: the text also goes
/// where a terminal is not, such as a JSON document's neighbour or a log).
pub fn exec_error_text(err: &ExecError) -> String {
    exec_error_text_coloured(err, false)
}

/// [`exec_error_text`], with ANSI colours when `color` (stderr is a terminal).
pub fn exec_error_text_coloured(err: &ExecError, color: bool) -> String {
    let mut rendered = strata_report::render(&exec_diagnostic(err), color);
    if !err.done.is_empty() {
        let keys: Vec<&str> = err.done.iter().map(|d| d.key.as_str()).collect();
        rendered.push_str(&format!(
            "\ncompleted before the failure: {}\n",
            keys.join(", ")
        ));
    }
    rendered
}

/// A failed migration as a diagnostic: the server's message and SQLSTATE, the place it
/// reported (read from the file again: the script may be long, the excerpt folds around the
/// line), then the statement, the server's detail, hint and context, the sessions that
/// blocked it, the database's state and what to do next.
fn exec_diagnostic(err: &ExecError) -> strata_report::Diagnostic {
    use strata_report::Footer;
    let f = &err.failure;
    let mut title = format!(
        "{}{} of migration {} failed: {}",
        if err.interrupted { "interrupted: " } else { "" },
        err.action,
        err.key,
        f.message
    );
    if !f.sqlstate.is_empty() {
        title.push_str(&format!(" [SQLSTATE {}]", f.sqlstate));
    }
    let mut footers = Vec::new();
    if let (Some(n), Some(s)) = (f.statement, &f.statement_summary) {
        footers.push(Footer::Note(format!("in statement {n} ({s})")));
    }
    if let Some(d) = &f.detail {
        footers.push(Footer::Note(format!("detail: {d}")));
    }
    if let Some(h) = &f.hint {
        footers.push(Footer::Note(format!("hint: {h}")));
    }
    if let Some(c) = &f.context {
        footers.push(Footer::Note(format!("context: {c}")));
    }
    for b in &err.blockers {
        footers.push(Footer::Note(format!("blocked by {b}")));
    }
    if f.sqlstate == "57014" && !err.interrupted {
        footers.push(Footer::Note("the statement was cancelled by statement_timeout (raise it with --statement-timeout or in strata.toml)".to_owned()));
    }
    footers.push(Footer::Note(format!("state: {}", err.state)));
    footers.push(Footer::Help(err.next.clone()));
    let text = std::fs::read(&err.path).ok().map(|b| {
        let b = b
            .strip_prefix(b"\xEF\xBB\xBF")
            .map(<[u8]>::to_vec)
            .unwrap_or(b);
        String::from_utf8_lossy(&b).into_owned()
    });
    let excerpt = text.zip(f.location).map(|(src, loc)| {
        let line_start: usize = src
            .split_inclusive('\n')
            .take(loc.line - 1)
            .map(str::len)
            .sum();
        let line_text = src[line_start..].split('\n').next().unwrap_or("");
        let col_byte: usize = line_text
            .chars()
            .take(loc.col - 1)
            .map(char::len_utf8)
            .sum();
        let start = line_start + col_byte.min(line_text.len());
        let end = (start
            + line_text[col_byte.min(line_text.len())..]
                .split(|c: char| c.is_whitespace() || c == ';')
                .next()
                .map_or(1, str::len)
                .max(1))
        .min(src.len().max(start + 1));
        let end = end.min(src.len());
        strata_report::Excerpt {
            text: src,
            first_line: 1,
            span: start..end.max(start),
            label: Some("here".into()),
            fold: true,
        }
    });
    strata_report::Diagnostic {
        level: strata_report::Level::Error,
        title,
        origin: err.path.display().to_string(),
        excerpt,
        footers,
    }
}

/// Lines printed while an engine function runs, from its reporter's callbacks, which cannot
/// fail: the first failed write (stdout closed) is kept and nothing more is written, and
/// [`Lines::finish`] returns it once the engine function is back, so that a closed pipe still
/// ends strata with its code.
pub struct Lines<'a> {
    out: &'a mut dyn Write,
    failed: Option<std::io::Error>,
}

impl<'a> Lines<'a> {
    /// Lines to `out`.
    pub fn new(out: &'a mut dyn Write) -> Self {
        Lines { out, failed: None }
    }

    /// Writes one line, unless a write failed before.
    pub fn line(&mut self, text: std::fmt::Arguments<'_>) {
        if self.failed.is_none() {
            if let Err(e) = writeln!(self.out, "{text}") {
                self.failed = Some(e);
            }
        }
    }

    /// The first failed write, if any.
    pub fn finish(self) -> std::io::Result<()> {
        self.failed.map_or(Ok(()), Err)
    }
}

/// A failure to run migrations on a throwaway database: an execution failure rendered against
/// its file, as for `up`; a refusal as its message.
pub fn replay_error_text(err: &strata_engine::scratch::ReplayError) -> String {
    match err {
        strata_engine::scratch::ReplayError::Exec(e) => exec_error_text(e),
        other => other.to_string(),
    }
}

/// An engine error as the CLI reports it: the errors that carry an execution failure are
/// rendered against the failing file (their text is the diagnostic, not a cause chain); the
/// others keep their own message and causes.
pub fn engine_error(err: strata_engine::EngineError) -> anyhow::Error {
    use strata_engine::EngineError;
    match err {
        EngineError::Rebuild { source, .. } => anyhow::anyhow!(
            "rebuilding the expected schema failed:\n{}",
            replay_error_text(&source)
        ),
        EngineError::Replay { source, .. } => anyhow::Error::msg(replay_error_text(&source)),
        EngineError::AdoptFailed { source, .. } => anyhow::Error::msg(exec_error_text(&source)),
        EngineError::BaselineDoesNotApply { source } => {
            engine_error(*source).context("the baseline does not apply on a new database")
        }
        other => other.into(),
    }
}

/// Leaks `loaded` (the sets and plans) instead of dropping it: the process exits right after
/// the verb returns, and the operating system reclaims the memory at once, whereas freeing tens
/// of thousands of small strings one by one took about a tenth of a no-op run at N=10,000. The
/// sets hold no resources but memory (no files, sockets or locks; never pass a
/// `LoaderThread`, whose drop waits for the file cache's writes).
pub fn exit_without_freeing<T>(loaded: T) {
    std::mem::forget(loaded);
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_digits_counts_what_display_writes() {
        for n in [0, 9, 10, 99, 100, 12_345, -1, -10, i64::MAX, i64::MIN] {
            assert_eq!(super::decimal_digits(n), n.to_string().len(), "{n}");
        }
    }
}
