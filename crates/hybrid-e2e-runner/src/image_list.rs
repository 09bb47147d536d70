//! `hybrid-e2e list-images`: every image the selected cells' objects use, with the operating
//! systems it must run on and, for images Windows pods run, the Windows builds it serves (a
//! mirror must copy the manifest list with those variants). Read from the very objects
//! `render` shows, so the two never disagree.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::{Os, TestCase};
use crate::fixture::{FixtureSet, Images};
use crate::render::{step_objects, RenderError};
use crate::windows_build::{collect_images, served_builds};

/// One image the selection uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUse {
    /// The full reference, after `--image-repo`.
    pub image: String,
    /// The operating systems of the pods that run it.
    pub os: BTreeSet<Os>,
    /// The Windows builds it serves, when a Windows pod runs it and the catalogue of
    /// `windows_build` knows it (`None`: unknown, or no Windows pod runs it).
    pub windows_builds: Option<&'static [&'static str]>,
}

impl ImageUse {
    /// `IMAGE<TAB>OS,...<TAB>BUILDS`: the builds comma-separated, `-` when no Windows pod runs
    /// it, `unknown` when the catalogue does not know the image, `none` for a Linux-only image
    /// a Windows pod runs.
    pub fn tsv_line(&self) -> String {
        let os: Vec<&str> = self.os.iter().map(|os| os.label()).collect();
        let builds = match self.windows_builds {
            _ if !self.os.contains(&Os::Windows) => "-".to_string(),
            None => "unknown".to_string(),
            Some([]) => "none".to_string(),
            Some(builds) => builds.join(","),
        };
        format!("{}\t{}\t{builds}", self.image, os.join(","))
    }
}

/// The images the objects of `cases` use, sorted by reference, each once.
pub fn images_used(
    cases: &[&TestCase],
    fixtures: &FixtureSet,
    images: &Images,
) -> Result<Vec<ImageUse>, RenderError> {
    let mut by_image: BTreeMap<String, BTreeSet<Os>> = BTreeMap::new();
    for made in step_objects(cases, fixtures, images, &[])? {
        let mut found = Vec::new();
        for object in &made.objects {
            collect_images(object, &mut found);
        }
        for image in found {
            by_image.entry(image).or_default().insert(made.os);
        }
    }
    Ok(by_image
        .into_iter()
        .map(|(image, os)| ImageUse {
            windows_builds: if os.contains(&Os::Windows) {
                served_builds(&image)
            } else {
                None
            },
            image,
            os,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Selection};
    use crate::windows_build::{LTSC2019, LTSC2022, LTSC2025};

    fn used(filter: &str, images: &Images) -> Vec<ImageUse> {
        let catalog = Catalog::load(None, None).unwrap_or_else(|e| panic!("catalog: {e}"));
        let cases = catalog.select(&Selection {
            filters: vec![filter.into()],
            ..Selection::default()
        });
        let refs: Vec<&TestCase> = cases.iter().collect();
        images_used(&refs, &catalog.fixtures, images).expect("renders")
    }

    #[test]
    fn a_hybrid_cell_uses_agnhost_on_both_systems() {
        let found = used(
            "networking/pod-to-pod[client=linux,server=windows]",
            &Images::default(),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].tsv_line(),
            "registry.k8s.io/e2e-test-images/agnhost:2.66.1\tlinux,windows\t\
             10.0.17763,10.0.20348,10.0.26100"
        );
        assert_eq!(
            found[0].windows_builds,
            Some(&[LTSC2019, LTSC2022, LTSC2025][..])
        );
    }

    #[test]
    fn linux_only_images_have_no_builds_and_unknown_ones_say_so() {
        let linux = ImageUse {
            image: "registry.k8s.io/stress:v1".into(),
            os: [Os::Linux].into(),
            windows_builds: None,
        };
        assert_eq!(linux.tsv_line(), "registry.k8s.io/stress:v1\tlinux\t-");
        let unknown = ImageUse {
            image: "example.com/x:1".into(),
            os: [Os::Windows].into(),
            windows_builds: None,
        };
        assert_eq!(unknown.tsv_line(), "example.com/x:1\twindows\tunknown");
        let no_windows_variant = ImageUse {
            windows_builds: Some(&[]),
            ..unknown
        };
        assert_eq!(
            no_windows_variant.tsv_line(),
            "example.com/x:1\twindows\tnone"
        );
    }

    #[test]
    fn a_mirror_moves_what_is_listed_and_keeps_the_builds() {
        let images = Images::default().with_repo("mirror.example/e2e");
        let found = used("lifecycle/", &images);
        assert!(!found.is_empty());
        for image in &found {
            assert!(image.image.starts_with("mirror.example/e2e/"), "{image:?}");
            if image.os.contains(&Os::Windows) {
                assert!(image.windows_builds.is_some(), "{image:?}");
            }
        }
    }
}
