//! The simulated cluster's API server, driven with `kube::Client` over loopback: CRUD, Status
//! errors, patches (merge, strategic, JSON Patch), selectors, watch semantics, graceful
//! deletion, namespace termination, garbage collection and the API-level faults. None of these
//! tests needs the kubelet: pods are either unbound (Pending) or bound by hand to a node no
//! kubelet serves.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use hybrid_sim::{Fault, SimCluster, SimConfig};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, ResourceExt};
use serde_json::json;

/// A node name no kubelet serves: pods bound to it stay until deleted with grace 0.
const GHOST_NODE: &str = "ghost-node";

async fn cluster(faults: &[Fault]) -> (SimCluster, Client) {
    let config = SimConfig {
        faults: faults.iter().copied().collect::<BTreeSet<_>>(),
        // Nodes and controllers are not what these tests look at.
        linux_nodes: 0,
        windows_nodes: 0,
        ..SimConfig::default()
    };
    let sim = SimCluster::start(config).await.expect("sim starts");
    let client = sim
        .client()
        .await
        .expect("a client for the simulated cluster");
    (sim, client)
}

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"},
    }))
    .unwrap()
}

fn pod(name: &str, node: Option<&str>) -> Pod {
    let mut p = json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}]},
    });
    if let Some(node) = node {
        p["spec"]["nodeName"] = json!(node);
    }
    serde_json::from_value(p).unwrap()
}

async fn namespace(client: &Client, name: &str) {
    crate::common::create_namespace(client, name).await;
}

/// The API error's HTTP code and reason.
fn api_error(err: kube::Error) -> (u16, String, String) {
    match err {
        kube::Error::Api(status) => (status.code, status.reason.clone(), status.message.clone()),
        other => panic!("expected an API Status error, got {other:?}"),
    }
}

/// A raw request; the answer's code, reason and message if it failed.
async fn raw(client: &Client, req: http::Request<Vec<u8>>) -> Result<String, (u16, String)> {
    client.request_text(req).await.map_err(|e| {
        let (code, reason, _) = api_error(e);
        (code, reason)
    })
}

#[tokio::test]
async fn version_and_discovery() {
    let (_sim, client) = cluster(&[]).await;
    let version = client.apiserver_version().await.unwrap();
    assert!(version.git_version.starts_with("v1.33."), "{version:?}");
    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    let groups: Vec<String> = discovery.groups().map(|g| g.name().to_string()).collect();
    for g in ["", "apps", "batch", "discovery.k8s.io", "storage.k8s.io"] {
        assert!(groups.iter().any(|x| x == g), "{g} in {groups:?}");
    }
    let (ar, caps) = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .find(|(ar, _)| ar.plural == "pods")
        .expect("pods discovered");
    assert_eq!(ar.kind, "Pod");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
}

#[tokio::test]
async fn configmap_crud_conflicts_and_patches() {
    let (_sim, client) = cluster(&[]).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &cm("a", json!({"app": "x"})))
        .await
        .unwrap();
    let rv1 = created.resource_version().unwrap();
    assert!(created.uid().is_some() && created.creation_timestamp().is_some());

    let (code, reason, _) = api_error(
        api.create(&PostParams::default(), &cm("a", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));

    let mut changed = created.clone();
    changed.data = Some([("k".to_string(), "w".to_string())].into());
    let replaced = api
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_ne!(replaced.resource_version().unwrap(), rv1);
    // `changed` still carries rv1: stale.
    let (code, reason, _) = api_error(
        api.replace("a", &PostParams::default(), &changed)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));

    let patched = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"tier": "t"}}, "data": {"k": null, "n": "1"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(patched.labels().get("tier").map(String::as_str), Some("t"));
    assert_eq!(patched.labels().get("app").map(String::as_str), Some("x"));
    assert_eq!(
        patched.data,
        Some([("n".to_string(), "1".to_string())].into())
    );

    let strategic = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Strategic(json!({"data": {"s": "2"}})),
        )
        .await
        .unwrap();
    assert_eq!(strategic.data.unwrap().len(), 2);

    let json_patch = |content_type: &str, body: &[u8]| {
        http::Request::patch("/api/v1/namespaces/default/configmaps/a")
            .header("content-type", content_type)
            .body(body.to_vec())
            .unwrap()
    };
    let added: ConfigMap = client
        .request(json_patch(
            "application/json-patch+json",
            br#"[{"op": "test", "path": "/data/s", "value": "2"},
                 {"op": "add", "path": "/data/x", "value": "1"},
                 {"op": "remove", "path": "/data/n"}]"#,
        ))
        .await
        .unwrap();
    assert_eq!(
        added.data,
        Some(
            [("s", "2"), ("x", "1")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into()
        )
    );
    let failed_test = client
        .request::<serde_json::Value>(json_patch(
            "application/json-patch+json",
            br#"[{"op": "test", "path": "/data/s", "value": "3"},
                 {"op": "add", "path": "/data/y", "value": "1"}]"#,
        ))
        .await
        .unwrap_err();
    let (code, reason, message) = api_error(failed_test);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(message.contains("value did not match"), "{message}");
    assert_eq!(
        api.get("a").await.unwrap().data.unwrap().len(),
        2,
        "a failed JSON Patch changes nothing"
    );
    let err = client
        .request::<serde_json::Value>(json_patch("application/apply-patch+yaml", b"data: {}"))
        .await
        .unwrap_err();
    let (code, reason, message) = api_error(err);
    assert_eq!((code, reason.as_str()), (415, "UnsupportedMediaType"));
    assert!(message.contains("json-patch+json"), "{message}");

    let generated = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"generateName": "gen-"}})).unwrap(),
        )
        .await
        .unwrap();
    assert!(generated.name_any().starts_with("gen-"));

    let deleted = api.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(deleted.is_right(), "configmaps answer a Status on delete");
    let (code, reason, _) = api_error(api.get("a").await.unwrap_err());
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    let list = api.list(&ListParams::default()).await.unwrap();
    assert!(list
        .metadata
        .resource_version
        .is_some_and(|rv| !rv.is_empty()));
    assert_eq!(list.items.len(), 1);
}

#[tokio::test]
async fn invalid_objects_are_422_with_field_paths_and_change_nothing() {
    let (sim, client) = cluster(&[]).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let before = sim.store().resource_version();
    let cases = [
        (
            json!({"metadata": {"name": "p"}, "spec": {"containers": []}}),
            "spec.containers",
        ),
        (
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "Web", "image": "x"}]}}),
            "spec.containers[0].name",
        ),
        (
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "web"}]}}),
            "spec.containers[0].image",
        ),
        (
            json!({"metadata": {"name": "Not_A_Name"}, "spec": {"containers": [{"name": "w", "image": "x"}]}}),
            "metadata.name",
        ),
    ];
    for (body, field) in cases {
        let req = http::Request::post("/api/v1/namespaces/default/pods")
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
            .unwrap();
        let err = client.request::<serde_json::Value>(req).await.unwrap_err();
        let kube::Error::Api(status) = err else {
            panic!("{err:?}")
        };
        assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
        assert!(
            status.message.contains(field),
            "{field}: {}",
            status.message
        );
    }
    // The typed client reports the same.
    let (code, _, message) = api_error(
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "q"}, "spec": {"containers": []}}))
                .unwrap(),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert!(
        message.contains("spec.containers: Required value"),
        "{message}"
    );
    assert_eq!(sim.store().resource_version(), before, "nothing stored");
    assert!(pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn raw_requests_get_status_errors() {
    let (_sim, client) = cluster(&[]).await;
    let get = |path: &str| http::Request::get(path).body(Vec::new()).unwrap();
    assert_eq!(
        raw(&client, get("/api/v1/widgets")).await.unwrap_err(),
        (404, "NotFound".to_string())
    );
    assert_eq!(
        raw(&client, get("/apis/example.com/v1/things"))
            .await
            .unwrap_err(),
        (404, "NotFound".to_string())
    );
    let malformed = http::Request::post("/api/v1/namespaces/default/configmaps")
        .header("content-type", "application/json")
        .body(b"{\"metadata\": {".to_vec())
        .unwrap();
    assert_eq!(
        raw(&client, malformed).await.unwrap_err(),
        (400, "BadRequest".to_string())
    );
    let put_collection = http::Request::put("/api/v1/namespaces/default/configmaps")
        .body(b"{}".to_vec())
        .unwrap();
    assert_eq!(
        raw(&client, put_collection).await.unwrap_err(),
        (405, "MethodNotAllowed".to_string())
    );
    let missing_ns = http::Request::post("/api/v1/namespaces/nowhere/configmaps")
        .header("content-type", "application/json")
        .body(json!({"metadata": {"name": "c"}}).to_string().into_bytes())
        .unwrap();
    assert_eq!(
        raw(&client, missing_ns).await.unwrap_err(),
        (404, "NotFound".to_string())
    );
    let mismatch = http::Request::post("/api/v1/namespaces/default/configmaps")
        .header("content-type", "application/json")
        .body(
            json!({"metadata": {"name": "c", "namespace": "other"}})
                .to_string()
                .into_bytes(),
        )
        .unwrap();
    assert_eq!(
        raw(&client, mismatch).await.unwrap_err(),
        (400, "BadRequest".to_string())
    );
    // The body of an error is a full Status with `code`.
    let req = http::Request::get("/api/v1/namespaces/default/configmaps/none")
        .body(Vec::new())
        .unwrap();
    let err = client.request::<serde_json::Value>(req).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(status.code, 404);
    assert_eq!(status.message, "configmaps \"none\" not found");
    // Pod logs of a pod that does not exist.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (code, _, _) = api_error(pods.logs("none", &Default::default()).await.unwrap_err());
    assert_eq!(code, 404);
}

#[tokio::test]
async fn label_and_field_selectors() {
    let (_sim, client) = cluster(&[]).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, node) in [("a", Some("node-1")), ("b", Some("node-2")), ("c", None)] {
        pods.create(&PostParams::default(), &pod(name, node))
            .await
            .unwrap();
    }
    let names = |list: kube::core::ObjectList<Pod>| -> Vec<String> {
        list.items.iter().map(|p| p.name_any()).collect()
    };
    let by_labels = |sel: &str| ListParams::default().labels(sel);
    let by_fields = |sel: &str| ListParams::default().fields(sel);
    for (params, want) in [
        (by_labels("app=a"), vec!["a"]),
        (by_labels("app in (a, c)"), vec!["a", "c"]),
        (by_labels("app notin (a)"), vec!["b", "c"]),
        (by_labels("app,!tier"), vec!["a", "b", "c"]),
        (by_labels("app!=b"), vec!["a", "c"]),
        (by_fields("spec.nodeName=node-1"), vec!["a"]),
        (by_fields("spec.nodeName=="), vec!["c"]),
        (by_fields("spec.nodeName!=node-1"), vec!["b", "c"]),
        (
            by_fields("metadata.name=b,metadata.namespace=default"),
            vec!["b"],
        ),
        (by_fields("status.phase=Pending"), vec!["a", "b", "c"]),
        (by_fields("status.phase=Running"), vec![]),
    ] {
        let got = names(pods.list(&params).await.unwrap());
        assert_eq!(
            got, want,
            "{:?} {:?}",
            params.label_selector, params.field_selector
        );
    }
    let all: Api<Pod> = Api::all(client.clone());
    assert_eq!(
        names(all.list(&by_fields("metadata.name=a")).await.unwrap()),
        ["a"]
    );
    let (code, _, _) = api_error(pods.list(&by_labels("app in x")).await.unwrap_err());
    assert_eq!(code, 400);
}

#[tokio::test]
async fn pod_status_subresource() {
    let (_sim, client) = cluster(&[]).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let created = pods
        .create(&PostParams::default(), &pod("s", None))
        .await
        .unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
    // Status written through the main resource is ignored ...
    let p = pods
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"phase": "Running"}, "metadata": {"labels": {"x": "1"}}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(p.status.as_ref().unwrap().phase.as_deref(), Some("Pending"));
    assert_eq!(p.labels().get("x").map(String::as_str), Some("1"));
    // ... and taken through `status`, which leaves the rest alone.
    let p = pods
        .patch_status(
            "s",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"phase": "Running"}, "metadata": {"labels": {"y": "1"}}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(p.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
    assert!(!p.labels().contains_key("y"));
    let got = pods.get_status("s").await.unwrap();
    assert_eq!(got.status.unwrap().phase.as_deref(), Some("Running"));
}

#[tokio::test]
async fn graceful_pod_deletion() {
    let (_sim, client) = cluster(&[]).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("unbound", None))
        .await
        .unwrap();
    let gone = pods
        .delete("unbound", &DeleteParams::default())
        .await
        .unwrap();
    assert!(gone.is_left(), "pods answer the object");
    assert!(
        pods.get_opt("unbound").await.unwrap().is_none(),
        "unbound: removed at once"
    );

    let mut bound = pod("bound", Some(GHOST_NODE));
    bound
        .spec
        .as_mut()
        .unwrap()
        .termination_grace_period_seconds = Some(7);
    pods.create(&PostParams::default(), &bound).await.unwrap();
    let terminating = pods
        .delete("bound", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the pod, terminating");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(7));
    let still = pods.get("bound").await.unwrap();
    assert!(
        still.metadata.deletion_timestamp.is_some(),
        "waits for the kubelet"
    );
    pods.delete("bound", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert!(
        pods.get_opt("bound").await.unwrap().is_none(),
        "grace 0: removed at once"
    );
}

#[tokio::test]
async fn namespace_termination_removes_contents() {
    let (_sim, client) = cluster(&[]).await;
    namespace(&client, "doomed").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "doomed");
    cms.create(&PostParams::default(), &cm("c", json!({})))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("unbound", None))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("stuck", Some(GHOST_NODE)))
        .await
        .unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the namespace, terminating");
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));

    // The bound pod waits for a kubelet that never comes: the namespace stays Terminating.
    wait_until(|| async { cms.get_opt("c").await.unwrap().is_none() }).await;
    wait_until(|| async { pods.get_opt("unbound").await.unwrap().is_none() }).await;
    let stuck = pods.get("stuck").await.unwrap();
    assert!(stuck.metadata.deletion_timestamp.is_some());
    let (code, reason, message) = api_error(
        cms.create(&PostParams::default(), &cm("late", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert!(
        message.contains("because it is being terminated"),
        "{message}"
    );

    pods.delete("stuck", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    wait_until(|| async { namespaces.get_opt("doomed").await.unwrap().is_none() }).await;

    let (code, _, _) = api_error(
        namespaces
            .delete("default", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403);
}

#[tokio::test]
async fn owner_references_are_garbage_collected() {
    let (_sim, client) = cluster(&[]).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let owner = cms
        .create(&PostParams::default(), &cm("owner", json!({})))
        .await
        .unwrap();
    let dependent: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "dependent", "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.uid().unwrap()}]},
    }))
    .unwrap();
    cms.create(&PostParams::default(), &dependent)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        cms.get_opt("dependent").await.unwrap().is_some(),
        "owner still there"
    );
    cms.delete("owner", &DeleteParams::default()).await.unwrap();
    wait_until(|| async { cms.get_opt("dependent").await.unwrap().is_none() }).await;
}

#[tokio::test]
async fn watch_resumes_from_a_resource_version_and_sends_bookmarks() {
    let (_sim, client) = cluster(&[]).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let first = cms
        .create(&PostParams::default(), &cm("w1", json!({})))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("w2", json!({})))
        .await
        .unwrap();
    cms.delete("w1", &DeleteParams::default()).await.unwrap();
    let rv = first.resource_version().unwrap();
    let mut params = WatchParams::default().timeout(10);
    params.bookmarks = true;
    let mut stream = cms.watch(&params, &rv).await.unwrap().boxed();
    let mut seen = Vec::new();
    let mut bookmark = None;
    while bookmark.is_none() {
        let event = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("stream open");
        match event {
            WatchEvent::Added(o) => seen.push(format!("ADDED {}", o.name_any())),
            WatchEvent::Modified(o) => seen.push(format!("MODIFIED {}", o.name_any())),
            WatchEvent::Deleted(o) => seen.push(format!("DELETED {}", o.name_any())),
            WatchEvent::Bookmark(b) => bookmark = Some(b.metadata.resource_version),
            WatchEvent::Error(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(seen, ["ADDED w2", "DELETED w1"]);
    let bookmark: u64 = bookmark.unwrap().parse().unwrap();
    assert!(
        bookmark >= rv.parse::<u64>().unwrap() + 2,
        "bookmark at the newest version"
    );

    // rv "0": the current objects first, as ADDED.
    let mut stream = cms
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap()
        .boxed();
    let Some(WatchEvent::Added(o)) = stream.try_next().await.unwrap() else {
        panic!("ADDED first")
    };
    assert_eq!(o.name_any(), "w2");
    // timeoutSeconds ends the stream.
    let rest = tokio::time::timeout(Duration::from_secs(5), stream.try_collect::<Vec<_>>())
        .await
        .expect("ends at timeoutSeconds")
        .unwrap();
    // (kube asks for bookmarks by default; one may come before the timeout.)
    assert!(
        rest.iter().all(|e| matches!(e, WatchEvent::Bookmark(_))),
        "{rest:?}"
    );
}

#[tokio::test]
async fn watch_with_a_selector_reports_objects_leaving_it_as_deleted() {
    let (_sim, client) = cluster(&[]).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("s", json!({"app": "x"})))
        .await
        .unwrap();
    let params = WatchParams::default().labels("app=x").timeout(10);
    let mut stream = cms.watch(&params, "0").await.unwrap().boxed();
    assert!(matches!(
        stream.try_next().await.unwrap(),
        Some(WatchEvent::Added(_))
    ));
    cms.patch(
        "s",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "y"}}})),
    )
    .await
    .unwrap();
    cms.create(&PostParams::default(), &cm("other", json!({"app": "z"})))
        .await
        .unwrap();
    cms.patch(
        "s",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "x"}}})),
    )
    .await
    .unwrap();
    assert!(matches!(next_event(&mut stream).await, WatchEvent::Deleted(o) if o.name_any() == "s"));
    assert!(matches!(next_event(&mut stream).await, WatchEvent::Added(o) if o.name_any() == "s"));
}

#[tokio::test]
async fn too_old_resource_version_is_an_error_event_inside_a_200_stream() {
    let (sim, client) = cluster(&[]).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let old = cms
        .create(&PostParams::default(), &cm("old", json!({})))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("new", json!({})))
        .await
        .unwrap();
    sim.store().compact();
    let mut stream = cms
        .watch(&WatchParams::default(), &old.resource_version().unwrap())
        .await
        .expect("the watch itself answers 200")
        .boxed();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }

    // kube's watcher relists after the 410 and keeps going.
    let mut events = watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut names = BTreeSet::new();
    let mut saw_410 = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !names.contains("after") {
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("the watcher delivers")
            .expect("the watcher goes on");
        let event = match event {
            Ok(event) => event,
            Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                saw_410 = true;
                continue;
            }
            Err(other) => panic!("{other}"),
        };
        match event {
            watcher::Event::InitDone if !names.contains("after") && !saw_410 => {
                // Before the watcher's watch starts: a change, then the history forgotten.
                cms.create(&PostParams::default(), &cm("after", json!({})))
                    .await
                    .unwrap();
                sim.store().compact();
            }
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                names.insert(o.name_any());
            }
            _ => {}
        }
    }
    assert!(
        saw_410,
        "the watch started from the compacted list version got 410, then relisted"
    );
}

#[tokio::test]
async fn fault_api_errors_fails_some_requests_with_500() {
    let (_sim, client) = cluster(&[Fault::ApiErrors]).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..100 {
        match cms.list(&ListParams::default()).await {
            Ok(_) => ok += 1,
            Err(e) => {
                let (code, reason, message) = api_error(e);
                assert_eq!((code, reason.as_str()), (500, "InternalError"));
                assert!(message.contains("api-errors"), "{message}");
                failed += 1;
            }
        }
    }
    assert!(
        (5..=40).contains(&failed),
        "about one in five fail: {failed} of 100"
    );
    assert!(ok > 50);
}

#[tokio::test]
async fn fault_watch_drop_ends_watches_early_and_sometimes_with_410() {
    let (_sim, client) = cluster(&[Fault::WatchDrop]).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let watches = (0..15).map(|_| {
        let cms = cms.clone();
        async move {
            let stream = cms
                .watch(&WatchParams::default().timeout(60), "0")
                .await
                .unwrap();
            let events: Vec<_> = tokio::time::timeout(Duration::from_secs(10), stream.collect())
                .await
                .expect("dropped long before timeoutSeconds=60");
            events
                .into_iter()
                .any(|e| matches!(e, Ok(WatchEvent::Error(ref s)) if s.code == 410))
        }
    });
    let gone = futures::future::join_all(watches).await;
    assert!(gone.iter().any(|g| *g), "some dropped watches end with 410");
    assert!(gone.iter().any(|g| !*g), "some just end");

    // kube's watcher survives the drops and keeps delivering.
    let mut events = watcher(cms.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    let writer = {
        let cms = cms.clone();
        tokio::spawn(async move {
            for i in 0..8 {
                cms.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
        })
    };
    let mut names = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while names.len() < 8 {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)))) => {
                names.insert(o.name_any());
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("watcher ended"),
            Err(_) => panic!("only saw {names:?}"),
        }
    }
    writer.await.unwrap();
}

#[tokio::test]
async fn kubeconfig_file_and_shutdown() {
    let sim = SimCluster::start(SimConfig {
        linux_nodes: 0,
        windows_nodes: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/kubeconfig");
    sim.write_kubeconfig(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("hybrid-e2e-sim") && text.contains(sim.url()));
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert!(names.contains(&"default".to_string()), "{names:?}");
    let url = sim.url().to_string();
    sim.shutdown().await;
    let port = url.rsplit(':').next().unwrap().to_string();
    assert!(
        tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .is_err(),
        "nothing listens after shutdown"
    );
}

/// Polls `check` every 100 ms for up to 10 s.
async fn wait_until<F, Fut>(check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition not met within 10 s");
}

/// The next watch event within 5 s.
async fn next_event<S>(stream: &mut S) -> WatchEvent<ConfigMap>
where
    S: futures::Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .expect("an event within 5 s")
        .unwrap()
        .expect("stream open")
}

/// A full simulated cluster (nodes and controllers) with pod `name` of `containers` running on
/// a Linux node in `default`.
async fn running_linux_pod(
    name: &str,
    containers: serde_json::Value,
) -> (SimCluster, Client, Api<Pod>) {
    let sim = SimCluster::start(SimConfig::default()).await.unwrap();
    let client = sim
        .client()
        .await
        .expect("a client for the simulated cluster");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": containers},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait_until(|| async {
        let pod = pods.get(name).await.unwrap();
        pod.status.and_then(|s| s.phase).as_deref() == Some("Running")
    })
    .await;
    (sim, client, pods)
}

/// Needs the controllers: a running agnhost netexec pod on a Linux node.
#[tokio::test]
async fn exec_logs_and_proxy_reach_running_containers() {
    use kube::api::{AttachParams, LogParams};
    use tokio::io::AsyncReadExt;

    let (_sim, client, pods) = running_linux_pod(
        "web",
        json!([{"name": "netexec",
            "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
            "args": ["netexec", "--http-port=8080"],
            "ports": [{"name": "http", "containerPort": 8080}]}]),
    )
    .await;

    async fn run(pods: &Api<Pod>, script: &str) -> (String, String, serde_json::Value) {
        let params = AttachParams::default().stderr(true);
        let mut attached = pods
            .exec("web", ["sh", "-c", script], &params)
            .await
            .unwrap();
        let (mut out, mut err) = (String::new(), String::new());
        let mut stdout = attached.stdout().unwrap();
        let mut stderr = attached.stderr().unwrap();
        let status = attached.take_status().unwrap();
        stdout.read_to_string(&mut out).await.unwrap();
        stderr.read_to_string(&mut err).await.unwrap();
        let status = serde_json::to_value(status.await.expect("a status on channel 3")).unwrap();
        attached.join().await.unwrap();
        (out, err, status)
    }
    let (out, _, status) = run(&pods, "echo hello").await;
    assert_eq!(out, "hello\n");
    assert_eq!(status["status"], "Success");
    let (out, _, status) = run(&pods, "echo partial; exit 3").await;
    assert_eq!(out, "partial\n");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
    assert_eq!(status["details"]["causes"][0]["message"], "3");
    let (_, err, status) = run(&pods, "frobnicate").await;
    assert!(err.contains("not modeled"), "{err}");
    assert_eq!(status["details"]["causes"][0]["message"], "127");

    // Errors before the upgrade are plain HTTP answers.
    let params = AttachParams::default().container("nope");
    let err = pods
        .exec("web", ["true"], &params)
        .await
        .err()
        .expect("no such container");
    assert!(format!("{err:?}").contains("400"), "{err:?}");

    let logs = pods.logs("web", &LogParams::default()).await.unwrap();
    assert!(logs.lines().count() >= 1, "{logs}");
    let last = pods
        .logs(
            "web",
            &LogParams {
                tail_lines: Some(1),
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(last.lines().count(), 1, "{last}");
    assert!(logs.ends_with(&last));

    for path in ["web:8080", "web:http", "web"] {
        let req = http::Request::get(format!(
            "/api/v1/namespaces/default/pods/{path}/proxy/hostname"
        ))
        .body(Vec::new())
        .unwrap();
        assert_eq!(client.request_text(req).await.unwrap(), "web", "{path}");
    }
    let req = http::Request::get("/api/v1/namespaces/default/pods/web:8080/proxy/echo?msg=hi")
        .body(Vec::new())
        .unwrap();
    assert_eq!(client.request_text(req).await.unwrap(), "hi");
}

#[tokio::test]
async fn streaming_list_watch_ends_initial_events_with_a_bookmark() {
    let (_sim, client) = cluster(&[]).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("one", json!({})))
        .await
        .unwrap();
    let config = watcher::Config::default().streaming_lists();
    let mut events = watcher(cms.clone(), config).boxed();
    let mut initial = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.try_next())
            .await
            .expect("initial events end")
            .unwrap()
            .unwrap();
        match event {
            watcher::Event::InitApply(o) => initial.push(o.name_any()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, ["one"]);
}

/// Needs the controllers: a running pod whose log grows.
#[tokio::test]
async fn followed_logs_stream_until_the_pod_is_gone() {
    use futures::AsyncBufReadExt;
    use kube::api::LogParams;

    let (_sim, _client, pods) = running_linux_pod(
        "ticker",
        json!([{"name": "sh", "image": "busybox:1.36",
            "command": ["sh", "-c", "echo one; sleep 1; echo two; sleep infinity"]}]),
    )
    .await;
    let params = LogParams {
        follow: true,
        ..LogParams::default()
    };
    let mut lines = pods.log_stream("ticker", &params).await.unwrap().lines();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next())
            .await
            .expect("lines keep coming")
            .expect("stream open")
            .unwrap();
        seen.push(line);
    }
    assert_eq!(seen, ["one", "two"]);
    pods.delete("ticker", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), lines.next())
        .await
        .expect("the stream ends with the pod");
    assert!(end.is_none(), "{end:?}");
}

#[tokio::test]
async fn dry_run_create_and_delete_collection() {
    let (sim, client) = cluster(&[]).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let probe: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "he2e-preflight"}})).unwrap();
    let before = sim.store().resource_version();
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let answered = namespaces.create(&params, &probe).await.unwrap();
    assert_eq!(answered.name_any(), "he2e-preflight");
    assert!(namespaces
        .get_opt("he2e-preflight")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        sim.store().resource_version(),
        before,
        "dry run stores nothing"
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["a", "b", "c"] {
        pods.create(&PostParams::default(), &pod(name, None))
            .await
            .unwrap();
    }
    pods.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("app in (a,b)"),
    )
    .await
    .unwrap();
    let left: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    assert_eq!(left, ["c"]);
}

#[tokio::test]
async fn pods_need_their_service_account_which_new_namespaces_get_from_a_controller() {
    let (sim, client) = cluster(&[Fault::ServiceAccountsMissing]).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "fresh"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "fresh");
    let refused = pods
        .create(&PostParams::default(), &pod("early", None))
        .await
        .unwrap_err();
    let (code, reason, message) = api_error(refused);
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        message,
        "pods \"early\" is forbidden: error looking up service account fresh/default: serviceaccount \"default\" not found"
    );
    // The system namespaces have theirs from the start, whatever the fault.
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), "default");
    assert!(accounts.get_opt("default").await.unwrap().is_some());
    sim.shutdown().await;

    // Without the fault the controller adds it moments after the namespace, and pods go in.
    let (sim, client) = cluster(&[]).await;
    namespace(&client, "fresh").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "fresh");
    pods.create(&PostParams::default(), &pod("later", None))
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_created_service_comes_back_with_its_cluster_ip_and_node_ports() {
    // kube-apiserver allocates both in the create request; a client that reads the nodePort from
    // the answer (or right after it) must find it. CI once saw "has no TCP nodePort" here while
    // a controller allocated it later.
    let (sim, client) = cluster(&[]).await;
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(client.clone(), "default");
    let mut seen = BTreeSet::new();
    for name in ["web", "other"] {
        let svc = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [{"port": 80}]},
        }))
        .unwrap();
        let created = services.create(&PostParams::default(), &svc).await.unwrap();
        let spec = created.spec.unwrap();
        assert!(spec.cluster_ip.unwrap().starts_with("10.96."));
        let port = &spec.ports.unwrap()[0];
        let node_port = port.node_port.expect("nodePort in the create answer");
        assert!((30000..=32767).contains(&node_port));
        assert_eq!(port.protocol.as_deref(), Some("TCP"));
        assert!(
            seen.insert(node_port),
            "two services got nodePort {node_port}"
        );
    }
    sim.shutdown().await;
}
