//! `exec`: run a command in a container and check its exit code and output; with
//! `eventually`, retry until they match or the deadline passes.

use std::time::{Duration, Instant};

use super::{in_container, tries_note, StepError, StepFuture, StepKind};
use crate::catalog::ExecExpect;
use crate::run::mounts;
use crate::run::retry::{self, Retry, STEP_RETRY_EVERY};
use crate::run::scope::{ExecOutput, TestScope};

/// Bytes of stdout and of stderr a failure message quotes.
const OUTPUT_SHOWN: usize = 2000;

pub(super) struct Exec<'a> {
    pub(super) pod: &'a str,
    pub(super) container: Option<&'a str>,
    pub(super) command: &'a [String],
    pub(super) expect: &'a ExecExpect,
    /// Retry until the expectation holds or the step's deadline passes.
    pub(super) eventually: bool,
}

impl StepKind for Exec<'_> {
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn describe(&self) -> String {
        format!(
            "exec in pod \"{}\"{}: {}",
            self.pod,
            in_container(self.container),
            self.command.join(" ")
        )
    }

    fn run<'s>(&'s self, scope: &'s mut TestScope<'_>, deadline: Instant) -> StepFuture<'s> {
        Box::pin(self.exec(scope, deadline))
    }
}

/// A command's output that did not match, and how.
struct Mismatch {
    output: ExecOutput,
    problems: Vec<String>,
}

impl Exec<'_> {
    async fn exec(&self, scope: &TestScope<'_>, deadline: Instant) -> Result<(), StepError> {
        let mut command = Vec::with_capacity(self.command.len());
        for part in self.command {
            command.push(scope.expand(part).await?);
        }
        let want_stdout = match &self.expect.stdout {
            Some(s) => Some(scope.expand(s).await?),
            None => None,
        };
        let (command, want_stdout) = (&command, want_stdout.as_deref());
        let mut tries = 0;
        let outcome = retry::until(deadline, STEP_RETRY_EVERY, || {
            tries += 1;
            async move {
                let output = scope
                    .exec(self.pod, self.container, command)
                    .await
                    .map_err(|e| Retry::Stop(Err(StepError::from(e))))?;
                let problems = self.problems(&output, want_stdout);
                if problems.is_empty() {
                    return Ok(());
                }
                Err(Retry::again_if(
                    self.eventually,
                    Ok(Mismatch { output, problems }),
                ))
            }
        })
        .await;
        let Mismatch {
            output: (_, stdout, stderr),
            problems,
        } = match outcome {
            Ok(()) => return Ok(()),
            Err(failure) => failure?,
        };
        Err(StepError::Check(format!(
            "command {:?} in pod \"{}\" ({}): {}; stdout: {:?}; stderr: {:?}{}",
            command,
            self.pod,
            mounts::place(
                &scope.pods(),
                self.pod,
                &scope.os_label(self.pod),
                self.container,
                command
            )
            .await,
            problems.join(", "),
            truncate(&stdout, OUTPUT_SHOWN),
            truncate(&stderr, OUTPUT_SHOWN),
            tries_note(tries, |n| format!("{n} tries"))
        )))
    }

    /// What is wrong with the output; nothing when it is as expected.
    fn problems(&self, (code, stdout, _): &ExecOutput, want_stdout: Option<&str>) -> Vec<String> {
        let mut problems = Vec::new();
        if *code != self.expect.exit_code {
            problems.push(format!(
                "exit code {code}, expected {}",
                self.expect.exit_code
            ));
        }
        if let Some(want) = want_stdout {
            if !stdout.contains(want) {
                problems.push(format!("stdout does not contain {want:?}"));
            }
        }
        problems
    }
}

/// At most `max` bytes of `text` (cut at a character boundary), saying how many were left out.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é… [4 more bytes]");
        assert_eq!(truncate("short", 10), "short");
    }

    #[test]
    fn problems_name_the_exit_code_and_the_missing_output() {
        let expect = ExecExpect {
            exit_code: 0,
            stdout: Some("hello".into()),
        };
        let command = vec!["cat".to_string(), "/data/msg".to_string()];
        let step = Exec {
            pod: "reader",
            container: Some("main"),
            command: &command,
            expect: &expect,
            eventually: false,
        };
        assert_eq!(
            step.problems(&(1, "bye".into(), String::new()), Some("hello")),
            [
                "exit code 1, expected 0",
                "stdout does not contain \"hello\""
            ]
        );
        assert!(step
            .problems(&(0, "hello world".into(), String::new()), Some("hello"))
            .is_empty());
        assert_eq!(
            step.describe(),
            "exec in pod \"reader\" container \"main\": cat /data/msg"
        );
    }
}
