//! The HTTP toolkit every system's routes and pages share: problem+json errors, the language
//! of a request and the typed texts of both languages, the page layout, static assets and
//! request metrics. The server itself is assembled in the `motcua` crate, which composes each
//! system's router.

pub mod assets;
pub mod error;
pub mod lang;
pub mod layout;
pub mod metrics;

pub use error::{ApiError, PageError};
pub use lang::Lang;
pub use layout::{Chrome, Site, render, render_status};
