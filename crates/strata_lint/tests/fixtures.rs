//! The rule fixtures: `fixtures/lint/<rule>/err/*` must each trigger the rule (and their
//! rendered diagnostics are snapshots), `fixtures/lint/<rule>/ok/*` must not. A fixture is one
//! `.sql` file (tables it does not create are existing ones) or a directory holding a small
//! migration set whose migrations are all pending (so tables created early in the set are new).
//! The registry, the docs pages and the fixture folders must name the same rules.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use strata_lint::{lint, render_text, Level, Options, Report, Severity, Unit, RULES};
use strata_model::{Script, SourceFile};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn options_for(rule: &str) -> Options {
    let mut options = Options::default();
    let r = strata_lint::find_rule(rule).expect("registered");
    if r.default == Level::Off {
        options
            .set_level(rule, Level::On(Severity::Warning))
            .unwrap();
    }
    options
}

/// Lints one fixture (file or set directory); paths in findings are relative to the repo root
/// so snapshots do not depend on where the checkout lives.
fn lint_fixture(path: &Path, options: &Options) -> Report {
    let root = repo_root().canonicalize().unwrap();
    let relative = |p: &Path| -> PathBuf {
        p.canonicalize()
            .unwrap()
            .strip_prefix(&root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| p.to_path_buf())
    };
    if path.is_dir() {
        let set = strata_source::load_dir(path, None)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let scripts: Vec<(String, Script)> = set
            .migrations
            .iter()
            .map(|m| {
                let file = SourceFile::from_string(relative(m.path()), m.up.file.text());
                let script = Script {
                    file: Arc::new(file),
                    range: m.up.range.clone(),
                    directives: m.up.directives.clone(),
                };
                (m.id.registry_key(), script)
            })
            .collect();
        let units: Vec<Unit<'_>> = scripts
            .iter()
            .map(|(name, script)| Unit {
                name: name.clone(),
                script,
                pending: true,
                report: true,
            })
            .collect();
        lint(&units, options)
    } else {
        let text = std::fs::read_to_string(path).unwrap();
        let directives = strata_sql::parse_directives(&text, 1).unwrap_or_default();
        let script = Script::whole(
            Arc::new(SourceFile::from_string(relative(path), text)),
            directives,
        );
        let unit = Unit {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            script: &script,
            pending: false,
            report: true,
        };
        lint(&[unit], options)
    }
}

fn cases(rule: &str, kind: &str) -> Vec<PathBuf> {
    let dir = repo_root().join("fixtures/lint").join(rule).join(kind);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "sql"))
        .collect();
    out.sort();
    out
}

#[test]
fn err_fixtures_trigger_their_rule() {
    let mut failures = Vec::new();
    for rule in RULES {
        let options = options_for(rule.name);
        for case in cases(rule.name, "err") {
            let mut report = lint_fixture(&case, &options);
            report.findings.retain(|f| f.rule == rule.name);
            if report.findings.is_empty() {
                failures.push(format!("{} does not trigger {}", case.display(), rule.name));
                continue;
            }
            let name = format!(
                "{}__{}",
                rule.name,
                case.file_stem().unwrap().to_string_lossy()
            );
            insta::with_settings!({snapshot_path => "snapshots/rules", prepend_module_to_snapshot => false}, {
                insta::assert_snapshot!(name, render_text(&report, false));
            });
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ok_fixtures_do_not_trigger_their_rule() {
    let mut failures = Vec::new();
    for rule in RULES {
        let options = options_for(rule.name);
        for case in cases(rule.name, "ok") {
            let report = lint_fixture(&case, &options);
            let hits: Vec<String> = report
                .findings
                .iter()
                .filter(|f| f.rule == rule.name)
                .map(|f| format!("{}:{}:{} {}", f.file.display(), f.line, f.col, f.message))
                .collect();
            if !hits.is_empty() {
                failures.push(format!("{}:\n  {}", case.display(), hits.join("\n  ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_fixtures_and_a_docs_page() {
    let mut missing = Vec::new();
    for rule in RULES {
        for kind in ["ok", "err"] {
            let dir = repo_root().join("fixtures/lint").join(rule.name).join(kind);
            if !dir.is_dir() || cases(rule.name, kind).is_empty() {
                missing.push(format!("fixtures/lint/{}/{kind}/", rule.name));
            }
        }
        if !rule.docs.starts_with(&format!("# {}\n", rule.name)) {
            missing.push(format!(
                "docs/rules/{}.md must start with `# {}`",
                rule.name, rule.name
            ));
        }
    }
    let folders: Vec<String> = std::fs::read_dir(repo_root().join("fixtures/lint"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for folder in folders {
        if strata_lint::find_rule(&folder).is_none() {
            missing.push(format!("fixtures/lint/{folder} names no rule"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// `docs/rules/README.md` carries the rules table generated from the registry between two
/// markers; `UPDATE_DOCS=1 cargo test -p strata_lint` rewrites it.
#[test]
fn docs_index_matches_the_registry() {
    let path = repo_root().join("docs/rules/README.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- rules:begin -->\n", "<!-- rules:end -->");
    let table = strata_lint::rules_index_markdown();
    let current = text
        .split_once(begin)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(inside, _)| inside.to_owned());
    if current.as_deref() == Some(table.as_str()) {
        return;
    }
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = match text.split_once(begin) {
            Some((head, rest)) => {
                let tail = rest.split_once(end).map_or("", |(_, t)| t);
                format!("{head}{begin}{table}{end}{tail}")
            }
            None => format!("{}\n\n## Rules\n\n{begin}{table}{end}\n", text.trim_end()),
        };
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!("docs/rules/README.md is out of date with the registry; run `UPDATE_DOCS=1 cargo test -p strata_lint --test fixtures`");
}
