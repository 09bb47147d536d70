//! The context a test's steps run in: what every test of a run shares ([`TestEnv`]), and the
//! state of one test ([`TestScope`]). Steps, probes and waits take a scope; they import nothing
//! else from each other.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kube::Client;

use crate::catalog::Os;
use crate::fixture::{FixtureSet, Images};

/// What every test of a run shares.
pub struct TestEnv {
    pub client: Client,
    pub fixtures: Arc<FixtureSet>,
    pub images: Images,
    pub timeout_scale: f64,
    /// StorageClass per OS for claims that name none (absent: the cluster's default).
    pub storage_classes: BTreeMap<Os, String>,
}

/// The state of one test while its steps run.
pub struct TestScope<'a> {
    pub env: &'a TestEnv,
    pub namespace: String,
    /// The OS each created name was created for.
    pub os_of: HashMap<String, Os>,
}
