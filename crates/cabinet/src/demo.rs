//! The demo's e-Cabinet: Hà Nội's People's Committee with its chair, a vice-chair and a
//! member, its secretariat; a regular meeting called for tomorrow with two items, a document
//! for every participant and a confidential one, and a guest; an open ballot ([`seed`]); and,
//! for `serve --demo` only (it makes four signing keys), a ballot whose result is published
//! ([`seed_published`]).

use chrono::{Duration, Utc};

use identity::Principal;
use kernel::on_db;

use crate::ballots::BallotSpec;
use crate::meetings::{MeetingSpec, MemberSpec, NewDocument};
use crate::rules::{Access, Answer, Choice, MeetingMove, ParticipantRole};
use crate::{Cabinet, CabinetError, Result};

/// The demo's body: Hà Nội's People's Committee.
pub const BODY: &str = "000.00.00.H26";

async fn who(c: &Cabinet, login: &str) -> Result<Principal> {
    c.identity
        .principal_by_login(login)
        .await?
        .ok_or_else(|| CabinetError::NotFound(format!("demo account {login}")))
}

/// A one-page PDF with a title and paragraphs, for the demo's papers.
fn paper(title: &str, paras: &[&str]) -> Result<Vec<u8>> {
    use dossier::slips::{Block, Sheet};
    let now = Utc::now();
    crate::ballots::render_sheet(Sheet {
        parent: None,
        agency: "Ủy ban nhân dân Thành phố Hà Nội".into(),
        date: kernel::clock::to_local(now).date(),
        title: title.to_uppercase(),
        subtitle: None,
        blocks: paras.iter().map(|p| Block::Para(p.to_string())).collect(),
        signatures: Vec::new(),
        footer: "Tài liệu phục vụ phiên họp (dữ liệu thử nghiệm)".into(),
        meta_title: title.to_string(),
        keywords: vec!["demo".into()],
        created: now,
    })
}

/// Creates the demo's body, meetings and ballots once; answers whether it did.
pub async fn seed(c: &Cabinet) -> Result<bool> {
    let have: Option<String> = on_db!(&c.db, x => sqlx::query_scalar(
        "SELECT account_id FROM cabinet_members WHERE body = $1 LIMIT 1"
    ).bind(BODY).fetch_optional(x).await)?;
    if have.is_some() {
        return Ok(false);
    }
    let sec = who(c, "thuky.ubnd").await?;
    for (login, position, title) in [
        (
            "chutich.ubnd",
            ParticipantRole::Chair,
            "Chủ tịch UBND Thành phố",
        ),
        (
            "phochutich.ubnd",
            ParticipantRole::Member,
            "Phó Chủ tịch UBND Thành phố",
        ),
        (
            "uyvien.ubnd",
            ParticipantRole::Member,
            "Ủy viên UBND Thành phố",
        ),
    ] {
        c.set_member(
            &sec,
            BODY,
            login,
            &MemberSpec {
                position,
                title: title.into(),
            },
        )
        .await?;
    }
    let now = c.now();
    let tomorrow = kernel::clock::to_local(now).date() + Duration::days(1);
    let at = |h: u32| {
        tomorrow
            .and_hms_opt(h, 0, 0)
            .map(kernel::clock::from_local)
            .unwrap_or(now + Duration::days(1))
    };
    let m = c
        .create_meeting(
            &sec,
            &MeetingSpec {
                body: BODY.into(),
                title: "Phiên họp thường kỳ UBND Thành phố".into(),
                starts_at: at(8),
                ends_at: at(11),
                place: "Phòng họp tầng 3, số 12 Lê Lai, Hoàn Kiếm".into(),
                online_url: String::new(),
            },
        )
        .await?;
    c.add_item(
        &sec,
        &m.id,
        "Tình hình giải quyết thủ tục hành chính tháng trước",
        "Văn phòng UBND Thành phố",
    )
    .await?;
    c.add_item(
        &sec,
        &m.id,
        "Dự thảo quyết định giao chỉ tiêu chuyển đổi số năm sau",
        "Sở Khoa học và Công nghệ",
    )
    .await?;
    c.add_meeting_document(
        &sec,
        &m.id,
        &NewDocument {
            title: "Báo cáo tình hình giải quyết thủ tục hành chính".into(),
            access: Access::Participants,
            item_position: Some(1),
            file_name: "bao-cao-tthc.pdf".into(),
            bytes: paper(
                "Báo cáo tình hình giải quyết thủ tục hành chính",
                &[
                    "Trong tháng, các cơ quan của Thành phố tiếp nhận và giải quyết hồ sơ thủ tục hành chính đúng hạn ở mức cao.",
                    "Số liệu chi tiết theo từng sở, ngành và phường, xã có tại bảng điều khiển của hệ thống một cửa điện tử.",
                ],
            )?,
        },
    )
    .await?;
    c.add_meeting_document(
        &sec,
        &m.id,
        &NewDocument {
            title: "Dự thảo quyết định giao chỉ tiêu (mật)".into(),
            access: Access::Confidential,
            item_position: Some(2),
            file_name: "du-thao-quyet-dinh.pdf".into(),
            bytes: paper(
                "Dự thảo quyết định giao chỉ tiêu chuyển đổi số",
                &[
                    "Dự thảo đang trong quá trình xin ý kiến, chưa được công bố.",
                    "Mỗi bản mở ra đều mang tên người đọc trên từng trang.",
                ],
            )?,
        },
    )
    .await?;
    c.set_participant(&sec, &m.id, "lanhdao", ParticipantRole::Guest)
        .await?;
    c.move_meeting(&sec, &m.id, MeetingMove::Call).await?;

    // A ballot open for three days.
    let b = c
        .create_ballot(
            &sec,
            &BallotSpec {
                body: BODY.into(),
                title: "Lấy ý kiến về dự thảo Quy chế phối hợp tiếp nhận hồ sơ trực tuyến".into(),
                description: "Văn phòng UBND Thành phố trình dự thảo Quy chế phối hợp giữa Trung tâm Phục vụ hành chính công và các sở, ngành trong tiếp nhận, giải quyết hồ sơ trực tuyến.".into(),
                questions: vec![
                    "Đồng chí có đồng ý thông qua dự thảo Quy chế không?".into(),
                    "Đồng chí có đồng ý thời điểm áp dụng từ ngày 01 tháng sau không?".into(),
                ],
                deadline: now + Duration::days(3),
                secret: false,
                meeting_id: None,
            },
        )
        .await?;
    c.add_ballot_document(
        &sec,
        &b.id,
        &NewDocument {
            title: "Dự thảo Quy chế phối hợp".into(),
            access: Access::Members,
            item_position: None,
            file_name: "du-thao-quy-che.pdf".into(),
            bytes: paper(
                "Dự thảo Quy chế phối hợp tiếp nhận hồ sơ trực tuyến",
                &[
                    "Điều 1. Phạm vi điều chỉnh.",
                    "Điều 2. Trách nhiệm của các cơ quan.",
                ],
            )?,
        },
    )
    .await?;
    c.open_ballot(&sec, &b.id).await?;
    Ok(true)
}

/// A secret ballot every member answered, closed and published with its signed summary: the
/// members' keys are made for it. Once; answers whether it did.
pub async fn seed_published(c: &Cabinet) -> Result<bool> {
    let have: Option<String> = on_db!(&c.db, x => sqlx::query_scalar(
        "SELECT id FROM cabinet_ballots WHERE body = $1 AND status = 'published' LIMIT 1"
    ).bind(BODY).fetch_optional(x).await)?;
    let members: Option<String> = on_db!(&c.db, x => sqlx::query_scalar(
        "SELECT account_id FROM cabinet_members WHERE body = $1 LIMIT 1"
    ).bind(BODY).fetch_optional(x).await)?;
    if have.is_some() || members.is_none() {
        return Ok(false);
    }
    let sec = who(c, "thuky.ubnd").await?;
    let now = c.now();
    let done = c
        .create_ballot(
            &sec,
            &BallotSpec {
                body: BODY.into(),
                title: "Lấy ý kiến về kế hoạch cải cách hành chính năm nay".into(),
                description: String::new(),
                questions: vec!["Đồng chí có đồng ý ban hành kế hoạch không?".into()],
                deadline: now + Duration::days(1),
                secret: true,
                meeting_id: None,
            },
        )
        .await?;
    c.open_ballot(&sec, &done.id).await?;
    for (login, choice, opinion) in [
        ("chutich.ubnd", Choice::Agree, ""),
        ("phochutich.ubnd", Choice::Agree, ""),
        (
            "uyvien.ubnd",
            Choice::Other,
            "Đề nghị bổ sung chỉ tiêu về thanh toán trực tuyến.",
        ),
    ] {
        let p = who(c, login).await?;
        c.vote(
            &p,
            &done.id,
            &[Answer {
                question: 1,
                choice,
                opinion: opinion.into(),
            }],
        )
        .await?;
    }
    c.close_ballot(&sec, &done.id).await?;
    c.publish_ballot(&sec, &done.id).await?;
    Ok(true)
}
