//! The cluster around the operator: the API server with its latency, the deployment
//! controller's stand-in, the user creating parents, and an observer noting when each parent
//! converged.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use roperator_core::testkit::{ApiServer, FaultRule};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::workload::{NS, Storm, crd, parent};

/// Parents created at once, as a deploy tool applying a large manifest would.
const CREATE_CONCURRENCY: usize = 16;
/// Writes of the simulated cluster controllers in flight at once.
const CONTROLLER_WRITES: usize = 300;

/// An API server whose every request waits `latency` before it is handled.
pub fn api_server(latency: Duration) -> ApiServer {
    // A real server keeps minutes of watch history; a storm must not end in a 410 and re-lists.
    let server = ApiServer::builder().history_window(200_000).build();
    server.register_crd(&crd()).expect("CRD");
    server.faults().add(FaultRule::new().latency(latency));
    server
}

/// An in-process client whose requests carry `agent`, so that the request log tells the
/// actors apart.
pub fn client_as(server: &ApiServer, agent: &'static str) -> kube::Client {
    let client = server.client();
    let value = http::HeaderValue::from_static(agent);
    let service = tower::service_fn(move |mut request: http::Request<kube::client::Body>| {
        let client = client.clone();
        request
            .headers_mut()
            .insert(http::header::USER_AGENT, value.clone());
        async move { client.send(request).await }
    });
    kube::Client::new(service, NS)
}

// ---- The deployment controller's stand-in. ----

/// Pod start-up time of a Deployment, spread over 0.5 to 1.5 s by its name.
fn pod_start(name: &str) -> Duration {
    let hash = name
        .bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    Duration::from_millis(500 + hash % 1000)
}

/// One write of the deployment controller, when one of its few hundred slots is free;
/// returns the Deployment's generation after it.
async fn controller_write(
    deployments: &Api<Deployment>,
    name: &str,
    slots: &Semaphore,
    patch: Value,
    status: bool,
) -> Option<i64> {
    let _slot = slots.acquire().await.expect("never closed");
    let pp = PatchParams::default();
    let written = if status {
        deployments
            .patch_status(name, &pp, &Patch::Merge(&patch))
            .await
    } else {
        deployments.patch(name, &pp, &Patch::Merge(&patch)).await
    };
    written.ok().and_then(|d| d.metadata.generation)
}

/// What kube-controller-manager writes to a new Deployment of one replica: the revision
/// annotation (which bumps its generation, as the real Deployment strategy does) and a
/// progressing status at once; once the pod is ready, an available status.
async fn roll_out(deployments: Api<Deployment>, name: String, slots: Arc<Semaphore>) {
    let annotation =
        json!({"metadata": {"annotations": {"deployment.kubernetes.io/revision": "1"}}});
    let Some(generation) = controller_write(&deployments, &name, &slots, annotation, false).await
    else {
        return;
    };
    let progressing = json!({"status": {
        "observedGeneration": generation, "replicas": 1, "updatedReplicas": 1, "unavailableReplicas": 1,
        "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}],
    }});
    controller_write(&deployments, &name, &slots, progressing, true).await;
    tokio::time::sleep(pod_start(&name)).await;
    let available = json!({"status": {
        "observedGeneration": generation, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
        "availableReplicas": 1, "unavailableReplicas": null,
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                       {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}],
    }});
    controller_write(&deployments, &name, &slots, available, true).await;
}

/// The deployment controller's stand-in: rolls out every Deployment it sees appear.
pub async fn deployment_controller(client: kube::Client) {
    let deployments: Api<Deployment> = Api::namespaced(client, NS);
    let slots = Arc::new(Semaphore::new(CONTROLLER_WRITES));
    let mut seen = HashSet::new();
    let mut events = watcher(deployments.clone(), watcher::Config::default()).boxed();
    while let Some(event) = events.next().await {
        let Ok(watcher::Event::Apply(d) | watcher::Event::InitApply(d)) = event else {
            continue;
        };
        if seen.insert(d.name_any()) {
            tokio::spawn(roll_out(
                deployments.clone(),
                d.name_any(),
                Arc::clone(&slots),
            ));
        }
    }
}

// ---- The user, and the observer. ----

/// When things happened to one parent.
#[derive(Default, Clone, Copy)]
pub struct Track {
    pub created: Option<Instant>,
    deployment: Option<Instant>,
    service: Option<Instant>,
    observed: Option<Instant>,
    pub ready: Option<Instant>,
}

impl Track {
    /// When its Deployment and Service existed and its status showed `observedGeneration`.
    pub fn converged(&self) -> Option<Instant> {
        Some(self.deployment?.max(self.service?).max(self.observed?))
    }
}

#[derive(Clone, Default)]
pub struct Tracks(Arc<Mutex<HashMap<String, Track>>>);

type Field = fn(&mut Track) -> &mut Option<Instant>;

impl Tracks {
    fn mark(&self, name: String, field: Field) {
        let mut tracks = self.0.lock().expect("tracks");
        field(tracks.entry(name).or_default()).get_or_insert_with(Instant::now);
    }

    pub fn all(&self) -> Vec<Track> {
        self.0.lock().expect("tracks").values().copied().collect()
    }

    pub fn count(&self, done: impl Fn(&Track) -> bool) -> usize {
        self.0
            .lock()
            .expect("tracks")
            .values()
            .filter(|t| done(t))
            .count()
    }
}

/// Creates `n` parents, 16 at a time; returns when the first create was sent.
pub async fn create_parents(client: kube::Client, n: usize, tracks: Tracks) -> Instant {
    let storms: Api<Storm> = Api::namespaced(client, NS);
    let start = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(CREATE_CONCURRENCY, |i| {
            let (storms, tracks) = (storms.clone(), tracks.clone());
            async move {
                let name = format!("storm-{i:05}");
                storms
                    .create(&PostParams::default(), &parent(&name))
                    .await
                    .expect("parent created");
                tracks.mark(name, |t| &mut t.created);
            }
        })
        .await;
    start
}

/// Every object of a type as it is added or changed.
fn applied<K>(api: Api<K>) -> impl futures::Stream<Item = K> + Send
where
    K: Resource + Clone + std::fmt::Debug + Send + 'static + serde::de::DeserializeOwned,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    watcher(api, watcher::Config::default()).filter_map(|e| async move {
        match e {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => Some(o),
            _ => None,
        }
    })
}

/// Notes when each parent's children appear, when its status first shows that it was
/// observed, and when it first shows Ready.
pub async fn observe(client: kube::Client, tracks: Tracks) {
    let mark = |field: Field| {
        let tracks = tracks.clone();
        move |name: String| {
            tracks.mark(name, field);
            futures::future::ready(())
        }
    };
    let deployments = applied(Api::<Deployment>::namespaced(client.clone(), NS))
        .map(|d| d.name_any())
        .for_each(mark(|t| &mut t.deployment));
    let services = applied(Api::<Service>::namespaced(client.clone(), NS))
        .map(|s| s.name_any())
        .for_each(mark(|t| &mut t.service));
    let parents = applied(Api::<Storm>::namespaced(client, NS)).for_each(|p| {
        let status = p.status.clone().unwrap_or_default();
        let generation = p.metadata.generation;
        if status.observed_generation.is_some() && status.observed_generation >= generation {
            tracks.mark(p.name_any(), |t| &mut t.observed);
        }
        if status.phase == "Ready" {
            tracks.mark(p.name_any(), |t| &mut t.ready);
        }
        futures::future::ready(())
    });
    futures::join!(deployments, services, parents);
}
