//! The linter: arbitrary UTF-8 as one migration, linted with every rule enabled (opt-in ones
//! too), once as an existing-table migration and once as a pending one, with a catalog that
//! knows one partitioned table. No panic; every finding's span lies inside the file on char
//! boundaries with 1-based positions; the text, JSON, GitHub and SARIF renderers accept the
//! report.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use strata_lint::{lint, CatalogTable, Level, Options, Severity, Unit, RULES};
use strata_model::{Script, SourceFile};

fuzz_target!(|sql: &str| {
    let mut options = Options::default();
    for rule in RULES {
        if rule.default == Level::Off {
            options
                .set_level(rule.name, Level::On(Severity::Warning))
                .expect("registered rule");
        }
    }
    let mut partitioned = CatalogTable::new("public", "events");
    partitioned.partitioned = true;
    options.catalog.tables = vec![partitioned];
    let directives = strata_sql::parse_directives(sql, 1).unwrap_or_default();
    let script = Script::whole(Arc::new(SourceFile::from_string("f.sql", sql)), directives);
    for pending in [false, true] {
        let unit = Unit {
            name: "f".into(),
            script: &script,
            pending,
            report: true,
        };
        let report = lint(&[unit], &options);
        for f in &report.findings {
            assert!(f.span.start <= f.span.end && f.span.end <= sql.len(), "{f:?}");
            assert!(
                sql.is_char_boundary(f.span.start) && sql.is_char_boundary(f.span.end),
                "{f:?}"
            );
            assert!(f.line >= 1 && f.col >= 1 && f.end_line >= f.line, "{f:?}");
        }
        let _ = strata_lint::render_text(&report, false);
        let _ = strata_lint::render_json(&report);
        let _ = strata_lint::render_github(&report);
        let _ = strata_lint::render_sarif(&report);
    }
});
