//! Raw flags → validated plans: everything a command needs, decided before anything touches a
//! cluster (ripgrep's `HiArgs::from_low_args`). The catalog is loaded and the selection compiled
//! here, so a malformed suite or an unknown tag stops the program before it connects.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use hybrid_e2e_runner::catalog::{Catalog, CatalogError, Selection, Shard, TagExpr, TestCase};
use hybrid_e2e_runner::cluster::StorageClassChoice;
use hybrid_e2e_runner::fixture::{FixtureSet, Images};
use hybrid_e2e_runner::image_repo::ImageRepo;
use hybrid_e2e_runner::pod_security::PodSecurityLevel;
use hybrid_e2e_runner::run::connect::KubeconfigSource;
use hybrid_e2e_runner::run::namespace::random_suffix;
use hybrid_e2e_runner::run::{ConsoleFormat, ProbeVia, RunConfig};
use hybrid_sim::{Fault, Quirk, SimConfig};

use crate::cli::{
    ClusterArgs, Format, PodSecurity, Prepull, ProbeVia as ProbeViaFlag, RunArgs, SelectArgs,
    SimArgs,
};

/// Why the flags do not make a runnable plan.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlanError {
    #[error("simulated-cluster flags (--fault, --linux-nodes, --windows-nodes, ...) need --sim")]
    SimFlagsWithoutSim,
    #[error("--timeout-scale must be a positive number, not {0}")]
    TimeoutScale(f64),
    #[error("--windows-timeout-scale must be a positive number, not {0}")]
    WindowsTimeoutScale(f64),
    #[error(
        "--fault {0} breaks the embedded control plane, so it cannot be combined with \
         --control-plane real (node-side faults can)"
    )]
    FaultNeedsEmbedded(Fault),
    #[error(
        "--quirk {0} is a behaviour of the embedded API server, so it cannot be combined with \
         --control-plane real"
    )]
    QuirkNeedsEmbedded(Quirk),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("--tags")]
    Tags(#[source] hybrid_e2e_runner::catalog::TagExprError),
    #[error(transparent)]
    ImageRepo(#[from] hybrid_e2e_runner::image_repo::ImageRepoError),
}

/// Which cluster to run against.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A kubeconfig: an explicit file, or `$KUBECONFIG` then `~/.kube/config`.
    Kubeconfig(KubeconfigSource),
    /// The simulated cluster, started for this run.
    Sim {
        /// Its nodes, storage and faults.
        config: SimConfig,
        /// Under which control plane.
        control_plane: ControlPlaneKind,
    },
}

/// The control plane of a simulated cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum ControlPlaneKind {
    /// The simulated cluster's own API server, scheduler and controllers (no Go needed).
    #[default]
    Embedded,
    /// Real etcd, kube-apiserver, kube-controller-manager and kube-scheduler, with the
    /// simulated nodes as their kubelets.
    Real,
}

/// The selected tests, with what they need to be materialised.
pub(crate) struct Selected {
    /// The fixtures the tests' `create` steps name.
    pub(crate) fixtures: Arc<FixtureSet>,
    /// The tests, in catalog order.
    pub(crate) cases: Vec<TestCase>,
    /// Test images, remapped by `--image-repo`.
    pub(crate) images: Images,
    /// `--shard K/N`, already applied to `cases`.
    pub(crate) shard: Option<Shard>,
    /// How many tests the selection had before `--shard` took its part.
    pub(crate) unsharded: usize,
}

impl Selected {
    /// Loads the catalog and picks the tests the flags select.
    pub(crate) fn from_args(args: &SelectArgs) -> Result<Selected, PlanError> {
        let catalog = Catalog::load(args.suites.as_deref(), args.fixtures.as_deref())?;
        let tags = match &args.tags {
            Some(expr) => Some(
                TagExpr::parse(expr)
                    .and_then(|e| e.check(&catalog.known_tags()))
                    .map_err(PlanError::Tags)?,
            ),
            None => None,
        };
        let selection = Selection {
            tags,
            filters: args.filters.clone(),
            exact: args.exact,
            skip: args.skip.clone(),
        };
        let cases = catalog.select(&selection);
        let unsharded = cases.len();
        let cases = match &args.shard {
            Some(shard) => shard.take(cases),
            None => cases,
        };
        let images = match &args.image_repo {
            Some(repo) => ImageRepo::parse(repo)?.apply(Images::default()),
            None => Images::default(),
        };
        Ok(Selected {
            fixtures: Arc::new(catalog.fixtures),
            cases,
            images,
            shard: args.shard,
            unsharded,
        })
    }
}

/// A run, fully decided.
pub(crate) struct RunPlan {
    /// The cluster.
    pub(crate) target: Target,
    /// How the runner runs.
    pub(crate) config: RunConfig,
    /// What it runs.
    pub(crate) selected: Selected,
    /// `--fail-on-flaky`: a test that passed after failing fails the run.
    pub(crate) fail_on_flaky: bool,
}

impl RunPlan {
    /// Validates the flags and selects the tests. Touches no cluster.
    pub(crate) fn from_args(args: &RunArgs) -> Result<RunPlan, PlanError> {
        let sim = sim_config(&args.sim_args);
        if !args.sim && (sim.is_some() || args.sim_args.control_plane.is_some()) {
            return Err(PlanError::SimFlagsWithoutSim);
        }
        if let Some(sim) = &sim {
            check_faults(sim, args.sim_args.control_plane.unwrap_or_default())?;
        }
        if !(args.timeout_scale.is_finite() && args.timeout_scale > 0.0) {
            return Err(PlanError::TimeoutScale(args.timeout_scale));
        }
        if !(args.windows_timeout_scale.is_finite() && args.windows_timeout_scale > 0.0) {
            return Err(PlanError::WindowsTimeoutScale(args.windows_timeout_scale));
        }
        let selected = Selected::from_args(&args.select)?;
        let run_id = new_run_id();
        let target = if args.sim {
            Target::Sim {
                config: sim.unwrap_or_default(),
                control_plane: args.sim_args.control_plane.unwrap_or_default(),
            }
        } else {
            Target::Kubeconfig(kubeconfig_source(&args.cluster))
        };
        let config = RunConfig {
            report_dir: args
                .report_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("reports").join(&run_id)),
            run_id,
            junit_path: args.junit.clone(),
            test_threads: usize::from(args.test_threads),
            timeout_scale: args.timeout_scale,
            windows_timeout_scale: args.windows_timeout_scale,
            keep_namespaces: args.keep_namespaces,
            format: match args.format {
                Format::Pretty => ConsoleFormat::Pretty,
                Format::Terse => ConsoleFormat::Terse,
                Format::Json => ConsoleFormat::Json,
            },
            storage_classes: StorageClassChoice {
                every_os: args.storage_class.clone(),
                windows: args.storage_class_windows.clone(),
            },
            tag_expression: args.select.tags.clone(),
            name_filters: args.select.filters.clone(),
            pod_security: match args.pod_security {
                PodSecurity::Privileged => PodSecurityLevel::Privileged,
                PodSecurity::Baseline => PodSecurityLevel::Baseline,
                PodSecurity::Restricted => PodSecurityLevel::Restricted,
            },
            probe_via: match args.probe_via {
                ProbeViaFlag::Exec => ProbeVia::Exec,
                ProbeViaFlag::Proxy => ProbeVia::Proxy,
            },
            cluster_domain: args.cluster_domain.clone(),
            tolerations: args.pods.tolerations.clone(),
            retries: args.retries,
            shard: selected.shard,
            progress_interval: args.progress_interval.0,
            slow_after: args.slow_after.0,
            prepull: match args.prepull {
                Prepull::On => Some(args.prepull_timeout),
                Prepull::Off => None,
                Prepull::Auto => (!args.sim).then_some(args.prepull_timeout),
            },
        };
        Ok(RunPlan {
            target,
            config,
            selected,
            fail_on_flaky: args.fail_on_flaky,
        })
    }
}

/// The kubeconfig the cluster flags name.
pub(crate) fn kubeconfig_source(args: &ClusterArgs) -> KubeconfigSource {
    KubeconfigSource {
        path: args.kubeconfig.clone(),
        context: args.context.clone(),
    }
}

/// Refuses faults and quirks that only the embedded control plane can have, under a real one.
pub(crate) fn check_faults(config: &SimConfig, kind: ControlPlaneKind) -> Result<(), PlanError> {
    if kind == ControlPlaneKind::Real {
        if let Some(fault) = config
            .faults
            .iter()
            .find(|f| f.needs_embedded_control_plane())
        {
            return Err(PlanError::FaultNeedsEmbedded(*fault));
        }
        if let Some(quirk) = config.quirks.first() {
            return Err(PlanError::QuirkNeedsEmbedded(*quirk));
        }
    }
    Ok(())
}

/// The simulated cluster the flags describe, or None when no flag differs from the defaults
/// (which are `SimConfig::default()`'s, and nowhere else).
pub(crate) fn sim_config(args: &SimArgs) -> Option<SimConfig> {
    let given = args.linux_nodes.is_some()
        || args.windows_nodes.is_some()
        || args.windows_build.is_some()
        || args.no_windows_taint
        || args.no_storage_class
        || !args.faults.is_empty()
        || !args.quirks.is_empty();
    if !given {
        return None;
    }
    let default = SimConfig::default();
    Some(SimConfig {
        linux_nodes: args.linux_nodes.unwrap_or(default.linux_nodes),
        windows_nodes: args.windows_nodes.unwrap_or(default.windows_nodes),
        windows_build: args
            .windows_build
            .clone()
            .unwrap_or_else(|| default.windows_build.clone()),
        windows_taint: !args.no_windows_taint,
        storage_class: !args.no_storage_class,
        faults: args.faults.iter().copied().collect::<BTreeSet<_>>(),
        quirks: args
            .quirks
            .iter()
            .flat_map(|q| q.quirks())
            .collect::<BTreeSet<_>>(),
        ..default
    })
}

/// A new run id: sortable by time, unique enough to label namespaces.
fn new_run_id() -> String {
    let now = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    format!("{now}-{}", random_suffix(4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use hybrid_e2e_runner::catalog::Os;

    fn run_args(args: &[&str]) -> RunArgs {
        let cli = Cli::try_parse_from(args).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        args
    }

    #[test]
    fn sim_flags_are_accepted_by_run() {
        let args = run_args(&[
            "hybrid-e2e",
            "run",
            "--sim",
            "--windows-nodes",
            "0",
            "--fault",
            "cross-os-network",
            "--tags",
            "windows",
        ]);
        let config = sim_config(&args.sim_args).expect("flags given");
        assert_eq!(config.windows_nodes, 0);
        assert_eq!(config.linux_nodes, SimConfig::default().linux_nodes);
        assert!(config.has(Fault::CrossOsNetwork));
    }

    #[test]
    fn no_sim_flags_is_the_default_cluster() {
        let args = run_args(&["hybrid-e2e", "run", "--sim"]);
        assert!(sim_config(&args.sim_args).is_none());
    }

    #[test]
    fn quirks_are_parsed_and_refused_under_a_real_control_plane() {
        let args = run_args(&[
            "hybrid-e2e",
            "run",
            "--sim",
            "--quirk",
            "pod-security-baseline",
        ]);
        let config = sim_config(&args.sim_args).expect("a quirk is a sim flag");
        assert!(config.has_quirk(Quirk::PodSecurityBaseline));
        assert_eq!(config.quirks.len(), 1);
        assert!(check_faults(&config, ControlPlaneKind::Embedded).is_ok());
        let all = run_args(&["hybrid-e2e", "run", "--sim", "--quirk", "all"]);
        let all = sim_config(&all.sim_args).expect("--quirk all is a sim flag");
        assert!(all.has_quirk(Quirk::Ipv6) && all.has_quirk(Quirk::PodSecurityBaseline));
        let refused = check_faults(&config, ControlPlaneKind::Real).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "--quirk pod-security-baseline is a behaviour of the embedded API server, so it \
             cannot be combined with --control-plane real"
        );
    }

    #[test]
    fn probes_go_by_exec_unless_told_otherwise() {
        let plan = RunPlan::from_args(&run_args(&["hybrid-e2e", "run", "--sim"])).unwrap();
        assert_eq!(plan.config.probe_via, ProbeVia::Exec);
        let args = run_args(&["hybrid-e2e", "run", "--sim", "--probe-via", "proxy"]);
        let plan = RunPlan::from_args(&args).unwrap();
        assert_eq!(plan.config.probe_via, ProbeVia::Proxy);
    }

    #[test]
    fn pod_security_defaults_to_privileged() {
        let plan = RunPlan::from_args(&run_args(&["hybrid-e2e", "run", "--sim"])).unwrap();
        assert_eq!(plan.config.pod_security, PodSecurityLevel::Privileged);
        let plan = RunPlan::from_args(&run_args(&[
            "hybrid-e2e",
            "run",
            "--sim",
            "--pod-security",
            "restricted",
        ]))
        .unwrap();
        assert_eq!(plan.config.pod_security, PodSecurityLevel::Restricted);
    }

    #[test]
    fn api_server_faults_are_refused_under_a_real_control_plane() {
        let args = run_args(&[
            "hybrid-e2e",
            "run",
            "--sim",
            "--control-plane",
            "real",
            "--fault",
            "dns",
            "--fault",
            "api-errors",
        ]);
        let Err(error) = RunPlan::from_args(&args) else {
            panic!("planned")
        };
        assert_eq!(
            error.to_string(),
            "--fault api-errors breaks the embedded control plane, so it cannot be combined with \
             --control-plane real (node-side faults can)"
        );
        let node_side = run_args(&[
            "hybrid-e2e",
            "run",
            "--sim",
            "--control-plane",
            "real",
            "--fault",
            "dns",
        ]);
        assert!(RunPlan::from_args(&node_side).is_ok());
        let control_plane_without_sim = run_args(&["hybrid-e2e", "run", "--control-plane", "real"]);
        assert!(RunPlan::from_args(&control_plane_without_sim).is_err());
    }

    #[test]
    fn fault_without_sim_is_a_plan_error() {
        let args = run_args(&["hybrid-e2e", "run", "--fault", "dns"]);
        let Err(error) = RunPlan::from_args(&args) else {
            panic!("planned")
        };
        assert_eq!(
            error.to_string(),
            "simulated-cluster flags (--fault, --linux-nodes, --windows-nodes, ...) need --sim"
        );
    }

    #[test]
    fn default_report_dir_is_named_after_the_run() {
        let args = run_args(&["hybrid-e2e", "run", "--sim", "--timeout-scale", "2"]);
        let Ok(plan) = RunPlan::from_args(&args) else {
            panic!("not planned")
        };
        // Under Prow (`$ARTIFACTS` set) the default is that folder; tests/e2e checks both.
        let expected = std::env::var_os("ARTIFACTS")
            .filter(|a| !a.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("reports").join(&plan.config.run_id));
        assert_eq!(plan.config.report_dir, expected);
        assert!(matches!(plan.target, Target::Sim { .. }));
        assert_eq!(plan.config.timeout_scale, 2.0);
        assert_eq!(plan.config.windows_timeout_scale, 3.0);
        assert_eq!(plan.config.storage_classes, StorageClassChoice::default());
        let args = run_args(&["hybrid-e2e", "run", "--sim", "--storage-class", "fast"]);
        let Ok(plan) = RunPlan::from_args(&args) else {
            panic!("not planned")
        };
        let chosen = &plan.config.storage_classes;
        assert_eq!(chosen.for_os(Os::Windows), Some("fast"));
        assert_eq!(chosen.windows, None, "not chosen for Windows as such");
    }

    #[test]
    fn a_shard_takes_its_part_of_the_selection_and_goes_to_the_report() {
        let whole = RunPlan::from_args(&run_args(&["hybrid-e2e", "run", "--sim"])).unwrap();
        let plan = RunPlan::from_args(&run_args(&["hybrid-e2e", "run", "--sim", "--shard", "2/3"]))
            .unwrap();
        let names = |plan: &RunPlan| -> Vec<String> {
            plan.selected.cases.iter().map(|c| c.name.clone()).collect()
        };
        let expected: Vec<String> = names(&whole).into_iter().skip(1).step_by(3).collect();
        assert_eq!(names(&plan), expected);
        assert_eq!(plan.selected.unsharded, whole.selected.cases.len());
        assert_eq!(
            plan.config.shard.map(|s| s.to_string()).as_deref(),
            Some("2/3")
        );
        assert_eq!(whole.config.shard, None);
    }

    #[test]
    fn an_unknown_tag_is_a_plan_error() {
        let args = run_args(&["hybrid-e2e", "run", "--sim", "--tags", "no-such-tag"]);
        let Err(error) = RunPlan::from_args(&args) else {
            panic!("planned")
        };
        assert!(matches!(error, PlanError::Tags(_)), "{error}");
    }
}
