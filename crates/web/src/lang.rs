//! The reader's language and the texts of the shared page chrome.
//!
//! Vietnamese by default; English when the reader chose it (the `lang` query parameter, or the
//! `lang` cookie set by the switch link). Texts are typed structs, one constant per language,
//! so a missing translation fails to compile.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn is_vi(self) -> bool {
        self == Lang::Vi
    }

    /// The other language, for the switch link.
    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    /// Picks the text of this language.
    pub fn pick<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    /// The language a request asks for: query first, then cookie, then Vietnamese.
    pub fn of_request(parts: &Parts) -> Lang {
        if let Some(q) = parts.uri.query() {
            for pair in q.split('&') {
                if let Some(v) = pair.strip_prefix("lang=")
                    && let Some(l) = Lang::parse(v)
                {
                    return l;
                }
            }
        }
        for value in parts.headers.get_all(axum::http::header::COOKIE) {
            let Ok(s) = value.to_str() else { continue };
            for c in s.split(';') {
                if let Some(v) = c.trim().strip_prefix("lang=")
                    && let Some(l) = Lang::parse(v)
                {
                    return l;
                }
            }
        }
        Lang::Vi
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::of_request(parts))
    }
}

/// Texts of the page chrome.
#[derive(Debug)]
pub struct ChromeTexts {
    pub skip: &'static str,
    pub portal: &'static str,
    pub nav_search: &'static str,
    pub nav_agencies: &'static str,
    pub nav_api: &'static str,
    pub switch_to: &'static str,
    pub footer: &'static str,
    pub error_title: &'static str,
    pub back_home: &'static str,
}

pub const CHROME_VI: ChromeTexts = ChromeTexts {
    skip: "Bỏ qua, đến nội dung chính",
    portal: "Cổng dịch vụ công",
    nav_search: "Thủ tục hành chính",
    nav_agencies: "Cơ quan",
    nav_api: "API",
    switch_to: "English",
    footer: "Hệ thống thông tin giải quyết thủ tục hành chính — phần mềm nguồn mở motcua",
    error_title: "Không thực hiện được yêu cầu",
    back_home: "Về trang chủ",
};

pub const CHROME_EN: ChromeTexts = ChromeTexts {
    skip: "Skip to main content",
    portal: "Public service portal",
    nav_search: "Procedures",
    nav_agencies: "Agencies",
    nav_api: "API",
    switch_to: "Tiếng Việt",
    footer: "Administrative procedure information system — motcua open-source software",
    error_title: "The request could not be completed",
    back_home: "Back to the home page",
};
