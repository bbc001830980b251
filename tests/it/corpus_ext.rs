//! Integration tests: corpus_ext.
