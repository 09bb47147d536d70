//! `hybrid-e2e list`: the selected tests with their tags, one a line; no cluster needed.
//! Notes say why a test has no Windows cell and which opt-in cells would skip (and how to
//! select them).

use std::io::Write as _;

use hybrid_e2e_runner::catalog::{Requirement, TestCase};

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
        let note = notes(case);
        writeln!(out, "{:width$}  [{}]{note}", case.name, tags.join(", "))
            .map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    match selected.shard {
        Some(shard) => eprintln!(
            "{} test(s): shard {shard} of {} selected",
            cases.len(),
            selected.unsharded
        ),
        None => eprintln!("{} test(s)", cases.len()),
    }
    Ok(())
}

/// `  (linux only: REASON)`, `  (opt-in: select it with --tags TAG)`, or nothing.
fn notes(case: &TestCase) -> String {
    let linux_only = case
        .linux_only
        .iter()
        .map(|reason| format!("  (linux only: {reason})"));
    let opt_in = case.requires.iter().filter_map(|r| match r {
        Requirement::OptIn { tag, .. } => Some(format!("  (opt-in: select it with --tags {tag})")),
        _ => None,
    });
    linux_only.chain(opt_in).collect()
}
