//! The echo-server example operator.
//!
//! An [`EchoServer`] custom resource asks for an HTTP server answering every request with a fixed
//! message, given inline or as a key of a ConfigMap. The operator's sync function turns each one
//! into a Deployment running [`hashicorp/http-echo`](https://github.com/hashicorp/http-echo) and a
//! Service in front of it, and reports readiness back in the parent's status. The ConfigMap is a
//! related object: read, never written, and a change of it reaches the Deployment within seconds.
//!
//! The crate is split so that every part can be read and tested alone:
//! - [`resource`]: the custom resource type and its CRD,
//! - [`children`]: the pure functions building the desired Deployment and Service,
//! - [`message`]: the text to serve, inline or read from a related ConfigMap,
//! - [`status`]: the pure function deriving the status from the observed Deployment,
//! - [`handler`]: the sync function, the finalize hook and the operator configuration,
//! - [`embedded`]: the in-memory cluster of the `--embedded` mode.

#![warn(missing_docs)]

pub mod children;
pub mod embedded;
pub mod handler;
pub mod message;
pub mod resource;
pub mod status;

pub use handler::{
    ECHO_TYPE, EchoError, EchoHandler, ExternalResources, FINALIZER, NothingExternal, operator,
    operator_config, run, sync,
};
pub use resource::{
    ConfigMapKeyRef, EchoServer, EchoServerSpec, EchoServerStatus, MessageSource, Phase, crd,
    crd_yaml,
};

/// The guide's quick start: its Rust samples are compiled and run as doctests of this crate, so
/// the guide cannot drift from the API. `tests/guide.rs` fails if a chapter with Rust samples is
/// missing here; the getting-started chapter's samples are the files of a new crate, which
/// `.ci/getting-started` builds and tests instead.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/quick-start.md")]
pub struct QuickStartGuide;

/// The guide's chapter on the sync function, its samples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/sync-function.md")]
pub struct SyncFunctionGuide;

/// The guide's chapter on update policies, its samples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/update-policies.md")]
pub struct UpdatePoliciesGuide;

/// The guide's chapter on finalizers, its samples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/finalizers.md")]
pub struct FinalizersGuide;

/// The guide's chapter on related objects, its samples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/related-objects.md")]
pub struct RelatedObjectsGuide;

/// The guide's chapter on testing, its samples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/testing.md")]
pub struct TestingGuide;

/// The guide's chapter on high availability, its samples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/high-availability.md")]
pub struct HighAvailabilityGuide;

/// The guide's chapter on operations, its samples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/operations.md")]
pub struct OperationsGuide;

/// The README's sample, compiled as a doctest (it is `no_run`: it needs a cluster).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct Readme;
