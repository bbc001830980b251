//! Integration tests: scanner.
