//! The one retry loop of the runner: try, and try again after a pause while the attempt asks
//! for it and the next try would still start before the deadline. Built on `backon`, the retry
//! crate kube-runtime uses.

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{ConstantBuilder, Retryable as _};

/// Pause between tries of steps that retry until their deadline (`eventually`, events).
pub(crate) const STEP_RETRY_EVERY: Duration = Duration::from_millis(250);

/// Pause between network probes (routes and endpoints take a moment to converge).
pub(crate) const PROBE_RETRY_EVERY: Duration = Duration::from_secs(1);

/// How an attempt that did not succeed wants to go on.
#[derive(Debug)]
pub(crate) enum Retry<E> {
    /// Try again if there is time; `E` is the answer if there is not.
    Again(E),
    /// Stop now with `E` (a permanent failure).
    Stop(E),
}

impl<E> Retry<E> {
    /// [`Retry::Again`] when `again` (a step that retries `eventually`), else [`Retry::Stop`].
    pub(crate) fn again_if(again: bool, error: E) -> Retry<E> {
        if again {
            Retry::Again(error)
        } else {
            Retry::Stop(error)
        }
    }

    fn into_inner(self) -> E {
        match self {
            Retry::Again(e) | Retry::Stop(e) => e,
        }
    }
}

/// Runs `attempt` until it succeeds, says [`Retry::Stop`], or the next try would start at or
/// after `deadline`; pauses `every` between tries. The error is the last attempt's.
pub(crate) async fn until<T, E, F, Fut>(
    deadline: Instant,
    every: Duration,
    attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Retry<E>>>,
{
    attempt
        .retry(ConstantBuilder::new().with_delay(every).without_max_times())
        .when(|e| matches!(e, Retry::Again(_)))
        .adjust(move |_, delay| delay.filter(|d| Instant::now() + *d < deadline))
        .await
        .map_err(Retry::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn retries_until_it_passes() {
        let tries = AtomicUsize::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let result: Result<usize, &str> = until(deadline, Duration::from_millis(1), || async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                n if n < 3 => Err(Retry::Again("not yet")),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test]
    async fn stop_ends_at_once() {
        let tries = AtomicUsize::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let result: Result<(), &str> = until(deadline, Duration::from_millis(1), || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(Retry::Stop("permanent"))
        })
        .await;
        assert_eq!(result, Err("permanent"));
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn gives_up_with_the_last_error_before_the_deadline() {
        let tries = AtomicUsize::new(0);
        let started = Instant::now();
        let deadline = started + Duration::from_millis(120);
        let result: Result<(), usize> = until(deadline, Duration::from_millis(50), || async {
            Err(Retry::Again(tries.fetch_add(1, Ordering::SeqCst)))
        })
        .await;
        let last = result.expect_err("never passes");
        assert_eq!(
            last + 1,
            tries.load(Ordering::SeqCst),
            "the last attempt's error"
        );
        assert!(
            started.elapsed() < Duration::from_millis(120),
            "no try after the deadline"
        );
        assert!(last >= 1, "it did retry");
    }
}
