//! The storage provisioner: binds each PersistentVolumeClaim of the default (or a named,
//! existing) StorageClass to a new PersistentVolume `pvc-<uid>`; claims without a class stay
//! Pending with a `FailedBinding` event. A deleted claim's PV (reclaim policy Delete) is removed
//! with its contents. Fault `provisioner-stuck`: claims of the simulated provisioner stay
//! Pending with a Warning `ProvisioningFailed` event at each retry.
//!
//! Under a real control plane (the store is a mirror) it is only what a CSI external-provisioner
//! is: it creates the PV for claims of its own class and reports it; binding the two, claim
//! phases and the events about claims of other classes are the real PV controller's.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::events::{self, Source};
use super::nodes::PROVISIONER;
use crate::faults::Fault;
use crate::meta;
use crate::runtime::Runtime;
use crate::store::{ChangeKind, Store};

const COMPONENT: &str = "persistentvolume-controller";

fn default_class(store: &Store) -> Option<String> {
    store
        .list("storageclasses", None)
        .0
        .into_iter()
        .find(|c| {
            c["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
        })
        .and_then(|c| c["metadata"]["name"].as_str().map(str::to_string))
}

/// The DefaultStorageClass admission plugin: a new claim that names no class (not even `""`)
/// gets the default one, if there is one.
pub(crate) fn admit_claim(store: &Store, claim: &mut Value) {
    if claim["spec"]["storageClassName"].is_null() && claim["spec"].is_object() {
        if let Some(class) = default_class(store) {
            claim["spec"]["storageClassName"] = json!(class);
        }
    }
}

/// One provisioning pass over unbound claims. `warned` keeps claims already told why not.
pub(crate) async fn provision(rt: &Runtime, warned: &mut HashSet<String>) {
    let (claims, _) = rt.store.list("persistentvolumeclaims", None);
    // Under a real control plane, the PV controller binds, sets phases and explains claims
    // that are not ours.
    let external = rt.store.is_mirror();
    for pvc in claims {
        if pvc["status"]["phase"] == "Bound" || meta::is_terminating(&pvc) {
            continue;
        }
        if external
            && !pvc["spec"]["volumeName"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        {
            continue;
        }
        let ns = meta::namespace(&pvc).to_string();
        let name = meta::name(&pvc).to_string();
        let uid = meta::uid(&pvc).to_string();
        let class = match pvc["spec"]["storageClassName"].as_str() {
            Some(c) => Some(c.to_string()).filter(|c| !c.is_empty()),
            None => default_class(&rt.store),
        };
        let mut tell = |reason: &str, warning: bool, message: &str| {
            if external && reason != "Provisioning" {
                return;
            }
            let key = format!("{uid}/{reason}");
            if warned.insert(key) {
                events::record(
                    &rt.store,
                    "PersistentVolumeClaim",
                    &pvc,
                    Source::Controller(COMPONENT),
                    warning,
                    reason,
                    message,
                );
            }
            if external {
                return;
            }
            let _ = rt.store.modify("persistentvolumeclaims", &ns, &name, |c| {
                if c["status"]["phase"] == "Pending" {
                    return false;
                }
                *super::field(c, &["status", "phase"]) = json!("Pending");
                true
            });
        };
        let Some(class) = class else {
            tell(
                "FailedBinding",
                false,
                "no persistent volumes available for this claim and no storage class is set",
            );
            continue;
        };
        let Some(sc) = rt.store.get("storageclasses", "", &class) else {
            tell(
                "ProvisioningFailed",
                true,
                &format!("storageclass.storage.k8s.io \"{class}\" not found"),
            );
            continue;
        };
        if sc["provisioner"] != PROVISIONER {
            tell(
                "ExternalProvisioning",
                false,
                &format!(
                    "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator.",
                    sc["provisioner"].as_str().unwrap_or_default()
                ),
            );
            continue;
        }
        if rt.config.has(Fault::ProvisionerStuck) {
            tell(
                "Provisioning",
                false,
                &format!("External provisioner is provisioning volume for claim \"{ns}/{name}\""),
            );
            // Like a CSI external-provisioner that retries: one Warning per try (aggregated).
            events::record(
                &rt.store,
                "PersistentVolumeClaim",
                &pvc,
                Source::Controller(PROVISIONER),
                true,
                "ProvisioningFailed",
                &format!(
                    "failed to provision volume with StorageClass \"{class}\": rpc error: code = ResourceExhausted desc = no capacity left in the simulated storage pool"
                ),
            );
            continue;
        }
        tokio::time::sleep(rt.config.delay(rt.config.latency)).await;
        let pv_name = format!("pvc-{uid}");
        let size = pvc["spec"]["resources"]["requests"]["storage"].clone();
        let size = if size.is_null() { json!("1Gi") } else { size };
        let modes = if pvc["spec"]["accessModes"].is_array() {
            pvc["spec"]["accessModes"].clone()
        } else {
            json!(["ReadWriteOnce"])
        };
        let reclaim = sc["reclaimPolicy"].as_str().unwrap_or("Delete");
        let pv = json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": pv_name,
                         "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": modes,
                "persistentVolumeReclaimPolicy": reclaim,
                "storageClassName": class,
                "volumeMode": "Filesystem",
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                             "namespace": ns, "name": name, "uid": uid},
                "csi": {"driver": PROVISIONER, "volumeHandle": pv_name, "fsType": "ext4"},
            },
            "status": {"phase": "Bound"},
        });
        if external {
            if rt.store.create("persistentvolumes", "", pv).is_ok() {
                events::record(
                    &rt.store,
                    "PersistentVolumeClaim",
                    &pvc,
                    Source::Controller(PROVISIONER),
                    false,
                    "ProvisioningSucceeded",
                    &format!("Successfully provisioned volume {pv_name}"),
                );
            }
            continue;
        }
        let _ = rt.store.create("persistentvolumes", "", pv);
        let bound = rt.store.modify("persistentvolumeclaims", &ns, &name, |c| {
            if c["metadata"]["uid"] != uid.as_str() || c["status"]["phase"] == "Bound" {
                return false;
            }
            *super::field(c, &["spec", "volumeName"]) = json!(pv_name);
            *super::field(c, &["spec", "storageClassName"]) = json!(class);
            *super::field(
                c,
                &["metadata", "annotations", "pv.kubernetes.io/bind-completed"],
            ) = json!("yes");
            *super::field(
                c,
                &[
                    "metadata",
                    "annotations",
                    "pv.kubernetes.io/bound-by-controller",
                ],
            ) = json!("yes");
            c["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"] =
                json!(PROVISIONER);
            c["status"] =
                json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": size}});
            true
        });
        if let Ok(c) = bound {
            events::record(
                &rt.store,
                "PersistentVolumeClaim",
                &c,
                Source::Controller(PROVISIONER),
                false,
                "ProvisioningSucceeded",
                &format!("Successfully provisioned volume {pv_name}"),
            );
        }
    }
}

/// Removes the PV of a deleted claim (reclaim policy Delete) and its contents.
fn release(rt: &Runtime, claim: &Value) {
    let uid = &claim["metadata"]["uid"];
    for pv in rt.store.list("persistentvolumes", None).0 {
        if &pv["spec"]["claimRef"]["uid"] != uid {
            continue;
        }
        let Some(name) = pv["metadata"]["name"].as_str() else {
            continue;
        };
        if pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain" {
            let _ = rt.store.modify("persistentvolumes", "", name, |p| {
                *super::field(p, &["status", "phase"]) = json!("Released");
                true
            });
        } else {
            let _ = rt.store.remove("persistentvolumes", "", name);
            rt.wipe_volume(name);
        }
    }
}

pub(crate) async fn run(rt: Arc<Runtime>) {
    let mut feed = rt.store.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut warned = HashSet::new();
    loop {
        tokio::select! {
            change = feed.recv() => match change {
                Ok(c) if c.key.resource == "persistentvolumeclaims" && c.kind == ChangeKind::Deleted => {
                    release(&rt, &c.object);
                    continue;
                }
                Ok(c) if matches!(c.key.resource.as_str(), "persistentvolumeclaims" | "storageclasses") => {}
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {}
        }
        provision(&rt, &mut warned).await;
    }
}
