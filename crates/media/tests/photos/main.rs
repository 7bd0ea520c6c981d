//! The photo rules, tested on photos made in memory. One test binary for all of them.

mod cleaning;
mod facts;
mod fixtures;
mod never_panics;
mod orientation;
mod refusals;
mod thumbnails;
