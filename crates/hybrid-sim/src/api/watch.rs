//! Watches: newline-delimited JSON events (`ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`, `ERROR`)
//! in a 200 stream, filtered by namespace and selectors, resumable from a `resourceVersion`
//! (too old → an `ERROR` event carrying a 410 Status), ending at `timeoutSeconds`.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

use super::query::{ListOptions, Query};
use super::registry::ResourceDef;
use super::route::Target;
use super::status::ApiError;
use super::{table, ApiState};
use crate::faults::Fault;
use crate::store::{Change, ChangeKind, ObjectKey, StoreError};

/// How often a watch with `allowWatchBookmarks=true` sends a BOOKMARK.
const BOOKMARK_EVERY: Duration = Duration::from_secs(1);

/// Starts a watch; the events stream until timeout, shutdown, or the client leaves.
pub(crate) fn watch(
    state: &ApiState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let options = query.list_options()?;
    let start = match options.resource_version.as_deref() {
        _ if query.flag("sendInitialEvents") => None,
        None | Some("0") => None,
        Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
            ApiError::BadRequest(format!("invalid resourceVersion {rv:?}: not a number"))
        })?),
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(256);
    let mut w = Watch {
        def: target.def,
        namespace: target.namespace.clone(),
        options,
        known: HashSet::new(),
        last_rv: 0,
        as_table: table::wanted(headers),
        initial_events_end: query.flag("sendInitialEvents"),
        tx,
    };
    let state = state.clone();
    tokio::spawn(async move { w.run(state, start).await });
    let body = Body::from_stream(ReceiverStream::new(rx));
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

struct Watch {
    def: &'static ResourceDef,
    namespace: Option<String>,
    options: ListOptions,
    /// Objects the client was told about (to turn "no longer matches" into DELETED).
    known: HashSet<ObjectKey>,
    /// The newest `resourceVersion` this watch has processed (what a BOOKMARK reports).
    last_rv: u64,
    /// Objects (not BOOKMARK/ERROR) are sent as one-row Tables (`kubectl get -w`).
    as_table: bool,
    /// `sendInitialEvents=true` (streaming lists): a BOOKMARK annotated
    /// `k8s.io/initial-events-end` follows the initial ADDED events.
    initial_events_end: bool,
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
}

impl Watch {
    async fn run(&mut self, state: ApiState, start: Option<u64>) {
        let store = &state.store;
        let (backlog, mut feed) = match start {
            None => {
                let (items, rv) = store.list(self.def.store_key(), self.namespace.as_deref());
                let feed = match store.watch_from(rv) {
                    Ok(f) => f,
                    Err(e) => return self.gone(e).await,
                };
                self.last_rv = rv;
                let items: Vec<Value> = items
                    .into_iter()
                    .filter(|o| self.options.matches(o))
                    .collect();
                for item in items {
                    self.remember(&item);
                    if !self.send("ADDED", &item).await {
                        return;
                    }
                }
                if self.initial_events_end {
                    let mut bookmark = self.bookmark();
                    bookmark["metadata"]["annotations"] =
                        json!({"k8s.io/initial-events-end": "true"});
                    if !self.send("BOOKMARK", &bookmark).await {
                        return;
                    }
                }
                feed
            }
            Some(rv) => match store.watch_from(rv) {
                Ok(feed) => {
                    self.last_rv = rv;
                    if self.options.has_selectors() {
                        let (items, _) =
                            store.list(self.def.store_key(), self.namespace.as_deref());
                        for item in items {
                            if self.options.matches(&item) {
                                self.remember(&item);
                            }
                        }
                    }
                    feed
                }
                Err(e) => return self.gone(e).await,
            },
        };
        for change in backlog {
            if !self.handle(&change).await {
                return;
            }
        }
        let (deadline, drop_with_410) = self.deadline(&state);
        let mut bookmarks =
            tokio::time::interval_at(Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                _ = self.tx.closed() => return,
                _ = tokio::time::sleep_until(deadline) => {
                    if drop_with_410 {
                        let err = ApiError::Gone(format!("{} (watch dropped by fault watch-drop)", self.last_rv));
                        self.send("ERROR", &err.to_status()).await;
                    }
                    return;
                }
                _ = bookmarks.tick(), if self.options.bookmarks => {
                    if !self.send("BOOKMARK", &self.bookmark()).await {
                        return;
                    }
                }
                change = feed.recv() => match change {
                    Ok(change) => {
                        if !self.handle(&change).await {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let err = ApiError::Gone(format!("{} (watch fell behind)", self.last_rv));
                        self.send("ERROR", &err.to_status()).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    /// When the watch ends: `timeoutSeconds`, or earlier under `watch-drop` (and whether it ends
    /// with a 410 ERROR event).
    fn deadline(&self, state: &ApiState) -> (Instant, bool) {
        let far = Duration::from_secs(3600);
        let timeout = self
            .options
            .timeout_seconds
            .map(|t| Duration::from_secs(t.unsigned_abs()))
            .unwrap_or(far);
        if state.config.has(Fault::WatchDrop) {
            let drop_after = Duration::from_millis(rand::random_range(300..2000));
            if drop_after < timeout {
                return (Instant::now() + drop_after, rand::random_bool(0.4));
            }
        }
        (Instant::now() + timeout, false)
    }

    /// A BOOKMARK object at the newest processed version.
    fn bookmark(&self) -> Value {
        json!({
            "kind": self.def.kind,
            "apiVersion": self.def.api_version(),
            "metadata": {"resourceVersion": self.last_rv.to_string()},
        })
    }

    async fn gone(&mut self, err: StoreError) {
        let message = match err {
            StoreError::Gone { requested, oldest } => format!("{requested} ({oldest})"),
            other => other.to_string(),
        };
        self.send("ERROR", &ApiError::Gone(message).to_status())
            .await;
    }

    fn remember(&mut self, object: &Value) {
        if self.options.has_selectors() {
            if let Some(key) = key_of(self.def, object) {
                self.known.insert(key);
            }
        }
    }

    /// Sends what `change` means to this watch; `false` once the client is gone.
    async fn handle(&mut self, change: &Change) -> bool {
        self.last_rv = change.resource_version;
        if change.key.resource != self.def.store_key()
            || self
                .namespace
                .as_deref()
                .is_some_and(|ns| ns != change.key.namespace)
        {
            return true;
        }
        let object = change.object.as_ref();
        if !self.options.has_selectors() {
            return self.send(change.kind.as_watch_type(), object).await;
        }
        let matches = self.options.matches(object);
        let was_known = self.known.contains(&change.key);
        let kind = match (change.kind, matches, was_known) {
            (ChangeKind::Deleted, _, true) | (ChangeKind::Deleted, true, false) => {
                self.known.remove(&change.key);
                "DELETED"
            }
            (ChangeKind::Deleted, false, false) => return true,
            (_, true, known) => {
                self.known.insert(change.key.clone());
                if known {
                    "MODIFIED"
                } else {
                    "ADDED"
                }
            }
            (_, false, true) => {
                self.known.remove(&change.key);
                "DELETED"
            }
            (_, false, false) => return true,
        };
        self.send(kind, object).await
    }

    async fn send(&self, kind: &str, object: &Value) -> bool {
        let line = if self.as_table && matches!(kind, "ADDED" | "MODIFIED" | "DELETED") {
            let table = table::table(self.def, std::slice::from_ref(object), None);
            json!({"type": kind, "object": table})
        } else {
            json!({"type": kind, "object": object})
        };
        let mut line = line.to_string();
        line.push('\n');
        self.tx.send(Ok(Bytes::from(line))).await.is_ok()
    }
}

fn key_of(def: &ResourceDef, object: &Value) -> Option<ObjectKey> {
    let meta = &object["metadata"];
    Some(ObjectKey::new(
        def.store_key(),
        meta["namespace"].as_str().unwrap_or_default(),
        meta["name"].as_str()?,
    ))
}
