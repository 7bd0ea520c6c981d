//! What clients send: the parameters of POST requests, GET requests and the
//! servicerequestupdates methods, read from decoded name/value pairs.
//!
//! The server decodes the query string or the `application/x-www-form-urlencoded` body and
//! hands the pairs over in order. As the specification asks, a parameter that is sent empty
//! is the same as one not sent; values are trimmed of surrounding white space. Parameters
//! that a method does not know are ignored. Every parser returns all the errors it found,
//! each a 400 [`Error`].

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::model::{Datatype, ServiceDefinition};
use crate::time::{end_of_day, parse_datetime, parse_w3c};
use crate::{DEFAULT_WINDOW_DAYS, Error, MAX_RESULTS, Reason, Status, limits};

/// A position in WGS84 degrees, both checked finite and in range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLong {
    /// Latitude, −90..90.
    pub lat: f64,
    /// Longitude, −180..180.
    pub long: f64,
}

/// The parameters of POST requests, checked. The attributes are only read here; the
/// server checks them against the service's definition with [`check_attributes`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    /// `api_key`, kept for the server, which answers 403 when it is missing or wrong.
    pub api_key: Option<String>,
    /// `jurisdiction_id`.
    pub jurisdiction_id: Option<String>,
    /// `service_code`, required.
    pub service_code: String,
    /// `lat` and `long`, given together or not at all.
    pub lat_long: Option<LatLong>,
    /// `address_string`: the address as the citizen wrote it.
    pub address_string: Option<String>,
    /// `address_id`: an id in the authority's address register.
    pub address_id: Option<String>,
    /// `email`, shaped like an e-mail address.
    pub email: Option<String>,
    /// `device_id`.
    pub device_id: Option<String>,
    /// `account_id`.
    pub account_id: Option<String>,
    /// `first_name`.
    pub first_name: Option<String>,
    /// `last_name`.
    pub last_name: Option<String>,
    /// `phone`.
    pub phone: Option<String>,
    /// `description`, at most 4,000 characters; line breaks kept.
    pub description: Option<String>,
    /// `media_url`, an absolute `http` or `https` URL.
    pub media_url: Option<String>,
    /// `attribute[CODE]=value` and `attribute[CODE][]=value` pairs, the values of each code
    /// in the order sent. A code whose values are all empty is left out.
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// The parameters of GET requests, checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestQuery {
    /// `jurisdiction_id`.
    pub jurisdiction_id: Option<String>,
    /// `service_request_id`: the ids asked for, from a comma-separated list, without repeats.
    /// When any is given, the specification has them override every other parameter.
    pub service_request_ids: Vec<String>,
    /// `service_code`: the services asked for, comma-separated; empty means all.
    pub service_codes: Vec<String>,
    /// `start_date`: the earliest `requested_datetime`. A date alone starts that day.
    pub start_date: Option<DateTime<Utc>>,
    /// `end_date`: the latest `requested_datetime`. A date alone ends that day (its last
    /// second in Vietnam time).
    pub end_date: Option<DateTime<Utc>>,
    /// `status`: the statuses asked for, comma-separated; empty means all.
    pub statuses: Vec<Status>,
    /// `page` (extension): which page of results, 1 first.
    pub page: Option<u32>,
    /// `page_size` (extension): results per page, 1..=[`MAX_RESULTS`].
    pub page_size: Option<u32>,
}

impl RequestQuery {
    /// The window of `requested_datetime` to search, with the specification's default of
    /// [`DEFAULT_WINDOW_DAYS`] filling what the client left out: both dates as given; a
    /// start alone runs 90 days on; an end alone reaches 90 days back; neither is the 90
    /// days up to `now`.
    pub fn window(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let span = TimeDelta::days(DEFAULT_WINDOW_DAYS);
        match (self.start_date, self.end_date) {
            (Some(start), Some(end)) => (start, end),
            (Some(start), None) => (start, start + span),
            (None, Some(end)) => (end - span, end),
            (None, None) => (now - span, now),
        }
    }

    /// Whether the client asked for given ids, which override the other parameters.
    pub fn by_id(&self) -> bool {
        !self.service_request_ids.is_empty()
    }

    /// How many results to answer at most: `page_size`, else [`MAX_RESULTS`].
    pub fn limit(&self) -> u32 {
        self.page_size.unwrap_or(MAX_RESULTS)
    }

    /// How many results to skip for the asked `page` (the first when none is given).
    pub fn offset(&self) -> u64 {
        u64::from(self.page.unwrap_or(1).saturating_sub(1)) * u64::from(self.limit())
    }
}

/// The parameters of GET servicerequestupdates (extension), checked. The extension defines
/// `start_date` and `end_date` (of `updated_datetime`) and no other filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateQuery {
    /// `jurisdiction_id`.
    pub jurisdiction_id: Option<String>,
    /// `start_date`: the earliest update. A date alone starts that day.
    pub start_date: Option<DateTime<Utc>>,
    /// `end_date`: the latest update. A date alone ends that day.
    pub end_date: Option<DateTime<Utc>>,
}

/// The parameters of POST servicerequestupdates (extension), checked: an update that a
/// client (a FixMyStreet-style site) sends about a request it reported.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUpdate {
    /// `api_key`, kept for the server, which answers 403 when it is missing or wrong.
    pub api_key: Option<String>,
    /// `jurisdiction_id`.
    pub jurisdiction_id: Option<String>,
    /// `service_request_id`, required: the request updated.
    pub service_request_id: String,
    /// `update_id`, required: the client's own id of the update.
    pub update_id: String,
    /// `status`, required: `OPEN` or `CLOSED`, any case.
    pub status: Status,
    /// `updated_datetime`, required.
    pub updated_datetime: DateTime<Utc>,
    /// `description`, required but possibly empty (a status change without text).
    pub description: String,
    /// `email`.
    pub email: Option<String>,
    /// `phone`.
    pub phone: Option<String>,
    /// `first_name`.
    pub first_name: Option<String>,
    /// `last_name`.
    pub last_name: Option<String>,
    /// `title` (Mr, Ms, …).
    pub title: Option<String>,
    /// `account_id`.
    pub account_id: Option<String>,
    /// `media_url`, which this extension lets a client repeat, each an `http` or `https` URL.
    pub media_urls: Vec<String>,
}

/// What a parameter that takes one value gave.
enum Got {
    /// Not sent, or sent empty.
    Absent,
    /// A value, trimmed, within its limit.
    Value(String),
    /// Refused; the error is recorded.
    Refused,
}

impl Got {
    fn value(self) -> Option<String> {
        match self {
            Got::Value(value) => Some(value),
            Got::Absent | Got::Refused => None,
        }
    }
}

/// The pairs, grouped by name in the order sent.
struct Params<'a> {
    by_name: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a> Params<'a> {
    fn new(pairs: &'a [(String, String)]) -> Params<'a> {
        let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, value) in pairs {
            by_name
                .entry(name.as_str())
                .or_default()
                .push(value.as_str());
        }
        Params { by_name }
    }

    /// The non-empty trimmed values of a parameter.
    fn values(&self, name: &str) -> Vec<&'a str> {
        self.by_name
            .get(name)
            .map(|values| {
                values
                    .iter()
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn sent(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// A parameter that takes one value: sending it twice is refused unless both are the
    /// same, and a value longer than `max` characters is refused.
    fn one(&self, name: &str, max: usize, errors: &mut Vec<Error>) -> Got {
        let values = self.values(name);
        let Some(first) = values.first().copied() else {
            return Got::Absent;
        };
        if values.iter().any(|v| *v != first) {
            errors.push(repeated(name));
            return Got::Refused;
        }
        if first.chars().count() > max {
            errors.push(too_long(name, max));
            return Got::Refused;
        }
        Got::Value(first.to_owned())
    }

    /// A required parameter that takes one value.
    fn required(&self, name: &str, max: usize, errors: &mut Vec<Error>) -> Option<String> {
        match self.one(name, max, errors) {
            Got::Value(value) => Some(value),
            Got::Absent => {
                errors.push(missing(name));
                None
            }
            Got::Refused => None,
        }
    }

    /// A comma-separated list, which may also be sent several times: items trimmed, empty
    /// ones skipped, repeats dropped, each within `max` characters, at most
    /// [`MAX_RESULTS`] items.
    fn list(&self, name: &str, max: usize, errors: &mut Vec<Error>) -> Vec<String> {
        let mut items: Vec<String> = Vec::new();
        for value in self.values(name) {
            for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                if item.chars().count() > max {
                    errors.push(too_long(name, max));
                    return Vec::new();
                }
                if !items.iter().any(|known| known == item) {
                    items.push(item.to_owned());
                }
            }
        }
        if items.len() > MAX_RESULTS as usize {
            errors.push(Error::bad(
                Reason::TooMany,
                name,
                format!("{name} may list at most {MAX_RESULTS} items."),
                format!("{name} chỉ được liệt kê tối đa {MAX_RESULTS} mục."),
            ));
            return Vec::new();
        }
        items
    }

    /// A W3C date-time; a date alone is the start of that day, or its end when `end`.
    fn date(&self, name: &str, end: bool, errors: &mut Vec<Error>) -> Option<DateTime<Utc>> {
        let text = self.one(name, 64, errors).value()?;
        match parse_w3c(&text) {
            Some((at, true)) if end => Some(end_of_day(at)),
            Some((at, _)) => Some(at),
            None => {
                errors.push(date_invalid(name));
                None
            }
        }
    }

    /// `start_date` and `end_date`, the end not before the start.
    fn date_range(
        &self,
        errors: &mut Vec<Error>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let start = self.date("start_date", false, errors);
        let end = self.date("end_date", true, errors);
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            errors.push(Error::bad(
                Reason::DateRange,
                "end_date",
                "end_date is before start_date.".to_owned(),
                "Ngày kết thúc (end_date) đứng trước ngày bắt đầu (start_date).".to_owned(),
            ));
        }
        (start, end)
    }

    /// A whole number from `min` to `max`.
    fn number(&self, name: &str, min: u32, max: u32, errors: &mut Vec<Error>) -> Option<u32> {
        let text = self.one(name, 16, errors).value()?;
        match text.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                errors.push(Error::bad(
                    Reason::PageInvalid,
                    name,
                    format!("{name} must be a whole number from {min} to {max}."),
                    format!("{name} phải là số nguyên từ {min} đến {max}."),
                ));
                None
            }
        }
    }

    /// An optional e-mail address.
    fn email(&self, errors: &mut Vec<Error>) -> Option<String> {
        let email = self.one("email", limits::EMAIL, errors).value()?;
        if is_email(&email) {
            Some(email)
        } else {
            errors.push(Error::bad(
                Reason::EmailInvalid,
                "email",
                "email is not a valid e-mail address.".to_owned(),
                "Địa chỉ thư điện tử (email) không hợp lệ.".to_owned(),
            ));
            None
        }
    }
}

/// Reads the parameters of POST requests: `api_key`, `jurisdiction_id`, `service_code`,
/// `lat`, `long`, `address_string`, `address_id`, `email`, `device_id`, `account_id`,
/// `first_name`, `last_name`, `phone`, `description`, `media_url` and `attribute[CODE]`
/// (or `attribute[CODE][]`, repeated for a multivaluelist).
///
/// Refused with 400: no `service_code`; no location (the specification asks for `lat` and
/// `long`, or `address_string`, or `address_id`); `lat` without `long` or the reverse; a
/// coordinate that is not a finite number or is out of range; a value over its limit in
/// [`crate::limits`]; an `email` not shaped like one; a `media_url` that is not an `http` or
/// `https` URL; a malformed `attribute[…]` name; one parameter sent twice with different
/// values. Whether `api_key` is present and valid is the server's to check (403).
pub fn parse_new_request(pairs: &[(String, String)]) -> Result<NewRequest, Vec<Error>> {
    let params = Params::new(pairs);
    let mut errors = Vec::new();
    let e = &mut errors;

    let api_key = params.one("api_key", limits::IDENTIFIER, e).value();
    let jurisdiction_id = params.one("jurisdiction_id", limits::IDENTIFIER, e).value();
    let service_code = params.required("service_code", limits::IDENTIFIER, e);

    let lat = params.one("lat", 64, e);
    let long = params.one("long", 64, e);
    let address_string = params.one("address_string", limits::ADDRESS, e);
    let address_id = params.one("address_id", limits::IDENTIFIER, e);
    let lat_long = location(lat, long, &address_string, &address_id, e);

    let email = params.email(e);
    let device_id = params.one("device_id", limits::IDENTIFIER, e).value();
    let account_id = params.one("account_id", limits::IDENTIFIER, e).value();
    let first_name = params.one("first_name", limits::NAME, e).value();
    let last_name = params.one("last_name", limits::NAME, e).value();
    let phone = params.one("phone", limits::PHONE, e).value();
    let description = params.one("description", limits::DESCRIPTION, e).value();
    let media_url = params.one("media_url", limits::MEDIA_URL, e).value();
    let media_url = media_url.filter(|url| media_url_ok(url, e));
    let attributes = attributes(pairs, e);

    match service_code {
        Some(service_code) if errors.is_empty() => Ok(NewRequest {
            api_key,
            jurisdiction_id,
            service_code,
            lat_long,
            address_string: address_string.value(),
            address_id: address_id.value(),
            email,
            device_id,
            account_id,
            first_name,
            last_name,
            phone,
            description,
            media_url,
            attributes,
        }),
        _ => Err(errors),
    }
}

/// Checks the location of a new request and reads `lat` and `long`.
fn location(
    lat: Got,
    long: Got,
    address_string: &Got,
    address_id: &Got,
    errors: &mut Vec<Error>,
) -> Option<LatLong> {
    let lat = coordinate("lat", lat, 90.0, errors);
    let long = coordinate("long", long, 180.0, errors);
    match (&lat, &long) {
        (Got::Value(lat), Got::Value(long)) => {
            let lat_long = lat.parse::<f64>().ok().zip(long.parse::<f64>().ok());
            lat_long.map(|(lat, long)| LatLong { lat, long })
        }
        (Got::Value(_), Got::Absent) | (Got::Absent, Got::Value(_)) => {
            let absent = if matches!(lat, Got::Absent) {
                "lat"
            } else {
                "long"
            };
            errors.push(Error::bad(
                Reason::LatLongIncomplete,
                absent,
                "lat and long must be sent together.".to_owned(),
                "Vĩ độ (lat) và kinh độ (long) phải được gửi cùng nhau.".to_owned(),
            ));
            None
        }
        (Got::Absent, Got::Absent) => {
            if matches!(address_string, Got::Absent) && matches!(address_id, Got::Absent) {
                errors.push(Error::bad(
                    Reason::NoLocation,
                    "lat",
                    "A location is required: lat and long, or address_string, or address_id."
                        .to_owned(),
                    "Cần cho biết vị trí: vĩ độ và kinh độ (lat, long), hoặc địa chỉ \
                     (address_string), hoặc mã địa chỉ (address_id)."
                        .to_owned(),
                ));
            }
            None
        }
        _ => None,
    }
}

/// Checks one coordinate: a finite number within ±`bound` degrees.
fn coordinate(name: &str, got: Got, bound: f64, errors: &mut Vec<Error>) -> Got {
    let Got::Value(text) = got else {
        return got;
    };
    let (en, vi) = if name == "lat" {
        ("lat (latitude)", "Vĩ độ (lat)")
    } else {
        ("long (longitude)", "Kinh độ (long)")
    };
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value.abs() <= bound => Got::Value(text),
        Ok(value) if value.is_finite() => {
            errors.push(Error::bad(
                Reason::CoordinateOutOfRange,
                name,
                format!("{en} must be between -{bound} and {bound}."),
                format!("{vi} phải nằm trong khoảng từ -{bound} đến {bound}."),
            ));
            Got::Refused
        }
        _ => {
            errors.push(Error::bad(
                Reason::CoordinateInvalid,
                name,
                format!("{en} must be a decimal number of degrees."),
                format!("{vi} phải là một số thập phân (độ)."),
            ));
            Got::Refused
        }
    }
}

/// Reads the `attribute[CODE]` and `attribute[CODE][]` pairs.
fn attributes(
    pairs: &[(String, String)],
    errors: &mut Vec<Error>,
) -> BTreeMap<String, Vec<String>> {
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in pairs {
        let Some(rest) = name.strip_prefix("attribute[") else {
            continue;
        };
        let code = rest
            .split_once(']')
            .filter(|(code, tail)| {
                !code.is_empty() && !code.contains('[') && (tail.is_empty() || *tail == "[]")
            })
            .map(|(code, _)| code.trim())
            .filter(|code| !code.is_empty());
        let Some(code) = code else {
            if !errors
                .iter()
                .any(|e| e.param.as_deref() == Some(name.as_str()))
            {
                errors.push(Error::bad(
                    Reason::AttributeMalformed,
                    name,
                    format!("{name} is not of the form attribute[CODE] or attribute[CODE][]."),
                    format!("Tham số {name} không đúng dạng attribute[MÃ] hoặc attribute[MÃ][]."),
                ));
            }
            continue;
        };
        if code.chars().count() > limits::IDENTIFIER {
            errors.push(too_long(name, limits::IDENTIFIER));
            continue;
        }
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if value.chars().count() > limits::ATTRIBUTE_VALUE {
            errors.push(too_long(name, limits::ATTRIBUTE_VALUE));
            continue;
        }
        attributes
            .entry(code.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    attributes
}

/// Checks the attributes of a new request against the service's definition and returns the
/// values kept, `(code, values)` in the definition's `order`.
///
/// Refused with 400: a required attribute without a value; a code that the definition does
/// not have, or has only as information (`variable` false); several values for a datatype
/// that takes one; a line break in a `string`; a `number` that is not a finite number; a
/// `datetime` that [`crate::parse_datetime`] does not read; a list value that is not one of
/// the definition's keys; a value over [`limits::ATTRIBUTE_VALUE`]. Repeated list keys
/// are kept once.
pub fn check_attributes(
    definition: &ServiceDefinition,
    given: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<(String, Vec<String>)>, Vec<Error>> {
    let mut errors = Vec::new();
    for code in given.keys() {
        let asked = definition
            .attributes
            .iter()
            .any(|a| a.variable && a.code == *code);
        if !asked {
            errors.push(Error::bad(
                Reason::AttributeUnknown,
                &format!("attribute[{code}]"),
                format!(
                    "Service {} has no attribute {code} to fill in.",
                    definition.service_code
                ),
                format!(
                    "Loại yêu cầu {} không có thông tin {code} để điền.",
                    definition.service_code
                ),
            ));
        }
    }

    let mut asked: Vec<_> = definition
        .attributes
        .iter()
        .filter(|a| a.variable)
        .collect();
    asked.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.code.cmp(&b.code)));
    let mut kept = Vec::new();
    for attribute in asked {
        let code = attribute.code.as_str();
        let param = format!("attribute[{code}]");
        let values: Vec<&str> = given
            .get(code)
            .map(|values| {
                values
                    .iter()
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if values.is_empty() {
            if attribute.required {
                errors.push(Error::bad(
                    Reason::AttributeRequired,
                    &param,
                    format!("{code} is required: {}", attribute.description),
                    format!("Thiếu thông tin bắt buộc {code}: {}", attribute.description),
                ));
            }
            continue;
        }
        if values
            .iter()
            .any(|v| v.chars().count() > limits::ATTRIBUTE_VALUE)
        {
            errors.push(too_long(&param, limits::ATTRIBUTE_VALUE));
            continue;
        }
        let multi = attribute.datatype == Datatype::MultiValueList;
        if !multi && values.len() > 1 {
            errors.push(Error::bad(
                Reason::AttributeSingleValue,
                &param,
                format!("{code} takes a single value."),
                format!("Thông tin {code} chỉ nhận một giá trị."),
            ));
            continue;
        }
        let error_count = errors.len();
        for value in &values {
            check_attribute_value(attribute, value, &param, &mut errors);
        }
        if errors.len() > error_count {
            continue;
        }
        let mut unique: Vec<String> = Vec::with_capacity(values.len());
        for value in values {
            if !unique.iter().any(|known| known == value) {
                unique.push(value.to_owned());
            }
        }
        kept.push((code.to_owned(), unique));
    }
    if errors.is_empty() {
        Ok(kept)
    } else {
        Err(errors)
    }
}

/// Checks one value of an attribute against its datatype.
fn check_attribute_value(
    attribute: &crate::Attribute,
    value: &str,
    param: &str,
    errors: &mut Vec<Error>,
) {
    let code = attribute.code.as_str();
    match attribute.datatype {
        Datatype::Text => {}
        Datatype::String => {
            if value.contains(['\n', '\r']) {
                errors.push(Error::bad(
                    Reason::AttributeLineBreak,
                    param,
                    format!("{code} must be a single line."),
                    format!("Thông tin {code} không được xuống dòng."),
                ));
            }
        }
        Datatype::Number => {
            if !value.parse::<f64>().is_ok_and(f64::is_finite) {
                errors.push(Error::bad(
                    Reason::AttributeNotNumber,
                    param,
                    format!("{code} must be a number."),
                    format!("Thông tin {code} phải là một số."),
                ));
            }
        }
        Datatype::Datetime => {
            if parse_datetime(value).is_none() {
                errors.push(Error::bad(
                    Reason::AttributeNotDatetime,
                    param,
                    format!("{code} must be a W3C date-time such as 2024-01-31T08:00:00+07:00."),
                    format!(
                        "Thông tin {code} phải là ngày giờ dạng W3C, ví dụ \
                         2024-01-31T08:00:00+07:00."
                    ),
                ));
            }
        }
        Datatype::SingleValueList | Datatype::MultiValueList => {
            if !attribute.values.iter().any(|v| v.key == value) {
                errors.push(Error::bad(
                    Reason::AttributeValueUnknown,
                    param,
                    format!("{value} is not one of the choices of {code}."),
                    format!("Giá trị {value} không có trong các lựa chọn của {code}."),
                ));
            }
        }
    }
}

/// Reads the parameters of GET requests: `jurisdiction_id`, `service_request_id`,
/// `service_code` and `status` (comma-separated lists), `start_date` and `end_date` (W3C
/// date-times, the end not before the start), and the extension's `page` (from 1) and
/// `page_size` (1..=[`MAX_RESULTS`]).
///
/// The default window and the cap are not applied here: see [`RequestQuery::window`],
/// [`RequestQuery::limit`] and [`RequestQuery::offset`].
pub fn parse_request_query(pairs: &[(String, String)]) -> Result<RequestQuery, Vec<Error>> {
    let params = Params::new(pairs);
    let mut errors = Vec::new();
    let e = &mut errors;

    let jurisdiction_id = params.one("jurisdiction_id", limits::IDENTIFIER, e).value();
    let service_request_ids = params.list("service_request_id", limits::IDENTIFIER, e);
    let service_codes = params.list("service_code", limits::IDENTIFIER, e);
    let (start_date, end_date) = params.date_range(e);
    let mut statuses = Vec::new();
    for item in params.list("status", limits::IDENTIFIER, e) {
        match Status::parse(&item) {
            Some(status) if !statuses.contains(&status) => statuses.push(status),
            Some(_) => {}
            None => e.push(Error::bad(
                Reason::StatusInvalid,
                "status",
                format!("status {item} is not known: use open or closed."),
                format!("Trạng thái {item} không hợp lệ: chỉ nhận open hoặc closed."),
            )),
        }
    }
    let page = params.number("page", 1, u32::MAX, e);
    let page_size = params.number("page_size", 1, MAX_RESULTS, e);

    if errors.is_empty() {
        Ok(RequestQuery {
            jurisdiction_id,
            service_request_ids,
            service_codes,
            start_date,
            end_date,
            statuses,
            page,
            page_size,
        })
    } else {
        Err(errors)
    }
}

/// Reads the parameters of GET servicerequestupdates (extension): `jurisdiction_id`,
/// `start_date` and `end_date`, as for GET requests.
pub fn parse_update_query(pairs: &[(String, String)]) -> Result<UpdateQuery, Vec<Error>> {
    let params = Params::new(pairs);
    let mut errors = Vec::new();
    let jurisdiction_id = params
        .one("jurisdiction_id", limits::IDENTIFIER, &mut errors)
        .value();
    let (start_date, end_date) = params.date_range(&mut errors);
    if errors.is_empty() {
        Ok(UpdateQuery {
            jurisdiction_id,
            start_date,
            end_date,
        })
    } else {
        Err(errors)
    }
}

/// Reads the parameters of POST servicerequestupdates (extension): required
/// `service_request_id`, `update_id`, `status` (open or closed, any case),
/// `updated_datetime` and `description` (which may be sent empty); optional `api_key`,
/// `jurisdiction_id`, `email`, `phone`, `first_name`, `last_name`, `title`, `account_id` and
/// `media_url` (repeatable). Limits and shapes are checked as for a new request.
pub fn parse_new_update(pairs: &[(String, String)]) -> Result<NewUpdate, Vec<Error>> {
    let params = Params::new(pairs);
    let mut errors = Vec::new();
    let e = &mut errors;

    let api_key = params.one("api_key", limits::IDENTIFIER, e).value();
    let jurisdiction_id = params.one("jurisdiction_id", limits::IDENTIFIER, e).value();
    let service_request_id = params.required("service_request_id", limits::IDENTIFIER, e);
    let update_id = params.required("update_id", limits::IDENTIFIER, e);
    let status = params
        .required("status", limits::IDENTIFIER, e)
        .and_then(|text| {
            let status = Status::parse(&text);
            if status.is_none() {
                e.push(Error::bad(
                    Reason::StatusInvalid,
                    "status",
                    format!("status {text} is not known: use open or closed."),
                    format!("Trạng thái {text} không hợp lệ: chỉ nhận open hoặc closed."),
                ));
            }
            status
        });
    let updated_datetime = params.required("updated_datetime", 64, e).and_then(|text| {
        let at = parse_datetime(&text);
        if at.is_none() {
            e.push(date_invalid("updated_datetime"));
        }
        at
    });
    let description = if params.sent("description") {
        params
            .one("description", limits::DESCRIPTION, e)
            .value()
            .or(Some(String::new()))
    } else {
        e.push(missing("description"));
        None
    };
    let email = params.email(e);
    let phone = params.one("phone", limits::PHONE, e).value();
    let first_name = params.one("first_name", limits::NAME, e).value();
    let last_name = params.one("last_name", limits::NAME, e).value();
    let title = params.one("title", limits::NAME, e).value();
    let account_id = params.one("account_id", limits::IDENTIFIER, e).value();
    let mut media_urls: Vec<String> = Vec::new();
    for url in params.values("media_url") {
        if url.chars().count() > limits::MEDIA_URL {
            e.push(too_long("media_url", limits::MEDIA_URL));
        } else if media_url_ok(url, e) && !media_urls.iter().any(|known| known == url) {
            media_urls.push(url.to_owned());
        }
    }

    match (
        service_request_id,
        update_id,
        status,
        updated_datetime,
        description,
    ) {
        (
            Some(service_request_id),
            Some(update_id),
            Some(status),
            Some(updated_datetime),
            Some(description),
        ) if errors.is_empty() => Ok(NewUpdate {
            api_key,
            jurisdiction_id,
            service_request_id,
            update_id,
            status,
            updated_datetime,
            description,
            email,
            phone,
            first_name,
            last_name,
            title,
            account_id,
            media_urls,
        }),
        _ => Err(errors),
    }
}

/// Whether `text` is shaped like an e-mail address: one `@`; a local part of 1 to 64
/// characters without spaces, quotes or brackets, not starting, ending or doubling a dot; a
/// domain of two or more labels of letters, digits and hyphens.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.chars().count() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"()<>[]:;@\\,\"".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

/// Whether `text` is an absolute `http` or `https` URL with a host and no white space;
/// records the error when not.
fn media_url_ok(text: &str, errors: &mut Vec<Error>) -> bool {
    let ok = !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && url::Url::parse(text).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|host| !host.is_empty())
        });
    if !ok {
        errors.push(Error::bad(
            Reason::MediaUrlInvalid,
            "media_url",
            format!(
                "media_url must be an http or https URL of at most {} characters.",
                limits::MEDIA_URL
            ),
            format!(
                "media_url phải là một địa chỉ http hoặc https, dài không quá {} ký tự.",
                limits::MEDIA_URL
            ),
        ));
    }
    ok
}

fn missing(name: &str) -> Error {
    Error::bad(
        Reason::Missing,
        name,
        format!("{name} is required."),
        format!("Thiếu tham số {name}."),
    )
}

fn repeated(name: &str) -> Error {
    Error::bad(
        Reason::Repeated,
        name,
        format!("{name} was sent more than once with different values."),
        format!("Tham số {name} được gửi nhiều lần với các giá trị khác nhau."),
    )
}

fn too_long(name: &str, max: usize) -> Error {
    Error::bad(
        Reason::TooLong,
        name,
        format!("{name} is longer than {max} characters."),
        format!("{name} dài quá {max} ký tự."),
    )
}

fn date_invalid(name: &str) -> Error {
    Error::bad(
        Reason::DateInvalid,
        name,
        format!(
            "{name} must be a W3C date-time with its offset, such as \
             2024-01-31T08:00:00+07:00, or a date such as 2024-01-31."
        ),
        format!(
            "{name} phải là ngày giờ dạng W3C có múi giờ, ví dụ 2024-01-31T08:00:00+07:00, \
             hoặc một ngày, ví dụ 2024-01-31."
        ),
    )
}
