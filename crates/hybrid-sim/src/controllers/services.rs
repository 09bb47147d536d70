//! Services: ClusterIP allocation (10.96.x.y), NodePort allocation (30000-32767), and the
//! Endpoints and `discovery.k8s.io/v1` EndpointSlices of every Service with a selector, built
//! from the matching pods that have an IP (Ready ones as ready addresses, whatever their OS).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{json, Value};

use crate::config::SimConfig;
use crate::meta;
use crate::network::NODE_PORT_RANGE;
use crate::runtime::Runtime;
use crate::store::Store;

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        .collect()
}

fn used_cluster_ips(services: &[Value]) -> HashSet<String> {
    services
        .iter()
        .filter_map(|s| s["spec"]["clusterIP"].as_str().map(str::to_string))
        .collect()
}

fn used_node_ports(services: &[Value]) -> HashSet<u64> {
    services
        .iter()
        .flat_map(|s| s["spec"]["ports"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["nodePort"].as_u64())
        .collect()
}

/// Serializes allocations: the API request path and the controller both allocate, and two
/// allocations at once could hand the same address to two Services.
static ALLOCATING: Mutex<()> = Mutex::new(());

/// Gives Services without addresses their ClusterIP and NodePorts.
pub(crate) fn allocate(store: &Store) {
    let _one_at_a_time = ALLOCATING.lock().unwrap_or_else(PoisonError::into_inner);
    let (services, _) = store.list("services", None);
    let mut ips = used_cluster_ips(&services);
    let mut ports = used_node_ports(&services);
    for svc in &services {
        let ty = svc["spec"]["type"]
            .as_str()
            .unwrap_or("ClusterIP")
            .to_string();
        if ty == "ExternalName" {
            continue;
        }
        let needs_ip = svc["spec"]["clusterIP"]
            .as_str()
            .unwrap_or_default()
            .is_empty();
        let wants_node_ports = ty == "NodePort" || ty == "LoadBalancer";
        let needs_ports = wants_node_ports
            && svc["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["nodePort"].as_u64().is_none());
        let needs_defaults = svc["spec"]["type"].is_null()
            || svc["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["protocol"].is_null() || p["targetPort"].is_null());
        if !(needs_ip || needs_ports || needs_defaults) {
            continue;
        }
        let ip = if needs_ip {
            (1..=255u32)
                .flat_map(|a| (1..=254u32).map(move |b| format!("10.96.{a}.{b}")))
                .find(|ip| !ips.contains(ip))
        } else {
            None
        };
        if let Some(ip) = &ip {
            ips.insert(ip.clone());
        }
        let ns = meta::namespace(svc);
        let name = meta::name(svc);
        let mut new_ports = Vec::new();
        for p in svc["spec"]["ports"].as_array().into_iter().flatten() {
            let mut p = p.clone();
            if wants_node_ports && p["nodePort"].as_u64().is_none() {
                if let Some(np) = NODE_PORT_RANGE
                    .map(u64::from)
                    .find(|np| !ports.contains(np))
                {
                    ports.insert(np);
                    p["nodePort"] = json!(np);
                }
            }
            if p["protocol"].is_null() {
                p["protocol"] = json!("TCP");
            }
            if p["targetPort"].is_null() {
                p["targetPort"] = p["port"].clone();
            }
            new_ports.push(p);
        }
        let _ = store.modify("services", ns, name, |s| {
            if let Some(ip) = &ip {
                if !s["spec"]["clusterIP"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty()
                {
                    return false;
                }
                *super::field(s, &["spec", "clusterIP"]) = json!(ip);
                *super::field(s, &["spec", "clusterIPs"]) = json!([ip]);
            }
            if s["spec"]["type"].is_null() {
                *super::field(s, &["spec", "type"]) = json!("ClusterIP");
            }
            *super::field(s, &["spec", "ports"]) = json!(new_ports);
            if s["spec"]["sessionAffinity"].is_null() {
                *super::field(s, &["spec", "sessionAffinity"]) = json!("None");
            }
            true
        });
    }
}

fn pod_is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// The container port a Service port targets on one pod.
fn target_port(svc_port: &Value, pod: &Value) -> Option<u64> {
    match &svc_port["targetPort"] {
        Value::Number(n) => n.as_u64(),
        Value::String(name) => pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
            .find(|p| p["name"] == name.as_str())
            .and_then(|p| p["containerPort"].as_u64())
            .or_else(|| name.parse().ok()),
        _ => svc_port["port"].as_u64(),
    }
}

/// Rebuilds Endpoints and EndpointSlices of every Service with a selector.
pub(crate) fn reconcile_endpoints(store: &Store, config: &SimConfig) {
    // Fault `no-endpoints`: no pod ever backs a Service.
    let no_endpoints = config.has(crate::faults::Fault::NoEndpoints);
    let (services, _) = store.list("services", None);
    let (pods, _) = store.list("pods", None);
    for svc in &services {
        let selector = labels(&svc["spec"]["selector"]);
        if selector.is_empty() {
            continue;
        }
        let ns = meta::namespace(svc);
        let name = meta::name(svc);
        let members: Vec<&Value> = pods
            .iter()
            .filter(|p| p["metadata"]["namespace"] == ns)
            .filter(|p| {
                let l = labels(&p["metadata"]["labels"]);
                selector.iter().all(|(k, v)| l.get(k) == Some(v))
            })
            .filter(|p| {
                p["status"]["podIP"]
                    .as_str()
                    .is_some_and(|ip| !ip.is_empty())
                    && !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
            })
            .filter(|_| !no_endpoints)
            .collect();
        let svc_ports: Vec<Value> = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
        let ports: Vec<Value> = svc_ports
            .iter()
            .map(|sp| {
                let port = members
                    .iter()
                    .find_map(|p| target_port(sp, p))
                    .or_else(|| sp["targetPort"].as_u64())
                    .or_else(|| sp["port"].as_u64())
                    .unwrap_or(0);
                let mut p =
                    json!({"port": port, "protocol": sp["protocol"].as_str().unwrap_or("TCP")});
                if let Some(n) = sp["name"].as_str() {
                    p["name"] = json!(n);
                }
                p
            })
            .collect();
        let address = |p: &Value| {
            json!({
                "ip": p["status"]["podIP"],
                "nodeName": p["spec"]["nodeName"],
                "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"],
                              "uid": p["metadata"]["uid"]},
            })
        };
        let serving = |p: &Value| !meta::is_terminating(p);
        let ready: Vec<Value> = members
            .iter()
            .filter(|p| serving(p) && pod_is_ready(p))
            .map(|p| address(p))
            .collect();
        let not_ready: Vec<Value> = members
            .iter()
            .filter(|p| !serving(p) || !pod_is_ready(p))
            .map(|p| address(p))
            .collect();
        let subsets = if ready.is_empty() && not_ready.is_empty() {
            json!([])
        } else {
            let mut s = json!({"ports": ports});
            if !ready.is_empty() {
                s["addresses"] = json!(ready);
            }
            if !not_ready.is_empty() {
                s["notReadyAddresses"] = json!(not_ready);
            }
            json!([s])
        };
        let owner = json!([{"apiVersion": "v1", "kind": "Service", "name": name,
                             "uid": svc["metadata"]["uid"], "controller": true,
                             "blockOwnerDeletion": true}]);
        upsert(
            store,
            "endpoints",
            ns,
            name,
            |obj| {
                if obj["subsets"] == subsets {
                    return false;
                }
                obj["subsets"] = subsets.clone();
                true
            },
            || {
                json!({"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": name, "labels": {"kubernetes.io/service-name": name}},
                     "subsets": subsets})
            },
        );
        let endpoints: Vec<Value> = members
            .iter()
            .map(|p| {
                let terminating = !serving(p);
                let ready = !terminating && pod_is_ready(p);
                json!({
                    "addresses": [p["status"]["podIP"]],
                    "conditions": {"ready": ready, "serving": pod_is_ready(p), "terminating": terminating},
                    "nodeName": p["spec"]["nodeName"],
                    "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"],
                                  "uid": p["metadata"]["uid"]},
                })
            })
            .collect();
        let slice_name = format!("{name}-sim");
        upsert(
            store,
            "endpointslices",
            ns,
            &slice_name,
            |obj| {
                if obj["endpoints"] == json!(endpoints) && obj["ports"] == json!(ports) {
                    return false;
                }
                obj["endpoints"] = json!(endpoints);
                obj["ports"] = json!(ports);
                true
            },
            || {
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"name": slice_name, "ownerReferences": owner,
                                  "labels": {"kubernetes.io/service-name": name,
                                             "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
                     "addressType": "IPv4", "endpoints": endpoints, "ports": ports})
            },
        );
    }
    // Endpoints of Services that are gone.
    for resource in ["endpoints", "endpointslices"] {
        let (objs, _) = store.list(resource, None);
        for o in objs {
            let ns = meta::namespace(&o);
            let svc = o["metadata"]["labels"]["kubernetes.io/service-name"].as_str();
            let Some(svc) = svc else { continue };
            if store.get("services", ns, svc).is_none() {
                if let Some(n) = o["metadata"]["name"].as_str() {
                    let _ = store.remove(resource, ns, n);
                }
            }
        }
    }
}

fn upsert(
    store: &Store,
    resource: &str,
    ns: &str,
    name: &str,
    edit: impl FnOnce(&mut Value) -> bool,
    make: impl FnOnce() -> Value,
) {
    if store.get(resource, ns, name).is_some() {
        let _ = store.modify(resource, ns, name, edit);
    } else {
        let _ = store.create(resource, ns, make());
    }
}

/// Allocates addresses and rebuilds endpoints when Services or pods change.
pub(crate) async fn run(rt: Arc<Runtime>) {
    let _listeners = super::nodeports::spawn(rt.clone());
    super::on_changes(&rt.store, &["pods", "services"], || {
        allocate(&rt.store);
        reconcile_endpoints(&rt.store, &rt.config);
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_get_addresses_and_ready_endpoints() {
        let store = Store::new();
        store
            .create(
                "services",
                "t",
                json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "selector": {"app": "web"},
                       "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
            )
            .unwrap();
        for (name, ready) in [("a", "True"), ("b", "False")] {
            store
                .create(
                    "pods",
                    "t",
                    json!({"metadata": {"name": name, "labels": {"app": "web"}},
                           "spec": {"nodeName": "n", "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
                           "status": {"podIP": format!("10.244.0.{}", if ready == "True" {2} else {3}),
                                      "conditions": [{"type": "Ready", "status": ready}]}}),
                )
                .unwrap();
        }
        allocate(&store);
        reconcile_endpoints(&store, &SimConfig::default());
        let svc = store.get("services", "t", "web").unwrap();
        assert_eq!(svc["spec"]["clusterIP"], "10.96.1.1");
        assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30000);
        let ep = store.get("endpoints", "t", "web").unwrap();
        assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "10.244.0.2");
        assert_eq!(ep["subsets"][0]["notReadyAddresses"][0]["ip"], "10.244.0.3");
        assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8080);
        let slice = store.get("endpointslices", "t", "web-sim").unwrap();
        assert_eq!(slice["endpoints"].as_array().unwrap().len(), 2);
    }
}
