//! Membership changes as the guide describes them: scaling 3 -> 5 -> 3, and recovering a replica
//! whose data directory was wiped.

mod ha_support;

use std::collections::BTreeSet;
use std::time::Duration;

use ha_support::{Cluster, wait_until};
use roperator_core::ha::{
    AdminError, DataDirError, MembershipClient, MembershipErrorKind, StartError,
};
use roperator_core::leader::LeaderGate;

const ELECTION: Duration = Duration::from_secs(10);

fn voters(cluster: &Cluster, on: u64) -> BTreeSet<u64> {
    cluster.gate(on).membership().voters.into_keys().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_from_three_to_five_and_back() {
    let mut cluster = Cluster::start_members(5, 3, false).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    assert_eq!(voters(&cluster, leader), BTreeSet::from([0, 1, 2]));

    // New pods start empty; nobody knows them, so they wait as non-members.
    for i in [3, 4] {
        cluster.restart(i).await.expect("a new replica starts");
    }
    let peers = cluster.peers();
    for i in [3, 4] {
        cluster
            .gate(leader)
            .add_member(i, &peers[&i])
            .await
            .expect("the leader adds the new replica");
    }
    assert_eq!(voters(&cluster, leader), BTreeSet::from([0, 1, 2, 3, 4]));

    // Five voters survive losing two of them (neither the leader).
    let (a, b) = {
        let mut others = (0..5).filter(|i| *i != leader);
        (others.next().unwrap(), others.next().unwrap())
    };
    cluster.kill(a).await;
    cluster.kill(b).await;
    let permit = cluster
        .gate(leader)
        .acquire()
        .await
        .expect("3 of 5 is a quorum");
    assert!(permit.is_valid());
    cluster.restart(a).await.unwrap();
    cluster.restart(b).await.unwrap();

    // Back to three: remove before scaling down.
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    for i in [4, 3] {
        if i == leader {
            continue;
        }
        cluster.gate(leader).remove_member(i).await.unwrap();
        cluster.kill(i).await;
    }
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    let remaining = voters(&cluster, leader);
    assert_eq!(remaining.len(), 3, "{remaining:?}");
    assert!(cluster.gate(leader).acquire().await.is_ok());
    cluster.assert_one_leader_per_term();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_replica_recovers_by_remove_restart_add() {
    let mut cluster = Cluster::start(3, false).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    let victim = (leader + 1) % 3;
    cluster.kill(victim).await;
    std::fs::remove_dir_all(cluster.data_dir(victim)).unwrap();
    assert!(matches!(
        cluster.restart(victim).await,
        Err(StartError::DataDir(DataDirError::Wiped { .. }))
    ));

    // The recovery from the error message and the guide.
    cluster.gate(leader).remove_member(victim).await.unwrap();
    cluster
        .restart(victim)
        .await
        .expect("once removed, the node starts empty");
    let addr = cluster.peers()[&victim].clone();
    cluster
        .gate(leader)
        .add_member(victim, &addr)
        .await
        .expect("and is added again");
    assert_eq!(voters(&cluster, leader), BTreeSet::from([0, 1, 2]));

    // It is a full member again: the group survives losing the old leader.
    cluster.kill(leader).await;
    let new = cluster.wait_for_leader(Some(leader), ELECTION).await;
    assert!(cluster.gate(new).acquire().await.is_ok());
    cluster.assert_one_leader_per_term();
    cluster.shutdown().await;
}

/// The same 3 -> 5 -> 3 through the admin API, as `echo-server raft ...` does it: every request
/// goes to a follower over mutual TLS and is forwarded to the leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_through_the_admin_api_of_a_follower() {
    let mut cluster = Cluster::start_members(5, 3, true).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    let follower = (leader + 1) % 3;
    // A follower that has not heard from the new leader yet answers with its own view: wait
    // until it knows whom to forward to.
    wait_until("the follower knows the leader", ELECTION, || {
        cluster.gate(follower).membership().leader == Some(leader)
    })
    .await;
    let client = MembershipClient::for_local_replica(&cluster.config(follower)).unwrap();
    let peers = cluster.peers();

    let members = client.members().await.expect("members listed");
    assert_eq!(members.answered_by, leader, "forwarded to the leader");
    assert_eq!(members.leader, Some(leader));
    assert_eq!(
        members.voters.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([0, 1, 2])
    );
    assert_eq!(members.voters[&follower], peers[&follower]);
    assert!(members.learners.is_empty());
    assert!(
        members
            .to_string()
            .contains(&format!("leader: node {leader}")),
        "{members}"
    );

    for i in [3, 4] {
        cluster.restart(i).await.expect("a new replica starts");
        let members = client.add_member(i, &peers[&i]).await.expect("added");
        assert_eq!(members.answered_by, leader);
        assert_eq!(members.voters.get(&i), Some(&peers[&i]));
    }
    assert_eq!(voters(&cluster, leader), BTreeSet::from([0, 1, 2, 3, 4]));

    let again = client.add_member(3, &peers[&3]).await.unwrap_err();
    assert!(
        matches!(&again, AdminError::Refused(e) if e.kind == MembershipErrorKind::AlreadyMember),
        "{again}"
    );
    assert!(
        again.to_string().contains("node 3 is already a voter"),
        "{again}"
    );
    let unknown = client.remove_member(9).await.unwrap_err();
    assert!(
        matches!(&unknown, AdminError::Refused(e) if e.kind == MembershipErrorKind::UnknownMember),
        "{unknown}"
    );
    assert!(
        unknown.to_string().contains("node 9 is not a member"),
        "{unknown}"
    );

    // With 3 and 4 down, removing another voter would leave 2 of 4 answering: refused up front
    // instead of a change that can never commit.
    cluster.kill(3).await;
    cluster.kill(4).await;
    let no_quorum = client.remove_member(follower).await.unwrap_err();
    assert!(
        matches!(&no_quorum, AdminError::Refused(e) if e.kind == MembershipErrorKind::NoQuorum),
        "{no_quorum}"
    );
    assert_eq!(voters(&cluster, leader).len(), 5, "nothing changed");

    // Back to three. Removing a stopped replica is fine while a majority of the rest answers.
    for i in [4, 3] {
        let members = client.remove_member(i).await.expect("removed");
        assert!(!members.voters.contains_key(&i) && !members.learners.contains_key(&i));
    }
    let members = client.members().await.unwrap();
    assert_eq!(
        members.voters.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([0, 1, 2])
    );
    assert!(cluster.gate(leader).acquire().await.is_ok());
    cluster.assert_one_leader_per_term();
    cluster.shutdown().await;
}

/// The admin API has the peers' trust model: a certificate from another CA is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_refuses_a_certificate_from_another_ca() {
    let cluster = Cluster::start(3, true).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    let stranger = ha_support::Ca::new(cluster.data.path(), "other-ca").issue("admin", "localhost");
    let client =
        MembershipClient::for_local_replica(&cluster.config(leader).tls(stranger)).unwrap();
    let err = client.members().await.unwrap_err();
    assert!(matches!(err, AdminError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().contains("TLS") || err.to_string().contains("send"),
        "{err}"
    );
    cluster.shutdown().await;
}
