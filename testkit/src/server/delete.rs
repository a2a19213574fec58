//! `delete` (preconditions, propagation policy) and `deletecollection`.

use bytes::Bytes;
use serde_json::{Value, json};

use super::Inner;
use super::gc::{self, Deleted, Propagation, Queue};
use super::list::{self, filter_for, validate_list_options};
use super::objects::{Query, Reply, Target, at_version, finish};
use crate::errors::ApiError;
use crate::meta::meta_str;
use crate::store::ObjRef;

/// DeleteOptions from the body and the query.
struct DeleteOptions {
    policy: Propagation,
    /// Neither `propagationPolicy` nor `orphanDependents` was given.
    defaulted: bool,
    uid: Option<String>,
    rv: Option<String>,
    /// `dryRun: ["All"]`, from the body or the query.
    dry_run: bool,
}

fn delete_options(t: &Target, body: &[u8], q: &Query) -> Result<DeleteOptions, ApiError> {
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        // The delete handler passes the decoder's error on as it is: a 500 without a reason.
        if let Some(why) = crate::go_json::kind_finding_error(body) {
            return Err(ApiError::new(500, "", why));
        }
        serde_json::from_slice::<Value>(body)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}))
    };
    let policy_text = v
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| q.get("propagationPolicy").cloned());
    let orphan = v
        .get("orphanDependents")
        .and_then(Value::as_bool)
        .or_else(|| q.get("orphanDependents").map(|x| x == "true"));
    let defaulted = policy_text.is_none() && orphan.is_none();
    if let (Some(p), Some(_)) = (&policy_text, orphan) {
        return Err(ApiError::invalid(
            "DeleteOptions",
            "meta.k8s.io",
            "",
            &[crate::errors::cause(
                "FieldValueInvalid",
                "propagationPolicy",
                format!(
                    "Invalid value: {p:?}: orphanDependents and deletionPropagation cannot be both set"
                ),
            )],
        ));
    }
    let dry_run_values: Vec<String> = match v.get("dryRun") {
        Some(Value::Array(values)) => values
            .iter()
            .filter_map(|d| d.as_str().map(str::to_string))
            .collect(),
        _ => q.get("dryRun").cloned().into_iter().collect(),
    };
    let dry_run = validate_dry_run("DeleteOptions", &dry_run_values)?;
    let policy = match (policy_text, orphan) {
        (Some(p), _) => Propagation::parse(&p)?,
        (None, Some(true)) => Propagation::Orphan,
        (None, Some(false)) => Propagation::Background,
        (None, None) => default_policy(t),
    };
    Ok(DeleteOptions {
        policy,
        defaulted,
        uid: v
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        rv: v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        dry_run,
    })
}

/// `ValidateDryRun`: only `All` (as often as it is repeated, or nothing) is a dry run the
/// server knows.
pub(crate) fn validate_dry_run(options_kind: &str, values: &[String]) -> Result<bool, ApiError> {
    match values {
        [] => Ok(false),
        all if all.iter().all(|v| v == "All") => Ok(true),
        other => Err(ApiError::invalid(
            options_kind,
            "meta.k8s.io",
            "",
            &[crate::errors::cause(
                "FieldValueNotSupported",
                "dryRun",
                format!(
                    "Unsupported value: []string{{{}}}: supported values: \"All\"",
                    other
                        .iter()
                        .map(|v| format!("{v:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )],
        )),
    }
}

fn success_status(t: &Target, name: &str, uid: &str) -> Bytes {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": crate::errors::omit_empty(
            json!({"name": name, "group": t.ty.group, "kind": t.ty.plural, "uid": uid})
        ),
    });
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

/// The strategy's `DefaultGarbageCollectionPolicy`: batch/v1 Jobs orphan their Pods unless told
/// otherwise (kept for backward compatibility upstream); everything else is deleted in the
/// background.
fn default_policy(t: &Target) -> Propagation {
    if is_batch_v1_job(t) {
        Propagation::Orphan
    } else {
        Propagation::Background
    }
}

fn is_batch_v1_job(t: &Target) -> bool {
    t.ty.group == "batch" && t.ty.version == "v1" && t.ty.kind == "Job"
}

/// The warning the Job store sends when a delete relies on the orphaning default.
fn delete_warnings(t: &Target, opts: &DeleteOptions) -> Vec<String> {
    if is_batch_v1_job(t) && opts.defaulted {
        vec!["child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning".to_string()]
    } else {
        Vec::new()
    }
}

/// Whether the type's upstream registry store sets `ReturnDeletedObject: true`: among the
/// served types, the core Pod, ServiceAccount, Service (pkg/registry/core/service/storage) and
/// PersistentVolumeClaim stores; the others answer with a Status.
fn returns_deleted_object(t: &Target) -> bool {
    t.ty.group.is_empty()
        && matches!(
            t.ty.kind.as_str(),
            "Pod" | "ServiceAccount" | "Service" | "PersistentVolumeClaim"
        )
}

/// A delete, with the warnings for its response.
pub(crate) fn delete(inner: &Inner, t: &Target, body: &[u8], q: &Query) -> (Reply, Vec<String>) {
    with_options(t, body, q, |opts| delete_one(inner, t, opts))
}

/// Parses the DeleteOptions, runs `delete` with them, and adds the warnings a successful
/// delete with those options gets.
fn with_options(
    t: &Target,
    body: &[u8],
    q: &Query,
    delete: impl FnOnce(&DeleteOptions) -> Reply,
) -> (Reply, Vec<String>) {
    match delete_options(t, body, q) {
        Ok(opts) => {
            let reply = delete(&opts);
            let warnings = if reply.is_ok() {
                delete_warnings(t, &opts)
            } else {
                Vec::new()
            };
            (reply, warnings)
        }
        Err(e) => (Err(e), Vec::new()),
    }
}

fn delete_one(inner: &Inner, t: &Target, opts: &DeleteOptions) -> Reply {
    let name = t.name().to_string();
    let mut st = inner.lock();
    let r = t.obj_ref(&name);
    let live = st.get_value(&r).ok_or_else(|| t.not_found(&name))?;
    if t.ty.kind == "Namespace"
        && t.ty.group.is_empty()
        && matches!(name.as_str(), "default" | "kube-system" | "kube-public")
    {
        let mut err = ApiError::forbidden(format!(
            "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
        ));
        err.details = Some(json!({"name": name, "kind": "namespaces"}));
        return Err(err);
    }
    if (t.ty.group.as_str(), t.ty.kind.as_str()) == ("scheduling.k8s.io", "PriorityClass")
        && crate::validate::SYSTEM_PRIORITY_CLASSES
            .iter()
            .any(|(system, _)| *system == name)
    {
        let mut err = ApiError::forbidden(format!(
            "priorityclasses.scheduling.k8s.io \"{name}\" is forbidden: this is a system priority class and cannot be deleted"
        ));
        err.details =
            Some(json!({"name": name, "group": "scheduling.k8s.io", "kind": "priorityclasses"}));
        return Err(err);
    }
    if t.ty.kind == "Namespace"
        && t.ty.group.is_empty()
        && live.pointer("/metadata/deletionTimestamp").is_some()
    {
        // The namespace REST's Delete, once the namespace is terminating.
        return Err(ApiError::conflict(
            "",
            "namespaces",
            &name,
            "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
        ));
    }
    let live_uid = meta_str(&live, "uid").unwrap_or("").to_string();
    if let Some(uid) = &opts.uid
        && *uid != live_uid
    {
        return Err(ApiError::precondition_failed(
            &t.ty.group,
            &t.ty.kind,
            &name,
            &format!(
                "the UID in the precondition ({uid}) does not match the UID in record ({live_uid}). The object might have been deleted and then recreated"
            ),
        ));
    }
    let live_rv = meta_str(&live, "resourceVersion").unwrap_or("").to_string();
    if let Some(rv) = &opts.rv
        && *rv != live_rv
    {
        return Err(ApiError::precondition_failed(
            &t.ty.group,
            &t.ty.kind,
            &name,
            &format!(
                "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({live_rv}). The object might have been modified"
            ),
        ));
    }
    if opts.dry_run {
        return Ok((200, dry_run_answer(&st, t, &live, opts)));
    }
    let mut work = Queue::new();
    let reply = match gc::delete_object(&mut st, &mut work, &r, opts.policy) {
        None => Err(t.not_found(&name)),
        // Stores built with `ReturnDeletedObject` (see `returns_deleted_object`) answer an immediate
        // deletion with the object as it was last stored; every other store with a Status.
        Some(Deleted::Gone(last)) if returns_deleted_object(t) => {
            Ok((200, at_version(&st, t, &last)))
        }
        Some(Deleted::Gone(_)) => Ok((200, success_status(t, &name, &live_uid))),
        Some(Deleted::Pending(json)) => Ok((200, at_version(&st, t, &json))),
    };
    finish(&mut st, work, reply)
}

/// What a dry-run delete answers without touching the store: the object marked as the delete
/// would mark it (finalizers, deletion timestamp, a pod's zero grace period), else what an
/// immediate delete answers.
fn dry_run_answer(
    st: &crate::store::State,
    t: &Target,
    live: &Value,
    opts: &DeleteOptions,
) -> Bytes {
    let mut v = live.clone();
    let core = t.ty.group.is_empty();
    let kind = gc::DeletedKind {
        namespace: core && t.ty.kind == "Namespace",
        pod: core && t.ty.kind == "Pod",
    };
    // An object already being deleted answers as it is.
    if !crate::meta::is_deleting(live)
        && gc::mark_deleted(&mut v, opts.policy, kind) == gc::Marked::Gone
        && !returns_deleted_object(t)
    {
        let uid = meta_str(live, "uid").unwrap_or("");
        return success_status(t, t.name(), uid);
    }
    let json = Bytes::from(serde_json::to_vec(&v).unwrap_or_default());
    at_version(st, t, &json)
}

pub(crate) fn delete_collection(
    inner: &Inner,
    t: &Target,
    body: &[u8],
    q: &Query,
) -> (Reply, Vec<String>) {
    with_options(t, body, q, |opts| delete_many(inner, t, opts, q))
}

/// `Store.DeleteCollection`: lists (every page, or only the first when `limit` is given),
/// deletes what it listed, and answers with the list as it was read.
fn delete_many(inner: &Inner, t: &Target, opts: &DeleteOptions, q: &Query) -> Reply {
    validate_list_options(q, false)?;
    let filter = filter_for(t, q)?;
    let limit = super::query::integer(q, "limit")?
        .and_then(|l| usize::try_from(l).ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let mut st = inner.lock();
    let listed: Vec<((String, String), Bytes)> = st.buckets[t.bucket]
        .objects
        .iter()
        .filter(|((ns, _), _)| t.ns.as_ref().is_none_or(|n| n == ns))
        .filter(|(_, s)| filter.matches_bytes(&s.json))
        .take(limit)
        .map(|(k, s)| (k.clone(), s.json.clone()))
        .collect();
    // The answer is the first page as listed, before anything is deleted.
    let last = (listed.len() == limit)
        .then(|| listed.last().map(|(key, _)| key.clone()))
        .flatten();
    let meta = list::page_meta(&st, t, q, last);
    let mut work = Queue::new();
    let mut items: Vec<u8> = Vec::new();
    for ((ns, name), json) in listed {
        list::push_item(&st, t, &json, list::Items::OnTheWire, &mut items);
        if opts.dry_run {
            continue;
        }
        let r = ObjRef {
            bucket: t.bucket,
            ns,
            name,
        };
        gc::delete_object(&mut st, &mut work, &r, opts.policy);
        gc::drain(&mut st, &mut work);
    }
    Ok((200, list::list_body(t, &meta, &items)))
}
