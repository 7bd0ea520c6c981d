//! The payment system's errors and how they read.

use kernel::{Problem, ProblemDetail};

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("not allowed")]
    Forbidden,
    #[error("invalid: {0:?}")]
    Invalid(Vec<ProblemDetail>),
    /// Not possible now: already paid, nothing owed, a closed dossier.
    #[error("{en}")]
    Conflict { vi: String, en: String },
    /// The gateway is not configured on this node.
    #[error("gateway {0} is not configured")]
    NoGateway(String),
    #[error(transparent)]
    Dossier(#[from] dossier::DossierError),
    #[error(transparent)]
    Kernel(#[from] kernel::problem::Error),
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
}

impl From<sqlx::Error> for PaymentError {
    fn from(e: sqlx::Error) -> Self {
        PaymentError::Kernel(e.into())
    }
}

pub(crate) fn invalid(field: &str, vi: impl Into<String>, en: impl Into<String>) -> PaymentError {
    PaymentError::Invalid(vec![ProblemDetail::new(field, vi.into(), en.into())])
}

pub(crate) fn conflict(vi: impl Into<String>, en: impl Into<String>) -> PaymentError {
    PaymentError::Conflict {
        vi: vi.into(),
        en: en.into(),
    }
}

impl Problem for PaymentError {
    fn kind(&self) -> &'static str {
        match self {
            PaymentError::NotFound(_) => "payment_not_found",
            PaymentError::Forbidden => "forbidden",
            PaymentError::Invalid(_) => "invalid_input",
            PaymentError::Conflict { .. } => "payment_conflict",
            PaymentError::NoGateway(_) => "gateway_not_configured",
            PaymentError::Dossier(e) => e.kind(),
            PaymentError::Kernel(e) => e.kind(),
            PaymentError::Identity(e) => e.kind(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            PaymentError::NotFound(_) => 404,
            PaymentError::Forbidden => 403,
            PaymentError::Invalid(_) => 422,
            PaymentError::Conflict { .. } => 409,
            PaymentError::NoGateway(_) => 422,
            PaymentError::Dossier(e) => e.status(),
            PaymentError::Kernel(e) => e.status(),
            PaymentError::Identity(e) => e.status(),
        }
    }

    fn message_vi(&self) -> String {
        match self {
            PaymentError::NotFound(c) => format!("Không tìm thấy {c}"),
            PaymentError::Forbidden => "Bạn không có quyền thực hiện việc này".into(),
            PaymentError::Invalid(l) => format!("Thông tin chưa hợp lệ ({} mục)", l.len()),
            PaymentError::Conflict { vi, .. } => vi.clone(),
            PaymentError::NoGateway(g) => {
                format!("Cổng thanh toán {g} chưa được cấu hình trên hệ thống này")
            }
            PaymentError::Dossier(e) => e.message_vi(),
            PaymentError::Kernel(e) => e.message_vi(),
            PaymentError::Identity(e) => e.message_vi(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            PaymentError::NotFound(c) => format!("{c} not found"),
            PaymentError::Forbidden => "You may not do this".into(),
            PaymentError::Invalid(l) => format!("Invalid input ({} item(s))", l.len()),
            PaymentError::Conflict { en, .. } => en.clone(),
            PaymentError::NoGateway(g) => format!("The {g} gateway is not configured on this node"),
            PaymentError::Dossier(e) => e.message_en(),
            PaymentError::Kernel(e) => e.message_en(),
            PaymentError::Identity(e) => e.message_en(),
        }
    }

    fn details(&self) -> Vec<ProblemDetail> {
        match self {
            PaymentError::Invalid(l) => l.clone(),
            PaymentError::Dossier(e) => e.details(),
            PaymentError::Kernel(e) => e.details(),
            PaymentError::Identity(e) => e.details(),
            _ => Vec::new(),
        }
    }
}
