//! The engine, as data flows through it:
//!
//! - [`watch`]: one informer per watched type and selector (shared by the controllers of the
//!   process), its store, and the watches feeding it;
//! - [`controller`]: each controller's index over the informers (its parents, their children
//!   and related objects) and the parents each change queues;
//! - [`queue`]: parent keys waiting for a sync, one sync per parent at a time;
//! - [`dispatch`]: hands keys to sync tasks while this replica leads;
//! - [`sync`]: the stages of one sync (snapshot, handler, plan, writes, status, schedule);
//! - [`writer`]: the one place that writes, behind the leadership gate;
//! - [`events`], [`metrics`], [`monitor`], [`server`]: what people see of it;
//! - [`run`]: wiring it together for one operator process.

mod client;
mod controller;
mod dispatch;
mod events;
mod metrics;
mod monitor;
mod queue;
mod run;
mod server;
mod sync;
mod watch;
mod writer;

pub use monitor::Monitor;
pub(crate) use run::{ControllerParts, Parts, run};
