//! Tag expressions for `--tags`: `&&`, `||`, `!`, parentheses and tag names, parsed by
//! recursive descent with ginkgo's precedence (`!` binds tighter than `&&`, `&&` than `||`).
//! Two steps, like nextest-filtering's parse-then-compile: [`TagExpr::parse`] reads the text
//! and knows no tags; [`TagExpr::check`] rejects tags the catalog does not know.

use std::collections::BTreeSet;
use std::fmt;

/// A parsed tag expression (`networking && !slow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagExpr {
    /// The text it was parsed from, for errors.
    input: String,
    root: Expr,
}

/// The expression tree; each tag keeps its 1-based column for [`TagExpr::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    Tag { name: String, column: usize },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// Why a tag expression was rejected, with the 1-based column it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagExprError {
    /// The expression as given.
    pub input: String,
    /// The 1-based column (in characters) of the problem.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for TagExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} at column {}", self.message, self.column)?;
        writeln!(f, "  {}", self.input)?;
        write!(f, "  {}^", " ".repeat(self.column.saturating_sub(1)))
    }
}

impl std::error::Error for TagExprError {}

const SYNTAX: &str = "tag names, &&, ||, ! and parentheses";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Tag(String),
    And,
    Or,
    Not,
    Open,
    Close,
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Tag(t) => format!("tag \"{t}\""),
            Token::And => "\"&&\"".into(),
            Token::Or => "\"||\"".into(),
            Token::Not => "\"!\"".into(),
            Token::Open => "\"(\"".into(),
            Token::Close => "\")\"".into(),
            Token::End => "the end".into(),
        }
    }
}

/// A token and its 1-based column (in characters).
type Spanned = (Token, usize);

fn is_tag_start(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_tag_char(c: char) -> bool {
    is_tag_start(c) || matches!(c, '.' | '_' | '-')
}

/// Whether `tag` is a valid tag name: `[a-z0-9][a-z0-9._-]*`.
pub(crate) fn is_valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if is_tag_start(c)) && chars.all(is_tag_char)
}

fn tokenize(input: &str) -> Result<Vec<Spanned>, TagExprError> {
    let chars: Vec<char> = input.chars().collect();
    let err = |column: usize, message: String| TagExprError {
        input: input.to_string(),
        column,
        message,
    };
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push((Token::Open, column));
                i += 1;
            }
            ')' => {
                tokens.push((Token::Close, column));
                i += 1;
            }
            '!' => {
                tokens.push((Token::Not, column));
                i += 1;
            }
            '&' | '|' => {
                if chars.get(i + 1) != Some(&c) {
                    return Err(err(column, format!("expected \"{c}{c}\", found \"{c}\"")));
                }
                tokens.push((if c == '&' { Token::And } else { Token::Or }, column));
                i += 2;
            }
            c if is_tag_start(c) => {
                let start = i;
                while i < chars.len() && is_tag_char(chars[i]) {
                    i += 1;
                }
                tokens.push((Token::Tag(chars[start..i].iter().collect()), column));
            }
            c if c.is_ascii_uppercase() => {
                return Err(err(
                    column,
                    format!("unexpected \"{c}\": tags are lowercase"),
                ));
            }
            c => {
                return Err(err(
                    column,
                    format!("unexpected \"{c}\": a tag expression has {SYNTAX}"),
                ))
            }
        }
    }
    tokens.push((Token::End, chars.len() + 1));
    Ok(tokens)
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Spanned>,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Spanned {
        // The token list always ends with End, and `at` never passes it.
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Spanned {
        let token = self.peek().clone();
        if token.0 != Token::End {
            self.at += 1;
        }
        token
    }

    fn error(&self, column: usize, message: String) -> TagExprError {
        TagExprError {
            input: self.input.to_string(),
            column,
            message,
        }
    }

    fn or(&mut self) -> Result<Expr, TagExprError> {
        let mut left = self.and()?;
        while self.peek().0 == Token::Or {
            self.bump();
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, TagExprError> {
        let mut left = self.not()?;
        while self.peek().0 == Token::And {
            self.bump();
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, TagExprError> {
        if self.peek().0 == Token::Not {
            self.bump();
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, TagExprError> {
        match self.bump() {
            (Token::Tag(name), column) => Ok(Expr::Tag { name, column }),
            (Token::Open, _) => {
                let inner = self.or()?;
                match self.bump() {
                    (Token::Close, _) => Ok(inner),
                    (found, column) => Err(self.error(
                        column,
                        format!("expected \")\", found {}", found.describe()),
                    )),
                }
            }
            (found, column) => Err(self.error(
                column,
                format!("expected a tag, \"!\" or \"(\", found {}", found.describe()),
            )),
        }
    }
}

impl TagExpr {
    /// Parses an expression. Syntax only: any well-formed tag name goes; see [`TagExpr::check`].
    pub fn parse(input: &str) -> Result<TagExpr, TagExprError> {
        let tokens = tokenize(input)?;
        if tokens.len() == 1 {
            return Err(TagExprError {
                input: input.to_string(),
                column: 1,
                message: format!("empty tag expression; it has {SYNTAX}"),
            });
        }
        let mut parser = Parser {
            input,
            tokens,
            at: 0,
        };
        let root = parser.or()?;
        let (rest, column) = parser.peek().clone();
        if rest != Token::End {
            let mut message = format!(
                "expected \"&&\", \"||\" or the end, found {}",
                rest.describe()
            );
            if let Token::Tag(word) = &rest {
                if matches!(word.as_str(), "and" | "or" | "not") {
                    message.push_str(" (write &&, || and ! instead of and, or, not)");
                }
            }
            return Err(parser.error(column, message));
        }
        Ok(TagExpr {
            input: input.to_string(),
            root,
        })
    }

    /// The expression, if every tag in it is one of `known` (any tag goes when `known` is
    /// empty); otherwise an error at the first unknown tag, listing the known ones.
    pub fn check(self, known: &BTreeSet<String>) -> Result<TagExpr, TagExprError> {
        if known.is_empty() {
            return Ok(self);
        }
        let mut tags = Vec::new();
        self.root.tags(&mut tags);
        if let Some((tag, column)) = tags.into_iter().find(|(tag, _)| !known.contains(*tag)) {
            let list: Vec<&str> = known.iter().map(String::as_str).collect();
            return Err(TagExprError {
                input: self.input.clone(),
                column,
                message: format!(
                    "unknown tag \"{tag}\"{}; known tags: {}",
                    super::suggest::hint(tag, list.iter().copied()),
                    list.join(", ")
                ),
            });
        }
        Ok(self)
    }

    /// Whether a test with these tags is selected.
    pub fn matches(&self, tags: &BTreeSet<String>) -> bool {
        self.root.matches(tags)
    }

    /// Whether the expression asks for `tag`: names it outside any `!` (or under an even
    /// number of them). `windows-pqdn` and `dns && windows-pqdn` name it; `!windows-pqdn`
    /// and `dns` do not. This is how a user opts in to cells behind an `opt-in` tag.
    pub fn names(&self, tag: &str) -> bool {
        self.root.names(tag, true)
    }
}

impl Expr {
    /// Its tags and their columns, in the order they are written.
    fn tags<'a>(&'a self, out: &mut Vec<(&'a str, usize)>) {
        match self {
            Expr::Tag { name, column } => out.push((name, *column)),
            Expr::Not(e) => e.tags(out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.tags(out);
                b.tags(out);
            }
        }
    }

    /// Whether `tag` occurs in a position where it counts as `positive` (flipped by each `!`).
    fn names(&self, tag: &str, positive: bool) -> bool {
        match self {
            Expr::Tag { name, .. } => positive && name == tag,
            Expr::Not(e) => e.names(tag, !positive),
            Expr::And(a, b) | Expr::Or(a, b) => a.names(tag, positive) || b.names(tag, positive),
        }
    }

    fn matches(&self, tags: &BTreeSet<String>) -> bool {
        match self {
            Expr::Tag { name, .. } => tags.contains(name),
            Expr::Not(e) => !e.matches(tags),
            Expr::And(a, b) => a.matches(tags) && b.matches(tags),
            Expr::Or(a, b) => a.matches(tags) || b.matches(tags),
        }
    }
}

impl fmt::Display for TagExpr {
    /// Fully parenthesised, so the precedence that was applied is visible.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Tag { name, .. } => f.write_str(name),
            Expr::Not(e) => write!(f, "!{e}"),
            Expr::And(a, b) => write!(f, "({a} && {b})"),
            Expr::Or(a, b) => write!(f, "({a} || {b})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<String> {
        [
            "linux",
            "windows",
            "hybrid",
            "networking",
            "storage",
            "slow",
            "conformance",
            "pod-network",
            "k8s.io_x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn parse(s: &str) -> TagExpr {
        TagExpr::parse(s)
            .and_then(|e| e.check(&known()))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> TagExprError {
        TagExpr::parse(s)
            .and_then(|e| e.check(&known()))
            .expect_err(s)
    }

    fn tags(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        assert_eq!(
            parse("linux || windows && storage").to_string(),
            "(linux || (windows && storage))"
        );
        assert_eq!(
            parse("!linux && storage").to_string(),
            "(!linux && storage)"
        );
        assert_eq!(
            parse("linux && windows || storage && !slow").to_string(),
            "((linux && windows) || (storage && !slow))"
        );
        assert_eq!(
            parse("(linux || windows) && storage").to_string(),
            "((linux || windows) && storage)"
        );
        assert_eq!(parse("!!linux").to_string(), "!!linux");
        assert_eq!(parse("linux||slow").to_string(), "(linux || slow)");
    }

    #[test]
    fn operators_are_left_associative() {
        assert_eq!(
            parse("linux && windows && slow").to_string(),
            "((linux && windows) && slow)"
        );
    }

    #[test]
    fn matching() {
        let e = parse("networking && !slow");
        assert!(e.matches(&tags(&["networking", "linux"])));
        assert!(!e.matches(&tags(&["networking", "slow"])));
        assert!(!e.matches(&tags(&["storage"])));
        let e = parse("windows && (networking || storage)");
        assert!(e.matches(&tags(&["windows", "storage"])));
        assert!(!e.matches(&tags(&["linux", "storage"])));
        assert!(parse("pod-network").matches(&tags(&["pod-network"])));
        assert!(parse("k8s.io_x").matches(&tags(&["k8s.io_x"])));
    }

    #[test]
    fn names_is_a_tag_asked_for_outside_negations() {
        assert!(parse("slow").names("slow"));
        assert!(parse("networking && slow").names("slow"));
        assert!(parse("linux || (storage && slow)").names("slow"));
        assert!(parse("!!slow").names("slow"));
        assert!(parse("!(linux && !slow)").names("slow"));
        assert!(!parse("!slow").names("slow"));
        assert!(!parse("networking && !slow").names("slow"));
        assert!(!parse("!(slow || linux)").names("slow"));
        assert!(!parse("networking").names("slow"));
        // A tag whose name contains the asked one is another tag.
        assert!(!parse("pod-network").names("network"));
    }

    #[test]
    fn missing_close_paren_points_at_the_end() {
        let e = err("windows && (networking");
        assert_eq!(e.message, "expected \")\", found the end");
        assert_eq!(e.column, 23);
        assert_eq!(
            e.to_string(),
            "expected \")\", found the end at column 23\n  windows && (networking\n                        ^"
        );
    }

    #[test]
    fn syntax_errors_are_reported_before_unknown_tags() {
        let e = err("windows && (net");
        assert_eq!(e.message, "expected \")\", found the end");
        assert_eq!(e.column, 16);
    }

    #[test]
    fn unknown_tag_lists_the_known_ones() {
        let e = err("windows && netwrking");
        assert_eq!(e.column, 12);
        assert_eq!(
            e.message,
            "unknown tag \"netwrking\" (did you mean \"networking\"?); known tags: conformance, hybrid, k8s.io_x, linux, networking, pod-network, slow, storage, windows"
        );
        // Without known tags, any tag goes.
        assert!(TagExpr::parse("anything")
            .and_then(|e| e.check(&BTreeSet::new()))
            .is_ok());
        // The first unknown tag as written is the one reported.
        assert_eq!(err("!(zzz || linux) && aaa").column, 3);
    }

    #[test]
    fn parsing_knows_no_tags_and_checking_keeps_the_expression() {
        let parsed = TagExpr::parse("nope && (linux || !other)").expect("well-formed");
        assert_eq!(parsed.to_string(), "(nope && (linux || !other))");
        let e = parsed.clone().check(&known()).expect_err("nope is unknown");
        assert_eq!(
            (e.column, e.input.as_str()),
            (1, "nope && (linux || !other)")
        );
        let known: BTreeSet<String> = ["nope", "linux", "other"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(parsed.clone().check(&known), Ok(parsed));
    }

    #[test]
    fn other_syntax_errors() {
        let cases = [
            ("", 1, "empty tag expression; it has tag names, &&, ||, ! and parentheses"),
            ("   ", 1, "empty tag expression; it has tag names, &&, ||, ! and parentheses"),
            ("linux &", 7, "expected \"&&\", found \"&\""),
            ("linux | slow", 7, "expected \"||\", found \"|\""),
            ("linux &&", 9, "expected a tag, \"!\" or \"(\", found the end"),
            ("&& linux", 1, "expected a tag, \"!\" or \"(\", found \"&&\""),
            ("linux)", 6, "expected \"&&\", \"||\" or the end, found \")\""),
            ("()", 2, "expected a tag, \"!\" or \"(\", found \")\""),
            ("linux slow", 7, "expected \"&&\", \"||\" or the end, found tag \"slow\""),
            (
                "linux and slow",
                7,
                "expected \"&&\", \"||\" or the end, found tag \"and\" (write &&, || and ! instead of and, or, not)",
            ),
            ("Linux", 1, "unexpected \"L\": tags are lowercase"),
            (
                "linux, slow",
                6,
                "unexpected \",\": a tag expression has tag names, &&, ||, ! and parentheses",
            ),
        ];
        for (input, column, message) in cases {
            let e = err(input);
            assert_eq!(
                (e.column, e.message.as_str()),
                (column, message),
                "{input:?}"
            );
        }
    }

    #[test]
    fn valid_tag_names() {
        assert!(is_valid_tag("pod-network"));
        assert!(is_valid_tag("1.33"));
        assert!(!is_valid_tag("-x"));
        assert!(!is_valid_tag("Windows"));
        assert!(!is_valid_tag(""));
    }

    /// A small exhaustive fuzz: every string of up to five characters from the language's
    /// alphabet parses or fails without panicking, errors point inside the input (or just past
    /// it), and what parses prints as an expression that parses back to itself.
    #[test]
    fn every_short_input_parses_or_fails_cleanly() {
        let alphabet = ['a', 'b', '(', ')', '!', '&', '|', ' ', 'Z', ','];
        let mut inputs = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = inputs
                .iter()
                .filter(|s| s.len() == inputs.last().map_or(0, String::len))
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            inputs.extend(longer);
        }
        for input in &inputs {
            match TagExpr::parse(input) {
                Ok(expr) => {
                    let printed = expr.to_string();
                    let again = TagExpr::parse(&printed).expect("printed form parses");
                    assert_eq!(again.to_string(), printed, "{input:?}");
                }
                Err(e) => assert!(
                    (1..=input.chars().count() + 1).contains(&e.column),
                    "{input:?}: column {}",
                    e.column
                ),
            }
        }
    }
}
