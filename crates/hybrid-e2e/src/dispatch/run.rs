//! `hybrid-e2e run`: plan, connect (starting the simulated cluster for `--sim`), hand the runner
//! a client and the console reporter, and turn its summary into an exit.

use hybrid_e2e_runner::report::ConsoleReporter;
use hybrid_e2e_runner::run as runner;
use hybrid_e2e_runner::run::connect::{self, Connection};
use hybrid_e2e_runner::run::signals::StopSignals;

use crate::cli::RunArgs;
use crate::errors::Error;
use crate::plan::{RunPlan, Target};
use crate::simulated::Simulated;

pub(super) fn run(args: &RunArgs) -> Result<(), Error> {
    let plan = RunPlan::from_args(args)?;
    match (&plan.selected.shard, plan.selected.cases.is_empty()) {
        (Some(shard), true) if plan.selected.unsharded > 0 => eprintln!(
            "warning: shard {shard} of the {} selected test(s) is empty (more shards than tests)",
            plan.selected.unsharded
        ),
        (_, true) => {
            eprintln!("warning: no test matches the selection; `hybrid-e2e list` shows what exists")
        }
        _ => {}
    }
    let reporter = ConsoleReporter::new(plan.config.format);
    let runtime = super::runtime()?;
    let opening = runtime.block_on(async {
        // A stop signal while a control plane starts drops the start, which stops what started.
        let mut signals = StopSignals::new();
        tokio::select! {
            opened = open(&plan.target) => opened,
            _ = signals.next() => Err(Error::Interrupted),
        }
    });
    let (connection, sim) = match opening {
        Ok(opened) => opened,
        Err(error) => {
            // Even a run that cannot start leaves a report saying why.
            runner::report_aborted(&plan.config, &error.reason(), &reporter);
            return Err(error);
        }
    };
    let result = runner::execute(
        &runtime,
        &plan.config,
        &connection,
        plan.selected.fixtures.clone(),
        plan.selected.images.clone(),
        plan.selected.cases.clone(),
        &reporter,
    );
    if let Some(sim) = sim {
        runtime.block_on(sim.shutdown());
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    let summary = result?;
    if summary.interrupted {
        Err(Error::Interrupted)
    } else if summary.failed + summary.errored > 0 {
        Err(Error::TestsFailed(summary.failed + summary.errored))
    } else if summary.prepull_failed {
        Err(Error::PrepullFailed)
    } else if plan.fail_on_flaky && summary.flaky > 0 {
        Err(Error::FlakyTests(summary.flaky))
    } else {
        Ok(())
    }
}

/// A connection to the target, and the simulated cluster behind it when this run started one.
async fn open(target: &Target) -> Result<(Connection, Option<Simulated>), Error> {
    match target {
        Target::Kubeconfig(source) => Ok((connect::connect(source).await?, None)),
        Target::Sim {
            config,
            control_plane,
        } => {
            let sim = Simulated::start(config.clone(), *control_plane).await?;
            let client = match sim_client(&sim.cluster().kubeconfig_yaml()).await {
                Ok(client) => client,
                Err(e) => {
                    sim.shutdown().await;
                    return Err(e.into());
                }
            };
            let connection = Connection {
                client,
                server: sim.describe(),
            };
            Ok((connection, Some(sim)))
        }
    }
}

/// A client for the simulated cluster made from its kubeconfig the way a user's kubeconfig
/// makes one (`connect`), so `--sim` runs go through the same client stack, retries included.
async fn sim_client(kubeconfig_yaml: &str) -> Result<kube::Client, connect::ConnectError> {
    let kubeconfig_error = |source| connect::ConnectError::Kubeconfig {
        path: "the simulated cluster's kubeconfig".to_string(),
        source,
    };
    let kubeconfig =
        kube::config::Kubeconfig::from_yaml(kubeconfig_yaml).map_err(kubeconfig_error)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(kubeconfig_error)?;
    runner::api_retry::client_with_retries(config).map_err(connect::ConnectError::Client)
}
