//! Command-line definitions (clap): the raw flags, nothing decided. `plan.rs` turns them into
//! validated plans.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use hybrid_e2e_runner::catalog::{Shard, ShardError};
use hybrid_e2e_runner::run::progress::{Every, EveryError};
use hybrid_e2e_runner::toleration::{TestToleration, TolerationError};
use hybrid_sim::{Fault, Quirk};

use crate::plan::ControlPlaneKind;

const TAGS_HELP: &str = "\
Tag expressions (--tags):
  Every test carries its own tags, its suite's name, the operating systems of its
  matrix cell (linux, windows), and `hybrid` when the cell mixes operating systems.
  Combine them with && (and), || (or), ! (not) and parentheses; ! binds tightest,
  then &&, then ||. An unknown tag is an error that lists the known ones.
  Opt-in cells (e.g. windows-pqdn: partially qualified DNS names from Windows pods) run
  only when the expression names their tag; otherwise they skip with the reason.

Examples:
  hybrid-e2e run --sim
  hybrid-e2e run --kubeconfig ~/.kube/config --tags 'networking && !slow'
  hybrid-e2e run --tags 'windows && (storage || lifecycle)' --junit out/junit.xml
  hybrid-e2e run 'pod-to-pod[client=linux' --skip windows
  hybrid-e2e list --tags hybrid
  hybrid-e2e render networking/pod-to-pod > objects.yaml

Reports (in --report-dir, default reports/<run-id>/):
  junit.xml      one <testsuite> per suite, one <testcase> per test cell (--junit moves it)
  results.json   one object per test: name, tags, outcome (passed, failed, error, skipped),
                 duration, message, skip reason; `error`: the harness could not check
  summary.md     counts, failed and errored tests with their messages, skips by reason
  artifacts/     for each failed test: objects, events and container logs of its namespace
";

const LIST_IMAGES_HELP: &str = "\
Output (--format tsv, the default), one line per image, tab-separated:
  IMAGE  OS  WINDOWS-BUILDS
  OS: the systems whose test pods run it (linux, windows, comma-separated).
  WINDOWS-BUILDS: the node.kubernetes.io/windows-build values its manifest list serves
  (comma-separated), which a mirror must copy; - when no Windows pod runs it, none for a
  Linux-only image a Windows test pod runs on purpose, unknown for an image hybrid-e2e
  does not know.
--format plain: only the references, sorted, each once.

Examples:
  hybrid-e2e list-images --tags windows
  for i in $(hybrid-e2e list-images --format plain); do
    crane copy \"$i\" \"mirror.example/e2e/${i##*/}\"
  done
  hybrid-e2e run --image-repo mirror.example/e2e
";

/// Conformance and end-to-end tests for Kubernetes clusters with Windows and Linux nodes.
///
/// hybrid-e2e schedules Windows and Linux pods through the Kubernetes API, checks networking,
/// storage and pod lifecycle on each operating system and across them, and writes JUnit
/// reports that CI systems read. Each test runs in its own namespace, deleted afterwards.
#[derive(Debug, Parser)]
#[command(name = "hybrid-e2e", version, propagate_version = true, after_help = crate::exit::HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the selected tests against a cluster and write reports.
    #[command(after_help = format!("{TAGS_HELP}\n{}", crate::exit::HELP))]
    Run(RunArgs),
    /// List the tests that would run, with their tags, without touching a cluster.
    #[command(after_help = TAGS_HELP)]
    List(ListArgs),
    /// Print every image the selected tests use, one a line, to mirror them.
    ///
    /// Needs no cluster. With --image-repo, the references a run with that mirror would pull.
    #[command(after_help = LIST_IMAGES_HELP)]
    ListImages(ListImagesArgs),
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
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub pods: PodArgs,
}

/// What every test pod carries besides what its fixture and OS give it (`run`, `doctor`,
/// `render`).
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct PodArgs {
    /// Give every test pod this toleration too (repeatable): KEY=VALUE:EFFECT (operator
    /// Equal) or KEY:EFFECT (operator Exists, any value), EFFECT one of NoSchedule,
    /// PreferNoSchedule, NoExecute. Nodes whose taints test pods then tolerate count for the
    /// tests (without it, tests that need them skip, naming the taint). Windows test pods
    /// always tolerate os=windows:NoSchedule. Example, for an AKS system pool:
    /// --tolerate CriticalAddonsOnly=true:NoSchedule
    #[arg(long = "tolerate", value_name = "KEY[=VALUE]:EFFECT", value_parser = toleration, help_heading = "Cluster")]
    pub tolerations: Vec<TestToleration>,
}

/// Reads `--tolerate`: `KEY[=VALUE]:EFFECT`.
fn toleration(text: &str) -> Result<TestToleration, TolerationError> {
    TestToleration::parse(text)
}

#[derive(Debug, Args)]
pub(crate) struct CleanupArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Only the namespaces of this run (default: of every run).
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
}

/// Which real cluster to talk to.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Cluster")]
pub(crate) struct ClusterArgs {
    /// Kubeconfig file to use. Default: $KUBECONFIG (a colon-separated list), then ~/.kube/config.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use instead of the current one.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

/// Which tests: catalog sources, tag expression and name filters.
#[derive(Debug, Args, Clone)]
pub(crate) struct SelectArgs {
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

    /// Pull test images from a mirror (air-gapped clusters): a registry, every image becoming
    /// REGISTRY/NAME:TAG, or a YAML file in upstream e2e's KUBE_TEST_REPO_LIST shape mapping
    /// upstream registries (promoterE2eRegistry, gcRegistry, ...) to mirrors.
    #[arg(long, value_name = "REGISTRY|FILE")]
    pub image_repo: Option<String>,

    /// Only shard K of N of the selected tests (1 <= K <= N): the tests at positions K, K+N,
    /// K+2N, ... of the selection in catalog order, so N jobs with --shard 1/N to N/N run
    /// every selected test once, in parts differing in size by at most one.
    #[arg(long, value_name = "K/N", value_parser = shard)]
    pub shard: Option<Shard>,
}

/// Reads `--shard`: `K/N`.
fn shard(text: &str) -> Result<Shard, ShardError> {
    text.parse()
}

#[derive(Debug, Args)]
pub(crate) struct ListImagesArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Output: tsv (IMAGE<TAB>OS<TAB>WINDOWS-BUILDS lines) or plain (only the references).
    #[arg(long, value_enum, default_value_t = ImagesFormat::Tsv)]
    pub format: ImagesFormat,
}

/// How `list-images` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ImagesFormat {
    /// IMAGE<TAB>OS,...<TAB>WINDOWS-BUILDS, one image a line.
    Tsv,
    /// Only the image references, sorted, each once.
    Plain,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub select: SelectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub pods: PodArgs,
}

/// Console output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One line per test.
    Pretty,
    /// One character per test.
    Terse,
    /// JSON events, one per line.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub pods: PodArgs,

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

    /// Folder for reports and artifacts. Default: $ARTIFACTS when set (Prow's artifacts folder,
    /// which Spyglass and TestGrid read JUnit from), else reports/<run-id>/.
    #[arg(long, value_name = "DIR", env = "ARTIFACTS")]
    pub report_dir: Option<PathBuf>,

    /// Multiply every step timeout by this factor (slow clusters: 2 or 3). A positive number.
    #[arg(long, value_name = "F", default_value_t = 1.0, allow_negative_numbers = true, value_parser = timeout_scale)]
    pub timeout_scale: f64,

    /// Multiply the timeout of every step that acts on a Windows object (a pod or workload
    /// created for Windows, an http or dns step from a Windows pod) by this factor too, on top
    /// of --timeout-scale: Windows images take minutes to pull and containers seconds to
    /// start. A positive number.
    #[arg(long, value_name = "F", default_value_t = 3.0, allow_negative_numbers = true, value_parser = timeout_scale)]
    pub windows_timeout_scale: f64,

    /// StorageClass for the claims of test pods (default: the cluster's default class).
    #[arg(long, value_name = "NAME")]
    pub storage_class: Option<String>,

    /// StorageClass for the claims of Windows test pods (default: --storage-class, else the
    /// cluster's default class). Windows often needs an NTFS-capable class. Without this flag,
    /// Windows cells that claim storage run only when a Windows node's CSINode lists the
    /// class's provisioner (its CSI driver has a Windows node plugin); else they skip.
    #[arg(long, value_name = "NAME")]
    pub storage_class_windows: Option<String>,

    /// Keep the namespace of a failed test for inspection (it is named in the report).
    #[arg(long)]
    pub keep_namespaces: bool,

    /// Run a failed or errored test again, up to N more times, each attempt in a fresh
    /// namespace; a test that passes after failing is flaky (reported, and the run still
    /// passes unless --fail-on-flaky).
    // Hyphen values are taken so that `--retries -1` is refused as a value of this flag.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    pub retries: u32,

    /// Fail the run (exit 1) when a test passed only after failing (--retries).
    #[arg(long)]
    pub fail_on_flaky: bool,

    /// Before the tests, pull every image they use on every node of the OS that uses it (a
    /// DaemonSet per OS in a namespace of its own), so that slow Windows pulls do not eat the
    /// tests' timeouts. auto: on for real clusters, off for --sim (its pulls are instant).
    /// Pull errors are one error case (hybrid-e2e/prepull) and fail the run; the tests still
    /// run.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Prepull::Auto)]
    pub prepull: Prepull,

    /// How long --prepull waits for every node to have every image (not scaled by
    /// --timeout-scale or --windows-timeout-scale: it is sized for Windows pulls already).
    // Hyphen values are taken so that `-5m` is refused as a value of this flag.
    #[arg(long, value_name = "DURATION", default_value = "15m", allow_hyphen_values = true, value_parser = prepull_timeout)]
    pub prepull_timeout: std::time::Duration,

    /// Console output style.
    #[arg(long, value_enum, default_value_t = Format::Pretty)]
    pub format: Format,

    /// Print a progress line (tests done of all, passed, failed, skipped, running, time
    /// elapsed) to stderr this often, e.g. 1m or 10m; 0 or off: only when the process gets
    /// SIGUSR1. With --format json, a "progress" event on stdout instead.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = every)]
    pub progress_interval: Every,

    /// A test still running after this long (and after each multiple of it) gets a line on
    /// stderr naming its current step and what that step's wait last saw (a pod's state and
    /// node); SIGUSR1 asks for these lines too. 0 or off: never. With --format json, a "slow"
    /// event on stdout instead.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = every)]
    pub slow_after: Every,

    /// The Pod Security level test namespaces enforce (labels
    /// pod-security.kubernetes.io/enforce|warn|audit); tests needing more are skipped.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = PodSecurity::Privileged)]
    pub pod_security: PodSecurity,

    /// How `http` steps from a pod reach the netexec server of that source pod, which then
    /// dials the target. A failure of this path is an error of the harness, never a verdict on
    /// pod networking.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = ProbeVia::Exec)]
    pub probe_via: ProbeVia,

    /// The cluster's own DNS domain (the kubelet's clusterDomain, e.g. cluster.local), which
    /// ${cluster-domain} in suites stands for. When absent and a selected test uses it, it is
    /// discovered once per run from the search line of a Linux pod's /etc/resolv.conf
    /// (cluster.local is assumed, with a warning, when that fails).
    #[arg(long, value_name = "DOMAIN", value_parser = cluster_domain, help_heading = "Cluster")]
    pub cluster_domain: Option<String>,
}

/// Why a timeout scale was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScaleError {
    #[error("not a number")]
    NotANumber,
    #[error("must be a positive finite number, not {0}")]
    NotPositive(f64),
}

/// Reads `--timeout-scale` and `--windows-timeout-scale`: a finite number above 0.
fn timeout_scale(text: &str) -> Result<f64, ScaleError> {
    let scale: f64 = text.trim().parse().map_err(|_| ScaleError::NotANumber)?;
    if scale.is_finite() && scale > 0.0 {
        Ok(scale)
    } else {
        Err(ScaleError::NotPositive(scale))
    }
}

/// Reads `--progress-interval` and `--slow-after`: a duration, or 0 / off.
fn every(text: &str) -> Result<Every, EveryError> {
    hybrid_e2e_runner::run::progress::parse_every(text)
}

/// When `run` pre-pulls the tests' images (`--prepull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Prepull {
    /// Always.
    On,
    /// Never.
    Off,
    /// Against real clusters, not with --sim.
    Auto,
}

/// Reads `--prepull-timeout`: a duration above zero.
fn prepull_timeout(
    text: &str,
) -> Result<std::time::Duration, hybrid_e2e_runner::run::prepull::TimeoutError> {
    hybrid_e2e_runner::run::prepull::parse_timeout(text)
}

/// Reads `--cluster-domain`: a DNS name, its trailing dot dropped.
fn cluster_domain(
    text: &str,
) -> Result<String, hybrid_e2e_runner::run::cluster_domain::DomainError> {
    hybrid_e2e_runner::run::cluster_domain::parse_domain(text)
}

/// How probes reach the source pod's netexec (`--probe-via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProbeVia {
    /// Run curl in the source pod (pods/exec, via the kubelet) against its own netexec on
    /// 127.0.0.1; works wherever `kubectl exec` does.
    Exec,
    /// Ask through the API server's pod proxy to port 8080 of the source pod; needs the API
    /// server to reach pod IPs (often blocked: GKE private clusters, EKS security groups,
    /// Windows on Flannel VXLAN).
    Proxy,
}

/// A Pod Security Standard level for test namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PodSecurity {
    /// Unrestricted: every test can run.
    Privileged,
    /// No hostPath volumes, host namespaces, privileged containers or extra capabilities.
    Baseline,
    /// Baseline, plus non-root, no privilege escalation, capabilities dropped, seccomp.
    Restricted,
}

/// The simulated cluster's shape and faults (for `sim`, and for `run --sim`).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Simulated cluster (with --sim)")]
pub(crate) struct SimArgs {
    /// Number of Linux nodes [default: 2].
    #[arg(long, value_name = "N")]
    pub linux_nodes: Option<usize>,

    /// Number of Windows nodes [default: 2].
    #[arg(long, value_name = "N")]
    pub windows_nodes: Option<usize>,

    /// node.kubernetes.io/windows-build of the Windows nodes [default: 10.0.20348, Windows
    /// Server 2022].
    #[arg(long, value_name = "BUILD")]
    pub windows_build: Option<String>,

    /// Do not taint Windows nodes with os=windows:NoSchedule.
    #[arg(long)]
    pub no_windows_taint: bool,

    /// Start without a StorageClass (PVC tests then skip).
    #[arg(long)]
    pub no_storage_class: bool,

    /// Break one behaviour on purpose (repeatable).
    #[arg(long = "fault", value_enum, value_name = "NAME")]
    pub faults: Vec<Fault>,

    /// Behave like some legitimate real clusters do (repeatable, or `all`): not a fault, a
    /// difference the harness must cope with.
    #[arg(long = "quirk", value_enum, value_name = "NAME")]
    pub quirks: Vec<QuirkArg>,

    /// Which API server, scheduler and controllers the simulated nodes run under [default:
    /// embedded]. `real` starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler
    /// v1.37 built from the Kubernetes sources (tools/control-plane/build.sh; needs Go, cached
    /// after the first build, or $HYBRID_E2E_CONTROL_PLANE_BIN).
    #[arg(long, value_enum, value_name = "KIND")]
    pub control_plane: Option<ControlPlaneKind>,
}

#[derive(Debug, Args)]
pub(crate) struct SimCommandArgs {
    #[command(flatten)]
    pub sim: SimArgs,

    /// Port of the API server on 127.0.0.1 (0 picks a free one); with --control-plane real,
    /// kube-apiserver's (HTTPS).
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cluster_domain_must_be_a_dns_name() {
        let parse = |value: &str| {
            Cli::try_parse_from(["hybrid-e2e", "run", "--cluster-domain", value]).map(|cli| {
                match cli.command {
                    Command::Run(run) => run.cluster_domain,
                    _ => None,
                }
            })
        };
        assert_eq!(
            parse("corp.example.").expect("a DNS name"),
            Some("corp.example".to_string())
        );
        let err = parse("bad_domain!").expect_err("not a DNS name");
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(text.contains("--cluster-domain"), "{text}");
        assert!(text.contains("label \"bad_domain!\""), "{text}");
    }

    #[test]
    fn tolerate_is_repeatable_and_a_malformed_value_names_the_flag() {
        let parse = |values: &[&str]| {
            let mut args = vec!["hybrid-e2e", "run"];
            for value in values {
                args.extend(["--tolerate", value]);
            }
            Cli::try_parse_from(args).map(|cli| match cli.command {
                Command::Run(run) => run.pods.tolerations,
                _ => Vec::new(),
            })
        };
        let tolerations = parse(&["CriticalAddonsOnly=true:NoSchedule", "team:NoExecute"])
            .expect("two tolerations");
        let texts: Vec<String> = tolerations.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            ["CriticalAddonsOnly=true:NoSchedule", "team:NoExecute"]
        );
        for (value, why) in [
            ("CriticalAddonsOnly=true", "no :EFFECT"),
            ("a=b:Never", "effect \"Never\" is none of"),
            ("bad key:NoSchedule", "not a valid label key"),
        ] {
            let err = parse(&[value]).expect_err(value);
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            assert!(text.contains("--tolerate"), "{text}");
            assert!(text.contains(why), "{text}");
        }
        for command in ["doctor", "render"] {
            let parsed = Cli::try_parse_from(["hybrid-e2e", command, "--tolerate", "k:NoSchedule"]);
            assert!(parsed.is_ok(), "{command} takes --tolerate");
        }
    }

    #[test]
    fn shard_is_k_of_n_and_a_bad_value_names_the_flag() {
        for command in ["run", "list", "render", "doctor", "list-images"] {
            let parsed = Cli::try_parse_from(["hybrid-e2e", command, "--shard", "2/3"]);
            assert!(parsed.is_ok(), "{command} takes --shard");
        }
        for (value, why) in [
            ("0/3", "K must be 1 to 3, not 0"),
            ("4/3", "K must be 1 to 3, not 4"),
            ("3", "want K/N"),
            ("a/b", "K \"a\" is not a whole number"),
            ("1/0", "N must be at least 1"),
            ("2/-1", "N \"-1\" is not a whole number"),
        ] {
            let err =
                Cli::try_parse_from(["hybrid-e2e", "list", "--shard", value]).expect_err(value);
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            assert!(text.contains("'--shard <K/N>'"), "{text}");
            assert!(text.contains(why), "{value}: {text}");
        }
    }

    #[test]
    fn sim_conflicts_with_kubeconfig() {
        let err =
            Cli::try_parse_from(["hybrid-e2e", "run", "--sim", "--kubeconfig", "x"]).unwrap_err();
        assert!(err.to_string().contains("cannot be used with"), "{err}");
    }
}

/// A `--quirk` value: one quirk, or `all` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuirkArg {
    /// Every quirk at once.
    All,
    /// One quirk.
    One(Quirk),
}

impl QuirkArg {
    /// The quirks this value stands for.
    pub(crate) fn quirks(self) -> Vec<Quirk> {
        match self {
            QuirkArg::All => Quirk::value_variants().to_vec(),
            QuirkArg::One(quirk) => vec![quirk],
        }
    }
}

impl ValueEnum for QuirkArg {
    fn value_variants<'a>() -> &'a [Self] {
        static VARIANTS: std::sync::OnceLock<Vec<QuirkArg>> = std::sync::OnceLock::new();
        VARIANTS.get_or_init(|| {
            std::iter::once(QuirkArg::All)
                .chain(Quirk::value_variants().iter().copied().map(QuirkArg::One))
                .collect()
        })
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        match self {
            QuirkArg::All => {
                Some(clap::builder::PossibleValue::new("all").help("Every quirk below at once."))
            }
            QuirkArg::One(quirk) => quirk.to_possible_value(),
        }
    }
}
