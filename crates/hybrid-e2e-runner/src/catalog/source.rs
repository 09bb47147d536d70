//! Where suite and fixture files come from: embedded in the binary at build time, or read
//! from a directory (`--suites DIR`, `--fixtures DIR`).

use std::path::Path;

use super::error::CatalogError;

/// One file's name (as shown in errors) and text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name errors show (`suites/networking.yaml`, or the path under `--suites`).
    pub name: String,
    /// The file's text.
    pub text: String,
}

macro_rules! embed {
    ($dir:literal: $($file:literal),* $(,)?) => {
        &[$((concat!($dir, "/", $file), include_str!(concat!("../../../../", $dir, "/", $file)))),*]
    };
}

/// The embedded suites. A test below checks this list matches `suites/`.
const SUITES: &[(&str, &str)] = embed!("suites":
    "lifecycle.yaml",
    "networking.yaml",
    "scheduling.yaml",
    "storage.yaml",
);

/// The embedded fixtures. A test below checks this list matches `fixtures/`.
const FIXTURES: &[(&str, &str)] = embed!("fixtures":
    "claim-pod-placed.yaml",
    "claim-pod.yaml",
    "claim.yaml",
    "config-volumes.yaml",
    "hostpath-pod.yaml",
    "init-containers.yaml",
    "liveness-pod.yaml",
    "memory-emptydir.yaml",
    "memory-limited.yaml",
    "netexec-backend.yaml",
    "netexec-deployment.yaml",
    "netexec-gated.yaml",
    "netexec-placed.yaml",
    "netexec-service.yaml",
    "netexec.yaml",
    "never-ready.yaml",
    "pause.yaml",
    "prestop-pod.yaml",
    "projected-volume.yaml",
    "readonly-root.yaml",
    "restart-logger.yaml",
    "shell-command.yaml",
    "shell-job.yaml",
    "sleeper.yaml",
    "slow-start.yaml",
    "stress.yaml",
    "subpath-pod.yaml",
    "two-containers-emptydir.yaml",
);

fn embedded(files: &[(&str, &str)]) -> Vec<SourceFile> {
    files
        .iter()
        .map(|(name, text)| SourceFile {
            name: name.to_string(),
            text: text.to_string(),
        })
        .collect()
}

/// The suites built into the binary.
pub(crate) fn embedded_suites() -> Vec<SourceFile> {
    embedded(SUITES)
}

/// The fixtures built into the binary.
pub(crate) fn embedded_fixtures() -> Vec<SourceFile> {
    embedded(FIXTURES)
}

/// Every `*.yaml` / `*.yml` file in `dir`, sorted by name.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, CatalogError> {
    let read_err = |source| CatalogError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        let yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        if yaml && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| CatalogError::Read {
            path: path.display().to_string(),
            source,
        })?;
        files.push(SourceFile {
            name: path.display().to_string(),
            text,
        });
    }
    if files.is_empty() {
        return Err(CatalogError::NoFiles {
            path: dir.display().to_string(),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_disk(dir: &str) -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir);
        let mut names: Vec<String> = read_dir(&root)
            .map(|files| {
                files
                    .iter()
                    .filter_map(|f| {
                        Path::new(&f.name)
                            .file_name()
                            .map(|n| format!("{dir}/{}", n.to_string_lossy()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn every_suite_and_fixture_file_is_embedded() {
        let names = |files: Vec<SourceFile>| files.into_iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(
            names(embedded_suites()),
            on_disk("suites"),
            "update SUITES in source.rs"
        );
        assert_eq!(
            names(embedded_fixtures()),
            on_disk("fixtures"),
            "update FIXTURES in source.rs"
        );
    }

    #[test]
    fn an_empty_or_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(matches!(
            read_dir(dir.path()),
            Err(CatalogError::NoFiles { .. })
        ));
        assert!(matches!(
            read_dir(&dir.path().join("nope")),
            Err(CatalogError::Read { .. })
        ));
    }
}
