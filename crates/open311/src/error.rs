//! The specification's error answer, and why each refusal was made.

use std::fmt;

/// Why a request was refused: a stable machine key for logs, metrics and the server's own
/// translations. [`Reason::key`] gives its text form, which never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A required parameter is absent or empty (`service_code`, …).
    Missing,
    /// A parameter that takes one value was given two different ones.
    Repeated,
    /// A value is longer than its limit (see [`crate::limits`]).
    TooLong,
    /// A new request gives no location: neither `lat` and `long`, nor `address_string`, nor
    /// `address_id`. The error's `param` is `lat`, the first of the location parameters.
    NoLocation,
    /// `lat` is given without `long`, or `long` without `lat`.
    LatLongIncomplete,
    /// `lat` or `long` is not a finite decimal number.
    CoordinateInvalid,
    /// `lat` is outside −90..90 or `long` outside −180..180.
    CoordinateOutOfRange,
    /// `email` is not shaped like an e-mail address.
    EmailInvalid,
    /// `media_url` is not an absolute `http` or `https` URL.
    MediaUrlInvalid,
    /// A parameter starting with `attribute[` is not `attribute[CODE]` or `attribute[CODE][]`.
    AttributeMalformed,
    /// A required attribute of the service definition has no value.
    AttributeRequired,
    /// An attribute code that the service definition does not ask for.
    AttributeUnknown,
    /// A `number` attribute whose value is not a finite number.
    AttributeNotNumber,
    /// A `datetime` attribute whose value is not a W3C date-time.
    AttributeNotDatetime,
    /// A list attribute's value that is not one of the definition's keys.
    AttributeValueUnknown,
    /// Several values for an attribute whose datatype takes one.
    AttributeSingleValue,
    /// A line break in a `string` attribute (only `text` may hold them).
    AttributeLineBreak,
    /// `start_date`, `end_date` or `updated_datetime` is not a W3C date-time.
    DateInvalid,
    /// `end_date` is before `start_date`.
    DateRange,
    /// A `status` other than `open` or `closed`.
    StatusInvalid,
    /// `page` or `page_size` is not a whole number in range.
    PageInvalid,
    /// A comma-separated list holds more items than [`crate::MAX_RESULTS`].
    TooMany,
    /// The `api_key` is missing or not valid (HTTP 403), as the server decides.
    ApiKey,
    /// The resource (jurisdiction, service code, request, token) does not exist (HTTP 404).
    NotFound,
    /// Any other failure the server reports (HTTP 400 unless it says otherwise).
    General,
}

impl Reason {
    /// The stable text key of the reason, in snake case: `missing`, `no_location`, …
    pub fn key(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Repeated => "repeated",
            Reason::TooLong => "too_long",
            Reason::NoLocation => "no_location",
            Reason::LatLongIncomplete => "lat_long_incomplete",
            Reason::CoordinateInvalid => "coordinate_invalid",
            Reason::CoordinateOutOfRange => "coordinate_out_of_range",
            Reason::EmailInvalid => "email_invalid",
            Reason::MediaUrlInvalid => "media_url_invalid",
            Reason::AttributeMalformed => "attribute_malformed",
            Reason::AttributeRequired => "attribute_required",
            Reason::AttributeUnknown => "attribute_unknown",
            Reason::AttributeNotNumber => "attribute_not_number",
            Reason::AttributeNotDatetime => "attribute_not_datetime",
            Reason::AttributeValueUnknown => "attribute_value_unknown",
            Reason::AttributeSingleValue => "attribute_single_value",
            Reason::AttributeLineBreak => "attribute_line_break",
            Reason::DateInvalid => "date_invalid",
            Reason::DateRange => "date_range",
            Reason::StatusInvalid => "status_invalid",
            Reason::PageInvalid => "page_invalid",
            Reason::TooMany => "too_many",
            Reason::ApiKey => "api_key",
            Reason::NotFound => "not_found",
            Reason::General => "general",
        }
    }
}

/// One item of the specification's error answer (`errors/error`): a `code` (the HTTP status
/// in most cases) and a human-readable English `description`. Several can be answered at
/// once, so every parser returns all that it found.
///
/// The renderers write `code` and `description` only. The other fields stay on the server's
/// side: `reason` tells the refusals apart, `param` names what was refused
/// (`lat`, `attribute[WHISPAWN]`) and `description_vi` says it in Vietnamese for the
/// server's own pages. Every error that this crate makes has all three; an error the
/// server makes with [`Error::new`] has [`Reason::General`] and no Vietnamese text until it
/// adds one with [`Error::with_vi`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The error code: 400, 403 or 404 as the specification uses them.
    pub code: u16,
    /// What went wrong, in English, meant to be shown to the person using the client.
    pub description: String,
    /// Why, as a stable machine key. Not written in answers.
    pub reason: Reason,
    /// The parameter refused, as the client named it. Not written in answers.
    pub param: Option<String>,
    /// The description in Vietnamese. Not written in answers.
    pub description_vi: Option<String>,
}

impl Error {
    /// An error made by the server: any code, an English description, [`Reason::General`].
    pub fn new(code: u16, description: impl Into<String>) -> Error {
        Error {
            code,
            description: description.into(),
            reason: Reason::General,
            param: None,
            description_vi: None,
        }
    }

    /// The specification's 403 for a missing or wrong `api_key`.
    pub fn api_key() -> Error {
        Error {
            code: 403,
            description: "Missing or invalid api_key.".to_owned(),
            reason: Reason::ApiKey,
            param: Some("api_key".to_owned()),
            description_vi: Some("Thiếu khoá API (api_key) hoặc khoá không hợp lệ.".to_owned()),
        }
    }

    /// The specification's 404 for a resource that does not exist. `what` names it in
    /// English and `what_vi` in Vietnamese, e.g. `("service_code 033", "loại yêu cầu 033")`.
    pub fn not_found(what: &str, what_vi: &str) -> Error {
        Error {
            code: 404,
            description: format!("{what} was not found."),
            reason: Reason::NotFound,
            param: None,
            description_vi: Some(format!("Không tìm thấy {what_vi}.")),
        }
    }

    /// Sets the Vietnamese description.
    pub fn with_vi(mut self, description_vi: impl Into<String>) -> Error {
        self.description_vi = Some(description_vi.into());
        self
    }

    /// A 400 refusal of a client's input, as the parsers make them.
    pub(crate) fn bad(reason: Reason, param: &str, description: String, vi: String) -> Error {
        Error {
            code: 400,
            description,
            reason,
            param: Some(param.to_owned()),
            description_vi: Some(vi),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.description)
    }
}

impl std::error::Error for Error {}
