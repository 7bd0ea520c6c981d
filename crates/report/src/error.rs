//! The reporting system's errors and how they read.

use kernel::{Problem, ProblemDetail};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("not allowed")]
    Forbidden,
    #[error("login needed")]
    NeedLogin,
    #[error("invalid: {0:?}")]
    Invalid(Vec<ProblemDetail>),
    /// The record moved on meanwhile (Vietnamese, English).
    #[error("conflict: {1}")]
    Conflict(String, String),
    /// A file could not be made.
    #[error("export failed: {0}")]
    Export(String),
    #[error(transparent)]
    Kernel(#[from] kernel::problem::Error),
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
}

impl From<sqlx::Error> for ReportError {
    fn from(e: sqlx::Error) -> Self {
        ReportError::Kernel(e.into())
    }
}

pub(crate) fn invalid(field: &str, vi: impl Into<String>, en: impl Into<String>) -> ReportError {
    ReportError::Invalid(vec![ProblemDetail::new(field, vi.into(), en.into())])
}

impl Problem for ReportError {
    fn kind(&self) -> &'static str {
        match self {
            ReportError::NotFound(_) => "report_not_found",
            ReportError::Forbidden => "forbidden",
            ReportError::NeedLogin => "login_required",
            ReportError::Invalid(_) => "invalid_input",
            ReportError::Export(_) => "export_failed",
            ReportError::Conflict(..) => "conflict",
            ReportError::Kernel(e) => e.kind(),
            ReportError::Identity(e) => e.kind(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            ReportError::NotFound(_) => 404,
            ReportError::Forbidden => 403,
            ReportError::NeedLogin => 401,
            ReportError::Invalid(_) => 422,
            ReportError::Export(_) => 500,
            ReportError::Conflict(..) => 409,
            ReportError::Kernel(e) => e.status(),
            ReportError::Identity(e) => e.status(),
        }
    }

    fn message_vi(&self) -> String {
        match self {
            ReportError::NotFound(c) => format!("Không tìm thấy {c}"),
            ReportError::Forbidden => "Bạn không có quyền với số liệu này".into(),
            ReportError::NeedLogin => "Hãy đăng nhập để xem số liệu này".into(),
            ReportError::Invalid(l) => format!("Thông tin chưa hợp lệ ({} mục)", l.len()),
            ReportError::Export(_) => "Không tạo được tệp báo cáo".into(),
            ReportError::Conflict(vi, _) => vi.clone(),
            ReportError::Kernel(e) => e.message_vi(),
            ReportError::Identity(e) => e.message_vi(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            ReportError::NotFound(c) => format!("{c} was not found"),
            ReportError::Forbidden => "You may not see or change these figures".into(),
            ReportError::NeedLogin => "Log in to see these figures".into(),
            ReportError::Invalid(l) => format!("Invalid input ({} item(s))", l.len()),
            ReportError::Export(_) => "The report file could not be made".into(),
            ReportError::Conflict(_, en) => en.clone(),
            ReportError::Kernel(e) => e.message_en(),
            ReportError::Identity(e) => e.message_en(),
        }
    }

    fn details(&self) -> Vec<ProblemDetail> {
        match self {
            ReportError::Invalid(l) => l.clone(),
            ReportError::Kernel(e) => e.details(),
            ReportError::Identity(e) => e.details(),
            _ => Vec::new(),
        }
    }
}
