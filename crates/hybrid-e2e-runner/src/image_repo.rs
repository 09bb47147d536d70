//! `--image-repo`: where test images come from on clusters that cannot reach registry.k8s.io.
//!
//! Either one registry, every image becoming `REGISTRY/NAME:TAG` (the last path segment of the
//! reference kept, as upstream e2e's single-registry override does), or a mapping file in
//! upstream e2e's `KUBE_TEST_REPO_LIST` shape (kubernetes/kubernetes
//! `test/utils/image/manifest.go`, `RegistryList`): YAML keys naming upstream's registries, each
//! mapped to a mirror, e.g.
//!
//! ```yaml
//! promoterE2eRegistry: mirror.example/e2e-test-images   # registry.k8s.io/e2e-test-images
//! gcRegistry: mirror.example                            # registry.k8s.io (pause, stress)
//! ```
//!
//! An image whose registry (everything before its last `/`) is the default of a key given in
//! the file moves to that key's value; others stay (upstream's `ReplaceRegistryInImageURL`).
//! Keys of older upstream releases are accepted and ignored, as upstream's reader ignores
//! them; any other key, a value that is not a registry, or YAML that does not parse is an
//! error naming the file (and the line, where the YAML reader knows it).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::fixture::Images;

/// What `--image-repo` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRepo {
    /// Every image from this registry, as `REGISTRY/NAME:TAG`.
    Registry(String),
    /// Registries remapped by a `KUBE_TEST_REPO_LIST` file.
    RepoList {
        /// The file.
        path: PathBuf,
        /// Default registry → mirror, for the keys the file gives, in matching order.
        mirrors: Vec<(&'static str, String)>,
    },
}

/// Why `--image-repo` was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImageRepoError {
    /// The value is no registry.
    #[error("--image-repo \"{value}\" is not a registry (want HOST[:PORT][/PATH], e.g. mirror.example/e2e, or a KUBE_TEST_REPO_LIST YAML file): {problem}")]
    NotARegistry {
        /// What was given.
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The mapping file could not be read.
    #[error("--image-repo {}: cannot read the mapping file", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The mapping file is not a `KUBE_TEST_REPO_LIST` mapping.
    #[error("--image-repo {}: {message} (want a KUBE_TEST_REPO_LIST mapping, e.g. `promoterE2eRegistry: mirror.example/e2e-test-images`)", .path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the YAML reader said, with the line where it knows it.
        message: String,
    },
}

impl ImageRepo {
    /// Reads `--image-repo VALUE`: a mapping file when `VALUE` is a file (or ends in `.yaml`
    /// or `.yml`), else a registry.
    pub fn parse(value: &str) -> Result<ImageRepo, ImageRepoError> {
        let path = Path::new(value);
        let yaml_name = [".yaml", ".yml"].iter().any(|e| value.ends_with(e));
        if path.is_file() || yaml_name {
            return ImageRepo::from_file(path);
        }
        check_registry(value.trim_end_matches('/')).map_err(|problem| {
            ImageRepoError::NotARegistry {
                value: value.to_string(),
                problem,
            }
        })?;
        Ok(ImageRepo::Registry(value.to_string()))
    }

    /// Reads a `KUBE_TEST_REPO_LIST` mapping file.
    pub fn from_file(path: &Path) -> Result<ImageRepo, ImageRepoError> {
        let text = std::fs::read_to_string(path).map_err(|source| ImageRepoError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let malformed = |message: String| ImageRepoError::Malformed {
            path: path.to_path_buf(),
            message,
        };
        // An empty file maps nothing, as upstream's reader takes it.
        let list: RepoList = if text.trim().is_empty() {
            RepoList::default()
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| malformed(e.to_string()))?
        };
        let mut mirrors = Vec::new();
        for (key, default, mirror) in list.table() {
            let Some(mirror) = mirror else { continue };
            let mirror = mirror.trim().trim_end_matches('/');
            check_registry(mirror).map_err(|problem| {
                let line = line_of(&text, key).map_or(String::new(), |n| format!(" at line {n}"));
                malformed(format!(
                    "{key} {mirror:?} is not a registry: {problem}{line}"
                ))
            })?;
            mirrors.push((default, mirror.to_string()));
        }
        Ok(ImageRepo::RepoList {
            path: path.to_path_buf(),
            mirrors,
        })
    }

    /// `images` as this mirror serves them.
    pub fn apply(&self, images: Images) -> Images {
        match self {
            ImageRepo::Registry(repo) => images.with_repo(repo),
            ImageRepo::RepoList { mirrors, .. } => images.remapped(|full| remap(mirrors, full)),
        }
    }
}

/// `full` with its registry replaced by the first mirror whose default registry it is in.
fn remap(mirrors: &[(&str, String)], full: &str) -> String {
    let Some((registry, last)) = full.rsplit_once('/') else {
        return full.to_string();
    };
    match mirrors.iter().find(|(default, _)| *default == registry) {
        Some((_, mirror)) => format!("{}/{last}", mirror.trim_end_matches('/')),
        None => full.to_string(),
    }
}

/// The line (from 1) where `key:` starts a line of `text`, if one does.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let start = |line: &str| {
        let line = line.trim_start().trim_start_matches(['"', '\'']);
        line.strip_prefix(key).is_some_and(|rest| {
            rest.trim_start_matches(['"', '\''])
                .trim_start()
                .starts_with(':')
        })
    };
    text.lines().position(start).map(|i| i + 1)
}

/// Whether `value` can be the registry part of an image reference; why not.
fn check_registry(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("it is empty");
    }
    if value.contains("://") {
        return Err("an image reference has no URL scheme");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it holds whitespace");
    }
    if value.contains(['@', '?', '#', '\\']) || value.split('/').any(str::is_empty) {
        return Err("it is not HOST[:PORT][/PATH]");
    }
    Ok(())
}

/// Upstream's `RegistryList`, as YAML; the keys of older releases read and ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping of registry keys")]
struct RepoList {
    #[serde(rename = "gcRegistry")]
    gc: Option<String>,
    #[serde(rename = "sigStorageRegistry")]
    sig_storage: Option<String>,
    #[serde(rename = "privateRegistry")]
    private: Option<String>,
    #[serde(rename = "invalidRegistry")]
    invalid: Option<String>,
    #[serde(rename = "promoterE2eRegistry")]
    promoter_e2e: Option<String>,
    #[serde(rename = "buildImageRegistry")]
    build_image: Option<String>,
    #[serde(rename = "gcAuthenticatedRegistry")]
    gc_authenticated: Option<String>,
    #[serde(rename = "dockerLibraryRegistry")]
    docker_library: Option<String>,
    #[serde(rename = "cloudProviderGcpRegistry")]
    cloud_provider_gcp: Option<String>,
    #[serde(rename = "microsoftRegistry")]
    microsoft: Option<String>,
    #[serde(rename = "gcEtcdRegistry")]
    gc_etcd: Option<String>,
    // Older releases' keys: no image of ours comes from them.
    #[serde(rename = "e2eRegistry", default)]
    _e2e: Option<serde::de::IgnoredAny>,
    #[serde(rename = "e2eVolumeRegistry", default)]
    _e2e_volume: Option<serde::de::IgnoredAny>,
    #[serde(rename = "dockerGluster", default)]
    _docker_gluster: Option<serde::de::IgnoredAny>,
    #[serde(rename = "gcrReleaseRegistry", default)]
    _gcr_release: Option<serde::de::IgnoredAny>,
    #[serde(rename = "sampleRegistry", default)]
    _sample: Option<serde::de::IgnoredAny>,
    #[serde(rename = "googleContainerRegistry", default)]
    _google_container: Option<serde::de::IgnoredAny>,
    #[serde(rename = "quayIncubator", default)]
    _quay_incubator: Option<serde::de::IgnoredAny>,
    #[serde(rename = "quayK8sCSI", default)]
    _quay_k8s_csi: Option<serde::de::IgnoredAny>,
    #[serde(rename = "k8sCSI", default)]
    _k8s_csi: Option<serde::de::IgnoredAny>,
}

impl RepoList {
    /// Each key that moves images, its upstream default and the mirror the file gave, in the
    /// order upstream's `replaceRegistryInImageURLWithList` matches registries
    /// (`gcEtcdRegistry` shares `gcRegistry`'s default, which wins).
    fn table(self) -> [(&'static str, &'static str, Option<String>); 11] {
        [
            ("gcRegistry", "registry.k8s.io", self.gc),
            (
                "sigStorageRegistry",
                "registry.k8s.io/sig-storage",
                self.sig_storage,
            ),
            (
                "privateRegistry",
                "gcr.io/k8s-authenticated-test",
                self.private,
            ),
            (
                "invalidRegistry",
                "invalid.registry.k8s.io/invalid",
                self.invalid,
            ),
            (
                "promoterE2eRegistry",
                "registry.k8s.io/e2e-test-images",
                self.promoter_e2e,
            ),
            (
                "buildImageRegistry",
                "registry.k8s.io/build-image",
                self.build_image,
            ),
            (
                "gcAuthenticatedRegistry",
                "gcr.io/authenticated-image-pulling",
                self.gc_authenticated,
            ),
            (
                "dockerLibraryRegistry",
                "docker.io/library",
                self.docker_library,
            ),
            (
                "cloudProviderGcpRegistry",
                "registry.k8s.io/cloud-provider-gcp",
                self.cloud_provider_gcp,
            ),
            ("microsoftRegistry", "mcr.microsoft.com", self.microsoft),
            ("gcEtcdRegistry", "registry.k8s.io", self.gc_etcd),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("repo-list.yaml");
        std::fs::write(&path, text).expect("written");
        (dir, path)
    }

    fn refs(images: &Images) -> Vec<String> {
        images.iter().map(|(_, r)| r.to_string()).collect()
    }

    #[test]
    fn a_registry_takes_every_image() {
        let repo = ImageRepo::parse("mirror.example:5000/e2e/").expect("a registry");
        let images = repo.apply(Images::default());
        assert_eq!(
            images.get("agnhost"),
            Some("mirror.example:5000/e2e/agnhost:2.66.1")
        );
        assert!(refs(&images)
            .iter()
            .all(|r| r.starts_with("mirror.example:5000/e2e/")));
    }

    #[test]
    fn what_is_no_registry_is_refused_saying_why() {
        for (value, why) in [
            ("", "it is empty"),
            ("https://mirror.example", "no URL scheme"),
            ("mirror example", "whitespace"),
            ("mirror.example//e2e", "not HOST[:PORT][/PATH]"),
        ] {
            let error = ImageRepo::parse(value).expect_err(value).to_string();
            assert!(error.starts_with("--image-repo \""), "{error}");
            assert!(error.contains(why), "{value}: {error}");
        }
    }

    #[test]
    fn a_repo_list_moves_the_registries_it_names() {
        let (_dir, path) = file(
            "promoterE2eRegistry: mirror.example/e2e-test-images\n\
             gcRegistry: mirror.example/\n\
             sigStorageRegistry: mirror.example/sig-storage\n\
             e2eRegistry: old.example/ignored\n",
        );
        let repo = ImageRepo::parse(path.to_str().expect("utf-8")).expect("a mapping");
        let images = repo.apply(Images::default());
        assert_eq!(
            images.get("agnhost"),
            Some("mirror.example/e2e-test-images/agnhost:2.66.1")
        );
        assert_eq!(images.get("pause"), Some("mirror.example/pause:3.10.2"));
        assert_eq!(images.get("stress"), Some("mirror.example/stress:v1"));
        assert!(refs(&images)
            .iter()
            .all(|r| r.starts_with("mirror.example/")));
    }

    #[test]
    fn registries_a_repo_list_leaves_out_stay() {
        let (_dir, path) = file("gcRegistry: mirror.example\n");
        let images = ImageRepo::from_file(&path)
            .expect("a mapping")
            .apply(Images::default());
        assert_eq!(images.get("pause"), Some("mirror.example/pause:3.10.2"));
        assert_eq!(
            images.get("agnhost"),
            Some("registry.k8s.io/e2e-test-images/agnhost:2.66.1")
        );
        let (_dir, empty) = file("\n");
        let same = ImageRepo::from_file(&empty).expect("maps nothing");
        assert_eq!(same.apply(Images::default()), Images::default());
    }

    #[test]
    fn a_malformed_repo_list_names_the_file_and_line() {
        let cases = [
            (
                "gcRegistry: mirror.example\npromoterE2ERegistry: m/e2e\n",
                "unknown field `promoterE2ERegistry`",
                "line 2",
            ),
            ("gcRegistry: [a, b]\n", "gcRegistry", "line 1"),
            (
                "gcRegistry: m\npromoterE2eRegistry: \"https://m\"\n",
                "promoterE2eRegistry \"https://m\" is not a registry: an image reference has no URL scheme",
                "line 2",
            ),
            ("gcRegistry: m\n  bad: : indent\n", "", "line 2"),
            ("- a\n- b\n", "expected a mapping of registry keys", ""),
        ];
        for (text, what, line) in cases {
            let (_dir, path) = file(text);
            let error = ImageRepo::from_file(&path).expect_err(text).to_string();
            let shown = format!("--image-repo {}: ", path.display());
            assert!(error.starts_with(&shown), "{error}");
            assert!(error.contains(what), "{text:?}: {error}");
            assert!(error.contains(line), "{text:?}: {error}");
            assert!(
                error.ends_with("e2e-test-images`)"),
                "says what is wanted: {error}"
            );
        }
    }

    #[test]
    fn a_missing_yaml_file_is_named() {
        let error = ImageRepo::parse("/no/such/repo-list.yaml")
            .expect_err("missing")
            .to_string();
        assert_eq!(
            error,
            "--image-repo /no/such/repo-list.yaml: cannot read the mapping file"
        );
    }
}
