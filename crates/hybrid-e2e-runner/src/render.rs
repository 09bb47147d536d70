//! `hybrid-e2e render`: every object the selected cells would create, as multi-document
//! YAML, each with a comment naming its test and step, the namespace as `${namespace}`, every
//! pod with the tolerations `--tolerate` adds.

use crate::catalog::{Action, Os, TestCase};
use crate::fixture::{self, FixtureError, FixtureSet, Images, Placement};
use crate::toleration::TestToleration;

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A fixture could not be materialised.
    #[error("{test} step {step}: {source}")]
    Fixture {
        /// The test case.
        test: String,
        /// The step, numbered from 1.
        step: usize,
        /// What went wrong.
        #[source]
        source: Box<FixtureError>,
    },
    /// An object could not be written as YAML.
    #[error("{test} step {step}: cannot write YAML: {source}")]
    Yaml {
        /// The test case.
        test: String,
        /// The step, numbered from 1.
        step: usize,
        /// What went wrong.
        #[source]
        source: serde_yaml_ng::Error,
    },
}

/// The objects one `create` step of a test makes.
pub(crate) struct StepObjects<'a> {
    /// The test case.
    pub(crate) case: &'a TestCase,
    /// The step, numbered from 1.
    pub(crate) step: usize,
    /// The OS the step creates them for.
    pub(crate) os: Os,
    /// The objects, materialised.
    pub(crate) objects: Vec<serde_json::Value>,
}

/// The objects every `create` step of `cases` makes, in order, the namespace left as
/// `${namespace}`, claims left to the cluster's default StorageClass, pods tolerating what
/// `tolerations` name as well (what `render` shows and `list-images` reads).
pub(crate) fn step_objects<'a>(
    cases: &[&'a TestCase],
    fixtures: &FixtureSet,
    images: &Images,
    tolerations: &[TestToleration],
) -> Result<Vec<StepObjects<'a>>, RenderError> {
    let rendered = Placement {
        namespace: "${namespace}",
        storage_class: None,
        tolerations,
    };
    let mut all = Vec::new();
    for case in cases {
        for (i, step) in case.steps.iter().enumerate() {
            let Action::Create {
                fixture,
                name,
                os,
                vars,
            } = &step.action
            else {
                continue;
            };
            let objects =
                fixture::materialize(fixtures, images, fixture, name, *os, vars, rendered)
                    .map_err(|source| RenderError::Fixture {
                        test: case.name.clone(),
                        step: i + 1,
                        source: Box::new(source),
                    })?;
            all.push(StepObjects {
                case,
                step: i + 1,
                os: *os,
                objects,
            });
        }
    }
    Ok(all)
}

/// Renders the objects of `cases` (steps numbered from 1), their pods tolerating what
/// `tolerations` (`--tolerate`) name as well.
pub fn render(
    cases: &[&TestCase],
    fixtures: &FixtureSet,
    images: &Images,
    tolerations: &[TestToleration],
) -> Result<String, RenderError> {
    let mut out = String::new();
    for made in step_objects(cases, fixtures, images, tolerations)? {
        for object in &made.objects {
            let yaml = serde_yaml_ng::to_string(object).map_err(|source| RenderError::Yaml {
                test: made.case.name.clone(),
                step: made.step,
                source,
            })?;
            if !out.is_empty() {
                out.push_str("---\n");
            }
            out.push_str(&format!("# {} step {}\n", made.case.name, made.step));
            out.push_str(&yaml);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Selection};

    fn embedded() -> Catalog {
        Catalog::load(None, None).unwrap_or_else(|e| panic!("embedded catalog: {e}"))
    }

    #[test]
    fn every_embedded_cell_renders() {
        let catalog = embedded();
        let refs: Vec<&TestCase> = catalog.tests.iter().collect();
        let yaml = render(&refs, &catalog.fixtures, &Images::default(), &[]).expect("renders");
        assert!(
            !yaml.contains("storageClassName"),
            "claims keep the default class"
        );
    }

    #[test]
    fn render_shows_every_object_with_the_namespace_placeholder() {
        let catalog = embedded();
        let cases = catalog.select(&Selection {
            filters: vec!["networking/pod-to-pod[client=linux,server=windows]".into()],
            exact: true,
            ..Selection::default()
        });
        let cases: Vec<&TestCase> = cases.iter().collect();
        let yaml = render(&cases, &catalog.fixtures, &Images::default(), &[]).expect("render");
        let docs: Vec<&str> = yaml.split("---\n").collect();
        assert_eq!(docs.len(), 2, "{yaml}");
        assert!(
            docs[0].starts_with("# networking/pod-to-pod[client=linux,server=windows] step 1\n"),
            "{yaml}"
        );
        assert!(
            docs[1].starts_with("# networking/pod-to-pod[client=linux,server=windows] step 2\n"),
            "{yaml}"
        );
        assert!(docs[0].contains("namespace: ${namespace}"), "{yaml}");
        assert!(docs[0].contains("kubernetes.io/os: windows"), "{yaml}");
        assert!(docs[1].contains("kubernetes.io/os: linux"), "{yaml}");
        for doc in docs {
            let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(doc).expect("valid YAML");
            assert_eq!(
                value["metadata"]["namespace"].as_str(),
                Some("${namespace}")
            );
        }
    }
}
