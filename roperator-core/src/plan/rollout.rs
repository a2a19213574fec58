//! Rolling updates: which of the planned updates of a rolling child type go out now, and which
//! wait for a child that is not ready (see [`Rollout`](crate::Rollout)).

use std::collections::HashSet;
use std::sync::Arc;

use super::{Action, Desired, PlanContext};
use crate::config::Rollout;
use crate::k8s_type::K8sType;
use crate::object::Observed;

/// One desired child as the planner saw it: the object standing for it (live, or an orphan
/// being adopted), and the write planned for it.
pub(super) struct Step<'a> {
    pub desired: &'a Desired,
    pub current: Option<&'a Arc<Observed>>,
    pub action: Option<Action>,
}

/// How far the rollout of one child type got, as the parent's `Updated` condition tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Progress {
    pub child_type: K8sType,
    /// Desired children of the type.
    pub children: usize,
    /// Children updated by this plan (names, in the handler's order).
    pub updating: Vec<String>,
    /// Children whose update is held back.
    pub held: usize,
    /// The first child that is not ready and why: what the rollout waits for.
    pub waiting_for: Option<(String, String)>,
}

/// The indexes of `steps` whose update is held back, and the progress of every rolling type.
pub(super) fn hold(ctx: &PlanContext<'_>, steps: &[Step<'_>]) -> (HashSet<usize>, Vec<Progress>) {
    let mut held = HashSet::new();
    let mut progress = Vec::new();
    for (child_type, config) in ctx.child_types {
        // `validate` refuses a rollout on an on_delete type.
        let Some(rollout) = &config.rollout else {
            continue;
        };
        let members: Vec<usize> = (0..steps.len())
            .filter(|&i| steps[i].desired.child_type == *child_type)
            .collect();
        let p = roll(rollout, *child_type, steps, &members, &mut held);
        progress.push(p);
    }
    (held, progress)
}

fn roll(
    rollout: &Rollout,
    child_type: K8sType,
    steps: &[Step<'_>],
    members: &[usize],
    held: &mut HashSet<usize>,
) -> Progress {
    let updates = |&i: &usize| steps[i].action.as_ref().is_some_and(is_update);
    if !members.iter().any(updates) {
        // Nothing to pace: no child's readiness matters this sync.
        return Progress {
            child_type,
            children: members.len(),
            updating: Vec::new(),
            held: 0,
            waiting_for: None,
        };
    }
    // Not ready: being created, being deleted (recreate), or failing the readiness check.
    let readiness = |i: usize| match steps[i].current {
        None => Err("it is being created".to_string()),
        Some(current) => rollout.check(current),
    };
    let unready: Vec<(usize, String)> = members
        .iter()
        .filter_map(|&i| readiness(i).err().map(|why| (i, why)))
        .collect();
    let mut slots = rollout.max_unready().saturating_sub(unready.len());
    let mut progress = Progress {
        child_type,
        children: members.len(),
        updating: Vec::new(),
        held: 0,
        waiting_for: unready
            .first()
            .map(|(i, why)| (steps[*i].desired.name.clone(), why.clone())),
    };
    for &i in members {
        if !updates(&i) {
            continue;
        }
        // A child that is not ready cannot be made less available: its update goes out now.
        let already_down = unready.iter().any(|(u, _)| *u == i);
        if already_down || slots > 0 {
            if !already_down {
                slots -= 1;
            }
            progress.updating.push(steps[i].desired.name.clone());
        } else {
            held.insert(i);
            progress.held += 1;
        }
    }
    progress
}

/// An update of an existing child (what a rollout paces); creates and adoptions are not.
fn is_update(action: &Action) -> bool {
    matches!(
        action,
        Action::Replace { .. } | Action::Apply { .. } | Action::Delete { .. }
    )
}
