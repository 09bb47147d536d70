//! Windows name resolution as Kubernetes documents it, end to end with `run --sim`: from
//! Windows clients only short names and FQDNs are supported, so the partially qualified names
//! (`web.NS`, `kubernetes.default`) are opt-in cells (tag `windows-pqdn`). Under the sim's
//! `windows-dns-pqdn` quirk a `dns` run passes with those cells skipped (reason, link, and how
//! to select them); selected with `--tags windows-pqdn` they run and fail (the quirk is real),
//! and on a cluster without the quirk they pass.

use crate::common::harness::{opt_in_cells, run_sim, OPT_IN_HINT};

const LINK: &str =
    "https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#dns-windows";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_pqdn_quirk_a_dns_run_passes_and_skips_the_windows_partial_names_with_the_reason()
{
    let run = run_sim(&["--quirk", "windows-dns-pqdn", "--tags", "dns"]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert_eq!(run.with_outcome("skipped"), opt_in_cells());
    assert!(run.with_outcome("failed").is_empty(), "{}", run.failures());
    let passed = run.with_outcome("passed");
    for name in [
        "networking/dns[client=windows]",
        "networking/service-by-name[client=windows,server=linux]",
        "networking/service-by-partial-name[client=linux,server=windows]",
        "networking/dns-partial-names[client=linux]",
    ] {
        assert!(passed.contains(name), "{name} passed: {passed:?}");
    }
    for name in opt_in_cells() {
        let reason = run.field(&name, "skip_reason");
        assert!(reason.contains(LINK), "{name}: {reason}");
        assert!(reason.ends_with(OPT_IN_HINT), "{name}: {reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selected_with_their_tag_the_windows_partial_names_fail_under_the_quirk() {
    let run = run_sim(&[
        "--quirk",
        "windows-dns-pqdn",
        "--tags",
        "windows-pqdn",
        "--timeout-scale",
        "0.1",
    ])
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.with_outcome("failed"),
        opt_in_cells(),
        "{:#?}",
        run.tests
    );
    let m = run.message("networking/dns-partial-names[client=windows]");
    assert!(m.contains("nslookup kubernetes.default"), "{m}");
    let m = run.message("networking/service-by-partial-name[client=windows,server=linux]");
    assert!(m.contains("NXDOMAIN"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selected_with_their_tag_the_windows_partial_names_pass_without_the_quirk() {
    let run = run_sim(&["--tags", "dns && windows-pqdn"]).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stderr, run.failures());
    assert_eq!(
        run.with_outcome("passed"),
        opt_in_cells(),
        "{:#?}",
        run.tests
    );
}
