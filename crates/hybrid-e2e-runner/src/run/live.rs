//! What a running test is doing, seen from outside its task: the step it is at (set by
//! `run::test` as each step starts, and told to the run loop as a [`StepStarted`]) and the
//! latest state its wait observed (set by `run::wait`). The run loop reads it for `slow:` lines
//! (`run::progress`). A [`Live`] made with `Default` is detached: it records nothing.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

/// A step that began, as the run loop hears of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepStarted {
    /// The test cell's name.
    pub(crate) name: String,
    /// 1-based.
    pub(crate) step: usize,
    /// Where the step is written (`suites/x.yaml:12`).
    pub(crate) location: String,
    /// What the step does (`wait for pod "server" to be ready`).
    pub(crate) what: String,
}

/// A handle on one running test's progress; cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Live(Option<Arc<Shared>>);

#[derive(Debug)]
struct Shared {
    name: String,
    started: Instant,
    steps: UnboundedSender<StepStarted>,
    now: Mutex<Current>,
}

/// What the test is at now.
#[derive(Debug, Default)]
struct Current {
    step: Option<(StepStarted, Instant)>,
    /// The wait's latest observed state, and since when it has been that.
    seen: Option<(String, Instant)>,
    /// How many `slow:` lines were due for this test already.
    slow_told: u32,
}

/// A running test's state at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// The test cell's name.
    pub(crate) name: String,
    /// Since the test started.
    pub(crate) running_for: Duration,
    /// Its current step, if one has started.
    pub(crate) step: Option<StepStarted>,
    /// Since the current step started.
    pub(crate) step_for: Duration,
    /// The latest state the step's wait observed, and for how long it has been so.
    pub(crate) seen: Option<(String, Duration)>,
}

impl Live {
    /// A handle for the test `name` starting now; its steps are told to `steps`.
    pub(crate) fn new(name: &str, steps: UnboundedSender<StepStarted>) -> Live {
        Live(Some(Arc::new(Shared {
            name: name.to_string(),
            started: Instant::now(),
            steps,
            now: Mutex::new(Current::default()),
        })))
    }

    fn current(shared: &Shared) -> MutexGuard<'_, Current> {
        shared.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Step `step` (1-based) starts: it becomes the current step, with nothing observed yet.
    pub(crate) fn step(&self, step: usize, location: &str, what: &str) {
        let Some(shared) = &self.0 else {
            return;
        };
        let started = StepStarted {
            name: shared.name.clone(),
            step,
            location: location.to_string(),
            what: what.to_string(),
        };
        {
            let mut current = Self::current(shared);
            current.step = Some((started.clone(), Instant::now()));
            current.seen = None;
        }
        // The run loop may be gone (the run ended); nobody to tell then.
        let _ = shared.steps.send(started);
    }

    /// The current step's wait observed `state` (its clock keeps running while it stays the same).
    pub(crate) fn saw(&self, state: String) {
        let Some(shared) = &self.0 else {
            return;
        };
        let mut current = Self::current(shared);
        if current.seen.as_ref().is_none_or(|(s, _)| *s != state) {
            current.seen = Some((state, Instant::now()));
        }
    }

    /// The test's state now.
    #[cfg(test)]
    pub(crate) fn snapshot(&self) -> Option<Snapshot> {
        let shared = self.0.as_ref()?;
        let current = Self::current(shared);
        Some(snapshot(shared, &current))
    }

    /// The test's state now if it has run `slow_after` once more than the last time this said
    /// so (at `slow_after`, twice that, ...), or, with `always`, whenever it has run that long.
    pub(crate) fn slow(&self, slow_after: Duration, always: bool) -> Option<Snapshot> {
        let shared = self.0.as_ref()?;
        let mut current = Self::current(shared);
        let running_for = shared.started.elapsed();
        if slow_after.is_zero() || running_for < slow_after {
            return None;
        }
        let due = u32::try_from(running_for.as_nanos() / slow_after.as_nanos()).unwrap_or(u32::MAX);
        if due <= current.slow_told && !always {
            return None;
        }
        current.slow_told = current.slow_told.max(due);
        Some(snapshot(shared, &current))
    }
}

fn snapshot(shared: &Shared, current: &Current) -> Snapshot {
    Snapshot {
        name: shared.name.clone(),
        running_for: shared.started.elapsed(),
        step: current.step.as_ref().map(|(s, _)| s.clone()),
        step_for: current
            .step
            .as_ref()
            .map(|(_, at)| at.elapsed())
            .unwrap_or_default(),
        seen: current
            .seen
            .as_ref()
            .map(|(s, since)| (s.clone(), since.elapsed())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_told_and_resets_what_was_seen() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let live = Live::new("s/a", tx);
        live.step(1, "s.yaml:3", "create pod \"p\"");
        live.saw("ContainerCreating on n1".into());
        let seen = live.snapshot().and_then(|s| s.seen).map(|(s, _)| s);
        assert_eq!(seen.as_deref(), Some("ContainerCreating on n1"));
        live.step(2, "s.yaml:5", "wait for pod \"p\" to be ready");
        let now = live.snapshot().expect("attached");
        assert_eq!(now.seen, None);
        assert_eq!(now.step.map(|s| s.step), Some(2));
        let told: Vec<usize> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|s| s.step)
            .collect();
        assert_eq!(told, [1, 2]);
    }

    #[test]
    fn the_same_state_keeps_its_clock() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let live = Live::new("s/a", tx);
        live.saw("Pending".into());
        std::thread::sleep(Duration::from_millis(20));
        live.saw("Pending".into());
        let (_, since) = live.snapshot().and_then(|s| s.seen).expect("seen");
        assert!(since >= Duration::from_millis(20), "{since:?}");
    }

    #[test]
    fn slow_is_said_once_per_threshold_passed_unless_asked() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let live = Live::new("s/a", tx);
        let after = Duration::from_millis(30);
        assert_eq!(live.slow(after, false), None, "not yet");
        std::thread::sleep(after);
        assert!(live.slow(after, false).is_some());
        assert_eq!(live.slow(after, false), None, "said once");
        assert!(live.slow(after, true).is_some(), "asked (SIGUSR1)");
        assert_eq!(live.slow(Duration::ZERO, true), None, "off");
    }

    #[test]
    fn a_detached_handle_records_nothing() {
        let live = Live::default();
        live.step(1, "x", "y");
        live.saw("z".into());
        assert_eq!(live.snapshot(), None);
        assert_eq!(live.slow(Duration::from_nanos(1), true), None);
    }
}
