//! The `hybrid-e2e` binary, the edge of the program: parse flags, set up logging, run the
//! command, and turn every error into one line on stderr and a documented exit code.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;

use hybrid_e2e::catalog::{Catalog, Selection, TagExpr, TestCase};
use hybrid_e2e::cli::{
    CleanupArgs, Cli, Command, DoctorArgs, ListArgs, RenderArgs, RunArgs, SelectArgs,
    SimCommandArgs,
};
use hybrid_e2e::exit;
use hybrid_e2e::fixture::Images;
use hybrid_e2e::run::connect::{self, Connection};
use hybrid_e2e::run::plan::Target;
use hybrid_e2e::run::{error_chain, namespace};
use hybrid_e2e::sim::{SimCluster, SimConfig};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose, cli.quiet);
    let code = match cli.command {
        Command::Run(args) => run(args),
        Command::List(args) => list(args),
        Command::Render(args) => render(args),
        Command::Sim(args) => sim(args),
        Command::Cleanup(args) => cleanup(args),
        Command::Doctor(args) => doctor(args),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn init_tracing(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "hybrid_e2e=debug,warn",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Prints an error with its causes on one line and returns the usage exit code.
fn usage_error(error: anyhow::Error) -> i32 {
    eprintln!("error: {error:#}");
    exit::USAGE
}

/// Loads the catalog and picks the tests the flags select (exit code 2 on any problem).
fn select(args: &SelectArgs) -> anyhow::Result<(Catalog, Vec<TestCase>, Images)> {
    let catalog = Catalog::load(args.suites.as_deref(), args.fixtures.as_deref())?;
    let tags = match &args.tags {
        Some(expr) => Some(TagExpr::parse(expr, &catalog.known_tags()).context("--tags")?),
        None => None,
    };
    let selection = Selection {
        tags,
        filters: args.filters.clone(),
        exact: args.exact,
        skip: args.skip.clone(),
    };
    let cases: Vec<TestCase> = catalog.select(&selection).into_iter().cloned().collect();
    let images = match &args.image_repo {
        Some(repo) => Images::default().with_repo(repo),
        None => Images::default(),
    };
    Ok((catalog, cases, images))
}

fn run(args: RunArgs) -> i32 {
    let plan = match args.plan() {
        Ok(plan) => plan,
        Err(e) => return usage_error(e.into()),
    };
    let (catalog, cases, images) = match select(&args.select) {
        Ok(x) => x,
        Err(e) => return usage_error(e),
    };
    if cases.is_empty() {
        eprintln!("warning: no test matches the selection; `hybrid-e2e list` shows what exists");
    }
    hybrid_e2e::run::execute(&plan, Arc::new(catalog.fixtures), images, cases)
}

fn list(args: ListArgs) -> i32 {
    let (_, cases, _) = match select(&args.select) {
        Ok(x) => x,
        Err(e) => return usage_error(e),
    };
    let width = cases.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for case in &cases {
        let tags: Vec<&str> = case.tags.iter().map(String::as_str).collect();
        let note = case
            .linux_only
            .as_ref()
            .map(|reason| format!("  (linux only: {reason})"))
            .unwrap_or_default();
        if writeln!(out, "{:width$}  [{}]{note}", case.name, tags.join(", ")).is_err() {
            break; // stdout closed (e.g. piped into head)
        }
    }
    eprintln!("{} test(s)", cases.len());
    exit::OK
}

fn render(args: RenderArgs) -> i32 {
    let (catalog, cases, images) = match select(&args.select) {
        Ok(x) => x,
        Err(e) => return usage_error(e),
    };
    let refs: Vec<&TestCase> = cases.iter().collect();
    match hybrid_e2e::catalog::render(&refs, &catalog.fixtures, &images) {
        Ok(yaml) => {
            print!("{yaml}");
            exit::OK
        }
        Err(e) => usage_error(e.into()),
    }
}

fn sim(args: SimCommandArgs) -> i32 {
    let config = SimConfig {
        port: args.port,
        ..args.sim.to_config()
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return usage_error(e.into()),
    };
    runtime.block_on(async {
        let cluster = match SimCluster::start(config).await {
            Ok(c) => c,
            Err(e) => return usage_error(e.into()),
        };
        if let Err(e) = cluster.write_kubeconfig(&args.kubeconfig_out) {
            return usage_error(e.into());
        }
        let kc = args.kubeconfig_out.display();
        println!("Simulated hybrid cluster serving at {}", cluster.url());
        println!("Kubeconfig written to {kc}");
        println!("  kubectl --kubeconfig {kc} get nodes -o wide");
        println!("  hybrid-e2e run --kubeconfig {kc}");
        println!("Press Ctrl-C to stop.");
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("Stopping the simulated cluster.");
        cluster.shutdown().await;
        exit::OK
    })
}

/// Builds a runtime, connects to the cluster `target` names, and runs `work` with the
/// connection. A connection problem is a configuration error (exit 2).
fn with_connection<F, Fut>(target: &Target, work: F) -> i32
where
    F: FnOnce(Connection) -> Fut,
    Fut: std::future::Future<Output = i32>,
{
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return usage_error(e.into()),
    };
    runtime.block_on(async {
        match connect::connect(target).await {
            Ok(connection) => work(connection).await,
            Err(e) => usage_error(e.into()),
        }
    })
}

/// Prints a cluster-side failure as one line and returns the cluster exit code.
fn cluster_error(server: &str, error: &dyn std::error::Error) -> i32 {
    eprintln!("error: cluster at {server}: {}", error_chain(error));
    exit::CLUSTER
}

fn cleanup(args: CleanupArgs) -> i32 {
    with_connection(&args.cluster.target(), |connection| async move {
        let selector = namespace::run_selector(args.run_id.as_deref());
        let timeout = std::time::Duration::from_secs(300);
        match namespace::sweep(&connection.client, &selector, &[], timeout).await {
            Ok(left) if left.is_empty() => {
                eprintln!("No namespaces matching {selector} remain.");
                exit::OK
            }
            Ok(left) => {
                eprintln!("Still terminating after 5 minutes: {}", left.join(", "));
                exit::CLUSTER
            }
            Err(e) => cluster_error(&connection.server, &e),
        }
    })
}

fn doctor(args: DoctorArgs) -> i32 {
    let (_, cases, _) = match select(&args.select) {
        Ok(x) => x,
        Err(e) => return usage_error(e),
    };
    with_connection(&args.cluster.target(), |connection| async move {
        match hybrid_e2e::cluster::discover(&connection.client).await {
            Ok(facts) => {
                print!(
                    "{}",
                    hybrid_e2e::cluster::describe(&facts, &connection.server, &cases)
                );
                exit::OK
            }
            Err(e) => cluster_error(&connection.server, &e),
        }
    })
}
