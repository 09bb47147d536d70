//! `hybrid-e2e render`: every object the selected cells would create, as multi-document
//! YAML, each with a comment naming its test and step, the namespace as `${namespace}`, every
//! pod with the tolerations `--tolerate` adds.

use crate::catalog::{Action, TestCase};
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

/// Renders the objects of `cases` (steps numbered from 1), their pods tolerating what
/// `tolerations` (`--tolerate`) name as well.
pub fn render(
    cases: &[&TestCase],
    fixtures: &FixtureSet,
    images: &Images,
    tolerations: &[TestToleration],
) -> Result<String, RenderError> {
    // The namespace left as a placeholder, claims left to the cluster's default StorageClass.
    let rendered = Placement {
        namespace: "${namespace}",
        storage_class: None,
        tolerations,
    };
    let mut out = String::new();
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
            let number = i + 1;
            let objects =
                fixture::materialize(fixtures, images, fixture, name, *os, vars, rendered)
                    .map_err(|source| RenderError::Fixture {
                        test: case.name.clone(),
                        step: number,
                        source: Box::new(source),
                    })?;
            for object in objects {
                let yaml =
                    serde_yaml_ng::to_string(&object).map_err(|source| RenderError::Yaml {
                        test: case.name.clone(),
                        step: number,
                        source,
                    })?;
                if !out.is_empty() {
                    out.push_str("---\n");
                }
                out.push_str(&format!("# {} step {number}\n", case.name));
                out.push_str(&yaml);
            }
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
