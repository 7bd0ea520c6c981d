//! Errors at the edge: any [`Problem`] becomes an RFC 9457 `application/problem+json` answer
//! for the API, or an error page in the reader's language for the pages.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kernel::{Problem, ProblemDetail};
use serde::Serialize;

use crate::layout::{Chrome, render_status};

/// An API error: wraps any problem.
#[derive(Debug)]
pub struct ApiError(pub Box<dyn Problem>);

impl<E: Problem> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(Box::new(e))
    }
}

/// The problem+json body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemBody {
    /// URI naming the problem kind.
    #[serde(rename = "type")]
    pub kind_uri: String,
    /// Short English summary.
    pub title: String,
    pub status: u16,
    /// English explanation of this occurrence.
    pub detail: String,
    /// Vietnamese explanation of this occurrence.
    pub detail_vi: String,
    /// Stable machine-readable kind.
    pub code: String,
    /// Per-item problems (bad rows, bad fields).
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<ProblemDetail>,
}

impl ProblemBody {
    pub fn of(p: &dyn Problem) -> ProblemBody {
        ProblemBody {
            kind_uri: format!("urn:motcua:problem:{}", p.kind()),
            title: p.message_en(),
            status: p.status(),
            detail: p.message_en(),
            detail_vi: p.message_vi(),
            code: p.kind().to_string(),
            errors: p.details(),
        }
    }
}

pub fn status_of(p: &dyn Problem) -> StatusCode {
    StatusCode::from_u16(p.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.0.as_ref());
        if status.is_server_error() {
            tracing::error!(kind = self.0.kind(), error = %self.0, "request failed");
        }
        let body = ProblemBody::of(self.0.as_ref());
        let mut resp = (status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}

/// A page error: the problem shown as a page, in the reader's language.
pub struct PageError {
    pub problem: Box<dyn Problem>,
    pub chrome: Chrome,
}

impl PageError {
    pub fn new(problem: impl Problem, chrome: Chrome) -> PageError {
        PageError {
            problem: Box::new(problem),
            chrome,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    c: &'a Chrome,
    title: &'static str,
    status: u16,
    message: String,
    details: Vec<(String, String)>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let p = self.problem.as_ref();
        let status = status_of(p);
        if status.is_server_error() {
            tracing::error!(kind = p.kind(), error = %p, "page failed");
        }
        let vi = self.chrome.lang.is_vi();
        let title = match p.status() {
            404 => self.chrome.pick("Không tìm thấy", "Not found"),
            400 | 422 => self.chrome.pick("Yêu cầu không hợp lệ", "Invalid request"),
            _ => self.chrome.t.error_title,
        };
        let page = ErrorPage {
            c: &self.chrome,
            title,
            status: p.status(),
            message: if vi { p.message_vi() } else { p.message_en() },
            details: p
                .details()
                .into_iter()
                .map(|d| (d.at, if vi { d.vi } else { d.en }))
                .collect(),
        };
        render_status(status, &page)
    }
}
