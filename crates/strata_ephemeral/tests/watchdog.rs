//! The watchdog and the stale-directory sweep clean up after processes that
//! die without running `Drop`.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use strata_ephemeral::{ClusterOptions, TempCluster};

const CHILD_ENV: &str = "STRATA_EPHEMERAL_WATCHDOG_CHILD";

/// Not a real test on its own: when re-executed by
/// `watchdog_cleans_up_after_a_killed_process`, it starts a cluster, prints
/// its root and hangs until killed.
#[test]
fn watchdog_child_process() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let temp = TempCluster::start(ClusterOptions::default()).unwrap();
    println!("ROOT={}", temp.root().display());
    std::thread::sleep(Duration::from_secs(300));
}

fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

fn postmaster_pid(root: &Path) -> u32 {
    let text = fs::read_to_string(root.join("data/postmaster.pid")).unwrap();
    text.lines().next().unwrap().trim().parse().unwrap()
}

#[test]
fn watchdog_cleans_up_after_a_killed_process() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "watchdog_child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let root = stdout
        .lines()
        .map_while(Result::ok)
        // libtest prints "test watchdog_child_process ... " on the same line.
        .find_map(|line| {
            line.split_once("ROOT=")
                .map(|(_, root)| PathBuf::from(root.trim()))
        })
        .expect("child did not report its cluster root");
    assert!(root.join("data/PG_VERSION").is_file());
    let server = postmaster_pid(&root);
    let proc_dir = PathBuf::from(format!("/proc/{server}"));
    assert!(proc_dir.exists());

    child.kill().unwrap(); // SIGKILL: no Drop, no atexit
    child.wait().unwrap();

    assert!(
        wait_until(Duration::from_secs(60), || !root.exists()),
        "watchdog did not delete {}",
        root.display()
    );
    assert!(
        wait_until(Duration::from_secs(30), || !proc_dir.exists()),
        "watchdog did not stop the server (pid {server})"
    );
}

#[test]
fn stale_directories_of_dead_processes_are_swept() {
    // A pid that is certainly dead: a child we already reaped.
    let mut done = Command::new("true").spawn().unwrap();
    let dead_pid = done.id();
    done.wait().unwrap();

    let base = std::env::temp_dir().join("strata-clusters");
    fs::create_dir_all(&base).unwrap();
    let stale = base.join(format!("{dead_pid}-0-0"));
    fs::create_dir_all(stale.join("run")).unwrap();
    fs::write(stale.join("owner.pid"), format!("{dead_pid}\n")).unwrap();
    // One with only the pid in its name (crash before owner.pid was written).
    let nameless = base.join(format!("{dead_pid}-1-0"));
    fs::create_dir_all(&nameless).unwrap();
    // A live owner's directory must survive.
    let alive = base.join(format!("{}-999999-0", std::process::id()));
    fs::create_dir_all(&alive).unwrap();

    let temp = TempCluster::start(ClusterOptions::default()).unwrap();
    assert!(!stale.exists(), "{} was not swept", stale.display());
    assert!(!nameless.exists(), "{} was not swept", nameless.display());
    assert!(alive.exists());
    fs::remove_dir_all(&alive).unwrap();
    drop(temp);
}
