//! The controller-manager's serviceaccount controller: every namespace that is not terminating
//! gets a `default` ServiceAccount, moments after it appears (until then the ServiceAccount
//! admission refuses its pods). None for new namespaces under `service-accounts-missing`.

use std::sync::Arc;

use serde_json::json;

use crate::config::SimConfig;
use crate::faults::Fault;
use crate::meta;
use crate::store::Store;

/// Gives each open namespace without one its `default` ServiceAccount.
pub(crate) fn reconcile(store: &Store) {
    for ns in store.list("namespaces", None).0 {
        if meta::is_terminating(&ns) || ns["status"]["phase"] == "Terminating" {
            continue;
        }
        let name = meta::name(&ns);
        if store.get("serviceaccounts", name, "default").is_none() {
            // Losing a race with another pass is fine.
            let _ = store.create("serviceaccounts", name, default_account());
        }
    }
}

fn default_account() -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
}

/// Runs `reconcile` as namespaces change, unless the fault keeps the controller down.
pub(crate) async fn run(store: Arc<Store>, config: SimConfig) {
    if config.has(Fault::ServiceAccountsMissing) {
        return;
    }
    super::on_changes(&store, &["namespaces"], || reconcile(&store)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_namespaces_get_a_default_account_and_terminating_ones_do_not() {
        let store = Store::new();
        store
            .create("namespaces", "", json!({"metadata": {"name": "a"}}))
            .unwrap();
        store
            .create(
                "namespaces",
                "",
                json!({"metadata": {"name": "b"}, "status": {"phase": "Terminating"}}),
            )
            .unwrap();
        reconcile(&store);
        assert!(store.get("serviceaccounts", "a", "default").is_some());
        assert!(store.get("serviceaccounts", "b", "default").is_none());
    }
}
