//! Real clusters: lifecycle, reuse of an existing root, error reporting.

mod common;

use std::fs;
use std::path::Path;

use strata_ephemeral::{Cluster, ClusterOptions, EphemeralError, PgBinaries, TempCluster};

fn bins() -> PgBinaries {
    PgBinaries::discover().expect("PostgreSQL binaries must be installed for these tests")
}

#[test]
fn discover_finds_a_server_installation() {
    let bins = bins();
    for tool in ["initdb", "pg_ctl", "postgres", "psql", "createdb", "dropdb"] {
        assert!(
            bins.tool(tool).is_file(),
            "{tool} missing in {:?}",
            bins.bin_dir()
        );
    }
    assert!(bins.major_version().unwrap() >= 13);
}

#[test]
fn temp_cluster_lifecycle() {
    let temp = TempCluster::start(ClusterOptions::default()).unwrap();
    let root = temp.root().to_path_buf();
    assert!(root.starts_with(std::env::temp_dir().join("strata-clusters")));
    assert!(temp.is_running());
    assert!(temp.data_dir().join("PG_VERSION").is_file());
    assert!(temp.socket_dir().join(".s.PGSQL.5432").exists());
    assert_eq!(
        fs::read_to_string(root.join("owner.pid")).unwrap().trim(),
        std::process::id().to_string()
    );

    // Starting again is a no-op.
    temp.start().unwrap();

    temp.create_database("lifecycle", None).unwrap();
    assert_eq!(temp.psql("lifecycle", "select 1").unwrap(), "1\n");
    assert_eq!(
        temp.psql(
            "lifecycle",
            "show fsync; show listen_addresses; show server_encoding"
        )
        .unwrap(),
        "off\n\nUTF8\n"
    );
    temp.create_database("lifecycle_copy", Some("lifecycle"))
        .unwrap();
    temp.drop_database("lifecycle_copy").unwrap();
    temp.drop_database("lifecycle").unwrap();
    // --if-exists
    temp.drop_database("lifecycle").unwrap();

    let err = temp.psql("lifecycle", "select 1").unwrap_err();
    assert!(
        matches!(&err, EphemeralError::ClientFailed { tool, stderr, .. }
            if tool == "psql" && stderr.contains("does not exist")),
        "{err}"
    );
    let err = temp.psql("postgres", "select nonsense(").unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");

    let url = temp.url("my db");
    let socket = temp.socket_dir().to_str().unwrap().replace('/', "%2F");
    assert_eq!(
        url,
        format!("postgresql://postgres@/my%20db?host={socket}&port=5432")
    );

    drop(temp);
    assert!(!root.exists(), "{} survived Drop", root.display());
}

#[test]
fn destroy_removes_the_directory() {
    let temp = TempCluster::start(ClusterOptions::default()).unwrap();
    let root = temp.root().to_path_buf();
    temp.destroy().unwrap();
    assert!(!root.exists());
}

#[test]
fn open_or_init_reuses_an_existing_root() {
    let bins = bins();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let opts = ClusterOptions {
        port: 54321,
        extra_settings: vec![("application_name".into(), "strata test".into())],
        ..ClusterOptions::default()
    };

    let first = Cluster::open_or_init(&bins, root, opts.clone()).unwrap();
    assert!(!first.is_running());
    first.start().unwrap();
    assert!(first.socket_dir().join(".s.PGSQL.54321").exists());
    first.create_database("keep", None).unwrap();
    first
        .psql(
            "keep",
            "create table marker(x int); insert into marker values (42)",
        )
        .unwrap();
    assert_eq!(
        first.psql("keep", "show application_name").unwrap(),
        "psql\n",
        "psql sets its own application_name"
    );
    first.stop().unwrap();
    assert!(!first.is_running());
    first.stop().unwrap(); // stopping a stopped cluster is fine
    let pg_version = fs::metadata(first.data_dir().join("PG_VERSION")).unwrap();
    drop(first);

    let second = Cluster::open_or_init(&bins, root, opts.clone()).unwrap();
    assert_eq!(
        fs::metadata(second.data_dir().join("PG_VERSION"))
            .unwrap()
            .modified()
            .unwrap(),
        pg_version.modified().unwrap(),
        "the data directory was re-initialised"
    );
    second.start().unwrap();
    assert_eq!(second.psql("keep", "select x from marker").unwrap(), "42\n");

    // A second handle on the running cluster sees it running; with another
    // port it refuses rather than handing out a wrong URL.
    let third = Cluster::open_or_init(&bins, root, opts).unwrap();
    assert!(third.is_running());
    third.start().unwrap();
    let elsewhere = Cluster::open_or_init(
        &bins,
        root,
        ClusterOptions {
            port: 5999,
            ..ClusterOptions::default()
        },
    )
    .unwrap();
    let err = elsewhere.start().unwrap_err();
    assert!(
        matches!(err, EphemeralError::RunningElsewhere { .. }),
        "{err}"
    );

    let root_path = second.root().to_path_buf();
    second.destroy().unwrap();
    assert!(!root_path.exists());
    assert!(!third.is_running());
}

#[test]
fn fsync_on_is_honoured() {
    let temp = TempCluster::start(ClusterOptions {
        fsync: true,
        ..ClusterOptions::default()
    })
    .unwrap();
    assert_eq!(
        temp.psql("postgres", "show fsync; show full_page_writes")
            .unwrap(),
        "on\non\n"
    );
}

#[test]
fn start_failure_reports_the_log() {
    let temp = TempCluster::start(ClusterOptions::default()).unwrap();
    let bad = Cluster::open_or_init(
        temp.binaries(),
        &temp.root().join("bad"),
        ClusterOptions {
            extra_settings: vec![("no_such_setting".into(), "1".into())],
            ..ClusterOptions::default()
        },
    )
    .unwrap();
    let err = bad.start().unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, EphemeralError::StartFailed { .. }), "{text}");
    assert!(text.contains("no_such_setting"), "{text}");
    assert!(text.contains("postgres.log"), "{text}");
}

#[test]
fn unreachable_root_is_explained_when_root() {
    if !common::running_as_root() {
        return; // only root hands the server to another OS user
    }
    use std::os::unix::fs::PermissionsExt;
    // Like a project under /root: a parent only its owner (root) may enter.
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let root = dir.path().join("project").join(".strata");
    let err = Cluster::open_or_init(&bins(), &root, ClusterOptions::default()).unwrap_err();
    match &err {
        EphemeralError::RootInaccessible { blocked, .. } => {
            assert_eq!(blocked, &fs::canonicalize(dir.path()).unwrap());
        }
        other => panic!("unexpected error: {other}"),
    }
    assert!(err.to_string().contains("chmod o+x"), "{err}");
}

#[test]
fn overlong_socket_path_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("x".repeat(100));
    let err = Cluster::open_or_init(&bins(), &root, ClusterOptions::default()).unwrap_err();
    assert!(
        matches!(err, EphemeralError::SocketPathTooLong { .. }),
        "{err}"
    );
    assert!(!Path::new(&root).join("data").exists());
}
