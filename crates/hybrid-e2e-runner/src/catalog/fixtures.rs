//! Fixture files (`fixtures/*.yaml`): parsed and validated into [`Fixture`]s, with
//! `file:line: field: message` errors like suites. What a fixture makes for one OS and
//! namespace is `crate::fixture`'s job.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use marked_yaml::Node;
use serde_json::Value;

use super::error::{CatalogError, Diagnostic};
use super::model::Os;
use super::source::{self, SourceFile};
use super::vars::{self, VarError};
use super::yaml::{self, Map};

/// The images fixtures may name (`${image.agnhost}`) and their default references: upstream
/// e2e test images, one manifest list for Linux and the Windows Server builds
/// `crate::windows_build` records (agnhost 2.66.1 and pause 3.10.2 have ltsc2025 variants);
/// stress is Linux only. `--image-repo` moves every one of them.
pub(crate) const IMAGES: &[(&str, &str)] = &[
    ("agnhost", "registry.k8s.io/e2e-test-images/agnhost:2.66.1"),
    (
        "busybox",
        "registry.k8s.io/e2e-test-images/busybox:1.36.1-1",
    ),
    ("httpd", "registry.k8s.io/e2e-test-images/httpd:2.4.38-4"),
    ("nginx", "registry.k8s.io/e2e-test-images/nginx:1.14-4"),
    ("pause", "registry.k8s.io/pause:3.10.2"),
    ("stress", "registry.k8s.io/stress:v1"),
];

/// Whether `name` is a valid fixture name: `[a-z0-9][a-z0-9._-]*`.
fn is_valid_fixture_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// One fixture: a named set of object templates with parameters.
#[derive(Debug, Clone)]
pub(crate) struct Fixture {
    pub(crate) name: String,
    /// Default parameters.
    pub(crate) params: BTreeMap<String, Value>,
    /// Parameters per OS; they override `params`.
    pub(crate) os_params: BTreeMap<Os, BTreeMap<String, Value>>,
    /// Parameters a suite must give in `vars`.
    pub(crate) required: BTreeSet<String>,
    /// Object templates, `${var}` placeholders still in place.
    pub(crate) objects: Vec<Value>,
}

impl Fixture {
    /// Whether a suite may set this variable in `vars`.
    pub(crate) fn accepts(&self, var: &str) -> bool {
        self.params.contains_key(var)
            || self.required.contains(var)
            || self.os_params.values().any(|p| p.contains_key(var))
    }

    /// The parameters a suite may set, sorted.
    pub(crate) fn param_names(&self) -> BTreeSet<&str> {
        self.params
            .keys()
            .chain(self.required.iter())
            .chain(self.os_params.values().flat_map(|p| p.keys()))
            .map(String::as_str)
            .collect()
    }

    /// The kinds of the objects it creates.
    pub(crate) fn kinds(&self) -> Vec<&str> {
        self.objects
            .iter()
            .filter_map(|o| o.get("kind").and_then(Value::as_str))
            .collect()
    }

    /// Whether it claims storage (a PVC or a StatefulSet volume claim template).
    pub(crate) fn claims_storage(&self) -> bool {
        self.objects.iter().any(|o| {
            o.get("kind").and_then(Value::as_str) == Some("PersistentVolumeClaim")
                || o.pointer("/spec/volumeClaimTemplates").is_some()
        })
    }
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
    pub(crate) fn from_files(files: &[SourceFile]) -> Result<FixtureSet, CatalogError> {
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

    /// The fixture of this name.
    pub(crate) fn get(&self, name: &str) -> Option<&Fixture> {
        self.fixtures.get(name)
    }

    /// Every fixture name, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        self.fixtures.keys().cloned().collect()
    }
}

fn parent(file: &str) -> String {
    Path::new(file)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
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
    if !is_valid_fixture_name(&name) {
        return Err(vec![top.err(
            Some(name_node),
            "fixture",
            format!(
                "invalid fixture name \"{name}\": use lowercase letters, digits, '.', '_' and '-'"
            ),
        )]);
    }
    // A fixture's description is for its readers: checked to be text, not kept.
    one(top.opt_str("description"))?;
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

    let builtin = |var: &str| {
        matches!(var, "name" | "os" | vars::NAMESPACE)
            || var
                .strip_prefix("image.")
                .is_some_and(|l| IMAGES.iter().any(|(name, _)| *name == l))
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
    defined.extend(IMAGES.iter().map(|(l, _)| format!("image.{l}")));
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
            params,
            os_params,
            required,
            objects,
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
            text: "fixture: pause\ndescription: mine\nobjects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}]\n".into(),
        });
        let set = FixtureSet::from_files(&files).expect("loads");
        assert_eq!(
            set.get("pause").map(Fixture::kinds),
            Some(vec!["ConfigMap"])
        );
        assert!(set.get("netexec").is_some());
    }

    #[test]
    fn fixture_names_are_lowercase_words() {
        assert!(is_valid_fixture_name("netexec-service"));
        assert!(is_valid_fixture_name("k8s.io_x"));
        assert!(is_valid_fixture_name("1.33"));
        assert!(!is_valid_fixture_name("-x"));
        assert!(!is_valid_fixture_name("Netexec"));
        assert!(!is_valid_fixture_name("net exec"));
        assert!(!is_valid_fixture_name(""));
    }

    #[test]
    fn fixtures_may_name_every_image_and_no_other() {
        let pod = |image: &str| {
            format!("fixture: f\nobjects:\n  - {{ apiVersion: v1, kind: Pod, metadata: {{ name: x }}, spec: {{ image: \"${{image.{image}}}\" }} }}\n")
        };
        for (image, _) in IMAGES {
            assert!(set(&pod(image)).is_ok(), "{image}");
        }
        let e = set(&pod("nope")).unwrap_err().to_string();
        assert!(e.contains("undefined variable ${image.nope}"), "{e}");
    }
}
