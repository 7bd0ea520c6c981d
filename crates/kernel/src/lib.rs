//! The kernel: what every motcua system stands on.
//!
//! Configuration, the error contract ([`problem`]), the database handle ([`db`]), the clock and
//! the working-day calendar, Vietnamese identifiers, the content-addressed blob store, the
//! tamper-evident audit chain, and certificates and signatures ([`pki`]). Nothing here knows
//! about HTTP routes or pages: the rules are pure functions, and storage is a thin shell around
//! them.

pub mod audit;
pub mod batch;
pub mod blob;
pub mod calendar;
pub mod clock;
pub mod config;
pub mod db;
pub mod ids;
pub mod pki;
pub mod problem;
pub mod sample;
pub mod text;

pub use problem::{Problem, ProblemDetail};
