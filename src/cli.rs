//! Command-line definitions (clap) and their conversion into validated plans. Nothing here
//! touches a cluster or the file system beyond checking that named paths exist.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::catalog::Os;
use crate::run::plan::{new_run_id, RunPlan, Target};
use crate::sim::{Fault, SimConfig};

const TAGS_HELP: &str = "\
Tag expressions (--tags):
  Every test carries its own tags, its suite's name, the operating systems of its
  matrix cell (linux, windows), and `hybrid` when the cell mixes operating systems.
  Combine them with && (and), || (or), ! (not) and parentheses; ! binds tightest,
  then &&, then ||. An unknown tag is an error that lists the known ones.

Examples:
  hybrid-e2e run --sim
  hybrid-e2e run --kubeconfig ~/.kube/config --tags 'networking && !slow'
  hybrid-e2e run --tags 'windows && (storage || lifecycle)' --junit out/junit.xml
  hybrid-e2e run 'pod-to-pod[client=linux' --skip windows
  hybrid-e2e list --tags hybrid
  hybrid-e2e render networking/pod-to-pod > objects.yaml

Reports (in --report-dir, default reports/<run-id>/):
  junit.xml      one <testsuite> per suite, one <testcase> per test cell (--junit moves it)
  results.json   one object per test: name, tags, outcome, duration, message, skip reason
  summary.md     counts, failed tests with their messages, skips grouped by reason
  artifacts/     for each failed test: objects, events and container logs of its namespace
";

/// Conformance and end-to-end tests for Kubernetes clusters with Windows and Linux nodes.
///
/// hybrid-e2e schedules Windows and Linux pods through the Kubernetes API, checks networking,
/// storage and pod lifecycle on each operating system and across them, and writes JUnit
/// reports that CI systems read. Each test runs in its own namespace, deleted afterwards.
#[derive(Debug, Parser)]
#[command(name = "hybrid-e2e", version, propagate_version = true, after_help = crate::exit::HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the selected tests against a cluster and write reports.
    #[command(after_help = format!("{TAGS_HELP}\n{}", crate::exit::HELP))]
    Run(RunArgs),
    /// List the tests that would run, with their tags, without touching a cluster.
    #[command(after_help = TAGS_HELP)]
    List(ListArgs),
    /// Print, as multi-document YAML, every object the selected tests would create.
    ///
    /// Needs no cluster. The namespace is shown as the placeholder ${namespace}.
    Render(RenderArgs),
    /// Start a simulated hybrid cluster on loopback and serve it until Ctrl-C.
    ///
    /// Writes a kubeconfig that kubectl and hybrid-e2e can use unchanged. The simulated cluster
    /// models nodes, scheduling, kubelets, agnhost, Services, DNS and storage; with --fault it
    /// breaks one behaviour on purpose so that failing checks can be seen.
    Sim(SimCommandArgs),
    /// Show what the cluster offers and which tests would skip there, and why.
    ///
    /// Reads nodes (OS, Windows build, Ready, schedulable), the default StorageClass and whether
    /// the credentials may create namespaces; creates nothing.
    Doctor(DoctorArgs),
    /// Delete the namespaces that earlier, interrupted or killed runs left behind.
    ///
    /// Every namespace a run creates carries the label hybrid-e2e.io/run-id; this deletes those
    /// of one run (--run-id) or of all runs, and waits until they are gone.
    Cleanup(CleanupArgs),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Only the namespaces of this run (default: of every run).
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
}

/// Which real cluster to talk to.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Cluster")]
pub struct ClusterArgs {
    /// Kubeconfig file to use. Default: $KUBECONFIG (a colon-separated list), then ~/.kube/config.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use instead of the current one.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

impl ClusterArgs {
    pub fn target(&self) -> Target {
        Target::Kubeconfig {
            path: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }
}

/// Which tests: catalog sources, tag expression and name filters.
#[derive(Debug, Args, Clone)]
pub struct SelectArgs {
    /// Run only tests whose name contains one of these strings (`suite/test[k=v,...]`).
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,

    /// Match FILTERs exactly instead of by substring.
    #[arg(long)]
    pub exact: bool,

    /// Leave out tests whose name contains this string (repeatable).
    #[arg(long, value_name = "FILTER")]
    pub skip: Vec<String>,

    /// Run only tests whose tags match this expression, e.g. 'windows && !storage'.
    #[arg(long, value_name = "EXPR")]
    pub tags: Option<String>,

    /// Load suites from this folder instead of the built-in catalog.
    #[arg(long, value_name = "DIR")]
    pub suites: Option<PathBuf>,

    /// Load fixtures from this folder instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,

    /// Pull test images from this registry instead of registry.k8s.io (air-gapped clusters).
    #[arg(long, value_name = "REGISTRY")]
    pub image_repo: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub select: SelectArgs,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub select: SelectArgs,
}

/// Console output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per test.
    Pretty,
    /// One character per test.
    Terse,
    /// JSON events, one per line.
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Start the embedded simulated cluster and run against it (no real cluster needed).
    #[arg(long, conflicts_with_all = ["kubeconfig", "context"], help_heading = "Cluster")]
    pub sim: bool,

    #[command(flatten)]
    pub sim_args: SimArgs,

    /// How many tests run at the same time.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub test_threads: u16,

    /// Write the JUnit report here instead of <report-dir>/junit.xml.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,

    /// Folder for reports and artifacts. Default: reports/<run-id>/.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,

    /// Multiply every step timeout by this factor (slow clusters: 2 or 3).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub timeout_scale: f64,

    /// StorageClass for the claims of test pods (default: the cluster's default class).
    #[arg(long, value_name = "NAME")]
    pub storage_class: Option<String>,

    /// StorageClass for the claims of Windows test pods (default: --storage-class, else the
    /// cluster's default class). Windows often needs an NTFS-capable class.
    #[arg(long, value_name = "NAME")]
    pub storage_class_windows: Option<String>,

    /// Keep the namespace of a failed test for inspection (it is named in the report).
    #[arg(long)]
    pub keep_namespaces: bool,

    /// Console output style.
    #[arg(long, value_enum, default_value_t = Format::Pretty)]
    pub format: Format,
}

/// The simulated cluster's shape and faults (for `sim`, and for `run --sim`).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Simulated cluster (with --sim)")]
pub struct SimArgs {
    /// Number of Linux nodes.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub linux_nodes: usize,

    /// Number of Windows nodes.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub windows_nodes: usize,

    /// node.kubernetes.io/windows-build of the Windows nodes (10.0.20348: Windows Server 2022).
    #[arg(long, value_name = "BUILD", default_value = "10.0.20348")]
    pub windows_build: String,

    /// Do not taint Windows nodes with os=windows:NoSchedule.
    #[arg(long)]
    pub no_windows_taint: bool,

    /// Start without a StorageClass (PVC tests then skip).
    #[arg(long)]
    pub no_storage_class: bool,

    /// Break one behaviour on purpose (repeatable).
    #[arg(long = "fault", value_enum, value_name = "NAME")]
    pub faults: Vec<Fault>,
}

impl SimArgs {
    /// The simulated cluster these flags describe.
    pub fn to_config(&self) -> SimConfig {
        SimConfig {
            linux_nodes: self.linux_nodes,
            windows_nodes: self.windows_nodes,
            windows_build: self.windows_build.clone(),
            windows_taint: !self.no_windows_taint,
            storage_class: !self.no_storage_class,
            faults: self.faults.iter().copied().collect::<BTreeSet<_>>(),
            ..SimConfig::default()
        }
    }

    /// Whether any flag differs from its default (used to reject them without --sim).
    pub fn is_default(&self) -> bool {
        self.linux_nodes == 2
            && self.windows_nodes == 2
            && self.windows_build == "10.0.20348"
            && !self.no_windows_taint
            && !self.no_storage_class
            && self.faults.is_empty()
    }
}

#[derive(Debug, Args)]
pub struct SimCommandArgs {
    #[command(flatten)]
    pub sim: SimArgs,

    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// Where to write the kubeconfig for the simulated cluster.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "reports/sim-kubeconfig.yaml"
    )]
    pub kubeconfig_out: PathBuf,
}

/// Why the flags do not make a runnable plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("simulated-cluster flags (--fault, --linux-nodes, --windows-nodes, ...) need --sim")]
    SimFlagsWithoutSim,
    #[error("--timeout-scale must be a positive number, not {0}")]
    TimeoutScale(f64),
}

impl RunArgs {
    /// Validates the flags into a plan. Touches nothing.
    pub fn plan(&self) -> Result<RunPlan, PlanError> {
        if !self.sim && !self.sim_args.is_default() {
            return Err(PlanError::SimFlagsWithoutSim);
        }
        if !(self.timeout_scale.is_finite() && self.timeout_scale > 0.0) {
            return Err(PlanError::TimeoutScale(self.timeout_scale));
        }
        let run_id = new_run_id();
        let target = if self.sim {
            Target::Sim(self.sim_args.to_config())
        } else {
            self.cluster.target()
        };
        Ok(RunPlan {
            target,
            report_dir: self
                .report_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("reports").join(&run_id)),
            run_id,
            junit_path: self.junit.clone(),
            test_threads: usize::from(self.test_threads),
            timeout_scale: self.timeout_scale,
            keep_namespaces: self.keep_namespaces,
            format: self.format,
            storage_classes: [
                (Os::Linux, self.storage_class.clone()),
                (
                    Os::Windows,
                    self.storage_class_windows
                        .clone()
                        .or_else(|| self.storage_class.clone()),
                ),
            ]
            .into_iter()
            .filter_map(|(os, class)| class.map(|c| (os, c)))
            .collect(),
            tag_expression: self.select.tags.clone(),
            name_filters: self.select.filters.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sim_flags_are_accepted_by_run() {
        let cli = Cli::try_parse_from([
            "hybrid-e2e",
            "run",
            "--sim",
            "--windows-nodes",
            "0",
            "--fault",
            "cross-os-network",
            "--tags",
            "windows",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        let config = args.sim_args.to_config();
        assert_eq!(config.windows_nodes, 0);
        assert!(config.has(Fault::CrossOsNetwork));
        assert!(!args.sim_args.is_default());
    }

    #[test]
    fn fault_without_sim_is_a_plan_error() {
        let cli = Cli::try_parse_from(["hybrid-e2e", "run", "--fault", "dns"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(
            args.plan().unwrap_err().to_string(),
            "simulated-cluster flags (--fault, --linux-nodes, --windows-nodes, ...) need --sim"
        );
    }

    #[test]
    fn default_report_dir_is_named_after_the_run() {
        let cli =
            Cli::try_parse_from(["hybrid-e2e", "run", "--sim", "--timeout-scale", "2"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        let plan = args.plan().unwrap();
        assert_eq!(plan.report_dir, PathBuf::from("reports").join(&plan.run_id));
        assert!(matches!(plan.target, Target::Sim(_)));
        assert_eq!(plan.timeout_scale, 2.0);
        assert!(plan.storage_classes.is_empty());
        let cli =
            Cli::try_parse_from(["hybrid-e2e", "run", "--sim", "--storage-class", "fast"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        let plan = args.plan().unwrap();
        assert_eq!(
            plan.storage_classes.get(&Os::Windows).map(String::as_str),
            Some("fast")
        );
    }

    #[test]
    fn sim_conflicts_with_kubeconfig() {
        let err =
            Cli::try_parse_from(["hybrid-e2e", "run", "--sim", "--kubeconfig", "x"]).unwrap_err();
        assert!(err.to_string().contains("cannot be used with"), "{err}");
    }
}
