//! `hybrid-e2e list`: the selected tests with their tags, one a line; no cluster needed.

use std::io::Write as _;

use crate::cli::ListArgs;
use crate::errors::Error;
use crate::plan::Selected;

pub(super) fn list(args: &ListArgs) -> Result<(), Error> {
    let selected = Selected::from_args(&args.select)?;
    let cases = &selected.cases;
    let width = cases.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for case in cases {
        let tags: Vec<&str> = case.tags.iter().map(String::as_str).collect();
        let note = case
            .linux_only
            .as_ref()
            .map(|reason| format!("  (linux only: {reason})"))
            .unwrap_or_default();
        writeln!(out, "{:width$}  [{}]{note}", case.name, tags.join(", "))
            .map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    eprintln!("{} test(s)", cases.len());
    Ok(())
}
