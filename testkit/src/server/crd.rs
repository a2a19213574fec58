//! What the API server does around CustomResourceDefinitions: conditions and accepted names on
//! the CRD, serving (and withdrawing) its versions, and removing its objects when it goes.

use serde_json::{Value, json};

use super::gc::{self, Queue};
use super::objects::is_crd;
use crate::meta::now;
use crate::registry::crd_types;
use crate::store::{ObjRef, State};

/// Fills in what the API server adds to a CRD: accepted names and conditions.
/// The status `PrepareForCreate` leaves on a new CRD: no names accepted and no conditions yet,
/// only the storage version recorded.
pub(crate) fn crd_initial_status(v: &mut Value) {
    v["status"] = json!({
        "conditions": null,
        "acceptedNames": {"kind": "", "plural": ""},
        "storedVersions": storage_version(v).into_iter().collect::<Vec<_>>(),
    });
}

/// What the naming and establishing controllers make of a CRD's status right after a write:
/// its names accepted, the CRD established, and (as `PrepareForUpdate` does) the storage
/// version added to the versions ever stored.
pub(crate) fn crd_status(v: &mut Value, previous: Option<&Value>) {
    let names = v.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let mut stored: Vec<Value> = previous
        .and_then(|p| p.pointer("/status/storedVersions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(version) = storage_version(v)
        && !stored.contains(&version)
    {
        stored.push(version);
    }
    let t = now();
    v["status"] = json!({
        "acceptedNames": names,
        "storedVersions": stored,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": t},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": t},
        ]
    });
}

fn storage_version(v: &Value) -> Option<Value> {
    v.pointer("/spec/versions")
        .and_then(Value::as_array)?
        .iter()
        .find(|x| x.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|x| x.get("name").cloned())
}

/// Serves what a stored CRD defines (and stops serving versions it no longer serves).
pub(crate) fn crd_serve(st: &mut State, v: &Value) {
    let Ok(types) = crd_types(v) else { return };
    let versions: Vec<String> = types.iter().map(|t| t.version.clone()).collect();
    for ty in types {
        st.register(ty, true);
    }
    let group = v
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = v
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(id) = st
        .buckets
        .iter()
        .position(|b| b.custom && b.primary().group == group && b.primary().plural == plural)
    {
        if versions.is_empty() {
            st.unregister_versions(id, &[]);
        } else {
            st.unregister_versions(id, &versions);
        }
    }
}

/// Called by the garbage collector when an object is gone for good.
pub(crate) fn after_removal(st: &mut State, work: &mut Queue, r: &ObjRef, last: &Value) {
    if !is_crd(st.buckets[r.bucket].primary()) {
        return;
    }
    let group = last
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = last
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(id) = st
        .buckets
        .iter()
        .position(|b| b.custom && b.primary().group == group && b.primary().plural == plural)
    else {
        return;
    };
    // The real server's CRD finalizer deletes every instance before the CRD goes; instances'
    // own finalizers are not waited for here.
    let keys: Vec<(String, String)> = st.buckets[id].objects.keys().cloned().collect();
    for (ns, name) in keys {
        let r = ObjRef {
            bucket: id,
            ns,
            name,
        };
        if let Some(v) = st.get_value(&r) {
            gc::remove_now(st, work, &r, v);
        }
    }
    st.unregister_versions(id, &[]);
    // The real server ends watches on a kind that is no longer served.
    st.watchers.retain(|w| w.filter.bucket != id);
}
