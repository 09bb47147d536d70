//! Fixtures: Kubernetes object templates (`fixtures/*.yaml`) instantiated for one OS, with
//! `${var}` placeholders substituted on the parsed tree, the OS applied to every pod (node
//! selector, `spec.os`, Windows tolerations) and images taken from the one image catalogue.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use marked_yaml::Node;
use serde_json::{json, Map as JsonMap, Value};

use crate::catalog::error::{CatalogError, Diagnostic};
use crate::catalog::model::Os;
use crate::catalog::source::{self, SourceFile};
use crate::catalog::vars::{self, VarError};
use crate::catalog::yaml::{self, Map};

/// The label every pod (and pod template) a fixture makes carries: the name given at `create`.
pub const NAME_LABEL: &str = "hybrid-e2e.io/name";

/// The node label selecting the OS.
pub const OS_LABEL: &str = "kubernetes.io/os";

/// The images the fixtures use, by logical name (`${image.agnhost}`). Upstream e2e test
/// images: one manifest list for Linux and every supported Windows Server build.
const DEFAULT_IMAGES: &[(&str, &str)] = &[
    ("agnhost", "registry.k8s.io/e2e-test-images/agnhost:2.52"),
    (
        "busybox",
        "registry.k8s.io/e2e-test-images/busybox:1.36.1-1",
    ),
    ("httpd", "registry.k8s.io/e2e-test-images/httpd:2.4.38-4"),
    ("nginx", "registry.k8s.io/e2e-test-images/nginx:1.14-4"),
    ("pause", "registry.k8s.io/pause:3.10"),
];

/// The image catalogue: logical name → full image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    refs: BTreeMap<String, String>,
}

impl Default for Images {
    fn default() -> Images {
        Images {
            refs: DEFAULT_IMAGES
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
    /// `registry.k8s.io/e2e-test-images/agnhost:2.52` becomes `<repo>/agnhost:2.52`.
    pub fn with_repo(self, repo: &str) -> Images {
        let repo = repo.trim_end_matches('/');
        let refs = self
            .refs
            .into_iter()
            .map(|(name, full)| {
                let last = full.rsplit('/').next().unwrap_or(&full).to_string();
                (name, format!("{repo}/{last}"))
            })
            .collect();
        Images { refs }
    }
}

/// One fixture: a named set of object templates with parameters.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: String,
    pub description: String,
    /// Default parameters.
    pub params: BTreeMap<String, Value>,
    /// Parameters per OS; they override `params`.
    pub os_params: BTreeMap<Os, BTreeMap<String, Value>>,
    /// Parameters a suite must give in `vars`.
    pub required: BTreeSet<String>,
    /// Object templates, `${var}` placeholders still in place.
    pub objects: Vec<Value>,
    /// Where it was defined (`fixtures/netexec.yaml:1`).
    pub file: String,
}

impl Fixture {
    /// Whether a suite may set this variable in `vars`.
    pub fn accepts(&self, var: &str) -> bool {
        self.params.contains_key(var)
            || self.required.contains(var)
            || self.os_params.values().any(|p| p.contains_key(var))
    }

    /// The parameters a suite may set, sorted.
    pub fn param_names(&self) -> BTreeSet<&str> {
        self.params
            .keys()
            .chain(self.required.iter())
            .chain(self.os_params.values().flat_map(|p| p.keys()))
            .map(String::as_str)
            .collect()
    }

    /// The kinds of the objects it creates.
    pub fn kinds(&self) -> Vec<&str> {
        self.objects
            .iter()
            .filter_map(|o| o.get("kind").and_then(Value::as_str))
            .collect()
    }

    /// Whether it claims storage (a PVC or a StatefulSet volume claim template).
    pub fn claims_storage(&self) -> bool {
        self.objects.iter().any(|o| {
            o.get("kind").and_then(Value::as_str) == Some("PersistentVolumeClaim")
                || o.pointer("/spec/volumeClaimTemplates").is_some()
        })
    }
}

/// Why a fixture could not be instantiated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FixtureError {
    #[error("unknown fixture \"{name}\"; known fixtures: {}", .known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    #[error("fixture \"{fixture}\" has no parameter \"{var}\"; parameters: {}", .params.join(", "))]
    UnknownVar {
        fixture: String,
        var: String,
        params: Vec<String>,
    },
    #[error("fixture \"{fixture}\" needs the parameter \"{var}\" (set it in the step's vars)")]
    MissingVar { fixture: String, var: String },
    #[error("fixture \"{fixture}\" at {path}: {source}")]
    Var {
        fixture: String,
        path: String,
        #[source]
        source: VarError,
    },
    #[error("fixture \"{fixture}\" at {path}: a map key must be text")]
    KeyNotText { fixture: String, path: String },
}

/// All fixtures by name.
#[derive(Debug, Clone, Default)]
pub struct FixtureSet {
    fixtures: BTreeMap<String, Fixture>,
}

impl FixtureSet {
    /// The embedded fixtures, plus (overriding by name) those in `dir` (`--fixtures`).
    pub fn load(dir: Option<&Path>) -> Result<FixtureSet, CatalogError> {
        let mut files = source::embedded_fixtures();
        if let Some(dir) = dir {
            files.extend(source::read_dir(dir)?);
        }
        FixtureSet::from_files(&files)
    }

    /// Parses and validates fixture files; a later file overrides an earlier one's fixture
    /// of the same name, two of one name in the same directory are an error.
    pub fn from_files(files: &[SourceFile]) -> Result<FixtureSet, CatalogError> {
        let mut diagnostics = Vec::new();
        let mut fixtures: BTreeMap<String, Fixture> = BTreeMap::new();
        let mut seen: BTreeMap<String, (String, String)> = BTreeMap::new();
        for file in files {
            match parse_fixture(&file.name, &file.text) {
                Ok((fixture, line)) => {
                    let dir = parent(&file.name);
                    if let Some((other_dir, other_file)) = seen.get(&fixture.name) {
                        if *other_dir == dir {
                            diagnostics.push(Diagnostic::new(
                                &file.name,
                                line,
                                "fixture",
                                format!(
                                    "duplicate fixture \"{}\" (also in {other_file})",
                                    fixture.name
                                ),
                            ));
                            continue;
                        }
                    }
                    seen.insert(fixture.name.clone(), (dir, file.name.clone()));
                    fixtures.insert(fixture.name.clone(), fixture);
                }
                Err(mut errors) => diagnostics.append(&mut errors),
            }
        }
        CatalogError::check(diagnostics)?;
        Ok(FixtureSet { fixtures })
    }

    pub fn get(&self, name: &str) -> Option<&Fixture> {
        self.fixtures.get(name)
    }

    pub fn names(&self) -> Vec<String> {
        self.fixtures.keys().cloned().collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Fixture> {
        self.fixtures.values()
    }

    /// The objects fixture `fixture` makes under `name` for `os`, without namespace.
    pub fn instantiate(
        &self,
        fixture: &str,
        name: &str,
        os: Os,
        vars: &BTreeMap<String, Value>,
        images: &Images,
    ) -> Result<Vec<Value>, FixtureError> {
        let found = self.get(fixture).ok_or_else(|| FixtureError::Unknown {
            name: fixture.to_string(),
            known: self.names(),
        })?;
        instantiate(found, name, os, vars, images)
    }
}

fn parent(file: &str) -> String {
    Path::new(file)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The objects `fixture` makes under `name` for `os`, without namespace: variables substituted,
/// the OS applied to every pod and pod template.
pub fn instantiate(
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
            vars::interpolate(s, lookup, &[vars::NAMESPACE], defined)
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
                    match vars::interpolate(k, lookup, &[vars::NAMESPACE], defined) {
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

/// Applies the OS to every pod and pod template in `object`: node selector, `spec.os.name`,
/// Windows tolerations, and the name label.
pub fn apply_os(object: &mut Value, name: &str, os: Os) {
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
    let Some(pod) = template.and_then(Value::as_object_mut) else {
        return;
    };
    let labels = entry_map(entry_map(pod, "metadata"), "labels");
    labels.insert(NAME_LABEL.to_string(), json!(name));
    let spec = entry_map(pod, "spec");
    entry_map(spec, "nodeSelector").insert(OS_LABEL.to_string(), json!(os.label()));
    entry_map(spec, "os").insert("name".to_string(), json!(os.label()));
    if os == Os::Windows {
        let tolerations = spec
            .entry("tolerations")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !tolerations.is_array() {
            *tolerations = Value::Array(Vec::new());
        }
        if let Value::Array(list) = tolerations {
            for key in ["os", "node.kubernetes.io/os"] {
                let toleration = json!({
                    "key": key,
                    "operator": "Equal",
                    "value": "windows",
                    "effect": "NoSchedule",
                });
                if !list.contains(&toleration) {
                    list.push(toleration);
                }
            }
        }
    }
}

/// Puts an instantiated object into `namespace`: sets `metadata.namespace` and replaces the
/// run-time placeholder `${namespace}` in every string (e.g. a DNS name in a container's args).
pub fn place_in_namespace(object: &mut Value, namespace: &str) {
    fn walk(value: &mut Value, namespace: &str) {
        match value {
            Value::String(s) if s.contains("${namespace}") => {
                *s = s.replace("${namespace}", namespace);
            }
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

/// Parses one fixture file, returning the fixture and the line of its name.
fn parse_fixture(file: &str, text: &str) -> Result<(Fixture, usize), Vec<Diagnostic>> {
    let root = yaml::parse_file(file, text).map_err(|d| vec![d])?;
    let top = Map::new(file, "", &root).map_err(|d| vec![d])?;
    one(top.only(&[
        "fixture",
        "description",
        "params",
        "os-params",
        "required",
        "objects",
    ]))?;
    let (name, name_node) = one(top.str("fixture"))?;
    let name_line = yaml::line_of(name_node);
    if !crate::catalog::tags::is_valid_tag(&name) {
        return Err(vec![top.err(
            Some(name_node),
            "fixture",
            format!(
                "invalid fixture name \"{name}\": use lowercase letters, digits, '.', '_' and '-'"
            ),
        )]);
    }
    let description = one(top.opt_str("description"))?
        .map(|(s, _)| s)
        .unwrap_or_default();
    let params = match top.get("params") {
        Some(node) => one(param_map(file, "params", node))?,
        None => BTreeMap::new(),
    };
    let mut os_params = BTreeMap::new();
    if let Some(node) = top.get("os-params") {
        let per_os = one(Map::new(file, "os-params", node))?;
        one(per_os.only(&["linux", "windows"]))?;
        for (key, _, value) in per_os.entries() {
            if let Some(os) = Os::parse(key) {
                os_params.insert(os, one(param_map(file, &per_os.field(key), value))?);
            }
        }
    }
    let required: BTreeSet<String> = one(top.opt_str_list("required"))?
        .unwrap_or_default()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let objects_node = one(top.required("objects"))?;
    let Node::Sequence(items) = objects_node else {
        return Err(vec![top.err(
            Some(objects_node),
            "objects",
            format!(
                "expected a list of Kubernetes objects, found {}",
                yaml::shape(objects_node)
            ),
        )]);
    };
    if items.is_empty() {
        return Err(vec![top.err(
            Some(objects_node),
            "objects",
            "must not be empty",
        )]);
    }

    let images = Images::default();
    let builtin = |var: &str| {
        matches!(var, "name" | "os" | vars::NAMESPACE)
            || var
                .strip_prefix("image.")
                .is_some_and(|l| images.get(l).is_some())
    };
    let all_os = |var: &str| {
        Os::ALL.iter().all(|os| {
            os_params
                .get(os)
                .is_some_and(|p: &BTreeMap<String, Value>| p.contains_key(var))
        })
    };
    let known = |var: &str| {
        builtin(var) || params.contains_key(var) || required.contains(var) || all_os(var)
    };
    let mut defined: Vec<String> = ["name", "os", "namespace"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    defined.extend(images.iter().map(|(l, _)| format!("image.{l}")));
    defined.extend(params.keys().cloned());
    defined.extend(required.iter().cloned());
    defined.extend(
        os_params
            .values()
            .flat_map(|p| p.keys())
            .filter(|k| all_os(k))
            .cloned(),
    );
    defined.sort();
    defined.dedup();

    let mut diagnostics = Vec::new();
    let mut objects = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("objects[{i}]");
        check_refs(file, &path, item, &known, &defined, &mut diagnostics);
        match Map::new(file, path.clone(), item) {
            Ok(object) => {
                for key in ["apiVersion", "kind"] {
                    if let Err(d) = object.str(key) {
                        diagnostics.push(d);
                    }
                }
                let has_name = object
                    .get("metadata")
                    .and_then(Node::as_mapping)
                    .and_then(|m| m.get_scalar("name"))
                    .is_some();
                if !has_name {
                    diagnostics.push(object.err(None, "metadata.name", "missing required field"));
                }
            }
            Err(d) => diagnostics.push(d),
        }
        objects.push(yaml::to_json(item));
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    Ok((
        Fixture {
            name,
            description,
            params,
            os_params,
            required,
            objects,
            file: file.to_string(),
        },
        name_line,
    ))
}

/// One problem as a list of problems.
fn one<T>(result: Result<T, Diagnostic>) -> Result<T, Vec<Diagnostic>> {
    result.map_err(|d| vec![d])
}

fn param_map(file: &str, path: &str, node: &Node) -> Result<BTreeMap<String, Value>, Diagnostic> {
    let map = Map::new(file, path, node)?;
    let mut out = BTreeMap::new();
    for (key, line, value) in map.entries() {
        if matches!(key, "name" | "os" | "namespace") || key.starts_with("image.") {
            return Err(Diagnostic::new(
                file,
                line,
                map.field(key),
                "this variable is built in and cannot be a parameter",
            ));
        }
        out.insert(key.to_string(), yaml::to_json(value));
    }
    Ok(out)
}

/// Reports every `${var}` in a template that is neither built in nor a parameter.
fn check_refs(
    file: &str,
    path: &str,
    node: &Node,
    known: &dyn Fn(&str) -> bool,
    defined: &[String],
    out: &mut Vec<Diagnostic>,
) {
    match node {
        Node::Scalar(s) => check_text(
            file,
            s.as_str(),
            yaml::line_of(node),
            path,
            known,
            defined,
            out,
        ),
        Node::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                check_refs(file, &format!("{path}[{i}]"), item, known, defined, out);
            }
        }
        Node::Mapping(map) => {
            for (k, v) in map.iter() {
                let here = format!("{path}.{}", k.as_str());
                let line = k.span().start().map(|m| m.line()).unwrap_or(0);
                check_text(file, k.as_str(), line, &here, known, defined, out);
                check_refs(file, &here, v, known, defined, out);
            }
        }
    }
}

fn check_text(
    file: &str,
    text: &str,
    line: usize,
    at: &str,
    known: &dyn Fn(&str) -> bool,
    defined: &[String],
    out: &mut Vec<Diagnostic>,
) {
    match vars::references(text) {
        Ok(refs) => {
            for var in refs {
                if !known(var) {
                    let e = VarError::Undefined {
                        name: var.to_string(),
                        defined: defined.to_vec(),
                    };
                    out.push(Diagnostic::new(file, line, at, e.to_string()));
                }
            }
        }
        Err(e) => out.push(Diagnostic::new(file, line, at, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> Result<FixtureSet, CatalogError> {
        FixtureSet::from_files(&[SourceFile {
            name: "fixtures/t.yaml".into(),
            text: text.into(),
        }])
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
        let set = set(SHELL).unwrap();
        let objects = set
            .instantiate(
                "shell",
                "p",
                Os::Linux,
                &vars(&[("script", json!("exit 3"))]),
                &Images::default(),
            )
            .unwrap();
        let pod = &objects[0];
        assert_eq!(pod["metadata"]["name"], "p");
        assert!(pod["metadata"].get("namespace").is_none());
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
        assert_eq!(c["image"], "registry.k8s.io/e2e-test-images/agnhost:2.52");
        assert_eq!(c["ports"][0]["containerPort"], 8080, "numbers stay numbers");
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
    }

    #[test]
    fn windows_pods_tolerate_the_windows_taints() {
        let set = set(SHELL).unwrap();
        let images = Images::default().with_repo("mirror.example.com/e2e/");
        let objects = set
            .instantiate(
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
            "mirror.example.com/e2e/agnhost:2.52"
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

    #[test]
    fn vars_are_checked_at_instantiation() {
        let set = set(SHELL).unwrap();
        let images = Images::default();
        let e = set
            .instantiate("shell", "p", Os::Linux, &BTreeMap::new(), &images)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "fixture \"shell\" needs the parameter \"script\" (set it in the step's vars)"
        );
        let e = set
            .instantiate(
                "shell",
                "p",
                Os::Linux,
                &vars(&[("script", json!("x")), ("scirpt", json!("x"))]),
                &images,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "fixture \"shell\" has no parameter \"scirpt\"; parameters: dir, restart, script, shell");
        let e = set
            .instantiate("nope", "p", Os::Linux, &BTreeMap::new(), &images)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown fixture \"nope\"; known fixtures: shell"
        );
    }

    #[test]
    fn undefined_variables_in_fixtures_are_reported_with_line_and_field() {
        let text = "fixture: f\nos-params:\n  linux: { only: x }\nobjects:\n  - apiVersion: v1\n    kind: Pod\n    metadata:\n      name: \"${name}-${nmae}\"\n    spec: { x: \"${only}\" }\n";
        let e = set(text).unwrap_err();
        let all: Vec<String> = e.diagnostics().iter().map(|d| d.to_string()).collect();
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all[0].starts_with("fixtures/t.yaml:8: objects[0].metadata.name: undefined variable ${nmae}; defined here: image.agnhost"), "{}", all[0]);
        assert!(
            all[1].starts_with("fixtures/t.yaml:9: objects[0].spec.x: undefined variable ${only}"),
            "{}",
            all[1]
        );
    }

    #[test]
    fn malformed_fixture_files_are_reported() {
        let cases = [
            ("fixture: f\nobjects: []\n", "fixtures/t.yaml:2: objects: must not be empty"),
            ("fixture: f\nobject: []\n", "fixtures/t.yaml:2: object: unknown key, expected one of: fixture, description, params, os-params, required, objects"),
            ("fixture: f\nobjects:\n  - kind: Pod\n    metadata: {name: x}\n", "fixtures/t.yaml:3: objects[0].apiVersion: missing required field"),
            ("fixture: f\nparams: { name: x }\nobjects: [{}]\n", "fixtures/t.yaml:2: params.name: this variable is built in and cannot be a parameter"),
            ("fixture: f\nobjects: [\n", "fixtures/t.yaml:3: invalid YAML"),
            ("fixture: F\nobjects: [{}]\n", "fixtures/t.yaml:1: fixture: invalid fixture name \"F\""),
        ];
        for (text, want) in cases {
            let e = set(text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{text:?}\n got: {e}\nwant: {want}");
        }
    }

    #[test]
    fn duplicate_fixture_names_in_one_directory_are_an_error() {
        let f = |n: &str| SourceFile {
            name: format!("fixtures/{n}.yaml"),
            text: "fixture: same\nobjects: [{apiVersion: v1, kind: Pod, metadata: {name: x}}]\n"
                .into(),
        };
        let e = FixtureSet::from_files(&[f("a"), f("b")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "fixtures/b.yaml:1: fixture: duplicate fixture \"same\" (also in fixtures/a.yaml)"
        );
    }

    #[test]
    fn a_fixture_from_another_directory_overrides_the_embedded_one() {
        let mut files = source::embedded_fixtures();
        files.push(SourceFile {
            name: "/tmp/mine/pause.yaml".into(),
            text: "fixture: pause\ndescription: mine\nobjects: [{apiVersion: v1, kind: Pod, metadata: {name: x}}]\n".into(),
        });
        let set = FixtureSet::from_files(&files).expect("loads");
        assert_eq!(
            set.get("pause").map(|f| f.description.as_str()),
            Some("mine")
        );
        assert!(set.get("netexec").is_some());
    }

    #[test]
    fn objects_come_without_namespace_and_can_be_placed_in_one() {
        let text = "fixture: f\nobjects:\n  - apiVersion: v1\n    kind: Pod\n    metadata: { name: x, namespace: kube-system }\n    spec: { containers: [{ name: c, image: i, args: [\"${name}.${namespace}.svc\"] }] }\n";
        let set = set(text).expect("loads");
        let mut objects = set
            .instantiate("f", "p", Os::Linux, &BTreeMap::new(), &Images::default())
            .expect("instantiates");
        assert!(objects[0]["metadata"].get("namespace").is_none());
        assert_eq!(
            objects[0]["spec"]["containers"][0]["args"][0],
            "p.${namespace}.svc"
        );
        place_in_namespace(&mut objects[0], "he2e-1-2");
        assert_eq!(objects[0]["metadata"]["namespace"], "he2e-1-2");
        assert_eq!(
            objects[0]["spec"]["containers"][0]["args"][0],
            "p.he2e-1-2.svc"
        );
    }

    #[test]
    fn images_remap_to_another_registry() {
        let images = Images::default().with_repo("my.registry/mirror");
        assert_eq!(images.get("pause"), Some("my.registry/mirror/pause:3.10"));
        assert_eq!(
            images.get("agnhost"),
            Some("my.registry/mirror/agnhost:2.52")
        );
        assert_eq!(Images::default().get("nope"), None);
    }
}
