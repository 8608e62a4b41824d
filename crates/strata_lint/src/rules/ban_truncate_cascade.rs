//! `TRUNCATE ... CASCADE` also empties every table that references the truncated one, and their
//! referencing tables in turn: the blast radius is not visible in the statement.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "ban-truncate-cascade",
    category: Category::Breaking,
    default: ERROR,
    gate: Gate::Always,
    summary: "TRUNCATE ... CASCADE",
    docs: docs!("ban-truncate-cascade"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::TruncateStmt(t) = cx.node else { return };
    if t.behavior == pg_query::protobuf::DropBehavior::DropCascade as i32 {
        out.flag(
            cx.start(),
            "TRUNCATE ... CASCADE also empties every table with a foreign key to these tables, recursively",
            "name every table to empty explicitly and drop CASCADE",
        );
    }
}
