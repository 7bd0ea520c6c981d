//! The federation's errors and how they read.

use kernel::{Problem, ProblemDetail};

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid: {0:?}")]
    Invalid(Vec<ProblemDetail>),
    /// A call between nodes that is not signed as it must be, or is a replay.
    #[error("unauthenticated node call: {en}")]
    BadSignature { vi: String, en: String },
    /// A refusal with its reason: the status, a stable kind, Vietnamese and English.
    #[error("refused ({kind}): {en}")]
    Refused {
        status: u16,
        kind: &'static str,
        vi: String,
        en: String,
    },
    /// The other node could not be reached or answered wrongly.
    #[error("the other node: {0}")]
    Remote(String),
    #[error(transparent)]
    Kernel(#[from] kernel::problem::Error),
    #[error(transparent)]
    Dossier(#[from] dossier::DossierError),
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
}

impl From<sqlx::Error> for FederationError {
    fn from(e: sqlx::Error) -> Self {
        FederationError::Kernel(e.into())
    }
}

/// One invalid field.
pub(crate) fn invalid(
    field: &str,
    vi: impl Into<String>,
    en: impl Into<String>,
) -> FederationError {
    FederationError::Invalid(vec![ProblemDetail::new(field, vi.into(), en.into())])
}

/// A refusal with its reason.
pub(crate) fn refused(
    status: u16,
    kind: &'static str,
    vi: impl Into<String>,
    en: impl Into<String>,
) -> FederationError {
    FederationError::Refused {
        status,
        kind,
        vi: vi.into(),
        en: en.into(),
    }
}

/// A call that fails the signature check.
pub(crate) fn bad_signature(vi: impl Into<String>, en: impl Into<String>) -> FederationError {
    FederationError::BadSignature {
        vi: vi.into(),
        en: en.into(),
    }
}

impl Problem for FederationError {
    fn kind(&self) -> &'static str {
        match self {
            FederationError::NotFound(_) => "node_not_found",
            FederationError::Invalid(_) => "invalid_input",
            FederationError::BadSignature { .. } => "node_signature_invalid",
            FederationError::Refused { kind, .. } => kind,
            FederationError::Remote(_) => "node_unreachable",
            FederationError::Kernel(e) => e.kind(),
            FederationError::Dossier(e) => e.kind(),
            FederationError::Identity(e) => e.kind(),
            FederationError::Catalog(e) => e.kind(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            FederationError::NotFound(_) => 404,
            FederationError::Invalid(_) => 422,
            FederationError::BadSignature { .. } => 401,
            FederationError::Refused { status, .. } => *status,
            FederationError::Remote(_) => 502,
            FederationError::Kernel(e) => e.status(),
            FederationError::Dossier(e) => e.status(),
            FederationError::Identity(e) => e.status(),
            FederationError::Catalog(e) => e.status(),
        }
    }

    fn message_vi(&self) -> String {
        match self {
            FederationError::NotFound(n) => format!("Không tìm thấy hệ thống {n}"),
            FederationError::Invalid(l) => {
                let first = l.first().map(|d| d.vi.clone()).unwrap_or_default();
                format!("Thông tin chưa hợp lệ: {first}")
            }
            FederationError::BadSignature { vi, .. } => {
                format!("Lời gọi giữa các hệ thống không được chấp nhận: {vi}")
            }
            FederationError::Refused { vi, .. } => vi.clone(),
            FederationError::Remote(e) => format!("Hệ thống kia không trả lời đúng: {e}"),
            FederationError::Kernel(e) => e.message_vi(),
            FederationError::Dossier(e) => e.message_vi(),
            FederationError::Identity(e) => e.message_vi(),
            FederationError::Catalog(e) => e.message_vi(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            FederationError::NotFound(n) => format!("Node {n} was not found"),
            FederationError::Invalid(l) => {
                let first = l.first().map(|d| d.en.clone()).unwrap_or_default();
                format!("Invalid input: {first}")
            }
            FederationError::BadSignature { en, .. } => {
                format!("The call between nodes is refused: {en}")
            }
            FederationError::Refused { en, .. } => en.clone(),
            FederationError::Remote(e) => format!("The other node did not answer rightly: {e}"),
            FederationError::Kernel(e) => e.message_en(),
            FederationError::Dossier(e) => e.message_en(),
            FederationError::Identity(e) => e.message_en(),
            FederationError::Catalog(e) => e.message_en(),
        }
    }

    fn details(&self) -> Vec<ProblemDetail> {
        match self {
            FederationError::Invalid(l) => l.clone(),
            FederationError::Kernel(e) => e.details(),
            FederationError::Dossier(e) => e.details(),
            FederationError::Identity(e) => e.details(),
            FederationError::Catalog(e) => e.details(),
            _ => Vec::new(),
        }
    }
}
