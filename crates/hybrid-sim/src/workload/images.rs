//! The image catalogue of the simulated cluster: which repositories exist and for which OS.
//! Upstream e2e test images and pause are multi-OS; Docker Hub's busybox and nginx and the
//! stress image are Linux-only; anything else does not exist. For the tags whose manifest
//! lists are known ([`windows_variants`]) a Windows node pulls only a variant its build runs,
//! by containerd's platform matcher (`containerd/platforms` `platform_windows_compat.go`,
//! `checkWindowsHostAndContainerCompat`): a host before 10.0.20348 needs its own build; a
//! later one runs builds from the last LTSC before it up to its own (10.0.26100 runs ltsc2022
//! and ltsc2025 variants). Other tags of multi-OS repositories serve every build.

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

/// The Windows builds (`os.version` major.minor.build) of the manifest lists of the multi-OS
/// tags the harness uses or used: agnhost ≤ 2.53, pause 3.10 and the other e2e test images
/// have 1809 and ltsc2022 variants (`test/images/*/BASEIMAGE`, `build/pause/Makefile`);
/// agnhost 2.66.1 and pause 3.10.2 add ltsc2025 (kubernetes/kubernetes#136727, #138195).
const WINDOWS_VARIANTS: &[(&str, &str, &[u32])] = &[
    (
        "registry.k8s.io/e2e-test-images/agnhost",
        "2.52",
        &[17763, 20348],
    ),
    (
        "registry.k8s.io/e2e-test-images/agnhost",
        "2.53",
        &[17763, 20348],
    ),
    (
        "registry.k8s.io/e2e-test-images/agnhost",
        "2.66.1",
        &[17763, 20348, 26100],
    ),
    (
        "registry.k8s.io/e2e-test-images/busybox",
        "1.36.1-1",
        &[17763, 20348],
    ),
    (
        "registry.k8s.io/e2e-test-images/httpd",
        "2.4.38-4",
        &[17763, 20348],
    ),
    (
        "registry.k8s.io/e2e-test-images/nginx",
        "1.14-4",
        &[17763, 20348],
    ),
    ("registry.k8s.io/pause", "3.10", &[17763, 20348]),
    ("registry.k8s.io/pause", "3.10.2", &[17763, 20348, 26100]),
];

/// The Windows builds the manifest list of `image` has variants for, when known.
pub(crate) fn windows_variants(image: &str) -> Option<&'static [u32]> {
    let full = full_reference(image);
    let name = full.split('@').next().unwrap_or_default();
    let (repo, tag) = name.rsplit_once(':')?;
    WINDOWS_VARIANTS
        .iter()
        .find(|(r, t, _)| *r == repo && *t == tag)
        .map(|(_, _, builds)| *builds)
}

/// The build number of `10.0.BUILD[.REV]`, when the version is 10.0.
fn build_number(version: &str) -> Option<u32> {
    let mut parts = version.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("10"), Some("0"), Some(build)) => build.parse().ok(),
        _ => None,
    }
}

/// containerd's rule: whether a host at build `host` runs a variant built for `image`.
fn host_runs(host: u32, image: u32) -> bool {
    const STABLE_ABI_LTSC: [u32; 2] = [20348, 26100];
    if host < STABLE_ABI_LTSC[0] {
        return host == image;
    }
    let oldest = STABLE_ABI_LTSC
        .iter()
        .rev()
        .copied()
        .find(|ltsc| host > *ltsc)
        .unwrap_or(STABLE_ABI_LTSC[0]);
    oldest <= image && image <= host
}

/// Pulls an image for a node: Linux (`windows_build` `None`) or Windows at that build
/// (`10.0.26100`). `Err(containerd's message)` when it cannot.
pub(crate) fn pull(image: &str, windows_build: Option<&str>) -> Result<(), String> {
    let full = full_reference(image);
    let windows = windows_build.is_some();
    let no_match = || {
        format!(
            "failed to pull and unpack image \"{full}\": no match for platform in manifest: not found"
        )
    };
    match platforms(image) {
        Platforms::All => match (windows_build.and_then(build_number), windows_variants(image)) {
            (Some(host), Some(variants)) if !variants.iter().any(|v| host_runs(host, *v)) => {
                Err(no_match())
            }
            _ => Ok(()),
        },
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
        assert_eq!(pull("busybox:1.36", None), Ok(()));
        assert_eq!(
            pull("busybox:1.36", Some("10.0.20348")).unwrap_err(),
            "failed to pull and unpack image \"docker.io/library/busybox:1.36\": no match for platform in manifest: not found"
        );
        assert_eq!(
            pull(
                "registry.k8s.io/e2e-test-images/agnhost:2.66.1",
                Some("10.0.20348")
            ),
            Ok(())
        );
        assert!(pull("example.com/nope:1", None)
            .unwrap_err()
            .contains("not found"));
        assert_eq!(repository("localhost:5000/x:1"), "localhost:5000/x");
    }

    #[test]
    fn windows_pulls_need_a_variant_the_node_build_runs() {
        let ws2025 = Some("10.0.26100");
        // ltsc2025 hosts run ltsc2022 variants (stable ABI) and their own.
        assert_eq!(pull("registry.k8s.io/pause:3.10", ws2025), Ok(()));
        assert_eq!(pull("registry.k8s.io/pause:3.10.2", ws2025), Ok(()));
        // Hosts before ltsc2022 need their own build.
        assert_eq!(
            pull("registry.k8s.io/pause:3.10.2", Some("10.0.19041")).unwrap_err(),
            "failed to pull and unpack image \"registry.k8s.io/pause:3.10.2\": no match for platform in manifest: not found"
        );
        assert_eq!(
            pull("registry.k8s.io/pause:3.10", Some("10.0.17763")),
            Ok(())
        );
        // A Linux node pulls the Linux variant; tags not in the table serve every build.
        assert_eq!(pull("registry.k8s.io/pause:3.10", None), Ok(()));
        assert_eq!(
            pull("registry.k8s.io/pause:3.9", Some("10.0.19041")),
            Ok(())
        );
        assert!(host_runs(26100, 20348) && !host_runs(26100, 17763));
        assert!(host_runs(20348, 20348) && !host_runs(20348, 26100) && !host_runs(20348, 17763));
        assert!(host_runs(26200, 26100) && !host_runs(26200, 20348));
    }
}
