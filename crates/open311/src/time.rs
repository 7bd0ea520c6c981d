//! W3C date-times (the common subset of ISO 8601 that the specification requires), written in
//! Vietnam time and read in any offset.

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, TimeDelta, Utc};

/// The offset of Vietnam time from UTC, in seconds (UTC+07:00, no daylight saving). Every date
/// that this crate writes carries it; a date-only value that a client sends is read in it.
pub const VIETNAM_OFFSET_SECONDS: i32 = 7 * 3600;

const VIETNAM: FixedOffset = match FixedOffset::east_opt(VIETNAM_OFFSET_SECONDS) {
    Some(offset) => offset,
    None => panic!("UTC+07:00 is a valid offset"),
};

/// Writes an instant as the specification's W3C date-time in Vietnam time, to the second:
/// `2024-03-01T08:30:00+07:00`. Fractions of a second are dropped.
pub fn format_datetime(at: &DateTime<Utc>) -> String {
    at.with_timezone(&VIETNAM)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Reads a W3C date-time as a client sends it in `start_date`, `end_date`, a `datetime`
/// attribute or `updated_datetime`:
///
/// - a full date-time with its offset, `2010-01-01T00:00:00Z` or `2010-01-01T07:00:00+07:00`,
///   with or without a fraction of a second;
/// - a date-time to the minute with its offset, `2010-01-01T07:00+07:00`;
/// - a date alone, `2010-01-01`, which is the start of that day in Vietnam time.
///
/// A date-time without an offset is refused: the specification requires one. Since a `+`
/// that a client leaves unencoded in a query string arrives as a space, a space before a
/// trailing `hh:mm` offset is read as `+`.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    parse_w3c(text).map(|(at, _)| at)
}

/// As [`parse_datetime`], also telling whether the text was a date alone.
pub(crate) fn parse_w3c(text: &str) -> Option<(DateTime<Utc>, bool)> {
    let text = text.trim();
    if is_date_shape(text) {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        let local = date.and_hms_opt(0, 0, 0)?;
        let at = local.and_local_timezone(VIETNAM).single()?;
        return Some((at.to_utc(), true));
    }
    let mut text = text.to_owned();
    repair_plus(&mut text);
    if let Some(rest) = text.strip_suffix(['Z', 'z']) {
        text = format!("{rest}+00:00");
    }
    // Date-time to the minute: YYYY-MM-DDThh:mm±hh:mm (22 characters) gains ":00" seconds.
    if text.len() == 22
        && text.is_char_boundary(16)
        && text[..16].bytes().filter(|b| *b == b':').count() == 1
    {
        text.insert_str(16, ":00");
    }
    if !is_datetime_shape(&text) {
        return None;
    }
    DateTime::parse_from_rfc3339(&text)
        .ok()
        .map(|at| (at.to_utc(), false))
}

/// The last second of the day that a date-only `at` starts (in Vietnam time).
pub(crate) fn end_of_day(start: DateTime<Utc>) -> DateTime<Utc> {
    start + TimeDelta::days(1) - TimeDelta::seconds(1)
}

/// `YYYY-MM-DD` exactly.
fn is_date_shape(text: &str) -> bool {
    is_date_bytes(text.as_bytes())
}

fn is_date_bytes(bytes: &[u8]) -> bool {
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

/// `YYYY-MM-DDThh:mm:ss` at the start, as RFC 3339 has it (four-digit year).
fn is_datetime_shape(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 20
        && is_date_bytes(&bytes[..10])
        && matches!(bytes[10], b'T' | b't')
        && bytes[11..19].iter().enumerate().all(|(i, b)| match i {
            2 | 5 => *b == b':',
            _ => b.is_ascii_digit(),
        })
}

/// Turns `…T07:00:00 07:00` (a `+` decoded as a space) back into `…T07:00:00+07:00`.
fn repair_plus(text: &mut String) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    if n > 16
        && bytes[n - 6] == b' '
        && bytes[n - 5].is_ascii_digit()
        && bytes[n - 4].is_ascii_digit()
        && bytes[n - 3] == b':'
        && bytes[n - 2].is_ascii_digit()
        && bytes[n - 1].is_ascii_digit()
        && text.contains(['T', 't'])
    {
        text.replace_range(n - 6..n - 5, "+");
    }
}
