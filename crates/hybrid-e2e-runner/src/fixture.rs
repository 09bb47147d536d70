//! Fixture materialisation: the objects a parsed fixture (`catalog::fixtures`) makes for one
//! OS and namespace, with `${var}` placeholders substituted on the parsed tree, the OS applied
//! to every pod (node selector, `spec.os`, Windows tolerations, and those of `--tolerate`:
//! `toleration::for_test_pods`), images taken from the one
//! image catalogue, and a StorageClass for claims that name none. `materialize` is the one
//! way objects are made: `render` shows them, the `create` step creates them.

use std::collections::BTreeMap;

use serde_json::{json, Map as JsonMap, Value};

use crate::catalog::fixtures::{Fixture, IMAGES};
use crate::catalog::vars::{self, Piece, VarError};
use crate::catalog::Os;
use crate::toleration::{self, TestToleration};

/// The fixtures, parsed by the catalog; re-exported for the runner and the binary.
pub use crate::catalog::fixtures::FixtureSet;

/// The label every pod (and pod template) a fixture makes carries: the name given at `create`.
pub(crate) const NAME_LABEL: &str = "hybrid-e2e.io/name";

/// The node label selecting the OS.
pub(crate) const OS_LABEL: &str = "kubernetes.io/os";

/// The image catalogue: logical name → full image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    refs: BTreeMap<String, String>,
}

impl Default for Images {
    fn default() -> Images {
        Images {
            refs: IMAGES
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

impl Images {
    /// The full reference of a logical image.
    pub fn get(&self, logical: &str) -> Option<&str> {
        self.refs.get(logical).map(String::as_str)
    }

    /// Logical names and references, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.refs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The same images from another registry (`--image-repo`, for air-gapped clusters):
    /// `registry.k8s.io/e2e-test-images/agnhost:2.66.1` becomes `<repo>/agnhost:2.66.1`.
    pub fn with_repo(self, repo: &str) -> Images {
        let repo = repo.trim_end_matches('/');
        self.remapped(|full| {
            let last = full.rsplit('/').next().unwrap_or(full);
            format!("{repo}/{last}")
        })
    }

    /// The same logical images, each reference replaced by what `remap` makes of it
    /// (`image_repo::ImageRepo` mirrors).
    pub fn remapped(self, remap: impl Fn(&str) -> String) -> Images {
        let refs = self
            .refs
            .into_iter()
            .map(|(name, full)| (name, remap(&full)))
            .collect();
        Images { refs }
    }
}

/// Why a fixture could not be instantiated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FixtureError {
    /// No fixture has this name.
    #[error("unknown fixture \"{name}\"; known fixtures: {}", .known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// Every fixture name, sorted.
        known: Vec<String>,
    },
    /// The step sets a variable the fixture has no parameter for.
    #[error("fixture \"{fixture}\" has no parameter \"{var}\"; parameters: {}", .params.join(", "))]
    UnknownVar {
        /// The fixture.
        fixture: String,
        /// The variable set.
        var: String,
        /// The fixture's parameters, sorted.
        params: Vec<String>,
    },
    /// The step does not set a parameter the fixture requires.
    #[error("fixture \"{fixture}\" needs the parameter \"{var}\" (set it in the step's vars)")]
    MissingVar {
        /// The fixture.
        fixture: String,
        /// The required parameter.
        var: String,
    },
    /// A placeholder in a template could not be substituted.
    #[error("fixture \"{fixture}\" at {path}: {source}")]
    Var {
        /// The fixture.
        fixture: String,
        /// Where in its objects (`objects[0].spec.x`).
        path: String,
        /// What is wrong with the placeholder.
        #[source]
        source: VarError,
    },
    /// A map key became a list or map.
    #[error("fixture \"{fixture}\" at {path}: a map key must be text")]
    KeyNotText {
        /// The fixture.
        fixture: String,
        /// Where in its objects.
        path: String,
    },
}

/// Where materialised objects go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement<'a> {
    /// The namespace (`render` shows `${namespace}`); it also replaces `${namespace}` in
    /// every string (e.g. a DNS name in a container's args).
    pub(crate) namespace: &'a str,
    /// The StorageClass for PersistentVolumeClaims that name none (`None`: the cluster's
    /// default).
    pub(crate) storage_class: Option<&'a str>,
    /// What `--tolerate` adds to every pod and pod template, after the OS's own tolerations.
    pub(crate) tolerations: &'a [TestToleration],
}

/// The objects fixture `fixture` makes under `name` for `os`, ready to create: variables
/// substituted, the OS and the tolerations applied to every pod and pod template, placed in
/// the namespace, and claims given the chosen StorageClass.
pub(crate) fn materialize(
    fixtures: &FixtureSet,
    images: &Images,
    fixture: &str,
    name: &str,
    os: Os,
    vars: &BTreeMap<String, Value>,
    placement: Placement<'_>,
) -> Result<Vec<Value>, FixtureError> {
    let found = fixtures.get(fixture).ok_or_else(|| FixtureError::Unknown {
        name: fixture.to_string(),
        known: fixtures.names(),
    })?;
    let mut objects = instantiate(found, name, os, vars, images)?;
    for object in &mut objects {
        tolerate(object, os, placement.tolerations);
        place_in_namespace(object, placement.namespace);
        if let Some(class) = placement.storage_class {
            choose_storage_class(object, class);
        }
    }
    Ok(objects)
}

/// The objects `fixture` makes under `name` for `os`, without namespace: variables substituted,
/// the OS applied to every pod and pod template.
fn instantiate(
    fixture: &Fixture,
    name: &str,
    os: Os,
    vars: &BTreeMap<String, Value>,
    images: &Images,
) -> Result<Vec<Value>, FixtureError> {
    for var in vars.keys() {
        if !fixture.accepts(var) {
            return Err(FixtureError::UnknownVar {
                fixture: fixture.name.clone(),
                var: var.clone(),
                params: fixture
                    .param_names()
                    .into_iter()
                    .map(String::from)
                    .collect(),
            });
        }
    }
    for var in &fixture.required {
        if !vars.contains_key(var) {
            return Err(FixtureError::MissingVar {
                fixture: fixture.name.clone(),
                var: var.clone(),
            });
        }
    }
    let empty = BTreeMap::new();
    let os_params = fixture.os_params.get(&os).unwrap_or(&empty);
    let lookup = |var: &str| -> Option<Value> {
        match var {
            "name" => Some(json!(name)),
            "os" => Some(json!(os.label())),
            _ => {
                if let Some(logical) = var.strip_prefix("image.") {
                    return images.get(logical).map(|r| json!(r));
                }
                vars.get(var)
                    .or_else(|| os_params.get(var))
                    .or_else(|| fixture.params.get(var))
                    .cloned()
            }
        }
    };
    let defined = || {
        fixture
            .param_names()
            .into_iter()
            .map(String::from)
            .collect()
    };
    let mut out = Vec::new();
    for (i, template) in fixture.objects.iter().enumerate() {
        let mut object = substitute_value(template, &lookup, &defined, &format!("objects[{i}]"))
            .map_err(|(path, e)| match e {
                Some(source) => FixtureError::Var {
                    fixture: fixture.name.clone(),
                    path,
                    source,
                },
                None => FixtureError::KeyNotText {
                    fixture: fixture.name.clone(),
                    path,
                },
            })?;
        if let Some(Value::Object(meta)) = object.get_mut("metadata") {
            meta.remove("namespace");
        }
        apply_os(&mut object, name, os);
        out.push(object);
    }
    Ok(out)
}

type SubstError = (String, Option<VarError>);

fn substitute_value(
    value: &Value,
    lookup: &dyn Fn(&str) -> Option<Value>,
    defined: &dyn Fn() -> Vec<String>,
    path: &str,
) -> Result<Value, SubstError> {
    Ok(match value {
        Value::String(s) if s.contains("${") => {
            vars::interpolate(s, lookup, vars::is_namespace, defined)
                .map_err(|e| (path.to_string(), Some(e)))?
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| substitute_value(v, lookup, defined, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = JsonMap::new();
            for (k, v) in map {
                let here = format!("{path}.{k}");
                let key = if k.contains("${") {
                    match vars::interpolate(k, lookup, vars::is_namespace, defined) {
                        Ok(Value::String(s)) => s,
                        Ok(_) => return Err((here, None)),
                        Err(e) => return Err((here, Some(e))),
                    }
                } else {
                    k.clone()
                };
                out.insert(key, substitute_value(v, lookup, defined, &here)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// The pod, or pod template, in `object` (a Pod, a CronJob's job template, or any object
/// with `spec.template`: Deployment, Job, ...), if it has one.
fn pod_template(object: &mut Value) -> Option<&mut JsonMap<String, Value>> {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let template = match kind.as_str() {
        "Pod" => Some(object),
        "CronJob" => object.pointer_mut("/spec/jobTemplate/spec/template"),
        _ => object.pointer_mut("/spec/template"),
    };
    template.and_then(Value::as_object_mut)
}

/// Applies the OS to every pod and pod template in `object`: node selector, `spec.os.name`
/// and the name label.
fn apply_os(object: &mut Value, name: &str, os: Os) {
    let Some(pod) = pod_template(object) else {
        return;
    };
    let labels = entry_map(entry_map(pod, "metadata"), "labels");
    labels.insert(NAME_LABEL.to_string(), json!(name));
    let spec = entry_map(pod, "spec");
    entry_map(spec, "nodeSelector").insert(OS_LABEL.to_string(), json!(os.label()));
    entry_map(spec, "os").insert("name".to_string(), json!(os.label()));
}

/// Adds the test pods' tolerations for `os` (the OS's own, then `extra` from `--tolerate`) to
/// the pod or pod template in `object`, after those the fixture wrote, each once.
fn tolerate(object: &mut Value, os: Os, extra: &[TestToleration]) {
    let wanted = toleration::for_test_pods(os, extra);
    if wanted.is_empty() {
        return;
    }
    let Some(pod) = pod_template(object) else {
        return;
    };
    let spec = entry_map(pod, "spec");
    let tolerations = spec
        .entry("tolerations")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !tolerations.is_array() {
        *tolerations = Value::Array(Vec::new());
    }
    if let Value::Array(list) = tolerations {
        for toleration in wanted.iter().map(TestToleration::to_json) {
            if !list.contains(&toleration) {
                list.push(toleration);
            }
        }
    }
}

/// Puts an instantiated object into `namespace`: sets `metadata.namespace` and replaces the
/// run-time placeholder `${namespace}` in every string.
fn place_in_namespace(object: &mut Value, namespace: &str) {
    fn walk(value: &mut Value, namespace: &str) {
        match value {
            Value::String(s) if s.contains("${") => *s = with_namespace(s, namespace),
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, namespace)),
            Value::Object(map) => map.values_mut().for_each(|v| walk(v, namespace)),
            _ => {}
        }
    }
    walk(object, namespace);
    if let Some(meta) = object.as_object_mut().map(|o| entry_map(o, "metadata")) {
        meta.insert("namespace".to_string(), json!(namespace));
    }
}

/// `text` with `${namespace}` replaced; anything else as written.
fn with_namespace(text: &str, namespace: &str) -> String {
    let mut out = String::new();
    for piece in vars::substituted_pieces(text) {
        match piece {
            Piece::Var(name) if vars::is_namespace(name) => out.push_str(namespace),
            other => other.push_as_written(&mut out),
        }
    }
    out
}

/// Gives a PersistentVolumeClaim that names no StorageClass the chosen one.
fn choose_storage_class(object: &mut Value, class: &str) {
    if object["kind"] == "PersistentVolumeClaim" && object["spec"]["storageClassName"].is_null() {
        if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("storageClassName".into(), Value::String(class.to_string()));
        }
    }
}

/// The map under `key`, created (or replacing a non-map) if needed.
fn entry_map<'a>(map: &'a mut JsonMap<String, Value>, key: &str) -> &'a mut JsonMap<String, Value> {
    let slot = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(JsonMap::new()));
    if !slot.is_object() {
        *slot = Value::Object(JsonMap::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("replaced by a map just above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::SourceFile;

    fn set(text: &str) -> FixtureSet {
        FixtureSet::from_files(&[SourceFile {
            name: "fixtures/t.yaml".into(),
            text: text.into(),
        }])
        .unwrap()
    }

    const IN_NS: Placement<'static> = Placement {
        namespace: "ns",
        storage_class: None,
        tolerations: &[],
    };

    /// `materialize` in namespace `ns`, storage left to the cluster.
    fn make(
        set: &FixtureSet,
        fixture: &str,
        name: &str,
        os: Os,
        vars: &BTreeMap<String, Value>,
        images: &Images,
    ) -> Result<Vec<Value>, FixtureError> {
        materialize(set, images, fixture, name, os, vars, IN_NS)
    }

    /// The first object `fixture` makes, named `p`, with no vars and the default images.
    fn first_object(set: &FixtureSet, fixture: &str, os: Os, placement: Placement<'_>) -> Value {
        let objects = materialize(
            set,
            &Images::default(),
            fixture,
            "p",
            os,
            &BTreeMap::new(),
            placement,
        )
        .expect("materialises");
        objects[0].clone()
    }

    const SHELL: &str = r#"
fixture: shell
description: runs a script
params:
  restart: Never
os-params:
  linux: { shell: [sh, -c], dir: /data }
  windows: { shell: [cmd, /c], dir: 'C:\data' }
required: [script]
objects:
  - apiVersion: v1
    kind: Pod
    metadata: { name: "${name}" }
    spec:
      restartPolicy: "${restart}"
      containers:
        - name: main
          image: "${image.agnhost}"
          command: "${shell}"
          args: ["${script}"]
          workingDir: "${dir}"
          ports: [{ containerPort: 8080 }]
"#;

    fn vars(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn linux_pods_get_selector_and_os_but_no_tolerations() {
        let set = set(SHELL);
        let objects = make(
            &set,
            "shell",
            "p",
            Os::Linux,
            &vars(&[("script", json!("exit 3"))]),
            &Images::default(),
        )
        .unwrap();
        let pod = &objects[0];
        assert_eq!(pod["metadata"]["name"], "p");
        assert_eq!(pod["metadata"]["namespace"], "ns");
        assert_eq!(pod["metadata"]["labels"][NAME_LABEL], "p");
        assert_eq!(pod["spec"]["nodeSelector"]["kubernetes.io/os"], "linux");
        assert_eq!(pod["spec"]["os"]["name"], "linux");
        assert!(pod["spec"].get("tolerations").is_none());
        let c = &pod["spec"]["containers"][0];
        assert_eq!(
            c["command"],
            json!(["sh", "-c"]),
            "a whole placeholder takes a list"
        );
        assert_eq!(c["args"], json!(["exit 3"]));
        assert_eq!(c["workingDir"], "/data");
        assert_eq!(c["image"], "registry.k8s.io/e2e-test-images/agnhost:2.66.1");
        assert_eq!(c["ports"][0]["containerPort"], 8080, "numbers stay numbers");
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
    }

    #[test]
    fn windows_pods_tolerate_the_windows_taints() {
        let set = set(SHELL);
        let images = Images::default().with_repo("mirror.example.com/e2e/");
        let objects = make(
            &set,
            "shell",
            "w",
            Os::Windows,
            &vars(&[("script", json!("exit 0")), ("restart", json!("OnFailure"))]),
            &images,
        )
        .unwrap();
        let spec = &objects[0]["spec"];
        assert_eq!(spec["nodeSelector"]["kubernetes.io/os"], "windows");
        assert_eq!(spec["os"]["name"], "windows");
        assert_eq!(
            spec["tolerations"],
            json!([
                {"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"},
            ])
        );
        assert_eq!(spec["containers"][0]["command"], json!(["cmd", "/c"]));
        assert_eq!(spec["containers"][0]["workingDir"], "C:\\data");
        assert_eq!(
            spec["containers"][0]["image"],
            "mirror.example.com/e2e/agnhost:2.66.1"
        );
        assert_eq!(
            spec["restartPolicy"], "OnFailure",
            "suite vars override params"
        );
    }

    #[test]
    fn pod_templates_of_workloads_get_the_os_too() {
        let mut deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": []}}}
        });
        apply_os(&mut deployment, "d", Os::Windows);
        tolerate(&mut deployment, Os::Windows, &[]);
        let t = &deployment["spec"]["template"];
        assert_eq!(t["metadata"]["labels"]["app"], "d");
        assert_eq!(t["metadata"]["labels"][NAME_LABEL], "d");
        assert_eq!(t["spec"]["nodeSelector"][OS_LABEL], "windows");
        assert_eq!(t["spec"]["tolerations"].as_array().map(Vec::len), Some(2));
        let mut cron = json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {}}}}}});
        apply_os(&mut cron, "c", Os::Linux);
        assert_eq!(
            cron.pointer("/spec/jobTemplate/spec/template/spec/os/name"),
            Some(&json!("linux"))
        );
        let mut service = json!({"kind": "Service", "spec": {"ports": []}});
        apply_os(&mut service, "s", Os::Linux);
        assert!(service["spec"].get("nodeSelector").is_none());
    }

    const WORKLOADS: &str = r#"
fixture: workloads
objects:
  - { apiVersion: v1, kind: Pod, metadata: { name: "${name}" },
      spec: { tolerations: [{ key: own, operator: Exists, effect: NoSchedule }], containers: [] } }
  - { apiVersion: apps/v1, kind: Deployment, metadata: { name: "${name}" },
      spec: { template: { spec: { containers: [] } } } }
  - { apiVersion: batch/v1, kind: Job, metadata: { name: "${name}" },
      spec: { template: { spec: { containers: [] } } } }
  - { apiVersion: v1, kind: Service, metadata: { name: "${name}" }, spec: { ports: [] } }
"#;

    #[test]
    fn every_pod_and_pod_template_gets_the_tolerate_flags_after_the_os_ones() {
        let set = set(WORKLOADS);
        let tolerate = [
            TestToleration::parse("CriticalAddonsOnly=true:NoSchedule").unwrap(),
            TestToleration::parse("example.com/team:NoExecute").unwrap(),
        ];
        let placement = Placement {
            namespace: "ns",
            storage_class: None,
            tolerations: &tolerate,
        };
        let make = |os| {
            materialize(
                &set,
                &Images::default(),
                "workloads",
                "w",
                os,
                &BTreeMap::new(),
                placement,
            )
            .unwrap()
        };
        let critical = json!({"key": "CriticalAddonsOnly", "operator": "Equal", "value": "true", "effect": "NoSchedule"});
        let team = json!({"key": "example.com/team", "operator": "Exists", "effect": "NoExecute"});
        let linux = make(Os::Linux);
        assert_eq!(
            linux[0]["spec"]["tolerations"],
            json!([{"key": "own", "operator": "Exists", "effect": "NoSchedule"}, critical, team]),
            "the fixture's own toleration stays first"
        );
        for workload in &linux[1..3] {
            assert_eq!(
                workload["spec"]["template"]["spec"]["tolerations"],
                json!([critical, team]),
                "{workload}"
            );
        }
        assert!(linux[3]["spec"].get("tolerations").is_none(), "a Service");
        let windows = make(Os::Windows);
        let deployment = &windows[1]["spec"]["template"]["spec"]["tolerations"];
        assert_eq!(
            deployment,
            &json!([
                {"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"},
                critical,
                team,
            ])
        );
    }

    #[test]
    fn vars_are_checked_at_instantiation() {
        let set = set(SHELL);
        let images = Images::default();
        let e = make(&set, "shell", "p", Os::Linux, &BTreeMap::new(), &images).unwrap_err();
        assert_eq!(
            e.to_string(),
            "fixture \"shell\" needs the parameter \"script\" (set it in the step's vars)"
        );
        let e = make(
            &set,
            "shell",
            "p",
            Os::Linux,
            &vars(&[("script", json!("x")), ("scirpt", json!("x"))]),
            &images,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "fixture \"shell\" has no parameter \"scirpt\"; parameters: dir, restart, script, shell");
        let e = make(&set, "nope", "p", Os::Linux, &BTreeMap::new(), &images).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown fixture \"nope\"; known fixtures: shell"
        );
    }

    #[test]
    fn images_remap_to_another_registry() {
        let images = Images::default().with_repo("my.registry/mirror");
        assert_eq!(images.get("pause"), Some("my.registry/mirror/pause:3.10.2"));
        assert_eq!(
            images.get("agnhost"),
            Some("my.registry/mirror/agnhost:2.66.1")
        );
        // stress too: an air-gapped cluster reaches no registry.k8s.io image at all.
        assert_eq!(images.get("stress"), Some("my.registry/mirror/stress:v1"));
        assert_eq!(Images::default().get("nope"), None);
    }

    #[test]
    fn objects_are_placed_in_the_namespace_and_render_keeps_the_placeholder() {
        let text = "fixture: f\nobjects:\n  - apiVersion: v1\n    kind: Pod\n    metadata: { name: x, namespace: kube-system }\n    spec: { containers: [{ name: c, image: i, args: [\"${name}.${namespace}.svc\", \"$${HOME:-x} $${ip.a}\"] }] }\n";
        let set = set(text);
        let at = |namespace| {
            let placement = Placement {
                namespace,
                storage_class: None,
                tolerations: &[],
            };
            first_object(&set, "f", Os::Linux, placement)
        };
        let pod = at("he2e-1-2");
        assert_eq!(pod["metadata"]["namespace"], "he2e-1-2");
        let args = &pod["spec"]["containers"][0]["args"];
        assert_eq!(args[0], "p.he2e-1-2.svc");
        assert_eq!(
            args[1], "${HOME:-x} ${ip.a}",
            "other placeholders stay as written"
        );
        let rendered = at("${namespace}");
        assert_eq!(rendered["metadata"]["namespace"], "${namespace}");
        assert_eq!(
            rendered["spec"]["containers"][0]["args"][0],
            "p.${namespace}.svc"
        );
    }

    #[test]
    fn a_chosen_storage_class_goes_to_claims_that_name_none() {
        let mut claim = json!({"kind": "PersistentVolumeClaim", "spec": {"resources": {}}});
        choose_storage_class(&mut claim, "fast");
        assert_eq!(claim["spec"]["storageClassName"], "fast");
        let mut named =
            json!({"kind": "PersistentVolumeClaim", "spec": {"storageClassName": "own"}});
        choose_storage_class(&mut named, "fast");
        assert_eq!(named["spec"]["storageClassName"], "own");
        let mut pod = json!({"kind": "Pod", "spec": {}});
        choose_storage_class(&mut pod, "fast");
        assert!(pod["spec"]["storageClassName"].is_null());
    }

    #[test]
    fn materialize_gives_claims_the_chosen_storage_class() {
        let text = "fixture: pvc\nobjects:\n  - { apiVersion: v1, kind: PersistentVolumeClaim, metadata: { name: \"${name}\" }, spec: { resources: {} } }\n";
        let set = set(text);
        let make = |storage_class| {
            let placement = Placement {
                namespace: "ns",
                storage_class,
                tolerations: &[],
            };
            first_object(&set, "pvc", Os::Windows, placement)
        };
        assert_eq!(make(Some("fast"))["spec"]["storageClassName"], "fast");
        assert!(make(None)["spec"].get("storageClassName").is_none());
    }
}
