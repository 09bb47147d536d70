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

/// Whether the API server answered 409 AlreadyExists (after a retried create: maybe our own
/// first try, whose answer was lost).
pub(crate) fn is_already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409 && status.reason == "AlreadyExists")
}

/// An error and all its causes on one line: `a: b: c`. A kube API error in the chain reads as
/// [`api_message`] (kube's own Display of it appends the Status' Debug dump) and ends the chain.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut link = Some(error);
    while let Some(cause) = link {
        let status = match cause.downcast_ref::<kube::Error>() {
            Some(api @ kube::Error::Api(_)) => Some(api_message(api)),
            _ => None,
        };
        let cause_text = status.clone().unwrap_or_else(|| cause.to_string());
        if text.is_empty() {
            text = cause_text;
        } else if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        if status.is_some() {
            break;
        }
        link = cause.source();
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

    fn internal_error() -> kube::Error {
        let mut status = kube::core::Status::failure(
            "Internal error occurred: injected by fault api-errors",
            "InternalError",
        );
        status.code = 500;
        kube::Error::Api(status.boxed())
    }

    #[test]
    fn an_api_error_in_a_chain_reads_as_message_reason_and_code() {
        let expected = "Internal error occurred: injected by fault api-errors (InternalError, 500)";
        assert_eq!(error_chain(&internal_error()), expected);
        #[derive(Debug, thiserror::Error)]
        #[error("cannot list nodes")]
        struct ListNodes(#[source] kube::Error);
        let text = error_chain(&ListNodes(internal_error()));
        assert_eq!(text, format!("cannot list nodes: {expected}"));
        let wrapped = ApiError {
            what: "cannot read pod \"p\"".into(),
            source: internal_error(),
        };
        let text = error_chain(&wrapped);
        assert_eq!(text, format!("cannot read pod \"p\": {expected}"));
        for dump in ["Some(", "Status {", "ErrorResponse {"] {
            assert!(!text.contains(dump), "{text}");
        }
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
