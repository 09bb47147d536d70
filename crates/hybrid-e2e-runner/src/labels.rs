//! The labels and annotations a run puts on what it creates, so that whatever a run created can
//! be found and deleted, even after a crash (`kubectl delete ns -l hybrid-e2e.io/run-id=ID`).

/// Every namespace of a run carries its run id under this label.
pub const RUN_ID_LABEL: &str = "hybrid-e2e.io/run-id";
/// A test's namespace carries the test's name, squeezed into a label value, under this label.
pub const TEST_LABEL: &str = "hybrid-e2e.io/test";
/// A test's namespace carries the test's full name under this annotation.
pub const TEST_ANNOTATION: &str = "hybrid-e2e.io/test-name";
