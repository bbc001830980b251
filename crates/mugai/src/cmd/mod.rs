//! One module per subcommand.

pub mod audit;
pub mod check_config;
pub mod cluster;
pub mod common;
pub mod daemon;
pub mod docs;
pub mod relay;
pub mod sanitize;
pub mod worker;
