//! Integration tests: office.
