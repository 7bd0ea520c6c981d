//! What a clerk does from the pages, on top of the hub: compose an outgoing document and
//! sign it with the agency's key the node keeps, answer an incoming one with a signed status,
//! and read a document's content and attachments. Each goes through the same checks as a
//! package from an agency's own system.

use std::collections::HashMap;

use axum::body::Bytes;
use chrono::{NaiveDate, TimeZone};

use identity::Principal;
use kernel::pki;

use crate::edxml::{
    self, Attachment, Business, Code, DocumentType, MessageHeader, Organization, OtherInfo,
    Package, PromulgationInfo, ResponseFor, SignerInfo, StaffInfo, StatusCode, StatusPackage,
    TraceHeader,
};
use crate::error::invalid;
use crate::hub::Document;
use crate::{Exchange, ExchangeError, Result};

/// The kinds of document a clerk picks from (Decree 30/2020/NĐ-CP names 29; these are the
/// ones sent between agencies most).
pub const DOCUMENT_TYPES: &[&str] = &[
    "Công văn",
    "Quyết định",
    "Thông báo",
    "Kế hoạch",
    "Báo cáo",
    "Tờ trình",
    "Giấy mời",
    "Công điện",
    "Chỉ thị",
    "Hướng dẫn",
];

/// An outgoing document as a clerk fills it in.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub agency: String,
    pub to: Vec<String>,
    pub code_number: String,
    pub code_notation: String,
    pub document_type: String,
    pub subject: String,
    pub content: String,
    pub signer_competence: String,
    pub signer_position: String,
    pub signer_name: String,
    pub place: String,
    /// `YYYY-MM-DD` (or `DD/MM/YYYY`).
    pub promulgation_date: String,
    pub due_date: String,
    /// 0 ordinary, 1 urgent (khẩn), 2 very urgent (thượng khẩn), 3 express (hỏa tốc).
    pub priority: String,
    pub attachment_name: String,
    pub attachment: Option<(String, Vec<u8>)>,
}

impl Draft {
    /// A draft from a compose form's fields, recipients and file.
    pub fn from_form(
        agency: &str,
        f: &HashMap<String, String>,
        to: Vec<String>,
        file: Option<(String, String, Bytes)>,
    ) -> Draft {
        let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
        let (attachment_name, attachment) = match file {
            Some((name, _, bytes)) => (name.clone(), Some((name, bytes.to_vec()))),
            None => (String::new(), None),
        };
        Draft {
            agency: agency.to_string(),
            to: to
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            code_number: get("code_number"),
            code_notation: get("code_notation"),
            document_type: get("document_type"),
            subject: get("subject"),
            content: get("content"),
            signer_competence: get("signer_competence"),
            signer_position: get("signer_position"),
            signer_name: get("signer_name"),
            place: get("place"),
            promulgation_date: get("promulgation_date"),
            due_date: get("due_date"),
            priority: get("priority"),
            attachment_name,
            attachment,
        }
    }
}

/// A clerk's answer to a document received.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The recipient agency answering.
    pub agency: String,
    /// The status code (`01`…`06`).
    pub code: String,
    pub description: String,
    pub staff: String,
    pub department: String,
}

/// What a document page shows from the package itself.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub content: String,
    /// Index, name and media type of each attachment.
    pub attachments: Vec<(usize, String, String)>,
}

/// The statuses a recipient may answer next, from where a delivery stands: a recall, update
/// or replacement (`recall`) is agreed to or refused, once.
pub fn next_statuses(current: &str, recall: bool, answered: bool) -> Vec<&'static str> {
    if recall {
        return if answered {
            Vec::new()
        } else {
            vec!["15", "16"]
        };
    }
    match current {
        "sent" => vec!["01", "02", "03"],
        "01" => vec!["02", "03"],
        "03" => vec!["04", "05", "06"],
        "04" => vec!["05", "06"],
        "05" => vec!["06"],
        _ => Vec::new(),
    }
}

fn date_of(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .ok()
}

fn local_now(x: &Exchange) -> chrono::DateTime<chrono::FixedOffset> {
    let offset = kernel::clock::vietnam_offset();
    offset.from_utc_datetime(&x.now().naive_utc())
}

impl Exchange {
    /// An agency's name: as on the hub, else as the node knows it, else its code.
    pub async fn agency_name(&self, code: &str) -> String {
        if let Ok(a) = self.agency(code).await {
            return a.name;
        }
        self.identity
            .agency_name(code)
            .unwrap_or_else(|| code.to_string())
    }

    /// A draft to start from: today's date, the caller as signer's name left to fill.
    pub async fn blank_draft(&self, _p: &Principal, agency: &str) -> Draft {
        Draft {
            agency: agency.to_string(),
            document_type: "Công văn".into(),
            promulgation_date: kernel::clock::to_local(self.now()).date().to_string(),
            priority: "0".into(),
            ..Draft::default()
        }
    }

    fn package_of(&self, d: &Draft, names: &HashMap<String, String>) -> Result<Package> {
        let mut problems = Vec::new();
        let mut bad = |field: &str, vi: &str, en: &str| {
            problems.push(kernel::ProblemDetail::new(field, vi, en));
        };
        if d.to.is_empty() {
            bad(
                "to",
                "Hãy chọn ít nhất một nơi nhận",
                "Choose at least one recipient",
            );
        }
        if d.code_number.is_empty() || d.code_number.chars().count() > 20 {
            bad(
                "code_number",
                "Số văn bản không được để trống (tối đa 20 ký tự)",
                "The document number is needed (at most 20 characters)",
            );
        }
        if d.code_notation.chars().count() > 50 {
            bad(
                "code_notation",
                "Ký hiệu văn bản dài tối đa 50 ký tự",
                "The notation is at most 50 characters",
            );
        }
        if d.subject.is_empty() || d.subject.chars().count() > 500 {
            bad(
                "subject",
                "Trích yếu không được để trống (tối đa 500 ký tự)",
                "The subject is needed (at most 500 characters)",
            );
        }
        if d.content.chars().count() > 10_000 {
            bad(
                "content",
                "Nội dung tóm tắt dài tối đa 10.000 ký tự",
                "The summary is at most 10,000 characters",
            );
        }
        if d.signer_name.is_empty() || d.signer_name.chars().count() > 100 {
            bad(
                "signer_name",
                "Hãy ghi họ tên người ký (tối đa 100 ký tự)",
                "Give the signer's name (at most 100 characters)",
            );
        }
        if !DOCUMENT_TYPES.contains(&d.document_type.as_str()) {
            bad(
                "document_type",
                "Hãy chọn loại văn bản",
                "Choose the kind of document",
            );
        }
        let date = date_of(&d.promulgation_date);
        if date.is_none() {
            bad(
                "promulgation_date",
                "Ngày ban hành không hợp lệ",
                "The date of issue is not a date",
            );
        }
        let due = if d.due_date.is_empty() {
            None
        } else {
            date_of(&d.due_date)
        };
        if !d.due_date.is_empty() && (due.is_none() || due < date) {
            bad(
                "due_date",
                "Hạn xử lý không hợp lệ hoặc trước ngày ban hành",
                "The due date is not a date, or is before the date of issue",
            );
        }
        let priority = d.priority.parse::<u8>().ok().filter(|p| *p <= 3);
        if priority.is_none() {
            bad(
                "priority",
                "Độ khẩn là Thường, Khẩn, Thượng khẩn hoặc Hỏa tốc",
                "Priority is ordinary, urgent, very urgent or express",
            );
        }
        let attachment = match &d.attachment {
            None => {
                bad(
                    "file",
                    "Hãy đính kèm bản văn bản đã ký (PDF)",
                    "Attach the signed document (PDF)",
                );
                None
            }
            Some((name, bytes)) => {
                if !bytes.starts_with(b"%PDF-") {
                    bad(
                        "file",
                        "Tệp đính kèm phải là PDF (kiểm tra theo nội dung tệp)",
                        "The attachment must be a PDF (checked from its bytes)",
                    );
                    None
                } else if bytes.len() > crate::MAX_PACKAGE_BYTES * 3 / 4 - 64 * 1024 {
                    bad(
                        "file",
                        "Tệp đính kèm quá lớn",
                        "The attachment is too large",
                    );
                    None
                } else {
                    let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
                    Some(Attachment {
                        content_id: "1".into(),
                        name: if name.is_empty() {
                            "van-ban.pdf".into()
                        } else {
                            name
                        },
                        content_type: "application/pdf".into(),
                        description: d.subject.chars().take(200).collect(),
                        data: bytes.clone(),
                    })
                }
            }
        };
        if !problems.is_empty() {
            return Err(ExchangeError::Invalid(problems));
        }
        let (Some(date), Some(priority), Some(attachment)) = (date, priority, attachment) else {
            return Err(invalid(
                "form",
                "Biểu mẫu chưa hợp lệ",
                "The form is not valid",
            ));
        };
        let org = |id: &str| Organization {
            organ_id: id.to_string(),
            organ_name: names.get(id).cloned().unwrap_or_else(|| id.to_string()),
            ..Organization::default()
        };
        Ok(Package {
            header: MessageHeader {
                from: org(&d.agency),
                to: d.to.iter().map(|t| org(t)).collect(),
                code: Code {
                    code_number: d.code_number.clone(),
                    code_notation: d.code_notation.clone(),
                },
                promulgation_info: PromulgationInfo {
                    place: d.place.clone(),
                    promulgation_date: date,
                },
                document_type: DocumentType {
                    type_code: 1,
                    type_detail: 0,
                    type_name: d.document_type.clone(),
                },
                subject: d.subject.clone(),
                content: d.content.clone(),
                signer_info: SignerInfo {
                    competence: d.signer_competence.clone(),
                    position: d.signer_position.clone(),
                    full_name: d.signer_name.clone(),
                },
                due_date: due,
                to_places: Vec::new(),
                other_info: OtherInfo {
                    priority,
                    page_amount: 1,
                    ..OtherInfo::default()
                },
                response_for: Vec::new(),
                steering_type: 0,
                document_id: None,
            },
            trace: vec![TraceHeader {
                organ_id: d.agency.clone(),
                timestamp: local_now(self),
            }],
            business: Business::default(),
            attachments: vec![attachment],
        })
    }

    /// Builds the package of a draft, signs it with the agency's key and sends it.
    pub async fn compose(&self, p: &Principal, d: &Draft) -> Result<Document> {
        self.allow_act(p, &d.agency).await?;
        let mut names = HashMap::new();
        for id in d.to.iter().chain(std::iter::once(&d.agency)) {
            names.insert(id.clone(), self.agency_name(id).await);
        }
        let package = self.package_of(d, &names)?;
        let key = self.signing_key(&d.agency).await?;
        let bytes = edxml::write(&package, &self.profile)?;
        let sig = pki::sign_detached(&key, &bytes, self.now())?;
        self.accept(p, &bytes, &sig).await
    }

    /// Answers a document received with a status, signed with the recipient's key.
    pub async fn answer_as(&self, p: &Principal, id: &str, a: &Answer) -> Result<Document> {
        let d = self.document(id).await?;
        self.allow_act(p, &a.agency).await?;
        if !d.deliveries.iter().any(|x| x.recipient == a.agency) {
            return Err(invalid(
                "agency",
                "Văn bản này không gửi tới cơ quan đã chọn",
                "This document was not sent to the agency chosen",
            ));
        }
        // A recall, update or replacement is answered by agreeing or refusing; a new document
        // goes through its handling.
        let answers_recall = d.business != "new";
        let Some(code) = StatusCode::parse(&a.code).filter(|c| {
            if answers_recall {
                matches!(c, StatusCode::RecallAccepted | StatusCode::RecallRefused)
            } else {
                !c.is_recall()
            }
        }) else {
            return Err(invalid(
                "code",
                "Trạng thái không hợp lệ",
                "Not a valid status",
            ));
        };
        if code == StatusCode::Refused && a.description.trim().is_empty() {
            return Err(invalid(
                "description",
                "Từ chối tiếp nhận phải nêu lý do",
                "A refusal must give its reason",
            ));
        }
        if a.description.chars().count() > 2000 {
            return Err(invalid(
                "description",
                "Ghi chú dài tối đa 2.000 ký tự",
                "The note is at most 2,000 characters",
            ));
        }
        let date = NaiveDate::parse_from_str(&d.promulgation_date, "%Y-%m-%d").ok();
        let status = StatusPackage {
            response_for: ResponseFor {
                organ_id: d.sender.clone(),
                code: if d.code_notation.is_empty() {
                    d.code_number.clone()
                } else {
                    format!("{}/{}", d.code_number, d.code_notation)
                },
                promulgation_date: date,
                document_id: d.document_id.clone(),
            },
            from: Organization {
                organ_id: a.agency.clone(),
                organ_name: self.agency_name(&a.agency).await,
                ..Organization::default()
            },
            status_code: code,
            description: a.description.trim().to_string(),
            timestamp: local_now(self),
            staff_info: StaffInfo {
                department: a.department.chars().take(200).collect(),
                staff: if a.staff.trim().is_empty() {
                    p.full_name.clone()
                } else {
                    a.staff.chars().take(100).collect()
                },
                mobile: String::new(),
                email: String::new(),
            },
        };
        let key = self.signing_key(&a.agency).await?;
        let bytes = edxml::write_status(&status, &self.profile)?;
        let sig = pki::sign_detached(&key, &bytes, self.now())?;
        self.answer(p, &bytes, &sig).await
    }

    /// Recalls (thu hồi) a document the agency sent: a package of business type `revoke`
    /// naming it, with the reason, signed with the agency's key and sent to the same
    /// recipients, who agree or refuse.
    pub async fn recall(&self, p: &Principal, id: &str, reason: &str) -> Result<Document> {
        let d = self.document(id).await?;
        self.allow_act(p, &d.sender).await?;
        if d.business != "new" {
            return Err(invalid(
                "document",
                "Chỉ thu hồi được văn bản gốc",
                "Only an original document can be recalled",
            ));
        }
        if d.followed_by.iter().any(|(_, b)| b == "revoke") {
            return Err(crate::error::refused(
                409,
                "already_recalled",
                "Văn bản đã được thu hồi",
                "The document was already recalled",
            ));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(invalid(
                "reason",
                "Hãy nêu lý do thu hồi (tối đa 1.000 ký tự)",
                "Give the reason for the recall (at most 1,000 characters)",
            ));
        }
        let (bytes, _) = self.package(p, id).await?;
        let mut package = edxml::parse(&bytes, &self.profile, &self.limits)?;
        package.business = Business {
            business_doc_type: edxml::BusinessType::Revoke,
            business_doc_reason: reason.to_string(),
            document_id: Some(d.document_id.clone()),
            ..Business::default()
        };
        package.trace.push(TraceHeader {
            organ_id: d.sender.clone(),
            timestamp: local_now(self),
        });
        let key = self.signing_key(&d.sender).await?;
        let out = edxml::write(&package, &self.profile)?;
        let sig = pki::sign_detached(&key, &out, self.now())?;
        self.accept(p, &out, &sig).await
    }

    /// A document and what its page shows from the package (a recipient's view of it is
    /// the hand-over).
    pub async fn read_for_page(&self, p: &Principal, id: &str) -> Result<(Document, Summary)> {
        let (package, _) = self.package(p, id).await?;
        let parsed = edxml::parse(&package, &self.profile, &self.limits)?;
        let d = self.document(id).await?;
        Ok((
            d,
            Summary {
                content: parsed.header.content,
                attachments: parsed
                    .attachments
                    .into_iter()
                    .enumerate()
                    .map(|(i, a)| (i, a.name, a.content_type))
                    .collect(),
            },
        ))
    }

    /// One attachment of a document: its name, media type and bytes.
    pub async fn attachment(
        &self,
        p: &Principal,
        id: &str,
        n: usize,
    ) -> Result<(String, String, Vec<u8>)> {
        let (package, _) = self.package(p, id).await?;
        let parsed = edxml::parse(&package, &self.profile, &self.limits)?;
        parsed
            .attachments
            .into_iter()
            .nth(n)
            .map(|a| (a.name, a.content_type, a.data))
            .ok_or_else(|| ExchangeError::NotFound(format!("tệp/file {n}")))
    }
}
