//! How many parents are synced at once, and which go first.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::json;
use tokio::sync::watch;

use crate::common::*;

/// Handler calls of one controller in flight, and the most seen at once; every call waits until
/// `until` calls were in flight together.
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
    until: usize,
    reached: watch::Sender<bool>,
}

impl InFlight {
    fn new(until: usize) -> Arc<Self> {
        Arc::new(Self {
            now: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            until,
            reached: watch::channel(false).0,
        })
    }

    async fn call(&self, req: SyncRequest) -> Result<SyncResponse, Error> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        if now >= self.until {
            self.reached.send_replace(true);
        }
        let mut reached = self.reached.subscribe();
        let _ = reached.wait_for(|r| *r).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        echo_handler(&req)
    }
}

/// A sync mostly waits for the API server, so a storm of new parents needs many in flight: with
/// the default configuration, 64 parents are synced at once, and never more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_sixty_four_parents_are_synced_at_once_and_never_more() {
    let server = server();
    let in_flight = InFlight::new(64);
    let handler = {
        let in_flight = Arc::clone(&in_flight);
        move |req: SyncRequest| {
            let in_flight = Arc::clone(&in_flight);
            async move { in_flight.call(req).await }
        }
    };
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace());
    let op = TestOperator::start_async(&server, config, handler);
    op.wait_ready(LONG).await.unwrap();
    for i in 0..100 {
        create_echo(&server, &format!("p{i:03}"), json!({"message": "hi"})).await;
    }
    // Every handler call waits until 64 run together: this holds only if 64 were let in.
    let mut reached = in_flight.reached.subscribe();
    tokio::time::timeout(LONG, reached.wait_for(|r| *r))
        .await
        .expect("64 syncs in flight at once")
        .unwrap();
    op.wait_until(LONG, || managed_children(&server).len() == 300)
        .await
        .unwrap();
    assert_eq!(in_flight.most.load(Ordering::SeqCst), 64);
    op.stop().await.unwrap();
}
