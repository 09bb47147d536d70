//! A validated run plan: everything `run` needs, decided before anything touches a cluster.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::catalog::Os;
use crate::cli::Format;
use crate::sim::SimConfig;

/// Which cluster to run against.
#[derive(Debug, Clone)]
pub enum Target {
    /// A kubeconfig: an explicit file, or (None) `$KUBECONFIG` then `~/.kube/config`.
    Kubeconfig {
        path: Option<PathBuf>,
        context: Option<String>,
    },
    /// The embedded simulated cluster, started for this run.
    Sim(SimConfig),
}

/// A run, fully decided.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub target: Target,
    /// `YYYYMMDD-HHMMSS-xxxx`: names the report folder and labels the run's namespaces.
    pub run_id: String,
    pub report_dir: PathBuf,
    pub junit_path: Option<PathBuf>,
    pub test_threads: usize,
    pub timeout_scale: f64,
    pub keep_namespaces: bool,
    pub format: Format,
    /// StorageClass per OS for test claims (absent: the cluster's default class).
    pub storage_classes: BTreeMap<Os, String>,
    /// The tag expression as the user wrote it (for the report).
    pub tag_expression: Option<String>,
    pub name_filters: Vec<String>,
}

/// A new run id: sortable by time, unique enough to label namespaces.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    format!("{now}-{}", random_letters(4))
}

/// `n` random lowercase letters and digits (valid in names and label values).
pub fn random_letters(n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect()
}
