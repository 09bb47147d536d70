//! `dns`: from a pod, resolve a name with cluster DNS. The lookup itself is `run::probe`'s.

use std::time::{Duration, Instant};

use super::{StepFuture, StepKind};
use crate::catalog::DnsExpect;
use crate::run::probe;
use crate::run::scope::TestScope;

pub(super) struct Dns<'a> {
    pub(super) from: &'a str,
    pub(super) name: &'a str,
    pub(super) expect: DnsExpect,
}

impl StepKind for Dns<'_> {
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn describe(&self) -> String {
        probe::describe_dns(self.from, self.name, self.expect)
    }

    fn run<'s>(&'s self, scope: &'s mut TestScope<'_>, deadline: Instant) -> StepFuture<'s> {
        Box::pin(async move {
            probe::dns(scope, self.from, self.name, self.expect, deadline).await?;
            Ok(())
        })
    }
}
