//! Membership changes as the guide describes them: scaling 3 -> 5 -> 3, and recovering a replica
//! whose data directory was wiped.

mod ha_support;

use std::collections::BTreeSet;
use std::time::Duration;

use ha_support::Cluster;
use roperator_core::ha::{DataDirError, StartError};
use roperator_core::leader::LeaderGate;

const ELECTION: Duration = Duration::from_secs(10);

fn voters(cluster: &Cluster, on: u64) -> BTreeSet<u64> {
    cluster
        .gate(on)
        .raft()
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .voter_ids()
        .collect()
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
