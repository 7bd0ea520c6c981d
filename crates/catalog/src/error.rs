//! The catalogue's errors and how they read.

use kernel::{Problem, ProblemDetail};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("procedure {code} not found")]
    ProcedureNotFound { code: String, version: Option<i64> },
    #[error("agency {0} not found")]
    AgencyNotFound(String),
    #[error("the file was refused: {} bad records", .0.len())]
    Rejected(Vec<ProblemDetail>),
    #[error("bad query parameter {name}: {en}")]
    BadParameter {
        name: &'static str,
        vi: String,
        en: String,
    },
    #[error(transparent)]
    Kernel(#[from] kernel::problem::Error),
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
}

impl Problem for CatalogError {
    fn kind(&self) -> &'static str {
        match self {
            CatalogError::ProcedureNotFound { .. } => "procedure_not_found",
            CatalogError::AgencyNotFound(_) => "agency_not_found",
            CatalogError::Rejected(_) => "catalog_file_rejected",
            CatalogError::BadParameter { .. } => "bad_parameter",
            CatalogError::Kernel(e) => e.kind(),
            CatalogError::Index(_) => "search_index_error",
        }
    }

    fn status(&self) -> u16 {
        match self {
            CatalogError::ProcedureNotFound { .. } | CatalogError::AgencyNotFound(_) => 404,
            CatalogError::Rejected(_) => 422,
            CatalogError::BadParameter { .. } => 400,
            CatalogError::Kernel(e) => e.status(),
            CatalogError::Index(_) => 500,
        }
    }

    fn message_vi(&self) -> String {
        match self {
            CatalogError::ProcedureNotFound {
                code,
                version: None,
            } => format!("Không có thủ tục hành chính mã {code}"),
            CatalogError::ProcedureNotFound {
                code,
                version: Some(v),
            } => {
                format!("Không có phiên bản {v} của thủ tục hành chính mã {code}")
            }
            CatalogError::AgencyNotFound(c) => format!("Không có cơ quan mã {c}"),
            CatalogError::Rejected(list) => {
                format!(
                    "Tệp bị từ chối: {} bản ghi không hợp lệ; danh mục không thay đổi",
                    list.len()
                )
            }
            CatalogError::BadParameter { name, vi, .. } => {
                format!("Tham số {name} không hợp lệ: {vi}")
            }
            CatalogError::Kernel(e) => e.message_vi(),
            CatalogError::Index(_) => "Chỉ mục tìm kiếm gặp lỗi; vui lòng thử lại sau".into(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            CatalogError::ProcedureNotFound {
                code,
                version: None,
            } => format!("No administrative procedure has the code {code}"),
            CatalogError::ProcedureNotFound {
                code,
                version: Some(v),
            } => {
                format!("Procedure {code} has no version {v}")
            }
            CatalogError::AgencyNotFound(c) => format!("No agency has the code {c}"),
            CatalogError::Rejected(list) => {
                format!(
                    "The file was refused: {} invalid records; the catalogue is unchanged",
                    list.len()
                )
            }
            CatalogError::BadParameter { name, en, .. } => {
                format!("Invalid parameter {name}: {en}")
            }
            CatalogError::Kernel(e) => e.message_en(),
            CatalogError::Index(_) => "The search index failed; please try again later".into(),
        }
    }

    fn details(&self) -> Vec<ProblemDetail> {
        match self {
            CatalogError::Rejected(list) => list.clone(),
            _ => Vec::new(),
        }
    }
}
