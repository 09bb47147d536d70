//! What every test module here needs: a namespace that is ready for pods.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::json;

/// Creates namespace `name` and waits (at most 10 s) for its `default` ServiceAccount, which a
/// controller adds moments later, as on a real cluster: until then pods are refused.
pub(crate) async fn create_namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), name);
    let present =
        kube::runtime::wait::await_condition(accounts, "default", |sa: Option<&ServiceAccount>| {
            sa.is_some()
        });
    tokio::time::timeout(Duration::from_secs(10), present)
        .await
        .expect("the default ServiceAccount appears")
        .expect("watching for it works");
}
