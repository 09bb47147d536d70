//! `http`: from a pod's netexec, or from the machine running the harness (`from: harness`),
//! reach a target and check the answer. The probing itself is `run::probe`'s.

use std::time::{Duration, Instant};

use super::{StepFuture, StepKind};
use crate::catalog::{HttpExpect, Target};
use crate::run::probe;
use crate::run::scope::TestScope;

pub(super) struct Http<'a> {
    /// The pod the request leaves from; `None`: the harness machine.
    pub(super) from: Option<&'a str>,
    pub(super) to: &'a Target,
    pub(super) expect: &'a HttpExpect,
}

impl StepKind for Http<'_> {
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn describe(&self) -> String {
        match self.from {
            Some(from) => format!(
                "http from \"{from}\" to {}",
                probe::describe_target(self.to)
            ),
            None => format!(
                "http from the harness to {}",
                probe::describe_target(self.to)
            ),
        }
    }

    fn run<'s>(&'s self, scope: &'s mut TestScope<'_>, deadline: Instant) -> StepFuture<'s> {
        Box::pin(async move {
            let notes = match self.from {
                Some(from) => probe::http(scope, from, self.to, self.expect, deadline).await?,
                None => probe::from_harness(scope, self.to, self.expect, deadline).await?,
            };
            scope.notes.extend(notes);
            Ok(())
        })
    }
}
