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

fn gate_options(levels: &[(&str, Level)]) -> Options {
    let mut options = Options::default();
    for (rule, level) in levels {
        options.set_level(rule, *level).unwrap();
    }
    options
}

/// A table emptied earlier in the same transaction has no row for a new NOT NULL column to
/// fail on; emptied in another transaction, or written into since, it may have.
#[test]
fn a_table_emptied_in_the_same_transaction_takes_a_required_column() {
    let options = Options::default();
    let required = |sql: &str| {
        let s = script("d.sql", sql);
        rules(&run(&[(&s, false, true)], &options))
            .into_iter()
            .filter(|r| *r == "adding-required-field")
            .count()
    };
    assert_eq!(required("alter table t add column c int not null;\n"), 1);
    assert_eq!(
        required("delete from t;\nalter table t add column c int not null;\n"),
        0
    );
    assert_eq!(
        required("truncate t;\nalter table public.t add column c int not null;\n"),
        0
    );
    assert_eq!(
        required("delete from t where id > 3;\nalter table t add column c int not null;\n"),
        1,
        "a DELETE with WHERE leaves rows"
    );
    assert_eq!(
        required(
            "delete from t;\ninsert into t values (1);\nalter table t add column c int not null;\n"
        ),
        1,
        "rows written after the DELETE"
    );
    assert_eq!(
        required("delete from other;\nalter table t add column c int not null;\n"),
        1
    );
    assert_eq!(
        required("begin;\ndelete from t;\ncommit;\nbegin;\nalter table t add column c int not null;\ncommit;\n"),
        1,
        "another transaction may have inserted in between"
    );
    assert_eq!(
        required(
            "-- strata:no-transaction\ndelete from t;\nalter table t add column c int not null;\n"
        ),
        1,
        "outside a transaction the DELETE commits on its own"
    );
}

/// `IF EXISTS` of what the database does not have (the caller looked it up) or what the set
/// already dropped is a no-op; without that knowledge the statement is still flagged.
#[test]
fn if_exists_on_a_missing_object_is_a_no_op() {
    let s = script(
        "x.sql",
        "drop index if exists missing_idx;\nalter table if exists gone add constraint c check (a > 0);\ndrop index if exists present_idx;\n",
    );
    let blind = run(&[(&s, true, true)], &Options::default());
    assert_eq!(
        rules(&blind),
        [
            "require-concurrent-index-deletion",
            "adding-check-constraint",
            "require-concurrent-index-deletion"
        ]
    );
    assert_eq!(
        blind.indexes(),
        [(None, "missing_idx".into()), (None, "present_idx".into())],
        "findings on indexes name them for the lookup"
    );
    let mut options = Options::default();
    options.catalog.absent = vec![(None, "missing_idx".into()), (None, "gone".into())];
    options.catalog.indexes = vec![strata_lint::CatalogIndex::new(
        (None, "present_idx".into()),
        "public",
        "orders",
    )];
    let report = run(&[(&s, true, true)], &options);
    assert_eq!(rules(&report), ["require-concurrent-index-deletion"]);
    assert_eq!(report.findings[0].line, 3);
    assert_eq!(
        report.findings[0].table_name,
        Some((Some("public".into()), "orders".into())),
        "the catalog tells the index's table, which the gate measures"
    );
    let twice = script(
        "y.sql",
        "drop index if exists x_idx;\ndrop table if exists t;\n",
    );
    let first = script("w.sql", "drop index concurrently x_idx;\n");
    let dropped = run(
        &[(&first, true, true), (&twice, true, true)],
        &gate_options(&[("ban-drop-table", Level::On(Severity::Error))]),
    );
    assert_eq!(
        rules(&dropped),
        ["ban-drop-table"],
        "only x_idx was dropped before"
    );
    // After the migration sets its own search_path, an unqualified name may mean another
    // table than the one looked up.
    let moved = script(
        "z.sql",
        "set search_path = app;\ndrop index if exists missing_idx;\n",
    );
    let mut options = Options::default();
    options.catalog.absent = vec![(None, "missing_idx".into())];
    assert_eq!(
        rules(&run(&[(&moved, true, true)], &options)),
        ["require-concurrent-index-deletion"]
    );
}

/// Tables created by any earlier pending migration of the run are new, also when another set
/// of the same run created them.
#[test]
fn tables_created_earlier_in_the_run_are_new_across_sets() {
    let create = script(
        "a/1.sql",
        "create table shared (id bigint primary key, v text);\n",
    );
    let index = script("b/1.sql", "create index shared_v on shared (v);\n");
    fn unit(s: &Script) -> Unit<'_> {
        Unit {
            name: s.file.path().display().to_string(),
            script: s,
            pending: true,
            report: true,
        }
    }
    let (a, b) = ([unit(&create)], [unit(&index)]);
    let options = Options::default();
    let reports = strata_lint::lint_run(&[(&a, &options), (&b, &options)]);
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| r.findings.is_empty()), "{reports:?}");
    assert_eq!((reports[0].scripts, reports[1].scripts), (1, 1));
    let alone = strata_lint::lint_run(&[(&b, &options)]);
    assert_eq!(rules(&alone[0]), ["require-concurrent-index-creation"]);
}

/// The gate: lock hazards block on large tables only, advisory errors become warnings unless
/// configured explicitly, data loss always blocks, the executor's own checks are left to it.
#[test]
fn the_gate_weighs_findings_by_table_size_and_explicit_levels() {
    let s = script(
        "g.sql",
        "create index big_a on big (a);\ncreate index small_a on small (a);\ncreate index gone_a on gone (a);\ncreate index ghost_a on ghost (a);\ncreate table t (id bigint primary key, name varchar(20));\ncreate index i_123456789_123456789_123456789_123456789_123456789_123456789_123456789 on t (id);\ndrop database prod;\nvacuum full;\n",
    );
    let policy = strata_lint::GatePolicy {
        min_table_bytes: 64 << 10,
        sizes: [
            ((None, "big".to_owned()), Some(1 << 20)),
            ((None, "small".to_owned()), Some(8 << 10)),
            ((None, "gone".to_owned()), None),
        ]
        .into_iter()
        .collect(),
    };
    let verdict = |options: &Options| {
        let report = run(&[(&s, false, true)], options);
        let gated = strata_lint::apply_gate(report.findings, options, &policy);
        let names = |fs: &[strata_lint::Finding]| -> Vec<(&'static str, usize)> {
            fs.iter().map(|f| (f.rule, f.line)).collect()
        };
        (names(&gated.blocking), names(&gated.passed), gated)
    };
    let options = Options::default();
    let (blocking, passed, gated) = verdict(&options);
    assert_eq!(
        blocking,
        [
            ("require-concurrent-index-creation", 1),
            ("require-concurrent-index-creation", 4),
            ("ban-drop-database", 7),
            ("vacuum-full-or-cluster", 8)
        ],
        "large, unmeasured, data loss, no table to measure"
    );
    assert_eq!(
        passed,
        [
            ("require-concurrent-index-creation", 2),
            ("require-concurrent-index-creation", 3),
            ("identifier-too-long", 6)
        ]
    );
    assert!(gated.passed.iter().all(|f| f.severity == Severity::Warning));
    assert!(
        gated.passed[0].notes[0].contains(
            "`small` is 8 kB on the target database, below [lint] gate_min_table_size (64 kB)"
        ),
        "{:?}",
        gated.passed[0].notes
    );
    assert_eq!(gated.passed[0].table_bytes, Some(8 << 10));
    assert!(
        gated.blocking[0].notes[0].contains("`big` is 1 MB"),
        "{:?}",
        gated.blocking[0].notes
    );
    assert!(strata_lint::may_block(&gated.blocking[0], &options));
    // An explicit level wins: an explicit error blocks, an explicit warning or off never does.
    let (blocking, passed, _) = verdict(&gate_options(&[
        ("prefer-text-field", Level::On(Severity::Error)),
        ("identifier-too-long", Level::On(Severity::Error)),
        ("ban-drop-database", Level::On(Severity::Warning)),
        ("vacuum-full-or-cluster", Level::Off),
    ]));
    assert_eq!(
        blocking,
        [
            ("require-concurrent-index-creation", 1),
            ("require-concurrent-index-creation", 4),
            ("prefer-text-field", 5),
            ("identifier-too-long", 6)
        ]
    );
    assert_eq!(passed.len(), 2);
    // Left to the executor.
    let broken = script("s.sql", "create tabel x (id int);\n");
    let report = run(&[(&broken, false, true)], &options);
    assert_eq!(rules(&report), ["syntax-error"]);
    assert!(!strata_lint::may_block(&report.findings[0], &options));
    let gated = strata_lint::apply_gate(report.findings, &options, &policy);
    assert!(gated.blocking.is_empty() && gated.passed.is_empty());
}

#[test]
fn a_syntax_error_at_an_unrendered_placeholder_names_the_variable() {
    for sql in [
        "create schema ${tenant};\n",
        "grant usage on schema {{ index .Options \"tenant\" }} to app;\n",
    ] {
        let s = script("p.sql", sql);
        let report = run(&[(&s, false, true)], &Options::default());
        assert_eq!(rules(&report), ["syntax-error"], "{sql}");
        assert!(
            report.findings[0].help.contains("--var tenant=value"),
            "{sql}: {}",
            report.findings[0].help
        );
    }
    let s = script("q.sql", "create tabel x (id int);\n");
    let report = run(&[(&s, false, true)], &Options::default());
    assert!(!report.findings[0].help.contains("--var"));
}
