//! The shell subset simulated containers understand, for `sh -c`, `cmd /c` and
//! `powershell -Command` scripts, `exec` and netexec's `/shell`.
//!
//! Syntax: commands joined by `&&`, `||`, `;` (sh, PowerShell) or `&` (all), one loop form
//! `while true; do ...; done` (sh), redirections `>`, `>>`, `2>`, `2>&1`, `>&2`, `>nul`, `>/dev/null`,
//! `$VAR`/`${VAR}` (sh), `%VAR%` (cmd), `$env:VAR` (PowerShell), quotes.
//! Commands: `echo` (`-n`; cmd prints the raw text), `cat`/`type`/`Get-Content`, `ls`/`dir`,
//! `mkdir`/`md` (`-p`), `touch`, `rm`/`del`, `test`/`[` (`-f -d -e -z -n = !=`), `sleep N`,
//! `stat -c %a` (sh: permission bits), `sleep infinity`, `tail -f /dev/null`, `timeout /t N`, `ping -n N 127.0.0.1`,
//! `Start-Sleep`, `exit N` (`exit /b N`), `true`, `false`, `hostname`, `nslookup NAME`,
//! `Write-Output`/`Write-Host`, `Set-Content -Path P -Value V`, `seq` (sh, see [`super::seq`]),
//! `curl`/`curl.exe` (`curl.rs`:
//! HTTP `GET` from this pod over the simulated network).
//! Anything else (pipes, `$(...)`, other programs) exits 127 with
//! `not modeled by the simulated cluster: <command>` on stderr: nothing succeeds by default.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::fs::{ContainerFs, FsError};
use super::SharedLog;

/// Exit code and stderr text of everything outside the model.
pub(crate) const NOT_MODELED_CODE: i32 = 127;

pub(crate) fn not_modeled(what: &str) -> String {
    format!("not modeled by the simulated cluster: {what}\n")
}

/// Which shell a script is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sh,
    Cmd,
    PowerShell,
}

/// Cluster DNS as a container sees it (implemented by `sim::network`).
pub(crate) trait Dns: Send + Sync {
    /// `(fully qualified name, IP)` or `None` when the name does not resolve.
    fn lookup(&self, name: &str) -> Option<(String, String)>;
    /// Whether the DNS server answers at all (`false`: queries time out, no NXDOMAIN).
    fn answering(&self) -> bool {
        true
    }
    /// How many names the resolver queries for `name` (its search list applied), which is
    /// how many timeouts BIND's nslookup reports when the server does not answer.
    fn queries(&self, _name: &str) -> usize {
        1
    }
}

/// An HTTP answer a container received: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpReply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// Why a TCP connection from a container got no HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NetFailure {
    /// Nothing listens there (or a Service without endpoints): the SYN is answered by RST.
    Refused,
    /// Nothing answers at all (dropped packets, an address nobody has).
    Timeout,
}

/// The answer of [`Net::http_get`], boxed (the call may go through several simulated pods).
pub(crate) type NetFuture<'a> =
    Pin<Box<dyn Future<Output = Result<HttpReply, NetFailure>> + Send + 'a>>;

/// The pod network as one container sees it (implemented by `sim::runtime`, per pod): TCP
/// from this pod, routed like any other packet of it (loopback, pod IPs, ClusterIPs, node ports).
pub(crate) trait Net: Send + Sync {
    /// `GET path_and_query` over HTTP/1.1 to `ip:port` (an IP literal, without brackets).
    fn http_get<'a>(&'a self, ip: &'a str, port: u16, path_and_query: &'a str) -> NetFuture<'a>;
}

/// Everything a script can touch.
#[derive(Clone)]
pub(crate) struct Sandbox {
    pub(crate) fs: ContainerFs,
    pub(crate) hostname: String,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) dns: Arc<dyn Dns>,
    /// Where its TCP connections go.
    pub(crate) net: Arc<dyn Net>,
}

/// Where a script's output goes: collected, and copied into the container log when `log` is set.
#[derive(Default)]
pub(crate) struct Sink {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) log: Option<SharedLog>,
}

impl Sink {
    pub(crate) fn with_log(log: SharedLog) -> Self {
        Self {
            log: Some(log),
            ..Self::default()
        }
    }
    fn out(&mut self, s: &str) {
        self.stdout.push_str(s);
        if let Some(log) = &self.log {
            super::push_log(log, s);
        }
    }
    fn err(&mut self, s: &str) {
        self.stderr.push_str(s);
        if let Some(log) = &self.log {
            super::push_log(log, s);
        }
    }
}

/// A script's result when it ended (or its `exit N`).
enum Flow {
    Next(i32),
    Exit(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Seq,
    And,
    Or,
}

/// Runs a script; returns its exit code.
pub(crate) async fn run_script(
    script: &str,
    dialect: Dialect,
    sb: &Sandbox,
    sink: &mut Sink,
) -> i32 {
    match run_block(script, dialect, sb, sink).await {
        Flow::Next(c) | Flow::Exit(c) => c,
    }
}

/// Runs one program given as argv (an `exec` or a container command without a shell).
pub(crate) async fn run_argv(
    argv: &[String],
    dialect: Dialect,
    sb: &Sandbox,
    sink: &mut Sink,
) -> i32 {
    let mut out = String::new();
    let mut err = String::new();
    let words: Vec<String> = argv.to_vec();
    let raw = argv.join(" ");
    let flow = command(&words, &raw, dialect, sb, &mut out, &mut err, 0).await;
    sink.out(&out);
    sink.err(&err);
    match flow {
        Flow::Next(c) | Flow::Exit(c) => c,
    }
}

fn run_block<'a>(
    script: &'a str,
    dialect: Dialect,
    sb: &'a Sandbox,
    sink: &'a mut Sink,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Flow> + Send + 'a>> {
    Box::pin(async move {
        let trimmed = script.trim();
        if dialect == Dialect::Sh {
            if let Some(body) = while_true_body(trimmed) {
                loop {
                    if let Flow::Exit(c) = run_block(body, dialect, sb, sink).await {
                        return Flow::Exit(c);
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
        let parts = match split_commands(trimmed, dialect) {
            Ok(p) => p,
            Err(()) => {
                sink.err(&not_modeled(trimmed));
                return Flow::Next(NOT_MODELED_CODE);
            }
        };
        let mut last = 0;
        for (sep, text) in parts {
            let run = match sep {
                Sep::Seq => true,
                Sep::And => last == 0,
                Sep::Or => last != 0,
            };
            if !run {
                continue;
            }
            match simple(&text, dialect, sb, sink, last).await {
                Flow::Next(c) => last = c,
                Flow::Exit(c) => return Flow::Exit(c),
            }
        }
        Flow::Next(last)
    })
}

/// `while true; do BODY; done` (or `while :`) → BODY.
fn while_true_body(script: &str) -> Option<&str> {
    let rest = script
        .strip_prefix("while true")
        .or_else(|| script.strip_prefix("while :"))?;
    let rest = rest.trim_start().strip_prefix(';')?.trim_start();
    let rest = rest.strip_prefix("do")?;
    let body = rest.trim_end().strip_suffix("done")?.trim_end();
    let body = body.strip_suffix(';').unwrap_or(body);
    Some(body.trim())
}

/// Splits a script at top-level `&&`, `||`, `;`, `&`. `Err` on syntax outside the model
/// (pipes, command substitution, subshells).
fn split_commands(script: &str, dialect: Dialect) -> Result<Vec<(Sep, String)>, ()> {
    let chars: Vec<char> = script.chars().collect();
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut sep = Sep::Seq;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if dialect == Dialect::Sh && q == '"' && c == '$' && next == Some('(') {
                return Err(());
            }
            cur.push(c);
            i += 1;
            continue;
        }
        match c {
            '"' => quote = Some('"'),
            '\'' if dialect != Dialect::Cmd => quote = Some('\''),
            '\\' if dialect == Dialect::Sh => {
                cur.push(c);
                if let Some(n) = next {
                    cur.push(n);
                }
                i += 2;
                continue;
            }
            '`' if dialect == Dialect::Sh => return Err(()),
            '$' if dialect != Dialect::Cmd && next == Some('(') => return Err(()),
            '(' | ')' if dialect == Dialect::Sh => return Err(()),
            '|' if next == Some('|') => {
                parts.push((sep, std::mem::take(&mut cur)));
                sep = Sep::Or;
                i += 2;
                continue;
            }
            '|' => return Err(()),
            '&' if next == Some('&') => {
                parts.push((sep, std::mem::take(&mut cur)));
                sep = Sep::And;
                i += 2;
                continue;
            }
            '&' if cur.ends_with('>') => {}
            '&' => {
                parts.push((sep, std::mem::take(&mut cur)));
                sep = Sep::Seq;
                i += 1;
                continue;
            }
            ';' if dialect != Dialect::Cmd => {
                parts.push((sep, std::mem::take(&mut cur)));
                sep = Sep::Seq;
                i += 1;
                continue;
            }
            '\n' => {
                parts.push((sep, std::mem::take(&mut cur)));
                sep = Sep::Seq;
                i += 1;
                continue;
            }
            _ => {}
        }
        cur.push(c);
        i += 1;
    }
    if quote.is_some() {
        return Err(());
    }
    parts.push((sep, cur));
    Ok(parts
        .into_iter()
        .map(|(s, t)| (s, t.trim().to_string()))
        .filter(|(_, t)| !t.is_empty())
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Inherit,
    Null,
    File(String, bool),
    ToStdout,
    ToStderr,
}

/// Removes redirections from a command's text: `(rest, stdout target, stderr target)`.
fn strip_redirects(text: &str, dialect: Dialect) -> (String, Target, Target) {
    let chars: Vec<char> = text.chars().collect();
    let mut rest = String::new();
    let mut out = Target::Inherit;
    let mut err = Target::Inherit;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            rest.push(c);
            i += 1;
            continue;
        }
        if c == '"' || (c == '\'' && dialect != Dialect::Cmd) {
            quote = Some(c);
            rest.push(c);
            i += 1;
            continue;
        }
        let fd2 = c == '2' && chars.get(i + 1) == Some(&'>') && (i == 0 || chars[i - 1] == ' ');
        let fd1 = c == '1' && chars.get(i + 1) == Some(&'>') && (i == 0 || chars[i - 1] == ' ');
        if c == '>' || fd1 || fd2 {
            let mut j = if fd1 || fd2 { i + 1 } else { i };
            j += 1; // past '>'
            let append = chars.get(j) == Some(&'>');
            if append {
                j += 1;
            }
            let target = if chars.get(j) == Some(&'&') {
                let fd = chars.get(j + 1).copied();
                j += 2;
                match fd {
                    Some('1') => Target::ToStdout,
                    Some('2') => Target::ToStderr,
                    _ => Target::Inherit,
                }
            } else {
                while chars.get(j) == Some(&' ') {
                    j += 1;
                }
                let mut word = String::new();
                let mut q: Option<char> = None;
                while let Some(&ch) = chars.get(j) {
                    match q {
                        Some(qq) if ch == qq => q = None,
                        Some(_) => word.push(ch),
                        None if ch == '"' || ch == '\'' => q = Some(ch),
                        None if ch == ' ' => break,
                        None => word.push(ch),
                    }
                    j += 1;
                }
                let lower = word.to_ascii_lowercase();
                if lower == "nul" || lower == "/dev/null" || lower == "$null" {
                    Target::Null
                } else {
                    Target::File(word, append)
                }
            };
            if fd2 {
                err = if target == Target::ToStderr {
                    Target::Inherit
                } else {
                    target
                };
            } else if target != Target::ToStdout {
                out = target;
            }
            i = j;
            continue;
        }
        rest.push(c);
        i += 1;
    }
    (rest.trim().to_string(), out, err)
}

fn expand_var(name: &str, sb: &Sandbox, last: i32) -> String {
    if name == "?" {
        return last.to_string();
    }
    if name == "HOSTNAME" || name == "COMPUTERNAME" {
        if let Some(v) = sb.env.get(name) {
            return v.clone();
        }
        return sb.hostname.clone();
    }
    sb.env.get(name).cloned().unwrap_or_default()
}

/// Splits a command into words with the dialect's quoting and variable expansion.
fn words(text: &str, dialect: Dialect, sb: &Sandbox, last: i32) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"') | (None, '\'') if c == '"' || dialect != Dialect::Cmd => {
                quote = Some(c);
                in_word = true;
            }
            (None, ' ') | (None, '\t') => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (q, '\\') if dialect == Dialect::Sh && q != Some('\'') => {
                if let Some(&n) = chars.get(i + 1) {
                    cur.push(n);
                    i += 1;
                }
                in_word = true;
            }
            (q, '$') if dialect != Dialect::Cmd && q != Some('\'') => {
                let (name, used) = var_name(&chars[i + 1..], dialect);
                if used == 0 {
                    cur.push('$');
                } else {
                    cur.push_str(&expand_var(&name, sb, last));
                    i += used;
                }
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
        i += 1;
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// The variable name after `$`: `(name, chars used)`.
fn var_name(rest: &[char], dialect: Dialect) -> (String, usize) {
    if dialect == Dialect::PowerShell {
        let s: String = rest.iter().collect();
        if s.to_ascii_lowercase().starts_with("env:") {
            let name: String = rest[4..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                .collect();
            let n = name.chars().count();
            return (name, 4 + n);
        }
    }
    match rest.first() {
        Some('?') => ("?".into(), 1),
        Some('{') => {
            let name: String = rest[1..].iter().take_while(|c| **c != '}').collect();
            let n = name.chars().count();
            (name, n + 2)
        }
        _ => {
            let name: String = rest
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                .collect();
            let n = name.chars().count();
            (name, n)
        }
    }
}

async fn simple(text: &str, dialect: Dialect, sb: &Sandbox, sink: &mut Sink, last: i32) -> Flow {
    let expanded;
    let text = if dialect == Dialect::Cmd {
        expanded = expand_percent(text, sb, last);
        expanded.as_str()
    } else {
        text
    };
    let (rest, out_t, err_t) = strip_redirects(text, dialect);
    let words = words(&rest, dialect, sb, last);
    if words.is_empty() {
        return Flow::Next(0);
    }
    let mut out = String::new();
    let mut err = String::new();
    let flow = command(&words, &rest, dialect, sb, &mut out, &mut err, last).await;
    let mut code = match flow {
        Flow::Next(c) | Flow::Exit(c) => c,
    };
    let eol = if dialect == Dialect::Cmd {
        "\r\n"
    } else {
        "\n"
    };
    let _ = eol;
    if err_t == Target::ToStdout {
        out.push_str(&std::mem::take(&mut err));
    } else if out_t == Target::ToStderr {
        err.push_str(&std::mem::take(&mut out));
    }
    for (text, target, is_err) in [(out, out_t, false), (err, err_t, true)] {
        match target {
            Target::Null => {}
            Target::Inherit | Target::ToStdout | Target::ToStderr => {
                if is_err {
                    sink.err(&text)
                } else {
                    sink.out(&text)
                }
            }
            Target::File(path, append) => {
                if let Err(e) = sb.fs.write(&path, &text, append) {
                    sink.err(&write_error(dialect, &path, &e));
                    code = 1;
                }
            }
        }
    }
    match flow {
        Flow::Exit(_) => Flow::Exit(code),
        Flow::Next(_) => Flow::Next(code),
    }
}

fn write_error(dialect: Dialect, path: &str, e: &FsError) -> String {
    match (dialect, e) {
        (Dialect::Sh, FsError::NotFound) => {
            format!("sh: can't create {path}: nonexistent directory\n")
        }
        (Dialect::Sh, e) => format!("sh: can't create {path}: {e}\n"),
        (_, FsError::NotFound) => "The system cannot find the path specified.\n".into(),
        (_, FsError::ReadOnly) => "Access is denied.\n".into(),
        (_, e) => format!("{e}\n"),
    }
}

fn read_error(dialect: Dialect, cmd: &str, path: &str, e: &FsError) -> String {
    match dialect {
        Dialect::Sh => format!("{cmd}: can't open '{path}': {e}\n"),
        Dialect::Cmd => "The system cannot find the file specified.\n".into(),
        Dialect::PowerShell => {
            format!("{cmd} : Cannot find path '{path}' because it does not exist.\n")
        }
    }
}

fn parse_secs(s: &str) -> Option<f64> {
    let s = s.trim_end_matches('s');
    s.parse::<f64>().ok().filter(|v| *v >= 0.0 && v.is_finite())
}

async fn sleep_secs(secs: f64) {
    tokio::time::sleep(Duration::from_secs_f64(secs.min(1e9))).await;
}

async fn sleep_forever() -> Flow {
    std::future::pending::<()>().await;
    Flow::Next(0)
}

/// Finds the value after a PowerShell named parameter (`-Path x`), case-insensitively.
fn ps_param<'a>(args: &'a [String], names: &[&str]) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, a)| {
        names
            .iter()
            .any(|n| a.eq_ignore_ascii_case(n))
            .then(|| args.get(i + 1).map(String::as_str))
            .flatten()
    })
}

/// Arguments that are not options (`-x`; cmd's `/x` switches).
fn positional(args: &[String], dialect: Dialect) -> Vec<&str> {
    args.iter()
        .filter(|a| {
            let switch = dialect == Dialect::Cmd && a.starts_with('/') && a.len() <= 3;
            (!a.starts_with('-') || a.len() == 1) && !switch
        })
        .map(String::as_str)
        .collect()
}

/// cmd expands `%VAR%` before it parses a line.
fn expand_percent(text: &str, sb: &Sandbox, last: i32) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) if end > 0 && !after[..end].contains(' ') => {
                let name = &after[..end];
                if name.eq_ignore_ascii_case("errorlevel") {
                    out.push_str(&last.to_string());
                } else {
                    out.push_str(&expand_var(name, sb, last));
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

async fn command(
    words: &[String],
    raw: &str,
    dialect: Dialect,
    sb: &Sandbox,
    out: &mut String,
    err: &mut String,
    last: i32,
) -> Flow {
    let _ = last;
    let nl = if dialect == Dialect::Cmd {
        "\r\n"
    } else {
        "\n"
    };
    let name = words[0].to_ascii_lowercase();
    let name = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_string();
    let name = name.strip_suffix(".exe").unwrap_or(&name).to_string();
    let args = &words[1..];
    let code = match name.as_str() {
        "echo" | "write-output" | "write-host" => {
            if dialect == Dialect::Cmd {
                // cmd prints the text as written, quotes included.
                let text = raw.trim_start();
                let text = text.get(4..).unwrap_or("");
                let text = text.strip_prefix(' ').unwrap_or(text).trim_end();
                let text = if text.eq_ignore_ascii_case("on") || text.eq_ignore_ascii_case("off") {
                    return Flow::Next(0);
                } else {
                    text
                };
                out.push_str(text);
                out.push_str(nl);
            } else if args.first().map(String::as_str) == Some("-n") {
                out.push_str(&args[1..].join(" "));
            } else {
                out.push_str(&args.join(" "));
                out.push_str(nl);
            }
            0
        }
        "cat" | "type" | "get-content" | "gc" => {
            let files = positional(args, dialect);
            let files: Vec<&str> = match ps_param(args, &["-path"]) {
                Some(p) => vec![p],
                None => files,
            };
            if files.is_empty() {
                err.push_str(&not_modeled(raw));
                return Flow::Next(NOT_MODELED_CODE);
            }
            let mut code = 0;
            for f in files {
                match sb.fs.read(f) {
                    Ok(c) => out.push_str(&c),
                    Err(e) => {
                        err.push_str(&read_error(dialect, &name, f, &e));
                        code = 1;
                    }
                }
            }
            code
        }
        "stat" if dialect == Dialect::Sh => {
            // `stat [-L] -c %a PATH...`: permission bits in octal, one line per path.
            let format = args
                .iter()
                .position(|a| a == "-c")
                .and_then(|i| args.get(i + 1));
            let paths: Vec<&str> = args
                .iter()
                .enumerate()
                .filter(|(i, a)| {
                    !a.starts_with('-') && args.get(i.wrapping_sub(1)).is_none_or(|p| p != "-c")
                })
                .map(|(_, a)| a.as_str())
                .collect();
            if format.map(String::as_str) != Some("%a") || paths.is_empty() {
                err.push_str(&not_modeled(raw));
                return Flow::Next(NOT_MODELED_CODE);
            }
            let mut code = 0;
            for p in paths {
                match sb.fs.mode(p) {
                    Ok(mode) => out.push_str(&format!("{mode:o}\n")),
                    Err(e) => {
                        err.push_str(&format!("stat: can't stat '{p}': {e}\n"));
                        code = 1;
                    }
                }
            }
            code
        }
        "ls" | "dir" | "get-childitem" | "gci" => {
            let paths = positional(args, dialect);
            let path = paths.first().copied().unwrap_or("/");
            match sb.fs.list(path) {
                Ok(names) => {
                    for n in names {
                        out.push_str(&n);
                        out.push_str(nl);
                    }
                    0
                }
                Err(e) => {
                    match dialect {
                        Dialect::Sh => err.push_str(&format!("ls: {path}: {e}\n")),
                        _ => err.push_str("File Not Found\r\n"),
                    }
                    1
                }
            }
        }
        "mkdir" | "md" | "new-item" => {
            let parents = dialect != Dialect::Sh || args.iter().any(|a| a == "-p");
            let paths: Vec<&str> = match ps_param(args, &["-path"]) {
                Some(p) => vec![p],
                None => positional(args, dialect),
            };
            if name == "new-item"
                && !ps_param(args, &["-itemtype", "-type"])
                    .is_some_and(|t| t.eq_ignore_ascii_case("directory"))
            {
                err.push_str(&not_modeled(raw));
                return Flow::Next(NOT_MODELED_CODE);
            }
            let mut code = 0;
            for p in paths {
                if let Err(e) = sb.fs.mkdir(p, parents) {
                    err.push_str(&format!("mkdir: can't create directory '{p}': {e}\n"));
                    code = 1;
                }
            }
            code
        }
        "touch" => {
            let mut code = 0;
            for p in positional(args, dialect) {
                let existing = sb.fs.read(p).unwrap_or_default();
                if let Err(e) = sb.fs.write(p, &existing, false) {
                    err.push_str(&format!("touch: {p}: {e}\n"));
                    code = 1;
                }
            }
            code
        }
        "set-content" | "add-content" => {
            let (Some(path), Some(value)) =
                (ps_param(args, &["-path"]), ps_param(args, &["-value"]))
            else {
                err.push_str(&not_modeled(raw));
                return Flow::Next(NOT_MODELED_CODE);
            };
            match sb
                .fs
                .write(path, &format!("{value}\r\n"), name == "add-content")
            {
                Ok(()) => 0,
                Err(e) => {
                    err.push_str(&write_error(dialect, path, &e));
                    1
                }
            }
        }
        "rm" | "del" | "remove-item" => {
            let force = args
                .iter()
                .any(|a| a == "-f" || a.eq_ignore_ascii_case("/f"));
            let mut code = 0;
            for p in positional(args, dialect) {
                if let Err(e) = sb.fs.remove(p) {
                    if !(force && e == FsError::NotFound) {
                        err.push_str(&format!("rm: can't remove '{p}': {e}\n"));
                        code = 1;
                    }
                }
            }
            code
        }
        "test" | "[" | "test-path" => {
            let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
            if name == "[" {
                if a.last() != Some(&"]") {
                    err.push_str(&not_modeled(raw));
                    return Flow::Next(NOT_MODELED_CODE);
                }
                a.pop();
            }
            if name == "test-path" {
                let p = ps_param(args, &["-path"])
                    .or(a.first().copied())
                    .unwrap_or("");
                let (f, d) = sb.fs.exists(p);
                out.push_str(if f || d { "True\r\n" } else { "False\r\n" });
                return Flow::Next(0);
            }
            let ok = match a.as_slice() {
                ["-f", p] => sb.fs.exists(p).0,
                ["-d", p] => sb.fs.exists(p).1,
                ["-e", p] => {
                    let (f, d) = sb.fs.exists(p);
                    f || d
                }
                ["-z", s] => s.is_empty(),
                ["-n", s] => !s.is_empty(),
                [x, "=", y] | [x, "==", y] => x == y,
                [x, "!=", y] => x != y,
                _ => {
                    err.push_str(&not_modeled(raw));
                    return Flow::Next(NOT_MODELED_CODE);
                }
            };
            i32::from(!ok)
        }
        "sleep" | "start-sleep" => {
            let arg = ps_param(args, &["-seconds", "-s"])
                .or_else(|| positional(args, dialect).first().copied());
            match arg {
                Some("infinity") => return sleep_forever().await,
                Some(s) => match parse_secs(s) {
                    Some(secs) => {
                        sleep_secs(secs).await;
                        0
                    }
                    None => {
                        err.push_str(&format!("sleep: invalid number '{s}'\n"));
                        1
                    }
                },
                None => {
                    err.push_str(&not_modeled(raw));
                    NOT_MODELED_CODE
                }
            }
        }
        "tail" if args.iter().any(|a| a == "-f") && args.iter().any(|a| a == "/dev/null") => {
            return sleep_forever().await;
        }
        "timeout" => {
            let secs = args
                .iter()
                .position(|a| a.eq_ignore_ascii_case("/t"))
                .and_then(|i| args.get(i + 1))
                .and_then(|s| s.parse::<i64>().ok());
            match secs {
                Some(-1) => return sleep_forever().await,
                Some(s) if s >= 0 => {
                    sleep_secs(s as f64).await;
                    0
                }
                _ => {
                    err.push_str(&not_modeled(raw));
                    NOT_MODELED_CODE
                }
            }
        }
        "ping" => {
            let n = args
                .iter()
                .position(|a| a == "-n" || a == "-c")
                .and_then(|i| args.get(i + 1))
                .and_then(|s| s.parse::<u64>().ok());
            let local = args.iter().any(|a| a == "127.0.0.1" || a == "localhost");
            match n {
                Some(n) if local => {
                    sleep_secs(n.saturating_sub(1) as f64).await;
                    out.push_str(&format!("Pinging 127.0.0.1 with 32 bytes of data:{nl}"));
                    0
                }
                _ => {
                    err.push_str(&not_modeled(raw));
                    NOT_MODELED_CODE
                }
            }
        }
        "exit" => {
            let code = args
                .iter()
                .find(|a| !a.eq_ignore_ascii_case("/b"))
                .map(|s| s.parse::<i32>().unwrap_or(2))
                .unwrap_or(last);
            return Flow::Exit(code);
        }
        "seq" if dialect == Dialect::Sh => super::seq::seq(args, out, err),
        "true" => 0,
        "false" => 1,
        "hostname" => {
            out.push_str(&sb.hostname);
            out.push_str(nl);
            0
        }
        "nslookup" | "resolve-dnsname" => match positional(args, dialect).first() {
            Some(target) => nslookup(target, dialect, sb, out, err),
            None => {
                err.push_str(&not_modeled(raw));
                NOT_MODELED_CODE
            }
        },
        "curl" => super::curl::curl(args, sb, out, err).await,
        "sh" | "bash" | "cmd" | "powershell" | "pwsh" => match super::script_of(words) {
            Some((d, script)) => {
                let mut inner = Sink::default();
                let code = run_script(&script, d, sb, &mut inner).await;
                out.push_str(&inner.stdout);
                err.push_str(&inner.stderr);
                code
            }
            None => {
                err.push_str(&not_modeled(raw));
                NOT_MODELED_CODE
            }
        },
        _ => {
            err.push_str(&not_modeled(raw));
            NOT_MODELED_CODE
        }
    };
    Flow::Next(code)
}

const DNS_IP: &str = "10.96.0.10";

/// BIND 9's `nslookup` (Linux agnhost is alpine with bind-tools; Windows agnhost puts BIND's
/// `C:\dig\nslookup.exe` first on PATH), all on stdout: the server block, then the answer or
/// `** server can't find NAME: NXDOMAIN` (exit 1); without a server, one
/// `;; connection timed out; trying next origin` per search-list name but the last and
/// `;; connection timed out; no servers could be reached` (exit 1). Windows ends lines with CRLF.
fn nslookup(
    target: &str,
    dialect: Dialect,
    sb: &Sandbox,
    out: &mut String,
    _err: &mut String,
) -> i32 {
    let nl = if dialect == Dialect::Sh { "\n" } else { "\r\n" };
    let mut text = String::new();
    let code = if !sb.dns.answering() {
        for _ in 1..sb.dns.queries(target) {
            text.push_str(";; connection timed out; trying next origin\n");
        }
        text.push_str(";; connection timed out; no servers could be reached\n\n");
        1
    } else {
        text.push_str(&format!("Server:\t\t{DNS_IP}\nAddress:\t{DNS_IP}#53\n\n"));
        match sb.dns.lookup(target) {
            Some((fqdn, ip)) => {
                text.push_str(&format!("Name:\t{fqdn}\nAddress: {ip}\n\n"));
                0
            }
            None => {
                text.push_str(&format!("** server can't find {target}: NXDOMAIN\n\n"));
                1
            }
        }
    };
    out.push_str(&text.replace('\n', nl));
    code
}

#[cfg(test)]
mod tests {
    use super::super::fs::{Mount, SharedTree};
    use super::*;

    struct FakeDns;
    impl Dns for FakeDns {
        fn lookup(&self, name: &str) -> Option<(String, String)> {
            (name == "web").then(|| ("web.ns.svc.cluster.local".into(), "10.96.1.1".into()))
        }
    }

    /// A network where nothing listens.
    struct NoNet;
    impl Net for NoNet {
        fn http_get<'a>(&'a self, _: &'a str, _: u16, _: &'a str) -> NetFuture<'a> {
            Box::pin(async { Err(NetFailure::Refused) })
        }
    }

    fn sandbox() -> Sandbox {
        Sandbox {
            fs: ContainerFs {
                mounts: vec![Mount {
                    path: "/data".into(),
                    tree: SharedTree::default(),
                    read_only: false,
                    sub_path: String::new(),
                }],
                root: SharedTree::default(),
            },
            hostname: "pod-a".into(),
            env: [("GREETING".to_string(), "hello".to_string())].into(),
            dns: Arc::new(FakeDns),
            net: Arc::new(NoNet),
        }
    }

    async fn run(script: &str, d: Dialect, sb: &Sandbox) -> (i32, String, String) {
        let mut sink = Sink::default();
        let code = run_script(script, d, sb, &mut sink).await;
        (code, sink.stdout, sink.stderr)
    }

    #[tokio::test]
    async fn sh_echo_redirect_cat_and_exit() {
        let sb = sandbox();
        let (code, out, _) = run(
            "echo $GREETING world > /data/f && echo more >> /data/f; cat /data/f; exit 3",
            Dialect::Sh,
            &sb,
        )
        .await;
        assert_eq!((code, out.as_str()), (3, "hello world\nmore\n"));
        let (code, _, err) = run("cat /data/missing && echo no", Dialect::Sh, &sb).await;
        assert_eq!(code, 1);
        assert!(err.contains("can't open '/data/missing'"), "{err}");
        let (code, out, _) = run("false || echo recovered", Dialect::Sh, &sb).await;
        assert_eq!((code, out.as_str()), (0, "recovered\n"));
    }

    #[tokio::test]
    async fn cmd_forms_and_windows_paths() {
        let sb = sandbox();
        let (code, out, _) = run(
            r"echo hi> C:\data\x.txt & type C:\data\x.txt & ping -n 1 127.0.0.1 >nul & exit /b 4",
            Dialect::Cmd,
            &sb,
        )
        .await;
        assert_eq!((code, out.as_str()), (4, "hi\r\n"));
        let (_, out, _) = run("echo %COMPUTERNAME%", Dialect::Cmd, &sb).await;
        assert_eq!(out, "pod-a\r\n");
        let (code, out, _) = run("dir C:\\data", Dialect::Cmd, &sb).await;
        assert_eq!((code, out.as_str()), (0, "x.txt\r\n"));
    }

    #[tokio::test]
    async fn unmodeled_commands_fail_loudly() {
        let sb = sandbox();
        for script in ["wget http://x", "echo a | grep a", "echo $(hostname)"] {
            let (code, _, err) = run(script, Dialect::Sh, &sb).await;
            assert_eq!(code, 127, "{script}");
            assert!(
                err.contains("not modeled by the simulated cluster"),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn nslookup_answers_like_bind_on_both_oses() {
        let sb = sandbox();
        let (code, out, _) = run("nslookup web", Dialect::Sh, &sb).await;
        assert_eq!(
            (code, out.as_str()),
            (
                0,
                "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n\
                 Name:\tweb.ns.svc.cluster.local\nAddress: 10.96.1.1\n\n"
            )
        );
        let (code, out, _) = run("nslookup nope", Dialect::Cmd, &sb).await;
        assert_eq!(
            (code, out.as_str()),
            (
                1,
                "Server:\t\t10.96.0.10\r\nAddress:\t10.96.0.10#53\r\n\r\n\
                 ** server can't find nope: NXDOMAIN\r\n\r\n"
            )
        );
    }

    struct SilentDns;
    impl Dns for SilentDns {
        fn lookup(&self, _: &str) -> Option<(String, String)> {
            None
        }
        fn answering(&self) -> bool {
            false
        }
        fn queries(&self, _: &str) -> usize {
            4
        }
    }

    #[tokio::test]
    async fn nslookup_without_a_server_times_out_once_per_searched_name() {
        let sb = Sandbox {
            dns: Arc::new(SilentDns),
            ..sandbox()
        };
        let (code, out, _) = run("nslookup web", Dialect::Sh, &sb).await;
        assert_eq!(code, 1);
        assert_eq!(out.matches("trying next origin").count(), 3, "{out}");
        assert!(
            out.ends_with(";; connection timed out; no servers could be reached\n\n"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn test_builtin_and_powershell() {
        let sb = sandbox();
        let (code, _, _) = run("touch /tmp/ok && [ -f /tmp/ok ]", Dialect::Sh, &sb).await;
        assert_eq!(code, 0);
        let (code, _, _) = run("test -f /tmp/nope", Dialect::Sh, &sb).await;
        assert_eq!(code, 1);
        let (code, out, _) = run(
            "Set-Content -Path C:\\data\\p.txt -Value 'x y'; Get-Content C:\\data\\p.txt; exit 0",
            Dialect::PowerShell,
            &sb,
        )
        .await;
        assert_eq!((code, out.as_str()), (0, "x y\r\n"));
    }

    #[tokio::test]
    async fn stdout_redirected_to_stderr_goes_there() {
        let sb = sandbox();
        let (code, out, err) = run("seq 1 3 >&2; echo done 1>&2; echo out", Dialect::Sh, &sb).await;
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (0, "out\n", "1\n2\n3\ndone\n")
        );
        let (_, out, err) = run("echo kept 2>&2", Dialect::Sh, &sb).await;
        assert_eq!((out.as_str(), err.as_str()), ("kept\n", ""));
    }

    #[test]
    fn while_true_loop_is_recognised() {
        assert_eq!(
            while_true_body("while true; do echo x; sleep 1; done"),
            Some("echo x; sleep 1")
        );
    }
}
