//! The cluster's own DNS domain, `${cluster-domain}`: `--cluster-domain` when given, else
//! discovered once per run, and only when a test that will run uses it. Discovery starts one
//! short-lived agnhost `pause` pod on a Linux node in a namespace of its own (labelled with the
//! run id like every test namespace, so the end-of-run sweep deletes it even if this does not),
//! reads its `/etc/resolv.conf` and takes `DOMAIN` from the `svc.DOMAIN` entry of the `search`
//! line (the one after `NS.svc.DOMAIN`, as the kubelet writes it for dnsPolicy ClusterFirst).
//! Without a Linux node, or when discovery fails, the kubelet's default `cluster.local` is
//! assumed and the report says why.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, Pod, PodSecurityContext, PodSpec, ResourceRequirements,
    SeccompProfile, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{ObjectMeta, PostParams};
use kube::Api;

use super::namespace::{self, NamespaceReadyError};
use super::scope::{TestEnv, TestScope};
use super::wait::{self, WaitError};
use crate::catalog::{ObjectKind, ObjectRef, Os, TestCase, WaitUntil};
use crate::cluster::ClusterFacts;
use crate::kube_error::{api_message, ApiError};
use crate::labels::RUN_ID_LABEL;
use crate::pod_security::PodSecurityLevel;
use crate::report::{ClusterDomain, DomainSource};
use crate::toleration::TestToleration;

/// The kubelet's default `clusterDomain`, assumed when the domain cannot be discovered.
pub const DEFAULT_DOMAIN: &str = "cluster.local";

/// The discovery pod's name.
const POD: &str = "cluster-domain";

/// The name its namespace carries as the "test" it belongs to.
const PURPOSE: &str = "cluster-domain-discovery";

/// How long the discovery pod may take to run (image pull included), before `--timeout-scale`.
const RUNNING_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a `--cluster-domain` value is no DNS name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Nothing given (or only a dot).
    #[error("expected a DNS name such as cluster.local, got an empty one")]
    Empty,
    /// Longer than a DNS name may be.
    #[error("{0} characters is longer than a DNS name may be (253)")]
    TooLong(usize),
    /// One label is not `[a-z0-9-]{1,63}` with alphanumeric ends.
    #[error(
        "label \"{0}\" is not 1 to 63 lowercase letters, digits and '-', starting and ending \
         with a letter or digit"
    )]
    BadLabel(String),
}

/// Reads a cluster domain: dot-separated labels of `[a-z0-9-]` (1 to 63, not starting or
/// ending with `-`), at most 253 characters; a trailing dot is dropped.
pub fn parse_domain(text: &str) -> Result<String, DomainError> {
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.is_empty() {
        return Err(DomainError::Empty);
    }
    if name.len() > 253 {
        return Err(DomainError::TooLong(name.len()));
    }
    for label in name.split('.') {
        let fits = (1..=63).contains(&label.len())
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !fits {
            return Err(DomainError::BadLabel(label.to_string()));
        }
    }
    Ok(name.to_string())
}

/// The cluster domain in a pod's `/etc/resolv.conf`: `DOMAIN` of the search entry
/// `svc.DOMAIN` right after `<namespace>.svc.DOMAIN`, else of any `svc.DOMAIN` entry next to
/// some `X.svc.DOMAIN`. `None` for a file without such entries (a host-network pod's).
pub(crate) fn from_resolv_conf(text: &str, namespace: &str) -> Option<String> {
    // The last `search` line is the one the resolver uses.
    let search: Vec<String> = text.lines().rev().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == "search").then(|| {
            words
                .take_while(|w| !w.starts_with('#') && !w.starts_with(';'))
                .map(|w| w.trim_end_matches('.').to_ascii_lowercase())
                .collect()
        })
    })?;
    let own = format!("{}.svc.", namespace.to_ascii_lowercase());
    let after_own = search.windows(2).find_map(|pair| {
        let domain = pair[0].strip_prefix(&own)?;
        (pair[1] == format!("svc.{domain}")).then_some(domain)
    });
    let any = || {
        search.iter().find_map(|entry| {
            let domain = entry.strip_prefix("svc.")?;
            let service_entry = format!(".svc.{domain}");
            search
                .iter()
                .any(|other| other.ends_with(&service_entry))
                .then_some(domain)
        })
    };
    after_own
        .or_else(any)
        .and_then(|domain| parse_domain(domain).ok())
}

/// Why discovery did not give the domain (the report's "assumed: ..." reason).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DiscoveryFailed {
    /// No Linux node takes test pods: there is nowhere to read a Linux pod's resolv.conf.
    #[error("no Linux node takes test pods")]
    NoLinuxNode,
    /// The discovery namespace could not be created.
    #[error("cannot create a namespace: {}", api_message(.0))]
    Namespace(#[source] kube::Error),
    /// The discovery namespace took no pods.
    #[error("the discovery namespace is not ready for pods: {0}")]
    NamespaceNotReady(#[source] NamespaceReadyError),
    /// The pod could not be created.
    #[error("cannot create the discovery pod: {}", api_message(.0))]
    CreatePod(#[source] kube::Error),
    /// The pod did not reach Running.
    #[error("the discovery pod did not run: {0}")]
    NotRunning(#[source] WaitError),
    /// `cat /etc/resolv.conf` could not be run.
    #[error("{0}")]
    Exec(#[source] ApiError),
    /// `cat /etc/resolv.conf` failed.
    #[error("cat /etc/resolv.conf in the discovery pod exited with {code}: {stderr}")]
    Cat {
        /// Its exit code.
        code: i32,
        /// What it wrote to stderr.
        stderr: String,
    },
    /// resolv.conf names no cluster domain.
    #[error("no search entry svc.DOMAIN in the discovery pod's /etc/resolv.conf ({0})")]
    NoSearchEntry(String),
}

/// The cluster domain of this run: `--cluster-domain` (`flag`) when given; else, when a test
/// that will run uses `${cluster-domain}`, discovered (or assumed, saying why); else `None`.
pub(crate) async fn resolve(
    env: &TestEnv,
    flag: Option<&str>,
    to_run: &[&TestCase],
    facts: &ClusterFacts,
    run_id: &str,
    pod_security: PodSecurityLevel,
) -> Option<ClusterDomain> {
    if let Some(name) = flag {
        return Some(ClusterDomain {
            name: name.to_string(),
            source: DomainSource::Flag,
        });
    }
    if !to_run.iter().any(|case| case.uses_cluster_domain()) {
        return None;
    }
    let linux_node = facts
        .nodes
        .iter()
        .any(|n| n.os == Some(Os::Linux) && n.why_no_test_pods().is_none());
    let found = if linux_node {
        discover(env, run_id, pod_security).await
    } else {
        Err(DiscoveryFailed::NoLinuxNode)
    };
    Some(match found {
        Ok(name) => ClusterDomain {
            name,
            source: DomainSource::Discovered,
        },
        Err(why) => ClusterDomain {
            name: DEFAULT_DOMAIN.to_string(),
            source: DomainSource::Assumed {
                reason: why.to_string(),
            },
        },
    })
}

/// Reads the domain from a Linux pod's `/etc/resolv.conf`, in a namespace of its own that is
/// deleted afterwards whatever happened.
async fn discover(
    env: &TestEnv,
    run_id: &str,
    pod_security: PodSecurityLevel,
) -> Result<String, DiscoveryFailed> {
    // Index 0: test namespaces are numbered from 1.
    let namespace = namespace::create(&env.client, run_id, 0, PURPOSE, pod_security)
        .await
        .map_err(DiscoveryFailed::Namespace)?;
    let found = read_domain(env, &namespace, run_id).await;
    if let Err(error) = namespace::delete(&env.client, &namespace).await {
        tracing::warn!(%namespace, error = %error, "cannot delete the cluster-domain discovery namespace; the end-of-run sweep retries");
    }
    found
}

/// Starts the discovery pod in `namespace`, waits until it runs and reads its resolv.conf.
async fn read_domain(
    env: &TestEnv,
    namespace: &str,
    run_id: &str,
) -> Result<String, DiscoveryFailed> {
    let scale = env.timeout_scale;
    namespace::wait_until_ready(
        &env.client,
        namespace,
        namespace::SERVICE_ACCOUNT_TIMEOUT.mul_f64(scale),
    )
    .await
    .map_err(DiscoveryFailed::NamespaceNotReady)?;
    let image = env.images.get("agnhost").unwrap_or_default();
    Api::<Pod>::namespaced(env.client.clone(), namespace)
        .create(
            &PostParams::default(),
            &discovery_pod(image, run_id, &env.tolerations),
        )
        .await
        .map_err(DiscoveryFailed::CreatePod)?;
    let pod = ObjectRef {
        kind: ObjectKind::Pod,
        name: POD.to_string(),
    };
    wait::wait(
        &env.client,
        namespace,
        &pod,
        WaitUntil::Running,
        RUNNING_TIMEOUT.mul_f64(scale),
        super::unschedulable::Patience::scaled(scale),
        &Default::default(),
    )
    .await
    .map_err(DiscoveryFailed::NotRunning)?;
    let scope = TestScope {
        env,
        namespace: namespace.to_string(),
        os_of: HashMap::from([(POD.to_string(), Os::Linux)]),
        notes: Vec::new(),
        live: Default::default(),
    };
    let command = ["cat".to_string(), "/etc/resolv.conf".to_string()];
    let (code, stdout, stderr) = scope
        .exec(POD, None, &command)
        .await
        .map_err(DiscoveryFailed::Exec)?;
    if code != 0 {
        return Err(DiscoveryFailed::Cat {
            code,
            stderr: stderr.trim().to_string(),
        });
    }
    from_resolv_conf(&stdout, namespace).ok_or_else(|| {
        let search = stdout
            .lines()
            .find(|l| l.trim_start().starts_with("search"))
            .map(|l| format!("its search line: {}", l.trim()))
            .unwrap_or_else(|| "it has no search line".to_string());
        DiscoveryFailed::NoSearchEntry(search)
    })
}

/// The discovery pod: agnhost `pause` on a Linux node, no tolerations, fit for any Pod Security
/// level (non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp) and with
/// limits (for namespaces whose quota requires them).
fn discovery_pod(image: &str, run_id: &str, tolerations: &[TestToleration]) -> Pod {
    let quantities = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.to_string())),
            ("memory".to_string(), Quantity(memory.to_string())),
        ])
    };
    Pod {
        metadata: ObjectMeta {
            name: Some(POD.to_string()),
            labels: Some(BTreeMap::from([(
                RUN_ID_LABEL.to_string(),
                run_id.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "pause".to_string(),
                image: Some(image.to_string()),
                args: Some(vec!["pause".to_string()]),
                resources: Some(ResourceRequirements {
                    requests: Some(quantities("10m", "16Mi")),
                    limits: Some(quantities("100m", "64Mi")),
                    ..Default::default()
                }),
                security_context: Some(SecurityContext {
                    allow_privilege_escalation: Some(false),
                    capabilities: Some(Capabilities {
                        drop: Some(vec!["ALL".to_string()]),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            node_selector: Some(BTreeMap::from([(
                crate::fixture::OS_LABEL.to_string(),
                Os::Linux.label().to_string(),
            )])),
            tolerations: (!tolerations.is_empty())
                .then(|| tolerations.iter().map(TestToleration::to_k8s).collect()),
            restart_policy: Some("Never".to_string()),
            termination_grace_period_seconds: Some(0),
            automount_service_account_token: Some(false),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(65534),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".to_string(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GKE pod in namespace `default` (project search domains after the cluster's).
    const GKE: &str = "search default.svc.cluster.local svc.cluster.local cluster.local \
                       c.my-project.internal google.internal\n\
                       nameserver 10.8.0.10\n\
                       options ndots:5\n";
    /// An EKS pod in namespace `shop`, custom cluster domain.
    const EKS: &str = "nameserver 172.20.0.10\n\
                       search shop.svc.eks.example.com svc.eks.example.com eks.example.com \
                       us-west-2.compute.internal\n\
                       options ndots:5\n";
    /// An AKS pod in namespace `he2e-x-1`, no options line.
    const AKS: &str = "search he2e-x-1.svc.cluster.local svc.cluster.local cluster.local \
                       abc.gx.internal.cloudapp.net\n\
                       nameserver 10.0.0.10\n";
    /// A host-network pod: the node's own resolver, no cluster entries.
    const HOST_NETWORK: &str = "# Generated by NetworkManager\n\
                                search ec2.internal\n\
                                nameserver 10.0.0.2\n\
                                options timeout:2 attempts:5\n";

    #[test]
    fn the_domain_follows_the_namespace_entry() {
        assert_eq!(
            from_resolv_conf(GKE, "default"),
            Some("cluster.local".into())
        );
        assert_eq!(
            from_resolv_conf(EKS, "shop"),
            Some("eks.example.com".into())
        );
        assert_eq!(
            from_resolv_conf(AKS, "he2e-x-1"),
            Some("cluster.local".into())
        );
    }

    #[test]
    fn another_namespace_still_finds_a_svc_entry_next_to_a_service_entry() {
        assert_eq!(
            from_resolv_conf(EKS, "elsewhere"),
            Some("eks.example.com".into())
        );
    }

    #[test]
    fn files_without_cluster_entries_give_nothing() {
        assert_eq!(from_resolv_conf(HOST_NETWORK, "default"), None);
        assert_eq!(from_resolv_conf("nameserver 10.0.0.10\n", "default"), None);
        // A lone `svc.x` with no `NS.svc.x` beside it is no cluster's search list.
        assert_eq!(
            from_resolv_conf("search svc.corp.example corp.example\n", "default"),
            None
        );
    }

    #[test]
    fn the_last_search_line_counts_and_trailing_dots_and_case_do_not() {
        let text = "search a.svc.old.example svc.old.example\n\
                    search Default.svc.Cluster.Example. svc.cluster.example. cluster.example.\n";
        assert_eq!(
            from_resolv_conf(text, "default"),
            Some("cluster.example".into())
        );
    }

    #[test]
    fn domains_are_dns_names() {
        assert_eq!(parse_domain("cluster.local"), Ok("cluster.local".into()));
        assert_eq!(parse_domain("cluster.local."), Ok("cluster.local".into()));
        assert_eq!(parse_domain("k8s-1.corp"), Ok("k8s-1.corp".into()));
        assert_eq!(parse_domain(""), Err(DomainError::Empty));
        assert_eq!(parse_domain("."), Err(DomainError::Empty));
        assert_eq!(
            parse_domain("bad_domain!"),
            Err(DomainError::BadLabel("bad_domain!".into()))
        );
        assert_eq!(
            parse_domain("a..b"),
            Err(DomainError::BadLabel(String::new()))
        );
        assert_eq!(
            parse_domain("-a.b"),
            Err(DomainError::BadLabel("-a".into()))
        );
        assert_eq!(
            parse_domain("Cluster.Local"),
            Err(DomainError::BadLabel("Cluster".into()))
        );
        let long_label = "a".repeat(64);
        assert_eq!(
            parse_domain(&long_label),
            Err(DomainError::BadLabel(long_label.clone()))
        );
        let long = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63),
        ]
        .join(".");
        assert_eq!(parse_domain(&long), Err(DomainError::TooLong(255)));
    }

    #[test]
    fn the_discovery_pod_fits_restricted_and_runs_on_linux_with_the_run_label() {
        let pod = discovery_pod("registry.k8s.io/e2e-test-images/agnhost:2.52", "r1", &[]);
        let json = serde_json::to_value(&pod).expect("serialises");
        assert!(crate::pod_security::needs(&json).is_empty(), "{json}");
        assert_eq!(json["spec"]["nodeSelector"]["kubernetes.io/os"], "linux");
        assert_eq!(json["metadata"]["labels"][RUN_ID_LABEL], "r1");
        assert!(json["spec"].get("tolerations").is_none());
        assert_eq!(json["spec"]["containers"][0]["args"][0], "pause");
    }
}
