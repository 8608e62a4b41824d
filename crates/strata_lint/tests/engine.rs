//! Runner- and state-awareness of the linter, beyond what single-rule fixtures show: pending
//! migrations make tables new, `report = false` units feed state silently, the transaction
//! mode comes from the executor's own decision, strata's lock_timeout satisfies the timeout
//! rule, suppressions are scoped and counted, and ranking by table size.

use std::sync::Arc;
use strata_lint::{lint, Level, Options, Report, Severity, Unit};
use strata_model::{Script, SourceFile};

fn script(name: &str, sql: &str) -> Script {
    let directives = strata_sql::parse_directives(sql, 1).unwrap();
    Script::whole(Arc::new(SourceFile::from_string(name, sql)), directives)
}

fn run(scripts: &[(&Script, bool, bool)], options: &Options) -> Report {
    let units: Vec<Unit<'_>> = scripts
        .iter()
        .map(|(s, pending, report)| Unit {
            name: s.file.path().display().to_string(),
            script: s,
            pending: *pending,
            report: *report,
        })
        .collect();
    lint(&units, options)
}

fn rules(report: &Report) -> Vec<&'static str> {
    report.findings.iter().map(|f| f.rule).collect()
}

#[test]
fn an_index_on_a_table_from_a_pending_migration_is_fine_but_not_from_an_applied_one() {
    let create = script("1.sql", "create table t (id bigint primary key);");
    let index = script("2.sql", "create index t_id on t (id);");
    let options = Options::default();
    let pending = run(&[(&create, true, true), (&index, true, true)], &options);
    assert!(!rules(&pending).contains(&"require-concurrent-index-creation"));
    let applied = run(&[(&create, false, false), (&index, true, true)], &options);
    assert_eq!(rules(&applied), ["require-concurrent-index-creation"]);
    assert_eq!(applied.scripts, 1, "applied migrations are not counted");
}

#[test]
fn concurrently_is_only_a_problem_inside_the_scripts_own_transaction() {
    let alone = script("a.sql", "create index concurrently i on t (a);");
    assert!(run(&[(&alone, false, true)], &Options::default())
        .findings
        .is_empty());
    let wrapped = script(
        "b.sql",
        "begin;\ncreate index concurrently i on t (a);\ncommit;\n",
    );
    let report = run(&[(&wrapped, false, true)], &Options::default());
    assert_eq!(rules(&report), ["concurrently-in-transaction"]);
    assert_eq!((report.findings[0].line, report.findings[0].col), (2, 1));
}

#[test]
fn strata_lock_timeout_satisfies_the_timeout_rule() {
    let alter = script("a.sql", "alter table t add column c text;");
    assert!(run(&[(&alter, false, true)], &Options::default())
        .findings
        .is_empty());
    let mut no_timeout = Options::default();
    no_timeout.lock_timeout_ms = 0;
    assert_eq!(
        rules(&run(&[(&alter, false, true)], &no_timeout)),
        ["require-lock-timeout"]
    );
    let with_set = script(
        "b.sql",
        "set lock_timeout = '2s';\nalter table t add column c text;",
    );
    assert!(run(&[(&with_set, false, true)], &no_timeout)
        .findings
        .is_empty());
    let directive = script(
        "c.sql",
        "-- strata:lock-timeout 3s\nalter table t add column c text;",
    );
    assert!(run(&[(&directive, false, true)], &no_timeout)
        .findings
        .is_empty());
    no_timeout
        .set_level("require-lock-timeout", Level::Off)
        .unwrap();
    assert!(run(&[(&alter, false, true)], &no_timeout)
        .findings
        .is_empty());
}

#[test]
fn not_valid_then_validate_in_a_later_migration_is_the_safe_pattern() {
    let add = script("1.sql", "alter table orders add constraint fk_orders_user foreign key (user_id) references users (id) not valid;");
    let validate = script(
        "2.sql",
        "alter table orders validate constraint fk_orders_user;",
    );
    let report = run(
        &[(&add, true, true), (&validate, true, true)],
        &Options::default(),
    );
    assert!(report.findings.is_empty(), "{:?}", rules(&report));
    let same = script("3.sql", "alter table orders add constraint c check (n > 0) not valid;\nalter table orders validate constraint c;");
    assert_eq!(
        rules(&run(&[(&same, true, true)], &Options::default())),
        ["validate-in-same-transaction"]
    );
}

#[test]
fn set_not_null_after_a_validated_check_is_fine() {
    let check = script(
        "1.sql",
        "alter table users add constraint users_email_nn check (email is not null) not valid;",
    );
    let validate = script(
        "2.sql",
        "alter table users validate constraint users_email_nn;",
    );
    let set = script(
        "3.sql",
        "alter table users alter column email set not null;",
    );
    let ok = run(
        &[
            (&check, false, false),
            (&validate, false, false),
            (&set, true, true),
        ],
        &Options::default(),
    );
    assert!(ok.findings.is_empty(), "{:?}", rules(&ok));
    let bad = run(&[(&set, true, true)], &Options::default());
    assert_eq!(rules(&bad), ["set-not-null"]);
    let mut old = Options::default();
    old.target_version = 11;
    let old_server = run(
        &[
            (&check, false, false),
            (&validate, false, false),
            (&set, true, true),
        ],
        &old,
    );
    assert_eq!(rules(&old_server), ["set-not-null"]);
}

#[test]
fn suppressions_are_scoped_and_unused_ones_reported() {
    let sql = "-- strata:allow prefer-jsonb legacy payloads\n\ncreate table a (id bigint primary key, j json, k json);\n-- strata:allow ban-drop-table replaced by a\ndrop table b;\ndrop table c;\n-- strata:allow renaming-column nothing to rename\ncreate table d (id bigint primary key);\n-- strata:allow no-such-rule\ncreate table e (id bigint primary key);\n";
    let s = script("s.sql", sql);
    let report = run(&[(&s, false, true)], &Options::default());
    let found: Vec<(&str, usize)> = report.findings.iter().map(|f| (f.rule, f.line)).collect();
    assert_eq!(
        found,
        [
            ("ban-drop-table", 6),
            ("unused-suppression", 7),
            ("invalid-suppression", 9)
        ]
    );
    assert!(report.findings[2].help.contains("strata lint --list-rules"));
}

#[test]
fn a_syntax_error_is_reported_once_and_the_other_statements_are_still_linted() {
    let s = script(
        "e.sql",
        "create table t (a json);\ncreate tabel u (b int);\ndrop table v;\n",
    );
    let report = run(&[(&s, false, true)], &Options::default());
    let found: Vec<(&str, usize, usize)> = report
        .findings
        .iter()
        .map(|f| (f.rule, f.line, f.col))
        .collect();
    assert_eq!(
        found,
        [
            ("prefer-jsonb", 1, 17),
            ("syntax-error", 2, 8),
            ("ban-drop-table", 3, 1)
        ]
    );
}

#[test]
fn enum_values_cannot_be_used_in_the_transaction_that_adds_them() {
    let s = script("e.sql", "alter type status add value 'archived';\nupdate orders set status = 'archived' where closed;\n");
    let report = run(&[(&s, false, true)], &Options::default());
    assert_eq!(rules(&report), ["enum-add-value"]);
    assert_eq!(report.findings[0].line, 2);
    let split = script("f.sql", "-- strata:no-transaction\nalter type status add value 'archived';\nupdate orders set status = 'archived' where closed;\n");
    assert!(!rules(&run(&[(&split, false, true)], &Options::default())).contains(&"enum-add-value"));
}

#[test]
fn mixing_concurrently_with_ordinary_statements_is_reported_once() {
    let s = script("m.sql", "create table t2 (id bigint primary key);\ninsert into t2 values (1);\ncreate index concurrently t_a on t (a);\n");
    let report = run(&[(&s, false, true)], &Options::default());
    assert_eq!(rules(&report), ["non-transactional-mixed"]);
    assert_eq!(report.findings[0].statement, Some(1));
}

#[test]
fn findings_on_large_tables_rank_first() {
    let s = script("r.sql", "create index a_x on a (x);\ncreate index b_x on b (x);\nalter table c add column j json;\n");
    let mut report = run(&[(&s, false, true)], &Options::default());
    for f in &mut report.findings {
        f.table_rows = match f.table.as_deref() {
            Some("a") => Some(10.0),
            Some("b") => Some(5_000_000.0),
            _ => None,
        };
    }
    report.rank_by_impact();
    let order: Vec<(Severity, Option<&str>)> = report
        .findings
        .iter()
        .map(|f| (f.severity, f.table.as_deref()))
        .collect();
    assert_eq!(
        order,
        [
            (Severity::Error, Some("b")),
            (Severity::Error, Some("a")),
            (Severity::Warning, None)
        ]
    );
}

#[test]
fn unknown_rules_in_configuration_are_refused_with_a_suggestion() {
    let err = Options::default()
        .set_level("ban-drop-tabel", Level::Off)
        .unwrap_err();
    assert!(
        matches!(&err, strata_lint::ConfigError::UnknownRule { suggestion: Some(s), .. } if s == "ban-drop-table"),
        "{err:?}"
    );
    assert!(matches!(
        Options::default().set_level("syntax-error", Level::Off),
        Err(strata_lint::ConfigError::Fixed { .. })
    ));
}

#[test]
fn the_catalog_tells_existing_tables_apart() {
    let mut options = Options::default();
    let mut events = strata_lint::CatalogTable::new("public", "events");
    events.partitioned = true;
    let mut users = strata_lint::CatalogTable::new("public", "users");
    users.columns.push((
        "name".into(),
        strata_lint::ColType::from_catalog("varchar", 24, false),
    ));
    users.validated_not_null.push("email".into());
    options.catalog.tables = vec![events, users];
    let s = script(
        "c.sql",
        "create index events_at_idx on only events (at);\nalter table users alter column name type varchar(40);\nalter table users alter column email set not null;\nalter table users alter column name type varchar(10);\n",
    );
    let mut report = run(&[(&s, true, true)], &options);
    report.findings.retain(|f| f.severity == Severity::Error);
    let found: Vec<(&str, usize)> = report.findings.iter().map(|f| (f.rule, f.line)).collect();
    assert_eq!(found, [("changing-column-type", 4)], "{found:?}");
    assert!(
        report.findings[0].message.contains("from varchar(40)"),
        "{}",
        report.findings[0].message
    );
}

#[test]
fn schema_qualified_tables_are_not_confused() {
    let s = script(
        "q.sql",
        "create table archive.orders (id bigint primary key, a int);\ncreate index i on public.orders (a);\ncreate index j on archive.orders (a);\n",
    );
    let report = run(&[(&s, false, true)], &Options::default());
    let found: Vec<(&str, usize)> = report.findings.iter().map(|f| (f.rule, f.line)).collect();
    assert_eq!(found, [("require-concurrent-index-creation", 2)]);
}

#[test]
fn review_regressions() {
    let options = Options::default();
    // The syntax error is at the second comma, not the first.
    let s = script("s.sql", "CREATE TABLE t (a int, b int,, c int);\n");
    let report = run(&[(&s, false, true)], &options);
    assert_eq!(
        (report.findings[0].rule, report.findings[0].col),
        ("syntax-error", 30)
    );
    // A typo elsewhere does not turn a non-transactional migration transactional.
    let s = script(
        "t.sql",
        "create index concurrently i on t (a);\nalter table t add constraint c check (a > 0) not valid;\nalter table t validate constraint c;\nselec 1;\n",
    );
    let found = rules(&run(&[(&s, false, true)], &options));
    assert!(
        !found.contains(&"validate-in-same-transaction"),
        "{found:?}"
    );
    assert!(found.contains(&"non-transactional-mixed"), "{found:?}");
    // The script's own SET lock_timeout = 0 wins over strata's configured timeout; 0.5s is not 0.
    let s = script(
        "l.sql",
        "set lock_timeout = 0;\nalter table orders add column x int;\n",
    );
    assert_eq!(
        rules(&run(&[(&s, false, true)], &options)),
        ["require-lock-timeout"]
    );
    let s = script(
        "m.sql",
        "set lock_timeout = '0.5s';\nalter table orders add column x int;\n",
    );
    let mut no_timeout = Options::default();
    no_timeout.lock_timeout_ms = 0;
    assert!(run(&[(&s, false, true)], &no_timeout).findings.is_empty());
    // Unquoted non-ASCII names: PostgreSQL folds only ASCII, so 31 × 'İ' is 62 bytes.
    let s = script(
        "i.sql",
        &format!("create table {} (id bigint primary key);\n", "İ".repeat(31)),
    );
    assert!(run(&[(&s, false, true)], &options).findings.is_empty());
    // A stable default does not rewrite; VACUUM (FULL false) is plain VACUUM.
    let s = script("d.sql", "alter table orders add column x bigint default txid_current();\nvacuum (full false) orders;\n");
    assert!(run(&[(&s, false, true)], &options).findings.is_empty());
    // A label that merely spells the new enum value is not a use of it.
    let s = script(
        "e.sql",
        "create table jobs (id bigint primary key, state mood);\n",
    );
    let s2 = script(
        "f.sql",
        "alter type mood add value 'archived';\ninsert into audit_log (msg) values ('archived');\nupdate jobs set state = 'archived';\n",
    );
    let report = run(&[(&s, false, false), (&s2, false, true)], &options);
    let found: Vec<(&str, usize)> = report.findings.iter().map(|f| (f.rule, f.line)).collect();
    assert_eq!(found, [("enum-add-value", 3)]);
    // Renames carry state: NOT VALID then rename then VALIDATE is still the same transaction.
    let s = script(
        "r.sql",
        "alter table orders add constraint c check (a > 0) not valid;\nalter table orders rename to orders2;\nalter table orders2 validate constraint c;\n",
    );
    assert!(rules(&run(&[(&s, false, true)], &options)).contains(&"validate-in-same-transaction"));
    // "a, b" lists two rules.
    let s = script(
        "c.sql",
        "-- strata:allow ban-drop-table, renaming-table gone\ndrop table a;\n",
    );
    let report = run(&[(&s, false, true)], &options);
    assert_eq!(rules(&report), ["unused-suppression"]);
    assert!(report.findings[0].message.contains("renaming-table"));
    // An unnamed index on a new table can be dropped; columns added here can be dropped.
    let s = script(
        "n.sql",
        "create table t (id bigint primary key, a int);\ncreate index on t (a);\ndrop index t_a_idx;\nalter table orders add column tmp int;\nalter table orders drop column tmp;\n",
    );
    let found = rules(&run(&[(&s, false, true)], &options));
    assert!(
        !found.contains(&"require-concurrent-index-deletion"),
        "{found:?}"
    );
    assert!(!found.contains(&"ban-drop-column"), "{found:?}");
}

#[test]
fn strata_statement_timeout_satisfies_the_opt_in_rule() {
    let mut options = Options::default();
    options
        .set_level("require-statement-timeout", Level::On(Severity::Warning))
        .unwrap();
    let s = script(
        "s.sql",
        "alter table orders alter column note type varchar(200);\n",
    );
    let found = rules(&run(&[(&s, false, true)], &options));
    assert!(found.contains(&"require-statement-timeout"), "{found:?}");
    options.statement_timeout_ms = 30_000;
    let found = rules(&run(&[(&s, false, true)], &options));
    assert!(!found.contains(&"require-statement-timeout"), "{found:?}");
}
