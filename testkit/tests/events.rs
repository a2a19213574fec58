//! kube-runtime's event Recorder (events.k8s.io/v1, create then merge-patch of the series)
//! works against the server, and core v1 Events are served too.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as NewEvent;
use kube::api::{Api, ListParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use roperator_testkit::ApiServer;

#[tokio::test]
async fn recorder_publishes_and_aggregates_events() {
    let server = ApiServer::new();
    let recorder = Recorder::new(
        server.client(),
        Reporter {
            controller: "testkit-test".into(),
            instance: None,
        },
    );
    let reference = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("ConfigMap".into()),
        name: Some("subject".into()),
        namespace: Some("default".into()),
        uid: Some("1234".into()),
        ..Default::default()
    };
    let event = Event {
        type_: EventType::Warning,
        reason: "SyncFailed".into(),
        note: Some("the handler failed".into()),
        action: "Sync".into(),
        secondary: None,
    };
    recorder
        .publish(&event, &reference)
        .await
        .expect("first publish");
    recorder
        .publish(&event, &reference)
        .await
        .expect("second publish (series patch)");
    let events: Api<NewEvent> = Api::namespaced(server.client(), "default");
    let list = events.list(&ListParams::default()).await.expect("list");
    assert_eq!(
        list.items.len(),
        1,
        "repeats are aggregated into one series"
    );
    let e = &list.items[0];
    assert_eq!(e.reason.as_deref(), Some("SyncFailed"));
    assert_eq!(e.series.as_ref().map(|s| s.count), Some(2));
    assert_eq!(
        server
            .requests()
            .count(|r| r.resource == "events" && r.verb == "patch"),
        1
    );
}

/// Core v1 and events.k8s.io/v1 Events are one resource served at two versions, as on a real
/// server: what a `Recorder` writes is listed by core v1 readers (`kubectl get events`, older
/// controllers) with the fields converted, and the other way round.
#[tokio::test]
async fn core_and_events_k8s_io_events_are_one_store() {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use kube::api::{PostParams, WatchEvent, WatchParams};

    let server = ApiServer::new();
    let core: Api<CoreEvent> = Api::namespaced(server.client(), "default");
    let mut core_watch = core
        .watch(&WatchParams::default(), "0")
        .await
        .expect("core watch")
        .boxed();
    let recorder = Recorder::new(
        server.client(),
        Reporter {
            controller: "testkit-test".into(),
            instance: Some("testkit-test-0".into()),
        },
    );
    let reference = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("ConfigMap".into()),
        name: Some("subject".into()),
        namespace: Some("default".into()),
        uid: Some("1234".into()),
        ..Default::default()
    };
    let event = Event {
        type_: EventType::Warning,
        reason: "SyncFailed".into(),
        note: Some("the handler failed".into()),
        action: "Sync".into(),
        secondary: None,
    };
    recorder.publish(&event, &reference).await.expect("publish");

    let listed = core.list(&ListParams::default()).await.expect("core list");
    assert_eq!(
        listed.items.len(),
        1,
        "the recorder's event is a core v1 Event"
    );
    let e = &listed.items[0];
    assert_eq!(e.message.as_deref(), Some("the handler failed"));
    assert_eq!(e.reason.as_deref(), Some("SyncFailed"));
    assert_eq!(e.type_.as_deref(), Some("Warning"));
    assert_eq!(e.action.as_deref(), Some("Sync"));
    assert_eq!(e.involved_object.name.as_deref(), Some("subject"));
    assert_eq!(e.involved_object.kind.as_deref(), Some("ConfigMap"));
    assert_eq!(e.reporting_component.as_deref(), Some("testkit-test"));
    assert_eq!(e.reporting_instance.as_deref(), Some("testkit-test-0"));
    assert!(e.event_time.is_some());

    // The core watch sees the same object, in the core shape (after the bookmark that ends a
    // watch's initial state).
    let seen = loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), core_watch.next())
            .await
            .expect("a watch event")
            .expect("stream open")
            .expect("decodes as a core Event");
        if !matches!(event, WatchEvent::Bookmark(_)) {
            break event;
        }
    };
    match seen {
        WatchEvent::Added(e) => assert_eq!(e.message.as_deref(), Some("the handler failed")),
        other => panic!("expected ADDED, got {other:?}"),
    }

    // Field selectors use each version's own labels.
    let by_core = core
        .list(&ListParams::default().fields("involvedObject.name=subject"))
        .await
        .expect("core field selector");
    assert_eq!(by_core.items.len(), 1);
    let new: Api<NewEvent> = Api::namespaced(server.client(), "default");
    let by_new = new
        .list(
            &ListParams::default()
                .fields("regarding.name=subject,reportingController=testkit-test"),
        )
        .await
        .expect("events.k8s.io field selector");
    assert_eq!(by_new.items.len(), 1);
    assert!(
        new.list(&ListParams::default().fields("involvedObject.name=subject"))
            .await
            .is_err(),
        "events.k8s.io/v1 does not select by the core labels"
    );

    // A core Event reads back through events.k8s.io/v1 converted the other way.
    let mut written: CoreEvent = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "from-core"},
        "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "default"},
        "message": "pulled the image", "reason": "Pulled", "type": "Normal", "count": 4,
        "source": {"component": "kubelet"},
    }))
    .expect("core Event");
    written = core
        .create(&PostParams::default(), &written)
        .await
        .expect("create core Event");
    let read = new
        .get("from-core")
        .await
        .expect("read through events.k8s.io");
    assert_eq!(read.note.as_deref(), Some("pulled the image"));
    assert_eq!(
        read.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("web-0")
    );
    assert_eq!(read.deprecated_count, Some(4));
    assert_eq!(
        read.deprecated_source
            .as_ref()
            .and_then(|s| s.component.as_deref()),
        Some("kubelet")
    );
    assert_eq!(
        read.metadata.resource_version,
        written.metadata.resource_version
    );
}
