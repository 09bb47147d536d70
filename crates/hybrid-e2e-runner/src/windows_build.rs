//! Windows Server builds and images: which builds (`node.kubernetes.io/windows-build`, e.g.
//! `10.0.26100`) each image of the catalogue serves, and containerd's rule for which image
//! builds a Windows host runs with process isolation.
//!
//! The rule is containerd's Windows platform matcher (`github.com/containerd/platforms`,
//! `platform_windows_compat.go`, `checkWindowsHostAndContainerCompat`, after
//! containerd/platforms#24 "Add WS2025 to Windows matcher"), which follows Microsoft's
//! "Windows container version compatibility" page: major and minor must match; a host older
//! than Windows Server 2022 (10.0.20348) runs only its own build; a newer host runs images
//! from the latest LTSC release before it up to its own build (stable ABI), so a Windows
//! Server 2025 host (10.0.26100) runs ltsc2022 and ltsc2025 images, a Windows Server 2022 host
//! only ltsc2022 ones, and a Windows Server 2019 host (10.0.17763) only 1809/ltsc2019 ones.
//!
//! The builds each image tag serves ([`served_builds`]) come from the upstream build files:
//! - agnhost ≤ 2.53 and the other e2e test images: `test/images/*/BASEIMAGE` list
//!   `windows/amd64/1809` and `windows/amd64/ltsc2022` only (kubernetes/kubernetes).
//! - agnhost 2.66.1: ltsc2025 was added to the BASEIMAGEs by kubernetes/kubernetes#132235 and to
//!   agnhost by kubernetes/kubernetes#136727 (merged 2026-02-03); 2.66.1 was promoted on
//!   2026-07-29 (kubernetes/k8s.io#9787), after both. Those PRs add ltsc2025 and remove nothing,
//!   so 1809 is assumed kept (not checked against the published manifest list).
//! - pause 3.10: `build/pause/Makefile` `ALL_OSVERSIONS.windows := 1809 ltsc2022`; pause 3.10.2
//!   adds Windows Server 2025 (kubernetes/kubernetes#138195, `build/pause/CHANGELOG.md` 3.10.2;
//!   containerd/containerd#13156 "pause image 3.10.1 -> 3.10.2 for add Windows Server 2025
//!   (ltsc2025) support"); 1809 assumed kept likewise.
//! - stress (`registry.k8s.io/stress:v1`): Linux only.

use serde_json::Value;

use crate::catalog::{Action, Os, TestCase};
use crate::fixture::{self, FixtureSet, Images, Placement};

/// Windows Server 2019 (and 1809): build 10.0.17763.
pub const LTSC2019: &str = "10.0.17763";
/// Windows Server 2022: build 10.0.20348.
pub const LTSC2022: &str = "10.0.20348";
/// Windows Server 2025: build 10.0.26100.
pub const LTSC2025: &str = "10.0.26100";

/// The LTSC builds after which containerd's matcher allows older images (stable ABI), in
/// ascending order (`compatLTSCReleases`).
const STABLE_ABI_LTSC_BUILDS: &[u32] = &[20348, 26100];

/// Windows builds each image the catalogue may name serves, by image name (the last path
/// segment, so a `--image-repo` mirror keeps its entry) and tag. See the module doc for
/// where each comes from.
const SERVED: &[(&str, &str, &[&str])] = &[
    ("agnhost", "2.52", &[LTSC2019, LTSC2022]),
    ("agnhost", "2.53", &[LTSC2019, LTSC2022]),
    ("agnhost", "2.66.1", &[LTSC2019, LTSC2022, LTSC2025]),
    ("busybox", "1.36.1-1", &[LTSC2019, LTSC2022]),
    ("httpd", "2.4.38-4", &[LTSC2019, LTSC2022]),
    ("nginx", "1.14-4", &[LTSC2019, LTSC2022]),
    ("pause", "3.10", &[LTSC2019, LTSC2022]),
    ("pause", "3.10.2", &[LTSC2019, LTSC2022, LTSC2025]),
    ("stress", "v1", &[]),
];

/// A Windows version `major.minor.build` (a fourth, revision part is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WindowsVersion {
    major: u32,
    minor: u32,
    build: u32,
}

fn parse(version: &str) -> Option<WindowsVersion> {
    let mut parts = version.trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let build = parts.next()?.parse().ok()?;
    Some(WindowsVersion {
        major,
        minor,
        build,
    })
}

/// Whether a host at `host_build` runs an image variant built for `image_build`, by
/// containerd's rule (module doc). Unparsable versions never match.
pub fn host_runs(host_build: &str, image_build: &str) -> bool {
    let (Some(host), Some(image)) = (parse(host_build), parse(image_build)) else {
        return false;
    };
    if host.major != image.major || host.minor != image.minor {
        return false;
    }
    let first_ltsc = STABLE_ABI_LTSC_BUILDS[0];
    if host.build < first_ltsc {
        return host.build == image.build;
    }
    let oldest_runnable = STABLE_ABI_LTSC_BUILDS
        .iter()
        .rev()
        .copied()
        .find(|ltsc| host.build > *ltsc)
        .unwrap_or(first_ltsc);
    oldest_runnable <= image.build && image.build <= host.build
}

/// The Windows builds `reference` serves (`registry.k8s.io/pause:3.10.2`,
/// `mirror.example/e2e/agnhost:2.66.1`), when the catalogue knows its name and tag; empty for
/// a Linux-only image.
pub fn served_builds(reference: &str) -> Option<&'static [&'static str]> {
    let name_and_tag = reference.split('@').next()?.rsplit('/').next()?;
    let (name, tag) = name_and_tag.split_once(':')?;
    SERVED
        .iter()
        .find(|(n, t, _)| *n == name && *t == tag)
        .map(|(_, _, builds)| *builds)
}

/// Whether a host at `host_build` runs some variant among `served`.
pub fn serves(served: &[&str], host_build: &str) -> bool {
    served.iter().any(|image| host_runs(host_build, image))
}

/// Why `reference` cannot run on a Windows host at `host_build`, if the catalogue knows it
/// has Windows variants and none matches: the image and the builds it serves. `None` for
/// unknown images and Linux-only ones (those fail on every Windows node, on purpose).
pub fn unserved(reference: &str, host_build: &str) -> Option<String> {
    let served = served_builds(reference)?;
    if served.is_empty() || serves(served, host_build) {
        return None;
    }
    Some(format!(
        "image {reference} serves Windows builds {} only",
        served.join(", ")
    ))
}

/// The images the Windows pods of `case` run (containers and init containers of every pod
/// and pod template its `create` steps make for Windows), sorted, without repeats. A fixture
/// that does not render is left to the `create` step to report.
pub fn windows_images(case: &TestCase, fixtures: &FixtureSet, images: &Images) -> Vec<String> {
    os_images(case, fixtures, images, Os::Windows)
}

/// The images the pods of `case` that its `create` steps make for `os` run, as
/// [`windows_images`] finds them for Windows.
pub fn os_images(case: &TestCase, fixtures: &FixtureSet, images: &Images, os: Os) -> Vec<String> {
    let placement = Placement {
        namespace: "${namespace}",
        storage_class: None,
        tolerations: &[],
    };
    let mut found = Vec::new();
    for step in &case.steps {
        let Action::Create {
            fixture,
            name,
            os: step_os,
            vars,
        } = &step.action
        else {
            continue;
        };
        if *step_os != os {
            continue;
        }
        let Ok(objects) =
            fixture::materialize(fixtures, images, fixture, name, os, vars, placement)
        else {
            continue;
        };
        for object in &objects {
            collect_images(object, &mut found);
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Pushes the image of every container and init container in `value` (a pod, a pod template,
/// any object holding them) onto `found`.
pub(crate) fn collect_images(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for key in ["containers", "initContainers"] {
                for container in map.get(key).and_then(Value::as_array).into_iter().flatten() {
                    if let Some(image) = container.get("image").and_then(Value::as_str) {
                        found.push(image.to_string());
                    }
                }
            }
            for (key, inner) in map {
                if key != "containers" && key != "initContainers" {
                    collect_images(inner, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_images(v, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn images_are_found_in_pods_and_pod_templates() {
        let deployment = json!({"kind": "Deployment", "spec": {"template": {"spec": {
            "initContainers": [{"name": "i", "image": "a:1"}],
            "containers": [{"name": "c", "image": "b:2"}, {"name": "d", "image": "a:1"}]}}}});
        let mut found = Vec::new();
        collect_images(&deployment, &mut found);
        found.sort();
        assert_eq!(found, ["a:1", "a:1", "b:2"]);
    }

    #[test]
    fn ltsc2025_hosts_run_ltsc2022_and_ltsc2025_images_only() {
        assert!(host_runs(LTSC2025, LTSC2025));
        assert!(host_runs(LTSC2025, LTSC2022));
        assert!(!host_runs(LTSC2025, LTSC2019));
        // A revision on the host's label does not matter.
        assert!(host_runs("10.0.26100.2894", LTSC2022));
    }

    #[test]
    fn ltsc2022_and_older_hosts_need_their_own_build() {
        assert!(host_runs(LTSC2022, LTSC2022));
        assert!(!host_runs(LTSC2022, LTSC2019));
        assert!(!host_runs(LTSC2022, LTSC2025));
        assert!(host_runs(LTSC2019, LTSC2019));
        assert!(!host_runs(LTSC2019, LTSC2022));
        assert!(!host_runs("10.0.19041", LTSC2019));
    }

    #[test]
    fn annual_channel_hosts_run_from_the_ltsc_before_them() {
        // 23H2 (25398) sits between ltsc2022 and ltsc2025.
        assert!(host_runs("10.0.25398", LTSC2022));
        assert!(!host_runs("10.0.25398", LTSC2025));
        // After ltsc2025, ltsc2022 images no longer run.
        assert!(host_runs("10.0.26200", LTSC2025));
        assert!(!host_runs("10.0.26200", LTSC2022));
        assert!(!host_runs("nonsense", LTSC2022));
    }

    #[test]
    fn the_catalogue_knows_builds_by_name_and_tag_whatever_the_registry() {
        assert_eq!(
            served_builds("registry.k8s.io/e2e-test-images/agnhost:2.66.1"),
            Some(&[LTSC2019, LTSC2022, LTSC2025][..])
        );
        assert_eq!(
            served_builds("mirror.example/e2e/pause:3.10"),
            Some(&[LTSC2019, LTSC2022][..])
        );
        assert_eq!(served_builds("registry.k8s.io/stress:v1"), Some(&[][..]));
        assert_eq!(served_builds("registry.k8s.io/pause:9.9"), None);
        assert_eq!(served_builds("pause"), None);
    }

    #[test]
    fn unserved_names_the_image_and_its_builds() {
        assert_eq!(
            unserved("registry.k8s.io/pause:3.10", "10.0.19041").as_deref(),
            Some("image registry.k8s.io/pause:3.10 serves Windows builds 10.0.17763, 10.0.20348 only")
        );
        assert_eq!(unserved("registry.k8s.io/pause:3.10", LTSC2025), None);
        assert_eq!(unserved("registry.k8s.io/pause:3.10.2", LTSC2025), None);
        assert_eq!(unserved("registry.k8s.io/stress:v1", LTSC2025), None);
        assert_eq!(unserved("example.com/unknown:1", "10.0.19041"), None);
    }
}
