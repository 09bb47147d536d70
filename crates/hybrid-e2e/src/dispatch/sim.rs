//! `hybrid-e2e sim`: serve the simulated hybrid cluster on loopback until Ctrl-C.

use hybrid_e2e_runner::run::signals::StopSignals;
use hybrid_sim::SimConfig;

use crate::cli::SimCommandArgs;
use crate::errors::Error;
use crate::plan::{check_faults, sim_config};
use crate::simulated::Simulated;

pub(super) fn sim(args: &SimCommandArgs) -> Result<(), Error> {
    let config = SimConfig {
        port: args.port,
        ..sim_config(&args.sim).unwrap_or_default()
    };
    super::runtime()?.block_on(async {
        let kind = args.sim.control_plane.unwrap_or_default();
        check_faults(&config, kind)?;
        // Listening from here on: a stop signal while a control plane starts drops the start,
        // which stops what had started.
        let mut signals = StopSignals::new();
        let sim = tokio::select! {
            started = Simulated::start(config, kind) => started?,
            _ = signals.next() => return Err(Error::Interrupted),
        };
        if let Err(e) = sim.cluster().write_kubeconfig(&args.kubeconfig_out) {
            sim.shutdown().await;
            return Err(Error::Sim(e));
        }
        let kc = args.kubeconfig_out.display();
        println!("Simulated hybrid cluster serving at {}", sim.describe());
        println!("Kubeconfig written to {kc}");
        println!("  kubectl --kubeconfig {kc} get nodes -o wide");
        println!("  hybrid-e2e run --kubeconfig {kc}");
        println!("Press Ctrl-C (or send SIGTERM) to stop.");
        signals.next().await;
        eprintln!("Stopping the simulated cluster.");
        sim.shutdown().await;
        Ok(())
    })
}
