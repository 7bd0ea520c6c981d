//! Feedback's errors and how they read.

use kernel::{Problem, ProblemDetail};

#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
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
    #[error(transparent)]
    Kernel(#[from] kernel::problem::Error),
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
}

impl From<sqlx::Error> for FeedbackError {
    fn from(e: sqlx::Error) -> Self {
        FeedbackError::Kernel(e.into())
    }
}

impl From<media::MediaError> for FeedbackError {
    fn from(e: media::MediaError) -> Self {
        FeedbackError::Refused {
            status: e.status(),
            kind: e.kind(),
            vi: e.message_vi(),
            en: e.message_en(),
        }
    }
}

/// One invalid field.
pub(crate) fn invalid(field: &str, vi: impl Into<String>, en: impl Into<String>) -> FeedbackError {
    FeedbackError::Invalid(vec![ProblemDetail::new(field, vi.into(), en.into())])
}

/// A refusal with its reason.
pub(crate) fn refused(
    status: u16,
    kind: &'static str,
    vi: impl Into<String>,
    en: impl Into<String>,
) -> FeedbackError {
    FeedbackError::Refused {
        status,
        kind,
        vi: vi.into(),
        en: en.into(),
    }
}

impl Problem for FeedbackError {
    fn kind(&self) -> &'static str {
        match self {
            FeedbackError::NotFound(_) => "feedback_not_found",
            FeedbackError::Forbidden => "forbidden",
            FeedbackError::NeedLogin => "login_required",
            FeedbackError::Invalid(_) => "invalid_input",
            FeedbackError::Refused { kind, .. } => kind,
            FeedbackError::Kernel(e) => e.kind(),
            FeedbackError::Identity(e) => e.kind(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            FeedbackError::NotFound(_) => 404,
            FeedbackError::Forbidden => 403,
            FeedbackError::NeedLogin => 401,
            FeedbackError::Invalid(_) => 422,
            FeedbackError::Refused { status, .. } => *status,
            FeedbackError::Kernel(e) => e.status(),
            FeedbackError::Identity(e) => e.status(),
        }
    }

    fn message_vi(&self) -> String {
        match self {
            FeedbackError::NotFound(c) => format!("Không tìm thấy {c}"),
            FeedbackError::Forbidden => "Bạn không có quyền với phản ánh này".into(),
            FeedbackError::NeedLogin => "Hãy đăng nhập để tiếp tục".into(),
            FeedbackError::Invalid(l) => {
                let first = l.first().map(|d| d.vi.clone()).unwrap_or_default();
                if l.len() == 1 {
                    format!("Thông tin chưa hợp lệ: {first}")
                } else {
                    format!("Thông tin chưa hợp lệ ({} mục): {first}", l.len())
                }
            }
            FeedbackError::Refused { vi, .. } => vi.clone(),
            FeedbackError::Kernel(e) => e.message_vi(),
            FeedbackError::Identity(e) => e.message_vi(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            FeedbackError::NotFound(c) => format!("{c} was not found"),
            FeedbackError::Forbidden => "You may not act on this report".into(),
            FeedbackError::NeedLogin => "Log in to go on".into(),
            FeedbackError::Invalid(l) => {
                let first = l.first().map(|d| d.en.clone()).unwrap_or_default();
                if l.len() == 1 {
                    format!("Invalid input: {first}")
                } else {
                    format!("Invalid input ({} items): {first}", l.len())
                }
            }
            FeedbackError::Refused { en, .. } => en.clone(),
            FeedbackError::Kernel(e) => e.message_en(),
            FeedbackError::Identity(e) => e.message_en(),
        }
    }

    fn details(&self) -> Vec<ProblemDetail> {
        match self {
            FeedbackError::Invalid(l) => l.clone(),
            FeedbackError::Kernel(e) => e.details(),
            FeedbackError::Identity(e) => e.details(),
            _ => Vec::new(),
        }
    }
}
