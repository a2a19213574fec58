//! The figures of one storm, and the summary over several.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use roperator_core::testkit::ApiServer;

use crate::cluster::Track;
use crate::contenders::Contender;

#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// Per parent, from its create to its convergence.
    pub p50: f64,
    pub p99: f64,
    /// From the first create to the last parent converged.
    pub all: f64,
    /// From the first create to the last parent showing Ready.
    pub ready: f64,
    /// Writes by the operator until every parent showed Ready and the operator was quiet
    /// (Events not counted).
    pub writes_per_parent: f64,
    /// The operator process's CPU time, in milliseconds per parent.
    pub cpu_ms_per_parent: f64,
    /// The CPU time of the cluster (the API server, the deployment controller, the user and
    /// the observer: this process) during the storm, in milliseconds per parent.
    pub cluster_cpu_ms_per_parent: f64,
    /// How long creating every parent took.
    pub created: f64,
    /// The engine's counters (roperator only).
    pub counters: Vec<String>,
}

impl Figures {
    pub fn ratio(&self) -> f64 {
        self.p99 / self.p50
    }
}

pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The figures from the parents' tracks; `start` is when the first create was sent.
pub fn figures(tracks: &[Track], start: Instant) -> Figures {
    let since = |from: Instant, to: Instant| to.saturating_duration_since(from).as_secs_f64();
    let mut times: Vec<f64> = tracks
        .iter()
        .map(|t| {
            since(
                t.created.expect("created"),
                t.converged().expect("converged"),
            )
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let last = |at: fn(&Track) -> Option<Instant>| {
        since(start, tracks.iter().filter_map(at).max().expect("a parent"))
    };
    Figures {
        p50: quantile(&times, 0.5),
        p99: quantile(&times, 0.99),
        all: last(Track::converged),
        ready: last(|t| t.ready),
        ..Figures::default()
    }
}

/// CPU seconds this process used so far (user and system).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name may hold spaces; the fields after it are plain numbers, utime and stime
    // the 12th and 13th of them, in the kernel's clock ticks (100 per second).
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    (fields.get(11).copied().unwrap_or(0.0) + fields.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// The machine's load average, and the share of time tasks waited for a CPU (pressure).
pub fn machine() -> String {
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    let pressure = std::fs::read_to_string("/proc/pressure/cpu")
        .ok()
        .and_then(|p| {
            p.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        })
        .unwrap_or_else(|| "unknown".into());
    format!("load average {load}, CPU pressure {pressure}")
}

/// Requests per actor (the user agent's product) and verb, for `BENCH_DETAIL`.
pub fn requests_by_actor(server: &ApiServer) -> String {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in server.requests().records() {
        let actor = r.user_agent.split('/').next().unwrap_or("").to_string();
        let sub = r.subresource.map(|s| format!("/{s}")).unwrap_or_default();
        let failed = if r.status >= 400 {
            format!(" ({})", r.status)
        } else {
            String::new()
        };
        *counts
            .entry((actor, format!("{} {}{sub}{failed}", r.verb, r.resource)))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((actor, what), n)| format!("{actor}: {what} {n}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// From the request log: how long new parents waited for the operator's first request about
/// them, and how long from there to their first status write; for `BENCH_DETAIL`.
pub fn first_sync_phases(server: &ApiServer, agent: &str) -> String {
    let mut created = HashMap::new();
    let mut first = HashMap::new();
    let mut status = HashMap::new();
    for r in server.requests().records() {
        let Some(name) = r.name.clone().filter(|_| r.resource == "storms") else {
            continue;
        };
        if r.verb == "create" {
            created.insert(name, r.time);
        } else if r.user_agent.starts_with(agent) {
            first.entry(name.clone()).or_insert(r.time);
            if r.subresource.as_deref() == Some("status") {
                status.entry(name).or_insert(r.time);
            }
        }
    }
    let since = |a: &std::time::SystemTime, b: &std::time::SystemTime| {
        b.duration_since(*a).unwrap_or_default().as_secs_f64()
    };
    let (mut waits, mut syncs) = (Vec::new(), Vec::new());
    for (name, c) in &created {
        if let (Some(f), Some(s)) = (first.get(name), status.get(name)) {
            waits.push(since(c, f));
            syncs.push(since(f, s));
        }
    }
    waits.sort_by(f64::total_cmp);
    syncs.sort_by(f64::total_cmp);
    if waits.is_empty() {
        return "no parent was served".into();
    }
    format!(
        "until the operator's first request about a parent: p50 {:.3} s, p99 {:.3} s; from there to its first status write: p50 {:.3} s, p99 {:.3} s",
        quantile(&waits, 0.5),
        quantile(&waits, 0.99),
        quantile(&syncs, 0.5),
        quantile(&syncs, 0.99)
    )
}

pub fn print_run(contender: Contender, f: &Figures) {
    println!(
        "  {:<12} p50 {:.3} s  p99 {:.3} s  all {:.3} s  p99/p50 {:.2}  all Ready {:.3} s  writes/parent {:.2}",
        contender.name(),
        f.p50,
        f.p99,
        f.all,
        f.ratio(),
        f.ready,
        f.writes_per_parent,
    );
    println!(
        "  {:<12} parents created in {:.3} s; CPU per parent: operator {:.2} ms, cluster {:.2} ms",
        "", f.created, f.cpu_ms_per_parent, f.cluster_cpu_ms_per_parent,
    );
    for c in &f.counters {
        println!("    {c}");
    }
}

fn median_and_range(values: impl Iterator<Item = f64>) -> String {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    format!("{median:.3} [{:.3}..{:.3}]", v[0], v[v.len() - 1])
}

/// Median [min..max] of every figure; `minimum` is the minimal write schedule, if one applies.
pub fn print_summary(contender: Contender, runs: &[Figures], minimum: Option<Duration>) {
    let show = |label: &str, pick: &dyn Fn(&Figures) -> f64| {
        format!("{label} {}", median_and_range(runs.iter().map(pick)))
    };
    println!(
        "{:<12} {}  {}  {}  {}",
        contender.name(),
        show("p50 s", &|f| f.p50),
        show("p99 s", &|f| f.p99),
        show("all s", &|f| f.all),
        show("p99/p50", &Figures::ratio),
    );
    println!(
        "{:<12} {}  {}  {}",
        "",
        show("all Ready s", &|f| f.ready),
        show("writes/parent", &|f| f.writes_per_parent),
        show("created s", &|f| f.created),
    );
    println!(
        "{:<12} {}  {}",
        "",
        show("operator CPU ms/parent", &|f| f.cpu_ms_per_parent),
        show("cluster CPU ms/parent", &|f| f.cluster_cpu_ms_per_parent),
    );
    if let Some(minimum) = minimum {
        let m = minimum.as_secs_f64();
        println!(
            "{:<12} {}",
            "",
            show("all / minimal write schedule", &|f| f.all / m)
        );
    }
}
