//! Reading a request's JSON body, query string and path, with the same bilingual 422 from
//! every API when one cannot be read, and a 400 for a query string that is not UTF-8 text.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use kernel::{Problem, ProblemDetail};

use crate::ApiError;

/// A part of the request that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("unreadable request: {0:?}")]
pub struct Unreadable(pub ProblemDetail);

impl Problem for Unreadable {
    fn kind(&self) -> &'static str {
        "invalid_input"
    }
    fn status(&self) -> u16 {
        422
    }
    fn message_vi(&self) -> String {
        "Thông tin chưa hợp lệ (1 mục)".into()
    }
    fn message_en(&self) -> String {
        "Invalid input (1 item)".into()
    }
    fn details(&self) -> Vec<ProblemDetail> {
        vec![self.0.clone()]
    }
}

/// The JSON body, or a 422 that says why it cannot be read.
pub fn json<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|e| {
        Unreadable(ProblemDetail::new(
            "body",
            format!("Nội dung JSON không đọc được: {}", e.body_text()),
            format!("The JSON body cannot be read: {}", e.body_text()),
        ))
        .into()
    })
}

/// The query string's parameters, or a 422.
pub fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| {
        Unreadable(ProblemDetail::new(
            "query",
            format!("Tham số không hợp lệ: {}", e.body_text()),
            format!("Invalid parameters: {}", e.body_text()),
        ))
        .into()
    })
}

/// The path's parameters, or a 422.
pub fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v).map_err(|e| {
        Unreadable(ProblemDetail::new(
            "path",
            format!("Đường dẫn không hợp lệ: {e}"),
            format!("Invalid path: {e}"),
        ))
        .into()
    })
}

/// A query string whose parameters, percent-decoded, are not UTF-8 text.
#[derive(Debug, thiserror::Error)]
#[error("query string not UTF-8")]
pub struct QueryNotUtf8;

impl Problem for QueryNotUtf8 {
    fn kind(&self) -> &'static str {
        "bad_parameter"
    }
    fn status(&self) -> u16 {
        400
    }
    fn message_vi(&self) -> String {
        "Tham số trong địa chỉ không đọc được (không phải văn bản UTF-8)".into()
    }
    fn message_en(&self) -> String {
        "A parameter in the address cannot be read (not UTF-8 text)".into()
    }
    fn details(&self) -> Vec<ProblemDetail> {
        vec![ProblemDetail::new(
            "query",
            "Tham số không phải văn bản UTF-8",
            "A parameter is not UTF-8 text",
        )]
    }
}

/// Whether every parameter of a query string is UTF-8 text once percent-decoded.
pub fn query_is_utf8(query: &str) -> bool {
    percent_encoding::percent_decode_str(query)
        .decode_utf8()
        .is_ok()
}

/// Refuses, on every route, a query string that is not UTF-8 text once decoded. The query
/// reader would replace the bad bytes and answer for some other text (a search for `%FF%FE`
/// would list the whole catalogue). Open311 (`/open311/`) is left to refuse it itself, in the
/// standard's error format and in JSON or XML as the client asked.
pub async fn utf8_query(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !req.uri().path().starts_with("/open311/")
        && req.uri().query().is_some_and(|q| !query_is_utf8(q))
    {
        return ApiError::from(QueryNotUtf8).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_string_is_text_only_when_its_bytes_decode_as_utf8() {
        for ok in [
            "",
            "q=dang+ky",
            "q=%C4%91%C4%83ng%20k%C3%BD&page=2",
            "q=đăng ký",
            "q=100%",
            "q=%zz",
        ] {
            assert!(query_is_utf8(ok), "{ok}");
        }
        for bad in ["q=%FF%FE", "q=%C4", "a=1&q=%E1%BB", "q=%C0%AF"] {
            assert!(!query_is_utf8(bad), "{bad}");
        }
    }
}
