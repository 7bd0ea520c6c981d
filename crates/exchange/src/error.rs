//! The exchange hub's errors and how they read.

use kernel::{Problem, ProblemDetail};

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("not allowed")]
    Forbidden,
    #[error("login needed")]
    NeedLogin,
    #[error("invalid: {0:?}")]
    Invalid(Vec<ProblemDetail>),
    /// A package, a signature or a certificate refused: the status, a stable kind, the reason
    /// in Vietnamese and English, and what exactly is wrong.
    #[error("refused ({kind}): {en}")]
    Refused {
        status: u16,
        kind: &'static str,
        vi: String,
        en: String,
        details: Vec<ProblemDetail>,
    },
    /// Keys, certificates or signatures could not be made.
    #[error("signing failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Kernel(#[from] kernel::problem::Error),
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
}

impl From<sqlx::Error> for ExchangeError {
    fn from(e: sqlx::Error) -> Self {
        ExchangeError::Kernel(e.into())
    }
}

impl From<kernel::pki::PkiError> for ExchangeError {
    fn from(e: kernel::pki::PkiError) -> Self {
        ExchangeError::Signing(e.to_string())
    }
}

/// One invalid field.
pub(crate) fn invalid(field: &str, vi: impl Into<String>, en: impl Into<String>) -> ExchangeError {
    ExchangeError::Invalid(vec![ProblemDetail::new(field, vi.into(), en.into())])
}

/// A refusal with no more detail than its reason.
pub(crate) fn refused(
    status: u16,
    kind: &'static str,
    vi: impl Into<String>,
    en: impl Into<String>,
) -> ExchangeError {
    ExchangeError::Refused {
        status,
        kind,
        vi: vi.into(),
        en: en.into(),
        details: Vec::new(),
    }
}

impl Problem for ExchangeError {
    fn kind(&self) -> &'static str {
        match self {
            ExchangeError::NotFound(_) => "exchange_not_found",
            ExchangeError::Forbidden => "forbidden",
            ExchangeError::NeedLogin => "login_required",
            ExchangeError::Invalid(_) => "invalid_input",
            ExchangeError::Refused { kind, .. } => kind,
            ExchangeError::Signing(_) => "signing_failed",
            ExchangeError::Kernel(e) => e.kind(),
            ExchangeError::Identity(e) => e.kind(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            ExchangeError::NotFound(_) => 404,
            ExchangeError::Forbidden => 403,
            ExchangeError::NeedLogin => 401,
            ExchangeError::Invalid(_) => 422,
            ExchangeError::Refused { status, .. } => *status,
            ExchangeError::Signing(_) => 500,
            ExchangeError::Kernel(e) => e.status(),
            ExchangeError::Identity(e) => e.status(),
        }
    }

    fn message_vi(&self) -> String {
        match self {
            ExchangeError::NotFound(c) => format!("Không tìm thấy {c}"),
            ExchangeError::Forbidden => "Bạn không có quyền với văn bản hoặc cơ quan này".into(),
            ExchangeError::NeedLogin => "Hãy đăng nhập để dùng trục liên thông văn bản".into(),
            ExchangeError::Invalid(l) => format!("Thông tin chưa hợp lệ ({} mục)", l.len()),
            ExchangeError::Refused { vi, .. } => vi.clone(),
            ExchangeError::Signing(_) => "Không tạo được khóa, chứng thư số hoặc chữ ký".into(),
            ExchangeError::Kernel(e) => e.message_vi(),
            ExchangeError::Identity(e) => e.message_vi(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            ExchangeError::NotFound(c) => format!("{c} was not found"),
            ExchangeError::Forbidden => "You may not act on this document or agency".into(),
            ExchangeError::NeedLogin => "Log in to use the document exchange hub".into(),
            ExchangeError::Invalid(l) => format!("Invalid input ({} item(s))", l.len()),
            ExchangeError::Refused { en, .. } => en.clone(),
            ExchangeError::Signing(_) => "A key, certificate or signature could not be made".into(),
            ExchangeError::Kernel(e) => e.message_en(),
            ExchangeError::Identity(e) => e.message_en(),
        }
    }

    fn details(&self) -> Vec<ProblemDetail> {
        match self {
            ExchangeError::Invalid(l) => l.clone(),
            ExchangeError::Refused { details, .. } => details.clone(),
            ExchangeError::Kernel(e) => e.details(),
            ExchangeError::Identity(e) => e.details(),
            _ => Vec::new(),
        }
    }
}

impl From<crate::edxml::EdxmlError> for ExchangeError {
    fn from(e: crate::edxml::EdxmlError) -> Self {
        use crate::edxml::EdxmlError as E;
        let status = match &e {
            E::TooLarge { .. } => 413,
            E::Invalid(_) => 422,
            E::Doctype
            | E::Encoding { .. }
            | E::TooDeep { .. }
            | E::Malformed { .. }
            | E::WrongRoot { .. } => 400,
        };
        ExchangeError::Refused {
            status,
            kind: e.kind(),
            vi: e.message_vi(),
            en: e.message_en(),
            details: e
                .problems()
                .iter()
                .map(|p| ProblemDetail::new(p.field.clone(), p.vi.clone(), p.en.clone()))
                .collect(),
        }
    }
}
