//! The kubelets of all simulated nodes: one task per pod bound to a node. It pulls images
//! (with per-OS image support), mounts volumes, starts init containers in order and then the
//! app containers as modeled processes, runs probes, restarts containers by `restartPolicy`
//! with CrashLoopBackOff back-off (`config.backoff_initial` doubling to `backoff_max`; the first
//! restart is immediate), writes the pod status and events, and on graceful deletion runs
//! `preStop`, stops containers within the grace period and removes the pod. Faults:
//! `no-restarts`, `probes-ignored`, `prestop-skipped`, `grace-ignored`, `logs-lost`, `image-pull`
//! (every pull fails, not found), `windows-pause-pull` (Windows nodes cannot pull pause); quirk `transient-pull-errors` (each node's first pull of each
//! image times out, then the back-off's retry succeeds), `slow-windows` (Windows pulls and starts
//! take realistic, scaled times) and `windows-shutdown-kills` (on deletion, Windows containers
//! without a shutdown handler exit at once).

pub(crate) mod probes;
pub(crate) mod volumes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::events::{self, Source};
use super::set_condition;
use crate::faults::Fault;
use crate::meta;
use crate::network::ClusterDns;
use crate::quirks::Quirk;
use crate::runtime::{PodNet, PodRt, Running, Runtime};
use crate::store::now_rfc3339;
use crate::workload::shell::{self, Sandbox, Sink};
use crate::workload::{self, images, Program, SharedLog, Signal};
use probes::ProbeState;
use volumes::PodVolume;

/// How often a pod's worker looks at its pod and containers.
const TICK: Duration = Duration::from_millis(25);
/// How often mounted configMaps/secrets are re-read (in ticks).
const REFRESH_TICKS: u32 = 20;
/// Longest wait for a container killed after a failed liveness/startup probe.
const PROBE_KILL_GRACE: Duration = Duration::from_secs(2);

/// A Windows image pull under `Quirk::SlowWindows`: 60 s, at the sim's probe scale (1 s is
/// 100 ms).
const WINDOWS_PULL: Duration = Duration::from_millis(6_000);
/// A Windows container start under `Quirk::SlowWindows`: 5 s, at the same scale.
const WINDOWS_START: Duration = Duration::from_millis(500);

/// Whether a process outlives CTRL_SHUTDOWN_EVENT: only agnhost netexec with `--delay-shutdown`
/// registers a handler (`Quirk::WindowsShutdownKills`).
fn handles_shutdown(program: &Program) -> bool {
    matches!(program, Program::Netexec { delay_shutdown, .. } if *delay_shutdown > 0)
}

/// Watches pods and runs a worker for each pod bound to a simulated node.
pub(crate) async fn run(rt: Arc<Runtime>) {
    let mut feed = rt.store.subscribe();
    let mut workers: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            change = feed.recv() => match change {
                Ok(c) if c.key.resource == "pods" => {}
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {}
        }
        sync(&rt, &mut workers);
    }
}

fn sync(rt: &Arc<Runtime>, workers: &mut HashMap<String, JoinHandle<()>>) {
    workers.retain(|_, h| !h.is_finished());
    let (nodes, _) = rt.store.list("nodes", None);
    let (pods, _) = rt.store.list("pods", None);
    for pod in pods {
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
        let uid = meta::uid(&pod).to_string();
        if node.is_empty() || uid.is_empty() || workers.contains_key(&uid) {
            continue;
        }
        let Some(node_obj) = nodes.iter().find(|n| n["metadata"]["name"] == node) else {
            continue;
        };
        let rt2 = rt.clone();
        let node_obj = node_obj.clone();
        workers.insert(uid, tokio::spawn(run_pod(rt2, pod, node_obj)));
    }
}

/// A Go-style duration (`200ms`, `1.6s`, `10s`).
fn go_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        let s = d.as_secs_f64();
        if s.fract() == 0.0 {
            format!("{}s", s as u64)
        } else {
            format!("{s}s")
        }
    }
}

fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}

/// `repository@sha256:<digest>`, stable per image reference.
fn image_id(image: &str) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let digest: String = (0..4u8)
        .map(|i| {
            let mut h = DefaultHasher::new();
            (image, i).hash(&mut h);
            format!("{:016x}", h.finish())
        })
        .collect();
    format!("{}@sha256:{digest}", images::repository(image))
}

/// containerd's message for a pull that timed out reaching the registry
/// (`Quirk::TransientPullErrors`).
fn transient_pull_error(full: &str) -> String {
    let (repository, tag) = full.rsplit_once(':').unwrap_or((full, "latest"));
    let (host, path) = repository.split_once('/').unwrap_or((repository, ""));
    format!(
        "failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": failed to do request: Head \"https://{host}/v2/{path}/manifests/{tag}\": dial tcp 34.96.108.209:443: i/o timeout"
    )
}

/// One container of the pod as the kubelet tracks it.
struct Ctr {
    spec: Container,
    program: Program,
    pulled: bool,
    pull_failures: u32,
    pull_retry_at: Option<Instant>,
    state: Value,
    last_state: Value,
    task: Option<JoinHandle<i32>>,
    signals: Option<mpsc::UnboundedSender<Signal>>,
    running: Option<Running>,
    kill_at: Option<Instant>,
    started_at: String,
    container_id: String,
    restart_count: i32,
    restart_at: Option<Instant>,
    ever_started: bool,
    /// Exited and will not run again (init: succeeded; app: no restart by policy).
    finished: bool,
    last_exit: i32,
    ready: bool,
    startup_ok: bool,
    startup: ProbeState,
    liveness: ProbeState,
    readiness: ProbeState,
}

impl Ctr {
    fn new(spec: Container, windows: bool, reason: &str) -> Self {
        let mut program = workload::program_for(
            spec.image.as_deref().unwrap_or_default(),
            spec.command.as_deref().unwrap_or(&[]),
            spec.args.as_deref().unwrap_or(&[]),
            windows,
        );
        if let Program::Stress { limit, .. } = &mut program {
            *limit = spec
                .resources
                .as_ref()
                .and_then(|r| r.limits.as_ref())
                .and_then(|l| l.get("memory"))
                .and_then(|q| super::quantity(&q.0));
        }
        Self {
            spec,
            program,
            pulled: false,
            pull_failures: 0,
            pull_retry_at: None,
            state: json!({"waiting": {"reason": reason}}),
            last_state: json!({}),
            task: None,
            signals: None,
            running: None,
            kill_at: None,
            started_at: String::new(),
            container_id: String::new(),
            restart_count: 0,
            restart_at: None,
            ever_started: false,
            finished: false,
            last_exit: 0,
            ready: false,
            startup_ok: false,
            startup: ProbeState::default(),
            liveness: ProbeState::default(),
            readiness: ProbeState::default(),
        }
    }

    fn image(&self) -> String {
        self.spec.image.clone().unwrap_or_default()
    }

    fn waiting_reason(&self) -> Option<&str> {
        self.state["waiting"]["reason"].as_str()
    }

    fn status(&self) -> Value {
        let mut s = json!({
            "name": self.spec.name,
            "image": self.image(),
            "imageID": if self.pulled { image_id(&self.image()) } else { String::new() },
            "ready": self.ready,
            "started": self.task.is_some() && self.startup_ok,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        });
        if !self.container_id.is_empty() {
            s["containerID"] = json!(format!("containerd://{}", self.container_id));
        }
        s
    }
}

/// The pod CIDR the kubelet allocates from: the node's `spec.podCIDRs` entry of the cluster's
/// pod address family (IPv6 under the `ipv6` quirk), else `spec.podCIDR`.
fn pod_cidr_of(node: &Value, config: &crate::config::SimConfig) -> String {
    let want_v6 = config.has_quirk(crate::quirks::Quirk::Ipv6);
    node["spec"]["podCIDRs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|c| c.contains(':') == want_v6)
        .or(node["spec"]["podCIDR"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| crate::network::pod_cidr(config, 0))
}

struct Worker {
    rt: Arc<Runtime>,
    ns: String,
    name: String,
    uid: String,
    node: String,
    windows: bool,
    pod: Pod,
    raw: Value,
    prt: Arc<PodRt>,
    volumes: Vec<PodVolume>,
    init: Vec<Ctr>,
    app: Vec<Ctr>,
    terminal: Option<&'static str>,
    start_time: String,
    ticks: u32,
}

fn restart_policy(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.clone())
        .unwrap_or_else(|| "Always".into())
}

async fn run_pod(rt: Arc<Runtime>, raw: Value, node: Value) {
    let ns = meta::namespace(&raw).to_string();
    let name = meta::name(&raw).to_string();
    let uid = meta::uid(&raw).to_string();
    let node_name = meta::name(&node).to_string();
    let pod: Pod = match serde_json::from_value(raw.clone()) {
        Ok(p) => p,
        Err(e) => {
            let message = format!("Error: the pod cannot be read: {e}");
            warn(&rt, &raw, &node_name, "Failed", &message);
            return linger(&rt, &raw).await;
        }
    };
    let windows = node["status"]["nodeInfo"]["operatingSystem"] == "windows";
    let node_os = if windows { "windows" } else { "linux" };
    if let Some(os) = raw["spec"]["os"]["name"].as_str() {
        if os != node_os {
            reject(
                &rt,
                &raw,
                &node_name,
                "PodOSNotSupported",
                "Failed to admit pod as the OS field doesn't match node OS",
            );
            return linger(&rt, &raw).await;
        }
    }
    let cidr = pod_cidr_of(&node, &rt.config);
    let cidr = cidr.as_str();
    let host_ip = crate::network::node_internal_ip(&node).unwrap_or_default();
    let Some(ip) = rt.net().allocate_pod_ip(cidr) else {
        warn(
            &rt,
            &raw,
            &node_name,
            "FailedCreatePodSandBox",
            &format!("Failed to create pod sandbox: plugin type=\"sim\" failed (add): failed to allocate for range 0: no IP addresses available in range set: {cidr}"),
        );
        return linger(&rt, &raw).await;
    };
    let spec = pod.spec.clone().unwrap_or_default();
    let has_init = spec.init_containers.as_ref().is_some_and(|i| !i.is_empty());
    let app_reason = if has_init {
        "PodInitializing"
    } else {
        "ContainerCreating"
    };
    let init: Vec<Ctr> = spec
        .init_containers
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|c| Ctr::new(c, windows, "PodInitializing"))
        .collect();
    let app: Vec<Ctr> = spec
        .containers
        .clone()
        .into_iter()
        .map(|c| Ctr::new(c, windows, app_reason))
        .collect();
    let prt = Arc::new(PodRt {
        namespace: ns.clone(),
        name: name.clone(),
        uid: uid.clone(),
        windows,
        ip,
        host_ip,
        app_containers: app.iter().map(|c| c.spec.name.clone()).collect(),
        containers: Mutex::default(),
    });
    rt.register(prt.clone());
    let mut w = Worker {
        rt,
        ns,
        name,
        uid,
        node: node_name,
        windows,
        pod,
        raw,
        prt,
        volumes: Vec::new(),
        init,
        app,
        terminal: None,
        start_time: now_rfc3339(),
        ticks: 0,
    };
    w.main().await;
}

/// Kubelet admission refusing a pod: phase Failed with a reason, and a warning event.
fn reject(rt: &Runtime, raw: &Value, node: &str, reason: &str, message: &str) {
    let uid = raw["metadata"]["uid"].clone();
    let ns = meta::namespace(raw);
    let name = meta::name(raw);
    let _ = rt.store.modify("pods", ns, name, |p| {
        if p["metadata"]["uid"] != uid || p["status"]["phase"] == "Failed" {
            return false;
        }
        *super::field(p, &["status", "phase"]) = json!("Failed");
        *super::field(p, &["status", "reason"]) = json!(reason);
        *super::field(p, &["status", "message"]) = json!(message);
        true
    });
    warn(rt, raw, node, reason, message);
}

/// A Warning event about pod `raw` from the kubelet of `node`.
fn warn(rt: &Runtime, raw: &Value, node: &str, reason: &str, message: &str) {
    events::record(
        &rt.store,
        "Pod",
        raw,
        Source::Kubelet(node),
        true,
        reason,
        message,
    );
}

/// A pod that never ran: wait for its deletion, then remove it.
async fn linger(rt: &Runtime, raw: &Value) {
    let uid = raw["metadata"]["uid"].clone();
    let ns = meta::namespace(raw);
    let name = meta::name(raw);
    loop {
        match rt.store.get("pods", ns, name) {
            Some(p) if p["metadata"]["uid"] == uid => {
                if meta::is_terminating(&p) {
                    let _ = rt.store.remove("pods", ns, name);
                    return;
                }
            }
            _ => return,
        }
        tokio::time::sleep(TICK * 4).await;
    }
}

enum Seen {
    Gone,
    Deleting,
    Present,
}

impl Worker {
    fn event(&self, warning: bool, reason: &str, message: &str) {
        let source = Source::Kubelet(&self.node);
        events::record(
            &self.rt.store,
            "Pod",
            &self.raw,
            source,
            warning,
            reason,
            message,
        );
    }

    /// Files the runtime puts into every container besides the image's: `/etc/resolv.conf` as
    /// the kubelet writes it for dnsPolicy ClusterFirst (Linux; Windows takes DNS settings from
    /// the network adapter, not a file).
    fn image_files(&self) -> Vec<(String, String)> {
        if self.windows {
            return Vec::new();
        }
        let domain = crate::network::cluster_domain(self.config());
        vec![(
            "etc/resolv.conf".to_string(),
            crate::network::resolv_conf(&self.ns, domain),
        )]
    }

    fn config(&self) -> &crate::config::SimConfig {
        &self.rt.config
    }

    fn look(&mut self) -> Seen {
        match self.rt.store.get("pods", &self.ns, &self.name) {
            Some(p) if p["metadata"]["uid"] == self.uid.as_str() => {
                let deleting = meta::is_terminating(&p);
                self.raw = p;
                if deleting {
                    Seen::Deleting
                } else {
                    Seen::Present
                }
            }
            _ => Seen::Gone,
        }
    }

    async fn main(&mut self) {
        // Mount volumes (retrying while a configMap, secret or claim is missing).
        loop {
            match self.look() {
                Seen::Gone => return self.vanish(),
                Seen::Deleting => return self.terminate().await,
                Seen::Present => {}
            }
            match volumes::setup(&self.rt, &self.pod, &self.raw, &self.node) {
                Ok(v) => {
                    self.volumes = v;
                    break;
                }
                Err(why) => {
                    self.write_status();
                    self.event(true, "FailedMount", &why);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        self.write_status();
        loop {
            match self.look() {
                Seen::Gone => return self.vanish(),
                Seen::Deleting => return self.terminate().await,
                Seen::Present => {}
            }
            self.step().await;
            self.write_status();
            tokio::time::sleep(TICK).await;
        }
    }

    /// The pod was removed without us (force deletion): kill everything at once.
    fn vanish(&mut self) {
        for c in self.init.iter_mut().chain(self.app.iter_mut()) {
            if let Some(t) = c.task.take() {
                t.abort();
            }
        }
        self.rt.unregister(&self.ns, &self.name, &self.uid);
    }

    fn ctr(&mut self, init: bool, i: usize) -> &mut Ctr {
        if init {
            &mut self.init[i]
        } else {
            &mut self.app[i]
        }
    }

    async fn step(&mut self) {
        if self.terminal.is_some() {
            return;
        }
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % REFRESH_TICKS == 0 {
            volumes::refresh(&self.rt, &self.pod, &self.raw, &self.volumes);
        }
        if let Some(i) = self.init.iter().position(|c| !c.finished) {
            self.drive(true, i).await;
            let c = &self.init[i];
            if c.finished && c.last_exit != 0 {
                self.terminal = Some("Failed");
            }
            return;
        }
        for i in 0..self.app.len() {
            self.drive(false, i).await;
        }
        self.probe_all().await;
        if self.app.iter().all(|c| c.finished) {
            self.terminal = Some(if self.app.iter().all(|c| c.last_exit == 0) {
                "Succeeded"
            } else {
                "Failed"
            });
        }
    }

    fn backoff(&self, n: u32) -> Duration {
        if n == 0 {
            return Duration::ZERO;
        }
        let cfg = self.config();
        let d = cfg
            .backoff_initial
            .saturating_mul(2u32.saturating_pow(n.saturating_sub(1).min(20)));
        d.min(cfg.backoff_max)
    }

    /// Moves one container forward: collect its exit, wait out back-off, pull, start.
    async fn drive(&mut self, init: bool, i: usize) {
        let now = Instant::now();
        let policy = restart_policy(&self.pod);
        let pod_id = format!("{}_{}({})", self.name, self.ns, self.uid);
        // A running instance: has it exited? Must it be killed?
        if let Some(task) = self.ctr(init, i).task.as_ref() {
            if !task.is_finished() {
                let c = self.ctr(init, i);
                if c.kill_at.is_some_and(|at| now >= at) {
                    if let Some(t) = &c.task {
                        t.abort();
                    }
                }
                return;
            }
            let task = self.ctr(init, i).task.take();
            let code = match task {
                Some(t) => t.await.unwrap_or(137),
                None => 137,
            };
            let name = self.ctr(init, i).spec.name.clone();
            if let Some(cr) = self.prt.containers().get_mut(&name) {
                cr.running = None;
            }
            let restarts_so_far = self.ctr(init, i).restart_count as u32;
            let delay = self.backoff(restarts_so_far);
            let c = self.ctr(init, i);
            let oom = code == workload::OOM_KILLED
                && matches!(c.program, Program::Stress { .. })
                && c.kill_at.is_none();
            c.running = None;
            c.signals = None;
            c.kill_at = None;
            c.ready = false;
            c.last_exit = code;
            c.state = json!({"terminated": {
                "exitCode": code,
                "reason": if code == 0 {
                    "Completed"
                } else if oom {
                    "OOMKilled"
                } else {
                    "Error"
                },
                "startedAt": c.started_at,
                "finishedAt": now_rfc3339(),
                "containerID": format!("containerd://{}", c.container_id),
            }});
            let restart = match policy.as_str() {
                "Never" => false,
                "OnFailure" => code != 0,
                _ => !init || code != 0,
            };
            let restart = restart && !self.rt.config.has(Fault::NoRestarts);
            let c = self.ctr(init, i);
            if !restart || (init && code == 0) {
                c.finished = true;
                return;
            }
            c.restart_at = Some(now + delay);
            if !delay.is_zero() {
                let terminated = c.state.clone();
                c.last_state = terminated;
                c.state = json!({"waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": format!("back-off {} restarting failed container={name} pod={pod_id}", go_duration(delay)),
                }});
                self.event(
                    true,
                    "BackOff",
                    &format!("Back-off restarting failed container {name} in pod {pod_id}"),
                );
            }
            return;
        }
        let c = self.ctr(init, i);
        if c.finished {
            return;
        }
        if let Some(at) = c.restart_at {
            if now < at {
                return;
            }
            if c.state.get("terminated").is_some() {
                c.last_state = c.state.clone();
            }
            c.restart_count += 1;
            c.restart_at = None;
        }
        if !c.pulled && !self.pull(init, i).await {
            return;
        }
        self.start(init, i).await;
    }

    /// Pulls a container's image; `false` while it cannot be pulled.
    async fn pull(&mut self, init: bool, i: usize) -> bool {
        let now = Instant::now();
        let image = self.ctr(init, i).image();
        let c = self.ctr(init, i);
        if let Some(at) = c.pull_retry_at {
            if now < at {
                if c.waiting_reason() == Some("ErrImagePull") {
                    let message = c.state["waiting"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    c.state = json!({"waiting": {
                        "reason": "ImagePullBackOff",
                        "message": format!("Back-off pulling image \"{image}\": ErrImagePull: {message}"),
                    }});
                    self.event(
                        false,
                        "BackOff",
                        &format!("Back-off pulling image \"{image}\""),
                    );
                }
                return false;
            }
        }
        self.event(false, "Pulling", &format!("Pulling image \"{image}\""));
        let mut latency = self.config().delay(self.config().latency);
        tokio::time::sleep(latency).await;
        let full = images::full_reference(&image);
        let result = if self.config().has(Fault::ImagePull) {
            Err(format!(
                "failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {full}: not found (simulated fault image-pull)"
            ))
        } else if self.windows
            && self.config().has(Fault::WindowsPausePull)
            && images::repository(&image) == "registry.k8s.io/pause"
        {
            Err(format!(
                "failed to pull and unpack image \"{full}\": no match for platform in manifest: not found (simulated fault windows-pause-pull)"
            ))
        } else if self.config().has(Fault::FlakyFirstAttempt)
            && self.rt.flaky_first_attempt(&self.ns, &self.name)
        {
            Err(format!(
                "failed to pull and unpack image \"{full}\": {full}: not found (simulated fault flaky-first-attempt, first namespace only)"
            ))
        } else if self.config().has_quirk(Quirk::TransientPullErrors)
            && self.rt.first_pull(&self.node, &image)
        {
            Err(transient_pull_error(&full))
        } else {
            images::pull(
                &image,
                self.windows
                    .then(|| self.config().node_windows_build().to_string())
                    .as_deref(),
            )
        };
        match result {
            Ok(()) => {
                // The manifest answers quickly; the layers take the time.
                let layers = self.config().delay(self.latency_of(WINDOWS_PULL));
                if layers > latency {
                    tokio::time::sleep(layers - latency).await;
                    latency = layers;
                }
                self.event(
                    false,
                    "Pulled",
                    &format!(
                        "Successfully pulled image \"{image}\" in {} ({} including waiting). Image size: 0 bytes.",
                        go_duration(latency),
                        go_duration(latency)
                    ),
                );
                self.ctr(init, i).pulled = true;
                true
            }
            Err(message) => {
                self.event(
                    true,
                    "Failed",
                    &format!("Failed to pull image \"{image}\": {message}"),
                );
                self.event(true, "Failed", "Error: ErrImagePull");
                let c = self.ctr(init, i);
                c.pull_failures += 1;
                let n = c.pull_failures;
                let delay = self.backoff(n).max(TICK * 2);
                let c = self.ctr(init, i);
                c.pull_retry_at = Some(Instant::now() + delay);
                c.state = json!({"waiting": {"reason": "ErrImagePull", "message": message}});
                false
            }
        }
    }

    /// How long a pull (`WINDOWS_PULL`) or a start (`WINDOWS_START`) takes on this node: the
    /// sim's latency, or the realistic Windows time under `Quirk::SlowWindows`.
    fn latency_of(&self, windows_time: Duration) -> Duration {
        if self.windows && self.config().has_quirk(Quirk::SlowWindows) {
            windows_time
        } else {
            self.config().latency
        }
    }

    async fn start(&mut self, init: bool, i: usize) {
        let latency = self.config().delay(self.latency_of(WINDOWS_START));
        tokio::time::sleep(latency).await;
        let store = self.rt.store.clone();
        let dns = Arc::new(ClusterDns::new(
            store,
            self.config(),
            &self.ns,
            self.windows,
        ));
        let (spec, program) = {
            let c = self.ctr(init, i);
            (c.spec.clone(), c.program.clone())
        };
        let sandbox = Sandbox {
            fs: volumes::container_fs(&spec, &self.volumes, &self.image_files()),
            hostname: self.raw["spec"]["hostname"]
                .as_str()
                .unwrap_or(&self.name)
                .to_string(),
            env: volumes::environment(&self.rt, &spec, &self.raw),
            dns,
            net: Arc::new(PodNet::new(&self.rt, &self.prt)),
        };
        let log = SharedLog::default();
        let (tx, rx) = mpsc::unbounded_channel();
        let running = Running {
            program: program.clone(),
            sandbox: sandbox.clone(),
            signals: tx.clone(),
            started: Instant::now(),
        };
        let restarted = self.ctr_ever_started(init, i);
        {
            let mut containers = self.prt.containers();
            let entry = containers.entry(spec.name.clone()).or_default();
            if restarted {
                let old = workload::read_log(&entry.log);
                entry.previous_log = (!self.rt.config.has(Fault::LogsLost)).then_some(old);
            }
            entry.log = log.clone();
            entry.running = Some(running.clone());
        }
        let task = tokio::spawn(workload::run_instance(program, sandbox, log, rx));
        let now = Instant::now();
        let c = self.ctr(init, i);
        c.task = Some(task);
        c.signals = Some(tx);
        c.running = Some(running);
        c.ever_started = true;
        c.container_id = random_hex(64);
        c.started_at = now_rfc3339();
        c.state = json!({"running": {"startedAt": c.started_at}});
        c.ready = false;
        c.startup_ok = c.spec.startup_probe.is_none();
        c.startup = ProbeState::reset(c.spec.startup_probe.as_ref(), now);
        c.liveness = ProbeState::reset(c.spec.liveness_probe.as_ref(), now);
        c.readiness = ProbeState::reset(c.spec.readiness_probe.as_ref(), now);
        let name = c.spec.name.clone();
        self.event(false, "Created", &format!("Created container: {name}"));
        self.event(false, "Started", &format!("Started container {name}"));
    }

    fn ctr_ever_started(&mut self, init: bool, i: usize) -> bool {
        self.ctr(init, i).ever_started
    }

    async fn probe_all(&mut self) {
        let now = Instant::now();
        for i in 0..self.app.len() {
            let Some(running) = self.app[i].running.clone() else {
                continue;
            };
            if self.app[i].kill_at.is_some() {
                continue;
            }
            let spec = self.app[i].spec.clone();
            let name = spec.name.clone();
            if !self.app[i].startup_ok {
                if let Some(p) = &spec.startup_probe {
                    if self.app[i].startup.due(p, now) {
                        match probes::run(&self.rt, &self.prt, &running, p, &spec).await {
                            Ok(()) => self.app[i].startup_ok = true,
                            Err(m) => {
                                self.event(
                                    true,
                                    "Unhealthy",
                                    &format!("Startup probe failed: {m}"),
                                );
                                self.app[i].startup.failures += 1;
                                if self.app[i].startup.failures >= threshold(p) {
                                    self.kill_for_probe(i, "startup");
                                }
                            }
                        }
                    }
                }
                continue;
            }
            // Fault: liveness and readiness probes run (and their failures are reported), but
            // nothing comes of them: no restart, and the container counts as ready.
            let ignored = self.config().has(Fault::ProbesIgnored);
            if let Some(p) = &spec.liveness_probe {
                if self.app[i].liveness.due(p, now) {
                    match probes::run(&self.rt, &self.prt, &running, p, &spec).await {
                        Ok(()) => self.app[i].liveness.failures = 0,
                        Err(m) => {
                            self.event(true, "Unhealthy", &format!("Liveness probe failed: {m}"));
                            self.app[i].liveness.failures += 1;
                            if self.app[i].liveness.failures >= threshold(p) && !ignored {
                                self.kill_for_probe(i, "liveness");
                                continue;
                            }
                        }
                    }
                }
            }
            match &spec.readiness_probe {
                None => self.app[i].ready = true,
                Some(p) => {
                    if self.app[i].readiness.due(p, now) {
                        let result = probes::run(&self.rt, &self.prt, &running, p, &spec).await;
                        let st = &mut self.app[i].readiness;
                        match result {
                            Ok(()) => {
                                st.failures = 0;
                                st.successes += 1;
                                if st.successes >= p.success_threshold.unwrap_or(1).max(1) {
                                    self.app[i].ready = true;
                                }
                            }
                            Err(m) => {
                                st.successes = 0;
                                st.failures += 1;
                                if st.failures >= threshold(p) {
                                    self.app[i].ready = false;
                                }
                                self.event(
                                    true,
                                    "Unhealthy",
                                    &format!("Readiness probe failed: {m}"),
                                );
                            }
                        }
                    }
                }
            }
            if ignored {
                self.app[i].ready = true;
            }
            let _ = name;
        }
    }

    fn kill_for_probe(&mut self, i: usize, which: &str) {
        let name = self.app[i].spec.name.clone();
        self.event(
            false,
            "Killing",
            &format!("Container {name} failed {which} probe, will be restarted"),
        );
        let grace = self.grace().min(PROBE_KILL_GRACE);
        let c = &mut self.app[i];
        if let Some(tx) = &c.signals {
            let _ = tx.send(Signal::Term);
        }
        c.ready = false;
        c.kill_at = Some(Instant::now() + grace);
    }

    fn grace(&self) -> Duration {
        let secs = self.raw["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .or_else(|| self.raw["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(30)
            .max(0);
        Duration::from_secs(secs as u64)
    }

    /// Graceful deletion: preStop hooks, SIGTERM, wait within the grace period, kill, remove.
    async fn terminate(&mut self) {
        let ignore_grace = self.config().has(Fault::GraceIgnored);
        let deadline = Instant::now() + self.grace();
        for i in 0..self.app.len() {
            let Some(running) = self.app[i].running.clone() else {
                continue;
            };
            let spec = self.app[i].spec.clone();
            self.event(
                false,
                "Killing",
                &format!("Stopping container {}", spec.name),
            );
            let hook = spec.lifecycle.as_ref().and_then(|l| l.pre_stop.clone());
            let hook = hook.filter(|_| !self.config().has(Fault::PrestopSkipped));
            if let Some(hook) = hook {
                let remaining = if ignore_grace {
                    PROBE_KILL_GRACE
                } else {
                    deadline.saturating_duration_since(Instant::now())
                };
                let run = async {
                    if let Some(e) = &hook.exec {
                        let command = e.command.clone().unwrap_or_default();
                        let mut sink = Sink::default();
                        let code = if command.is_empty() {
                            1
                        } else {
                            shell::run_argv(
                                &command,
                                self.prt.dialect(),
                                &running.sandbox,
                                &mut sink,
                            )
                            .await
                        };
                        if code != 0 {
                            Err(format!(
                                "PreStopHook failed: command '{}' exited with {code}: {}{}",
                                command.join(" "),
                                sink.stdout,
                                sink.stderr
                            ))
                        } else {
                            Ok(())
                        }
                    } else if let Some(h) = &hook.http_get {
                        probes::http_get(
                            &self.rt,
                            &self.prt,
                            probes::port_of(&h.port, &spec),
                            h.path.as_deref().unwrap_or("/"),
                        )
                        .await
                        .map_err(|m| format!("PreStopHook failed: {m}"))
                    } else if let Some(s) = &hook.sleep {
                        tokio::time::sleep(Duration::from_secs(s.seconds.max(0) as u64)).await;
                        Ok(())
                    } else {
                        Err(shell::not_modeled("this preStop hook type"))
                    }
                };
                if let Ok(Err(m)) = tokio::time::timeout(remaining, run).await {
                    self.event(true, "FailedPreStopHook", &m);
                }
            }
        }
        if ignore_grace {
            // Fault: once the hooks ran, the pod object goes at once; its containers are killed
            // behind its back.
            self.remove_pod_object();
        }
        let shutdown_kills = self.windows && self.config().has_quirk(Quirk::WindowsShutdownKills);
        for c in self.app.iter().chain(self.init.iter()) {
            if let Some(tx) = &c.signals {
                let _ = tx.send(Signal::Term);
            }
            if shutdown_kills && !handles_shutdown(&c.program) {
                // CTRL_SHUTDOWN_EVENT ends a process without a handler at once.
                if let Some(t) = &c.task {
                    t.abort();
                }
            }
        }
        loop {
            let all_done = self
                .app
                .iter()
                .chain(self.init.iter())
                .all(|c| c.task.as_ref().is_none_or(|t| t.is_finished()));
            if all_done || ignore_grace || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for c in self.app.iter_mut().chain(self.init.iter_mut()) {
            if let Some(t) = c.task.take() {
                t.abort();
            }
        }
        if self.config().has(Fault::VolumeDataLoss) {
            for v in &self.volumes {
                if let Some(pv) = &v.pv {
                    self.rt.wipe_volume(pv);
                }
            }
        }
        self.rt.unregister(&self.ns, &self.name, &self.uid);
        self.remove_pod_object();
    }

    /// Removes this pod (this uid, not a successor of the same name) from the API.
    fn remove_pod_object(&self) {
        if self
            .rt
            .store
            .get("pods", &self.ns, &self.name)
            .is_some_and(|p| p["metadata"]["uid"] == self.uid.as_str())
        {
            let _ = self.rt.store.remove("pods", &self.ns, &self.name);
        }
    }

    fn phase(&self) -> &'static str {
        if let Some(t) = self.terminal {
            return t;
        }
        let init_done = self.init.iter().all(|c| c.finished);
        if init_done && !self.app.is_empty() && self.app.iter().all(|c| c.ever_started) {
            "Running"
        } else {
            "Pending"
        }
    }

    fn write_status(&self) {
        let phase = self.phase();
        let init_done = self.init.iter().all(|c| c.finished);
        let pending_init: Vec<&str> = self
            .init
            .iter()
            .filter(|c| !c.finished)
            .map(|c| c.spec.name.as_str())
            .collect();
        let unready: Vec<&str> = self
            .app
            .iter()
            .filter(|c| !c.ready)
            .map(|c| c.spec.name.as_str())
            .collect();
        let all_ready = unready.is_empty() && !self.app.is_empty() && self.terminal.is_none();
        let init_statuses: Vec<Value> = self.init.iter().map(Ctr::status).collect();
        let app_statuses: Vec<Value> = self.app.iter().map(Ctr::status).collect();
        let ip = self.prt.ip.clone();
        let host_ip = self.prt.host_ip.clone();
        let uid = self.uid.clone();
        let start_time = self.start_time.clone();
        let qos = if self.app.iter().any(|c| {
            c.spec
                .resources
                .as_ref()
                .is_some_and(|r| r.requests.is_some() || r.limits.is_some())
        }) {
            "Burstable"
        } else {
            "BestEffort"
        };
        let _ = self.rt.store.modify("pods", &self.ns, &self.name, |pod| {
            if pod["metadata"]["uid"] != uid.as_str() {
                return false;
            }
            let before = pod["status"].clone();
            let mut obj = pod.clone();
            *super::field(&mut obj, &["status", "phase"]) = json!(phase);
            *super::field(&mut obj, &["status", "hostIP"]) = json!(host_ip);
            *super::field(&mut obj, &["status", "hostIPs"]) = json!([{"ip": host_ip}]);
            *super::field(&mut obj, &["status", "podIP"]) = json!(ip);
            *super::field(&mut obj, &["status", "podIPs"]) = json!([{"ip": ip}]);
            *super::field(&mut obj, &["status", "startTime"]) = json!(start_time);
            *super::field(&mut obj, &["status", "qosClass"]) = json!(qos);
            if !init_statuses.is_empty() {
                *super::field(&mut obj, &["status", "initContainerStatuses"]) =
                    json!(init_statuses);
            }
            *super::field(&mut obj, &["status", "containerStatuses"]) = json!(app_statuses);
            set_condition(&mut obj, "PodReadyToStartContainers", "True", None, None);
            if init_done {
                set_condition(&mut obj, "Initialized", "True", None, None);
            } else {
                let msg = format!(
                    "containers with incomplete status: [{}]",
                    pending_init.join(" ")
                );
                set_condition(
                    &mut obj,
                    "Initialized",
                    "False",
                    Some("ContainersNotInitialized"),
                    Some(&msg),
                );
            }
            if all_ready {
                set_condition(&mut obj, "ContainersReady", "True", None, None);
                set_condition(&mut obj, "Ready", "True", None, None);
            } else if phase == "Succeeded" || phase == "Failed" {
                set_condition(
                    &mut obj,
                    "ContainersReady",
                    "False",
                    Some("PodCompleted"),
                    None,
                );
                set_condition(&mut obj, "Ready", "False", Some("PodCompleted"), None);
            } else {
                let msg = format!("containers with unready status: [{}]", unready.join(" "));
                set_condition(
                    &mut obj,
                    "ContainersReady",
                    "False",
                    Some("ContainersNotReady"),
                    Some(&msg),
                );
                set_condition(
                    &mut obj,
                    "Ready",
                    "False",
                    Some("ContainersNotReady"),
                    Some(&msg),
                );
            }
            set_condition(&mut obj, "PodScheduled", "True", None, None);
            if obj["status"] == before {
                return false;
            }
            *pod = obj;
            true
        });
    }
}

fn threshold(p: &Probe) -> i32 {
    p.failure_threshold.unwrap_or(3).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(go_duration(Duration::from_millis(1600)), "1.6s");
        assert_eq!(go_duration(Duration::from_secs(2)), "2s");
    }

    #[test]
    fn only_netexec_with_a_shutdown_delay_outlives_ctrl_shutdown() {
        let netexec = |delay_shutdown| Program::Netexec {
            http_port: 8080,
            udp_port: None,
            delay_shutdown,
        };
        assert!(handles_shutdown(&netexec(30)));
        assert!(!handles_shutdown(&netexec(0)));
        assert!(!handles_shutdown(&Program::Pause));
    }

    #[test]
    fn windows_pulls_take_far_longer_than_starts() {
        assert_eq!(WINDOWS_PULL, probes::PROBE_SECOND * 60);
        assert_eq!(WINDOWS_START, probes::PROBE_SECOND * 5);
    }
}
