//! Kubernetes in a box: an in-memory API server that speaks the real Kubernetes HTTP API.
#![warn(missing_docs)]

mod errors;
pub mod faults;
pub mod fixtures;
pub mod log;
mod meta;
pub mod openapi;
pub mod patch;
pub mod registry;
pub mod schema;
mod selectors;
mod server;
mod store;

pub use faults::{FaultRule, Faults};
pub use log::{RequestLog, RequestRecord};
pub use server::{ApiServer, ApiServerBuilder, ApiService, Listening, ResponseBody, TestkitError};
