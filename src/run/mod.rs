//! Executing tests: trials, namespaces, steps, watch-based waits, cleanup, artifacts.
