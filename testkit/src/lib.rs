//! Kubernetes in a box: an in-memory API server that speaks the real Kubernetes HTTP API.
//!
//! (Crate documentation — what is faithful, approximated and absent — is written by the server's
//! author; see the issue tracker, issue 2.)

pub mod openapi;
pub mod patch;
pub mod registry;
pub mod schema;
