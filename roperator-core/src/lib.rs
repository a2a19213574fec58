//! roperator: declarative Kubernetes operators.
//!
//! (Crate documentation is written with the engine; see issue 3.)

pub mod ha;
pub mod leader;
