//! The rules a package and a status must hold, checked after reading and before writing.

use std::collections::HashSet;

use super::model::{Package, built_document_id};
use super::status::StatusPackage;
use super::{MAX_ORGAN_ID_CHARS, Problem};

/// The longest content id taken.
const MAX_CONTENT_ID_CHARS: usize = 256;

pub(super) fn package(p: &Package, out: &mut Vec<Problem>) {
    let h = &p.header;
    organ_id("MessageHeader.From.OrganId", &h.from.organ_id, out);
    if h.to.is_empty() {
        out.push(Problem::new(
            "MessageHeader.To",
            "Cần ít nhất một đơn vị nhận",
            "At least one recipient is needed",
        ));
    }
    for (i, to) in h.to.iter().enumerate() {
        organ_id(
            &format!("MessageHeader.To[{}].OrganId", i + 1),
            &to.organ_id,
            out,
        );
    }
    if h.code.code_number.trim().is_empty() {
        out.push(Problem::new(
            "MessageHeader.Code.CodeNumber",
            "Thiếu số văn bản",
            "The document number is missing",
        ));
    }
    if h.subject.trim().is_empty() {
        out.push(Problem::new(
            "MessageHeader.Subject",
            "Thiếu trích yếu văn bản",
            "The subject (summary) is missing",
        ));
    }
    if h.other_info.priority > 4 {
        out.push(Problem::new(
            "MessageHeader.OtherInfo.Priority",
            format!(
                "Độ khẩn {} không hợp lệ (0 thường, 1 khẩn, 2 thượng khẩn, 3 hoả tốc, 4 hoả tốc hẹn giờ)",
                h.other_info.priority
            ),
            format!(
                "Priority {} is invalid (0 normal, 1 urgent, 2 very urgent, 3 express, 4 express at a set time)",
                h.other_info.priority
            ),
        ));
    }
    for (i, r) in h.response_for.iter().enumerate() {
        organ_id(
            &format!("MessageHeader.ResponseFor[{}].OrganId", i + 1),
            &r.organ_id,
            out,
        );
    }
    // The standard's form is checked against the header. An opaque id without commas (the
    // national hub's test packages carry UUIDs) has nothing to disagree with.
    if let Some(id) = h.document_id.as_ref().filter(|id| id.contains(',')) {
        let expected = built_document_id(h);
        if *id != expected {
            out.push(Problem::new(
                "MessageHeader.DocumentId",
                format!(
                    "Mã văn bản \"{id}\" không khớp với đơn vị gửi, ngày ban hành và số ký hiệu (phải là \"{expected}\")"
                ),
                format!(
                    "DocumentId \"{id}\" does not match the sender, the date and the number (it must be \"{expected}\")"
                ),
            ));
        }
    }
    for (i, t) in p.trace.iter().enumerate() {
        organ_id(
            &format!("TraceHeaderList.TraceHeader[{}].OrganId", i + 1),
            &t.organ_id,
            out,
        );
    }
    business(p, out);
    attachments(p, out);
}

fn business(p: &Package, out: &mut Vec<Problem>) {
    const B: &str = "TraceHeaderList.Bussiness";
    let b = &p.business;
    if b.document_id
        .as_deref()
        .is_some_and(|d| d.trim().is_empty())
    {
        out.push(Problem::new(
            format!("{B}.DocumentId"),
            "Mã văn bản được thu hồi, cập nhật hoặc thay thế không được để trống",
            "The DocumentId of the document recalled, updated or replaced may not be blank",
        ));
    }
    if let Some(info) = &b.document_info {
        for (i, r) in info.receivers.iter().enumerate() {
            organ_id(
                &format!(
                    "{B}.BussinessDocumentInfo.ReceiverList.Receiver[{}].OrganId",
                    i + 1
                ),
                &r.organ_id,
                out,
            );
        }
    }
    for (i, r) in b.replacement_info.iter().enumerate() {
        for (j, id) in r.organ_ids.iter().enumerate() {
            organ_id(
                &format!(
                    "{B}.ReplacementInfoList.ReplacementInfo[{}].OrganIdList.OrganId[{}]",
                    i + 1,
                    j + 1
                ),
                id,
                out,
            );
        }
    }
}

fn attachments(p: &Package, out: &mut Vec<Problem>) {
    let mut seen = HashSet::new();
    for (i, a) in p.attachments.iter().enumerate() {
        let path = format!("AttachmentEncoded.Attachment[{}]", i + 1);
        let id = &a.content_id;
        let bad_id = if id.is_empty() {
            Some(("trống", "empty".to_string()))
        } else if id.chars().count() > MAX_CONTENT_ID_CHARS {
            Some((
                "quá dài",
                format!("longer than {MAX_CONTENT_ID_CHARS} characters"),
            ))
        } else if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Some(("chứa khoảng trắng", "contains spaces".to_string()))
        } else if id.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("cid:")) {
            Some(("bắt đầu bằng cid:", "starts with cid:".to_string()))
        } else {
            None
        };
        if let Some((vi, en)) = bad_id {
            out.push(Problem::new(
                format!("{path}.ContentId"),
                format!("Mã nội dung tệp đính kèm \"{id}\" không hợp lệ: {vi}"),
                format!("The attachment's content id \"{id}\" is invalid: {en}"),
            ));
        } else if !seen.insert(id.as_str()) {
            out.push(Problem::new(
                format!("{path}.ContentId"),
                format!("Mã nội dung tệp đính kèm \"{id}\" bị trùng"),
                format!("The attachment's content id \"{id}\" is used twice"),
            ));
        }
        if a.name.trim().is_empty() {
            out.push(Problem::new(
                format!("{path}.AttachmentName"),
                "Thiếu tên tệp đính kèm",
                "The attachment's file name is missing",
            ));
        }
    }
}

pub(super) fn status(s: &StatusPackage, out: &mut Vec<Problem>) {
    organ_id("Status.From.OrganId", &s.from.organ_id, out);
    organ_id("Status.ResponseFor.OrganId", &s.response_for.organ_id, out);
    if s.response_for.document_id.trim().is_empty() {
        out.push(Problem::new(
            "Status.ResponseFor.DocumentId",
            "Thiếu mã văn bản được phản hồi",
            "The DocumentId of the document answered is missing",
        ));
    }
}

/// An agency code: present, at most 64 characters, without spaces or control characters.
fn organ_id(field: &str, id: &str, out: &mut Vec<Problem>) {
    if id.is_empty() {
        out.push(Problem::new(
            field,
            "Thiếu mã định danh đơn vị",
            "The agency code (OrganId) is missing",
        ));
    } else if id.chars().count() > MAX_ORGAN_ID_CHARS {
        out.push(Problem::new(
            field,
            format!("Mã định danh đơn vị dài quá {MAX_ORGAN_ID_CHARS} ký tự"),
            format!("The agency code is longer than {MAX_ORGAN_ID_CHARS} characters"),
        ));
    } else if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        out.push(Problem::new(
            field,
            format!("Mã định danh đơn vị \"{id}\" chứa khoảng trắng hoặc ký tự điều khiển"),
            format!("The agency code \"{id}\" contains spaces or control characters"),
        ));
    }
}
