//! High availability: replicas under Raft, writes only from the leader (issue 5).
