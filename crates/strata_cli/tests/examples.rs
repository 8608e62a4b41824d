//! The example sets in `examples/` (the five reference setups) apply, report, validate and,
//! where they have downs, revert to the starting schema; `fresh` resets them.

mod common;

use common::*;

fn example(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("examples").join(name), tmp.path());
    tmp
}

fn round_trip(name: &str, reversible: bool) {
    let tmp = example(name);
    let db = TestDatabase::new(&format!("ex_{}", name.replace('-', "_")));
    let before = snapshot(&db);
    strata(tmp.path(), &db, &["up"]).ok();
    let after = snapshot(&db);
    assert_ne!(before, after, "{name}: nothing applied");
    strata(tmp.path(), &db, &["status", "--check"]).ok();
    strata(tmp.path(), &db, &["validate"]).ok();
    let again = strata(tmp.path(), &db, &["up"]).ok();
    assert!(
        again.stdout.contains("nothing to do"),
        "{name}: {}",
        again.stdout
    );
    if reversible {
        strata(tmp.path(), &db, &["down", "--all"]).ok();
        assert_eq!(
            snapshot(&db),
            before,
            "{name}: down --all did not restore the starting schema"
        );
    }
}

#[test]
fn marketplace_plain_with_downs() {
    round_trip("marketplace", true);
}

#[test]
fn laravel_cmis_dbmate() {
    round_trip("laravel-cmis", true);
}

#[test]
fn echo_backend_golang_migrate() {
    round_trip("echo-backend", true);
}

#[test]
fn audit_psql_loop_without_downs() {
    round_trip("audit-psql", false);
}

/// Flyway per-service schemas: independent histories, `--set` selection, and `fresh` that
/// touches only the selected set's schema.
#[test]
fn coupons_flyway_sets() {
    let tmp = example("coupons-flyway");
    let db = TestDatabase::new("ex_coupons");
    strata(tmp.path(), &db, &["--set", "auth", "up"]).ok();
    let doc = strata(tmp.path(), &db, &["--json", "status"]).ok().json();
    let sets = doc["sets"].as_array().unwrap();
    assert_eq!(sets.len(), 3);
    let states = |i: usize| {
        sets[i]["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["state"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(states(0).iter().all(|s| s == "applied"), "{:?}", states(0));
    assert!(states(2).iter().all(|s| s == "pending"), "{:?}", states(2));
    strata(tmp.path(), &db, &["up"]).ok();
    strata(tmp.path(), &db, &["status", "--check"]).ok();

    let coupon_before = db.psql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'coupon_schema'").unwrap();
    let refused = strata(tmp.path(), &db, &["--set", "redemption", "fresh"]);
    assert_eq!(
        refused.code, 2,
        "fresh must refuse without --confirm outside the dev cluster"
    );
    assert!(refused.stderr.contains("--confirm"), "{}", refused.stderr);
    strata(
        tmp.path(),
        &db,
        &["--set", "redemption", "fresh", "--confirm", db.name()],
    )
    .ok();
    let coupon_after = db.psql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'coupon_schema'").unwrap();
    assert_eq!(
        coupon_before, coupon_after,
        "fresh of one set touched another set's schema"
    );
    strata(tmp.path(), &db, &["status", "--check"]).ok();
    let events = db
        .psql("SELECT count(*) FROM strata.events WHERE kind = 'fresh' AND set_name = 'redemption'")
        .unwrap();
    assert_eq!(events.trim(), "1");
}

/// `fresh` on a set living in `public` drops every user schema it created and re-applies.
#[test]
fn fresh_resets_a_public_set() {
    let tmp = example("echo-backend");
    let db = TestDatabase::new("ex_fresh");
    strata(tmp.path(), &db, &["up"]).ok();
    let after_up = snapshot(&db);
    db.psql("CREATE TABLE public.stray (id int)").unwrap();
    strata(tmp.path(), &db, &["fresh", "--confirm", db.name()]).ok();
    assert_eq!(
        snapshot(&db),
        after_up,
        "fresh must drop what is there and re-apply from scratch"
    );
}
