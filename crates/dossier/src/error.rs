//! The dossier system's errors and how they read.

use kernel::{Problem, ProblemDetail};

use crate::Status;

#[derive(Debug, thiserror::Error)]
pub enum DossierError {
    #[error("dossier {0} not found")]
    NotFound(String),
    #[error("not allowed")]
    Forbidden,
    /// A slip or result the dossier does not have (yet, or for this caller).
    #[error("{en}")]
    NotIssued { vi: String, en: String },
    #[error("invalid: {0:?}")]
    Invalid(Vec<ProblemDetail>),
    #[error("{action} is not possible while the dossier is {status:?}")]
    WrongState {
        status: Status,
        action: &'static str,
    },
    #[error("the procedure needs identity assurance level {needed}")]
    Assurance { needed: u8 },
    #[error("the dossier changed meanwhile")]
    Conflict,
    /// Its fees must be settled first.
    #[error("the dossier's fees are not paid")]
    FeeDue,
    #[error("too many attempts; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("storage: {0}")]
    Storage(String),
    #[error(transparent)]
    Kernel(#[from] kernel::problem::Error),
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
}

impl From<sqlx::Error> for DossierError {
    fn from(e: sqlx::Error) -> Self {
        DossierError::Kernel(e.into())
    }
}

impl Problem for DossierError {
    fn kind(&self) -> &'static str {
        match self {
            DossierError::NotFound(_) => "dossier_not_found",
            DossierError::Forbidden => "forbidden",
            DossierError::NotIssued { .. } => "not_issued",
            DossierError::Invalid(_) => "invalid_input",
            DossierError::WrongState { .. } => "wrong_state",
            DossierError::Assurance { .. } => "assurance_too_low",
            DossierError::Conflict => "conflict",
            DossierError::FeeDue => "fee_due",
            DossierError::Throttled { .. } => "too_many_attempts",
            DossierError::Storage(_) => "internal_error",
            DossierError::Kernel(e) => e.kind(),
            DossierError::Identity(e) => e.kind(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            DossierError::NotFound(_) | DossierError::NotIssued { .. } => 404,
            DossierError::Forbidden | DossierError::Assurance { .. } => 403,
            DossierError::Invalid(_) => 422,
            DossierError::WrongState { .. } | DossierError::Conflict | DossierError::FeeDue => 409,
            DossierError::Throttled { .. } => 429,
            DossierError::Storage(_) => 500,
            DossierError::Kernel(e) => e.status(),
            DossierError::Identity(e) => e.status(),
        }
    }

    fn message_vi(&self) -> String {
        match self {
            DossierError::NotFound(c) => format!("Không tìm thấy hồ sơ {c}"),
            DossierError::Forbidden => "Bạn không có quyền thực hiện việc này với hồ sơ".into(),
            DossierError::NotIssued { vi, .. } => vi.clone(),
            DossierError::Invalid(l) => format!("Thông tin chưa hợp lệ ({} mục)", l.len()),
            DossierError::WrongState { status, .. } => format!(
                "Không thể thực hiện khi hồ sơ đang ở trạng thái: {}",
                status.label(true)
            ),
            DossierError::Assurance { needed } => format!(
                "Thủ tục này cần tài khoản định danh mức {needed}; vui lòng xác thực tại bộ phận một cửa"
            ),
            DossierError::Conflict => "Hồ sơ vừa được người khác thay đổi; vui lòng tải lại".into(),
            DossierError::FeeDue => {
                "Hồ sơ chưa hoàn thành nghĩa vụ phí, lệ phí: hãy nộp (trực tuyến hoặc tại quầy) trước".into()
            }
            DossierError::Throttled { retry_after_secs } => format!(
                "Tra cứu sai quá nhiều lần; vui lòng thử lại sau {} phút",
                retry_after_secs.div_ceil(60)
            ),
            DossierError::Storage(_) => "Đã có lỗi trong hệ thống; vui lòng thử lại sau".into(),
            DossierError::Kernel(e) => e.message_vi(),
            DossierError::Identity(e) => e.message_vi(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            DossierError::NotFound(c) => format!("No dossier {c}"),
            DossierError::Forbidden => "You may not do this to the dossier".into(),
            DossierError::NotIssued { en, .. } => en.clone(),
            DossierError::Invalid(l) => format!("Some details are not valid ({} items)", l.len()),
            DossierError::WrongState { status, action } => format!(
                "{action} is not possible while the dossier is: {}",
                status.label(false)
            ),
            DossierError::Assurance { needed } => format!(
                "This procedure needs an account at assurance level {needed}; have it verified at a one-stop desk"
            ),
            DossierError::Conflict => "The dossier was changed meanwhile; reload it".into(),
            DossierError::FeeDue => {
                "The dossier's fees are not paid yet: pay them (online or at the desk) first".into()
            }
            DossierError::Throttled { retry_after_secs } => format!(
                "Too many wrong look-ups; please try again in {} minutes",
                retry_after_secs.div_ceil(60)
            ),
            DossierError::Storage(_) => "Internal error; please try again later".into(),
            DossierError::Kernel(e) => e.message_en(),
            DossierError::Identity(e) => e.message_en(),
        }
    }

    fn details(&self) -> Vec<ProblemDetail> {
        match self {
            DossierError::Invalid(l) => l.clone(),
            _ => Vec::new(),
        }
    }
}
