//! The linter never panics, whatever the input: every SQL file in the repository's fixtures and
//! examples, and every prefix of a few of them cut at arbitrary points (unterminated strings,
//! dollar quotes, comments and statements exercise the syntax-error paths), is linted with every
//! rule enabled, and every finding must point inside its file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use strata_lint::{lint, Level, Options, Severity, Unit, RULES};
use strata_model::{Script, SourceFile};

fn sql_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            sql_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "sql") {
            out.push(p);
        }
    }
}

fn all_rules() -> Options {
    let mut options = Options::default();
    for rule in RULES {
        if rule.default == Level::Off {
            options
                .set_level(rule.name, Level::On(Severity::Warning))
                .unwrap();
        }
    }
    options
}

fn check(name: &str, text: &str, options: &Options) {
    let directives = strata_sql::parse_directives(text, 1).unwrap_or_default();
    let script = Script::whole(Arc::new(SourceFile::from_string(name, text)), directives);
    let unit = Unit {
        name: name.into(),
        script: &script,
        pending: false,
        report: true,
    };
    let report = lint(&[unit], options);
    for f in &report.findings {
        assert!(
            f.span.start <= f.span.end && f.span.end <= text.len(),
            "{name}: {f:?}"
        );
        assert!(f.line >= 1 && f.col >= 1, "{name}: {f:?}");
    }
    let _ = strata_lint::render_text(&report, false);
    let _ = strata_lint::render_sarif(&report);
}

#[test]
fn every_repository_sql_file_lints_without_panicking() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["fixtures", "examples"] {
        sql_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 200, "found only {} files", files.len());
    let options = all_rules();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        check(&f.display().to_string(), &text, &options);
    }
}

#[test]
fn every_prefix_of_tricky_scripts_lints_without_panicking() {
    let scripts = [
        "-- strata:allow ban-drop-table, renaming-table why\n\nCREATE TABLE \"Odd \"\"name\"\" İ\" (id bigint primary key, j json DEFAULT '{}'::json);\nCREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN RETURN NEW; END; $body$;\nBEGIN;\nALTER TABLE t ADD COLUMN x int NOT NULL CHECK (x > 0) REFERENCES u (id);\nALTER TYPE mood ADD VALUE 'ok'; UPDATE t SET m = 'ok'::mood;\nCOMMIT;\n/* block /* nested */ comment */ DROP INDEX i; VACUUM (FULL, ANALYZE) t;\n",
        "create index concurrently if not exists i on only p (a) where b is not null;\nalter table p detach partition c concurrently;\nreindex (concurrently) table t;\nset lock_timeout = '0.5s';\nreset all;\nalter table \"t\" rename column \"a\" to \"b\";\ncreate domain d as int not null check (value > 0);\nalter domain d add constraint c check (value < 10) not valid;\ntruncate a, b cascade;\n",
    ];
    let options = all_rules();
    for (n, script) in scripts.iter().enumerate() {
        for (cut, _) in script.char_indices() {
            check(&format!("prefix{n}_{cut}.sql"), &script[..cut], &options);
        }
    }
}

/// Found by the `lint` fuzz target: a syntax error on a line full of lone carriage returns
/// made the diagnostic renderer underflow.
#[test]
fn fuzz_regression_lone_carriage_returns() {
    check("cr.sql", "\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\tt\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r;\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\t\tf\tf\r\r\r\r\r\r\rigur\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\t\tf\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\t\tf", &all_rules());
    check("cr2.sql", "select 1;\r\rselec\r 2;\r\n", &all_rules());
}
