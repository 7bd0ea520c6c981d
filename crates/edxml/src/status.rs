//! Status packages: a recipient's answer about a document it was sent.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::model::{Organization, Package, ResponseFor, StaffInfo, sample_moment};

/// The status codes of the hub. Written with two digits (`01`); `1` is read as `01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCode {
    /// 01: the document arrived (đã đến).
    Arrived,
    /// 02: the recipient refused it (từ chối tiếp nhận).
    Refused,
    /// 03: the recipient accepted it into its register (đã tiếp nhận).
    Accepted,
    /// 04: it was assigned for handling (đã phân công xử lý).
    Assigned,
    /// 05: it is being handled (đang xử lý).
    InProgress,
    /// 06: handling is complete (đã xử lý xong, hoàn thành).
    Completed,
    /// 13: the sender recalls the document (thu hồi / yêu cầu lấy lại văn bản).
    RecallRequested,
    /// 15: the recipient agrees to a recall or update (đồng ý thu hồi / cập nhật).
    RecallAccepted,
    /// 16: the recipient refuses a recall or update (từ chối thu hồi / cập nhật).
    RecallRefused,
}

impl StatusCode {
    /// Every status code, in the order of their numbers.
    pub const ALL: [StatusCode; 9] = [
        StatusCode::Arrived,
        StatusCode::Refused,
        StatusCode::Accepted,
        StatusCode::Assigned,
        StatusCode::InProgress,
        StatusCode::Completed,
        StatusCode::RecallRequested,
        StatusCode::RecallAccepted,
        StatusCode::RecallRefused,
    ];

    /// The code as written in `StatusCode`: `01` … `06`, `13`, `15`, `16`.
    pub fn code(self) -> &'static str {
        match self {
            StatusCode::Arrived => "01",
            StatusCode::Refused => "02",
            StatusCode::Accepted => "03",
            StatusCode::Assigned => "04",
            StatusCode::InProgress => "05",
            StatusCode::Completed => "06",
            StatusCode::RecallRequested => "13",
            StatusCode::RecallAccepted => "15",
            StatusCode::RecallRefused => "16",
        }
    }

    /// The code as a number.
    pub fn number(self) -> u8 {
        match self {
            StatusCode::Arrived => 1,
            StatusCode::Refused => 2,
            StatusCode::Accepted => 3,
            StatusCode::Assigned => 4,
            StatusCode::InProgress => 5,
            StatusCode::Completed => 6,
            StatusCode::RecallRequested => 13,
            StatusCode::RecallAccepted => 15,
            StatusCode::RecallRefused => 16,
        }
    }

    /// Reads `01` or `1` (surrounding spaces allowed); `None` for anything else.
    pub fn parse(text: &str) -> Option<StatusCode> {
        let t = text.trim();
        if t.is_empty() || t.len() > 3 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u8 = t.parse().ok()?;
        StatusCode::ALL.into_iter().find(|c| c.number() == n)
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            StatusCode::Arrived => "Đã đến",
            StatusCode::Refused => "Từ chối tiếp nhận",
            StatusCode::Accepted => "Đã tiếp nhận",
            StatusCode::Assigned => "Đã phân công xử lý",
            StatusCode::InProgress => "Đang xử lý",
            StatusCode::Completed => "Hoàn thành",
            StatusCode::RecallRequested => "Yêu cầu thu hồi văn bản",
            StatusCode::RecallAccepted => "Đồng ý thu hồi / cập nhật",
            StatusCode::RecallRefused => "Từ chối thu hồi / cập nhật",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            StatusCode::Arrived => "Arrived",
            StatusCode::Refused => "Refused",
            StatusCode::Accepted => "Accepted",
            StatusCode::Assigned => "Assigned for handling",
            StatusCode::InProgress => "In progress",
            StatusCode::Completed => "Completed",
            StatusCode::RecallRequested => "Recall requested",
            StatusCode::RecallAccepted => "Recall or update accepted",
            StatusCode::RecallRefused => "Recall or update refused",
        }
    }

    /// Whether the code answers a recall or an update rather than telling how handling goes.
    pub fn is_recall(self) -> bool {
        matches!(
            self,
            StatusCode::RecallRequested | StatusCode::RecallAccepted | StatusCode::RecallRefused
        )
    }
}

impl std::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A status package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusPackage {
    /// The document answered.
    pub response_for: ResponseFor,
    /// The agency answering.
    pub from: Organization,
    pub status_code: StatusCode,
    /// A note, e.g. the reason of a refusal.
    #[serde(default)]
    pub description: String,
    /// When the status was given.
    pub timestamp: DateTime<FixedOffset>,
    /// Who gave it.
    #[serde(default)]
    pub staff_info: StaffInfo,
}

pub(super) fn sample_status(from: &str, answering: &Package, code: StatusCode) -> StatusPackage {
    let from_org = answering
        .header
        .to
        .iter()
        .find(|o| o.organ_id == from)
        .cloned()
        .unwrap_or_else(|| Organization {
            organ_id: from.to_string(),
            organ_name: format!("Cơ quan {from}"),
            ..Organization::default()
        });
    let description = match code {
        StatusCode::Refused => "Văn bản gửi nhầm đơn vị, đề nghị kiểm tra lại nơi nhận.",
        StatusCode::RecallRefused => "Văn bản đã được xử lý xong, không thể thu hồi.",
        _ => "",
    };
    StatusPackage {
        response_for: answering.response_for(),
        from: from_org,
        status_code: code,
        description: description.to_string(),
        timestamp: sample_moment(1, 8, 30),
        staff_info: StaffInfo {
            department: "Văn thư".to_string(),
            staff: "Lê Thị Cúc".to_string(),
            mobile: "0987 654 321".to_string(),
            email: String::new(),
        },
    }
}
