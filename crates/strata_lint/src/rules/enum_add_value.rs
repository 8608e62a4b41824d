//! `ALTER TYPE ... ADD VALUE` can run in a transaction since PostgreSQL 12, but the new value
//! cannot be used until that transaction commits ("unsafe use of new value"). Before 12 it
//! cannot run in a transaction block at all.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "enum-add-value",
    category: Category::Transactions,
    default: ERROR,
    gate: Gate::Advisory,
    summary: "an enum value used in the transaction that added it (or ADD VALUE in a transaction before PostgreSQL 12)",
    docs: docs!("enum-add-value"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if !cx.in_tx {
        return;
    }
    if let N::AlterEnumStmt(e) = cx.node {
        if !e.new_val.is_empty() && e.old_val.is_empty() && cx.options.target_version < 12 {
            out.flag(
                cx.start(),
                format!(
                    "ALTER TYPE ... ADD VALUE cannot run inside a transaction block before PostgreSQL 12 (target is {})",
                    cx.options.target_version
                ),
                "put it in its own migration with `-- strata:no-transaction`",
            );
        }
        return;
    }
    if cx.state.enum_values_added().is_empty() {
        return;
    }
    let uses = EnumUses::of(cx.node);
    for (value, location) in ast::string_constants(cx.node) {
        let Some(added) = cx
            .state
            .enum_values_added()
            .iter()
            .find(|a| a.value == value && a.tx == cx.tx)
        else {
            continue;
        };
        // A string that merely spells the label is not a use: it must be cast to the type, or
        // meet a column (or a column definition) of that type in this statement.
        // When no column of the type is known at all (the table predates the set and there is
        // no catalog), any use of the label counts: better a question than a failed deploy.
        let enum_columns = cx.state.columns_of_type(&added.type_name);
        let used = uses
            .casts
            .iter()
            .any(|(v, t)| *v == value && *t == added.type_name)
            || uses.typed_columns.contains(&added.type_name)
            || uses
                .columns
                .iter()
                .any(|c| enum_columns.contains(c.as_str()))
            || enum_columns.is_empty();
        if !used {
            continue;
        }
        out.flag(
            location.map_or(cx.start(), |l| cx.base + l),
            format!(
                "'{value}' was added to enum `{}` by statement {} in this same transaction; PostgreSQL refuses to use it before that transaction commits",
                added.type_name,
                added.statement + 1
            ),
            "move the statements that use the new value to a later migration",
        );
    }
}

/// What a statement does that can use an enum value.
struct EnumUses {
    /// `'label'::type` casts: (label, type name).
    casts: Vec<(String, String)>,
    /// Columns referenced, assigned or altered.
    columns: Vec<String>,
    /// Types of columns defined in the statement.
    typed_columns: Vec<String>,
}

impl EnumUses {
    fn of(node: &N) -> EnumUses {
        let mut uses = EnumUses {
            casts: Vec::new(),
            columns: Vec::new(),
            typed_columns: Vec::new(),
        };
        let type_of = |t: Option<&serde_json::Value>| -> Option<String> {
            t?.get("names")?
                .as_array()?
                .last()?
                .pointer("/node/String/sval")?
                .as_str()
                .map(str::to_owned)
        };
        ast::visit(node, &mut |kind, fields| match kind {
            "TypeCast" => {
                let value = fields
                    .get("arg")
                    .and_then(|a| a.pointer("/node/AConst/val/Sval/sval"))
                    .and_then(|v| v.as_str());
                if let (Some(v), Some(t)) = (value, type_of(fields.get("type_name"))) {
                    uses.casts.push((v.to_owned(), t));
                }
            }
            "ColumnRef" => {
                if let Some(name) = fields
                    .get("fields")
                    .and_then(|f| f.as_array())
                    .and_then(|f| f.last())
                    .and_then(|f| f.pointer("/node/String/sval"))
                    .and_then(|v| v.as_str())
                {
                    uses.columns.push(name.to_owned());
                }
            }
            "ResTarget" | "AlterTableCmd" => {
                if let Some(name) = fields.get("name").and_then(|v| v.as_str()) {
                    if !name.is_empty() {
                        uses.columns.push(name.to_owned());
                    }
                }
            }
            "ColumnDef" => {
                if let Some(t) = type_of(fields.get("type_name")) {
                    uses.typed_columns.push(t);
                }
            }
            _ => {}
        });
        uses
    }
}
