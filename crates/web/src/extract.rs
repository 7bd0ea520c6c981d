//! Reading a request's JSON body, query string and path, with the same bilingual 422 from
//! every API when one cannot be read.

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
