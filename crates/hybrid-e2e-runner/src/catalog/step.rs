//! One step of one matrix cell, `${vars}` substituted, read into an [`Action`] and checked
//! against the fixtures and the names earlier steps created.

use std::collections::BTreeMap;

use marked_yaml::Node;

use super::duration::parse_duration;
use super::error::Diagnostic;
use super::fixtures::{Fixture, FixtureSet};
use super::model::{
    Action, Check, DnsExpect, ExecExpect, HttpExpect, Location, ObjectKind, ObjectRef, Os,
    Protocol, Step, Target, TargetKind, WaitUntil,
};
use super::suggest::hint;
use super::yaml::{self, Map};

/// The step kinds, in the order the documentation lists them.
pub(crate) const STEP_KINDS: &[&str] = &[
    "create", "wait", "http", "dns", "exec", "logs", "expect", "event", "patch", "sleep", "delete",
];

/// `http.from` naming the machine running the harness instead of a pod.
pub(crate) const HARNESS: &str = "harness";

/// What earlier steps of the cell created: name → OS and fixture.
pub(crate) type Created<'f> = BTreeMap<String, (Os, &'f Fixture)>;

/// Reads one step at `path` (`tests[0].steps[2]`).
pub(crate) fn read_step<'f>(
    file: &str,
    path: &str,
    node: &Node,
    fixtures: &'f FixtureSet,
    created: &mut Created<'f>,
) -> Result<Step, Diagnostic> {
    let step = Map::new(file, path, node)?;
    let mut kind = None;
    for (key, line, value) in step.entries() {
        if key == "timeout" {
            continue;
        }
        if !STEP_KINDS.contains(&key) {
            return Err(Diagnostic::new(
                file,
                line,
                step.field(key),
                format!(
                    "unknown step kind, expected one of: {} (and an optional timeout){}",
                    STEP_KINDS.join(", "),
                    hint(key, STEP_KINDS.iter().copied())
                ),
            ));
        }
        if let Some((first, _)) = kind {
            return Err(Diagnostic::new(
                file,
                line,
                step.field(key),
                format!("a step has exactly one kind; this one already is \"{first}\""),
            ));
        }
        kind = Some((key, value));
    }
    let Some((kind, body)) = kind else {
        return Err(Diagnostic::new(
            file,
            step.line,
            path,
            format!("expected a step: one of {}", STEP_KINDS.join(", ")),
        ));
    };
    let mut timeout = read_timeout(&step)?;
    if kind == "sleep" {
        return read_sleep(file, &step, body).map(|action| Step {
            action,
            timeout,
            location: Location {
                file: file.to_string(),
                line: step.line,
            },
        });
    }
    let map = Map::new(file, step.field(kind), body)?;
    if let Some(inner) = read_timeout(&map)? {
        timeout = Some(inner);
    }
    let r = Reader {
        map: &map,
        fixtures,
    };
    let action = match kind {
        "create" => r.create(created)?,
        "wait" => r.wait(created)?,
        "http" => r.http(created)?,
        "dns" => r.dns(created)?,
        "exec" => r.exec(created)?,
        "logs" => r.logs(created)?,
        "expect" => r.expect(created)?,
        "event" => r.event(created)?,
        "patch" => r.patch(created)?,
        _ => r.delete(created)?,
    };
    Ok(Step {
        action,
        timeout,
        location: Location {
            file: file.to_string(),
            line: step.line,
        },
    })
}

/// `sleep: 2s`.
fn read_sleep(file: &str, step: &Map<'_>, body: &Node) -> Result<Action, Diagnostic> {
    let text = match body {
        Node::Scalar(s) => s.as_str().to_string(),
        _ => String::new(),
    };
    parse_duration(&text).map(Action::Sleep).ok_or_else(|| {
        Diagnostic::new(
            file,
            yaml::line_of(body),
            step.field("sleep"),
            format!("invalid duration \"{text}\", expected e.g. 2s or 500ms"),
        )
    })
}

fn read_duration_key(map: &Map<'_>, key: &str) -> Result<Option<std::time::Duration>, Diagnostic> {
    match map.opt_str(key)? {
        None => Ok(None),
        Some((text, node)) => parse_duration(&text).map(Some).ok_or_else(|| {
            map.err(
                Some(node),
                key,
                format!("invalid duration \"{text}\", expected e.g. 2s, 90s or 1m"),
            )
        }),
    }
}

fn read_timeout(map: &Map<'_>) -> Result<Option<std::time::Duration>, Diagnostic> {
    match map.opt_str("timeout")? {
        None => Ok(None),
        Some((text, node)) => parse_duration(&text).map(Some).ok_or_else(|| {
            map.err(
                Some(node),
                "timeout",
                format!("invalid duration \"{text}\", expected e.g. 90s, 2m, 1m30s or 500ms"),
            )
        }),
    }
}

struct Reader<'a, 'f> {
    map: &'a Map<'a>,
    fixtures: &'f FixtureSet,
}

/// The checks an `expect` step can make.
const CHECKS: &[&str] = &[
    "equals",
    "not-equals",
    "at-least",
    "at-most",
    "contains",
    "exists",
];

/// The kinds of object a step can name, by key.
const REF_KINDS: &[(&str, ObjectKind)] = &[
    ("pod", ObjectKind::Pod),
    ("service", ObjectKind::Service),
    ("claim", ObjectKind::PersistentVolumeClaim),
    ("node-of", ObjectKind::NodeOf),
    ("deployment", ObjectKind::Deployment),
    ("job", ObjectKind::Job),
    ("configmap", ObjectKind::ConfigMap),
    ("secret", ObjectKind::Secret),
];

/// The object keys each step accepts.
const WAIT_OBJECTS: &[&str] = &["pod", "deployment", "job", "claim"];
const EXPECT_OBJECTS: &[&str] = &[
    "pod",
    "service",
    "claim",
    "node-of",
    "deployment",
    "job",
    "configmap",
    "secret",
];
const EVENT_OBJECTS: &[&str] = &["pod", "claim", "deployment", "job", "service"];
const PATCH_OBJECTS: &[&str] = &[
    "pod",
    "service",
    "claim",
    "deployment",
    "job",
    "configmap",
    "secret",
];
const DELETE_OBJECTS: &[&str] = &[
    "pod",
    "service",
    "claim",
    "deployment",
    "job",
    "configmap",
    "secret",
];

/// Which `until` values fit which kind of object.
fn until_fits(kind: ObjectKind, until: WaitUntil) -> bool {
    match until {
        WaitUntil::Available => kind == ObjectKind::Deployment,
        WaitUntil::Complete => kind == ObjectKind::Job,
        WaitUntil::Bound => kind == ObjectKind::PersistentVolumeClaim,
        WaitUntil::Failed => kind == ObjectKind::Pod || kind == ObjectKind::Job,
        _ => kind == ObjectKind::Pod,
    }
}

impl<'f> Reader<'_, 'f> {
    fn only(&self, keys: &[&str]) -> Result<(), Diagnostic> {
        let mut all = keys.to_vec();
        all.push("timeout");
        self.map.only(&all)
    }

    /// A name an earlier `create` made, whose fixture makes an object of `kind`.
    fn created_name(
        &self,
        key: &str,
        kind: &str,
        created: &Created<'f>,
    ) -> Result<String, Diagnostic> {
        let (name, node) = self.map.str(key)?;
        self.check_created(&name, node, key, kind, created)?;
        Ok(name)
    }

    fn check_created(
        &self,
        name: &str,
        node: &Node,
        key: &str,
        kind: &str,
        created: &Created<'f>,
    ) -> Result<(), Diagnostic> {
        let Some((_, fixture)) = created.get(name) else {
            let mut names: Vec<&str> = created.keys().map(String::as_str).collect();
            if names.is_empty() {
                names.push("none");
            }
            return Err(self.map.err(
                Some(node),
                key,
                format!(
                    "no earlier create step made \"{name}\" (created so far: {})",
                    names.join(", ")
                ),
            ));
        };
        if !fixture.kinds().contains(&kind) {
            return Err(self.map.err(
                Some(node),
                key,
                format!(
                    "\"{name}\" was created from fixture \"{}\", which makes no {kind}",
                    fixture.name
                ),
            ));
        }
        Ok(())
    }

    fn create(&self, created: &mut Created<'f>) -> Result<Action, Diagnostic> {
        let m = self.map;
        self.only(&["fixture", "name", "os", "vars"])?;
        let (fixture_name, fixture_node) = m.str("fixture")?;
        let fixture = self.fixtures.get(&fixture_name).ok_or_else(|| {
            m.err(
                Some(fixture_node),
                "fixture",
                format!(
                    "unknown fixture \"{fixture_name}\", known fixtures: {}{}",
                    self.fixtures.names().join(", "),
                    hint(
                        &fixture_name,
                        self.fixtures.names().iter().map(String::as_str)
                    )
                ),
            )
        })?;
        let (name, name_node) = m.str("name")?;
        if !is_dns_label(&name) {
            return Err(m.err(
                Some(name_node),
                "name",
                format!("invalid name \"{name}\": use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"),
            ));
        }
        if created.contains_key(&name) {
            return Err(m.err(
                Some(name_node),
                "name",
                format!("\"{name}\" was already created by an earlier step"),
            ));
        }
        let (os_text, os_node) = m.str("os")?;
        let os = Os::parse(&os_text).ok_or_else(|| {
            m.err(
                Some(os_node),
                "os",
                format!(
                    "unknown value \"{os_text}\", expected one of: linux, windows{}",
                    hint(&os_text, ["linux", "windows"])
                ),
            )
        })?;
        let mut vars = BTreeMap::new();
        if let Some(node) = m.get("vars") {
            let vars_map = Map::new(m.file, m.field("vars"), node)?;
            for (key, line, value) in vars_map.entries() {
                if !fixture.accepts(key) {
                    let params: Vec<&str> = fixture.param_names().into_iter().collect();
                    return Err(Diagnostic::new(
                        m.file,
                        line,
                        vars_map.field(key),
                        format!(
                            "fixture \"{fixture_name}\" has no parameter \"{key}\" (parameters: {})",
                            if params.is_empty() { "none".to_string() } else { params.join(", ") }
                        ),
                    ));
                }
                vars.insert(key.to_string(), yaml::to_json(value));
            }
        }
        for var in &fixture.required {
            if !vars.contains_key(var) {
                return Err(m.err(
                    m.get("vars"),
                    "vars",
                    format!("fixture \"{fixture_name}\" needs the parameter \"{var}\""),
                ));
            }
        }
        created.insert(name.clone(), (os, fixture));
        Ok(Action::Create {
            fixture: fixture_name,
            name,
            os,
            vars,
        })
    }

    fn wait(&self, created: &Created<'f>) -> Result<Action, Diagnostic> {
        let m = self.map;
        self.only(&["pod", "deployment", "job", "claim", "until", "fails-with"])?;
        let object = self.object_ref(WAIT_OBJECTS, created)?;
        let (until_text, node) = m.str("until")?;
        let until = WaitUntil::parse(&until_text).ok_or_else(|| {
            let all = WaitUntil::ALL.map(WaitUntil::as_str);
            m.err(
                Some(node),
                "until",
                format!(
                    "unknown value \"{until_text}\", expected one of: {}{}",
                    all.join(", "),
                    hint(&until_text, all)
                ),
            )
        })?;
        if !until_fits(object.kind, until) {
            let fitting: Vec<&str> = WaitUntil::ALL
                .into_iter()
                .filter(|u| until_fits(object.kind, *u))
                .map(WaitUntil::as_str)
                .collect();
            return Err(m.err(
                Some(node),
                "until",
                format!(
                    "a {} cannot be waited for until \"{until_text}\"; expected one of: {}",
                    object.kind,
                    fitting.join(", ")
                ),
            ));
        }
        let fails_with = m.opt_str("fails-with")?.map(|(t, _)| t);
        Ok(Action::Wait {
            object,
            until,
            fails_with,
        })
    }

    fn http(&self, created: &Created<'f>) -> Result<Action, Diagnostic> {
        let m = self.map;
        self.only(&["from", "to", "expect"])?;
        let (from_text, _) = m.str("from")?;
        let from_harness = from_text == HARNESS && !created.contains_key(HARNESS);
        let from = if from_harness {
            from_text
        } else {
            self.created_name("from", "Pod", created)?
        };
        let to_map = Map::new(m.file, m.field("to"), m.required("to")?)?;
        to_map.only(&[
            "pod",
            "service",
            "host",
            "node-port",
            "port",
            "path",
            "protocol",
        ])?;
        let to_reader = Reader {
            map: &to_map,
            fixtures: self.fixtures,
        };
        let given: Vec<&str> = ["pod", "service", "host", "node-port"]
            .into_iter()
            .filter(|k| to_map.get(k).is_some())
            .collect();
        let kind = match given.as_slice() {
            ["pod"] => TargetKind::Pod(to_reader.created_name("pod", "Pod", created)?),
            ["service"] => {
                TargetKind::Service(to_reader.created_name("service", "Service", created)?)
            }
            ["host"] => TargetKind::Host(to_map.str("host")?.0),
            ["node-port"] => {
                TargetKind::NodePort(to_reader.created_name("node-port", "Service", created)?)
            }
            _ => {
                return Err(Diagnostic::new(
                    m.file,
                    to_map.line,
                    to_map.path.clone(),
                    "give exactly one of pod, service, host or node-port",
                ))
            }
        };
        let port = match (to_map.opt_str("port")?, &kind) {
            (None, TargetKind::NodePort(_)) => 0,
            (port, _) => {
                let (port_text, port_node) = match port {
                    Some(p) => p,
                    None => to_map.str("port")?,
                };
                port_text
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| {
                        to_map.err(
                            Some(port_node),
                            "port",
                            format!("invalid port \"{port_text}\", expected 1 to 65535"),
                        )
                    })?
            }
        };
        let path = to_map
            .opt_str("path")?
            .map(|(p, _)| p)
            .unwrap_or_else(|| "/".to_string());
        let protocol = match to_map.opt_str("protocol")? {
            None => Protocol::Http,
            Some((p, node)) => match p.as_str() {
                "http" => Protocol::Http,
                "udp" if !from_harness => Protocol::Udp,
                "udp" => {
                    return Err(to_map.err(
                        Some(node),
                        "protocol",
                        "the harness reaches targets over http only",
                    ))
                }
                other => {
                    return Err(to_map.err(
                        Some(node),
                        "protocol",
                        format!(
                            "unknown value \"{other}\", expected one of: http, udp{}",
                            hint(other, ["http", "udp"])
                        ),
                    ))
                }
            },
        };
        if from_harness && !matches!(kind, TargetKind::NodePort(_) | TargetKind::Host(_)) {
            return Err(to_map.err(
                None,
                "node-port",
                "from the harness, only node-port and host targets are reachable",
            ));
        }
        let mut expect = HttpExpect::default();
        if let Some(node) = m.get("expect") {
            let e = Map::new(m.file, m.field("expect"), node)?;
            e.only(&["body", "bodies", "unreachable", "client-ip"])?;
            if let Some((pod, node)) = e.opt_str("client-ip")? {
                self.check_created(&pod, node, "expect.client-ip", "Pod", created)?;
                expect.client_ip = Some(pod);
            }
            if expect.client_ip.is_some()
                && (e.get("body").is_some()
                    || e.get("bodies").is_some()
                    || e.get("unreachable").is_some())
            {
                return Err(e.err(
                    None,
                    "client-ip",
                    "client-ip judges the whole answer: give it alone, without body, bodies or unreachable",
                ));
            }
            expect.body = e.opt_str("body")?.map(|(b, _)| b);
            expect.bodies = e
                .opt_str_list("bodies")?
                .unwrap_or_default()
                .into_iter()
                .map(|(b, _)| b)
                .collect();
            expect.unreachable = e.opt_bool("unreachable")?.unwrap_or(false);
            if expect.unreachable && (expect.body.is_some() || !expect.bodies.is_empty()) {
                return Err(e.err(
                    None,
                    "body",
                    "cannot expect a body from an unreachable target",
                ));
            }
            if expect.body.is_some() && !expect.bodies.is_empty() {
                return Err(e.err(None, "bodies", "give body or bodies, not both"));
            }
        }
        let to = Target {
            kind,
            port,
            path,
            protocol,
        };
        if from_harness {
            return Ok(Action::HttpFromHarness { to, expect });
        }
        Ok(Action::Http { from, to, expect })
    }

    /// `dns: { from: client, name: kubernetes.default, expect: resolves | nxdomain }`.
    fn dns(&self, created: &Created<'f>) -> Result<Action, Diagnostic> {
        let m = self.map;
        self.only(&["from", "name", "expect"])?;
        let from = self.created_name("from", "Pod", created)?;
        let (name, name_node) = m.str("name")?;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(m.err(
                Some(name_node),
                "name",
                format!("invalid name {name:?}, expected a DNS name such as kubernetes.default"),
            ));
        }
        let expect = match m.opt_str("expect")? {
            None => DnsExpect::Resolves,
            Some((e, node)) => match e.as_str() {
                "resolves" => DnsExpect::Resolves,
                "nxdomain" => DnsExpect::Nxdomain,
                other => {
                    return Err(m.err(
                        Some(node),
                        "expect",
                        format!(
                            "unknown value \"{other}\", expected one of: resolves, nxdomain{}",
                            hint(other, ["resolves", "nxdomain"])
                        ),
                    ))
                }
            },
        };
        Ok(Action::Dns { from, name, expect })
    }

    fn exec(&self, created: &Created<'f>) -> Result<Action, Diagnostic> {
        let m = self.map;
        self.only(&["pod", "container", "command", "expect", "eventually"])?;
        let pod = self.created_name("pod", "Pod", created)?;
        let os = created.get(&pod).map(|(os, _)| *os).unwrap_or(Os::Linux);
        let container = m.opt_str("container")?.map(|(c, _)| c);
        let command_node = m.required("command")?;
        let command = match command_node {
            Node::Sequence(_) => m.opt_str_list("command")?.unwrap_or_default(),
            Node::Mapping(_) => {
                let per_os = Map::new(m.file, m.field("command"), command_node)?;
                per_os.only(&["linux", "windows"])?;
                per_os.opt_str_list(os.label())?.ok_or_else(|| {
                    per_os.err(
                        None,
                        os.label(),
                        format!("pod \"{pod}\" runs on {os}, and no command is given for {os}"),
                    )
                })?
            }
            Node::Scalar(_) => {
                return Err(m.err(
                    Some(command_node),
                    "command",
                    "expected a list (e.g. [cat, /data/msg]) or a map of lists by OS (linux:, windows:)",
                ))
            }
        };
        if command.is_empty() {
            return Err(m.err(Some(command_node), "command", "must not be empty"));
        }
        let command = command.into_iter().map(|(c, _)| c).collect();
        let mut expect = ExecExpect::default();
        if let Some(node) = m.get("expect") {
            let e = Map::new(m.file, m.field("expect"), node)?;
            e.only(&["exit-code", "stdout"])?;
            if let Some((code, node)) = e.opt_str("exit-code")? {
                expect.exit_code = code.parse().map_err(|_| {
                    e.err(
                        Some(node),
                        "exit-code",
                        format!("expected an integer, found \"{code}\""),
                    )
                })?;
            }
            expect.stdout = e.opt_str("stdout")?.map(|(s, _)| s);
        }
        Ok(Action::Exec {
            pod,
            container,
            command,
            expect,
            eventually: m.opt_bool("eventually")?.unwrap_or(false),
        })
    }

    fn logs(&self, created: &Created<'f>) -> Result<Action, Diagnostic> {
        let m = self.map;
        self.only(&["pod", "container", "previous", "contains"])?;
        Ok(Action::Logs {
            pod: self.created_name("pod", "Pod", created)?,
            container: m.opt_str("container")?.map(|(c, _)| c),
            previous: m.opt_bool("previous")?.unwrap_or(false),
            contains: m.str("contains")?.0,
        })
    }

    /// The one key of `keys` the step gives; `problem` when it gives none or several.
    fn exactly_one<'k>(&self, keys: &[&'k str], problem: &str) -> Result<&'k str, Diagnostic> {
        let m = self.map;
        let given: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| m.get(k).is_some())
            .collect();
        match given.as_slice() {
            [key] => Ok(key),
            _ => Err(Diagnostic::new(m.file, m.line, m.path.clone(), problem)),
        }
    }

    /// Exactly one of the object keys in `allowed` (`pod`, `service`, ...).
    fn object_ref(&self, allowed: &[&str], created: &Created<'f>) -> Result<ObjectRef, Diagnostic> {
        let key = self.exactly_one(
            allowed,
            &format!("give exactly one of {}", allowed.join(", ")),
        )?;
        let kind = REF_KINDS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, kind)| *kind)
            .unwrap_or(ObjectKind::Pod);
        Ok(ObjectRef {
            kind,
            name: self.created_name(key, kind.named_kind(), created)?,
        })
    }

    fn expect(&self, created: &Created<'f>) -> Result<Action, Diagnostic> {
        let m = self.map;
        let mut keys = EXPECT_OBJECTS.to_vec();
        keys.extend(["path", "eventually"]);
        keys.extend(CHECKS);
        self.only(&keys)?;
        let object = self.object_ref(EXPECT_OBJECTS, created)?;
        let (path, path_node) = m.str("path")?;
        if let Err(e) = serde_json_path::JsonPath::parse(&path) {
            return Err(m.err(
                Some(path_node),
                "path",
                format!("invalid JSONPath \"{path}\" ({e}), expected e.g. \"$.status.phase\""),
            ));
        }
        let key = self.exactly_one(
            CHECKS,
            &format!("give exactly one check: {}", CHECKS.join(", ")),
        )?;
        let number = |key: &str| -> Result<f64, Diagnostic> {
            let (text, node) = m.str(key)?;
            text.parse::<f64>().map_err(|_| {
                m.err(
                    Some(node),
                    key,
                    format!("expected a number, found \"{text}\""),
                )
            })
        };
        let check = match key {
            "equals" => Check::Equals(yaml::to_json(m.required("equals")?)),
            "not-equals" => Check::NotEquals(yaml::to_json(m.required("not-equals")?)),
            "at-least" => Check::AtLeast(number("at-least")?),
            "at-most" => Check::AtMost(number("at-most")?),
            "contains" => Check::Contains(m.str("contains")?.0),
            _ => Check::Exists(m.opt_bool("exists")?.unwrap_or(true)),
        };
        Ok(Action::Expect {
            object,
            path,
            check,
            eventually: m.opt_bool("eventually")?.unwrap_or(false),
        })
    }

    fn event(&self, created: &Created<'f>) -> Result<Action, Diagnostic> {
        let m = self.map;
        let mut keys = EVENT_OBJECTS.to_vec();
        keys.extend(["reason", "type"]);
        self.only(&keys)?;
        let object = self.object_ref(EVENT_OBJECTS, created)?;
        let type_ = match m.opt_str("type")? {
            None => None,
            Some((t, node)) if t == "Normal" || t == "Warning" => {
                let _ = node;
                Some(t)
            }
            Some((t, node)) => {
                return Err(m.err(
                    Some(node),
                    "type",
                    format!("unknown value \"{t}\", expected one of: Normal, Warning"),
                ))
            }
        };
        Ok(Action::Event {
            object,
            reason: m.str("reason")?.0,
            type_,
        })
    }

    fn patch(&self, created: &Created<'f>) -> Result<Action, Diagnostic> {
        let m = self.map;
        let mut keys = PATCH_OBJECTS.to_vec();
        keys.push("merge");
        self.only(&keys)?;
        let object = self.object_ref(PATCH_OBJECTS, created)?;
        let merge_node = m.required("merge")?;
        let merge = yaml::to_json(merge_node);
        if !merge.is_object() {
            return Err(m.err(
                Some(merge_node),
                "merge",
                "expected a map: the JSON merge patch, e.g. { data: { key: value } }",
            ));
        }
        Ok(Action::Patch { object, merge })
    }

    fn delete(&self, created: &Created<'f>) -> Result<Action, Diagnostic> {
        let m = self.map;
        let mut keys = DELETE_OBJECTS.to_vec();
        keys.extend(["wait", "gone-after", "gone-within"]);
        self.only(&keys)?;
        let object = self.object_ref(DELETE_OBJECTS, created)?;
        let gone_after = read_duration_key(m, "gone-after")?;
        let gone_within = read_duration_key(m, "gone-within")?;
        let wait = m.opt_bool("wait")?.unwrap_or(true);
        if !wait && (gone_after.is_some() || gone_within.is_some()) {
            return Err(m.err(
                m.get("wait"),
                "wait",
                "gone-after and gone-within need the step to wait for the deletion",
            ));
        }
        Ok(Action::Delete {
            object,
            wait,
            gone_after,
            gone_within,
        })
    }
}

/// A DNS-1123 label: what a pod's name and its host name must be.
fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}
