//! Three replicas under Raft on loopback: election, failover, fencing, restarts, TLS.

mod ha_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ha_support::{Ca, Cluster, metric, wait_until};
use roperator_core::ha::{self, AdminError, DataDirError, MembershipClient, StartError};
use roperator_core::leader::{LeaderGate, NotLeader, WritePermit};

const ELECTION: Duration = Duration::from_secs(10);

async fn exactly_one_leader(tls: bool) {
    let cluster = Cluster::start(3, tls).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    // Once every replica follows the same leader, no other can be elected in this term.
    wait_until("every replica follows the leader", ELECTION, || {
        cluster
            .running()
            .all(|g| g.raft_view().leader == Some(leader))
    })
    .await;
    assert_eq!(cluster.leaders(), vec![leader]);
    cluster.assert_one_leader_per_term();
    for gate in cluster.running() {
        let result = gate.acquire().await;
        if gate.node_id() == leader {
            let permit = result.expect("the leader may write");
            assert!(permit.is_valid());
            assert!(permit.term() >= 1);
        } else {
            assert_eq!(
                result.unwrap_err(),
                NotLeader::Follower {
                    leader_id: Some(leader)
                }
            );
        }
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_plaintext_replicas_elect_exactly_one_leader() {
    exactly_one_leader(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_mtls_replicas_elect_exactly_one_leader() {
    exactly_one_leader(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_hands_over_within_about_an_election_timeout() {
    let mut cluster = Cluster::start(3, false).await;
    let old = cluster.wait_for_leader(None, ELECTION).await;
    let permit = cluster.gate(old).acquire().await.unwrap();
    let killed_at = Instant::now();
    cluster.kill(old).await;
    assert!(
        !permit.is_valid(),
        "a stopped leader's permit must be revoked"
    );
    let (new, at) = cluster.first_acquire(ELECTION).await;
    assert_ne!(new, old);
    let took = at - killed_at;
    // Followers wait out the leader lease (max election timeout) and then an election timeout.
    let bound = cluster.timing.election_timeout_max * 3;
    assert!(
        took < bound,
        "failover took {took:?}, expected under {bound:?}"
    );
    let term = cluster.gate(new).acquire().await.unwrap().term();
    assert!(term > permit.term());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_leader_loses_its_permits_before_the_new_leader_gets_one() {
    let cluster = Cluster::start(3, false).await;
    let old = cluster.wait_for_leader(None, ELECTION).await;
    let old_gate = cluster.gate(old).clone();
    let mut old_state = old_gate.subscribe();
    let held = old_gate
        .acquire()
        .await
        .expect("leader holds a permit before the cut");

    cluster.faults.isolate(old, [0, 1, 2]);

    // The old leader keeps the permit it had and keeps asking for new ones; record the last
    // instant at which it held a valid one, until (and once more after) the new leader got its
    // first permit.
    let new_has_written = Arc::new(AtomicBool::new(false));
    let poller = {
        let gate = old_gate.clone();
        let stop = new_has_written.clone();
        tokio::spawn(async move {
            let mut last_valid = None;
            let mut permits = vec![held];
            loop {
                let last_round = stop.load(Ordering::SeqCst);
                if let Ok(p) = gate.acquire().await {
                    permits.push(p);
                }
                let now = Instant::now();
                if permits.iter().any(|p| p.is_valid()) {
                    last_valid = Some(now);
                }
                if last_round {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            (
                last_valid,
                permits.iter().any(|p| p.revoked().is_cancelled()),
            )
        })
    };

    let new = cluster.wait_for_leader(Some(old), ELECTION).await;
    let new_gate = cluster.gate(new).clone();
    let (_, new_permit_at) = acquire_within(&new_gate, ELECTION).await;
    new_has_written.store(true, Ordering::SeqCst);
    let (old_last_valid, revoked) = poller.await.unwrap();
    let old_last_valid = old_last_valid.expect("the old leader held a valid permit at the cut");
    assert!(
        old_last_valid < new_permit_at,
        "old leader still held a valid permit {:?} after the new leader's first permit",
        old_last_valid - new_permit_at
    );
    assert!(
        revoked,
        "the old leader's permits were cancelled, not just expired"
    );
    old_state
        .wait_for(|s| !s.is_leader)
        .await
        .expect("state channel open");
    assert!(old_gate.acquire().await.is_err());

    // After healing, the old leader follows and there was never a second leader in a term.
    cluster.faults.heal();
    old_gate
        .wait_for_raft(ELECTION, |v| v.leader == Some(new))
        .await
        .expect("the old leader follows the new one");
    assert_eq!(cluster.leaders(), vec![new]);
    cluster.assert_one_leader_per_term();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_nodes_keep_their_history_and_never_make_two_leaders_in_a_term() {
    let mut cluster = Cluster::start(3, false).await;
    for round in 0..4 {
        let leader = cluster.wait_for_leader(None, ELECTION).await;
        // Alternate between restarting the leader and a follower.
        let victim = (leader + round % 2) % 3;
        let before = cluster.gate(victim).raft_view();
        cluster.kill(victim).await;
        cluster
            .restart(victim)
            .await
            .expect("restart with its data dir");
        // The restarted node reports the vote it loaded from disk as soon as its core runs.
        let after = cluster
            .gate(victim)
            .wait_for_raft(Duration::from_secs(2), |v| v.running && v.vote_term > 0)
            .await
            .expect("restarted node publishes its metrics");
        assert!(
            after.term >= before.term && after.vote_term >= before.vote_term,
            "node {victim} forgot its vote: {before:?} -> {after:?}"
        );
    }
    cluster.wait_for_leader(None, ELECTION).await;
    cluster.assert_one_leader_per_term();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_data_dir_is_refused_with_the_recovery_steps() {
    let mut cluster = Cluster::start(3, false).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    let victim = (leader + 1) % 3;
    cluster.kill(victim).await;
    std::fs::remove_dir_all(cluster.data_dir(victim)).unwrap();
    let err = cluster.restart(victim).await.unwrap_err();
    match &err {
        StartError::DataDir(DataDirError::Wiped { node_id, .. }) => assert_eq!(*node_id, victim),
        other => panic!("expected a wiped-dir refusal, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&cluster.data_dir(victim).display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("remove_member"), "{msg}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_a_certificate_from_another_ca_is_refused() {
    let cluster = Cluster::start(3, true).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;

    // A fourth process claims to be node 1's twin but holds a certificate of another CA.
    let rogue_ca = Ca::new(cluster.data.path(), "rogue-ca");
    let mut rogue_paths = rogue_ca.issue("rogue", "localhost");
    let paths = tls_paths(&cluster);
    // Trusting the real CA is not enough: the rogue's own certificate is not signed by it.
    rogue_paths.ca = paths[0].ca.clone();
    let addr = cluster.peers()[&leader].clone();
    let err = client_of(&cluster, &rogue_paths, &addr)
        .members()
        .await
        .expect_err("the leader must refuse a client certificate from another CA");
    assert!(matches!(err, AdminError::Unreachable { .. }), "{err}");

    // With a certificate from the cluster CA the same request succeeds.
    let members = client_of(&cluster, &paths[1], &addr)
        .members()
        .await
        .unwrap();
    assert_eq!(members.leader, Some(leader));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_certificate_does_not_name_the_peer_is_refused() {
    let cluster = Cluster::start(3, true).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    let paths = tls_paths(&cluster);
    // Same server, but dialled under a name its certificate does not carry.
    let addr = format!("127.0.0.1:{}", cluster.addrs[leader as usize].port());
    let err = client_of(&cluster, &paths[0], &addr)
        .members()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_single_replica_is_a_one_node_group_that_leads_alone() {
    let dir = tempfile::tempdir().unwrap();
    let gate = ha::start(ha::RaftConfig::single_node(dir.path()))
        .await
        .unwrap();
    let mut state = gate.subscribe();
    tokio::time::timeout(ELECTION, state.wait_for(|s| s.is_leader))
        .await
        .expect("single node elects itself")
        .unwrap();
    let permit = gate.acquire().await.unwrap();
    assert!(permit.is_valid());
    let term = permit.term();
    gate.step_down().await;
    assert!(!permit.is_valid());
    assert_eq!(gate.acquire().await.unwrap_err(), NotLeader::ShuttingDown);

    // It keeps its history across restarts.
    let gate = ha::start(ha::RaftConfig::single_node(dir.path()))
        .await
        .unwrap();
    let mut state = gate.subscribe();
    tokio::time::timeout(ELECTION, state.wait_for(|s| s.is_leader))
        .await
        .unwrap()
        .unwrap();
    assert!(gate.acquire().await.unwrap().term() >= term);
    gate.shutdown().await;
}

/// The value of one `roperator_raft_*` gauge of `gate`.
fn gauge(gate: &ha::RaftGate, name: &str) -> f64 {
    let mut registry = prometheus_client::registry::Registry::default();
    gate.register_metrics(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("roperator_raft_{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} is not exported:\n{text}"))
}

/// Polls `acquire` until it succeeds; the permit and when it was granted.
async fn acquire_within(gate: &ha::RaftGate, within: Duration) -> (WritePermit, Instant) {
    let deadline = Instant::now() + within;
    loop {
        match gate.acquire().await {
            Ok(permit) => return (permit, Instant::now()),
            Err(e) => assert!(
                Instant::now() < deadline,
                "no permit within {within:?}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_term_on_an_object_stops_writes_at_once_and_without_a_newer_leader_they_resume() {
    let cluster = Cluster::start(3, false).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    let gate = cluster.gate(leader);
    let permit = gate.acquire().await.unwrap();
    let term = permit.term();

    // A child written by another Raft group (a reinstall, lost volumes) carries a higher term.
    let seen_at = Instant::now();
    gate.observe_term(term + 5);
    assert!(!permit.is_valid(), "permit must be revoked at once");
    let refused = gate.acquire().await.unwrap_err();
    assert!(
        refused.to_string().contains(&format!("term {}", term + 5)),
        "{refused}"
    );
    assert!(!gate.subscribe().borrow().is_leader);
    assert_eq!(gauge(gate, "fenced_term"), (term + 5) as f64);

    // Nobody in this group leads that term, so the same leader writes again, in the same term,
    // once a quorum confirmed it after the observation and the fence held its minimum.
    let (resumed, at) = acquire_within(gate, cluster.timing.election_timeout_max * 4).await;
    let took = at - seen_at;
    assert!(
        took >= cluster.timing.election_timeout_max,
        "the fence lifted after {took:?}, before one maximum election timeout"
    );
    assert_eq!(resumed.term(), term, "no election happened");
    assert_eq!(cluster.leaders(), vec![leader]);
    assert_eq!(gauge(gate, "fenced_term"), 0.0);

    // The foreign object is seen again on every watch event: that no longer stops writing.
    gate.observe_term(term + 5);
    assert!(resumed.is_valid());
    assert_eq!(gate.acquire().await.unwrap().term(), term);
    assert!(gate.subscribe().borrow().is_leader);

    // A term above every one seen so far is new information and fences again.
    gate.observe_term(term + 6);
    assert!(!resumed.is_valid());
    assert!(gate.acquire().await.is_err());
    acquire_within(gate, cluster.timing.election_timeout_max * 4).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leader_that_sees_the_new_term_never_writes_again() {
    let cluster = Cluster::start(3, false).await;
    let old = cluster.wait_for_leader(None, ELECTION).await;
    let old_gate = cluster.gate(old).clone();
    cluster.faults.isolate(old, [0, 1, 2]);
    let new = cluster.wait_for_leader(Some(old), ELECTION).await;
    let new_term = cluster.gate(new).acquire().await.unwrap().term();

    // The old leader reads an object the new one wrote, before Raft tells it anything.
    let observed = Instant::now();
    old_gate.observe_term(new_term);
    let healed_and_following = Arc::new(AtomicBool::new(false));
    let poller = {
        let gate = old_gate.clone();
        let stop = healed_and_following.clone();
        tokio::spawn(async move {
            let mut granted = 0;
            loop {
                let last_round = stop.load(Ordering::SeqCst);
                granted += usize::from(gate.acquire().await.is_ok());
                if last_round {
                    return granted;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    // Cut off, it keeps trying to confirm its leadership, and failing, until past the fence's
    // minimum hold: from then on, a round that succeeded would lift the fence.
    let hold = cluster.timing.election_timeout_max;
    wait_until("the fence's minimum hold is over", ELECTION, || {
        observed.elapsed() > hold
    })
    .await;
    let failed = rounds(&old_gate, "failed");
    wait_until("a round after the hold failed", ELECTION, || {
        rounds(&old_gate, "failed") > failed
    })
    .await;
    // Healed: its quorum rounds reach the followers, which know the newer term, so the fence is
    // never lifted, and it becomes a follower.
    cluster.faults.heal();
    old_gate
        .wait_for_raft(ELECTION, |v| v.leader == Some(new))
        .await
        .expect("the deposed leader follows the new one");
    healed_and_following.store(true, Ordering::SeqCst);
    assert_eq!(poller.await.unwrap(), 0, "the deposed leader got a permit");
    assert_eq!(cluster.leaders(), vec![new]);
    cluster.assert_one_leader_per_term();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_term_leader_and_refusals() {
    let cluster = Cluster::start(3, false).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    let follower = (leader + 1) % 3;
    let metrics_of = |gate: &roperator_core::ha::RaftGate| {
        let mut registry = prometheus_client::registry::Registry::default();
        gate.register_metrics(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    };
    // A follower learns who leads from the leader's first append, which may come a moment
    // after the election (later still on a loaded machine).
    let deadline = std::time::Instant::now() + ELECTION;
    while !metrics_of(cluster.gate(follower))
        .contains(&format!("roperator_raft_leader_id {leader}"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            metrics_of(cluster.gate(follower))
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(cluster.gate(follower).acquire().await.is_err());
    let text = metrics_of(cluster.gate(follower));
    assert!(text.contains("roperator_raft_is_leader 0"), "{text}");
    assert!(
        text.contains("roperator_raft_writes_refused_total 1"),
        "{text}"
    );
    // A permit means a quorum acknowledged this leader just now.
    cluster
        .gate(leader)
        .acquire()
        .await
        .expect("the leader confirms its leadership");
    let text = metrics_of(cluster.gate(leader));
    assert!(text.contains("roperator_raft_is_leader 1"), "{text}");
    let since_ack = |gate: &roperator_core::ha::RaftGate| {
        metrics_of(gate)
            .lines()
            .find_map(|l| l.strip_prefix("roperator_raft_seconds_since_quorum_ack "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .expect("the gauge is exported")
    };
    let fresh = since_ack(cluster.gate(leader));
    assert!((0.0..0.5).contains(&fresh), "leader acked {fresh}s ago");
    // A follower that led for a moment during the election shows -1 once its periodic
    // refresh has seen it is not leading.
    let deadline = std::time::Instant::now() + ELECTION;
    while since_ack(cluster.gate(follower)) != -1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "follower: {}",
            since_ack(cluster.gate(follower))
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Cut off, the leader's last quorum acknowledgement ages (until it stops leading).
    cluster.faults.isolate(leader, [0, 1, 2]);
    wait_until("the last quorum acknowledgement ages", ELECTION, || {
        since_ack(cluster.gate(leader)) >= 0.5
    })
    .await;
    assert!(since_ack(cluster.gate(leader)) > fresh);
    cluster.faults.heal();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_leader_catches_up_with_the_new_leaders_log() {
    let mut cluster = Cluster::start(3, false).await;
    let old = cluster.wait_for_leader(None, ELECTION).await;
    cluster.kill(old).await;
    let new = cluster.wait_for_leader(Some(old), ELECTION).await;
    let want = cluster
        .gate(new)
        .raft_view()
        .last_log_index
        .expect("the new leader has a log");
    cluster.restart(old).await.unwrap();
    let caught_up = cluster
        .gate(old)
        .wait_for_raft(Duration::from_secs(3), |v| {
            v.last_log_index.is_some_and(|i| i >= want)
        })
        .await;
    assert!(
        caught_up.is_some(),
        "restarted node stuck: {:?}",
        cluster.gate(old).raft_view()
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_without_a_client_certificate_is_refused() {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let cluster = Cluster::start(3, true).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&tls_paths(&cluster)[0].ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    // Trusts the cluster CA, so it would accept the server; but presents no certificate itself.
    let anonymous = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let stream = tokio::net::TcpStream::connect(cluster.addrs[leader as usize])
        .await
        .unwrap();
    let exchange = async {
        let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(anonymous))
            .connect(ServerName::try_from("localhost").unwrap(), stream)
            .await?;
        // Under TLS 1.3 the server checks the client's certificate after the client finished
        // its handshake, so the refusal shows on the first read.
        tls.write_all(
            b"GET /raft/status HTTP/1.1\r\nhost: localhost\r\n\
              x-roperator-raft-cluster: roperator\r\nconnection: close\r\n\r\n",
        )
        .await?;
        let mut reply = String::new();
        tls.read_to_string(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    match tokio::time::timeout(Duration::from_secs(5), exchange).await {
        Ok(Err(refused)) => assert!(
            refused.to_string().contains("Certificate") || refused.to_string().contains("cert"),
            "refused for another reason: {refused}"
        ),
        Ok(Ok(reply)) => panic!("the server answered a peer without a certificate: {reply}"),
        Err(_) => panic!("the server neither answered nor refused within 5 s"),
    }
    cluster.shutdown().await;
}

fn tls_paths(cluster: &Cluster) -> Vec<ha::TlsPaths> {
    match &cluster.security {
        ha_support::Security::Tls(p) => p.clone(),
        ha_support::Security::Plaintext => unreachable!("a TLS cluster"),
    }
}

/// Puts the files of `from` where `to` points, as a certificate renewal does.
fn install(from: &ha::TlsPaths, to: &ha::TlsPaths) {
    for (src, dst) in [
        (&from.cert, &to.cert),
        (&from.key, &to.key),
        (&from.ca, &to.ca),
    ] {
        std::fs::copy(src, dst).unwrap();
    }
}

/// A membership client that presents the certificate at `paths` and dials `addr`.
/// A membership client; its timeout is generous because a loaded CI machine (the whole suite on
/// two cores) has taken over 5 s to finish a debug-build TLS handshake, and a refusal does not
/// wait for it anyway (it fails the handshake at once).
fn client_of(cluster: &Cluster, paths: &ha::TlsPaths, addr: &str) -> MembershipClient {
    MembershipClient::new(&cluster.config(0).tls(paths.clone()), addr)
        .unwrap()
        .with_timeout(Duration::from_secs(30))
}

/// A copy of the files at `paths` that later renewals do not touch.
fn frozen_copy(cluster: &Cluster, paths: &ha::TlsPaths, name: &str) -> ha::TlsPaths {
    let dir = cluster.data.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let copy = ha::TlsPaths {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        ca: dir.join("ca.pem"),
    };
    install(paths, &copy);
    copy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_certificates_from_a_new_ca_are_used_by_new_connections() {
    let mut cluster = Cluster::start(3, true).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    let paths = tls_paths(&cluster);
    let addr = cluster.peers()[&leader].clone();
    let renewed_ca = Ca::new(cluster.data.path(), "renewed-ca");
    let renewed_peer = renewed_ca.issue("peer", "localhost");
    // Taken before the renewal: a peer that still has the old certificate.
    let old_peer = frozen_copy(&cluster, &paths[1], "old-peer");
    client_of(&cluster, &renewed_peer, &addr)
        .members()
        .await
        .expect_err("a certificate of the new CA is refused before the renewal");

    // Every replica's Secret is renewed with a certificate from a new CA.
    for (i, p) in paths.iter().enumerate() {
        install(
            &renewed_ca.issue(&format!("node-{i}-renewed"), "localhost"),
            p,
        );
    }
    client_of(&cluster, &renewed_peer, &addr)
        .members()
        .await
        .expect("after the renewal the leader accepts a peer signed by the new CA");
    client_of(&cluster, &old_peer, &addr)
        .members()
        .await
        .expect_err("and refuses one signed by the old CA");

    // The replicas dial each other with the renewed material too: a restarted follower (new
    // connections both ways) catches up, and the group survives losing its leader.
    let follower = (leader + 1) % 3;
    cluster.kill(follower).await;
    cluster.restart(follower).await.unwrap();
    let want = cluster.gate(leader).raft_view().last_log_index;
    cluster
        .gate(follower)
        .wait_for_raft(Duration::from_secs(5), |v| {
            v.leader == Some(leader) && v.last_log_index >= want
        })
        .await
        .expect("the leader reaches the restarted follower with its renewed certificate");
    cluster.kill(leader).await;
    let new = cluster.wait_for_leader(Some(leader), ELECTION).await;
    assert!(cluster.gate(new).acquire().await.is_ok());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_that_does_not_parse_keeps_the_previous_one() {
    let cluster = Cluster::start(3, true).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    let paths = tls_paths(&cluster);
    let addr = cluster.peers()[&leader].clone();
    let peer = frozen_copy(&cluster, &paths[1], "peer");

    // A renewal that went wrong: the leader's key file holds no key.
    std::fs::write(&paths[leader as usize].key, "not a key\n").unwrap();
    // The leader keeps serving with the certificate it had (each request dials a fresh
    // connection, so the server consults its files).
    client_of(&cluster, &peer, &addr)
        .members()
        .await
        .expect("the previous certificate stays in use");
    assert!(cluster.gate(leader).acquire().await.is_ok());

    // Once the files are good again they are used: a peer of the new CA is accepted.
    let renewed_ca = Ca::new(cluster.data.path(), "renewed-ca");
    install(
        &renewed_ca.issue("leader-renewed", "localhost"),
        &paths[leader as usize],
    );
    let renewed_peer = renewed_ca.issue("peer-renewed", "localhost");
    client_of(&cluster, &renewed_peer, &addr)
        .members()
        .await
        .expect("the repaired files are in use");
    cluster.shutdown().await;
}

/// Quorum rounds `gate` ran so far, by result (`confirmed` or `failed`).
fn rounds(gate: &ha::RaftGate, result: &str) -> f64 {
    metric(
        gate,
        "roperator_raft_quorum_rounds_total",
        &[&format!("result=\"{result}\"")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_syncs_share_quorum_rounds_on_a_slow_network_and_with_a_silent_peer() {
    const SYNCS: usize = 64;
    // A slow network: every RPC takes 500 ms, longer than half the write lease (375 ms), yet
    // within openraft's deadline for a leadership confirmation (one heartbeat, 900 ms). A
    // caller that insisted on a round leaving it half a lease would never be served by
    // another's round, and the rounds would add up, one per sync.
    let timing = ha::Timing {
        heartbeat: Duration::from_millis(900),
        election_timeout_min: Duration::from_millis(1000),
        election_timeout_max: Duration::from_millis(2000),
    };
    let cluster = Cluster::start_with_timing(3, timing).await;
    let leader = cluster.wait_for_leader(None, ELECTION * 2).await;
    let gate = cluster.gate(leader).clone();
    let term = gate.acquire().await.unwrap().term();
    // A term from another group: once it is proven foreign, seeing it again costs nothing but
    // makes the next permit wait for a quorum round started after it (see the fencing docs).
    // That is how a burst of syncs is made to need a round here.
    gate.observe_term(term + 5);
    acquire_within(&gate, ELECTION).await;
    for peer in (0..3).filter(|p| *p != leader) {
        cluster.faults.delay(peer, Duration::from_millis(500));
    }

    let silent = (leader + 1) % 3;
    for silence in [false, true] {
        if silence {
            // Packets to one follower are dropped: its RPCs time out instead of failing at once.
            cluster.faults.silence(silent);
            wait_until("the leader notices the silent follower", ELECTION, || {
                metric(
                    &gate,
                    "roperator_raft_peer_reachable",
                    &[&format!("peer=\"{silent}\"")],
                ) == 0.0
            })
            .await;
        }
        let (confirmed, failed) = (rounds(&gate, "confirmed"), rounds(&gate, "failed"));
        gate.observe_term(term + 5);
        let syncs: Vec<_> = (0..SYNCS)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move { gate.acquire().await })
            })
            .collect();
        for sync in syncs {
            let permit = sync.await.unwrap().expect("every sync gets a permit");
            assert_eq!(permit.term(), term);
        }
        let ran = rounds(&gate, "confirmed") - confirmed;
        // The round in flight when the term was seen started before it and cannot serve; the
        // next one serves every sync (the lease renewal of the gate itself may add one).
        assert!(
            (1.0..=3.0).contains(&ran),
            "{SYNCS} concurrent syncs took {ran} quorum rounds (silent peer: {silence})"
        );
        assert_eq!(
            rounds(&gate, "failed"),
            failed,
            "a quorum of live peers answers every round (silent peer: {silence})"
        );
    }
    cluster.faults.heal();
    cluster.shutdown().await;
}
