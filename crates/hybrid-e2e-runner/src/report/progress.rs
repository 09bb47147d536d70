//! The shapes of progress while a run runs (`run::progress` makes them): how far the run is
//! ([`Progress`], `progress: 12/95 done (10 passed, 1 failed, 1 skipped), 4 running, 2m10s
//! elapsed`) and a test that runs long ([`Slow`], `slow: NAME step 3 (file:line) WHAT: STATE for
//! 1m35s`), as [`RunEvent`](super::events::RunEvent)s carry them and the console shows them.

use std::time::Duration;

use super::summary::Counts;

/// `2m10s`, `5s`, `1h0m3s`: whole seconds.
pub fn short_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// How far a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// How the tests that ended so far ended (skipped ones included).
    pub ended: Counts,
    /// Every selected test.
    pub total: usize,
    /// Running now.
    pub running: usize,
    /// Since the tests began.
    pub elapsed: Duration,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.ended;
        let mut counts = vec![format!("{} passed", c.passed)];
        if c.flaky > 0 {
            counts.push(format!("{} flaky", c.flaky));
        }
        counts.push(format!("{} failed", c.failed));
        if c.errored > 0 {
            counts.push(format!("{} errored", c.errored));
        }
        counts.push(format!("{} skipped", c.skipped));
        write!(
            f,
            "progress: {}/{} done ({}), {} running, {} elapsed",
            c.total(),
            self.total,
            counts.join(", "),
            self.running,
            short_duration(self.elapsed)
        )
    }
}

/// A test that runs long, and what it is at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slow {
    /// The test cell's name.
    pub name: String,
    /// Since the test started.
    pub running_for: Duration,
    /// Its current step (1-based), where it is written and what it does; none before the first.
    pub step: Option<(usize, String, String)>,
    /// Since the current step started.
    pub step_for: Duration,
    /// What the step's wait last observed, and for how long it has been so.
    pub seen: Option<(String, Duration)>,
}

impl std::fmt::Display for Slow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "slow: {}", self.name)?;
        match (&self.step, &self.seen) {
            (Some((n, location, what)), Some((state, for_))) => write!(
                f,
                " step {n} ({location}) {what}: {state} for {}",
                short_duration(*for_)
            ),
            (Some((n, location, what)), None) => write!(
                f,
                " step {n} ({location}) {what}: running for {}",
                short_duration(self.step_for)
            ),
            (None, _) => write!(
                f,
                ": preparing its namespace for {}",
                short_duration(self.running_for)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(Duration::from_millis(4900)), "4s");
        assert_eq!(short_duration(Duration::from_secs(130)), "2m10s");
        assert_eq!(short_duration(Duration::from_secs(3603)), "1h0m3s");
    }

    #[test]
    fn the_progress_line_names_errored_and_flaky_only_when_there_are_some() {
        let mut p = Progress {
            ended: Counts {
                passed: 10,
                failed: 1,
                skipped: 1,
                ..Counts::default()
            },
            total: 95,
            running: 4,
            elapsed: Duration::from_secs(130),
        };
        assert_eq!(
            p.to_string(),
            "progress: 12/95 done (10 passed, 1 failed, 1 skipped), 4 running, 2m10s elapsed"
        );
        p.ended.errored = 2;
        p.ended.flaky = 1;
        assert_eq!(
            p.to_string(),
            "progress: 14/95 done (10 passed, 1 flaky, 1 failed, 2 errored, 1 skipped), 4 running, 2m10s elapsed"
        );
    }

    #[test]
    fn the_slow_line_names_the_step_and_what_its_wait_saw() {
        let mut slow = Slow {
            name: "networking/pod-to-pod[client=linux,server=windows]".into(),
            running_for: Duration::from_secs(100),
            step: Some((
                3,
                "suites/networking.yaml:40".into(),
                "wait for pod \"server\" to be ready".into(),
            )),
            step_for: Duration::from_secs(96),
            seen: Some((
                "ContainerCreating on windows-node-1".into(),
                Duration::from_secs(95),
            )),
        };
        assert_eq!(
            slow.to_string(),
            "slow: networking/pod-to-pod[client=linux,server=windows] step 3 (suites/networking.yaml:40) wait for pod \"server\" to be ready: ContainerCreating on windows-node-1 for 1m35s"
        );
        slow.seen = None;
        assert!(
            slow.to_string().ends_with("to be ready: running for 1m36s"),
            "{slow}"
        );
        slow.step = None;
        assert!(
            slow.to_string()
                .ends_with("]: preparing its namespace for 1m40s"),
            "{slow}"
        );
    }
}
