//! `hybrid-e2e sim`: serve the simulated hybrid cluster on loopback until Ctrl-C.

use hybrid_sim::{SimCluster, SimConfig};

use crate::cli::SimCommandArgs;
use crate::errors::Error;
use crate::plan::sim_config;

pub(super) fn sim(args: &SimCommandArgs) -> Result<(), Error> {
    let config = SimConfig {
        port: args.port,
        ..sim_config(&args.sim).unwrap_or_default()
    };
    super::runtime()?.block_on(async {
        let cluster = SimCluster::start(config).await.map_err(Error::Sim)?;
        cluster
            .write_kubeconfig(&args.kubeconfig_out)
            .map_err(Error::Sim)?;
        let kc = args.kubeconfig_out.display();
        println!("Simulated hybrid cluster serving at {}", cluster.url());
        println!("Kubeconfig written to {kc}");
        println!("  kubectl --kubeconfig {kc} get nodes -o wide");
        println!("  hybrid-e2e run --kubeconfig {kc}");
        println!("Press Ctrl-C to stop.");
        // An error here means no signal handler could be installed: stop at once.
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("Stopping the simulated cluster.");
        cluster.shutdown().await;
        Ok(())
    })
}
