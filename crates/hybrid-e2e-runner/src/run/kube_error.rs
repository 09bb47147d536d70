//! Errors as a user reads them: a kube error as the API server's message, reason and code (not
//! kube's Debug dump), any error with its causes on one line, and the tail of a long text.

/// A kube error as a user reads it: the API server's message and reason, not kube's Debug dump.
pub fn api_message(error: &kube::Error) -> String {
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
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
