//! `hybrid-e2e doctor`: what the cluster offers and which selected tests would skip there.

use std::io::Write as _;

use crate::cli::DoctorArgs;
use crate::errors::Error;
use crate::plan::{kubeconfig_source, Selected};

pub(super) fn doctor(args: &DoctorArgs) -> Result<(), Error> {
    let selected = Selected::from_args(&args.select)?;
    super::with_connection(&kubeconfig_source(&args.cluster), |connection| async move {
        let facts =
            hybrid_e2e_runner::cluster::discover(&connection.client, &args.pods.tolerations)
                .await
                .map_err(|source| Error::Discovery {
                    server: connection.server.clone(),
                    source,
                })?;
        let mut text = hybrid_e2e_runner::report::render_doctor(
            &facts,
            &connection.server,
            &selected.cases,
            &selected.fixtures,
            &selected.images,
        );
        text.push_str(
            &hybrid_e2e_runner::run::preflight::doctor_lines(
                &connection.client,
                &selected.cases,
                &selected.fixtures,
            )
            .await,
        );
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(Error::Output)
    })
}
