//! `application/strategic-merge-patch+json`, as `k8s.io/apimachinery/pkg/util/strategicpatch`
//! applies it to built-in types.
//!
//! Maps merge key by key and `null` deletes a key. A list merges only when its field carries
//! `x-kubernetes-patch-strategy: merge` in the type's schema (see the catalog's generated table):
//! lists of objects merge item by item on their `x-kubernetes-patch-merge-key` (containers and env
//! by `name`, container ports by `containerPort`, Service ports by `port`, volume mounts by
//! `mountPath`, conditions by `type`, owner references by `uid`...), lists of scalars as a union;
//! every other list is replaced. The directives understood are `$patch: replace | merge | delete`
//! (on a map, and as a list item: `{"$patch": "replace"}` replaces the whole list, a keyed item
//! with `$patch: delete` removes it), `$retainKeys`, `$deleteFromPrimitiveList/<field>` and
//! `$setElementOrder/<field>`.
//!
//! Merged lists are ordered as upstream orders them: the patch's items in the patch's order,
//! the live list's other items in theirs, interleaved by their live positions, with a new item
//! going before the live items that follow its predecessor in the patch.
//!
//! Approximations: items that are not in a `$setElementOrder` list keep their positions instead
//! of being interleaved the way upstream does it, and a list of scalars marked as a set merges
//! as a union even where upstream declares no patch strategy.

use serde_json::{Map, Value};

use super::PatchError;
use super::decode_error::go_text;
use crate::openapi::Cursor;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// What became of a map after a patch was merged into it.
enum Outcome {
    Kept,
    Deleted,
}

/// Merges the strategic merge `patch` into `live`. `schema` is the type's root schema; without
/// one every list is replaced, as for a type with no patch strategies.
pub(crate) fn merge(
    live: &Value,
    patch: &Value,
    schema: Option<Cursor<'_>>,
) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::Malformed(
            "a strategic merge patch must be a JSON object".into(),
        ));
    };
    let mut doc = match live {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    match merge_map(&mut doc, patch, schema, "")? {
        Outcome::Kept => Ok(Value::Object(doc)),
        Outcome::Deleted => Err(PatchError::Invalid(
            "a strategic merge patch cannot delete the whole object".into(),
        )),
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn merge_map(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    schema: Option<Cursor<'_>>,
    path: &str,
) -> Result<Outcome, PatchError> {
    match patch.get(DIRECTIVE) {
        None => {}
        Some(Value::String(directive)) if directive == "delete" => return Ok(Outcome::Deleted),
        Some(Value::String(directive)) if directive == "replace" => {
            original.clear();
            let without: Map<String, Value> = patch
                .iter()
                .filter(|(k, _)| k.as_str() != DIRECTIVE)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            // The replacement itself may still hold directives further down.
            return merge_map(original, &without, schema, path);
        }
        Some(other) => {
            return Err(unknown_directive(other, &Value::Object(patch.clone())));
        }
    }

    if let Some(retain) = patch.get(RETAIN_KEYS) {
        // `mergepatch.ErrBadPatchFormatForRetainKeys`, a 400: not a list, or the patch sets a
        // field the list does not keep.
        let bad_format = || PatchError::Malformed("invalid patch format of retainKeys".into());
        let Value::Array(retain) = retain else {
            return Err(bad_format());
        };
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        let outside = patch.iter().any(|(k, v)| {
            !v.is_null()
                && k != RETAIN_KEYS
                && !k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
                && !k.starts_with(SET_ELEMENT_ORDER)
                && !keep.contains(&k.as_str())
        });
        if outside {
            return Err(bad_format());
        }
        original.retain(|k, _| keep.contains(&k.as_str()));
    }

    for (key, value) in patch {
        if key == DIRECTIVE || key == RETAIN_KEYS || key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let Value::Array(remove) = value else {
                return Err(PatchError::Invalid(format!(
                    "{}: {key} must be a list",
                    display_path(&join(path, field))
                )));
            };
            if let Some(Value::Array(list)) = original.get_mut(field) {
                list.retain(|item| !remove.contains(item));
            }
            continue;
        }
        let field_path = join(path, key);
        let child = schema.and_then(|s| s.child(key));
        if value.is_null() {
            original.remove(key);
            continue;
        }
        match (original.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(patch_map)) => {
                if let Outcome::Deleted = merge_map(existing, patch_map, child, &field_path)? {
                    original.remove(key);
                }
            }
            (Some(Value::Array(existing)), Value::Array(patch_list)) => {
                merge_list(existing, patch_list, child, &field_path)?;
            }
            (_, value) => {
                if let Some(fresh) = fresh_value(value, child, &field_path)? {
                    original.insert(key.clone(), fresh);
                } else {
                    original.remove(key);
                }
            }
        }
    }

    for (key, order) in patch {
        if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) {
            let Value::Array(order) = order else {
                return Err(PatchError::Invalid(format!(
                    "{}: {key} must be a list",
                    display_path(&join(path, field))
                )));
            };
            let merge_key = schema
                .and_then(|s| s.child(field))
                .and_then(|c| c.patch_merge_key());
            if let Some(Value::Array(list)) = original.get_mut(field) {
                reorder(list, order, merge_key);
            }
        }
    }
    Ok(Outcome::Kept)
}

/// A patch value for a field the original does not have: directives are still honoured.
fn fresh_value(
    value: &Value,
    schema: Option<Cursor<'_>>,
    path: &str,
) -> Result<Option<Value>, PatchError> {
    match value {
        Value::Object(patch_map) => {
            let mut fresh = Map::new();
            Ok(match merge_map(&mut fresh, patch_map, schema, path)? {
                Outcome::Kept => Some(Value::Object(fresh)),
                Outcome::Deleted => None,
            })
        }
        Value::Array(patch_list) => {
            let mut fresh = Vec::new();
            merge_list(&mut fresh, patch_list, schema, path)?;
            Ok(Some(Value::Array(fresh)))
        }
        other => Ok(Some(other.clone())),
    }
}

fn is_directive_item(item: &Value, directive: &str) -> bool {
    item.as_object()
        .is_some_and(|m| m.get(DIRECTIVE).and_then(Value::as_str) == Some(directive))
}

fn merge_list(
    original: &mut Vec<Value>,
    patch: &[Value],
    schema: Option<Cursor<'_>>,
    path: &str,
) -> Result<(), PatchError> {
    let strategies = schema.map(|s| s.patch_strategies()).unwrap_or_default();
    let items_schema = schema.and_then(|s| s.items());
    let merge_key = schema.and_then(|s| s.patch_merge_key());
    let replace_only = |item: &Value| {
        is_directive_item(item, "replace") && item.as_object().is_some_and(|m| m.len() == 1)
    };
    let replace_whole =
        !strategies.contains(&"merge") || (merge_key.is_none() && patch.iter().any(replace_only));
    if replace_whole {
        let mut fresh = Vec::with_capacity(patch.len());
        for item in patch.iter().filter(|item| !replace_only(item)) {
            if let Some(value) = fresh_value(item, items_schema, path)? {
                fresh.push(value);
            }
        }
        *original = fresh;
        return Ok(());
    }

    // Items with a directive first (upstream `mergeSliceWithSpecialElements`): what deletions
    // remove takes no part in the ordering below, and a replacement keeps only the plain items.
    let mut items = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(key) = merge_key else {
            items.push(item);
            continue;
        };
        match item.as_object().and_then(|m| m.get(DIRECTIVE)) {
            None => items.push(item),
            Some(Value::String(d)) if d == "delete" => {
                let key_value = keyed(item, key, path)?;
                original.retain(|existing| existing.get(key) != Some(key_value));
            }
            Some(Value::String(d)) if d == "replace" => replace = true,
            Some(Value::String(d)) if d == "merge" => {
                return Err(PatchError::Internal(
                    "merging lists cannot yet be specified in the patch".into(),
                ));
            }
            Some(other) => return Err(unknown_directive(other, item)),
        }
    }
    if replace {
        original.clear();
    }
    if let Some(key) = merge_key {
        for item in &items {
            keyed(item, key, path)?;
        }
    }
    let server_order = original.clone();
    let same = |a: &Value, b: &Value| match merge_key {
        Some(key) => a.get(key).is_some() && a.get(key) == b.get(key),
        None => a == b,
    };
    // Then every item merged into its counterpart, or added (`mergeSliceWithoutSpecialElements`,
    // or a union of scalars).
    for item in &items {
        let position = original.iter().position(|existing| same(existing, item));
        let Some(key) = merge_key else {
            if position.is_none() {
                original.push((*item).clone());
            }
            continue;
        };
        let Value::Object(item_map) = item else {
            continue;
        };
        let item_path = format!("{path}[{key}={}]", scalar_text(&item_map[key]));
        match position {
            Some(index) => {
                let outcome = match &mut original[index] {
                    Value::Object(existing) => {
                        merge_map(existing, item_map, items_schema, &item_path)?
                    }
                    slot => {
                        let mut fresh = Map::new();
                        let outcome = merge_map(&mut fresh, item_map, items_schema, &item_path)?;
                        *slot = Value::Object(fresh);
                        outcome
                    }
                };
                if let Outcome::Deleted = outcome {
                    original.remove(index);
                }
            }
            None => {
                if let Some(value) = fresh_value(item, items_schema, &item_path)? {
                    original.push(value);
                }
            }
        }
    }
    // Finally the order (`normalizeElementOrder`): the patch's items in the patch's order, the
    // others in the live order, interleaved where the live list orders both, the patch's first
    // otherwise; so a new item goes before the live items that follow the patch's previous one.
    let rank = |list: &[Value], item: &Value| list.iter().position(|x| same(x, item));
    let (mut from_patch, server_only): (Vec<Value>, Vec<Value>) = std::mem::take(original)
        .into_iter()
        .partition(|item| items.iter().any(|p| same(p, item)));
    let patch_order: Vec<Value> = items.iter().map(|item| (*item).clone()).collect();
    from_patch.sort_by_key(|item| rank(&patch_order, item));
    let (mut left, mut right) = (
        server_only.into_iter().peekable(),
        from_patch.into_iter().peekable(),
    );
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        let live_first = matches!(
            (rank(&server_order, l), rank(&server_order, r)),
            (Some(li), Some(ri)) if li < ri
        );
        let next = if live_first {
            left.next()
        } else {
            right.next()
        };
        original.extend(next);
    }
    original.extend(left);
    original.extend(right);
    Ok(())
}

/// `mergepatch.ErrBadPatchType`, which the patch handler passes on as a plain error (500).
fn unknown_directive(directive: &Value, map: &Value) -> PatchError {
    PatchError::Internal(format!(
        "unknown patch type: {} in map: {}",
        go_text(directive),
        go_text(map)
    ))
}

/// The merge key's value of a patch item, which every item of a keyed list must carry; without
/// it the real server fails with `mergepatch.ErrNoMergeKey` as a plain error (500).
fn keyed<'a>(item: &'a Value, key: &str, path: &str) -> Result<&'a Value, PatchError> {
    let Value::Object(map) = item else {
        return Err(PatchError::Invalid(format!(
            "{}: list items must be objects with the merge key {key:?}, got {item}",
            display_path(path)
        )));
    };
    map.get(key).ok_or_else(|| {
        PatchError::Internal(format!(
            "map: {} does not contain declared merge key: {key}",
            go_text(item)
        ))
    })
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Puts the items named in `order` into that order within the slots they occupy, leaving the
/// items the order does not name where they are.
fn reorder(list: &mut [Value], order: &[Value], merge_key: Option<&str>) {
    let rank = |item: &Value| {
        order.iter().position(|wanted| match merge_key {
            Some(key) => wanted.get(key).is_some() && wanted.get(key) == item.get(key),
            None => wanted == item,
        })
    };
    let slots: Vec<usize> = (0..list.len())
        .filter(|&i| rank(&list[i]).is_some())
        .collect();
    let mut ranked: Vec<Value> = slots.iter().map(|&i| list[i].clone()).collect();
    ranked.sort_by_key(|item| rank(item));
    for (slot, item) in slots.into_iter().zip(ranked) {
        list[slot] = item;
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "<root>" } else { path }
}

#[cfg(test)]
mod tests;
