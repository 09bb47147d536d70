//! Progress while a run runs: every `--progress-interval` and on SIGUSR1 a
//! [`RunEvent::Progress`], and for each test running past `--slow-after` (at that time, twice
//! it, ..., and on SIGUSR1) a [`RunEvent::Slow`] naming its current step and what its wait last
//! saw (`run::live`); the events' shapes and lines are `report::progress`. Also relays the steps
//! the tests start as [`RunEvent::StepStarted`]. The [`Watch`] lives inside the run loop
//! (`schedule`), so it stops when the tests end.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::live::{Live, Snapshot, StepStarted};
use crate::report::events::{Reporter, RunEvent};
pub use crate::report::progress::{Progress, Slow};
use crate::report::TestResult;

/// How often the run looks for tests that became slow.
const SLOW_CHECK_EVERY: Duration = Duration::from_millis(250);

/// A period given as a flag (`--progress-interval`, `--slow-after`): a duration, or none for
/// `0` / `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every(pub Option<Duration>);

/// Why a period flag's value was refused.
#[derive(Debug, thiserror::Error)]
#[error("expected a duration such as 30s, 1m30s or 500ms, or 0 or off to turn it off")]
pub struct EveryError;

/// Reads a period flag: `30s`, `1m30s`, `500ms`, `1h`; `0` or `off` for none.
pub fn parse_every(text: &str) -> Result<Every, EveryError> {
    let text = text.trim();
    if text == "0" || text.eq_ignore_ascii_case("off") {
        return Ok(Every(None));
    }
    crate::catalog::duration::parse_duration(text)
        .map(|d| Every(Some(d)))
        .ok_or(EveryError)
}

/// Listens for SIGUSR1 from creation on (its default action, ending the process, no longer
/// applies; also after the run, as tokio keeps the handler).
#[derive(Debug, Default)]
pub struct ProgressSignal(Option<Signal>);

impl ProgressSignal {
    /// Installs the handler; without it (cannot be installed) SIGUSR1 keeps its default action.
    /// Needs a tokio runtime context.
    pub fn install() -> ProgressSignal {
        ProgressSignal(signal(SignalKind::user_defined1()).ok())
    }

    async fn next(&mut self) {
        let received = match &mut self.0 {
            Some(s) => s.recv().await.is_some(),
            None => false,
        };
        if !received {
            std::future::pending::<()>().await;
        }
    }
}

/// What woke the watch.
#[derive(Debug)]
pub(crate) enum Wake {
    /// `--progress-interval` passed.
    Interval,
    /// SIGUSR1 came.
    Asked,
    /// Time to look for slow tests.
    SlowCheck,
    /// A test started a step.
    Step(StepStarted),
}

/// The run loop's view of progress: counts, running tests, timers and the signal.
pub(crate) struct Watch {
    progress: Progress,
    started: Instant,
    every: Option<Interval>,
    slow_check: Option<Interval>,
    slow_after: Option<Duration>,
    signal: ProgressSignal,
    live: BTreeMap<usize, Live>,
    steps_tx: UnboundedSender<StepStarted>,
    steps: UnboundedReceiver<StepStarted>,
}

fn interval(period: Duration) -> Interval {
    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

impl Watch {
    /// A watch over `total` tests starting now, with the periods of `--progress-interval` and
    /// `--slow-after` (none: off) and the SIGUSR1 listener installed at run start.
    pub(crate) fn new(
        total: usize,
        every: Option<Duration>,
        slow_after: Option<Duration>,
        signal: ProgressSignal,
    ) -> Watch {
        let (steps_tx, steps) = mpsc::unbounded_channel();
        Watch {
            progress: Progress {
                total,
                ..Progress::default()
            },
            started: Instant::now(),
            every: every.map(interval),
            slow_check: slow_after.map(|_| interval(SLOW_CHECK_EVERY)),
            slow_after,
            signal,
            live: BTreeMap::new(),
            steps_tx,
            steps,
        }
    }

    /// A watch with no timers and no signal (unit tests).
    #[cfg(test)]
    pub(crate) fn off(total: usize) -> Watch {
        Watch::new(total, None, None, ProgressSignal::default())
    }

    /// Test `index` starts: the handle its task updates.
    pub(crate) fn started(&mut self, index: usize, name: &str) -> Live {
        let live = Live::new(name, self.steps_tx.clone());
        self.live.insert(index, live.clone());
        live
    }

    /// Test `index` ended (or was skipped) with `result`: the steps it started are told first.
    pub(crate) fn finished(&mut self, index: usize, result: &TestResult, reporter: &dyn Reporter) {
        while let Ok(step) = self.steps.try_recv() {
            report_step(&step, reporter);
        }
        self.live.remove(&index);
        self.progress.ended.add(result);
    }

    /// Waits for the next thing to tell.
    pub(crate) async fn next(&mut self) -> Wake {
        async fn tick(interval: &mut Option<Interval>) {
            match interval {
                Some(i) => {
                    i.tick().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            Some(step) = self.steps.recv() => Wake::Step(step),
            () = tick(&mut self.every) => Wake::Interval,
            () = self.signal.next() => Wake::Asked,
            () = tick(&mut self.slow_check) => Wake::SlowCheck,
        }
    }

    /// Tells `reporter` what `wake` calls for; `running` tests are running now.
    pub(crate) fn tell(&mut self, wake: Wake, running: usize, reporter: &dyn Reporter) {
        match wake {
            Wake::Step(step) => report_step(&step, reporter),
            Wake::Interval => self.report_progress(running, reporter),
            Wake::Asked => {
                self.report_progress(running, reporter);
                self.report_slow(true, reporter);
            }
            Wake::SlowCheck => self.report_slow(false, reporter),
        }
    }

    fn report_progress(&mut self, running: usize, reporter: &dyn Reporter) {
        let progress = Progress {
            running,
            elapsed: self.started.elapsed(),
            ..self.progress
        };
        reporter.report(RunEvent::Progress(&progress));
    }

    /// Reports the tests past `--slow-after` that are due (all of them when `asked`).
    fn report_slow(&mut self, asked: bool, reporter: &dyn Reporter) {
        let Some(after) = self.slow_after else {
            return;
        };
        for live in self.live.values() {
            if let Some(snapshot) = live.slow(after, asked) {
                reporter.report(RunEvent::Slow(&slow(snapshot)));
            }
        }
    }
}

/// The event of a test that runs long, from its state.
fn slow(s: Snapshot) -> Slow {
    Slow {
        name: s.name,
        running_for: s.running_for,
        step: s.step.map(|st| (st.step, st.location, st.what)),
        step_for: s.step_for,
        seen: s.seen,
    }
}

fn report_step(step: &StepStarted, reporter: &dyn Reporter) {
    reporter.report(RunEvent::StepStarted {
        name: &step.name,
        step: step.step,
        location: &step.location,
        what: &step.what,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_durations_or_off() {
        assert_eq!(
            parse_every("30s").ok(),
            Some(Every(Some(Duration::from_secs(30))))
        );
        assert_eq!(
            parse_every("1m30s").ok(),
            Some(Every(Some(Duration::from_secs(90))))
        );
        assert_eq!(parse_every("0").ok(), Some(Every(None)));
        assert_eq!(parse_every("off").ok(), Some(Every(None)));
        for bad in ["", "30", "-1s", "soon", "0s", "1.5s"] {
            assert!(parse_every(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn steps_started_are_told_before_the_test_ends() {
        let seen = std::sync::Mutex::new(Vec::new());
        let reporter = |event: RunEvent<'_>| {
            if let RunEvent::StepStarted { name, step, .. } = event {
                seen.lock()
                    .expect("not poisoned")
                    .push(format!("{name} {step}"));
            }
        };
        let mut watch = Watch::off(1);
        let live = watch.started(0, "s/a");
        live.step(1, "s.yaml:1", "create pod");
        live.step(2, "s.yaml:2", "wait");
        let case = crate::cluster::tests::case(&[]);
        let result = crate::run::test::result(&case, crate::report::Outcome::Passed);
        watch.finished(0, &result, &reporter);
        assert_eq!(*seen.lock().expect("not poisoned"), ["s/a 1", "s/a 2"]);
        assert_eq!(watch.progress.ended.total(), 1);
        assert_eq!(watch.progress.ended.passed, 1);
    }
}
