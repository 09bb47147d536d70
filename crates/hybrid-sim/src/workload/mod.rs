//! The workload model: what a simulated container runs, chosen from its image, command and
//! args. agnhost subcommands (`netexec`, `pause`, `liveness`, `serve-hostname`,
//! `test-webserver`), web servers (nginx, httpd), scripts in the shell subset (`shell.rs`), and
//! direct commands. Anything else exits 127 with "not modeled by the simulated cluster: ...".

pub(crate) mod curl;
pub(crate) mod fs;
pub(crate) mod images;
pub(crate) mod netexec;
pub(crate) mod seq;
pub(crate) mod shell;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use shell::{Dialect, Sandbox, Sink};

/// A container instance's log (stdout and stderr interleaved, as `kubectl logs` shows them).
pub(crate) type SharedLog = Arc<Mutex<String>>;

/// Keep logs bounded: a chatty loop must not eat memory.
const LOG_LIMIT: usize = 1 << 20;

pub(crate) fn push_log(log: &SharedLog, text: &str) {
    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
    log.push_str(text);
    if log.len() > LOG_LIMIT {
        let mut cut = log.len() - LOG_LIMIT / 2;
        while !log.is_char_boundary(cut) {
            cut += 1;
        }
        log.drain(..cut);
    }
}

pub(crate) fn read_log(log: &SharedLog) -> String {
    log.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// What runs in a container.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Program {
    /// agnhost netexec: HTTP server on `http_port`, UDP on `udp_port`.
    Netexec {
        http_port: u16,
        udp_port: Option<u16>,
        /// `--delay-shutdown` seconds between SIGTERM and exit.
        delay_shutdown: u64,
    },
    /// agnhost pause or the pause image: sleeps until stopped.
    Pause,
    /// agnhost liveness: `/healthz` answers 200 for 10 probe-scaled seconds (1 s), then 500.
    Liveness,
    /// agnhost serve-hostname: HTTP (and UDP with `--udp`) answering the pod name.
    ServeHostname { port: u16, udp: bool },
    /// nginx, httpd, agnhost test-webserver: HTTP answering `body` on every path.
    WebServer { port: u16, body: String },
    /// A script in the shell subset.
    Script { dialect: Dialect, script: String },
    /// A program run directly (argv), through the shell subset's commands.
    Argv { dialect: Dialect, argv: Vec<String> },
    /// The stress image: allocates `mem_total` bytes. Over the container's memory limit
    /// (`limit`, filled in by the kubelet) it is OOM-killed (exit 137, reason `OOMKilled`).
    Stress { mem_total: f64, limit: Option<f64> },
    /// Exits at once with `code`, printing `message`.
    Exit { code: i32, message: String },
}

impl Program {
    /// Ports it listens on while running: `(port, is_udp)`.
    pub(crate) fn ports(&self) -> Vec<(u16, bool)> {
        match self {
            Program::Netexec {
                http_port,
                udp_port,
                ..
            } => {
                let mut p = vec![(*http_port, false)];
                if let Some(u) = udp_port {
                    p.push((*u, true));
                }
                p
            }
            Program::Liveness => vec![(8080, false)],
            Program::ServeHostname { port, udp } => {
                let mut p = vec![(*port, false)];
                if *udp {
                    p.push((*port, true));
                }
                p
            }
            Program::WebServer { port, .. } => vec![(*port, false)],
            _ => Vec::new(),
        }
    }
}

fn base(word: &str) -> String {
    let b = word.rsplit(['/', '\\']).next().unwrap_or_default();
    let b = b.to_ascii_lowercase();
    b.strip_suffix(".exe").unwrap_or(&b).to_string()
}

/// `sh -c SCRIPT`, `cmd /c ...`, `powershell -Command ...` → the script and its dialect.
pub(crate) fn script_of(argv: &[String]) -> Option<(Dialect, String)> {
    let first = base(argv.first()?);
    match first.as_str() {
        "sh" | "bash" | "ash" => {
            let i = argv
                .iter()
                .position(|a| a == "-c" || a == "-ec" || a == "-xc")?;
            Some((Dialect::Sh, argv.get(i + 1)?.clone()))
        }
        "cmd" => {
            let i = argv.iter().position(|a| a.eq_ignore_ascii_case("/c"))?;
            let rest = argv.get(i + 1..)?;
            (!rest.is_empty()).then(|| (Dialect::Cmd, rest.join(" ")))
        }
        "powershell" | "pwsh" => {
            let i = argv
                .iter()
                .position(|a| a.eq_ignore_ascii_case("-command") || a.eq_ignore_ascii_case("-c"))?;
            let rest = argv.get(i + 1..)?;
            (!rest.is_empty()).then(|| (Dialect::PowerShell, rest.join(" ")))
        }
        _ => None,
    }
}

/// The value of `--name=V` or `--name V`.
fn flag(args: &[String], name: &str) -> Option<String> {
    let long = format!("--{name}");
    args.iter().enumerate().find_map(|(i, a)| {
        if let Some(v) = a.strip_prefix(&format!("{long}=")) {
            Some(v.to_string())
        } else if a == &long {
            args.get(i + 1).cloned()
        } else {
            None
        }
    })
}

fn has_flag(args: &[String], name: &str) -> bool {
    let long = format!("--{name}");
    args.iter()
        .any(|a| a == &long || a.strip_prefix(&format!("{long}=")) == Some("true"))
}

fn port_flag(args: &[String], name: &str, default: u16) -> Result<u16, String> {
    match flag(args, name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("invalid argument \"{v}\" for \"--{name}\" flag\n")),
    }
}

/// The program a container runs, from its image repository (see `images`), command and args.
pub(crate) fn program_for(
    image: &str,
    command: &[String],
    args: &[String],
    windows: bool,
) -> Program {
    let dialect = if windows { Dialect::Cmd } else { Dialect::Sh };
    let repo = images::repository(image);
    let mut argv: Vec<String> = command.iter().chain(args.iter()).cloned().collect();
    let kind = images::kind(&repo);
    if argv.is_empty() {
        return match kind {
            images::Kind::Pause => Program::Pause,
            images::Kind::Nginx => Program::WebServer {
                port: 80,
                body: "<html><head><title>Welcome to nginx!</title></head></html>\n".into(),
            },
            images::Kind::Httpd => Program::WebServer {
                port: 80,
                body: "<html><body><h1>It works!</h1></body></html>\n".into(),
            },
            // busybox's default command is `sh` with no input: it exits at once.
            images::Kind::Busybox => Program::Exit {
                code: 0,
                message: String::new(),
            },
            _ => Program::Exit {
                code: shell::NOT_MODELED_CODE,
                message: shell::not_modeled(&format!("the default command of {image}")),
            },
        };
    }
    if let Some((d, script)) = script_of(&argv) {
        return Program::Script { dialect: d, script };
    }
    if kind == images::Kind::Stress {
        let total = argv.iter().enumerate().find_map(|(i, a)| {
            let a = a.trim_start_matches('-');
            if let Some(v) = a.strip_prefix("mem-total=") {
                Some(v.to_string())
            } else if a == "mem-total" {
                argv.get(i + 1).cloned()
            } else {
                None
            }
        });
        let mem_total = total
            .as_deref()
            .map(|t| crate::controllers::quantity(&t.replace("B", "")).unwrap_or(0.0))
            .unwrap_or(0.0);
        return Program::Stress {
            mem_total,
            limit: None,
        };
    }
    if base(&argv[0]) == "agnhost" {
        argv.remove(0);
    }
    if kind == images::Kind::Agnhost || kind == images::Kind::Pause {
        let sub = argv.first().map(String::as_str).unwrap_or("");
        let rest = argv.get(1..).unwrap_or(&[]).to_vec();
        let parsed = match sub {
            "netexec" => port_flag(&rest, "http-port", 8080).and_then(|http_port| {
                let udp = flag(&rest, "udp-port")
                    .map(|v| {
                        v.parse::<i32>()
                            .map_err(|_| format!("invalid --udp-port {v}\n"))
                    })
                    .transpose()?
                    .unwrap_or(8081);
                Ok(Program::Netexec {
                    http_port,
                    udp_port: u16::try_from(udp).ok().filter(|p| *p > 0),
                    delay_shutdown: flag(&rest, "delay-shutdown")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                })
            }),
            "pause" | "/pause" | "pause.exe" => Ok(Program::Pause),
            "liveness" => Ok(Program::Liveness),
            "serve-hostname" => port_flag(&rest, "port", 9376).map(|port| Program::ServeHostname {
                port,
                udp: has_flag(&rest, "udp"),
            }),
            "test-webserver" => port_flag(&rest, "port", 80).map(|port| Program::WebServer {
                port,
                body: "hello\n".into(),
            }),
            _ => Ok(Program::Argv {
                dialect,
                argv: argv.clone(),
            }),
        };
        return parsed.unwrap_or_else(|message| Program::Exit { code: 1, message });
    }
    Program::Argv { dialect, argv }
}

/// Exit code of a process the kernel OOM-killed (the kubelet reports reason `OOMKilled`).
pub(crate) const OOM_KILLED: i32 = 137;

/// A signal the kubelet or a request sends to a running instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGTERM (Windows: CTRL_SHUTDOWN): servers exit, scripts (PID 1) ignore it.
    Term,
    /// The process exits with this code on its own (netexec `/exit`, `/shutdown`).
    Exit(i32),
}

/// Runs one container instance until it exits; returns the exit code. SIGKILL is aborting the
/// task (the kubelet records 137).
pub(crate) async fn run_instance(
    program: Program,
    sandbox: Sandbox,
    log: SharedLog,
    mut signals: mpsc::UnboundedReceiver<Signal>,
) -> i32 {
    match program {
        Program::Script { dialect, script } => {
            let mut sink = Sink::with_log(log);
            shell::run_script(&script, dialect, &sandbox, &mut sink).await
        }
        Program::Argv { dialect, argv } => {
            let mut sink = Sink::with_log(log);
            shell::run_argv(&argv, dialect, &sandbox, &mut sink).await
        }
        Program::Exit { code, message } => {
            push_log(&log, &message);
            code
        }
        Program::Stress { mem_total, limit } => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if limit.is_some_and(|l| mem_total > l) {
                return OOM_KILLED;
            }
            push_log(&log, &format!("Allocated {mem_total} bytes of memory\n"));
            match signals.recv().await {
                Some(Signal::Exit(c)) => c,
                Some(Signal::Term) | None => 0,
            }
        }
        Program::Netexec {
            http_port,
            udp_port,
            delay_shutdown,
        } => {
            push_log(
                &log,
                &format!("I1128 netexec.go:170] Started HTTP server on port {http_port}\n"),
            );
            if let Some(u) = udp_port {
                push_log(
                    &log,
                    &format!("I1128 netexec.go:190] Started UDP server on port {u}\n"),
                );
            }
            match signals.recv().await {
                Some(Signal::Exit(c)) => c,
                Some(Signal::Term) | None => {
                    if delay_shutdown > 0 {
                        push_log(
                            &log,
                            &format!("Delaying shutdown for {delay_shutdown} seconds\n"),
                        );
                        tokio::time::sleep(Duration::from_secs(delay_shutdown)).await;
                    }
                    0
                }
            }
        }
        Program::Pause
        | Program::Liveness
        | Program::ServeHostname { .. }
        | Program::WebServer { .. } => {
            if let Program::ServeHostname { port, .. } = program {
                push_log(&log, &format!("Serving on port {port}.\n"));
            }
            // agnhost liveness has no SIGTERM handler: Go exits with status 2.
            let on_term = if program == Program::Liveness { 2 } else { 0 };
            match signals.recv().await {
                Some(Signal::Exit(c)) => c,
                Some(Signal::Term) | None => on_term,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn agnhost_subcommands_and_flags() {
        let img = "registry.k8s.io/e2e-test-images/agnhost:2.53";
        assert_eq!(
            program_for(
                img,
                &[],
                &s(&["netexec", "--http-port=9000", "--udp-port", "9001"]),
                false
            ),
            Program::Netexec {
                http_port: 9000,
                udp_port: Some(9001),
                delay_shutdown: 0
            }
        );
        assert_eq!(
            program_for(img, &s(&["/agnhost"]), &s(&["pause"]), true),
            Program::Pause
        );
        assert!(matches!(
            program_for(img, &s(&["cmd", "/c", "echo hi & exit 1"]), &[], true),
            Program::Script {
                dialect: Dialect::Cmd,
                ..
            }
        ));
        assert!(matches!(
            program_for(img, &[], &[], false),
            Program::Exit { code: 127, .. }
        ));
        assert_eq!(
            program_for("registry.k8s.io/pause:3.10", &[], &[], true),
            Program::Pause
        );
    }
}
