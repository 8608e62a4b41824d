//! `fresh`: the development reset. The engine drops what the selected sets' migrations
//! created (`strata_engine::fresh::reset`); this module says what went, then applies the
//! migrations again as `up` does (`crate::run`).

use super::Io;
use crate::render;
use anyhow::Result;
use strata_engine::settings::DbTarget;
use strata_engine::Ctx;
use strata_plan::Target;

/// Runs `fresh`.
pub async fn run(ctx: &Ctx, db: &DbTarget, confirm: Option<&str>, io: &mut Io<'_>) -> Result<i32> {
    let mut lines = render::Lines::new(&mut *io.out);
    let reset = strata_engine::fresh::reset(ctx, db, confirm, &mut |set| {
        let dropped = if set.dropped.is_empty() {
            "nothing".to_owned()
        } else {
            set.dropped.join(", ")
        };
        lines.line(format_args!("set {}: dropped {dropped}", set.set));
    })
    .await;
    lines.finish()?;
    reset?;
    crate::run::run(
        ctx,
        db,
        Target::Up {
            to: None,
            steps: None,
        },
        false,
        io,
    )
    .await
}
