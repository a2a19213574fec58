//! The record on a child: what the engine remembers of its last write, kept on the child itself
//! (the `roperator.io/record` annotation) so that it survives restarts and failover, and small
//! whatever the child's size.
//!
//! It holds two things, never the values the handler returned:
//! - a SHA-256 digest of the handler's answer as written (see [`written`](super::written)): a
//!   different answer, a removed field included, has a different digest, so the next sync
//!   knows the child must be written without keeping the answer itself;
//! - the field paths that answer set ([`Fields`]), down to lists and values: what the replace
//!   policy must remove when the handler stops returning a field, and nothing else, so that
//!   fields others set stay.
//!
//! The paths are bounded ([`FIELDS_BUDGET`]): past it, the widest objects are recorded as a
//! whole (the engine then owns all of their members: a replace sets them to exactly the
//! handler's members, dropping members others added there). A ConfigMap with thousands of keys
//! thus costs a few hundred bytes of record, not a copy of its keys.
//!
//! Secret values appear nowhere in the record: the digest covers the whole answer (so no value
//! can be read back from it), and the paths name keys, not values. Earlier versions kept the
//! whole answer in the `roperator.io/last-applied` annotation, which could not hold children
//! over half of the API server's 256 KiB annotation limit; such a record is still understood
//! ([`Recorded::Legacy`]) and replaced on the child's next write.

use std::collections::BTreeMap;

use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Desired;
use crate::names::{LAST_APPLIED_ANNOTATION, RECORD_ANNOTATION};
use crate::object::Observed;

/// The most bytes the field paths of one record may take before the widest objects are
/// recorded as a whole. A Deployment's paths take a few hundred bytes.
pub(crate) const FIELDS_BUDGET: usize = 4096;

/// Version of the record's format, so that a later engine can tell records apart.
const FORMAT: u32 = 1;

/// What the engine wrote to a child: the digest of the answer and the paths it set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    v: u32,
    digest: String,
    fields: Fields,
}

/// The field paths an answer set: a member of an object is either recorded member by member
/// (`{...}`), or as a whole (`1`: a value, a list, or an object whose members are not listed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Fields {
    Whole(u8),
    Members(BTreeMap<String, Fields>),
}

/// The record a live child carries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Recorded<'a> {
    /// A record of this format: its digest, read alone (most syncs need nothing else), and its
    /// text, for the paths when a write needs them.
    Current { digest: String, text: &'a str },
    /// The last-applied annotation of earlier versions: the whole answer (a Secret's values as
    /// digests).
    Legacy(Value),
    /// No record, or one that cannot be read (someone edited it): the child is written again,
    /// and without a record no field can safely be removed.
    Missing,
}

/// The part of a record that tells whether the answer changed.
#[derive(Deserialize)]
struct Head {
    v: u32,
    digest: String,
}

impl Record {
    /// The record of writing `written` (an answer as written), whose [`digest`] is `digest`.
    pub fn new(digest: String, written: &Value) -> Self {
        Self {
            v: FORMAT,
            digest,
            fields: Fields::of(written).within(FIELDS_BUDGET),
        }
    }

    /// The annotation's text.
    pub fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl<'a> Recorded<'a> {
    /// The record on `live`.
    pub fn of(live: &'a Observed) -> Self {
        if let Some(text) = live.annotation(RECORD_ANNOTATION) {
            return match serde_json::from_str::<Head>(text) {
                Ok(head) if head.v == FORMAT => Recorded::Current {
                    digest: head.digest,
                    text,
                },
                _ => Recorded::Missing,
            };
        }
        match live
            .annotation(LAST_APPLIED_ANNOTATION)
            .and_then(|text| serde_json::from_str(text).ok())
        {
            Some(answer) => Recorded::Legacy(answer),
            None => Recorded::Missing,
        }
    }

    /// `true` when the record is of the answer of `d`, whose digest is `digest`.
    pub fn same_answer(&self, digest: &str, d: &Desired) -> bool {
        match self {
            Recorded::Current {
                digest: recorded, ..
            } => recorded == digest,
            Recorded::Legacy(answer) => *answer == legacy(d),
            Recorded::Missing => false,
        }
    }

    /// The paths the recorded write set (`None`: unknown).
    pub fn fields(&self, d: &Desired) -> Option<Fields> {
        match self {
            Recorded::Current { text, .. } => serde_json::from_str::<Record>(text)
                .ok()
                .map(|record| record.fields),
            Recorded::Legacy(answer) => Some(Fields::of(&super::written::as_written(
                d.child_type,
                answer,
            ))),
            Recorded::Missing => None,
        }
    }
}

impl Fields {
    /// The paths `written` sets: every member of every object, lists and values as a whole.
    /// The object's identity (`apiVersion`, `kind`, `metadata.name` and `namespace`) is never
    /// removed, so it is left out.
    pub fn of(written: &Value) -> Self {
        let mut fields = Self::of_value(written);
        if let Fields::Members(top) = &mut fields {
            top.remove("apiVersion");
            top.remove("kind");
            if let Some(Fields::Members(meta)) = top.get_mut("metadata") {
                meta.remove("name");
                meta.remove("namespace");
            }
        }
        fields
    }

    fn of_value(value: &Value) -> Self {
        match value {
            Value::Object(members) => Fields::Members(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), Self::of_value(v)))
                    .collect(),
            ),
            _ => Fields::Whole(1),
        }
    }

    /// The member `key`'s paths, if it was set.
    pub fn member(&self, key: &str) -> Option<&Fields> {
        match self {
            Fields::Members(members) => members.get(key),
            Fields::Whole(_) => None,
        }
    }

    pub fn is_whole(&self) -> bool {
        matches!(self, Fields::Whole(_))
    }

    /// Members of this object that were set, when recorded member by member.
    pub fn members(&self) -> impl Iterator<Item = &String> {
        match self {
            Fields::Members(members) => Some(members.keys()),
            Fields::Whole(_) => None,
        }
        .into_iter()
        .flatten()
    }

    /// The length of the JSON text, without writing it (it is checked on every write).
    fn size(&self) -> usize {
        match self {
            Fields::Whole(_) => 1,
            Fields::Members(members) => {
                let inner: usize = members
                    .iter()
                    .map(|(key, f)| quoted_len(key) + 1 + f.size())
                    .sum();
                2 + inner + members.len().saturating_sub(1)
            }
        }
    }

    /// Within `budget` bytes: the object with the most members is recorded as a whole, again
    /// and again, until it fits. The top level and `metadata` are always listed member by
    /// member (a whole `metadata` would drop the finalizers and labels others set).
    fn within(mut self, budget: usize) -> Self {
        while self.size() > budget {
            let Some(path) = self.widest() else {
                break;
            };
            if let Some(node) = self.at_mut(&path) {
                *node = Fields::Whole(1);
            }
        }
        self
    }

    /// The path of the object with the most members, the top level and `metadata` aside.
    fn widest(&self) -> Option<Vec<String>> {
        fn walk(f: &Fields, path: &mut Vec<String>, best: &mut Option<(usize, Vec<String>)>) {
            let Fields::Members(members) = f else {
                return;
            };
            let kept = path.is_empty() || path.len() == 1 && path[0] == "metadata";
            if !kept
                && best
                    .as_ref()
                    .is_none_or(|(width, _)| members.len() > *width)
            {
                *best = Some((members.len(), path.clone()));
            }
            for (key, member) in members {
                path.push(key.clone());
                walk(member, path, best);
                path.pop();
            }
        }
        let mut best = None;
        walk(self, &mut Vec::new(), &mut best);
        best.map(|(_, path)| path)
    }

    fn at_mut(&mut self, path: &[String]) -> Option<&mut Fields> {
        match path.split_first() {
            None => Some(self),
            Some((key, rest)) => match self {
                Fields::Members(members) => members.get_mut(key)?.at_mut(rest),
                Fields::Whole(_) => None,
            },
        }
    }
}

/// The length of `key` as a JSON string.
fn quoted_len(key: &str) -> usize {
    2 + key
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
            c if c < ' ' => 6,
            c => c.len_utf8(),
        })
        .sum::<usize>()
}

/// SHA-256 of `value` in a canonical form (object members in key order), as `sha256:<hex>`.
pub(crate) fn digest(value: &Value) -> String {
    let mut context = Context::new(&SHA256);
    context.update(b"roperator.io/record\n");
    feed(value, &mut context);
    sha256_text(context.finish().as_ref())
}

/// `sha256:<hex>` of a SHA-256 hash (computed for every child on every sync: no `format!` per
/// byte).
fn sha256_text(hash: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(7 + 2 * hash.len());
    text.push_str("sha256:");
    for b in hash {
        text.push(HEX[usize::from(b >> 4)] as char);
        text.push(HEX[usize::from(b & 0xf)] as char);
    }
    text
}

/// Feeds `value` to the digest unambiguously: a tag per type, lengths before contents, object
/// members in key order.
fn feed(value: &Value, context: &mut Context) {
    let bytes = |context: &mut Context, tag: u8, data: &[u8]| {
        context.update(&[tag]);
        context.update(&(data.len() as u64).to_be_bytes());
        context.update(data);
    };
    match value {
        Value::Null => context.update(b"n"),
        Value::Bool(b) => context.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => bytes(context, b'#', n.to_string().as_bytes()),
        Value::String(text) => bytes(context, b's', text.as_bytes()),
        Value::Array(items) => {
            bytes(context, b'[', &[]);
            context.update(&(items.len() as u64).to_be_bytes());
            items.iter().for_each(|item| feed(item, context));
        }
        Value::Object(members) => {
            bytes(context, b'{', &[]);
            context.update(&(members.len() as u64).to_be_bytes());
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort_unstable();
            for key in keys {
                bytes(context, b'k', key.as_bytes());
                feed(&members[key], context);
            }
        }
    }
}

/// The last-applied record earlier versions made of `d`: the answer, with a Secret's `data` and
/// `stringData` values replaced by salted digests. Compared with a legacy annotation to tell
/// whether the answer changed since.
fn legacy(d: &Desired) -> Value {
    let mut record = d.content.clone();
    if d.child_type.api_version == "v1" && d.child_type.kind == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(Value::Object(values)) = record.get_mut(field) {
                for (key, value) in values.iter_mut() {
                    *value = Value::String(legacy_fingerprint(&d.name, field, key, value));
                }
            }
        }
    }
    record
}

fn legacy_fingerprint(name: &str, field: &str, key: &str, value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let input = format!("roperator/{name}/{field}/{key}\n{text}");
    sha256_text(ring::digest::digest(&SHA256, input.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests;
