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
