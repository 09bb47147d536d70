//! Tests of the control-plane launcher: against the real Go-built binaries (`lifecycle`, skipped
//! without Go unless `CI=true`) and against fake shell-script binaries (`errors`, always run).

mod errors;
mod lifecycle;
mod support;
