//! Exhaustive tests of validation and planning.
