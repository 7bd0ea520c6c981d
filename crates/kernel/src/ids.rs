//! Vietnamese identifiers that can only exist valid: a [`Cccd`] (personal identification
//! number), a [`TaxCode`] and an [`AgencyCode`]. Build them with `parse`; every later function
//! can trust them.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Why an identifier was refused, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{en}")]
pub struct IdError {
    pub vi: String,
    pub en: String,
}

fn id_err(vi: impl Into<String>, en: impl Into<String>) -> IdError {
    IdError {
        vi: vi.into(),
        en: en.into(),
    }
}

/// Birth-registration province codes of the personal identification number, in the 63-province
/// numbering in force when numbers were issued (Circular 07/2016/TT-BCA, kept after the 2025
/// merger so that issued numbers stay valid).
const CCCD_PROVINCES: &[u16] = &[
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37,
    38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77,
    79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
];

/// Sex as encoded in the personal identification number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

/// A 12-digit personal identification number (số định danh cá nhân, on the CCCD card).
///
/// Digits 1–3: province of birth registration (or, from 100 up, a code for births abroad);
/// digit 4: century and sex; digits 5–6: last two digits of the birth year; 7–12: a serial.
/// There is no check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cccd(String);

impl Cccd {
    pub fn parse(s: &str) -> Result<Cccd, IdError> {
        let s = s.trim();
        if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(id_err(
                "Số định danh cá nhân phải gồm đúng 12 chữ số",
                "A personal identification number has exactly 12 digits",
            ));
        }
        let place: u16 = s[0..3].parse().unwrap_or(0);
        if place < 100 && !CCCD_PROVINCES.contains(&place) {
            return Err(id_err(
                format!("Mã tỉnh nơi đăng ký khai sinh {:03} không tồn tại", place),
                format!(
                    "Province code {:03} of the birth registration does not exist",
                    place
                ),
            ));
        }
        if place == 0 {
            return Err(id_err(
                "Mã nơi đăng ký khai sinh 000 không hợp lệ",
                "Place code 000 is not valid",
            ));
        }
        Ok(Cccd(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn digit(&self, i: usize) -> u32 {
        u32::from(self.0.as_bytes()[i] - b'0')
    }

    /// Sex from the fourth digit: even for men, odd for women.
    pub fn sex(&self) -> Sex {
        if self.digit(3).is_multiple_of(2) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Year of birth from the fourth digit (century) and the fifth and sixth.
    pub fn birth_year(&self) -> i32 {
        let century = 1900 + 100 * (self.digit(3) / 2) as i32;
        century + (self.digit(4) * 10 + self.digit(5)) as i32
    }

    /// Whether the number agrees with a declared birth date and sex.
    pub fn check_holder(&self, born: NaiveDate, sex: Sex) -> Result<(), IdError> {
        if born.year() != self.birth_year() {
            return Err(id_err(
                format!(
                    "Số định danh ghi năm sinh {}, không khớp với ngày sinh khai báo",
                    self.birth_year()
                ),
                format!(
                    "The number encodes birth year {}, which does not match the declared date of birth",
                    self.birth_year()
                ),
            ));
        }
        if sex != self.sex() {
            return Err(id_err(
                "Giới tính khai báo không khớp với số định danh",
                "The declared sex does not match the number",
            ));
        }
        Ok(())
    }

    /// The number with all but the last three digits hidden, for lists and logs.
    pub fn masked(&self) -> String {
        format!("*********{}", &self.0[9..])
    }
}

impl TryFrom<String> for Cccd {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Cccd::parse(&s)
    }
}

impl From<Cccd> for String {
    fn from(c: Cccd) -> String {
        c.0
    }
}

impl fmt::Display for Cccd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tax code (mã số thuế): an organisation's 10 digits with a check digit, optionally a
/// dependent unit's `-NNN`; or, since 1 July 2025, an individual's 12-digit identification number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxCode(String);

const TAX_WEIGHTS: [u32; 9] = [31, 29, 23, 19, 17, 13, 7, 5, 3];

impl TaxCode {
    pub fn parse(s: &str) -> Result<TaxCode, IdError> {
        let s = s.trim();
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            return Cccd::parse(s).map(|c| TaxCode(c.0));
        }
        let (main, branch) = match s.split_once('-') {
            Some((m, b)) => (m, Some(b)),
            None => (s, None),
        };
        if main.len() != 10 || !main.bytes().all(|b| b.is_ascii_digit()) {
            return Err(id_err(
                "Mã số thuế gồm 10 chữ số (đơn vị phụ thuộc thêm -NNN), hoặc 12 chữ số của cá nhân",
                "A tax code has 10 digits (plus -NNN for a dependent unit), or an individual's 12 digits",
            ));
        }
        if let Some(b) = branch
            && (b.len() != 3 || !b.bytes().all(|c| c.is_ascii_digit()) || b == "000")
        {
            return Err(id_err(
                "Phần đơn vị phụ thuộc của mã số thuế phải là 3 chữ số từ 001 đến 999",
                "The dependent-unit part of a tax code must be three digits from 001 to 999",
            ));
        }
        let d: Vec<u32> = main.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = d.iter().zip(TAX_WEIGHTS).map(|(a, w)| a * w).sum();
        let rem = sum % 11;
        let expected = if rem == 0 {
            None
        } else {
            Some((10 - rem) % 10)
        };
        if expected != Some(d[9]) {
            return Err(id_err(
                "Chữ số kiểm tra của mã số thuế không đúng",
                "The check digit of the tax code is wrong",
            ));
        }
        Ok(TaxCode(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The organisation's main code, without the dependent-unit suffix.
    pub fn main(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

impl TryFrom<String> for TaxCode {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TaxCode::parse(&s)
    }
}

impl From<TaxCode> for String {
    fn from(c: TaxCode) -> String {
        c.0
    }
}

impl fmt::Display for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An agency's electronic identifier code (mã định danh điện tử, QCVN 102:2016 and Decision
/// 20/2020/QĐ-TTg): `V1V2V3.Z1Z2.Y1Y2.MX1X2` read right to left, as in `000.00.04.G14`; or the
/// top-down form of Decision 09/2025/QĐ-TTg, `MX1X2.Y1Y2Y3.Z1Z2`, possibly shortened (`H55.242`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgencyCode(String);

fn is_level1(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit()
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

impl AgencyCode {
    pub fn parse(s: &str) -> Result<AgencyCode, IdError> {
        let s = s.trim();
        let parts: Vec<&str> = s.split('.').collect();
        let ok = match parts.as_slice() {
            [v, z, y, m] => digits(v, 3) && digits(z, 2) && digits(y, 2) && is_level1(m),
            [m] => is_level1(m),
            [m, y] => is_level1(m) && (digits(y, 2) || digits(y, 3)),
            [m, y, z] => is_level1(m) && (digits(y, 2) || digits(y, 3)) && digits(z, 2),
            _ => false,
        };
        if ok {
            Ok(AgencyCode(s.to_string()))
        } else {
            Err(id_err(
                format!("Mã định danh cơ quan {s:?} không đúng dạng 000.00.00.H56 hoặc H56.242.01"),
                format!("Agency code {s:?} is not of the form 000.00.00.H56 or H56.242.01"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AgencyCode {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AgencyCode::parse(&s)
    }
}

impl From<AgencyCode> for String {
    fn from(c: AgencyCode) -> String {
        c.0
    }
}

impl fmt::Display for AgencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cccd_structure_province_and_holder() {
        let c = Cccd::parse("001095012345").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.birth_year(), 1995);
        assert_eq!(c.sex(), Sex::Male);
        let w = Cccd::parse("079301000123").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.birth_year(), 2001);
        assert_eq!(w.sex(), Sex::Female);
        let born = NaiveDate::from_ymd_opt(2001, 3, 4).unwrap_or_default();
        assert!(w.check_holder(born, Sex::Female).is_ok());
        assert!(w.check_holder(born, Sex::Male).is_err());
        assert!(
            w.check_holder(
                NaiveDate::from_ymd_opt(1901, 3, 4).unwrap_or_default(),
                Sex::Female
            )
            .is_err()
        );
        assert!(Cccd::parse("00109501234").is_err(), "11 digits");
        assert!(Cccd::parse("0010950123456").is_err(), "13 digits");
        assert!(Cccd::parse("00109501234a").is_err());
        assert!(Cccd::parse("003095012345").is_err(), "003 is no province");
        assert!(Cccd::parse("097095012345").is_err(), "097 is no province");
        assert!(Cccd::parse("000095012345").is_err());
        assert_eq!(c.masked(), "*********345");
    }

    #[test]
    fn tax_code_check_digit() {
        assert!(TaxCode::parse("0100109106").is_ok());
        assert!(TaxCode::parse("0100109107").is_err());
        assert!(TaxCode::parse("0100109106-001").is_ok());
        assert!(TaxCode::parse("0100109106-000").is_err());
        assert!(TaxCode::parse("0100109106-01").is_err());
        assert!(TaxCode::parse("010010910").is_err());
        assert!(
            TaxCode::parse("001095012345").is_ok(),
            "an individual's number"
        );
        assert_eq!(
            TaxCode::parse("0100109106-002")
                .map(|t| t.main().to_string())
                .ok(),
            Some("0100109106".into())
        );
    }

    #[test]
    fn agency_codes_in_both_forms() {
        for ok in [
            "000.00.04.G14",
            "000.00.00.H56",
            "001.05.00.H26",
            "H55.242",
            "G06.01",
            "H56.242.01",
            "G14",
        ] {
            assert!(AgencyCode::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "000.00.00",
            "00.00.00.H56",
            "000.00.00.h56",
            "000.00.00.H5",
            "H55.2",
            "H56.242.1",
            "a.b.c.d.e",
        ] {
            assert!(AgencyCode::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_tax_code_with_its_computed_check_digit_parses(n in 0u32..1_000_000_000) {
            let body = format!("{n:09}");
            let sum: u32 = body.bytes().zip(TAX_WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
            let rem = sum % 11;
            prop_assume!(rem != 0);
            let good = format!("{body}{}", (10 - rem) % 10);
            prop_assert!(TaxCode::parse(&good).is_ok());
            let bad = format!("{body}{}", ((10 - rem) % 10 + 1) % 10);
            prop_assert!(TaxCode::parse(&bad).is_err());
        }

        #[test]
        fn cccd_never_panics(s in "\\PC{0,20}") {
            let _ = Cccd::parse(&s);
            let _ = TaxCode::parse(&s);
            let _ = AgencyCode::parse(&s);
        }
    }
}
