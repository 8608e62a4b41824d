//! `fresh`: the development reset. The engine drops what the selected sets' migrations
//! created (`strata_engine::fresh::reset`); this module says what went, then applies the
//! migrations again as `up` does (`crate::run`).

use super::Io;
use crate::config::Settings;
use crate::render;
use anyhow::Result;
use strata_plan::Target;

/// Runs `fresh`.
pub async fn run(settings: &Settings, confirm: Option<&str>, io: &mut Io<'_>) -> Result<i32> {
    let mut lines = render::Lines::new(&mut *io.out);
    let err = &mut *io.err;
    let reset = strata_engine::fresh::reset(
        settings,
        confirm,
        &mut |m: &str| {
            let _ = writeln!(err, "{m}");
        },
        &mut |set| {
            let dropped = if set.dropped.is_empty() {
                "nothing".to_owned()
            } else {
                set.dropped.join(", ")
            };
            lines.line(format_args!("set {}: dropped {dropped}", set.set));
        },
    )
    .await;
    lines.finish()?;
    reset?;
    crate::run::run(
        settings,
        Target::Up {
            to: None,
            steps: None,
        },
        false,
        io,
    )
    .await
}
