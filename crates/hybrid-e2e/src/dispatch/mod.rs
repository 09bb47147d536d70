//! One file per command: each turns its validated arguments into work and returns `Ok` or the
//! [`Error`](crate::errors::Error) that says how it ended.

mod cleanup;
mod doctor;
mod list;
mod list_images;
mod render;
mod run;
mod sim;

use std::future::Future;

use hybrid_e2e_runner::run::connect::{self, Connection, KubeconfigSource};

use crate::cli::Command;
use crate::errors::Error;

/// Runs one command.
pub(crate) fn command(command: Command) -> Result<(), Error> {
    match command {
        Command::Run(args) => run::run(&args),
        Command::List(args) => list::list(&args),
        Command::ListImages(args) => list_images::list_images(&args),
        Command::Render(args) => render::render(&args),
        Command::Sim(args) => sim::sim(&args),
        Command::Cleanup(args) => cleanup::cleanup(&args),
        Command::Doctor(args) => doctor::doctor(&args),
    }
}

/// A tokio runtime for one command.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// Connects through the kubeconfig `source` names and runs `work` with the connection.
fn with_connection<F, Fut>(source: &KubeconfigSource, work: F) -> Result<(), Error>
where
    F: FnOnce(Connection) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    runtime()?.block_on(async {
        let connection = connect::connect(source).await?;
        work(connection).await
    })
}
