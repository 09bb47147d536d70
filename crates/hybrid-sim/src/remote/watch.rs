//! Fills the mirror: one kube-rs watcher per mirrored resource puts the real API server's
//! objects into the store (list, then watch; a re-list drops what disappeared meanwhile).

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use tokio::sync::oneshot;

use super::resources;
use crate::store::Store;

/// Mirrors `plural` into `store` until the task is aborted. `synced` fires after the first
/// complete list.
pub(crate) async fn mirror(
    client: kube::Client,
    store: Arc<Store>,
    plural: &'static str,
    synced: oneshot::Sender<()>,
) {
    let (resource, api) = match (
        resources::api_resource(plural),
        resources::api(&client, plural, ""),
    ) {
        (Ok(resource), Ok(api)) => (resource, api),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot mirror");
            return;
        }
    };
    let mut synced = Some(synced);
    let mut listed = HashSet::new();
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => listed.clear(),
            Ok(Event::InitApply(object)) => {
                if let Some(value) = resources::to_stored(&resource, &object) {
                    if let Some(key) = Store::mirror_key(plural, &value) {
                        listed.insert(key);
                    }
                    store.mirror_apply(plural, value);
                }
            }
            Ok(Event::InitDone) => {
                store.mirror_retain(plural, &listed);
                if let Some(synced) = synced.take() {
                    let _ = synced.send(());
                }
            }
            Ok(Event::Apply(object)) => {
                if let Some(value) = resources::to_stored(&resource, &object) {
                    store.mirror_apply(plural, value);
                }
            }
            Ok(Event::Delete(object)) => {
                if let Some(value) = resources::to_stored(&resource, &object) {
                    store.mirror_delete(plural, &value);
                }
            }
            Err(e) => tracing::warn!(resource = plural, error = %e, "watch failed; retrying"),
        }
    }
}
