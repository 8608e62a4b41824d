//! The context every engine call runs in: the resolved settings, the secrets no line may
//! show, and where the engine's notes go (the dev cluster being started, a wait for the
//! migration lock, a history taken over).
//!
//! A front end builds one `Ctx` and passes it to every verb; the database is not in it but a
//! parameter of each call ([`crate::DbTarget`]), so environments and fleets run the same verbs
//! against many databases with one context. The engine never prints: a note goes to the
//! context's sink, scrubbed of every secret first. The sink is behind a mutex so that a
//! context can be shared by futures that run on several threads (the library's callers).

use crate::settings::Settings;
use std::sync::{Arc, Mutex};

/// Where notes go.
type Sink = Box<dyn FnMut(&str) + Send>;

/// Settings, secrets and the notes sink of one front end.
pub struct Ctx {
    /// What the run does: sets, timeouts, registry, lint gate.
    pub settings: Settings,
    /// Passwords and other secrets: never in a note.
    secrets: Vec<String>,
    /// Where notes go (shared with the contexts [`Ctx::with_settings`] derives).
    sink: Arc<Mutex<Sink>>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("settings", &self.settings)
            .field("secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

impl Ctx {
    /// A context whose notes go nowhere (the library: its outcomes say what happened).
    pub fn new(settings: Settings) -> Ctx {
        Ctx {
            settings,
            secrets: Vec::new(),
            sink: Arc::new(Mutex::new(Box::new(|_: &str| {}))),
        }
    }

    /// Sends the notes to `sink` (the CLI: stderr), one line per call.
    pub fn with_notes(mut self, sink: impl FnMut(&str) + Send + 'static) -> Ctx {
        self.sink = Arc::new(Mutex::new(Box::new(sink)));
        self
    }

    /// Secrets to scrub from every note (a password from the database URL).
    pub fn with_secrets(mut self, secrets: Vec<String>) -> Ctx {
        self.secrets = secrets;
        self
    }

    /// The same secrets and notes for other settings (a verb that runs another on one of its
    /// sets: `adopt --infer --apply` records a baseline set by set).
    pub fn with_settings(&self, settings: Settings) -> Ctx {
        Ctx {
            settings,
            secrets: self.secrets.clone(),
            sink: self.sink.clone(),
        }
    }

    /// `text` with every secret replaced by `***` (see [`strata_pg::scrub`]).
    pub fn scrub(&self, text: &str) -> String {
        strata_pg::scrub(text, &self.secrets)
    }

    /// Tells the front end `line`.
    pub fn note(&self, line: &str) {
        let line = self.scrub(line);
        // A sink that panicked once still gets the later notes.
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sink(&line);
    }

    /// [`Ctx::note`] as a callback, for the engine's steps that take one.
    pub fn notes(&self) -> impl FnMut(&str) + '_ {
        move |line| self.note(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            sets: Vec::new(),
            registry_schema: "strata".into(),
            lock_wait: std::time::Duration::from_secs(1),
            lock_retries: 0,
            retry_delay: std::time::Duration::from_millis(1),
            json: false,
            quiet: false,
            allow_out_of_order: false,
            declared_schemas: Vec::new(),
            schemaless_sets: Vec::new(),
            project_root: std::env::temp_dir(),
            lint: Default::default(),
            configured_sets: Vec::new(),
            ignore_foreign: false,
            gate_min_table_bytes: 0,
            placeholders: Default::default(),
            file_cache: false,
        }
    }

    #[test]
    fn notes_reach_the_sink_without_secrets() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let ctx = Ctx::new(settings())
            .with_secrets(vec!["hunter2".into(), "hunter2-longer".into()])
            .with_notes(move |line| sink.lock().unwrap().push(line.to_owned()));
        ctx.note("connecting as app:hunter2-longer@db");
        let mut notes = ctx.notes();
        notes("retrying with hunter2");
        assert_eq!(
            *seen.lock().unwrap(),
            ["connecting as app:***@db", "retrying with ***"]
        );
    }

    #[test]
    fn a_context_is_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Ctx>();
    }
}
