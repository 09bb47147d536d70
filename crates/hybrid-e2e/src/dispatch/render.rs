//! `hybrid-e2e render`: every object the selected tests would create, as multi-document YAML.

use std::io::Write as _;

use hybrid_e2e_runner::catalog::TestCase;

use crate::cli::RenderArgs;
use crate::errors::Error;
use crate::plan::Selected;

pub(super) fn render(args: &RenderArgs) -> Result<(), Error> {
    let selected = Selected::from_args(&args.select)?;
    let cases: Vec<&TestCase> = selected.cases.iter().collect();
    let yaml = hybrid_e2e_runner::render::render(
        &cases,
        &selected.fixtures,
        &selected.images,
        &args.pods.tolerations,
    )?;
    let mut out = std::io::stdout().lock();
    out.write_all(yaml.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::Output)
}
