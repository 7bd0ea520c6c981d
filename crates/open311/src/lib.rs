//! Open311 GeoReport v2: the open standard by which citizens report non-emergency issues
//! (potholes, illegal dumping, broken street lights) to the authority that fixes them.
//!
//! This crate is the wire format only, and pure: no I/O, no HTTP, no database. The web server
//! routes the methods and calls it to read what a client sent and to write the answers:
//!
//! ```text
//! method                              reads                  answers with
//! GET  discovery.{fmt}                -                      render_discovery
//! GET  services.{fmt}                 -                      render_services
//! GET  services/{code}.{fmt}          -                      render_service_definition
//! POST requests.{fmt}                 parse_new_request,     render_created
//!                                     check_attributes
//! GET  tokens/{token}.{fmt}           -                      render_tokens
//! GET  requests.{fmt}                 parse_request_query    render_requests
//! GET  requests/{id}.{fmt}            -                      render_requests (a list of one)
//! GET  servicerequestupdates.{fmt}    parse_update_query     render_updates
//! POST servicerequestupdates.{fmt}    parse_new_update       render_update_created
//! any refusal                         -                      render_errors
//! ```
//!
//! [`Format::split`] takes the last path segment (`services.json`, `033.xml`) apart into the
//! resource and the format. Both formats follow the specification's examples: XML is UTF-8
//! with the declaration `<?xml version="1.0" encoding="utf-8"?>`, the specification's element
//! names, and an empty element for a value that is absent; JSON is the "Spark" mapping of the
//! same tree (a list answer is a top-level array, an absent value is `null`). Dates are
//! written in W3C form with the offset of Vietnam time, `2024-03-01T08:30:00+07:00`.
//!
//! The methods the server adds are documented as extensions where they appear:
//! `servicerequestupdates` (as served by FixMyStreet-style servers) and the `page` and
//! `page_size` parameters of GET requests.
//!
//! Every refusal is an [`Error`]: the specification's `code` and English `description`,
//! which the renderers write, plus a stable machine [`Reason`], the offending parameter and a
//! Vietnamese description for the server's own pages, which they never write.
//!
//! What the specification says for each method, and what this crate decided where it is
//! silent, is noted in `crates/open311/data/open311.md`.

#![warn(missing_docs)]

mod error;
mod format;
mod input;
mod model;
mod render;
mod time;

#[cfg(test)]
mod tests;

pub use error::{Error, Reason};
pub use format::Format;
pub use input::{
    LatLong, NewRequest, NewUpdate, RequestQuery, UpdateQuery, check_attributes, parse_new_request,
    parse_new_update, parse_request_query, parse_update_query,
};
pub use model::{
    Attribute, AttributeValue, Created, Datatype, Discovery, Endpoint, EndpointType, Receipt,
    RequestUpdate, Service, ServiceDefinition, ServiceRequest, ServiceType, Status, TokenAnswer,
    UpdateCreated,
};
pub use render::{
    render_created, render_discovery, render_errors, render_requests, render_service_definition,
    render_services, render_tokens, render_update_created, render_updates,
};
pub use time::{VIETNAM_OFFSET_SECONDS, format_datetime, parse_datetime};

/// The specification token that a discovery endpoint names for GeoReport v2.
pub const GEOREPORT_V2: &str = "http://wiki.open311.org/GeoReport_v2";

/// Days that GET requests covers when the client gives no `start_date` or `end_date`
/// (the specification's default window). [`RequestQuery::window`] applies it.
pub const DEFAULT_WINDOW_DAYS: i64 = 90;

/// Most service requests one answer holds (the specification's default cap). Also the
/// largest `page_size` and the longest list of ids or codes that a query may give.
pub const MAX_RESULTS: u32 = 1000;

/// Longest values accepted from a client, in characters (Unicode scalar values).
pub mod limits {
    /// `description` of a new request or update: the specification's 4,000 characters.
    pub const DESCRIPTION: usize = 4000;
    /// `first_name`, `last_name` and `title`.
    pub const NAME: usize = 200;
    /// `email`: the longest address that SMTP can carry.
    pub const EMAIL: usize = 254;
    /// `phone`.
    pub const PHONE: usize = 40;
    /// `media_url`.
    pub const MEDIA_URL: usize = 2000;
    /// `address_string`.
    pub const ADDRESS: usize = 1000;
    /// Identifiers and codes: `api_key`, `jurisdiction_id`, `service_code`, `address_id`,
    /// `device_id`, `account_id`, `service_request_id`, `update_id`, attribute codes and each
    /// item of a comma-separated list.
    pub const IDENTIFIER: usize = 200;
    /// Each value of an `attribute[CODE]`.
    pub const ATTRIBUTE_VALUE: usize = 4000;
}
