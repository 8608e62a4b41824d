use super::*;
use std::sync::Arc;
use strata_model::{Checksum, MigrationId, Script, SourceFile};

fn mig(version: &str, sql: &str, down: bool) -> Migration {
    let file = Arc::new(SourceFile::from_string(format!("{version}_m.sql"), sql));
    let down = down.then(|| {
        Script::whole(
            Arc::new(SourceFile::from_string(
                format!("{version}_m.down.sql"),
                "select 0;",
            )),
            vec![],
        )
    });
    Migration {
        id: MigrationId {
            version: Some(Version::parse(version).unwrap()),
            name: "m".into(),
            shared_version: false,
        },
        kind: MigrationKind::Versioned,
        checksum: file.checksum().clone(),
        up: Script::whole(file, vec![]),
        down,
        verify: None,
    }
}

fn row(version: &str, sql: &str) -> AppliedMigration {
    AppliedMigration {
        key: version.into(),
        version: Some(version.into()),
        name: "m".into(),
        kind: MigrationKind::Versioned,
        checksum: Checksum::of_bytes(sql.as_bytes()),
        applied_at: "2026-01-01T00:00:00Z".into(),
        applied_by: "postgres@test".into(),
        duration_ms: 1,
        state: AppliedState::Complete,
    }
}

fn up() -> Target {
    Target::Up {
        to: None,
        steps: None,
    }
}

fn applies(plan: &Plan) -> Vec<usize> {
    plan.steps
        .iter()
        .map(|s| match s {
            Step::Apply { index, .. }
            | Step::Revert { index, .. }
            | Step::Baseline { index, .. }
            | Step::Accept { index, .. } => *index,
            Step::Mark { index, .. } => index.unwrap_or(usize::MAX),
        })
        .collect()
}

#[test]
fn up_applies_pending_in_order() {
    let local = [
        mig("1", "a", true),
        mig("2", "b", true),
        mig("10", "c", true),
    ];
    let applied = [row("1", "a")];
    let p = plan(&local, &applied, &up(), &Policy::default()).unwrap();
    assert_eq!(applies(&p), [1, 2]);
    let states: Vec<_> = p.entries.iter().map(|e| e.state).collect();
    assert_eq!(states, [State::Applied, State::Pending, State::Pending]);
    let p = plan(
        &local,
        &applied,
        &Target::Up {
            to: Some("V2".into()),
            steps: None,
        },
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(applies(&p), [1]);
    let p = plan(
        &local,
        &applied,
        &Target::Up {
            to: None,
            steps: Some(1),
        },
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(applies(&p), [1]);
}

#[test]
fn padded_history_matches_unpadded_files() {
    let local = [mig("1", "a", true)];
    let p = plan(&local, &[row("0001", "a")], &up(), &Policy::default()).unwrap();
    assert!(p.steps.is_empty());
    assert!(p.is_clean());
}

#[test]
fn modified_missing_and_out_of_order() {
    let local = [
        mig("1", "a-edited", true),
        mig("2", "b", true),
        mig("4", "d", true),
    ];
    let applied = [row("1", "a"), row("3", "c"), row("4", "d")];
    let p = plan(&local, &applied, &Target::Status, &Policy::default()).unwrap();
    let states: Vec<_> = p
        .entries
        .iter()
        .map(|e| (e.key.as_str(), e.state))
        .collect();
    assert_eq!(
        states,
        [
            ("1", State::Modified),
            ("2", State::OutOfOrder),
            ("3", State::Missing),
            ("4", State::Applied)
        ]
    );
    assert_eq!(p.findings.len(), 3);
    assert!(matches!(
        plan(&local, &applied, &up(), &Policy::default()),
        Err(PlanError::Modified { .. })
    ));
    let local = [
        mig("1", "a", true),
        mig("2", "b", true),
        mig("4", "d", true),
    ];
    let err = plan(&local, &applied, &up(), &Policy::default()).unwrap_err();
    assert!(matches!(err, PlanError::OutOfOrder { .. }), "{err}");
    let p = plan(
        &local,
        &applied,
        &up(),
        &Policy {
            allow_out_of_order: true,
        },
    )
    .unwrap();
    assert_eq!(applies(&p), [1]);
}

#[test]
fn down_defaults_to_one_step_and_refuses_without_a_script() {
    let local = [
        mig("1", "a", true),
        mig("2", "b", false),
        mig("3", "c", true),
    ];
    let applied = [row("1", "a"), row("2", "b"), row("3", "c")];
    let down = |to: Option<&str>, steps, all| Target::Down {
        to: to.map(str::to_owned),
        steps,
        all,
    };
    assert_eq!(
        applies(
            &plan(
                &local,
                &applied,
                &down(None, None, false),
                &Policy::default()
            )
            .unwrap()
        ),
        [2]
    );
    let err = plan(
        &local,
        &applied,
        &down(None, Some(2), false),
        &Policy::default(),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::NoDown { .. }));
    assert_eq!(
        applies(
            &plan(
                &local,
                &applied,
                &down(Some("2"), None, false),
                &Policy::default()
            )
            .unwrap()
        ),
        [2]
    );
    assert!(matches!(
        plan(
            &local,
            &applied,
            &down(Some("7"), None, false),
            &Policy::default()
        ),
        Err(PlanError::UnknownVersion { .. })
    ));
}

#[test]
fn goto_redo_and_baseline() {
    let local = [
        mig("1", "a", true),
        mig("2", "b", true),
        mig("3", "c", true),
    ];
    let applied = [row("1", "a"), row("2", "b")];
    let p = plan(
        &local,
        &applied,
        &Target::Goto("1".into()),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(
        p.steps,
        [Step::Revert {
            index: 1,
            key: "2".into()
        }]
    );
    let p = plan(
        &local,
        &applied,
        &Target::Goto("3".into()),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(applies(&p), [2]);
    let p = plan(&local, &applied, &Target::Redo, &Policy::default()).unwrap();
    assert_eq!(
        p.steps,
        [
            Step::Revert {
                index: 1,
                key: "2".into()
            },
            Step::Apply {
                index: 1,
                key: "2".into(),
                resume_from: 0,
                reason: ApplyReason::Pending
            }
        ]
    );
    let p = plan(
        &local,
        &[],
        &Target::Baseline("2".into()),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(
        p.steps,
        [
            Step::Baseline {
                index: 0,
                key: "1".into()
            },
            Step::Baseline {
                index: 1,
                key: "2".into()
            }
        ]
    );
}

#[test]
fn partial_runs_resume_first_and_block_down() {
    let local = [mig("1", "a", true), mig("2", "b", true)];
    let mut partial = row("1", "a");
    partial.state = AppliedState::Partial {
        statements_done: 2,
        error: "boom".into(),
        fingerprint: None,
    };
    let p = plan(&local, &[partial.clone()], &up(), &Policy::default()).unwrap();
    assert_eq!(
        p.steps[0],
        Step::Apply {
            index: 0,
            key: "1".into(),
            resume_from: 2,
            reason: ApplyReason::Resume
        }
    );
    assert_eq!(p.steps.len(), 2);
    let down = Target::Down {
        to: None,
        steps: None,
        all: false,
    };
    assert!(matches!(
        plan(&local, &[partial.clone()], &down, &Policy::default()),
        Err(PlanError::PartialBlocks { .. })
    ));
    partial.checksum = Checksum::of_bytes(b"other");
    assert!(matches!(
        plan(&local, &[partial], &up(), &Policy::default()),
        Err(PlanError::PartialModified { .. })
    ));
}

#[test]
fn failed_attempts_are_marked_but_still_applied() {
    let local = [mig("1", "a", true), mig("2", "b", true)];
    let mut p = plan(&local, &[row("1", "a")], &up(), &Policy::default()).unwrap();
    mark_failed(
        &mut p,
        &[
            ("2".into(), "syntax error".into()),
            ("1".into(), "old".into()),
        ],
    );
    assert_eq!(p.entries[0].state, State::Applied);
    assert_eq!(p.entries[1].state, State::Failed);
    assert_eq!(p.findings.len(), 1);
    assert!(p.findings[0].message.contains("syntax error"));
    assert_eq!(applies(&p), [1]);
}

#[test]
fn history_keys_follow_the_row_not_the_file_spelling() {
    let local = [mig("005", "a", true)];
    let p = plan(
        &local,
        &[row("5", "a")],
        &Target::Down {
            to: None,
            steps: None,
            all: false,
        },
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(
        p.steps,
        [Step::Revert {
            index: 0,
            key: "5".into()
        }]
    );
}

#[test]
fn goto_is_exact_and_redo_refuses_partial_runs() {
    let local = [
        mig("1", "a", true),
        mig("2", "b", true),
        mig("3", "c", true),
    ];
    let applied = [row("1", "a"), row("3", "c")];
    let p = plan(
        &local,
        &applied,
        &Target::Goto("2".into()),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(
        p.steps,
        [
            Step::Revert {
                index: 2,
                key: "3".into()
            },
            Step::Apply {
                index: 1,
                key: "2".into(),
                resume_from: 0,
                reason: ApplyReason::OutOfOrder
            }
        ]
    );
    let mut partial = row("3", "c");
    partial.state = AppliedState::Partial {
        statements_done: 1,
        error: "x".into(),
        fingerprint: None,
    };
    let err = plan(
        &local,
        &[row("1", "a"), partial.clone()],
        &Target::Redo,
        &Policy::default(),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::PartialBlocks { .. }));
    // Baseline takes over a part-way run that was finished by hand.
    let p = plan(
        &local,
        &[row("1", "a"), partial],
        &Target::Baseline("3".into()),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(applies(&p), [1, 2]);
}

#[test]
fn an_edited_partial_run_with_nothing_done_reruns_from_the_start() {
    let local = [mig("1", "fixed", true)];
    let mut partial = row("1", "typo");
    partial.state = AppliedState::Partial {
        statements_done: 0,
        error: "syntax".into(),
        fingerprint: None,
    };
    let p = plan(&local, &[partial], &up(), &Policy::default()).unwrap();
    assert_eq!(
        p.steps,
        [Step::Apply {
            index: 0,
            key: "1".into(),
            resume_from: 0,
            reason: ApplyReason::Resume
        }]
    );
}

#[test]
fn mark_and_accept_fit_only_the_right_states() {
    let local = [mig("1", "a-edited", true), mig("2", "b", true)];
    let mut partial = row("2", "b");
    partial.state = AppliedState::Partial {
        statements_done: 1,
        error: "x".into(),
        fingerprint: None,
    };
    let applied = [row("1", "a"), partial];
    let mark = |v: &str, applied: bool| Target::Mark {
        version: v.into(),
        applied,
    };
    let p = plan(&local, &applied, &mark("2", true), &Policy::default()).unwrap();
    assert_eq!(
        p.steps,
        [Step::Mark {
            index: Some(1),
            key: "2".into(),
            applied: true
        }]
    );
    let p = plan(&local, &applied, &mark("2", false), &Policy::default()).unwrap();
    assert_eq!(
        p.steps,
        [Step::Mark {
            index: Some(1),
            key: "2".into(),
            applied: false
        }]
    );
    assert!(matches!(
        plan(&local, &applied, &mark("1", true), &Policy::default()),
        Err(PlanError::NotApplicable { .. })
    ));
    let p = plan(
        &local,
        &applied,
        &Target::Accept("1".into()),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(
        p.steps,
        [Step::Accept {
            index: 0,
            key: "1".into()
        }]
    );
    assert!(matches!(
        plan(
            &local,
            &applied,
            &Target::Accept("2".into()),
            &Policy::default()
        ),
        Err(PlanError::NotApplicable { .. })
    ));
}

#[test]
fn an_edited_partial_run_resumes_when_the_completed_statements_are_unchanged() {
    let ran = "create table a (id int);\ncreate index concurrently i on a (id);\n";
    let done_part =
        strata_sql::analyze(&format!("{ran}create index concurrently j on a (typo);\n"));
    let fingerprint = strata_sql::fingerprint(
        &format!("{ran}create index concurrently j on a (typo);\n"),
        &done_part,
        2,
    );
    let mut partial = row(
        "1",
        &format!("{ran}create index concurrently j on a (typo);\n"),
    );
    partial.state = AppliedState::Partial {
        statements_done: 2,
        error: "no column typo".into(),
        fingerprint: Some(fingerprint),
    };
    let fixed = [mig(
        "1",
        &format!("{ran}create index concurrently j on a (id);\n"),
        true,
    )];
    let p = plan(&fixed, &[partial.clone()], &up(), &Policy::default()).unwrap();
    assert_eq!(
        p.steps,
        [Step::Apply {
            index: 0,
            key: "1".into(),
            resume_from: 2,
            reason: ApplyReason::Resume
        }]
    );
    let rewritten = [mig("1", "create table a (id bigint);\ncreate index concurrently i on a (id);\ncreate index concurrently j on a (id);\n", true)];
    assert!(matches!(
        plan(&rewritten, &[partial], &up(), &Policy::default()),
        Err(PlanError::PartialModified { .. })
    ));
}

#[test]
fn a_squashed_baseline_covers_what_it_replaced() {
    let file = Arc::new(SourceFile::from_string(
        "3_squashed_baseline.sql",
        "-- strata:squashed-baseline\ncreate table a (id int);",
    ));
    let directives = strata_sql::parse_directives(file.text(), 1).unwrap();
    let baseline = Migration {
        id: MigrationId {
            version: Some(Version::parse("3").unwrap()),
            name: "squashed_baseline".into(),
            shared_version: false,
        },
        kind: MigrationKind::Versioned,
        checksum: file.checksum().clone(),
        up: Script::whole(file, directives),
        down: None,
        verify: None,
    };
    let local = [baseline, mig("4", "d", true)];
    // An old database applied 1..3 from the files the baseline replaced.
    let old = [row("1", "a"), row("2", "b"), row("3", "c-old")];
    let p = plan(&local, &old, &up(), &Policy::default()).unwrap();
    let states: Vec<_> = p
        .entries
        .iter()
        .map(|e| (e.key.as_str(), e.state))
        .collect();
    assert_eq!(states, [("3", State::Applied), ("4", State::Pending)]);
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    assert_eq!(applies(&p), [1]);
    // A new database applies the baseline.
    let p = plan(&local, &[], &up(), &Policy::default()).unwrap();
    assert_eq!(applies(&p), [0, 1]);
}

/// What a plan says of each entry, for comparing two plans.
fn described(p: &Plan) -> Vec<(String, State, Option<usize>, Option<String>)> {
    p.entries
        .iter()
        .map(|e| {
            (
                e.key.clone(),
                e.state,
                e.local,
                e.applied.as_ref().map(|a| a.key.clone()),
            )
        })
        .collect()
}

#[test]
fn rows_in_file_order_plan_as_the_same_rows_in_any_order() {
    let local = [
        mig("1", "a", true),
        mig("2", "b-edited", true),
        mig("3", "c", true),
        mig("4", "d", true),
        mig("5", "e", true),
    ];
    let mut partial = row("3", "c");
    partial.state = AppliedState::Partial {
        statements_done: 1,
        error: "boom".into(),
        fingerprint: None,
    };
    let in_order = [row("1", "a"), row("2", "b"), partial];
    assert!(rows_follow_the_files(&local, &in_order, true));
    let mut shuffled = in_order.clone();
    shuffled.rotate_left(1);
    assert!(!rows_follow_the_files(&local, &shuffled, true));
    for target in [Target::Status, up()] {
        let fast = plan(&local, &in_order, &target, &Policy::default());
        let matched = plan(&local, &shuffled, &target, &Policy::default());
        match (fast, matched) {
            (Ok(fast), Ok(matched)) => {
                assert_eq!(described(&fast), described(&matched));
                assert_eq!(fast.steps, matched.steps);
                assert_eq!(fast.findings.len(), matched.findings.len());
            }
            (Err(fast), Err(matched)) => assert_eq!(fast.to_string(), matched.to_string()),
            (fast, matched) => panic!("{fast:?} vs {matched:?}"),
        }
    }
    let states: Vec<_> = plan(&local, &in_order, &Target::Status, &Policy::default())
        .unwrap()
        .entries
        .iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(
        states,
        [
            State::Applied,
            State::Modified,
            State::Partial,
            State::Pending,
            State::Pending
        ]
    );
}

#[test]
fn rows_spelled_otherwise_or_more_than_the_files_take_the_matching_path() {
    let local = [mig("1", "a", true), mig("2", "b", true)];
    // `0001` is version 1, but not spelled as the file spells it.
    assert!(!rows_follow_the_files(&local, &[row("0001", "a")], true));
    // A row beyond the files (its file was deleted) is found missing by the matching path.
    let applied = [row("1", "a"), row("2", "b"), row("3", "c")];
    assert!(!rows_follow_the_files(&local, &applied, true));
    let p = plan(&local, &applied, &Target::Status, &Policy::default()).unwrap();
    let states: Vec<_> = p.entries.iter().map(|e| e.state).collect();
    assert_eq!(states, [State::Applied, State::Applied, State::Missing]);
    // Files out of order (only a caller that did not load a set could pass them) are matched
    // by version, never by position.
    let unsorted = [mig("2", "b", true), mig("1", "a", true)];
    assert!(!files_in_apply_order(&unsorted));
    assert!(!files_in_apply_order(&[
        mig("1", "a", true),
        mig("001", "b", true)
    ]));
    assert!(files_in_apply_order(&local));
    let p = plan(
        &unsorted,
        &[row("2", "b")],
        &Target::Status,
        &Policy::default(),
    )
    .unwrap();
    let states: Vec<_> = p
        .entries
        .iter()
        .map(|e| (e.key.as_str(), e.state))
        .collect();
    assert_eq!(states, [("1", State::OutOfOrder), ("2", State::Applied)]);
}

#[test]
fn a_template_stops_up_at_itself_and_nothing_else() {
    let mut template = mig("2", "-- strata:template\n-- Write it here.\n", false);
    template.up.directives.push(strata_model::Directive {
        kind: strata_model::DirectiveKind::Template,
        line: 1,
        text: "-- strata:template".into(),
    });
    let local = vec![
        mig("1", "select 1;", false),
        template,
        mig("3", "select 3;", false),
    ];
    let up = Target::Up {
        to: None,
        steps: None,
    };
    let planned = super::plan(&local, &[], &up, &Policy::default()).unwrap();
    match refuse_templates(&planned, &local) {
        Err(PlanError::Template { key, before, .. }) => {
            assert_eq!(key, "2");
            assert!(before.contains("strata up --to 1"), "{before}");
        }
        other => panic!("{other:?}"),
    }
    // Up to the version before it, and every other verb, plan as usual.
    let to_1 = Target::Up {
        to: Some("1".into()),
        steps: None,
    };
    let planned = super::plan(&local, &[], &to_1, &Policy::default()).unwrap();
    assert!(refuse_templates(&planned, &local).is_ok());
    assert!(super::plan(&local, &[], &Target::Status, &Policy::default()).is_ok());
}

#[test]
fn up_stops_before_a_code_migration() {
    let mut code = mig("2", "package migrations\n", false);
    code.up.directives.push(strata_model::Directive {
        kind: strata_model::DirectiveKind::Code { language: "Go" },
        line: 1,
        text: "Go migration".into(),
    });
    let local = vec![
        mig("1", "select 1;", false),
        code,
        mig("3", "select 3;", false),
    ];
    let up = Target::Up {
        to: None,
        steps: None,
    };
    let mut planned = super::plan(&local, &[], &up, &Policy::default()).unwrap();
    let stop = stop_at_code(&mut planned, &local).unwrap();
    assert_eq!(
        (stop.key.as_str(), stop.language, stop.applied_before),
        ("2", "Go", 1)
    );
    assert_eq!(planned.steps.len(), 1);
    // Once it is recorded (by adopt or baseline), up goes on after it.
    let applied = [row("1", "select 1;"), row("2", "package migrations\n")];
    let mut planned = super::plan(&local, &applied, &up, &Policy::default()).unwrap();
    assert!(stop_at_code(&mut planned, &local).is_none());
    assert_eq!(planned.steps.len(), 1);
}

/// A migration of a version several files share (`0010_a.sql` beside `0010_b.sql`).
fn shared(version: &str, name: &str, sql: &str) -> Migration {
    let mut m = mig(version, sql, true);
    m.id.name = name.into();
    m.id.shared_version = true;
    m
}

fn row_named(key: &str, version: &str, name: &str, sql: &str) -> AppliedMigration {
    AppliedMigration {
        key: key.into(),
        name: name.into(),
        ..row(version, sql)
    }
}

#[test]
fn files_sharing_a_version_match_their_own_rows() {
    let local = [
        shared("0010", "a", "create table a ();"),
        shared("0010", "b", "create table b ();"),
        mig("0011", "c", true),
    ];
    // `0010_b` was applied alone, before `0010_a` was added beside it (its row is keyed by the
    // bare version); `0010_a` must not take that row.
    let applied = [row_named("0010", "0010", "b", "create table b ();")];
    let p = plan(&local, &applied, &up(), &Policy::default()).unwrap();
    let states: Vec<_> = p.entries.iter().map(|e| e.state).collect();
    assert_eq!(states, [State::Pending, State::Applied, State::Pending]);
    assert_eq!(applies(&p), [0, 2]);
    let keys: Vec<&str> = p.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["0010_a", "0010", "0011"]);
    // Rows written by strata for both: each by its name, whatever order they are read in.
    let applied = [
        row_named("0010_b", "0010", "b", "create table b ();"),
        row_named("0010_a", "0010", "a", "create table a ();"),
    ];
    let p = plan(&local, &applied, &up(), &Policy::default()).unwrap();
    assert_eq!(applies(&p), [2]);
    // A file renamed inside its group keeps its row when its content says which one it is.
    let renamed = [
        shared("0010", "a_renamed", "create table a ();"),
        shared("0010", "b", "create table b ();"),
    ];
    let p = plan(&renamed, &applied, &up(), &Policy::default()).unwrap();
    assert!(
        p.entries.iter().all(|e| e.state == State::Applied),
        "{:?}",
        p.entries
    );
    // A new member of a group that was applied is pending, not out of order.
    let applied = [row_named("0010_b", "0010", "b", "create table b ();")];
    let p = plan(&local[..2], &applied, &up(), &Policy::default()).unwrap();
    assert_eq!(p.entries[0].state, State::Pending);
}

#[test]
fn a_shared_version_is_named_by_its_key() {
    let local = [
        shared("0010", "a", "create table a ();"),
        shared("0010", "b", "create table b ();"),
    ];
    let applied = [
        row_named("0010_a", "0010", "a", "create table a ();"),
        row_named("0010_b", "0010", "b", "create table b ();"),
    ];
    let mark = |version: &str| Target::Mark {
        version: version.into(),
        applied: false,
    };
    let err = plan(&local, &applied, &mark("10"), &Policy::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("version `10` is shared by 2 migrations (0010_a, 0010_b)"),
        "{err}"
    );
    let p = plan(&local, &applied, &mark("0010_b"), &Policy::default()).unwrap();
    assert_eq!(applies(&p), [1]);
}
