//! The values that the answers carry, one type per element of the specification.

use chrono::{DateTime, Utc};

use crate::Format;

/// The status of a service request: the only two that GeoReport v2 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// `open`: reported and not yet resolved.
    Open,
    /// `closed`: resolved.
    Closed,
}

impl Status {
    /// Reads `open` or `closed`, ignoring ASCII case (FixMyStreet-style clients post
    /// `OPEN` and `CLOSED` with updates) and surrounding spaces.
    pub fn parse(text: &str) -> Option<Status> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("open") {
            Some(Status::Open)
        } else if text.eq_ignore_ascii_case("closed") {
            Some(Status::Closed)
        } else {
            None
        }
    }

    /// The specification's value: `open` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

/// GET discovery: where the endpoints are and what they speak. Every field is required.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// When this document, or any service definition, last changed: clients refresh their
    /// cached service lists when it moves. Written as a W3C date-time, which sorts.
    pub changeset: DateTime<Utc>,
    /// How to reach the people who run the endpoints.
    pub contact: String,
    /// How to get an API key.
    pub key_service: String,
    /// The endpoints served.
    pub endpoints: Vec<Endpoint>,
}

/// One endpoint of [`Discovery`].
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The specification it implements, a URL token such as [`crate::GEOREPORT_V2`].
    pub specification: String,
    /// The endpoint's base URL.
    pub url: String,
    /// When this endpoint last changed.
    pub changeset: DateTime<Utc>,
    /// Whether reports sent there are acted upon (`type`).
    pub kind: EndpointType,
    /// The formats it answers in, written as MIME types.
    pub formats: Vec<Format>,
}

/// Whether an endpoint is live (`production`) or for trying clients out (`test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointType {
    /// `production`: reports are acted upon.
    Production,
    /// `test`: nothing sent there is acted upon.
    Test,
}

impl EndpointType {
    /// The specification's value: `production` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointType::Production => "production",
            EndpointType::Test => "test",
        }
    }
}

/// One service (a kind of issue that can be reported) of GET services.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Its unique code, sent back as `service_code` with a new request.
    pub service_code: String,
    /// Its human-readable name.
    pub service_name: String,
    /// A short description of it.
    pub description: Option<String>,
    /// Whether it has a service definition (attributes) that clients must fetch.
    pub metadata: bool,
    /// What POST requests answers for it (`type`).
    pub kind: ServiceType,
    /// Tags and synonyms, written as one comma-separated value; a keyword holding a comma
    /// would read as two.
    pub keywords: Vec<String>,
    /// The category it is listed under.
    pub group: Option<String>,
}

/// What a new request of a service is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceType {
    /// `realtime`: the service request id, at once.
    Realtime,
    /// `batch`: a token, later exchanged for the id with GET tokens.
    Batch,
    /// `blackbox`: no id at all.
    Blackbox,
}

impl ServiceType {
    /// The specification's value: `realtime`, `batch` or `blackbox`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Realtime => "realtime",
            ServiceType::Batch => "batch",
            ServiceType::Blackbox => "blackbox",
        }
    }
}

/// GET services/{code}: the extra fields that a service asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDefinition {
    /// The service's code.
    pub service_code: String,
    /// The fields, written in the order given (clients sort them by `order`).
    pub attributes: Vec<Attribute>,
}

/// One field of a [`ServiceDefinition`].
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// `true` if the client asks the user for a value; `false` if it only shows the
    /// description as information.
    pub variable: bool,
    /// Its unique code, sent back as `attribute[CODE]`.
    pub code: String,
    /// The kind of value.
    pub datatype: Datatype,
    /// Whether a value is needed to submit a request.
    pub required: bool,
    /// Help on the kind of value expected.
    pub datatype_description: Option<String>,
    /// Position in the form, 1 first; unique within the service.
    pub order: u32,
    /// The question put to the user.
    pub description: String,
    /// The choices of a `singlevaluelist` or `multivaluelist`; empty for other datatypes.
    pub values: Vec<AttributeValue>,
}

/// The kind of value an [`Attribute`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Datatype {
    /// `string`: one line of text.
    String,
    /// `number`: a number.
    Number,
    /// `datetime`: a W3C date-time.
    Datetime,
    /// `text`: text that may hold line breaks.
    Text,
    /// `singlevaluelist`: exactly one of the listed keys.
    SingleValueList,
    /// `multivaluelist`: one or more of the listed keys.
    MultiValueList,
}

impl Datatype {
    /// The specification's value: `string`, `number`, `datetime`, `text`,
    /// `singlevaluelist` or `multivaluelist`.
    pub fn as_str(self) -> &'static str {
        match self {
            Datatype::String => "string",
            Datatype::Number => "number",
            Datatype::Datetime => "datetime",
            Datatype::Text => "text",
            Datatype::SingleValueList => "singlevaluelist",
            Datatype::MultiValueList => "multivaluelist",
        }
    }

    /// Reads one of the specification's values (exact, lower case).
    pub fn parse(text: &str) -> Option<Datatype> {
        Some(match text {
            "string" => Datatype::String,
            "number" => Datatype::Number,
            "datetime" => Datatype::Datetime,
            "text" => Datatype::Text,
            "singlevaluelist" => Datatype::SingleValueList,
            "multivaluelist" => Datatype::MultiValueList,
            _ => return None,
        })
    }
}

/// One choice of a list [`Attribute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeValue {
    /// What the client sends back.
    pub key: String,
    /// What the user reads.
    pub name: String,
}

/// One service request of GET requests or GET requests/{id}.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRequest {
    /// Its unique id.
    pub service_request_id: String,
    /// Open or closed.
    pub status: Status,
    /// Why the status is what it is, or more about it.
    pub status_notes: Option<String>,
    /// The name of its service.
    pub service_name: String,
    /// The code of its service.
    pub service_code: String,
    /// What the citizen reported.
    pub description: Option<String>,
    /// The agency handling it.
    pub agency_responsible: Option<String>,
    /// What will be done about it.
    pub service_notice: Option<String>,
    /// When it was reported.
    pub requested_datetime: DateTime<Utc>,
    /// When it last changed; for a closed request, when it was closed.
    pub updated_datetime: DateTime<Utc>,
    /// When it is expected to be dealt with.
    pub expected_datetime: Option<DateTime<Utc>>,
    /// Human-readable address, most specific part first.
    pub address: Option<String>,
    /// The id of the address in the authority's address register.
    pub address_id: Option<String>,
    /// Postal code of the place.
    pub zipcode: Option<String>,
    /// Latitude, WGS84.
    pub lat: Option<f64>,
    /// Longitude, WGS84.
    pub long: Option<f64>,
    /// A URL of a photo or other media of it.
    pub media_url: Option<String>,
}

/// What identifies a request just created, by the service's [`ServiceType`]. The
/// specification returns either the id or a token, never both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// `realtime`: the new request's id (`service_request_id`).
    ServiceRequestId(String),
    /// `batch`: a token to exchange later for the id (`token`).
    Token(String),
    /// `blackbox`: nothing; neither field is written.
    Nothing,
}

/// One item of the answer to POST requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The id or token.
    pub receipt: Receipt,
    /// What will be done about it.
    pub service_notice: Option<String>,
    /// The id of the account of the person who reported it.
    pub account_id: Option<String>,
}

/// One item of the answer to GET tokens/{token}.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAnswer {
    /// The id of the request made from the token; `None` while it is not made yet.
    pub service_request_id: Option<String>,
    /// The token asked about.
    pub token: String,
}

/// One update of GET servicerequestupdates (extension): a change of status or a comment on
/// a service request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestUpdate {
    /// Its unique id.
    pub update_id: String,
    /// The request it is about.
    pub service_request_id: String,
    /// The request's status after it.
    pub status: Status,
    /// When it was made.
    pub updated_datetime: DateTime<Utc>,
    /// Its text.
    pub description: Option<String>,
    /// A URL of a photo or other media with it.
    pub media_url: Option<String>,
}

/// One item of the answer to POST servicerequestupdates (extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateCreated {
    /// The id that the server gave the update.
    pub update_id: String,
    /// The id of the account of the person who sent it.
    pub account_id: Option<String>,
}
