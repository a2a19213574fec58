//! A Raft group of in-process replicas on loopback, for the `ha_*` tests and the failover bench.
#![allow(dead_code)]

pub mod echo;
pub mod logs;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use roperator_core::ha::test_hooks::{NetworkFaults, StartOptions, start_with};
use roperator_core::ha::{self, RaftConfig, RaftGate, TlsPaths};
use roperator_core::leader::LeaderGate;
use tokio::net::TcpListener;

/// A certificate authority that can issue replica certificates.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
}

impl Ca {
    pub fn new(dir: &Path, name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), issuer.as_ref().pem()).unwrap();
        Self { issuer, dir }
    }

    /// Issues a certificate for `san` and writes cert/key/CA files.
    pub fn issue(&self, node: &str, san: &str) -> TlsPaths {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![san.to_string()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        let cert_path = self.dir.join(format!("{node}.pem"));
        let key_path = self.dir.join(format!("{node}-key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        TlsPaths {
            cert: cert_path,
            key: key_path,
            ca: self.dir.join("ca.pem"),
        }
    }
}

pub enum Security {
    Plaintext,
    Tls(Vec<TlsPaths>),
}

/// Every `(node, term)` in which a replica published confirmed leadership, in order.
pub type History = std::sync::Arc<std::sync::Mutex<Vec<(u64, u64)>>>;

pub struct Cluster {
    /// Nodes `0..initial` form the group at bootstrap; later ones join through `add_member`.
    pub initial: u64,
    /// Listeners of replicas not started yet, kept bound so the ports stay ours.
    pub reserved: std::sync::Mutex<BTreeMap<u64, TcpListener>>,
    pub history: History,
    pub gates: Vec<Option<RaftGate>>,
    pub addrs: Vec<SocketAddr>,
    pub data: tempfile::TempDir,
    pub faults: NetworkFaults,
    pub security: Security,
    pub timing: ha::Timing,
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,openraft=error".into()),
        )
        .with_test_writer()
        .try_init();
}

impl Cluster {
    /// Starts `n` replicas on loopback ports.
    pub async fn start(n: u64, tls: bool) -> Self {
        Self::start_members(n, n, tls).await
    }

    /// Starts `n` plaintext replicas with `timing`.
    pub async fn start_with_timing(n: u64, timing: ha::Timing) -> Self {
        Self::start_configured(n, n, false, timing).await
    }

    /// Reserves addresses for `total` replicas and starts the first `initial` of them as the
    /// bootstrapped group.
    pub async fn start_members(total: u64, initial: u64, tls: bool) -> Self {
        Self::start_configured(total, initial, tls, timing_from_env()).await
    }

    async fn start_configured(total: u64, initial: u64, tls: bool, timing: ha::Timing) -> Self {
        let n = total;
        init_tracing();
        let data = tempfile::tempdir().unwrap();
        let mut listeners = Vec::new();
        for _ in 0..n {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        let security = if tls {
            let ca = Ca::new(data.path(), "cluster-ca");
            Security::Tls(
                (0..n)
                    .map(|i| ca.issue(&format!("node-{i}"), "localhost"))
                    .collect(),
            )
        } else {
            Security::Plaintext
        };
        let mut cluster = Self {
            initial,
            reserved: Default::default(),
            history: History::default(),
            gates: (0..n).map(|_| None).collect(),
            addrs,
            data,
            faults: NetworkFaults::default(),
            security,
            timing,
        };
        for (i, listener) in listeners.into_iter().enumerate() {
            if (i as u64) < initial {
                let gate = cluster
                    .start_with_listener(i as u64, listener)
                    .await
                    .unwrap();
                cluster.gates[i] = Some(gate);
            } else {
                cluster.reserved.lock().unwrap().insert(i as u64, listener);
            }
        }
        cluster
    }

    pub fn peers(&self) -> BTreeMap<u64, String> {
        self.addrs
            .iter()
            .enumerate()
            .map(|(i, a)| (i as u64, format!("localhost:{}", a.port())))
            .collect()
    }

    pub fn data_dir(&self, i: u64) -> PathBuf {
        self.data.path().join(format!("node-{i}"))
    }

    pub fn config(&self, i: u64) -> RaftConfig {
        // The bootstrapped members only know each other; a node added later knows everyone.
        let peers = if i < self.initial {
            self.peers()
                .into_iter()
                .filter(|(id, _)| *id < self.initial)
                .collect()
        } else {
            self.peers()
        };
        let config = RaftConfig::with_peers(i, peers, self.data_dir(i))
            .unwrap()
            .listen_on(self.addrs[i as usize])
            .timing(self.timing);
        match &self.security {
            Security::Plaintext => config.insecure_plaintext(),
            Security::Tls(paths) => config.tls(paths[i as usize].clone()),
        }
    }

    pub async fn start_with_listener(
        &self,
        i: u64,
        listener: TcpListener,
    ) -> Result<RaftGate, ha::StartError> {
        let gate = start_with(
            self.config(i),
            StartOptions {
                listener: Some(listener),
                faults: self.faults.clone(),
                probe_window: None,
            },
        )
        .await?;
        self.record_history(i, &gate);
        Ok(gate)
    }

    /// Starts reserved replica `i` inside `runtime`, where everything it runs (its Raft node, its
    /// server, and whatever the caller starts there too) stops at once when the runtime is shut
    /// down: the in-process equivalent of SIGKILL.
    pub async fn start_in(&mut self, i: u64, runtime: &tokio::runtime::Runtime) -> RaftGate {
        let listener = self
            .reserved
            .lock()
            .unwrap()
            .remove(&i)
            .expect("replica i has a reserved listener")
            .into_std()
            .unwrap();
        let options = move |faults| StartOptions {
            listener: Some(TcpListener::from_std(listener).unwrap()),
            faults,
            probe_window: None,
        };
        let (config, faults) = (self.config(i), self.faults.clone());
        let gate = runtime
            .spawn(async move { start_with(config, options(faults)).await })
            .await
            .expect("the start task ran")
            .expect("the replica starts");
        self.record_history(i, &gate);
        self.gates[i as usize] = Some(gate.clone());
        gate
    }

    /// Forgets replica `i` without stopping it (its runtime was shut down).
    pub fn forget(&mut self, i: u64) {
        self.gates[i as usize] = None;
    }

    fn record_history(&self, i: u64, gate: &RaftGate) {
        let mut state = gate.subscribe();
        let history = self.history.clone();
        tokio::spawn(async move {
            loop {
                let s = state.borrow_and_update().clone();
                if s.is_leader {
                    history.lock().unwrap().push((i, s.term));
                }
                if state.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    /// Panics if two replicas ever published leadership for the same term.
    pub fn assert_one_leader_per_term(&self) {
        let history = self.history.lock().unwrap();
        let mut by_term = BTreeMap::new();
        for (node, term) in history.iter() {
            let first = by_term.entry(*term).or_insert(*node);
            assert_eq!(first, node, "two leaders in term {term}: {history:?}");
        }
        assert!(!by_term.is_empty(), "no leadership was ever published");
    }

    /// Restarts node `i` on its old address and data directory.
    pub async fn restart(&mut self, i: u64) -> Result<(), ha::StartError> {
        let reserved = self.reserved.lock().unwrap().remove(&i);
        let listener = match reserved {
            Some(l) => l,
            None => bind_again(self.addrs[i as usize]).await,
        };
        let gate = self.start_with_listener(i, listener).await?;
        self.gates[i as usize] = Some(gate);
        Ok(())
    }

    pub async fn kill(&mut self, i: u64) {
        if let Some(gate) = self.gates[i as usize].take() {
            gate.shutdown().await;
        }
    }

    pub fn gate(&self, i: u64) -> &RaftGate {
        self.gates[i as usize].as_ref().expect("node is running")
    }

    pub fn running(&self) -> impl Iterator<Item = &RaftGate> {
        self.gates.iter().flatten()
    }

    /// The replicas whose gate currently reports a confirmed leadership.
    pub fn leaders(&self) -> Vec<u64> {
        self.running()
            .filter(|g| g.subscribe().borrow().is_leader)
            .map(|g| g.node_id())
            .collect()
    }

    /// Waits until exactly one replica (other than `not`) reports confirmed leadership.
    pub async fn wait_for_leader(&self, not: Option<u64>, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        loop {
            let leaders = self.leaders();
            if let [one] = leaders[..]
                && Some(one) != not
            {
                return one;
            }
            assert!(
                Instant::now() < deadline,
                "no single leader within {within:?}: {leaders:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls `acquire` on every running replica until one succeeds; returns it and the time.
    pub async fn first_acquire(&self, within: Duration) -> (u64, Instant) {
        let deadline = Instant::now() + within;
        loop {
            for gate in self.running() {
                if gate.acquire().await.is_ok() {
                    return (gate.node_id(), Instant::now());
                }
            }
            assert!(
                Instant::now() < deadline,
                "no replica could acquire within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub async fn shutdown(mut self) {
        for i in 0..self.gates.len() {
            self.kill(i as u64).await;
        }
    }
}

/// Binds the same address again (the old listener may take a moment to close).
pub async fn bind_again(addr: SocketAddr) -> TcpListener {
    for _ in 0..100 {
        if let Ok(l) = TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = TcpListener::bind(addr).await.err();
    panic!("cannot bind {addr} again: {err:?}");
}

/// Default timing, or the `ROPERATOR_RAFT_*_MS` variables of `RaftConfig::from_env` (for
/// exploring timings with the failover bench).
pub fn timing_from_env() -> ha::Timing {
    let d = ha::Timing::default();
    let ms = |name: &str, default: Duration| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(default, Duration::from_millis)
    };
    ha::Timing {
        heartbeat: ms("ROPERATOR_RAFT_HEARTBEAT_MS", d.heartbeat),
        election_timeout_min: ms("ROPERATOR_RAFT_ELECTION_MIN_MS", d.election_timeout_min),
        election_timeout_max: ms("ROPERATOR_RAFT_ELECTION_MAX_MS", d.election_timeout_max),
    }
}

/// The sum of the values of metric `name` of `gate` over the label sets that contain every one
/// of `labels` (e.g. `peer="2"`); 0 when there is none.
pub fn metric(gate: &RaftGate, name: &str, labels: &[&str]) -> f64 {
    let mut registry = prometheus_client::registry::Registry::default();
    gate.register_metrics(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            let metric = series.split('{').next().unwrap_or_default();
            metric == name && labels.iter().all(|want| series.contains(want))
        })
        .filter_map(|(_, value)| value.parse::<f64>().ok())
        .fold(0.0, |sum, v| sum + v)
}

/// Polls `condition` every 10 ms until it holds; panics with `what` after `within`.
pub async fn wait_until(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
