//! `curl` in simulated containers: Linux agnhost installs curl (alpine), Windows agnhost has
//! `C:\curl\curl.exe` on PATH, so both `curl` and `curl.exe` land here (the shell strips the
//! folder and `.exe`).
//!
//! Modeled: one `http://HOST[:PORT][/PATH][?QUERY]` URL (no scheme means `http://`; HOST may
//! be `[v6]`, a name the pod's DNS resolves, or `localhost`), flags `-s`/`--silent`,
//! `-S`/`--show-error`, `-f`/`--fail` (also bundled, `-sS`, `-fsS`), `-m N`/`--max-time N`,
//! `--connect-timeout N`. The `GET` goes from THIS pod over the simulated network
//! ([`Net`](super::shell::Net)): 127.0.0.1 is the pod itself. The body goes to stdout and the
//! exit code is 0, whatever the status, unless `--fail` (22 for a status of 400 or more).
//! Failures print what curl 8.x prints (lib/connect.c `failf`, `curl_easy_strerror`) unless
//! `-s` without `-S`: 7 "Failed to connect to H port P after N ms: Couldn't connect to server",
//! 28 "... Timeout was reached", 6 "Could not resolve host: H". The simulated clock does not
//! wait a timeout out (nor does netexec's simulated `/dial`); the message names the budget.
//! No progress meter is drawn. Other flags, schemes and several URLs exit 127 as not modeled.

use std::time::Instant;

use super::shell::{not_modeled, NetFailure, Sandbox, NOT_MODELED_CODE};

/// curl's default connect timeout (`DEFAULT_CONNECT_TIMEOUT`, lib/connect.h): 300 s.
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 300_000;

/// curl's exit codes (`CURLcode`, include/curl/curl.h) the model produces.
mod code {
    pub(super) const USAGE: i32 = 2;
    pub(super) const URL_MALFORMAT: i32 = 3;
    pub(super) const COULDNT_RESOLVE_HOST: i32 = 6;
    pub(super) const COULDNT_CONNECT: i32 = 7;
    pub(super) const HTTP_RETURNED_ERROR: i32 = 22;
    pub(super) const OPERATION_TIMEDOUT: i32 = 28;
}

/// The command line, read.
#[derive(Debug, Default, PartialEq)]
struct Options {
    silent: bool,
    show_error: bool,
    fail: bool,
    /// `-m`/`--max-time`, in seconds.
    max_time: Option<f64>,
    /// `--connect-timeout`, in seconds.
    connect_timeout: Option<f64>,
    url: String,
}

impl Options {
    /// Whether errors are printed: always, unless `-s` without `-S`.
    fn shows_errors(&self) -> bool {
        !self.silent || self.show_error
    }

    /// How long a connection may take, in milliseconds: the smaller of the two timeouts (curl's
    /// `Curl_timeleft` while connecting), else curl's default connect timeout.
    fn connect_budget_ms(&self) -> u64 {
        let secs = match (self.max_time, self.connect_timeout) {
            (Some(m), Some(c)) => Some(m.min(c)),
            (m, c) => m.or(c),
        };
        secs.map_or(DEFAULT_CONNECT_TIMEOUT_MS, |s| (s * 1000.0).round() as u64)
    }
}

/// Why a command line is not run.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// Outside the model: exits 127 saying so.
    NotModeled,
    /// curl's own usage error (exit 2), its message.
    Usage(String),
}

/// `curl ARGS...`: writes the body to `out`, curl's error line to `err`; the exit code.
pub(crate) async fn curl(args: &[String], sb: &Sandbox, out: &mut String, err: &mut String) -> i32 {
    let options = match parse(args) {
        Ok(o) => o,
        Err(Refusal::NotModeled) => {
            err.push_str(&not_modeled(&format!("curl {}", args.join(" "))));
            return NOT_MODELED_CODE;
        }
        Err(Refusal::Usage(message)) => {
            err.push_str(&format!(
                "curl: {message}\ncurl: try 'curl --help' or 'curl --manual' for more information\n"
            ));
            return code::USAGE;
        }
    };
    let (code, text) = fetch(&options, sb, out).await;
    if code != 0 && options.shows_errors() {
        err.push_str(&format!("curl: ({code}) {text}\n"));
    }
    code
}

/// Makes the request; the exit code and, when it is not 0, curl's error text.
async fn fetch(options: &Options, sb: &Sandbox, out: &mut String) -> (i32, String) {
    let url = match Url::parse(&options.url) {
        Ok(u) => u,
        Err(UrlError::Malformed) => {
            return (
                code::URL_MALFORMAT,
                "URL rejected: Malformed input to a URL function".into(),
            )
        }
        Err(UrlError::BadPort) => {
            return (
                code::URL_MALFORMAT,
                "URL rejected: Port number was not a decimal number between 0 and 65535".into(),
            )
        }
    };
    let ip = match resolve(&url.host, sb) {
        Some(ip) => ip,
        None => {
            return (
                code::COULDNT_RESOLVE_HOST,
                format!("Could not resolve host: {}", url.host),
            )
        }
    };
    let started = Instant::now();
    let shown_host = &url.host;
    match sb.net.http_get(&ip, url.port, &url.path_and_query).await {
        Ok(reply) if options.fail && reply.status >= 400 => (
            code::HTTP_RETURNED_ERROR,
            format!("The requested URL returned error: {}", reply.status),
        ),
        Ok(reply) => {
            out.push_str(&String::from_utf8_lossy(&reply.body));
            (0, String::new())
        }
        Err(NetFailure::Refused) => (
            code::COULDNT_CONNECT,
            format!(
                "Failed to connect to {shown_host} port {} after {} ms: Couldn't connect to server",
                url.port,
                started.elapsed().as_millis()
            ),
        ),
        Err(NetFailure::Timeout) => (
            code::OPERATION_TIMEDOUT,
            format!(
                "Failed to connect to {shown_host} port {} after {} ms: Timeout was reached",
                url.port,
                options.connect_budget_ms()
            ),
        ),
    }
}

/// The IP to connect to: an IP literal as it is, `localhost` as the loopback address (curl
/// resolves it itself), any other name through the pod's DNS.
fn resolve(host: &str, sb: &Sandbox) -> Option<String> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Some(host.to_string());
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Some("127.0.0.1".into());
    }
    sb.dns.lookup(host.trim_end_matches('.')).map(|(_, ip)| ip)
}

/// Reads curl's command line.
fn parse(args: &[String]) -> Result<Options, Refusal> {
    let mut options = Options::default();
    let mut urls = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut seconds = |flag: &str| -> Result<f64, Refusal> {
            let value = rest
                .next()
                .ok_or_else(|| Refusal::Usage(format!("option {flag}: requires parameter")))?;
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    Refusal::Usage(format!(
                        "option {flag}: expected a proper numerical parameter"
                    ))
                })
        };
        match arg.as_str() {
            "--silent" => options.silent = true,
            "--show-error" => options.show_error = true,
            "--fail" => options.fail = true,
            "-m" | "--max-time" => options.max_time = Some(seconds(arg)?),
            "--connect-timeout" => options.connect_timeout = Some(seconds(arg)?),
            flag if flag.starts_with("--") => return Err(Refusal::NotModeled),
            flag if flag.starts_with('-') && flag.len() > 1 => {
                for letter in flag[1..].chars() {
                    match letter {
                        's' => options.silent = true,
                        'S' => options.show_error = true,
                        'f' => options.fail = true,
                        _ => return Err(Refusal::NotModeled),
                    }
                }
            }
            url => urls.push(url.to_string()),
        }
    }
    match urls.as_slice() {
        [] => Err(Refusal::Usage("no URL specified".into())),
        [url] => {
            options.url = url.clone();
            Ok(options)
        }
        _ => Err(Refusal::NotModeled),
    }
}

/// An `http://` URL, split.
#[derive(Debug, PartialEq)]
struct Url {
    /// The host as written, without the brackets of an IPv6 literal.
    host: String,
    port: u16,
    /// `/PATH?QUERY`, at least `/`.
    path_and_query: String,
}

#[derive(Debug, PartialEq)]
enum UrlError {
    Malformed,
    BadPort,
}

impl Url {
    /// An `http://` URL (curl assumes `http://` without a scheme), read by the `http` crate.
    fn parse(text: &str) -> Result<Url, UrlError> {
        let text = if text.contains("://") {
            text.to_string()
        } else {
            format!("http://{text}")
        };
        let uri: ::http::Uri = text.parse().map_err(|_| UrlError::Malformed)?;
        if uri.scheme_str() != Some("http") {
            return Err(UrlError::Malformed);
        }
        let authority = uri.authority().ok_or(UrlError::Malformed)?;
        if authority.as_str().contains('@') {
            return Err(UrlError::Malformed);
        }
        let written = authority.host();
        let host = match written.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) if v6.parse::<std::net::Ipv6Addr>().is_ok() => v6,
            Some(_) => return Err(UrlError::Malformed),
            None => written,
        };
        // `Authority::port` hides a port that is no u16 (99999); curl refuses it.
        let after_host = authority.as_str().get(written.len()..).unwrap_or_default();
        let port = match after_host.strip_prefix(':') {
            None | Some("") => 80,
            Some(port) => port.parse::<u16>().map_err(|_| UrlError::BadPort)?,
        };
        Ok(Url {
            host: host.to_string(),
            port,
            path_and_query: match uri.path_and_query().map(|p| p.as_str()) {
                Some(p) if p.starts_with('/') => p.to_string(),
                Some(p) => format!("/{p}"),
                None => "/".to_string(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use super::super::fs::{ContainerFs, SharedTree};
    use super::super::shell::{Dns, HttpReply, Net, NetFuture};
    use super::*;

    struct FakeDns;
    impl Dns for FakeDns {
        fn lookup(&self, name: &str) -> Option<(String, String)> {
            (name == "web").then(|| ("web.ns.svc.cluster.local".into(), "10.96.1.1".into()))
        }
    }

    /// A network where 10.96.1.1:80 answers (404 on `/missing`), 10.0.0.9 drops every packet
    /// and everything else refuses; it records what was asked.
    #[derive(Default)]
    struct FakeNet {
        asked: Mutex<Vec<(String, u16, String)>>,
    }
    impl Net for FakeNet {
        fn http_get<'a>(&'a self, ip: &'a str, port: u16, path: &'a str) -> NetFuture<'a> {
            self.asked
                .lock()
                .unwrap()
                .push((ip.to_string(), port, path.to_string()));
            Box::pin(async move {
                match (ip, port) {
                    ("10.96.1.1" | "127.0.0.1" | "fd00::5", 80 | 8080) => Ok(HttpReply {
                        status: if path == "/missing" { 404 } else { 200 },
                        body: format!("body of {path}").into_bytes(),
                    }),
                    ("10.0.0.9", _) => Err(NetFailure::Timeout),
                    _ => Err(NetFailure::Refused),
                }
            })
        }
    }

    fn sandbox(net: Arc<FakeNet>) -> Sandbox {
        Sandbox {
            fs: ContainerFs {
                mounts: vec![],
                root: SharedTree::default(),
            },
            hostname: "client".into(),
            env: BTreeMap::new(),
            dns: Arc::new(FakeDns),
            net,
        }
    }

    async fn run(line: &str) -> (i32, String, String, Vec<(String, u16, String)>) {
        let net = Arc::new(FakeNet::default());
        let sb = sandbox(net.clone());
        let args: Vec<String> = line.split(' ').skip(1).map(String::from).collect();
        let (mut out, mut err) = (String::new(), String::new());
        let code = curl(&args, &sb, &mut out, &mut err).await;
        let asked = net.asked.lock().unwrap().clone();
        (code, out, err, asked)
    }

    #[tokio::test]
    async fn the_body_goes_to_stdout_from_this_pods_loopback() {
        let (code, out, err, asked) =
            run("curl -sS -m 10 http://127.0.0.1:8080/dial?request=hostname&host=x").await;
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(out, "body of /dial?request=hostname&host=x");
        assert_eq!(
            asked,
            vec![(
                "127.0.0.1".to_string(),
                8080,
                "/dial?request=hostname&host=x".to_string()
            )]
        );
        let (code, out, _, asked) = run("curl.exe http://web").await;
        assert_eq!((code, out.as_str()), (0, "body of /"));
        assert_eq!(
            asked[0].0, "10.96.1.1",
            "names resolve through the pod's DNS"
        );
        let (code, _, _, asked) = run("curl -s http://[fd00::5]:8080/x").await;
        assert_eq!(code, 0);
        assert_eq!(asked[0].0, "fd00::5", "IPv6 literals lose their brackets");
        let (code, _, _, asked) = run("curl localhost:8080/x").await;
        assert_eq!((code, asked[0].0.as_str()), (0, "127.0.0.1"));
    }

    #[tokio::test]
    async fn failures_read_as_curl_8_writes_them() {
        let (code, out, err, _) = run("curl -sS http://10.244.1.7:8080/").await;
        assert_eq!((code, out.as_str()), (7, ""));
        assert!(
            err.starts_with("curl: (7) Failed to connect to 10.244.1.7 port 8080 after ")
                && err.ends_with(" ms: Couldn't connect to server\n"),
            "{err}"
        );
        let (code, _, err, _) = run("curl -sS -m 10 --connect-timeout 3 http://10.0.0.9/").await;
        assert_eq!(code, 28);
        assert_eq!(
            err,
            "curl: (28) Failed to connect to 10.0.0.9 port 80 after 3000 ms: Timeout was reached\n"
        );
        let (code, _, err, asked) = run("curl -sS http://nope:80/").await;
        assert_eq!((code, asked.len()), (6, 0));
        assert_eq!(err, "curl: (6) Could not resolve host: nope\n");
    }

    #[tokio::test]
    async fn http_errors_fail_only_with_fail() {
        let (code, out, err, _) = run("curl -s http://web/missing").await;
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (0, "body of /missing", "")
        );
        let (code, out, err, _) = run("curl -fsS http://web/missing").await;
        assert_eq!((code, out.as_str()), (22, ""));
        assert_eq!(err, "curl: (22) The requested URL returned error: 404\n");
    }

    #[tokio::test]
    async fn silent_without_show_error_prints_no_error() {
        let (code, _, err, _) = run("curl -s http://10.244.1.7:8080/").await;
        assert_eq!((code, err.as_str()), (7, ""));
        let (code, _, err, _) = run("curl --silent --fail http://web/missing").await;
        assert_eq!((code, err.as_str()), (22, ""));
        let (code, _, err, _) = run("curl http://10.244.1.7:8080/").await;
        assert_eq!(code, 7);
        assert!(err.contains("Couldn't connect to server"), "{err}");
    }

    #[tokio::test]
    async fn command_lines_outside_the_model_are_refused() {
        let (code, _, err, _) = run("curl -X POST http://web/").await;
        assert_eq!(code, 127);
        assert!(
            err.contains("not modeled by the simulated cluster: curl -X POST"),
            "{err}"
        );
        let (code, _, _, _) = run("curl https://web/").await;
        assert_eq!(code, 3);
        let (code, _, err, _) = run("curl -m soon http://web/").await;
        assert_eq!(code, 2);
        assert!(
            err.starts_with("curl: option -m: expected a proper numerical parameter\n"),
            "{err}"
        );
        let (code, _, err, _) = run("curl -sS").await;
        assert_eq!(code, 2);
        assert!(err.starts_with("curl: no URL specified"), "{err}");
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        assert_eq!(
            Url::parse("http://[fd00:10:244::5]:8080/dial?x=1#frag"),
            Ok(Url {
                host: "fd00:10:244::5".into(),
                port: 8080,
                path_and_query: "/dial?x=1".into()
            })
        );
        assert_eq!(
            Url::parse("web?x").map(|u| (u.port, u.path_and_query)),
            Ok((80, "/?x".to_string()))
        );
        assert_eq!(Url::parse("http://web:99999/"), Err(UrlError::BadPort));
        assert_eq!(Url::parse("http://[zz]/"), Err(UrlError::Malformed));
    }
}
