//! The identity system's errors and how they read.

use kernel::{Problem, ProblemDetail};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("wrong login or password")]
    BadCredentials,
    #[error("wrong or used two-factor code")]
    BadCode,
    #[error("too many attempts; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("login required")]
    NeedLogin,
    #[error("not allowed")]
    Forbidden,
    #[error("the form is out of date (CSRF check failed)")]
    Csrf,
    #[error("invalid: {0:?}")]
    Invalid(Vec<ProblemDetail>),
    #[error("login {0} is taken")]
    Taken(String),
    #[error("account {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Kernel(#[from] kernel::problem::Error),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl From<sqlx::Error> for IdentityError {
    fn from(e: sqlx::Error) -> Self {
        IdentityError::Kernel(e.into())
    }
}

impl Problem for IdentityError {
    fn kind(&self) -> &'static str {
        match self {
            IdentityError::BadCredentials => "bad_credentials",
            IdentityError::BadCode => "bad_code",
            IdentityError::Throttled { .. } => "too_many_attempts",
            IdentityError::NeedLogin => "login_required",
            IdentityError::Forbidden => "forbidden",
            IdentityError::Csrf => "csrf_failed",
            IdentityError::Invalid(_) => "invalid_input",
            IdentityError::Taken(_) => "login_taken",
            IdentityError::NotFound(_) => "account_not_found",
            IdentityError::Kernel(e) => e.kind(),
            IdentityError::Hash(_) => "internal_error",
        }
    }

    fn status(&self) -> u16 {
        match self {
            IdentityError::BadCredentials | IdentityError::NeedLogin | IdentityError::BadCode => {
                401
            }
            IdentityError::Throttled { .. } => 429,
            IdentityError::Forbidden | IdentityError::Csrf => 403,
            IdentityError::Invalid(_) => 422,
            IdentityError::Taken(_) => 409,
            IdentityError::NotFound(_) => 404,
            IdentityError::Kernel(e) => e.status(),
            IdentityError::Hash(_) => 500,
        }
    }

    fn message_vi(&self) -> String {
        match self {
            IdentityError::BadCredentials => "Tên đăng nhập hoặc mật khẩu không đúng".into(),
            IdentityError::BadCode => "Mã xác thực không đúng hoặc đã được dùng".into(),
            IdentityError::Throttled { retry_after_secs } => {
                format!(
                    "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau {} phút",
                    retry_after_secs.div_ceil(60)
                )
            }
            IdentityError::NeedLogin => "Vui lòng đăng nhập".into(),
            IdentityError::Forbidden => "Bạn không có quyền thực hiện việc này".into(),
            IdentityError::Csrf => "Biểu mẫu đã hết hạn; vui lòng tải lại trang và gửi lại".into(),
            IdentityError::Invalid(list) => format!("Thông tin chưa hợp lệ ({} mục)", list.len()),
            IdentityError::Taken(l) => format!("Tên đăng nhập {l} đã được sử dụng"),
            IdentityError::NotFound(l) => format!("Không có tài khoản {l}"),
            IdentityError::Kernel(e) => e.message_vi(),
            IdentityError::Hash(_) => "Đã có lỗi trong hệ thống; vui lòng thử lại sau".into(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            IdentityError::BadCredentials => "Wrong login or password".into(),
            IdentityError::BadCode => "The code is wrong or has been used already".into(),
            IdentityError::Throttled { retry_after_secs } => {
                format!(
                    "Too many failed logins; please try again in {} minutes",
                    retry_after_secs.div_ceil(60)
                )
            }
            IdentityError::NeedLogin => "Please log in".into(),
            IdentityError::Forbidden => "You are not allowed to do this".into(),
            IdentityError::Csrf => "The form has expired; reload the page and send it again".into(),
            IdentityError::Invalid(list) => {
                format!("Some details are not valid ({} items)", list.len())
            }
            IdentityError::Taken(l) => format!("The login {l} is already in use"),
            IdentityError::NotFound(l) => format!("No account {l}"),
            IdentityError::Kernel(e) => e.message_en(),
            IdentityError::Hash(_) => "Internal error; please try again later".into(),
        }
    }

    fn details(&self) -> Vec<ProblemDetail> {
        match self {
            IdentityError::Invalid(list) => list.clone(),
            _ => Vec::new(),
        }
    }
}
