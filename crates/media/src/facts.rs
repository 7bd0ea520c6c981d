//! The facts read from a photo's EXIF block: where and when it was taken, and which way up it
//! is.

use chrono::{NaiveDate, NaiveDateTime};
use exif::{Exif, Field, In, Reader, Tag, Value};
use image::metadata::Orientation;

use crate::GeoPoint;

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Facts {
    pub location: Option<GeoPoint>,
    pub taken_at: Option<NaiveDateTime>,
    /// The EXIF orientation, 1 to 8; 1 when absent or not one of those.
    pub exif_orientation: u8,
}

impl Facts {
    /// The turn to apply to the pixels, when there is one.
    pub fn orientation(&self) -> Option<Orientation> {
        Orientation::from_exif(self.exif_orientation)
            .filter(|orientation| *orientation != Orientation::NoTransforms)
    }
}

/// Reads the facts from a TIFF-structured EXIF block. What cannot be read is left out; a block
/// that cannot be read at all gives no facts.
pub(crate) fn read(tiff: &[u8]) -> Facts {
    let mut reader = Reader::new();
    reader.continue_on_error(true);
    let exif = match reader
        .read_raw(tiff.to_vec())
        .or_else(|e| e.distill_partial_result(|_ignored| {}))
    {
        Ok(exif) => exif,
        Err(_) => return Facts::default(),
    };
    Facts {
        location: location(&exif),
        taken_at: taken_at(&exif),
        exif_orientation: orientation(&exif),
    }
}

fn field(exif: &Exif, tag: Tag) -> Option<&Field> {
    exif.get_field(tag, In::PRIMARY)
}

fn orientation(exif: &Exif) -> u8 {
    field(exif, Tag::Orientation)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u8::try_from(v).ok())
        .filter(|v| (1..=8).contains(v))
        .unwrap_or(1)
}

fn location(exif: &Exif) -> Option<GeoPoint> {
    let lat = coordinate(
        exif,
        Tag::GPSLatitude,
        Tag::GPSLatitudeRef,
        b'N',
        b'S',
        90.0,
    )?;
    let lon = coordinate(
        exif,
        Tag::GPSLongitude,
        Tag::GPSLongitudeRef,
        b'E',
        b'W',
        180.0,
    )?;
    // A receiver without a fix often writes zeros; nobody reports a pothole at 0°, 0°.
    if lat == 0.0 && lon == 0.0 {
        return None;
    }
    Some(GeoPoint { lat, lon })
}

/// A latitude or longitude in signed decimal degrees, from its degrees, minutes and seconds and
/// its hemisphere reference. `None` when the reference is missing or unknown, a value does not
/// parse (a zero denominator, minutes or seconds of 60 or more), or the result is out of range.
fn coordinate(
    exif: &Exif,
    value_tag: Tag,
    ref_tag: Tag,
    positive: u8,
    negative: u8,
    max: f64,
) -> Option<f64> {
    let sign = match ascii_first_byte(field(exif, ref_tag)?)?.to_ascii_uppercase() {
        r if r == positive => 1.0,
        r if r == negative => -1.0,
        _ => return None,
    };
    let parts = rationals(&field(exif, value_tag)?.value)?;
    let (degrees, minutes, seconds) = match parts.as_slice() {
        [d] => (*d, 0.0, 0.0),
        [d, m] => (*d, *m, 0.0),
        [d, m, s, ..] => (*d, *m, *s),
        [] => return None,
    };
    if !(0.0..60.0).contains(&minutes) || !(0.0..60.0).contains(&seconds) || degrees < 0.0 {
        return None;
    }
    let value = sign * (degrees + minutes / 60.0 + seconds / 3600.0);
    (value.is_finite() && value.abs() <= max).then_some(value)
}

fn rationals(value: &Value) -> Option<Vec<f64>> {
    let parts: Vec<Option<f64>> = match value {
        Value::Rational(v) => v
            .iter()
            .map(|r| (r.denom != 0).then(|| f64::from(r.num) / f64::from(r.denom)))
            .collect(),
        Value::SRational(v) => v
            .iter()
            .map(|r| (r.denom != 0).then(|| f64::from(r.num) / f64::from(r.denom)))
            .collect(),
        _ => return None,
    };
    parts.into_iter().collect()
}

fn ascii_first_byte(field: &Field) -> Option<u8> {
    match &field.value {
        Value::Ascii(strings) => strings.first()?.first().copied(),
        _ => None,
    }
}

fn ascii(field: &Field) -> Option<&[u8]> {
    match &field.value {
        Value::Ascii(strings) => strings.first().map(Vec::as_slice),
        _ => None,
    }
}

/// `DateTimeOriginal`, with `SubSecTimeOriginal` when present. The camera's local time: EXIF
/// gives no zone unless `OffsetTimeOriginal` is set, and many phones do not set it.
fn taken_at(exif: &Exif) -> Option<NaiveDateTime> {
    let mut dt = exif::DateTime::from_ascii(ascii(field(exif, Tag::DateTimeOriginal)?)?).ok()?;
    if let Some(subsec) = field(exif, Tag::SubSecTimeOriginal).and_then(ascii) {
        // A malformed fraction is ignored, not the whole date.
        if dt.parse_subsec(subsec).is_err() {
            dt.nanosecond = None;
        }
    }
    NaiveDate::from_ymd_opt(i32::from(dt.year), u32::from(dt.month), u32::from(dt.day))?
        .and_hms_nano_opt(
            u32::from(dt.hour),
            u32::from(dt.minute),
            u32::from(dt.second),
            dt.nanosecond.unwrap_or(0),
        )
}
