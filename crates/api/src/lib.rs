//! The REST API of mugai (`mugai serve`), on axum.
//!
//! - [`Api`] / [`Options`]: opened from `[serve]`, the policy and a
//!   `dyn Sanitize` (the worker pool, or a cluster behind the same seam);
//!   [`Api::run`] serves until shutdown, [`Api::router`] gives the routes.
//!   The routes are `POST /v1/sanitize` (the rebuilt file now, the report
//!   in `X-Mugai-Report`), `POST /v1/jobs` and `GET /v1/jobs/{id}`,
//!   `…/output`, `…/report` (queued jobs kept on disk), `GET /v1/health`
//!   and `GET /v1/openapi.yaml`; [`route_table`] lists them, and
//!   `docs/openapi.yaml` describes them.
//! - [`auth::Tokens`]: bearer tokens, configured as SHA-256 hashes and
//!   compared in constant time; each has a name for the audit log.
//! - [`problem::Problem`]: RFC 7807 `application/problem+json` errors.
//! - [`body::receive`]: a request body limited while it streams, spooled
//!   to disk past a threshold.
//! - [`store::Store`]: the results folder (one folder per [`ids::JobId`],
//!   durable placement, restart recovery, expiry).
//! - [`names`]: file names from `Content-Disposition` and for it.

pub mod auth;
pub mod body;
pub mod ids;
pub mod names;
#[cfg(test)]
mod openapi;
pub mod problem;
mod server;
pub mod store;

pub use server::{
    route_table, Api, OpenError, Options, CLIENT_JOB_ID_HEADER, MAX_REPORT_HEADER, REPORT_HEADER,
};

/// The OpenAPI 3.1 document of the API (`docs/openapi.yaml`).
pub const OPENAPI_YAML: &str = include_str!("../../../docs/openapi.yaml");
