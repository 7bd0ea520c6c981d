//! e-Cabinet's errors and how they read.

use kernel::{Problem, ProblemDetail};

#[derive(Debug, thiserror::Error)]
pub enum CabinetError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("not allowed")]
    Forbidden,
    #[error("login needed")]
    NeedLogin,
    #[error("invalid: {0:?}")]
    Invalid(Vec<ProblemDetail>),
    /// A request refused for a stated reason: the status, a stable kind, the reason in
    /// Vietnamese and English.
    #[error("refused ({kind}): {en}")]
    Refused {
        status: u16,
        kind: &'static str,
        vi: String,
        en: String,
    },
    /// Making or reading a key, certificate or signature of the node's own failed.
    #[error("signing: {0}")]
    Signing(String),
    #[error(transparent)]
    Kernel(#[from] kernel::problem::Error),
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
}

impl From<sqlx::Error> for CabinetError {
    fn from(e: sqlx::Error) -> Self {
        CabinetError::Kernel(e.into())
    }
}

impl From<kernel::pki::PkiError> for CabinetError {
    fn from(e: kernel::pki::PkiError) -> Self {
        CabinetError::Signing(e.to_string())
    }
}

impl From<exchange::ExchangeError> for CabinetError {
    fn from(e: exchange::ExchangeError) -> Self {
        use kernel::Problem;
        CabinetError::Refused {
            status: e.status(),
            kind: e.kind(),
            vi: e.message_vi(),
            en: e.message_en(),
        }
    }
}

impl From<crate::watermark::WatermarkError> for CabinetError {
    fn from(e: crate::watermark::WatermarkError) -> Self {
        CabinetError::Refused {
            status: 422,
            kind: "document_unreadable",
            vi: e.message_vi(),
            en: e.message_en(),
        }
    }
}

/// One invalid field.
pub(crate) fn invalid(field: &str, vi: impl Into<String>, en: impl Into<String>) -> CabinetError {
    CabinetError::Invalid(vec![ProblemDetail::new(field, vi.into(), en.into())])
}

/// A refusal with its reason.
pub(crate) fn refused(
    status: u16,
    kind: &'static str,
    vi: impl Into<String>,
    en: impl Into<String>,
) -> CabinetError {
    CabinetError::Refused {
        status,
        kind,
        vi: vi.into(),
        en: en.into(),
    }
}

impl Problem for CabinetError {
    fn kind(&self) -> &'static str {
        match self {
            CabinetError::NotFound(_) => "cabinet_not_found",
            CabinetError::Forbidden => "forbidden",
            CabinetError::NeedLogin => "login_required",
            CabinetError::Invalid(_) => "invalid_input",
            CabinetError::Refused { kind, .. } => kind,
            CabinetError::Signing(_) => "signing_failed",
            CabinetError::Kernel(e) => e.kind(),
            CabinetError::Identity(e) => e.kind(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            CabinetError::NotFound(_) => 404,
            CabinetError::Forbidden => 403,
            CabinetError::NeedLogin => 401,
            CabinetError::Invalid(_) => 422,
            CabinetError::Refused { status, .. } => *status,
            CabinetError::Signing(_) => 500,
            CabinetError::Kernel(e) => e.status(),
            CabinetError::Identity(e) => e.status(),
        }
    }

    fn message_vi(&self) -> String {
        match self {
            CabinetError::NotFound(c) => format!("Không tìm thấy {c}"),
            CabinetError::Forbidden => {
                "Bạn không có quyền với phiên họp hoặc phiếu lấy ý kiến này".into()
            }
            CabinetError::NeedLogin => "Hãy đăng nhập để tiếp tục".into(),
            CabinetError::Invalid(l) => {
                let first = l.first().map(|d| d.vi.clone()).unwrap_or_default();
                if l.len() == 1 {
                    format!("Thông tin chưa hợp lệ: {first}")
                } else {
                    format!("Thông tin chưa hợp lệ ({} mục): {first}", l.len())
                }
            }
            CabinetError::Refused { vi, .. } => vi.clone(),
            CabinetError::Signing(_) => "Không ký số được; hãy báo quản trị hệ thống".into(),
            CabinetError::Kernel(e) => e.message_vi(),
            CabinetError::Identity(e) => e.message_vi(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            CabinetError::NotFound(c) => format!("{c} was not found"),
            CabinetError::Forbidden => "You may not act on this meeting or ballot".into(),
            CabinetError::NeedLogin => "Log in to go on".into(),
            CabinetError::Invalid(l) => {
                let first = l.first().map(|d| d.en.clone()).unwrap_or_default();
                if l.len() == 1 {
                    format!("Invalid input: {first}")
                } else {
                    format!("Invalid input ({} items): {first}", l.len())
                }
            }
            CabinetError::Refused { en, .. } => en.clone(),
            CabinetError::Signing(_) => "Signing failed; tell the system administrator".into(),
            CabinetError::Kernel(e) => e.message_en(),
            CabinetError::Identity(e) => e.message_en(),
        }
    }

    fn details(&self) -> Vec<ProblemDetail> {
        match self {
            CabinetError::Invalid(l) => l.clone(),
            CabinetError::Kernel(e) => e.details(),
            CabinetError::Identity(e) => e.details(),
            _ => Vec::new(),
        }
    }
}
