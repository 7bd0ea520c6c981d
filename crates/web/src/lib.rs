//! The HTTP toolkit every system's routes and pages share: problem+json errors, the language
//! of a request and the typed texts of both languages, the page layout, static assets and
//! request metrics. The server itself is assembled in the `motcua` crate, which composes each
//! system's router.

pub mod assets;
pub mod error;
pub mod extract;
pub mod lang;
pub mod layout;
pub mod metrics;

pub use error::{ApiError, PageError};
pub use lang::Lang;
pub use layout::{Chrome, Site, render, render_status};

/// The Content-Security-Policy of every page. `form_targets` are origins, besides this node,
/// that a form on the page may end up at (a relying party a login or consent redirects to).
pub fn csp(form_targets: &[&str]) -> String {
    let mut s = String::from(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; form-action 'self'",
    );
    for t in form_targets {
        if !t.is_empty() && !t.contains([';', ',', '\'', ' ']) {
            s.push(' ');
            s.push_str(t);
        }
    }
    s
}
