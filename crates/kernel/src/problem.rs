//! The error contract shared by every crate.
//!
//! Each crate has its own error type (thiserror) and implements [`Problem`] for it: a stable,
//! machine-readable kind in snake_case, an HTTP status, and a message in Vietnamese and in
//! English. The web layer turns any `Problem` into an RFC 9457 `application/problem+json` answer
//! in one place, so the kinds stay apart from how they are shown.

use serde::Serialize;

/// One item of a list of problems, e.g. one bad row of an import file or one invalid form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemDetail {
    /// Where the problem is: a line number, a field name, a JSON pointer.
    pub at: String,
    /// Vietnamese explanation.
    pub vi: String,
    /// English explanation.
    pub en: String,
}

impl ProblemDetail {
    pub fn new(at: impl Into<String>, vi: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            at: at.into(),
            vi: vi.into(),
            en: en.into(),
        }
    }
}

/// An error that can be shown to a person or a program.
pub trait Problem: std::error::Error + Send + Sync + 'static {
    /// Stable snake_case kind, e.g. `procedure_not_found`. Never changes once released.
    fn kind(&self) -> &'static str;
    /// HTTP status code that fits the kind.
    fn status(&self) -> u16;
    /// The message in Vietnamese.
    fn message_vi(&self) -> String;
    /// The message in English.
    fn message_en(&self) -> String;
    /// Per-item details, when the problem is a list (bad rows, bad fields).
    fn details(&self) -> Vec<ProblemDetail> {
        Vec::new()
    }
}

/// The kernel's own errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("unsupported database URL `{0}`")]
    UnsupportedDatabase(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid value for {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("audit chain broken at entry {0}")]
    AuditChainBroken(i64),
    #[error("a group of writes was not stored: {0}")]
    Batch(String),
}

impl Problem for Error {
    fn kind(&self) -> &'static str {
        match self {
            Error::Database(_) => "database_error",
            Error::Migrate(_) => "migration_error",
            Error::Io(_) => "io_error",
            Error::UnsupportedDatabase(_) => "unsupported_database",
            Error::Config(_) => "invalid_configuration",
            Error::Invalid { .. } => "invalid_value",
            Error::NotFound(_) => "not_found",
            Error::AuditChainBroken(_) => "audit_chain_broken",
            Error::Batch(_) => "database_error",
        }
    }

    fn status(&self) -> u16 {
        match self {
            Error::Invalid { .. } => 400,
            Error::NotFound(_) => 404,
            Error::Database(sqlx::Error::PoolTimedOut) => 503,
            _ => 500,
        }
    }

    fn message_vi(&self) -> String {
        match self {
            Error::Invalid { field, reason } => {
                format!("Giá trị của {field} không hợp lệ: {reason}")
            }
            Error::NotFound(what) => format!("Không tìm thấy: {what}"),
            Error::UnsupportedDatabase(url) => {
                format!("Địa chỉ cơ sở dữ liệu không được hỗ trợ: {url}")
            }
            Error::Config(why) => format!("Cấu hình không hợp lệ: {why}"),
            Error::Database(sqlx::Error::PoolTimedOut) => {
                "Hệ thống đang quá tải, vui lòng thử lại sau ít phút".to_string()
            }
            _ => "Đã có lỗi trong hệ thống; vui lòng thử lại sau".to_string(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            Error::Invalid { field, reason } => format!("Invalid value for {field}: {reason}"),
            Error::NotFound(what) => format!("Not found: {what}"),
            Error::UnsupportedDatabase(url) => format!("Unsupported database URL: {url}"),
            Error::Config(why) => format!("Invalid configuration: {why}"),
            Error::Database(sqlx::Error::PoolTimedOut) => {
                "The system is overloaded; please try again in a few minutes".to_string()
            }
            _ => "Internal error; please try again later".to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
