//! The OS matrix of a run: for each check whose cells are named by operating system
//! (`suite/test[client=linux,server=windows]`, `suite/test[os=windows]`), a grid of the cells'
//! outcomes, read from the test names alone. `summary.md` and `report.html` draw them.
//!
//! A check with `client=` and `server=` values gets a client × server grid (rows client OS,
//! columns server OS); a check with a single `os=`, `client=` or `server=` value gets one row.
//! Any other matrix values of a cell (`proto=udp`) become part of the check's name, so each
//! combination has a grid of its own. A combination the run did not hold is `None`.

use super::model::{Outcome, RunReport};

/// The matrix keys that name operating systems, in the order single-key rows are labelled.
const ROW_KEY: &str = "client";
const COLUMN_KEY: &str = "server";
const SINGLE_KEYS: [&str; 3] = ["os", "client", "server"];

/// The OSes listed first, in this order; others follow alphabetically.
const KNOWN_OSES: [&str; 2] = ["linux", "windows"];

/// What a grid's rows and columns stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GridShape {
    /// Rows are client OSes, columns server OSes.
    ClientServer,
    /// One row; columns are the values of this key (`os`, `client` or `server`).
    Single(String),
}

/// The outcomes of one check's OS cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    /// `suite/test`, with any further matrix values (`suite/test[proto=udp]`).
    pub check: String,
    /// What rows and columns stand for.
    pub shape: GridShape,
    /// Row labels (client OSes; one empty label for a single-key grid).
    pub rows: Vec<String>,
    /// Column labels (server OSes, or the single key's OSes).
    pub columns: Vec<String>,
    /// `cells[row][column]`: the test of that cell and how it ended, `None` when not in the run.
    pub cells: Vec<Vec<Option<GridCell>>>,
}

/// One cell of a grid: a test of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridCell {
    /// The test's full name.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
}

impl Grid {
    /// Whether the grid has rows of client OSes and columns of server OSes.
    pub fn is_client_server(&self) -> bool {
        self.shape == GridShape::ClientServer
    }

    /// The outcome in a single-row grid's `column` (`None` when not in the run).
    pub fn single(&self, column: &str) -> Option<Outcome> {
        let c = self.columns.iter().position(|x| x == column)?;
        let cell = self.cells.first()?.get(c)?.as_ref()?;
        Some(cell.outcome)
    }
}

/// The symbol of an outcome in a grid: ✅ pass, ❌ fail, ⚠ error, ⏭ skip, — not in the run.
pub fn symbol(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Passed) => "✅",
        Some(Outcome::Failed) => "❌",
        Some(Outcome::Error) => "⚠",
        Some(Outcome::Skipped) => "⏭",
        None => "—",
    }
}

/// The lowercase name of an outcome (`passed`, ...; `absent` when not in the run).
pub fn outcome_name(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Passed) => "passed",
        Some(Outcome::Failed) => "failed",
        Some(Outcome::Error) => "error",
        Some(Outcome::Skipped) => "skipped",
        None => "absent",
    }
}

/// What a symbol stands for in a legend: the outcome's name, or `not in the run`.
pub fn outcome_word(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(_) => outcome_name(outcome),
        None => "not in the run",
    }
}

/// The outcomes (`None`: not in the run) the cells of `grids` show, in legend order:
/// passed, failed, error, skipped, not in the run.
pub fn legend(grids: &[Grid]) -> Vec<Option<Outcome>> {
    let shown: Vec<Option<Outcome>> = grids
        .iter()
        .flat_map(|g| g.cells.iter().flatten())
        .map(|c| c.as_ref().map(|c| c.outcome))
        .collect();
    [
        Some(Outcome::Passed),
        Some(Outcome::Failed),
        Some(Outcome::Error),
        Some(Outcome::Skipped),
        None,
    ]
    .into_iter()
    .filter(|o| shown.contains(o))
    .collect()
}

/// A test name split into its check and matrix values: `s/t[a=1,b=2]` → (`s/t`, [(a,1),(b,2)]).
/// `None` without a well-formed `[k=v,...]` at its end.
fn split_name(name: &str) -> Option<(&str, Vec<(&str, &str)>)> {
    let inner = name.strip_suffix(']')?;
    let (check, params) = inner.rsplit_once('[')?;
    let params = params
        .split(',')
        .map(|p| p.split_once('='))
        .collect::<Option<Vec<_>>>()?;
    Some((check, params))
}

/// Where a test sits: its grid key (check name and shape), its row and its column.
fn place(name: &str) -> Option<(String, GridShape, String, String)> {
    let (check, params) = split_name(name)?;
    let value = |key: &str| params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let rest = |taken: &[&str]| -> String {
        let rest: Vec<String> = params
            .iter()
            .filter(|(k, _)| !taken.contains(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if rest.is_empty() {
            check.to_string()
        } else {
            format!("{check}[{}]", rest.join(","))
        }
    };
    if let (Some(client), Some(server)) = (value(ROW_KEY), value(COLUMN_KEY)) {
        let check = rest(&[ROW_KEY, COLUMN_KEY]);
        return Some((
            check,
            GridShape::ClientServer,
            client.to_string(),
            server.to_string(),
        ));
    }
    let key = SINGLE_KEYS.into_iter().find(|k| value(k).is_some())?;
    let os = value(key)?;
    Some((
        rest(&[key]),
        GridShape::Single(key.to_string()),
        String::new(),
        os.to_string(),
    ))
}

/// Sorts OS labels: the known ones first in their order, then the rest alphabetically.
pub(crate) fn sort_oses(oses: &mut [String]) {
    oses.sort_by_key(|os| {
        let known = KNOWN_OSES.iter().position(|k| *k == os.as_str());
        (known.unwrap_or(KNOWN_OSES.len()), os.clone())
    });
}

/// The grids of `report`, in the order their checks first appear; client × server grids first,
/// then single-key ones. Every test whose name has OS matrix values is in exactly one cell.
pub fn grids(report: &RunReport) -> Vec<Grid> {
    struct Building {
        check: String,
        shape: GridShape,
        placed: Vec<(String, String, GridCell)>,
    }
    let mut building: Vec<Building> = Vec::new();
    for r in &report.results {
        let Some((check, shape, row, column)) = place(&r.name) else {
            continue;
        };
        let cell = GridCell {
            name: r.name.clone(),
            outcome: r.outcome,
        };
        let at = building
            .iter()
            .position(|b| b.check == check && b.shape == shape);
        let b = match at {
            Some(i) => &mut building[i],
            None => {
                building.push(Building {
                    check,
                    shape,
                    placed: Vec::new(),
                });
                let last = building.len() - 1;
                &mut building[last]
            }
        };
        b.placed.push((row, column, cell));
    }
    let mut out: Vec<Grid> = building
        .into_iter()
        .map(|b| {
            let mut rows: Vec<String> = Vec::new();
            let mut columns: Vec<String> = Vec::new();
            for (row, column, _) in &b.placed {
                if !rows.contains(row) {
                    rows.push(row.clone());
                }
                if !columns.contains(column) {
                    columns.push(column.clone());
                }
            }
            if b.shape == GridShape::ClientServer {
                // A square grid: every OS of the check both as client and as server.
                for os in rows.clone().into_iter().chain(columns.clone()) {
                    if !rows.contains(&os) {
                        rows.push(os.clone());
                    }
                    if !columns.contains(&os) {
                        columns.push(os);
                    }
                }
            }
            sort_oses(&mut rows);
            sort_oses(&mut columns);
            let mut cells = vec![vec![None; columns.len()]; rows.len()];
            for (row, column, cell) in b.placed {
                let r = rows.iter().position(|x| *x == row);
                let c = columns.iter().position(|x| *x == column);
                if let (Some(r), Some(c)) = (r, c) {
                    // A name given twice keeps its last result, like a retried test.
                    cells[r][c] = Some(cell);
                }
            }
            Grid {
                check: b.check,
                shape: b.shape,
                rows,
                columns,
                cells,
            }
        })
        .collect();
    // Stable: within each shape the order the checks first appeared in.
    out.sort_by_key(|g| !g.is_client_server());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::TestResult;
    use crate::report::tests::result;

    fn report(results: Vec<TestResult>) -> RunReport {
        RunReport {
            results,
            ..crate::report::tests::report()
        }
    }

    fn outcomes(g: &Grid) -> Vec<Vec<&'static str>> {
        g.cells
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| outcome_name(c.as_ref().map(|c| c.outcome)))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn puts_each_cell_at_its_client_and_server() {
        let r = report(vec![
            result("networking/plain", Outcome::Failed),
            result(
                "networking/p2p[client=windows,server=linux]",
                Outcome::Failed,
            ),
            result("networking/p2p[client=linux,server=linux]", Outcome::Passed),
            result(
                "networking/p2p[client=linux,server=windows]",
                Outcome::Skipped,
            ),
            result("networking/dns[client=windows]", Outcome::Error),
            result("networking/same-node[os=linux]", Outcome::Passed),
            result("networking/same-node[os=windows]", Outcome::Failed),
            result("networking/other[size=big]", Outcome::Passed),
        ]);
        let grids = grids(&r);
        let names: Vec<&str> = grids.iter().map(|g| g.check.as_str()).collect();
        assert_eq!(
            names,
            ["networking/p2p", "networking/dns", "networking/same-node"]
        );
        let p2p = &grids[0];
        assert!(p2p.is_client_server());
        assert_eq!(p2p.rows, ["linux", "windows"]);
        assert_eq!(p2p.columns, ["linux", "windows"]);
        assert_eq!(outcomes(p2p), [["passed", "skipped"], ["failed", "absent"]]);
        assert_eq!(
            p2p.cells[1][0].as_ref().map(|c| c.name.as_str()),
            Some("networking/p2p[client=windows,server=linux]")
        );
        assert_eq!(grids[1].shape, GridShape::Single("client".into()));
        assert_eq!(outcomes(&grids[1]), [["error"]]);
        assert_eq!(grids[2].shape, GridShape::Single("os".into()));
        assert_eq!(grids[2].columns, ["linux", "windows"]);
        assert_eq!(outcomes(&grids[2]), [["passed", "failed"]]);
        assert_eq!(
            legend(&grids),
            [
                Some(Outcome::Passed),
                Some(Outcome::Failed),
                Some(Outcome::Error),
                Some(Outcome::Skipped),
                None
            ]
        );
        assert_eq!(
            legend(&grids[2..]),
            [Some(Outcome::Passed), Some(Outcome::Failed)]
        );
    }

    #[test]
    fn further_matrix_values_make_grids_of_their_own() {
        let r = report(vec![
            result("s/t[proto=udp,client=linux,server=linux]", Outcome::Passed),
            result("s/t[proto=tcp,client=linux,server=linux]", Outcome::Failed),
            result("s/t[proto=udp,client=zos,server=linux]", Outcome::Passed),
        ]);
        let grids = grids(&r);
        assert_eq!(grids.len(), 2);
        assert_eq!(grids[0].check, "s/t[proto=udp]");
        assert_eq!(grids[0].rows, ["linux", "zos"]);
        assert_eq!(grids[0].columns, ["linux", "zos"]);
        assert_eq!(
            outcomes(&grids[0]),
            [["passed", "absent"], ["passed", "absent"]]
        );
        assert_eq!(grids[1].check, "s/t[proto=tcp]");
        assert_eq!(outcomes(&grids[1]), [["failed"]]);
    }

    #[test]
    fn names_without_matrix_values_have_no_grid() {
        for name in [
            "s/t",
            "s/t[",
            "s/t[]",
            "s/t[x]",
            "s/t[client=linux",
            "s/t[a=1]",
        ] {
            assert_eq!(place(name), None, "{name}");
        }
        assert_eq!(symbol(None), "—");
        assert_eq!(outcome_word(None), "not in the run");
        assert_eq!(symbol(Some(Outcome::Failed)), "❌");
    }
}
