//! The engine against the in-memory API server: behaviour a user would see.

mod bad_input;
mod common;
mod controllers;
mod decorators;
mod e2e;
mod faults;
mod finalize;
mod namespaces;
mod normalized;
mod observability;
mod policies;
mod related;
mod retries;
mod scheduling;
