//! Watches through `kube::runtime::watcher` and raw watch requests: wire format, resume,
//! bookmarks, 410 Gone, timeouts, selectors, slow watchers.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use roperator_testkit::ApiServer;
use serde_json::json;

fn cm(name: &str, app: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": app}},
        "data": {"k": "v"}
    }))
    .expect("valid configmap")
}

async fn next<S, T>(stream: &mut S) -> T
where
    S: futures::Stream<Item = T> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("event within 5s")
        .expect("stream still open")
}

#[tokio::test]
async fn runtime_watcher_sees_initial_state_then_changes() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    cms.create(&PostParams::default(), &cm("before", "web"))
        .await
        .expect("create");
    let mut stream = watcher::watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut initial = Vec::new();
    loop {
        match next(&mut stream).await.expect("watch ok") {
            Event::Init => {}
            Event::InitApply(o) => initial.push(o.metadata.name.unwrap_or_default()),
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, ["before", "kube-root-ca.crt"]);
    cms.create(&PostParams::default(), &cm("after", "web"))
        .await
        .expect("create");
    match next(&mut stream).await.expect("watch ok") {
        Event::Apply(o) => assert_eq!(o.metadata.name.as_deref(), Some("after")),
        other => panic!("unexpected {other:?}"),
    }
    cms.delete("after", &DeleteParams::default())
        .await
        .expect("delete");
    match next(&mut stream).await.expect("watch ok") {
        Event::Delete(o) => assert_eq!(o.metadata.name.as_deref(), Some("after")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn streaming_list_watcher_works() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    cms.create(&PostParams::default(), &cm("a", "web"))
        .await
        .expect("create");
    let cfg = watcher::Config::default().streaming_lists();
    let mut stream = watcher::watcher(cms.clone(), cfg).boxed();
    let mut initial = Vec::new();
    loop {
        match next(&mut stream).await.expect("watch ok") {
            Event::Init => {}
            Event::InitApply(o) => initial.push(o.metadata.name.unwrap_or_default()),
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, ["a", "kube-root-ca.crt"]);
}

#[tokio::test]
async fn resume_from_resource_version_replays_history() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let first = cms
        .create(&PostParams::default(), &cm("one", "web"))
        .await
        .expect("create");
    let rv = first.metadata.resource_version.expect("rv");
    cms.create(&PostParams::default(), &cm("two", "web"))
        .await
        .expect("create");
    cms.delete("one", &DeleteParams::default())
        .await
        .expect("delete");
    let mut events = cms
        .watch(&WatchParams::default().disable_bookmarks().timeout(5), &rv)
        .await
        .expect("watch")
        .boxed();
    match next(&mut events).await.expect("event") {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("two")),
        other => panic!("unexpected {other:?}"),
    }
    match next(&mut events).await.expect("event") {
        WatchEvent::Deleted(o) => assert_eq!(o.metadata.name.as_deref(), Some("one")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn expired_resource_version_gets_410() {
    let server = ApiServer::builder().history_window(2).build();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let first = cms
        .create(&PostParams::default(), &cm("a", "web"))
        .await
        .expect("create");
    for name in ["b", "c", "d"] {
        cms.create(&PostParams::default(), &cm(name, "web"))
            .await
            .expect("create");
    }
    let rv = first.metadata.resource_version.expect("rv");
    let mut events = cms
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await
        .expect("watch")
        .boxed();
    match next(&mut events).await.expect("event") {
        WatchEvent::Error(e) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
            // The second number is the oldest version a watch could still start from.
            let oldest: u64 = e
                .message
                .rsplit_once('(')
                .and_then(|(_, n)| n.trim_end_matches(')').parse().ok())
                .expect("oldest resumable version");
            assert_eq!(
                e.message,
                format!("too old resource version: {rv} ({oldest})")
            );
            assert!(oldest > rv.parse::<u64>().expect("numeric rv"));
            let resumed = cms
                .watch(
                    &WatchParams::default().disable_bookmarks().timeout(1),
                    &oldest.to_string(),
                )
                .await
                .expect("watch from the oldest version");
            let events: Vec<_> = resumed.collect().await;
            assert!(
                events
                    .iter()
                    .all(|e| !matches!(e, Ok(WatchEvent::Error(_)))),
                "{events:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }

    // compact_history expires everything before now.
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let made = cms
        .create(&PostParams::default(), &cm("a", "web"))
        .await
        .expect("create");
    cms.create(&PostParams::default(), &cm("b", "web"))
        .await
        .expect("create");
    server.compact_history();
    let rv = made.metadata.resource_version.expect("rv");
    let mut events = cms
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await
        .expect("watch")
        .boxed();
    match next(&mut events).await.expect("event") {
        WatchEvent::Error(e) => assert_eq!(e.code, 410),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn bookmarks_arrive_when_asked_for() {
    let server = ApiServer::builder()
        .bookmark_interval(Duration::from_millis(50))
        .build();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let list = cms.list(&ListParams::default()).await.expect("list");
    let rv = list.metadata.resource_version.expect("rv");
    let mut events = cms
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    cms.create(&PostParams::default(), &cm("a", "web"))
        .await
        .expect("create");
    let mut saw_added = false;
    loop {
        match next(&mut events).await.expect("event") {
            WatchEvent::Added(_) => saw_added = true,
            WatchEvent::Bookmark(b) => {
                let brv: u64 = b.metadata.resource_version.parse().expect("numeric");
                assert!(brv > rv.parse::<u64>().expect("numeric"));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(saw_added, "the ADDED event precedes a later bookmark");
}

#[tokio::test]
async fn timeout_seconds_ends_the_stream() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let rv = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let started = std::time::Instant::now();
    let events: Vec<_> = cms
        .watch(&WatchParams::default().disable_bookmarks().timeout(1), &rv)
        .await
        .expect("watch")
        .try_collect()
        .await
        .expect("clean end");
    assert!(events.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn label_selector_turns_transitions_into_added_and_deleted() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let rv = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut events = cms
        .watch(
            &WatchParams::default().disable_bookmarks().labels("app=web"),
            &rv,
        )
        .await
        .expect("watch")
        .boxed();
    cms.create(&PostParams::default(), &cm("x", "db"))
        .await
        .expect("create");
    let mut c = cms.get("x").await.expect("get");
    c.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
    let c = cms
        .replace("x", &PostParams::default(), &c)
        .await
        .expect("relabel");
    match next(&mut events).await.expect("event") {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("x")),
        other => panic!("unexpected {other:?}"),
    }
    let mut c = c;
    c.metadata.labels = Some([("app".to_string(), "db".to_string())].into());
    let relabelled = cms
        .replace("x", &PostParams::default(), &c)
        .await
        .expect("relabel back");
    // The object that left the selection is sent as it was, at the new resourceVersion.
    match next(&mut events).await.expect("event") {
        WatchEvent::Deleted(o) => {
            assert_eq!(o.metadata.name.as_deref(), Some("x"));
            assert_eq!(
                o.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("app"))
                    .map(String::as_str),
                Some("web")
            );
            assert_eq!(
                o.metadata.resource_version,
                relabelled.metadata.resource_version
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn slow_watcher_is_cut_without_blocking_writers() {
    let server = ApiServer::builder().watch_buffer(8).build();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let rv = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    // A watcher that never reads.
    let stalled = cms
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await
        .expect("watch");
    let writes = async {
        for i in 0..200 {
            cms.create(&PostParams::default(), &cm(&format!("w-{i}"), "web"))
                .await
                .expect("create");
        }
    };
    tokio::time::timeout(Duration::from_secs(10), writes)
        .await
        .expect("writers never block");
    // The stalled watcher got what fitted in its buffer, then its stream ended.
    let got: Vec<_> = tokio::time::timeout(Duration::from_secs(5), stalled.collect::<Vec<_>>())
        .await
        .expect("stream ends");
    assert!(
        !got.is_empty() && got.len() < 200,
        "got {} events",
        got.len()
    );
}

#[tokio::test]
async fn cut_watches_ends_open_streams() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let rv = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let stream = cms
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await
        .expect("watch");
    server.cut_watches();
    let got: Vec<_> = tokio::time::timeout(Duration::from_secs(5), stream.collect::<Vec<_>>())
        .await
        .expect("stream ends after cut");
    assert!(got.is_empty());
}

#[tokio::test]
async fn runtime_watcher_recovers_from_cuts_and_compaction() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let mut stream = watcher::watcher(cms.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    loop {
        if let Event::InitDone = next(&mut stream).await.expect("watch ok") {
            break;
        }
    }
    // A cut stream is resumed from the last resourceVersion: no event is lost.
    server.cut_watches();
    cms.create(&PostParams::default(), &cm("after-cut", "web"))
        .await
        .expect("create");
    let mut seen = Vec::new();
    while !seen.contains(&"after-cut".to_string()) {
        match next(&mut stream).await {
            Ok(Event::Apply(o) | Event::InitApply(o)) => {
                seen.push(o.metadata.name.unwrap_or_default())
            }
            Ok(_) => {}
            Err(e) => panic!("watcher error after a cut: {e}"),
        }
    }
    // After compaction the resume gets 410 and the watcher re-lists, seeing current state.
    // (A write the watcher has not seen, then compaction past it.)
    server.cut_watches();
    cms.create(&PostParams::default(), &cm("missed", "web"))
        .await
        .expect("create");
    server.compact_history();
    cms.create(&PostParams::default(), &cm("after-compaction", "web"))
        .await
        .expect("create");
    let mut relisted = false;
    let mut names = Vec::new();
    loop {
        match next(&mut stream).await {
            Ok(Event::Init) => relisted = true,
            Ok(Event::InitDone) => break,
            Ok(Event::Apply(o) | Event::InitApply(o)) => {
                names.push(o.metadata.name.unwrap_or_default())
            }
            Ok(_) => {}
            Err(_) => {} // the 410 surfaces once as an error before the re-list
        }
    }
    assert!(relisted, "a 410 makes the watcher re-list");
    assert!(
        names.contains(&"missed".to_string()),
        "the re-list shows what the resume could not"
    );
    assert!(names.contains(&"after-compaction".to_string()), "{names:?}");
}

/// `timeoutSeconds=0` means "not set" to the real server (it then picks its own timeout of
/// 30 to 60 minutes), not "close at once".
#[tokio::test]
async fn timeout_seconds_zero_is_no_timeout() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let rv = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut stream = cms
        .watch(&WatchParams::default().disable_bookmarks().timeout(0), &rv)
        .await
        .expect("watch")
        .boxed();
    // A check that the watch is *not* closed early: give a short timeout a window to fire.
    tokio::time::sleep(Duration::from_millis(200)).await;
    cms.create(
        &PostParams::default(),
        &roperator_testkit::fixtures::configmap("later", []),
    )
    .await
    .expect("create");
    let event = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event in time")
        .expect("the stream is still open")
        .expect("decodes");
    assert!(matches!(event, WatchEvent::Added(cm) if cm.metadata.name.as_deref() == Some("later")));
}

#[tokio::test]
async fn the_deprecated_watch_paths_watch_and_a_named_get_stays_a_get() {
    let server = ApiServer::new();
    let client = server.client();
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    for name in ["one", "two"] {
        cms.create(&PostParams::default(), &cm(name, "web"))
            .await
            .expect("create");
    }
    let get = |path: &'static str| {
        let client = client.clone();
        async move {
            let req = http::Request::get(path).body(Vec::new()).expect("request");
            client.request_text(req).await.expect("answered")
        }
    };
    let named = get("/api/v1/watch/namespaces/default/configmaps/one?timeoutSeconds=1").await;
    let events: Vec<serde_json::Value> = named
        .lines()
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect();
    assert_eq!(events.len(), 1, "{named}");
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "one");
    let all = get("/api/v1/watch/namespaces/default/configmaps?timeoutSeconds=1").await;
    // kube-root-ca.crt, one and two.
    assert_eq!(all.lines().count(), 3, "{all}");
    // `watch=true` on a named path is ignored by the get handler.
    let object: serde_json::Value =
        serde_json::from_str(&get("/api/v1/namespaces/default/configmaps/one?watch=true").await)
            .expect("the object itself");
    assert_eq!(object["kind"], "ConfigMap");

    // A named watch may carry a field selector only if it names the same object.
    let answer = |path: &'static str| {
        let client = client.clone();
        async move {
            let req = http::Request::get(path).body(Vec::new()).expect("request");
            match client.request_text(req).await {
                Ok(text) => (200, text),
                Err(kube::Error::Api(s)) => (s.code, s.message),
                Err(e) => panic!("{path}: {e}"),
            }
        }
    };
    let (code, same) = answer(
        "/api/v1/watch/namespaces/default/configmaps/one?fieldSelector=metadata.name%3Done&timeoutSeconds=1",
    )
    .await;
    assert_eq!((code, same.lines().count()), (200, 1), "{same}");
    assert_eq!(
        answer("/api/v1/watch/namespaces/default/configmaps/one?fieldSelector=metadata.name%3Dtwo")
            .await,
        (
            400,
            "fieldSelector metadata.name doesn't match requested name".to_string()
        )
    );
    // Subresources have no watch route at all.
    let (code, _) = answer("/api/v1/watch/namespaces/default/configmaps/one/status").await;
    assert_eq!(code, 404);
}
