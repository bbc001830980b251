//! Integration tests: pool.
