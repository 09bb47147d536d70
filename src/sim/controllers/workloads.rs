//! Deployments → ReplicaSets → Pods and Jobs → Pods (not modeled yet: the task only idles).

use std::sync::Arc;

use crate::sim::store::Store;

pub async fn run(store: Arc<Store>) {
    let _ = store;
    std::future::pending::<()>().await;
}
