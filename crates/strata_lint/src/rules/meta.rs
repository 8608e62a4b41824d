//! Findings about the linting itself. The engine reports them; they are rules so that they
//! have names, levels and documentation like every other finding.

use super::prelude::*;

fn engine_reports(_: &Ctx<'_>, _: &mut Sink) {}

/// A statement the parser rejects.
pub(crate) static SYNTAX_ERROR: Rule = Rule {
    name: "syntax-error",
    category: Category::Meta,
    default: ERROR,
    gate: Gate::Executor,
    summary: "a statement PostgreSQL's parser rejects (no other rule runs on it)",
    docs: docs!("syntax-error"),
    check: engine_reports,
};

/// A psql meta-command strata cannot run (`\gexec`, `\i`, `\set var value`, ...).
pub(crate) static UNSUPPORTED_META_COMMAND: Rule = Rule {
    name: "unsupported-meta-command",
    category: Category::Meta,
    default: ERROR,
    gate: Gate::Executor,
    summary: "a psql meta-command strata cannot run (`\\gexec`, `\\i`, `\\set` variables, ...)",
    docs: docs!("unsupported-meta-command"),
    check: engine_reports,
};

/// A suppression that suppresses nothing.
pub(crate) static UNUSED_SUPPRESSION: Rule = Rule {
    name: "unused-suppression",
    category: Category::Meta,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "a `-- strata:allow` comment that suppresses no finding",
    docs: docs!("unused-suppression"),
    check: engine_reports,
};

/// A suppression naming no rule.
pub(crate) static INVALID_SUPPRESSION: Rule = Rule {
    name: "invalid-suppression",
    category: Category::Meta,
    default: ERROR,
    gate: Gate::Advisory,
    summary: "a `-- strata:allow` comment naming a rule that does not exist",
    docs: docs!("invalid-suppression"),
    check: engine_reports,
};
