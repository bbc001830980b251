//! One module per subcommand.

pub mod audit;
pub mod check_config;
pub mod cluster;
pub mod common;
pub mod console;
pub mod daemon;
pub mod docs;
pub mod icap;
pub mod relay;
pub mod sanitize;
pub mod serve;
pub mod worker;
