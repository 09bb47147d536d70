//! `hybrid-e2e cleanup`: delete the namespaces earlier runs left behind, and wait until they go.

use std::time::Duration;

use hybrid_e2e_runner::run::namespace;

use crate::cli::CleanupArgs;
use crate::errors::Error;
use crate::plan::kubeconfig_source;

/// How long cleanup waits for the namespaces to go.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) fn cleanup(args: &CleanupArgs) -> Result<(), Error> {
    super::with_connection(&kubeconfig_source(&args.cluster), |connection| async move {
        let selector = namespace::run_selector(args.run_id.as_deref());
        let left = namespace::sweep(&connection.client, &selector, &[], CLEANUP_TIMEOUT)
            .await
            .map_err(|source| Error::Cleanup {
                server: connection.server.clone(),
                source,
            })?;
        if !left.is_empty() {
            return Err(Error::NamespacesLeft(left));
        }
        eprintln!("No namespaces matching {selector} remain.");
        Ok(())
    })
}
