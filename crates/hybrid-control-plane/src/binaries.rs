//! Finds the folder with the control-plane binaries: the config's, else the environment's, else
//! the one `tools/control-plane/build.sh` builds (or already built) and prints.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::component::Component;
use crate::config::BIN_DIR_ENV;
use crate::error::ControlPlaneError;

/// `tools/control-plane/build.sh` in this workspace.
pub(crate) fn build_script() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // crates/hybrid-control-plane -> the workspace root.
    let workspace_root = crate_dir.ancestors().nth(2).unwrap_or(crate_dir);
    workspace_root.join("tools/control-plane/build.sh")
}

/// The binary folder to use, checked to hold every component.
pub(crate) async fn locate(configured: Option<&Path>) -> Result<PathBuf, ControlPlaneError> {
    let dir = match configured {
        Some(dir) => dir.to_path_buf(),
        None => match std::env::var_os(BIN_DIR_ENV).filter(|dir| !dir.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => run_build_script(&build_script()).await?,
        },
    };
    check_complete(&dir)?;
    Ok(dir)
}

/// Every component's binary is in `dir`.
pub(crate) fn check_complete(dir: &Path) -> Result<(), ControlPlaneError> {
    for component in Component::ALL {
        if !dir.join(component.name()).is_file() {
            return Err(ControlPlaneError::BinariesNotFound {
                dir: dir.to_path_buf(),
                missing: component.name().to_string(),
            });
        }
    }
    Ok(())
}

/// Runs the build script (a no-op taking 0.1 s when the binary is cached) and returns the folder
/// it prints on stdout.
async fn run_build_script(script: &Path) -> Result<PathBuf, ControlPlaneError> {
    tracing::info!(script = %script.display(), "locating the control plane (a cold build takes ~25 min)");
    let output = Command::new(script)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| ControlPlaneError::BuildNotRunnable {
            script: script.to_path_buf(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let folder = last_line(&stdout, |_| true);
    match folder {
        Some(folder) if output.status.success() => Ok(PathBuf::from(folder)),
        _ => Err(ControlPlaneError::BuildFailed {
            script: script.to_path_buf(),
            status: output.status,
            message: last_line(&stderr, |line| line.contains("error:"))
                .or_else(|| last_line(&stderr, |_| true))
                .unwrap_or("it printed no folder")
                .to_string(),
        }),
    }
}

/// The last non-blank line of `text` that satisfies `wanted`, trimmed.
fn last_line(text: &str, wanted: impl Fn(&str) -> bool) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .rfind(|line| wanted(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_script_is_found_in_the_workspace() {
        assert!(build_script().is_file(), "{}", build_script().display());
    }

    #[test]
    fn an_incomplete_folder_names_the_first_missing_binary() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("etcd"), "").unwrap();
        let error = check_complete(dir.path()).unwrap_err();
        assert!(
            matches!(&error, ControlPlaneError::BinariesNotFound { missing, .. } if missing == "kube-apiserver"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_failing_build_script_reports_its_own_error_line() {
        let dir = tempfile::tempdir().unwrap();
        let script = build_script_running(
            dir.path(),
            "echo 'build.sh: progress' >&2\necho 'build.sh: error: go not found on PATH' >&2\necho 'bye' >&2\nexit 1",
        );
        let error = run_build_script(&script).await.unwrap_err();
        assert!(
            matches!(&error, ControlPlaneError::BuildFailed { message, .. } if message == "build.sh: error: go not found on PATH"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_succeeding_build_script_yields_the_folder_it_prints() {
        let dir = tempfile::tempdir().unwrap();
        let script = build_script_running(
            dir.path(),
            "echo 'build.sh: up to date' >&2\necho /cache/cp-1",
        );
        assert_eq!(
            run_build_script(&script).await.unwrap(),
            PathBuf::from("/cache/cp-1")
        );
    }

    /// An executable `build.sh` in `dir` that runs `body` (sh).
    fn build_script_running(dir: &Path, body: &str) -> PathBuf {
        let script = dir.join("build.sh");
        // Written by a child shell: a write descriptor of this process, inherited by a child that
        // another test forks meanwhile, would make exec fail with ETXTBSY ("Text file busy").
        let written = std::process::Command::new("sh")
            .args([
                "-c",
                "printf '%s' \"$2\" > \"$1\" && chmod 755 \"$1\"",
                "sh",
            ])
            .arg(&script)
            .arg(format!("#!/bin/sh\n{body}\n"))
            .status()
            .unwrap();
        assert!(written.success(), "cannot write {}", script.display());
        script
    }
}
