//! The exit codes of `hybrid-e2e`, documented constants that CI can act on.

/// Every selected test passed or was skipped.
pub(crate) const OK: i32 = 0;
/// At least one test failed, or ended in error (the harness could not check it).
pub(crate) const TEST_FAILED: i32 = 1;
/// Usage, suite or configuration error (nothing touched a cluster, or the run could not start).
pub(crate) const USAGE: i32 = 2;
/// The cluster is unreachable, or the credentials may not do what the run needs.
pub(crate) const CLUSTER: i32 = 3;
/// Interrupted (Ctrl-C, SIGTERM or SIGHUP) after the run's namespaces were cleaned up.
pub(crate) const INTERRUPTED: i32 = 130;

/// The table `--help` prints.
pub(crate) const HELP: &str = "\
Exit codes:
  0    every selected test passed or was skipped
  1    at least one test failed (or ended in error: the harness could not check it),
       or was flaky with --fail-on-flaky
  2    usage, suite or configuration error
  3    cluster unreachable, or access forbidden
  130  interrupted (Ctrl-C, SIGTERM or SIGHUP), after cleanup";
