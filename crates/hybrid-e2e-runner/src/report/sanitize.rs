//! Making untrusted text (pod logs, error messages) safe and bounded for reports.
//!
//! Every string a report writes goes through [`clean`]: ANSI escape sequences are stripped and
//! characters XML 1.0 forbids (controls other than tab, newline and carriage return, and the
//! non-characters U+FFFE/U+FFFF) are dropped, so the result can be escaped into any XML text or
//! attribute. Sizes are bounded with [`truncate_middle`] (failure bodies: head and tail, with a
//! pointer to the full output) and [`truncate_end`] (messages).

use std::path::Path;

/// Upper bound of a failure body in JUnit, in bytes (plus the truncation marker).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Budget for all failure bodies of one JUnit file together (TestGrid asks for about 1 MB per
/// file); with many failures each body gets its share, but never less than [`MIN_BODY_BYTES`].
pub const TOTAL_BODY_BYTES: usize = 1024 * 1024;
/// Smallest bound of a failure body when many failures share [`TOTAL_BODY_BYTES`].
pub const MIN_BODY_BYTES: usize = 4 * 1024;
/// Upper bound of a message (failure message, skip reason, property value), in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;
/// Name of the file, inside a failed test's artifacts folder, with its full details.
pub const DETAILS_FILE: &str = "details.txt";

const ESC: char = '\u{1b}';
const BEL: char = '\u{07}';
const CSI_8BIT: char = '\u{9b}';
const OSC_8BIT: char = '\u{9d}';
const ST_8BIT: char = '\u{9c}';

/// Strips ANSI escape sequences and drops characters XML 1.0 does not allow (or discourages:
/// DEL and the C1 controls). Tab, newline, carriage return and all other Unicode are kept.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => match chars.peek().copied() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars);
                }
                // Character-set selection and similar: ESC, intermediates (0x20-0x2F), final.
                Some(' '..='/') => {
                    while matches!(chars.peek(), Some(' '..='/')) {
                        chars.next();
                    }
                    chars.next();
                }
                // Two-character sequences (ESC 7, ESC =, ESC c...).
                Some('0'..='~') => {
                    chars.next();
                }
                _ => {}
            },
            CSI_8BIT => skip_csi(&mut chars),
            OSC_8BIT => skip_string(&mut chars),
            c if allowed(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// Skips the rest of a control sequence: parameters and intermediates up to a final byte.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(&c) = chars.peek() {
        match c {
            '\u{20}'..='\u{3f}' => {
                chars.next();
            }
            '\u{40}'..='\u{7e}' => {
                chars.next();
                return;
            }
            // Malformed: stop here and let the caller handle the character.
            _ => return,
        }
    }
}

/// Skips an OSC/DCS-style string up to its terminator (BEL, ESC \ or ST), or a newline when the
/// string is never terminated, so a stray escape cannot swallow the rest of a log.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(&c) = chars.peek() {
        match c {
            BEL | ST_8BIT => {
                chars.next();
                return;
            }
            ESC => {
                chars.next();
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            '\n' => return,
            _ => {
                chars.next();
            }
        }
    }
}

/// Whether XML 1.0 allows `c` (and it is not a discouraged control).
fn allowed(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{7e}'
        | '\u{a0}'..='\u{d7ff}'
        | '\u{e000}'..='\u{fffd}'
        | '\u{10000}'..='\u{10ffff}')
}

/// The largest char boundary of `s` at or below `i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary of `s` at or above `i`.
fn ceil_boundary(s: &str, i: usize) -> usize {
    let mut i = i;
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i.min(s.len())
}

/// Keeps at most `max` bytes of `s` (on a char boundary), ending with a note of how much was
/// cut. For one-paragraph messages.
pub fn truncate_end(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let end = floor_boundary(s, max);
    format!("{}… [{} bytes truncated]", &s[..end], s.len() - end)
}

/// Keeps the head and the tail of `s` within about `max` bytes, cutting at line ends where
/// possible and at char boundaries always, with a marker line saying how much was cut and,
/// when `full_output` is given, where the whole text is.
pub fn truncate_middle(s: &str, max: usize, full_output: Option<&Path>) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let half = max / 2;
    // Head: up to `half` bytes, ending after a newline if one is in its last quarter.
    let mut head_end = floor_boundary(s, half);
    if let Some(nl) = s[..head_end].rfind('\n') {
        if nl + 1 >= head_end - head_end / 4 {
            head_end = nl + 1;
        }
    }
    // Tail: the last `half` bytes, starting after a newline if one is in its first quarter.
    let mut tail_start = ceil_boundary(s, s.len() - half).max(head_end);
    let window_end = ceil_boundary(s, tail_start + half / 4).min(s.len());
    if let Some(nl) = s[tail_start..window_end].find('\n') {
        tail_start += nl + 1;
    }
    let cut = tail_start - head_end;
    let head = &s[..head_end];
    let tail = &s[tail_start..];
    let marker = match full_output {
        Some(path) => format!(
            "... [{cut} bytes truncated; full output in {}] ...",
            path.display()
        ),
        None => format!("... [{cut} bytes truncated] ..."),
    };
    let sep_before = if head.ends_with('\n') || head.is_empty() {
        ""
    } else {
        "\n"
    };
    format!("{head}{sep_before}{marker}\n{tail}")
}

/// A message for a report: cleaned and bounded to [`MAX_MESSAGE_BYTES`].
pub fn message(s: &str) -> String {
    truncate_end(&clean(s), MAX_MESSAGE_BYTES)
}

/// A failure body for a report: cleaned and bounded to [`MAX_BODY_BYTES`], pointing at
/// `<artifacts>/details.txt` when cut and the test has an artifacts folder.
pub fn body(s: &str, artifacts: Option<&Path>) -> String {
    body_within(s, MAX_BODY_BYTES, artifacts)
}

/// Like [`body`], bounded to `max` bytes.
pub fn body_within(s: &str, max: usize, artifacts: Option<&Path>) -> String {
    let full = artifacts.map(|dir| dir.join(DETAILS_FILE));
    truncate_middle(&clean(s), max, full.as_deref())
}

/// The bound of each failure body when `failures` failures share one file.
pub fn body_share(failures: usize) -> usize {
    (TOTAL_BODY_BYTES / failures.max(1)).clamp(MIN_BODY_BYTES, MAX_BODY_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi_colours_and_cursor_moves() {
        assert_eq!(clean("\x1b[31mred\x1b[0m plain"), "red plain");
        assert_eq!(clean("\x1b[1;32;40mbold\x1b[m"), "bold");
        assert_eq!(clean("a\x1b[2Kb\x1b[10;5Hc\x1b[?25ld"), "abcd");
        assert_eq!(clean("\u{9b}31mx"), "x");
    }

    #[test]
    fn strips_osc_titles_and_hyperlinks() {
        assert_eq!(clean("\x1b]0;title\x07after"), "after");
        assert_eq!(clean("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"), "link");
        // An unterminated OSC stops at the end of its line.
        assert_eq!(clean("\x1b]0;oops\nnext"), "\nnext");
    }

    #[test]
    fn strips_other_escapes_and_lone_esc() {
        assert_eq!(clean("\x1b(Bx\x1b7y\x1b=z"), "xyz");
        assert_eq!(clean("end\x1b"), "end");
    }

    #[test]
    fn drops_xml_forbidden_controls_keeps_whitespace() {
        assert_eq!(clean("a\x00b\x07c\x08d\x0be\x0cf\x7fg"), "abcdefg");
        assert_eq!(clean("t\tn\nr\r"), "t\tn\nr\r");
        assert_eq!(clean("x\u{fffe}y\u{ffff}z\u{85}"), "xyz");
    }

    #[test]
    fn keeps_unicode_and_markup_characters() {
        let s = "emoji 🚀 ü 日本 ]]> <script>&amp; \u{10ffff}";
        assert_eq!(clean(s), s);
    }

    #[test]
    fn truncate_end_respects_char_boundaries() {
        let s = "ééééé"; // 10 bytes
        let t = truncate_end(s, 5);
        assert!(t.starts_with("éé…"), "{t}");
        assert!(t.contains("[6 bytes truncated]"), "{t}");
        assert_eq!(truncate_end("short", 10), "short");
    }

    #[test]
    fn truncate_middle_keeps_head_and_tail_and_points_at_artifacts() {
        let mut s = String::from("FIRST LINE\n");
        for i in 0..100_000 {
            s.push_str(&format!("line {i}\n"));
        }
        s.push_str("LAST LINE\n");
        let t = truncate_middle(&s, 64 * 1024, Some(Path::new("/a/details.txt")));
        assert!(t.len() <= 64 * 1024 + 200, "{}", t.len());
        assert!(t.starts_with("FIRST LINE\n"));
        assert!(t.ends_with("LAST LINE\n"));
        assert!(t.contains("bytes truncated; full output in /a/details.txt] ..."));
        // Cuts at line ends: the marker sits on its own line.
        let marker = t
            .lines()
            .find(|l| l.starts_with("... ["))
            .expect("marker line");
        assert!(marker.ends_with("] ..."), "{marker}");
        let cut: usize = marker["... [".len()..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("number");
        assert_eq!(t.len() - marker.len() - 1, s.len() - cut);
    }

    #[test]
    fn truncate_middle_on_multibyte_text_without_newlines() {
        let s = "日🚀".repeat(50_000); // 7 bytes per repetition
        for max in [10, 11, 12, 13, 1000, 64 * 1024] {
            let t = truncate_middle(&s, max, None);
            assert!(t.contains("bytes truncated] ..."));
            assert!(t.len() <= max + 60, "{max}: {}", t.len());
        }
        assert_eq!(truncate_middle("small", 10, None), "small");
    }

    #[test]
    fn body_cleans_then_bounds() {
        let huge = "\x1b[31mERR\x1b[0m \x00 line\n".repeat(20_000);
        let b = body(&huge, Some(Path::new("arts")));
        assert!(!b.contains('\x1b') && !b.contains('\0'));
        assert!(b.len() <= MAX_BODY_BYTES + 200);
        assert!(b.contains(&format!(
            "full output in {}",
            Path::new("arts").join(DETAILS_FILE).display()
        )));
        assert_eq!(body_share(0), MAX_BODY_BYTES);
        assert_eq!(body_share(16), MAX_BODY_BYTES);
        assert_eq!(body_share(32), 32 * 1024);
        assert_eq!(body_share(10_000), MIN_BODY_BYTES);
        let m = message(&"x".repeat(10_000));
        assert!(m.len() <= MAX_MESSAGE_BYTES + 40);
    }
}
