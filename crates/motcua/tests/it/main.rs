//! The integration tests: each starts the real server (or the real binary) on a free port and
//! drives it over HTTP, on SQLite and on PostgreSQL. One test binary for all of them, so the
//! whole application is linked once.

mod accounts;
mod admin;
mod catalog_api;
mod catalog_changes;
mod crash;
mod dossiers;
mod exchange;
mod feedback;
mod oidc;
mod pages_and_routes;
mod payments;
mod regime;
mod reports;
