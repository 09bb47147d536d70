//! The suite language: YAML suites and fixtures → validated, expanded test cases; tag expressions.
//!
//! `Catalog::load` reads the embedded (or `--suites`/`--fixtures`) files, validates them with
//! `file:line: field: message` errors before anything touches a cluster, and expands each
//! test's OS matrix into [`TestCase`]s. [`Selection`] picks cells by [`TagExpr`] and name.
//! Pure: no cluster, no materialisation (that is `crate::fixture`).
//!
//! # Suite files (`suites/*.yaml`)
//!
//! ```yaml
//! suite: networking                      # also a tag; unique across files
//! description: ...
//! tests:
//!   - name: pod-to-pod                   # [a-z0-9][a-z0-9._-]*, unique in the suite
//!     description: ...
//!     tags: [conformance]
//!     matrix: { client: [linux, windows], server: [linux, windows] }   # optional
//!     requires: [default-storage-class]  # optional: default-storage-class, load-balancer
//!     linux-only: "no tmpfs on Windows"  # optional: why there is no Windows cell (`list` shows it);
//!                                        # a cell creating anything for windows is an error
//!     opt-in:                            # optional: cells that run only when --tags names the tag
//!       tag: windows-pqdn                #   a tag of its own; the matching cells carry it
//!       when: { client: windows }        #   matrix bindings; left out: every cell
//!       reason: "..."                    #   required; the skip reason when not selected
//!     steps:
//!       - create: { fixture: netexec, name: server, os: "${server}", vars: { k: v } }
//!       - wait: { pod: server, until: ready, timeout: 90s }
//!       - http: { from: client, to: { pod: server, port: 8080, path: /hostname }, expect: { body: server } }
//!       - http: { from: client, to: { service: web, port: 90, protocol: udp, path: hostname } }
//!       - http: { from: client, to: { service: web, port: 80, path: /hostname }, expect: { bodies: [a, b] } }
//!       - http: { from: client, to: { node-port: web, path: /hostname } }   # the server's node and a node per OS
//!       - http: { from: harness, to: { node-port: web, path: /hostname } }  # from this machine; skips if no node address answers
//!       - dns: { from: client, name: kubernetes.default, expect: resolves }  # or nxdomain; `nslookup NAME` in the pod
//!       - exec: { pod: p, container: c, command: { linux: [..], windows: [..] }, expect: { exit-code: 0, stdout: x } }
//!       - logs: { pod: p, container: c, previous: false, contains: x }
//!       - expect: { node-of: p, path: "$.metadata.labels['kubernetes.io/os']", equals: "${os}" }
//!       - delete: { pod: p, wait: true }
//!         timeout: 2m                    # any step, beside its kind or inside it
//!       - wait: { deployment: d, until: available }        # job: complete|failed, claim: bound
//!       - wait: { pod: p, until: not-ready }
//!       - wait: { pod: p, until: ready, fails-with: ImagePullBackOff }   # negative wait: the
//!         # wait must fail fast with a reason containing the text; ErrImagePull and
//!         # ImagePullBackOff match each other (the kubelet may be seen in either first). Only a
//!         # permanent pull error (not found, no match for platform, unauthorized, ...) fails a
//!         # wait fast; a transient one (i/o timeout, 5xx) waits through the back-off.
//!       - expect: { pod: p, path: "$.status.containerStatuses[0].restartCount", at-least: 1, eventually: true }
//!         # checks: equals | at-least | at-most | contains | exists: true|false
//!       - exec: { pod: p, command: [cat, /cfg/key], expect: { stdout: new }, eventually: true }
//!       - event: { pod: p, reason: Unhealthy, type: Warning }   # waits until such an event exists
//!       - patch: { configmap: c, merge: { data: { key: new } } } # JSON merge patch
//!       - sleep: 2s                                              # observe that nothing happens
//!       - delete: { pod: p, gone-after: 2s, gone-within: 10s }   # graceful termination window
//! ```
//!
//! Run-time placeholders in step strings, substituted just before the step runs:
//! `${namespace}`, `${cluster-domain}` (the cluster's DNS domain, e.g. `cluster.local`: from
//! `--cluster-domain`, else discovered once per run), `${ip.POD}`, `${node-ip.POD}` (InternalIP
//! of the pod's node), `${node-name.POD}`, `${cluster-ip.SERVICE}`, `${node-port.SERVICE}` (one
//! table: `vars::RUNTIME`). Anything else written `${...}` that reaches a step (a shell's
//! `$${HOME}`: `$${` writes a literal `${`) is left as written. `${cluster-domain}` names no
//! object and only fits strings the runner substitutes (`http` `to.host`/`to.path`/`expect`,
//! `dns.name`, `exec` `command`/`expect.stdout`, `logs.contains`, `expect` checks, `patch.merge`,
//! `create.vars`); anywhere else it is an error (`run_wide`).
//!
//! `http.to` takes one of `pod`, `service`, `host`, `node-port` (plus `port`, `path` (default `/`;
//! for UDP the netexec command, e.g. `hostname`), `protocol: http|udp`); `node-port` needs no
//! `port` (it picks the Service port whose nodePort is dialed). `http.expect`: `body` (one answer
//! contains it), `bodies` (each is seen in some answer before the deadline), `unreachable: true`,
//! `client-ip: POD` (netexec's `/clientip` answer, `IP:port` or `[IPv6]:port`, names that pod's
//! IP). `http.from: harness` (when no pod is named `harness`) reaches `node-port`/`host`
//! targets from the machine running the harness (a node when its kubelet port answers,
//! ExternalIP first), and skips the test when no node of the server's OS does; objects are named by kind: `pod`, `service`, `claim`, `deployment`,
//! `job`, `configmap`, `secret`, and (for `expect`) `node-of`. Every name must come from an earlier `create` whose fixture makes
//! an object of that kind. `${key}` is a matrix value; `${namespace}` is left for the runner.
//! Unquoted scalars have YAML types (`equals: 3` is a number), quoted ones are strings.
//!
//! # Fixture files (`fixtures/*.yaml`)
//!
//! ```yaml
//! fixture: shell-command
//! description: ...
//! params: { restart: Never }             # defaults; the step's vars override them
//! os-params:                             # per OS; override params
//!   linux: { shell: [sh, -c] }
//!   windows: { shell: [cmd, /c] }
//! required: [script]                     # the step must set these in vars
//! objects:                               # Kubernetes objects; the main one named "${name}"
//!   - { apiVersion: v1, kind: Pod, metadata: { name: "${name}" }, spec: { ... "${shell}" ... } }
//! ```
//!
//! Built-in variables: `name`, `os`, `image.<logical>` (see `fixtures::IMAGES`), `namespace`
//! (left as is). See `crate::fixture` for what instantiation adds for the OS.

pub(crate) mod duration;
pub(crate) mod error;
pub(crate) mod expand;
pub(crate) mod fixtures;
pub(crate) mod model;
pub(crate) mod parse;
pub mod readers;
pub(crate) mod run_wide;
pub(crate) mod select;
pub(crate) mod shard;
pub(crate) mod source;
pub(crate) mod step;
pub(crate) mod suggest;
pub(crate) mod tags;
pub(crate) mod vars;
pub(crate) mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use error::{CatalogError, Diagnostic};
pub use model::*;
pub use select::Selection;
pub use shard::{Shard, ShardError};
pub use source::SourceFile;
pub use tags::{TagExpr, TagExprError};

pub use fixtures::FixtureSet;

/// Every test cell of every suite, and the fixtures they use.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// In file order, then test order, then matrix order.
    pub tests: Vec<TestCase>,
    /// Every fixture, embedded and from `--fixtures`.
    pub fixtures: FixtureSet,
}

impl Catalog {
    /// Loads suites from `suites_dir` (instead of the embedded ones) and fixtures from the
    /// embedded set plus `fixtures_dir` (overriding by name), and validates everything.
    pub fn load(
        suites_dir: Option<&Path>,
        fixtures_dir: Option<&Path>,
    ) -> Result<Catalog, CatalogError> {
        let fixtures = FixtureSet::load(fixtures_dir)?;
        let suites = match suites_dir {
            Some(dir) => source::read_dir(dir)?,
            None => source::embedded_suites(),
        };
        Catalog::from_files(&suites, fixtures)
    }

    /// Parses, validates and expands suite files against `fixtures`.
    pub fn from_files(files: &[SourceFile], fixtures: FixtureSet) -> Result<Catalog, CatalogError> {
        let mut diagnostics = Vec::new();
        let mut tests = Vec::new();
        let mut suites: BTreeMap<String, String> = BTreeMap::new();
        for file in files {
            let (suite, mut problems) = parse::parse_suite(&file.name, &file.text);
            diagnostics.append(&mut problems);
            let Some(suite) = suite else { continue };
            if let Some(other) = suites.get(&suite.name) {
                diagnostics.push(Diagnostic::new(
                    &file.name,
                    suite.line,
                    "suite",
                    format!("duplicate suite \"{}\" (also in {other})", suite.name),
                ));
                continue;
            }
            suites.insert(suite.name.clone(), file.name.clone());
            tests.extend(expand::expand_suite(&suite, &fixtures, &mut diagnostics));
        }
        CatalogError::check(diagnostics)?;
        Ok(Catalog { tests, fixtures })
    }

    /// Every tag a test carries, plus the OS tags and `hybrid` (always valid in `--tags`).
    pub fn known_tags(&self) -> BTreeSet<String> {
        let mut tags: BTreeSet<String> = self
            .tests
            .iter()
            .flat_map(|t| t.tags.iter().cloned())
            .collect();
        tags.extend(Os::ALL.iter().map(|os| os.label().to_string()));
        tags.insert(expand::HYBRID.to_string());
        tags
    }

    /// The selected cells, in catalog order, with the opt-ins the selection names granted
    /// ([`Selection::grant_opt_ins`]).
    pub fn select(&self, selection: &Selection) -> Vec<TestCase> {
        self.tests
            .iter()
            .filter(|t| selection.matches(t))
            .map(|t| selection.grant_opt_ins(t.clone()))
            .collect()
    }
}

#[cfg(test)]
mod no_panic;
#[cfg(test)]
mod tests;
