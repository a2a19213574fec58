//! The engine against the in-memory API server: behaviour a user would see.

mod adoption;
mod apply;
mod bad_input;
mod common;
mod controllers;
mod decorators;
mod e2e;
mod empty_fields;
mod faults;
mod finalize;
mod namespaces;
mod normalized;
mod observability;
mod policies;
mod printer_columns;
mod records;
mod related;
mod retries;
mod rollouts;
mod scheduling;
mod unserved_types;
