//! `hybrid-e2e render`: every object the selected cells would create, as multi-document
//! YAML, each with a comment naming its test and step, the namespace as `${namespace}`.

use super::model::{Action, TestCase};
use crate::fixture::{place_in_namespace, FixtureError, FixtureSet, Images};

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{test} step {step}: {source}")]
    Fixture {
        test: String,
        step: usize,
        #[source]
        source: Box<FixtureError>,
    },
    #[error("{test} step {step}: cannot write YAML: {source}")]
    Yaml {
        test: String,
        step: usize,
        #[source]
        source: serde_yaml::Error,
    },
}

/// Renders the objects of `cases` (steps numbered from 1).
pub fn render(
    cases: &[&TestCase],
    fixtures: &FixtureSet,
    images: &Images,
) -> Result<String, RenderError> {
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
            let objects = fixtures
                .instantiate(fixture, name, *os, vars, images)
                .map_err(|source| RenderError::Fixture {
                    test: case.name.clone(),
                    step: number,
                    source: Box::new(source),
                })?;
            for mut object in objects {
                place_in_namespace(&mut object, "${namespace}");
                let yaml = serde_yaml::to_string(&object).map_err(|source| RenderError::Yaml {
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
