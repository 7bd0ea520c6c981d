//! The integration tests: each starts the real server (or the real binary) on a free port and
//! drives it over HTTP, on SQLite and on PostgreSQL. One test binary for all of them, so the
//! whole application is linked once.

mod accounts;
mod admin;
mod cabinet;
mod catalog_api;
mod catalog_changes;
mod crash;
mod dossiers;
mod exchange;
mod federated;
mod federation_chaos;
mod feedback;
mod oidc;
mod pages_and_routes;
mod payments;
mod regime;
mod reports;

use std::path::Path;
use std::process::Command;

use testkit::TestApp;

/// A path as an argument.
fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// Runs the motcua binary on the test node's data folder and database; whether it succeeded,
/// and what it printed.
fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_motcua"));
    c.arg("--data").arg(app.data_dir());
    if let Some(url) = &app.config.database_url {
        c.arg("--database").arg(url);
    }
    let out = c
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("motcua: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
