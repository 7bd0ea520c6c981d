//! Demo dossiers, made by `serve --demo` on a node that has none: one in every state at the
//! Hanoi public administration service centre, with a history spread over the last two weeks,
//! some handled on time and some late.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use catalog::Catalog;
use catalog::model::{FieldType, FormField};
use identity::{Identity, Principal};
use kernel::blob::BlobStore;
use kernel::calendar::Calendar;
use kernel::clock::ManualClock;
use kernel::db::Db;
use kernel::on_db;

use crate::{ActionInput, ActionKind, Applicant, DossierError, Dossiers, NewDossier};

const AGENCY: &str = "000.00.02.H26";
/// Where the demo's liên thông dossier goes: Sở Tài chính Thành phố Hà Nội.
const TRANSFER_TO: &str = "000.00.04.H26";

/// A plausible value for a form field.
fn sample(f: &FormField, i: usize) -> Value {
    match f.kind {
        FieldType::Date => Value::String("2026-01-15".into()),
        FieldType::Number => Value::from(f.min.unwrap_or(0).max(1).min(f.max.unwrap_or(i64::MAX))),
        FieldType::Select => Value::String(f.options.first().cloned().unwrap_or_default()),
        FieldType::Cccd => Value::String("001095012345".into()),
        FieldType::TaxCode => Value::String("0100109106".into()),
        FieldType::Email => Value::String(format!("nguoinop{i}@example.vn")),
        FieldType::Phone => Value::String(format!("09123456{:02}", i % 100)),
        FieldType::Checkbox => Value::Bool(true),
        FieldType::Textarea => Value::String("Số 1 Tràng Tiền, phường Hoàn Kiếm, Hà Nội".into()),
        FieldType::Text => Value::String(match f.name.as_str() {
            n if n.contains("ten_doanh_nghiep") => format!("Công ty TNHH Thử Nghiệm Số {i}"),
            _ => "Nguyễn Thị Thu".into(),
        }),
    }
}

fn form_for(fields: &[FormField], i: usize) -> Map<String, Value> {
    fields
        .iter()
        .map(|f| (f.name.clone(), sample(f, i)))
        .collect()
}

const NAMES: [&str; 9] = [
    "Nguyễn Thị Thu",
    "Trần Văn Hùng",
    "Lê Thị Mai",
    "Phạm Quốc Bảo",
    "Hoàng Minh Đức",
    "Vũ Thị Hạnh",
    "Đặng Văn Sơn",
    "Bùi Thị Lan",
    "Đỗ Minh Quân",
];

/// Creates the demo dossiers unless the node has dossiers already; returns how many.
pub async fn seed(
    db: &Db,
    identity: Arc<Identity>,
    catalog: Arc<Catalog>,
    calendar: Arc<RwLock<Calendar>>,
    blobs: BlobStore,
    now: DateTime<Utc>,
) -> Result<usize, DossierError> {
    let any: i64 =
        on_db!(db, c => sqlx::query_scalar("SELECT COUNT(*) FROM dossiers").fetch_one(c).await)?;
    if any > 0 {
        return Ok(0);
    }
    let who = |login: &'static str| {
        let identity = identity.clone();
        async move {
            let id: Option<String> = on_db!(db, c => sqlx::query_scalar("SELECT id FROM accounts WHERE login = $1")
                .bind(login).fetch_optional(c).await)?;
            let id = id.ok_or_else(|| DossierError::NotFound(login.to_string()))?;
            Ok::<Principal, DossierError>(identity.principal(&id, None).await?)
        }
    };
    let desk = who("tiepnhan").await?;
    let specialist = who("chuyenvien").await?;
    let head = who("truongphong").await?;
    let leader = who("lanhdao").await?;
    let business = who("0100109106").await?;
    // Start twelve days ago at 08:30 in Hà Nội, and walk forward.
    let start = now - Duration::days(12);
    let start = kernel::clock::from_local(
        kernel::clock::to_local(start)
            .date()
            .and_hms_opt(8, 30, 0)
            .unwrap_or_default(),
    );
    let clock = ManualClock::new(start);
    let d = Dossiers::new(
        db.clone(),
        Arc::new(clock.clone()),
        catalog.clone(),
        identity.clone(),
        calendar,
        blobs,
    );
    let procedures = ["2.001610", "2.001612", "1.009974", "2.001614"];
    let mut specs = Vec::new();
    for p in procedures {
        if let Ok(s) = catalog.procedure(p, None).await {
            specs.push(s.spec);
        }
    }
    if specs.is_empty() {
        return Ok(0);
    }
    let file = |i: usize| {
        let spec = &specs[i % specs.len()];
        NewDossier {
            procedure: spec.code.clone(),
            agency: Some(AGENCY.into()),
            form: form_for(&spec.form, i),
            submit: true,
            applicant: Some(Applicant {
                name: NAMES[i % NAMES.len()].into(),
                cccd: None,
                phone: Some(format!("09123456{:02}", i % 100)),
                email: None,
            }),
            ..NewDossier::default()
        }
    };
    let act = |code: String,
               p: Principal,
               a: ActionKind,
               reasons: Vec<String>,
               method: Option<&'static str>| {
        let d = &d;
        async move {
            d.act(
                &code,
                &p,
                a,
                &ActionInput {
                    comment: String::new(),
                    reasons,
                    to: None,
                    method: method.map(str::to_string),
                    new_date: None,
                    rating: None,
                    agency: None,
                },
            )
            .await
        }
    };
    let hour = Duration::hours(1);
    let day = Duration::days(1);
    // The standard path after receipt: examined, reviewed, approved, returned at the desk.
    let path = [
        (&specialist, ActionKind::Forward),
        (&head, ActionKind::Forward),
        (&leader, ActionKind::Approve),
        (&desk, ActionKind::Return),
    ];
    let mut made = 0;
    // Returned late: received twelve days ago, handled slowly.
    let (late, _) = d.create(&desk, &file(0), None).await?;
    let late = late.code.unwrap_or_default();
    act(
        late.clone(),
        desk.clone(),
        ActionKind::Receive,
        vec![],
        None,
    )
    .await?;
    // Returned early: received the same morning, done next day.
    let (early, _) = d.create(&desk, &file(1), None).await?;
    let early = early.code.unwrap_or_default();
    act(
        early.clone(),
        desk.clone(),
        ActionKind::Receive,
        vec![],
        None,
    )
    .await?;
    clock.advance(hour * 2);
    for (p, a) in path {
        let method = (a == ActionKind::Return).then_some("desk");
        act(early.clone(), p.clone(), a, vec![], method).await?;
    }
    made += 2;
    clock.advance(day * 2);
    // Rejected and returned.
    let (rejected, _) = d.create(&desk, &file(2), None).await?;
    let rejected = rejected.code.unwrap_or_default();
    act(
        rejected.clone(),
        desk.clone(),
        ActionKind::Receive,
        vec![],
        None,
    )
    .await?;
    act(
        rejected.clone(),
        specialist.clone(),
        ActionKind::Forward,
        vec![],
        None,
    )
    .await?;
    act(
        rejected.clone(),
        head.clone(),
        ActionKind::Forward,
        vec![],
        None,
    )
    .await?;
    act(
        rejected.clone(),
        leader.clone(),
        ActionKind::Reject,
        vec!["Tên doanh nghiệp trùng với doanh nghiệp đã đăng ký".into()],
        None,
    )
    .await?;
    act(
        rejected.clone(),
        desk.clone(),
        ActionKind::Return,
        vec![],
        Some("post"),
    )
    .await?;
    made += 1;
    // Refused at the desk, and one asked for a supplement.
    let (refused, _) = d.create(&desk, &file(3), None).await?;
    act(
        refused.code.unwrap_or_default(),
        desk.clone(),
        ActionKind::Refuse,
        vec!["Thủ tục không thuộc thẩm quyền giải quyết của cơ quan".into()],
        None,
    )
    .await?;
    let (supplement, _) = d.create(&desk, &file(4), None).await?;
    act(
        supplement.code.unwrap_or_default(),
        desk.clone(),
        ActionKind::RequestSupplement,
        vec!["Bản sao giấy tờ pháp lý của người đại diện chưa được chứng thực".into()],
        None,
    )
    .await?;
    made += 2;
    // Overdue at the department head's step.
    clock.advance(day * 5);
    let (overdue, _) = d.create(&desk, &file(5), None).await?;
    let overdue = overdue.code.unwrap_or_default();
    act(
        overdue.clone(),
        desk.clone(),
        ActionKind::Receive,
        vec![],
        None,
    )
    .await?;
    act(
        overdue.clone(),
        specialist.clone(),
        ActionKind::Forward,
        vec![],
        None,
    )
    .await?;
    made += 2;
    // Liên thông: the business's case needs the city's Department of Finance, so the
    // specialist hands it over; it waits there at the Department's first step.
    let (transferred, _) = d.create(&desk, &file(9), None).await?;
    let transferred = transferred.code.unwrap_or_default();
    act(
        transferred.clone(),
        desk.clone(),
        ActionKind::Receive,
        vec![],
        None,
    )
    .await?;
    d.act(
        &transferred,
        &specialist,
        ActionKind::Transfer,
        &ActionInput {
            comment: "Đề nghị Sở Tài chính thẩm định hồ sơ đăng ký doanh nghiệp".into(),
            agency: Some(TRANSFER_TO.into()),
            ..ActionInput::default()
        },
    )
    .await?;
    made += 1;
    // Today: the slow one finally comes back, late; one approved and waiting to be
    // returned; one just received; one waiting for the desk.
    clock.set(now - hour * 4);
    for (p, a) in path {
        let method = (a == ActionKind::Return).then_some("desk");
        act(late.clone(), p.clone(), a, vec![], method).await?;
    }
    clock.set(now - hour * 3);
    let (approved, _) = d.create(&desk, &file(6), None).await?;
    let approved = approved.code.unwrap_or_default();
    act(
        approved.clone(),
        desk.clone(),
        ActionKind::Receive,
        vec![],
        None,
    )
    .await?;
    for (p, a) in &path[..3] {
        let (p, a) = (*p, *a);
        act(approved.clone(), p.clone(), a, vec![], None).await?;
    }
    let (received, _) = d.create(&desk, &file(7), None).await?;
    act(
        received.code.unwrap_or_default(),
        desk.clone(),
        ActionKind::Receive,
        vec![],
        None,
    )
    .await?;
    clock.set(now - hour);
    d.create(&desk, &file(8), None).await?;
    made += 3;
    // The demo business's own draft, filed online.
    let spec = &specs[0];
    let draft = NewDossier {
        procedure: spec.code.clone(),
        agency: Some(AGENCY.into()),
        form: form_for(&spec.form, 9),
        ..NewDossier::default()
    };
    if d.create(&business, &draft, None).await.is_ok() {
        made += 1;
    }
    Ok(made)
}
