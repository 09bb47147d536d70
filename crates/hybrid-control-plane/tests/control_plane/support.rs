//! Shared by the tests: whether the real binaries can be had, a lock so that at most one real
//! control plane runs at a time, and folders of fake component binaries.

use std::path::{Path, PathBuf};

use hybrid_control_plane::{Component, ControlPlane, BIN_DIR_ENV};
use tokio::sync::{Mutex, MutexGuard};

/// A real control plane takes ~300 MB and 2 cores for 5 s: one at a time.
static REAL_CONTROL_PLANE: Mutex<()> = Mutex::const_new(());

/// The lock for a test that starts the real control plane, or `None` (after printing why) when
/// the binaries cannot be had: no `HYBRID_E2E_CONTROL_PLANE_BIN` and no `go` to build them.
/// With `CI=true` a missing Go is a failure, not a skip.
pub(crate) async fn real_control_plane() -> Option<MutexGuard<'static, ()>> {
    let bin_dir_set = std::env::var_os(BIN_DIR_ENV).is_some_and(|dir| !dir.is_empty());
    if !bin_dir_set && !on_path("go") {
        let reason = "the real control plane needs Go (tools/control-plane/build.sh)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{reason}, and CI=true does not allow skipping");
        }
        println!("skipped: {reason}");
        return None;
    }
    Some(REAL_CONTROL_PLANE.lock().await)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Whether a process with this id exists (a zombie counts: it was not reaped).
pub(crate) fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A folder of fake binaries: each component runs `script` (sh) if given, else sleeps.
pub(crate) fn fake_bin_dir(scripts: &[(Component, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for component in Component::ALL {
        let body = scripts
            .iter()
            .find(|(c, _)| *c == component)
            .map_or("exec sleep 30", |(_, script)| script);
        let path = dir.path().join(component.name());
        // Written by a child shell: a write descriptor of this process, inherited by a child that
        // another test forks meanwhile, would make exec fail with ETXTBSY ("Text file busy").
        let written = std::process::Command::new("sh")
            .args([
                "-c",
                "printf '%s' \"$2\" > \"$1\" && chmod 755 \"$1\"",
                "sh",
            ])
            .arg(&path)
            .arg(format!("#!/bin/sh\n{body}\n"))
            .status()
            .unwrap();
        assert!(written.success(), "cannot write {}", path.display());
    }
    dir
}

/// A file in `dir` (for fake binaries to leave their pid in).
pub(crate) fn file_in(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// The pids of every component (all must be running).
pub(crate) fn component_pids(control_plane: &ControlPlane) -> Vec<u32> {
    Component::ALL
        .iter()
        .map(|component| control_plane.pid(*component).unwrap())
        .collect()
}

/// No process of `pids` and not `temp_dir` remain after `what` (stop, drop).
pub(crate) fn assert_nothing_left(pids: &[u32], temp_dir: &Path, what: &str) {
    for pid in pids {
        assert!(!process_exists(*pid), "pid {pid} still exists after {what}");
    }
    assert!(
        !temp_dir.exists(),
        "{} still exists after {what}",
        temp_dir.display()
    );
}
