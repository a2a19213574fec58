//! Watch streams in the real wire format: one JSON event per line, chunked, with
//! resourceVersion resume, bookmarks, `timeoutSeconds` and `410 Gone` for expired versions.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::list::{filter_for, validate_list_options};
use super::objects::Target;
use super::query::{flag, integer};
use super::{Inner, ResponseBody};
use crate::errors::ApiError;
use crate::registry::TypeSchema;
use crate::store::{WatchItem, Watcher, watch_line};

struct WatchState {
    pending: VecDeque<Bytes>,
    rx: mpsc::Receiver<WatchItem>,
    deadline: Option<Instant>,
    bookmarks: Option<Interval>,
    last_rv: u64,
    inner: Arc<Inner>,
    bookmark: Bookmark,
}

/// The empty object a bookmark carries: a built-in type's Go struct (whose zero
/// `creationTimestamp` is written as null), or an unstructured object for custom resources.
struct Bookmark {
    kind: String,
    api_version: String,
    built_in: bool,
}

impl Bookmark {
    fn of(t: &Target) -> Self {
        Bookmark {
            kind: t.ty.kind.clone(),
            api_version: t.ty.api_version(),
            built_in: matches!(t.ty.schema, TypeSchema::BuiltIn { .. }),
        }
    }

    fn line(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if self.built_in {
            meta["creationTimestamp"] = Value::Null;
        }
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.kind, "apiVersion": self.api_version, "metadata": meta});
        watch_line("BOOKMARK", &serde_json::to_vec(&object).unwrap_or_default())
    }
}

fn stream_response(state: WatchState) -> Response<ResponseBody> {
    let stream = futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(line) = s.pending.pop_front() {
                return Some((Ok::<_, Infallible>(Frame::data(line)), s));
            }
            let deadline = s.deadline;
            let has_deadline = deadline.is_some();
            let has_bookmarks = s.bookmarks.is_some();
            tokio::select! {
                item = s.rx.recv() => match item {
                    Some(item) => {
                        s.last_rv = s.last_rv.max(item.rv);
                        return Some((Ok(Frame::data(item.line)), s));
                    }
                    None => return None,
                },
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if has_deadline => return None,
                _ = async { if let Some(t) = s.bookmarks.as_mut() { t.tick().await; } }, if has_bookmarks => {
                    // Every event up to the server's current resourceVersion is already queued
                    // for this watcher (events are queued under the same lock), so draining the
                    // queue first makes the bookmark a correct resume point.
                    let rv = s.inner.lock().rv;
                    while let Ok(item) = s.rx.try_recv() {
                        s.last_rv = s.last_rv.max(item.rv);
                        s.pending.push_back(item.line);
                    }
                    let rv = rv.max(s.last_rv);
                    s.pending.push_back(s.bookmark.line(rv, false));
                }
            }
        }
    });
    let body = StreamBody::new(stream).boxed_unsync();
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn expired_line(requested: u64, oldest: u64) -> Bytes {
    let status = ApiError::gone(format!("too old resource version: {requested} ({oldest})")).body();
    watch_line("ERROR", &serde_json::to_vec(&status).unwrap_or_default())
}

pub(crate) fn watch(
    inner: Arc<Inner>,
    t: &Target,
    q: &HashMap<String, String>,
) -> Result<Response<ResponseBody>, ApiError> {
    validate_list_options(q, true)?;
    let mut filter = filter_for(t, q)?;
    // Zero is the Go zero value of `TimeoutSeconds`: the real server reads it as "not set" and
    // applies its own timeout, so it must not close the stream at once.
    let timeout = integer(q, "timeoutSeconds")?
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s > 0);
    let bookmarks = flag(q, "allowWatchBookmarks").unwrap_or(false);
    // The WatchList defaulting (`SetListOptionsDefaults`, on in v1.32): a watch from no
    // resourceVersion or "0" that chose nothing else sends the initial events, and so ends them
    // with a bookmark when bookmarks are allowed.
    let from_now = q
        .get("resourceVersion")
        .is_none_or(|rv| rv.is_empty() || rv == "0");
    let chose = |k: &str| q.get(k).is_some_and(|v| !v.is_empty());
    let send_initial = match flag(q, "sendInitialEvents") {
        Some(send) => send,
        None => from_now && !chose("resourceVersionMatch"),
    };
    let rv = match q
        .get("resourceVersion")
        .filter(|s| !s.is_empty() && *s != "0")
    {
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {s:?}")))?,
        ),
        None => None,
    };
    let (tx, rx) = mpsc::channel(inner.watch_buffer);
    let mut pending = VecDeque::new();
    let last_rv;
    {
        let mut st = inner.lock();
        if st.buckets[t.bucket].types.len() > 1 {
            // Objects are stored in one shape; this watcher reads them at its own version.
            filter.view = Some(t.ty.clone());
        }
        match rv {
            Some(rv) if !send_initial => match st.replay(&filter, rv) {
                Some(items) => {
                    last_rv = items.last().map(|i| i.rv).unwrap_or(rv);
                    pending.extend(items.into_iter().map(|i| i.line));
                }
                None => {
                    // Upstream prints the oldest resourceVersion it could still resume from
                    // (`oldest-1`), which is the last one compacted away here.
                    let oldest = st.compacted;
                    drop(st);
                    let (_tx, rx) = mpsc::channel(1);
                    return Ok(stream_response(WatchState {
                        pending: VecDeque::from([expired_line(rv, oldest)]),
                        rx,
                        deadline: Some(Instant::now()),
                        bookmarks: None,
                        last_rv: rv,
                        inner: inner.clone(),
                        bookmark: Bookmark::of(t),
                    }));
                }
            },
            _ => {
                // No resourceVersion (or "0", or sendInitialEvents): start with the current state.
                let bucket = &st.buckets[t.bucket];
                for ((ns, _), s) in bucket.objects.iter() {
                    if filter.ns.as_ref().is_some_and(|n| n != ns) || !filter.matches_bytes(&s.json)
                    {
                        continue;
                    }
                    pending.push_back(watch_line("ADDED", &filter.shown(&s.json)));
                }
                last_rv = st.rv;
                if send_initial && bookmarks {
                    pending.push_back(Bookmark::of(t).line(st.rv, true));
                }
            }
        }
        st.watchers.push(Watcher { filter, tx });
    }
    let bookmarks = bookmarks.then(|| {
        let period = inner.bookmark_interval.max(Duration::from_millis(10));
        let mut i = tokio::time::interval_at(Instant::now() + period, period);
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        i
    });
    Ok(stream_response(WatchState {
        pending,
        rx,
        deadline: timeout.map(|s| Instant::now() + Duration::from_secs(s)),
        bookmarks,
        last_rv,
        bookmark: Bookmark::of(t),
        inner,
    }))
}
