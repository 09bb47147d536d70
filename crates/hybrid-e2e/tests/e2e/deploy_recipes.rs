//! The CI recipes in `docs/ci/` and the in-cluster manifests in `deploy/`: every recipe parses
//! as YAML and runs only subcommands and flags the binary's `--help` lists; the manifests
//! validate against the Kubernetes 1.37 schemas (PyPI `kubernetes-validate`, strict); the Job
//! runs on Linux, tolerates nothing, uses the ServiceAccount `deploy/rbac.yaml` binds, as the
//! Dockerfile's non-root user; and `$ARTIFACTS` is the default report folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_yaml_ng::Value;

use crate::common::harness::{text, BIN};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The YAML documents of a file (`---`-separated).
fn documents(path: &Path) -> Vec<Value> {
    let source = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
    serde_yaml_ng::Deserializer::from_str(&source)
        .map(|doc| {
            serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
        })
        .collect()
}

/// The CI recipes: every YAML file in `docs/ci/`.
fn recipes() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo().join("docs/ci"))
        .expect("docs/ci exists")
        .map(|entry| entry.expect("a folder entry").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    found.sort();
    found
}

/// Every `hybrid-e2e ARGS` a document runs, as ARGS: shell lines that start with `hybrid-e2e`
/// in the values of shell keys (GitHub's `run`, GitLab's `script`s), and containers whose command is the binary (or whose image is ours and has no
/// command: the image's entrypoint is the binary).
fn invocations(value: &Value, found: &mut Vec<Vec<String>>) {
    shell_invocations(value, false, found)
}

const SHELL_KEYS: [&str; 4] = ["run", "script", "before_script", "after_script"];

fn shell_invocations(value: &Value, shell: bool, found: &mut Vec<Vec<String>>) {
    let invocations =
        |value: &Value, found: &mut Vec<Vec<String>>| shell_invocations(value, shell, found);
    match value {
        Value::String(script) if shell => {
            for line in script.lines() {
                let words = shell_words(line);
                if words.first().map(String::as_str) == Some("hybrid-e2e") && words.len() > 1 {
                    found.push(words[1..].to_vec());
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| invocations(item, found)),
        Value::Mapping(map) => {
            let strings = |key: &str| -> Option<Vec<String>> {
                map.get(key)?.as_sequence().map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect()
                })
            };
            let ours = match strings("command") {
                Some(command) => command.last().is_some_and(|c| c.ends_with("/hybrid-e2e")),
                None => map
                    .get("image")
                    .and_then(Value::as_str)
                    .is_some_and(|image| image.contains("/hybrid-e2e:")),
            };
            if ours {
                if let Some(args) = strings("args") {
                    found.push(args);
                }
            }
            for (key, v) in map {
                let shell = key.as_str().is_some_and(|k| SHELL_KEYS.contains(&k));
                shell_invocations(v, shell, found);
            }
        }
        Value::Tagged(tagged) => invocations(&tagged.value, found),
        _ => {}
    }
}

/// A shell line's words up to the first `|`, `&&`, `;` or redirection, quotes removed (enough
/// for recipes, which quote only whole words).
fn shell_words(line: &str) -> Vec<String> {
    line.split_whitespace()
        .take_while(|w| !matches!(*w, "|" | "&&" | "||" | ";" | ">" | ">>"))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"').to_string())
        .collect()
}

/// The flags of `args` (`SUB --flag ...`) that `hybrid-e2e SUB --help` does not list, or why
/// SUB has no help.
fn unknown_flags(args: &[String]) -> Vec<String> {
    let sub = &args[0];
    let out = Command::new(BIN)
        .args([sub.as_str(), "--help"])
        .output()
        .expect("binary runs");
    if !out.status.success() {
        return vec![format!("no subcommand {sub:?}: {}", text(&out.stderr))];
    }
    let help = text(&out.stdout);
    let listed: BTreeSet<&str> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '=' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--"))
        .collect();
    args[1..]
        .iter()
        .filter(|a| a.starts_with("--"))
        .map(|a| a.split('=').next().unwrap_or(a))
        .filter(|flag| !listed.contains(flag))
        .map(|flag| format!("{sub} {flag}"))
        .collect()
}

#[test]
fn every_ci_recipe_runs_only_commands_and_flags_the_binary_has() {
    let recipes = recipes();
    let names: Vec<_> = recipes
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .collect();
    assert_eq!(
        names,
        ["github-actions.yml", "gitlab-ci.yml", "prow-periodic.yaml"],
        "the recipes the README promises"
    );
    for recipe in recipes.iter().chain([&repo().join("deploy/job.yaml")]) {
        let mut found = Vec::new();
        documents(recipe)
            .iter()
            .for_each(|doc| invocations(doc, &mut found));
        assert!(
            found.iter().any(|args| args[0] == "run"),
            "{} runs no `hybrid-e2e run`: {found:?}",
            recipe.display()
        );
        let unknown: Vec<String> = found.iter().flat_map(|args| unknown_flags(args)).collect();
        assert!(
            unknown.is_empty(),
            "{} uses what --help does not list: {unknown:?}",
            recipe.display()
        );
    }
}

#[test]
fn a_recipe_flag_the_binary_lacks_is_found() {
    let doc: Value =
        serde_yaml_ng::from_str("script:\n  - hybrid-e2e run --no-such-flag x --tags 'a'\n")
            .expect("YAML");
    let mut found = Vec::new();
    invocations(&doc, &mut found);
    assert_eq!(found, [vec!["run", "--no-such-flag", "x", "--tags", "a"]]);
    assert_eq!(unknown_flags(&found[0]), ["run --no-such-flag"]);
    assert_eq!(
        unknown_flags(&["no-such-command".to_string()])[0]
            .split(':')
            .next(),
        Some("no subcommand \"no-such-command\"")
    );
}

fn python() -> &'static str {
    "python3"
}

fn has_validator() -> bool {
    Command::new(python())
        .args(["-c", "import kubernetes_validate"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Makes sure `python3 -m kubernetes_validate` works, installing it with pip once.
fn ensure_validator() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        if has_validator() {
            return Ok(());
        }
        let install = Command::new(python())
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "kubernetes-validate==1.37.0",
            ])
            .output();
        if has_validator() {
            return Ok(());
        }
        Err(format!(
            "manifest validation needs Python 3 with `kubernetes-validate` 1.37.0, and pip failed: {}",
            match install {
                Ok(o) => text(&o.stderr),
                Err(e) => e.to_string(),
            }
        ))
    });
    if let Err(e) = ready {
        panic!("{e}");
    }
}

/// `kubernetes-validate --strict` against Kubernetes 1.37: exit status and its output.
fn validate(paths: &[PathBuf]) -> (bool, String) {
    ensure_validator();
    let out = Command::new(python())
        .args(["-m", "kubernetes_validate", "-k", "1.37.0", "--strict"])
        .args(paths)
        .output()
        .expect("python runs");
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn the_manifests_validate_against_the_kubernetes_1_37_schemas() {
    let manifests = [
        repo().join("deploy/rbac.yaml"),
        repo().join("deploy/job.yaml"),
    ];
    let (ok, output) = validate(&manifests);
    assert!(ok, "{output}");
    for kind in [
        "job/hybrid-e2e",
        "clusterrole/hybrid-e2e",
        "serviceaccount/hybrid-e2e",
    ] {
        assert!(
            output.contains(&format!("passed for resource {kind}")),
            "{output}"
        );
    }
    // The check can fail: a misspelt field is rejected, by name.
    let dir = tempfile::tempdir().expect("a temp dir");
    let broken = dir.path().join("job.yaml");
    let source = std::fs::read_to_string(&manifests[1]).expect("job.yaml");
    std::fs::write(&broken, source.replace("nodeSelector:", "nodeSelecter:")).expect("written");
    let (ok, output) = validate(&[broken]);
    assert!(!ok, "{output}");
    assert!(output.contains("'nodeSelecter' was unexpected"), "{output}");
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn the_job_runs_on_linux_tolerates_nothing_and_has_the_rbac_service_account() {
    let job_docs = documents(&repo().join("deploy/job.yaml"));
    let rbac_docs = documents(&repo().join("deploy/rbac.yaml"));
    for shared in ["ServiceAccount", "ClusterRoleBinding"] {
        assert_eq!(
            kind(&job_docs, shared),
            kind(&rbac_docs, shared),
            "{shared} differs between deploy/job.yaml and deploy/rbac.yaml"
        );
    }
    let job = kind(&job_docs, "Job");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(
        pod["nodeSelector"]["kubernetes.io/os"].as_str(),
        Some("linux")
    );
    assert!(pod.get("tolerations").is_none(), "{pod:?}");
    let account = &kind(&rbac_docs, "ServiceAccount")["metadata"];
    assert_eq!(pod["serviceAccountName"], account["name"]);
    assert_eq!(job["metadata"]["namespace"], account["namespace"]);
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let user = pod["securityContext"]["runAsUser"]
        .as_u64()
        .expect("runAsUser");
    assert_ne!(user, 0);
    // SIGTERM's cleanup (a 120 s sweep) fits in the grace period.
    assert!(pod["terminationGracePeriodSeconds"].as_u64() >= Some(150));
    let container = &pod["containers"][0];
    let claim = &pod["volumes"][0]["persistentVolumeClaim"]["claimName"];
    assert_eq!(
        claim,
        &kind(&job_docs, "PersistentVolumeClaim")["metadata"]["name"]
    );
    assert_eq!(
        container["workingDir"], container["volumeMounts"][0]["mountPath"],
        "reports/<run-id>/ land on the claim"
    );

    // The image the Job runs is the Dockerfile's: a static binary, run as the same user.
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let stages: Vec<&str> = dockerfile.split("\nFROM ").skip(1).collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    assert!(stages[0].contains("--target x86_64-unknown-linux-musl -p hybrid-e2e"));
    assert!(stages[1].starts_with("gcr.io/distroless/static"));
    assert!(
        stages[1].contains(&format!("\nUSER {user}:")),
        "runs as {user}: {}",
        stages[1]
    );
}

#[test]
fn reports_go_to_artifacts_when_it_is_set_and_no_report_dir_is_given() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let artifacts = dir.path().join("artifacts");
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args([
                "run",
                "--sim",
                "--tags",
                "scheduling && linux",
                "--test-threads",
                "4",
            ])
            .args(extra)
            .env("ARTIFACTS", &artifacts)
            .current_dir(dir.path())
            .output()
            .expect("binary runs")
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    crate::common::junit_schema::assert_valid_junit(&artifacts.join("junit.xml"));
    assert!(artifacts.join("results.json").is_file());
    assert!(!dir.path().join("reports").exists());
    // --report-dir wins.
    let chosen = dir.path().join("chosen");
    let out = run(&["--report-dir", chosen.to_str().expect("UTF-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(chosen.join("junit.xml").is_file());
}
