//! A plain `CREATE INDEX` takes a SHARE lock: every INSERT, UPDATE and DELETE on the table waits
//! for the whole build, which on a large table means minutes of write outage.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "require-concurrent-index-creation",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "CREATE INDEX without CONCURRENTLY on an existing table",
    docs: docs!("require-concurrent-index-creation"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::IndexStmt(i) = cx.node else { return };
    let Some(rel) = &i.relation else { return };
    // `ON ONLY parent` is the first step of indexing a partitioned table (PostgreSQL refuses
    // CONCURRENTLY there): it only creates the invalid parent index, instantly. On a plain
    // table ONLY changes nothing, so it is exempt only on a table known to be partitioned.
    let partitioned = cx.state.is_partitioned(&crate::state::RelName::of(rel));
    if i.concurrent || cx.is_new(rel) || (!rel.inh && partitioned) {
        return;
    }
    let name = if i.idxname.is_empty() {
        String::new()
    } else {
        format!(" `{}`", i.idxname)
    };
    out.flag_table(
        cx.start(),
        rel,
        format!(
            "CREATE INDEX{name} on existing table `{}` blocks all writes to it (SHARE lock) until the index is built",
            ast::rel_display(rel)
        ),
        if partitioned {
            "PostgreSQL cannot build an index on a partitioned table concurrently: CREATE INDEX ... ON ONLY the parent, CREATE INDEX CONCURRENTLY on each partition, then ALTER INDEX ... ATTACH PARTITION each one"
        } else if rel.inh {
            "use CREATE INDEX CONCURRENTLY; strata detects it and runs that migration outside a transaction (give the index its own migration)"
        } else {
            "use CREATE INDEX CONCURRENTLY; ON ONLY only helps on a partitioned table (strata could not tell this one is: lint with --pending, or suppress with a reason)"
        },
    );
}
