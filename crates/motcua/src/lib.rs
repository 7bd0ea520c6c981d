//! The motcua server, assembled: configuration in, a running HTTP server out.
//!
//! [`Application::build`] is used by the binary and by the tests alike: it opens the
//! database, runs migrations, seeds the shipped reference data, opens the catalogue and binds
//! the listener, so a test gets exactly what an operator runs.

pub mod app;
pub mod cluster;
pub mod routes;

pub use app::{AppState, Application, BuildOptions};
