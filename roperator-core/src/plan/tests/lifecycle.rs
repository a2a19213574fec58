//! Adoption, release and rolling updates in the planner.

use super::*;
use crate::config::{Prune, Rollout};

fn ctx_with<R>(child: ChildConfig, parent: &Observed, f: impl FnOnce(&PlanContext<'_>) -> R) -> R {
    let child_types = vec![(k8s_types::core::v1::ConfigMap, child)];
    let ctx = PlanContext {
        operator: "op",
        parent_type: PARENT,
        parent,
        child_types: &child_types,
        namespaces: &NamespaceScope::All,
    };
    f(&ctx)
}

/// `live` as it is after its parent went with `--cascade=orphan`: no owner reference.
fn orphaned(live: &Observed) -> Arc<Observed> {
    let mut json = live.json.clone();
    json["metadata"]["ownerReferences"] = json!([]);
    Arc::new(Observed::from_json(json).unwrap())
}

/// `live` with a `Ready` condition of `status`.
fn ready(live: &Observed, status: &str) -> Arc<Observed> {
    let mut json = live.json.clone();
    json["status"] = json!({"conditions": [{"type": "Ready", "status": status}]});
    Arc::new(Observed::from_json(json).unwrap())
}

#[test]
fn an_orphan_is_adopted_with_a_conditional_patch_and_nothing_else() {
    let parent = parent_obj(Some("ns"));
    ctx_with(ChildConfig::replace().with_adoption(), &parent, |ctx| {
        let desired = validate(ctx, &[cm("a", json!({"k": "v"}))]).unwrap();
        let orphan = orphaned(&live_from(ctx, &desired[0], "a1"));
        let plan = super::super::plan(ctx, &[], &[Arc::clone(&orphan)], &desired);
        let [
            Action::Adopt {
                patch, observed, ..
            },
        ] = &plan.actions[..]
        else {
            panic!("one adoption: {:?}", plan.actions)
        };
        assert_eq!(observed.uid, "a1");
        assert_eq!(
            patch[0],
            json!({"op": "test", "path": "/metadata/resourceVersion", "value": "10"})
        );
        assert_eq!(patch[1]["path"], "/metadata/ownerReferences");
        assert_eq!(patch[1]["value"].as_array().unwrap().len(), 1);
        assert_eq!(patch[1]["value"][0]["uid"], "parent-uid");
        assert_eq!(patch[1]["value"][0]["controller"], true);
        assert_eq!(
            patch[2]["path"],
            "/metadata/labels/roperator.io~1parent-uid"
        );
    });
}

#[test]
fn nothing_is_adopted_without_adoption_or_for_a_parent_being_deleted() {
    let parent = parent_obj(Some("ns"));
    ctx_with(ChildConfig::replace(), &parent, |ctx| {
        let desired = validate(ctx, &[cm("a", json!({}))]).unwrap();
        let orphan = orphaned(&live_from(ctx, &desired[0], "a1"));
        let plan = super::super::plan(ctx, &[], &[orphan], &desired);
        // A create, whose collision the writer reports.
        assert!(matches!(&plan.actions[..], [Action::Create { .. }]));
    });
    let mut deleting = parent_obj(Some("ns"));
    deleting.deleting = true;
    ctx_with(ChildConfig::replace().with_adoption(), &deleting, |ctx| {
        let desired = validate(ctx, &[cm("a", json!({}))]).unwrap();
        let orphan = orphaned(&live_from(ctx, &desired[0], "a1"));
        let plan = super::super::plan(ctx, &[], &[orphan], &desired);
        assert_eq!(plan.actions, vec![]);
        assert!(!plan.awaits_deletion);
    });
}

#[test]
fn an_orphan_being_deleted_is_waited_for_and_then_the_child_is_created() {
    let parent = parent_obj(Some("ns"));
    ctx_with(ChildConfig::replace().with_adoption(), &parent, |ctx| {
        let desired = validate(ctx, &[cm("a", json!({}))]).unwrap();
        let mut json = orphaned(&live_from(ctx, &desired[0], "a1")).json.clone();
        json["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let going = Arc::new(Observed::from_json(json).unwrap());
        let plan = super::super::plan(ctx, &[], &[going], &desired);
        assert_eq!(plan.actions, vec![]);
        assert!(
            plan.awaits_deletion,
            "nothing else would sync the parent when it is gone"
        );
        let plan = super::super::plan(ctx, &[], &[], &desired);
        assert!(matches!(&plan.actions[..], [Action::Create { .. }]));
    });
}

#[test]
fn release_removes_the_owner_reference_and_parent_label_and_keeps_the_rest() {
    let parent = parent_obj(Some("ns"));
    ctx_with(
        ChildConfig::replace().with_prune(Prune::Release),
        &parent,
        |ctx| {
            let desired = validate(ctx, &[cm("a", json!({}))]).unwrap();
            let live = live_from(ctx, &desired[0], "a1");
            let plan = super::super::plan(ctx, &[live], &[], &[]);
            let [Action::Release { patch, .. }] = &plan.actions[..] else {
                panic!("one release: {:?}", plan.actions)
            };
            assert_eq!(
                patch,
                &json!([
                    {"op": "test", "path": "/metadata/resourceVersion", "value": "10"},
                    {"op": "remove", "path": "/metadata/ownerReferences/0"},
                    {"op": "remove", "path": "/metadata/labels/roperator.io~1parent-uid"},
                ])
            );
        },
    );
}

#[test]
fn a_rollout_updates_in_order_within_its_budget_and_never_holds_creates_back() {
    let parent = parent_obj(Some("ns"));
    let config = ChildConfig::replace().with_rollout(Rollout::at_most(2));
    ctx_with(config, &parent, |ctx| {
        let old: Vec<Desired> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| {
                validate(ctx, &[cm(n, json!({"v": "1"}))])
                    .unwrap()
                    .remove(0)
            })
            .collect();
        let live: Vec<Arc<Observed>> = old
            .iter()
            .map(|d| ready(&live_from(ctx, d, &d.name), "True"))
            .collect();
        let new = validate(
            ctx,
            &["a", "b", "c", "d", "e"].map(|n| cm(n, json!({"v": "2"}))),
        )
        .unwrap();
        let plan = super::super::plan(ctx, &live, &[], &new);
        let touched: Vec<(&str, String)> = plan
            .actions
            .iter()
            .map(|a| match a {
                Action::Replace { observed, .. } => ("update", observed.name.clone()),
                Action::Create { object, .. } => (
                    "create",
                    object["metadata"]["name"].as_str().unwrap().into(),
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        // e is created at once and, not ready yet, takes one of the two slots.
        assert_eq!(
            touched,
            vec![("update", "a".into()), ("create", "e".into())]
        );
        assert_eq!(plan.rollouts[0].held, 3);
        assert_eq!(plan.rollouts[0].updating, vec!["a".to_string()]);

        // b is not ready: its update is free (it cannot be less available), c waits.
        let mut live = live.clone();
        live[1] = ready(&live[1], "False");
        let plan = super::super::plan(ctx, &live[..4], &[], &new[..4]);
        let updated: Vec<String> = plan
            .actions
            .iter()
            .map(|a| match a {
                Action::Replace { observed, .. } => observed.name.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(updated, vec!["a", "b"]);
        assert_eq!(
            plan.rollouts[0].waiting_for.as_ref().map(|w| w.0.as_str()),
            Some("b")
        );
    });
}

#[test]
fn a_rolling_recreate_deletes_one_child_and_waits_while_it_is_gone() {
    let parent = parent_obj(Some("ns"));
    ctx_with(ChildConfig::rolling_recreate(), &parent, |ctx| {
        let old: Vec<Desired> = ["a", "b"]
            .iter()
            .map(|n| {
                validate(ctx, &[cm(n, json!({"v": "1"}))])
                    .unwrap()
                    .remove(0)
            })
            .collect();
        let live: Vec<Arc<Observed>> = old.iter().map(|d| live_from(ctx, d, &d.name)).collect();
        let new = validate(ctx, &["a", "b"].map(|n| cm(n, json!({"v": "2"})))).unwrap();
        let plan = super::super::plan(ctx, &live, &[], &new);
        assert!(matches!(
            &plan.actions[..],
            [Action::Delete { reason: DeleteReason::Recreate, observed, .. }] if observed.name == "a"
        ));
        // a is gone: it is created again at once, and b waits until a is ready.
        let plan = super::super::plan(ctx, &live[1..], &[], &new);
        assert!(matches!(&plan.actions[..], [Action::Create { .. }]));
        assert_eq!(plan.rollouts[0].held, 1);
        assert_eq!(
            plan.rollouts[0].waiting_for,
            Some(("a".to_string(), "it is being created".to_string()))
        );
    });
}
