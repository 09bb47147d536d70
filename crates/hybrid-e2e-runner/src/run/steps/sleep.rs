//! `sleep`: do nothing for a while (to observe that something does NOT happen).

use std::time::{Duration, Instant};

use super::{StepFuture, StepKind};
use crate::run::scope::TestScope;

/// The default timeout beyond the sleep itself (the timeout does not cut a sleep short).
const MARGIN: Duration = Duration::from_secs(30);

pub(super) struct Sleep {
    pub(super) length: Duration,
}

impl StepKind for Sleep {
    fn default_timeout(&self) -> Duration {
        self.length + MARGIN
    }

    fn describe(&self) -> String {
        format!("sleep {:?}", self.length)
    }

    fn run<'s>(&'s self, _: &'s mut TestScope<'_>, _: Instant) -> StepFuture<'s> {
        Box::pin(async move {
            tokio::time::sleep(self.length).await;
            Ok(())
        })
    }

    /// A sleep lasts as long as it says, whatever the timeout (or `--timeout-scale`).
    fn bounded(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleep_is_not_cut_short_by_its_timeout() {
        let step = Sleep {
            length: Duration::from_millis(1500),
        };
        assert!(!step.bounded());
        assert_eq!(step.describe(), "sleep 1.5s");
        assert_eq!(step.default_timeout(), Duration::from_millis(31_500));
    }
}
