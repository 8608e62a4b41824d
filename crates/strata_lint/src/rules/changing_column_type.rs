//! Most type changes rewrite the table (and rebuild its indexes) under an ACCESS EXCLUSIVE lock.
//! A few are free because the old values are already valid in the new type: widening a
//! varchar, varchar to text, widening numeric precision, cidr to inet.

use super::prelude::*;
use crate::ast::ColType;

pub(crate) static RULE: Rule = Rule {
    name: "changing-column-type",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "ALTER COLUMN ... TYPE that rewrites an existing table",
    docs: docs!("changing-column-type"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let Some((a, rel)) = cx.altered_existing_table() else {
        return;
    };
    for cmd in ast::alter_cmds(a) {
        if ast::subtype(cmd) != AlterTableType::AtAlterColumnType {
            continue;
        }
        let Some(col) = ast::cmd_column(cmd) else {
            continue;
        };
        let Some(t) = &col.type_name else { continue };
        let new = ColType::of(t);
        let using = col.raw_default.is_some();
        let old = cx
            .state
            .column_type(&crate::state::RelName::of(rel), &cmd.name);
        if !using && old.is_some_and(|old| free_change(old, &new)) {
            continue;
        }
        let from = old
            .map(|o| format!(" from {}", o.display()))
            .unwrap_or_default();
        out.flag_table(
            cx.at(t.location),
            rel,
            format!(
                "changing `{}.{}`{from} to {} rewrites the table and its indexes under an ACCESS EXCLUSIVE lock{}",
                ast::rel_display(rel),
                cmd.name,
                new.display(),
                if old.is_none() { " (the old type is not known from this set, so strata cannot tell it is free)" } else { "" }
            ),
            "add a new column, backfill it in batches, switch the application, then drop the old column",
        );
    }
}

/// Type changes PostgreSQL performs without touching the rows.
fn free_change(old: &ColType, new: &ColType) -> bool {
    if old.array != new.array {
        return false;
    }
    if old == new {
        return true;
    }
    match (old.base.as_ref(), new.base.as_ref()) {
        ("varchar", "varchar") => {
            new.mods.is_empty()
                || old
                    .mods
                    .first()
                    .zip(new.mods.first())
                    .is_some_and(|(o, n)| n >= o)
        }
        ("varchar", "text") => true,
        ("text", "varchar") => new.mods.is_empty(),
        ("numeric", "numeric") => match (&*old.mods, &*new.mods) {
            (_, []) => true,
            ([p], [np]) | ([p, 0], [np]) | ([p], [np, 0]) => np >= p,
            ([p, s], [np, ns]) => ns == s && np >= p,
            _ => false,
        },
        ("cidr", "inet") => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(base: &str, mods: &[i64]) -> ColType {
        ColType {
            base: base.to_owned().into(),
            mods: mods.into(),
            array: false,
        }
    }

    #[test]
    fn widening_is_free_and_narrowing_is_not() {
        assert!(free_change(&ty("varchar", &[20]), &ty("varchar", &[40])));
        assert!(!free_change(&ty("varchar", &[40]), &ty("varchar", &[20])));
        assert!(free_change(&ty("varchar", &[40]), &ty("text", &[])));
        assert!(!free_change(&ty("text", &[]), &ty("varchar", &[10])));
        assert!(free_change(
            &ty("numeric", &[10, 2]),
            &ty("numeric", &[12, 2])
        ));
        assert!(!free_change(
            &ty("numeric", &[10, 2]),
            &ty("numeric", &[12, 3])
        ));
        assert!(!free_change(&ty("int4", &[]), &ty("int8", &[])));
    }
}
