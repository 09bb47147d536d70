//! Errors as a user reads them: a kube error as the API server's message, reason and code (not
//! kube's Debug dump), a failed call with what it was for ([`ApiError`]), any error with its
//! causes on one line, and the tail of a long text.

/// A kube error as a user reads it: the API server's message and reason, not kube's Debug dump.
pub(crate) fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!(
            "{} ({}, {})",
            status.message.trim(),
            if status.reason.is_empty() {
                "no reason"
            } else {
                status.reason.as_str()
            },
            status.code
        ),
        other => error_chain(other),
    }
}

/// An error and all its causes on one line: `a: b: c`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The last `lines` lines of a text.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A failed API call and what it was for: `cannot read logs of pod "p": message (Reason, 404)`.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", api_message(.source))]
pub struct ApiError {
    /// What the call was for (`cannot exec ["ls"] in pod "p" (linux)`).
    pub what: String,
    /// The kube error the call failed with.
    #[source]
    pub source: kube::Error,
}

impl ApiError {
    /// Wraps a kube error with what the call was for (for `map_err`).
    pub(crate) fn wrap(what: impl Into<String>) -> impl FnOnce(kube::Error) -> ApiError {
        let what = what.into();
        move |source| ApiError { what, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn chains_skip_causes_the_message_already_ends_with() {
        let io = std::io::Error::other("refused");
        let error = ApiError {
            what: "cannot list events".into(),
            source: kube::Error::Service(Box::new(io)),
        };
        let text = error_chain(&error);
        assert!(text.starts_with("cannot list events: "), "{text}");
        assert_eq!(text.matches("refused").count(), 1, "{text}");
    }
}
