//! busybox `seq [-s SEP] [FIRST [INC]] LAST` for whole numbers: the numbers from FIRST to LAST
//! in steps of INC (both 1 by default), joined by SEP (a newline by default), then a newline
//! when anything was printed. A malformed argument prints the usage on stderr and exits 1, as
//! busybox does; fractions, `-w` and sequences of more than [`MAX_NUMBERS`] are outside the
//! model (exit 127).

use super::shell::{not_modeled, NOT_MODELED_CODE};

/// The longest sequence modeled (a test that needs more is not testing exec).
const MAX_NUMBERS: u64 = 10_000_000;

const USAGE: &str = "Usage: seq [-w] [-s SEP] [FIRST [INC]] LAST\n\n\
Print numbers from FIRST to LAST, in steps of INC.\n\
FIRST, INC default to 1.\n\n\
\t-w\tPad to last with leading zeros\n\
\t-s SEP\tString separator\n";

/// Runs `seq` with `args` (the words after its name); returns its exit code.
pub(crate) fn seq(args: &[String], out: &mut String, err: &mut String) -> i32 {
    let mut separator = "\n";
    let mut rest = args;
    while let Some(first) = rest.first() {
        match first.as_str() {
            "-s" => match rest.get(1) {
                Some(sep) => {
                    separator = sep;
                    rest = &rest[2..];
                }
                None => return usage(err),
            },
            "--" => {
                rest = &rest[1..];
                break;
            }
            a if a.starts_with('-') && a.parse::<i64>().is_err() => {
                err.push_str(&not_modeled(&format!("seq {}", args.join(" "))));
                return NOT_MODELED_CODE;
            }
            _ => break,
        }
    }
    let numbers: Vec<&str> = rest.iter().map(String::as_str).collect();
    let parsed: Result<Vec<i64>, _> = numbers.iter().map(|n| n.parse::<i64>()).collect();
    let Ok(parsed) = parsed else {
        if numbers.iter().all(|n| n.parse::<f64>().is_ok()) {
            err.push_str(&not_modeled(&format!("seq {}", args.join(" "))));
            return NOT_MODELED_CODE;
        }
        return usage(err);
    };
    let (first, step, last) = match parsed.as_slice() {
        [last] => (1, 1, *last),
        [first, last] => (*first, 1, *last),
        [first, step, last] => (*first, *step, *last),
        _ => return usage(err),
    };
    let count = match step {
        0 => 0,
        s if s > 0 && first <= last => (last.abs_diff(first) / s.unsigned_abs()) + 1,
        s if s < 0 && first >= last => (first.abs_diff(last) / s.unsigned_abs()) + 1,
        _ => 0,
    };
    if count > MAX_NUMBERS {
        err.push_str(&not_modeled(&format!("seq {}", args.join(" "))));
        return NOT_MODELED_CODE;
    }
    let mut value = first;
    for i in 0..count {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(&value.to_string());
        value = value.saturating_add(step);
    }
    if count > 0 {
        out.push('\n');
    }
    0
}

fn usage(err: &mut String) -> i32 {
    err.push_str(USAGE);
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> (i32, String, String) {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (mut out, mut err) = (String::new(), String::new());
        let code = seq(&args, &mut out, &mut err);
        (code, out, err)
    }

    #[test]
    fn counts_like_busybox() {
        assert_eq!(run(&["3"]), (0, "1\n2\n3\n".into(), String::new()));
        assert_eq!(run(&["2", "4"]).1, "2\n3\n4\n");
        assert_eq!(run(&["10", "-3", "1"]).1, "10\n7\n4\n1\n");
        assert_eq!(run(&["-s", ",", "1", "3"]).1, "1,2,3\n");
        assert_eq!(run(&["5", "1"]), (0, String::new(), String::new()));
        assert_eq!(run(&["1", "0", "3"]).1, "");
    }

    #[test]
    fn bad_arguments_print_the_usage_and_fractions_are_not_modeled() {
        let (code, _, err) = run(&["x"]);
        assert_eq!(code, 1);
        assert!(err.starts_with("Usage: seq"), "{err}");
        assert_eq!(run(&[]).0, 1);
        assert_eq!(run(&["1.5"]).0, NOT_MODELED_CODE);
        assert_eq!(run(&["-w", "3"]).0, NOT_MODELED_CODE);
        assert_eq!(run(&["100000000"]).0, NOT_MODELED_CODE);
    }
}
