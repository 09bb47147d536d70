//! The image catalogue of the simulated cluster: which repositories exist and for which OS,
//! whatever the tag. Upstream e2e test images and pause are multi-OS; Docker Hub's busybox and
//! nginx and the stress image are Linux-only; anything else does not exist.

/// What the simulated runtime knows an image to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Agnhost,
    Busybox,
    Nginx,
    Httpd,
    Pause,
    /// `registry.k8s.io/stress` (vish/stress): allocates memory.
    Stress,
    Unknown,
}

/// Which operating systems an image's manifest offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Platforms {
    All,
    LinuxOnly,
    NotFound,
}

/// The fully qualified reference containerd pulls (`busybox` → `docker.io/library/busybox:latest`).
pub(crate) fn full_reference(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let (repo, tag) = match name.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (name, None),
    };
    let repo = qualify(repo);
    match (digest, tag) {
        (Some(d), _) => format!("{repo}@{d}"),
        (None, Some(t)) => format!("{repo}:{t}"),
        (None, None) => format!("{repo}:latest"),
    }
}

fn qualify(repo: &str) -> String {
    let first = repo.split('/').next().unwrap_or_default();
    let has_registry =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        repo.to_string()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    }
}

/// The qualified repository without tag or digest.
pub(crate) fn repository(image: &str) -> String {
    let full = full_reference(image);
    let name = full.split('@').next().unwrap_or_default();
    match name.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => r.to_string(),
        _ => name.to_string(),
    }
}

pub(crate) fn kind(repo: &str) -> Kind {
    match repo {
        "registry.k8s.io/e2e-test-images/agnhost" => Kind::Agnhost,
        "registry.k8s.io/e2e-test-images/busybox" | "docker.io/library/busybox" => Kind::Busybox,
        "registry.k8s.io/e2e-test-images/nginx" | "docker.io/library/nginx" => Kind::Nginx,
        "registry.k8s.io/e2e-test-images/httpd" => Kind::Httpd,
        "registry.k8s.io/pause" => Kind::Pause,
        "registry.k8s.io/stress" | "docker.io/vish/stress" => Kind::Stress,
        _ => Kind::Unknown,
    }
}

pub(crate) fn platforms(image: &str) -> Platforms {
    let repo = repository(image);
    match repo.as_str() {
        "registry.k8s.io/e2e-test-images/agnhost"
        | "registry.k8s.io/e2e-test-images/busybox"
        | "registry.k8s.io/e2e-test-images/nginx"
        | "registry.k8s.io/e2e-test-images/httpd"
        | "registry.k8s.io/pause" => Platforms::All,
        "docker.io/library/busybox"
        | "docker.io/library/nginx"
        | "registry.k8s.io/stress"
        | "docker.io/vish/stress" => Platforms::LinuxOnly,
        _ => Platforms::NotFound,
    }
}

/// Pulls an image for a node OS: `Err(containerd's message)` when it cannot.
pub(crate) fn pull(image: &str, windows: bool) -> Result<(), String> {
    let full = full_reference(image);
    match platforms(image) {
        Platforms::All => Ok(()),
        Platforms::LinuxOnly if !windows => Ok(()),
        Platforms::LinuxOnly => Err(format!(
            "failed to pull and unpack image \"{full}\": no match for platform in manifest: not found"
        )),
        Platforms::NotFound => Err(format!(
            "failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {full}: not found"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_names_are_qualified_and_os_checked() {
        assert_eq!(
            full_reference("busybox:1.36"),
            "docker.io/library/busybox:1.36"
        );
        assert_eq!(
            repository("docker.io/library/nginx"),
            "docker.io/library/nginx"
        );
        assert_eq!(repository("library/busybox:1"), "docker.io/library/busybox");
        assert_eq!(pull("busybox:1.36", false), Ok(()));
        assert_eq!(
            pull("busybox:1.36", true).unwrap_err(),
            "failed to pull and unpack image \"docker.io/library/busybox:1.36\": no match for platform in manifest: not found"
        );
        assert_eq!(
            pull("registry.k8s.io/e2e-test-images/agnhost:2.66.1", true),
            Ok(())
        );
        assert!(pull("example.com/nope:1", false)
            .unwrap_err()
            .contains("not found"));
        assert_eq!(repository("localhost:5000/x:1"), "localhost:5000/x");
    }
}
