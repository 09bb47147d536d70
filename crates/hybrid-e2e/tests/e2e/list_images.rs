//! `list-images` and `--image-repo` end to end: `list-images` names exactly the images the
//! objects `render` prints use; with a registry or a KUBE_TEST_REPO_LIST mapping file as
//! `--image-repo`, no image `render` prints is left unmapped; a malformed mapping file exits 2
//! naming the file and the line.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

use crate::common::harness::{hybrid_e2e, run_sim};

/// Every `image:` of a container in `value`.
fn images_in(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    (Some("image"), Value::String(image)) => {
                        found.insert(image.clone());
                    }
                    _ => images_in(inner, found),
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| images_in(v, found)),
        _ => {}
    }
}

/// The images of the objects `hybrid-e2e render ARGS` prints.
fn rendered_images(args: &[&str]) -> BTreeSet<String> {
    let mut command = vec!["render"];
    command.extend_from_slice(args);
    let (code, stdout, stderr) = hybrid_e2e(&command);
    assert_eq!(code, Some(0), "{stderr}");
    let mut found = BTreeSet::new();
    for doc in stdout.split("---\n") {
        let value: Value = serde_yaml_ng::from_str(doc).expect("render prints YAML");
        images_in(&value, &mut found);
    }
    found
}

/// What `hybrid-e2e list-images ARGS` prints, one entry a line.
fn list_images(args: &[&str]) -> Vec<String> {
    let mut command = vec!["list-images"];
    command.extend_from_slice(args);
    let (code, stdout, stderr) = hybrid_e2e(&command);
    assert_eq!(code, Some(0), "{stderr}");
    stdout.lines().map(str::to_string).collect()
}

#[test]
fn list_images_names_every_image_render_shows() {
    let selections: [&[&str]; 4] = [
        &[],
        &["--tags", "windows"],
        &["--tags", "linux && !windows"],
        &["lifecycle/", "--shard", "2/3"],
    ];
    for selection in selections {
        let rendered = rendered_images(selection);
        assert!(!rendered.is_empty(), "{selection:?}");
        let mut args = selection.to_vec();
        args.extend(["--format", "plain"]);
        let plain = list_images(&args);
        let mut sorted = plain.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(plain, sorted, "plain is sorted and unique");
        assert_eq!(
            plain.into_iter().collect::<BTreeSet<_>>(),
            rendered,
            "{selection:?}"
        );
        let tsv = list_images(selection);
        let first_fields: BTreeSet<String> = tsv
            .iter()
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                assert_eq!(fields.len(), 3, "{line}");
                fields[0].to_string()
            })
            .collect();
        assert_eq!(first_fields, rendered, "{selection:?}");
    }
}

#[test]
fn list_images_says_which_systems_and_windows_builds() {
    let tsv = list_images(&["--tags", "windows"]);
    assert!(
        tsv.contains(
            &"registry.k8s.io/e2e-test-images/agnhost:2.66.1\tlinux,windows\t10.0.17763,10.0.20348,10.0.26100"
                .to_string()
        ),
        "{tsv:?}"
    );
    let linux = list_images(&["--tags", "linux && !windows && !hybrid"]);
    assert!(!linux.is_empty());
    for line in &linux {
        assert!(line.ends_with("\tlinux\t-"), "{line}");
    }
}

/// The images `render --image-repo REPO` prints, after checking that every one comes from
/// `example.registry/mirror/` and that `list-images --image-repo REPO` names the same.
fn all_mirrored(repo: &str) -> BTreeSet<String> {
    let rendered = rendered_images(&["--image-repo", repo]);
    assert!(rendered.len() >= 2, "{rendered:?}");
    for image in &rendered {
        assert!(image.starts_with("example.registry/mirror/"), "{image}");
    }
    let listed: BTreeSet<String> = list_images(&["--image-repo", repo, "--format", "plain"])
        .into_iter()
        .collect();
    assert_eq!(listed, rendered);
    rendered
}

/// A temporary mapping file holding `text`, and its path.
fn repo_list(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("repo-list.yaml");
    std::fs::write(&file, text).expect("written");
    let path = file.to_str().expect("utf-8 path").to_string();
    (dir, path)
}

#[test]
fn a_registry_as_image_repo_leaves_no_image_unmapped() {
    let rendered = all_mirrored("example.registry/mirror");
    assert!(
        rendered.contains("example.registry/mirror/agnhost:2.66.1"),
        "{rendered:?}"
    );
}

#[test]
fn a_repo_list_file_as_image_repo_leaves_no_image_unmapped() {
    let (_dir, path) = repo_list(
        "# KUBE_TEST_REPO_LIST, as upstream e2e reads it\n\
         promoterE2eRegistry: example.registry/mirror/e2e-test-images\n\
         gcRegistry: example.registry/mirror\n\
         sigStorageRegistry: example.registry/mirror/sig-storage\n\
         dockerLibraryRegistry: example.registry/mirror/library\n",
    );
    let rendered = all_mirrored(&path);
    for expected in [
        "example.registry/mirror/e2e-test-images/agnhost:2.66.1",
        "example.registry/mirror/pause:3.10.2",
    ] {
        assert!(rendered.contains(expected), "{rendered:?}");
    }
}

#[test]
fn a_malformed_repo_list_exits_2_naming_the_file_and_line() {
    let (dir, path) = repo_list(
        "gcRegistry: example.registry/mirror\npromoterE2ERegistry: example.registry/e2e\n",
    );
    let path = path.as_str();
    for command in ["list-images", "render", "run"] {
        let mut args = vec![command, "--image-repo", path];
        if command == "run" {
            args.push("--sim");
        }
        let (code, stdout, stderr) = hybrid_e2e(&args);
        assert_eq!(code, Some(2), "{command}: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{command}: {stdout}");
        let line = stderr.trim();
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(
            line.starts_with(&format!(
                "error: --image-repo {path}: unknown field `promoterE2ERegistry`"
            )),
            "{line}"
        );
        assert!(line.contains("at line 2"), "{line}");
    }
    let missing = dir.path().join("missing.yaml");
    let missing = missing.to_str().expect("utf-8 path");
    let (code, _, stderr) = hybrid_e2e(&["list-images", "--image-repo", missing]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "--image-repo {missing}: cannot read the mapping file"
        )),
        "{stderr}"
    );
}

/// A run pulls from the mirror a mapping file names: the simulated cluster has no such
/// registry, so the pod's pull fails naming the mirrored reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_pulls_from_the_mirror_a_repo_list_names() {
    let (_dir, path) = repo_list("gcRegistry: example.registry/mirror\n");
    let path = path.as_str();
    let cell = "scheduling/lands-on-requested-os[os=windows]";
    let run = run_sim(&["--image-repo", path, "--exact", cell]).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stderr, run.stdout);
    let message = run.failure(cell);
    assert!(
        message.contains("example.registry/mirror/pause:3.10.2"),
        "{message}"
    );
}
