//! mugai's integration tests, built as one binary. They run the real
//! `mugai` executable; regressions are named after the bug they caught.

mod archive;
mod cli;
mod cluster;
mod console;
mod corpus;
mod corpus_ext;
mod daemon;
mod fixpoint;
mod fonts;
mod icap;
mod image;
mod mail;
mod office;
mod pdf;
mod pool;
mod postfix;
mod relay;
mod rest;
mod scanner;
mod unlock;
mod util;
