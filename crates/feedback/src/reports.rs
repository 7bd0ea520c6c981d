//! Reports: filing, reading, handling and answering, with every change in the audit chain and
//! a notice to the reporter and the report's followers.
//!
//! Filing checks everything before anything is stored: the kind of report, the text, every
//! photo (its type from its bytes, its location read and then removed from the copy kept),
//! the place (inside an area a commune serves) or, for a petition, the agency. Then one
//! transaction writes the report, its photos' records, its first update, its reporter as a
//! follower, the audit entry and the notice.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use identity::Principal;
use kernel::audit::{Entry, Tx};
use kernel::{on_db, on_tx};

use crate::error::{invalid, refused};
use crate::rules::{self, Act, Point, Status};
use crate::services::Service;
use crate::{Feedback, FeedbackError, MAX_DESCRIPTION_CHARS, MAX_PHOTOS, Result};

/// Who files a report.
#[derive(Debug, Clone, Default)]
pub struct Reporter {
    /// The account, when logged in.
    pub account: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The device, when filed from an app over Open311.
    pub device_id: Option<String>,
}

/// A report as filed.
#[derive(Debug, Clone, Default)]
pub struct NewReport {
    pub service_code: String,
    /// A short title; the kind's name when empty.
    pub title: String,
    pub description: String,
    pub point: Option<Point>,
    pub address: String,
    /// The commune (its code), when there is no point.
    pub unit_code: Option<String>,
    /// For a petition: the agency it is about or addressed to.
    pub agency: Option<String>,
    /// For a petition about a procedure: its code.
    pub procedure_code: Option<String>,
    /// Answers to the kind's questions.
    pub attributes: Vec<(String, Vec<String>)>,
    pub reporter: Reporter,
    /// `web`, `open311` or `api`.
    pub channel: String,
    pub api_key_id: Option<String>,
    /// Photos as uploaded.
    pub photos: Vec<Vec<u8>>,
    /// A photo elsewhere (Open311's `media_url`).
    pub media_url: Option<String>,
}

/// What filing gives back.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Filed {
    pub id: String,
    /// The reporter's secret: follows and reopens the report without an account.
    pub token: String,
    /// Held for a moderator before it is public.
    pub held: bool,
    pub agency_code: String,
    pub agency_name: String,
    pub due_at: DateTime<Utc>,
}

/// A photo of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Photo {
    pub n: i64,
    pub media_type: String,
    pub width: i64,
    pub height: i64,
    /// Whether the photo carried a location (removed from the copy kept).
    pub had_location: bool,
    pub public: bool,
    #[serde(skip)]
    pub sha256: String,
    #[serde(skip)]
    pub thumb_sha256: String,
}

/// A change of a report, as its timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Update {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub action: String,
    pub status: String,
    pub note: String,
    pub public: bool,
}

/// The reporter, as the handling agency sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReporterView {
    pub account: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub device_id: Option<String>,
}

/// A report. The public reads it without its reporter, with personal data hidden from its
/// text, and without what is private ([`Report::public`]).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    pub id: String,
    /// `field` or `petition`.
    pub kind: String,
    pub service_code: String,
    pub service_name: String,
    pub agency_code: String,
    pub agency_name: String,
    pub unit_code: Option<String>,
    pub status: Status,
    /// Waiting for a moderator: not public yet.
    pub held: bool,
    pub held_reason: Option<String>,
    pub title: String,
    pub description: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: String,
    pub procedure_code: Option<String>,
    /// Answers to the kind's questions.
    pub attributes: BTreeMap<String, Vec<String>>,
    pub photos: Vec<Photo>,
    pub media_url: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub answer: Option<String>,
    pub answer_public: bool,
    pub answered_at: Option<DateTime<Utc>>,
    pub duplicate_of: Option<String>,
    /// Others who said they see the same problem (duplicates merged in, followers).
    pub supporters: i64,
    pub reopens: i64,
    pub channel: String,
    pub updates: Vec<Update>,
    pub reporter: Option<ReporterView>,
}

impl Report {
    /// What anyone may read.
    pub fn public(mut self, masked: String) -> Report {
        self.description = masked;
        self.reporter = None;
        self.held_reason = None;
        self.attributes.clear();
        self.updates.retain(|u| u.public);
        self.photos.retain(|p| p.public);
        if !self.answer_public {
            self.answer = None;
        }
        self
    }
    /// Whether it is still open past its deadline.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.status.is_open() && self.due_at < now
    }
}

/// Who reads a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Public,
    Reporter,
    Handler,
}

/// A line of a list of reports.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Line {
    pub id: String,
    pub kind: String,
    pub service_code: String,
    pub agency_code: String,
    pub unit_code: Option<String>,
    pub status: String,
    pub held: bool,
    pub title: String,
    pub description_public: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub requested_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub supporters: i64,
    /// The first public photo, if any.
    pub photo: Option<i64>,
}

impl Line {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Received)
    }
}

/// Which public reports to list.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct PublicQuery {
    /// A commune's code.
    pub unit: Option<String>,
    /// A province's code.
    pub province: Option<String>,
    /// A kind of report.
    pub service: Option<String>,
    /// `open` or `closed`.
    pub state: Option<String>,
    /// `field` or `petition`.
    pub kind: Option<String>,
}

/// Which reports an agency's queue lists.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct QueueQuery {
    pub agency: Option<String>,
    /// `open` (the default), `held`, `overdue`, `closed` or `all`.
    pub show: Option<String>,
    pub service: Option<String>,
}

/// An act on a report.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ActRequest {
    pub act: Act,
    /// The public note, the answer, or the reason.
    #[serde(default)]
    pub note: String,
    /// For an answer: whether the public may read it (petitions may be answered privately).
    #[serde(default = "yes")]
    pub public: bool,
    /// For a merge: the report that stays.
    #[serde(default)]
    pub into: Option<String>,
    /// For a transfer: the agency that takes it over.
    #[serde(default)]
    pub agency: Option<String>,
    /// For hiding a photo: its number.
    #[serde(default)]
    pub photo: Option<i64>,
}

fn yes() -> bool {
    true
}

/// Another open report of the same kind near a place, offered as maybe the same problem.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Nearby {
    pub id: String,
    pub title: String,
    pub status: Status,
    pub distance_m: f64,
    pub requested_at: DateTime<Utc>,
    pub supporters: i64,
}

/// Which public reports an Open311 `GET requests` asks for.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    /// These ids (every other filter but the window left out by the caller).
    pub ids: &'a [String],
    /// Of these kinds.
    pub services: &'a [String],
    /// Filed in this window.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Open ones (received or in progress), closed ones, or both when empty or both named.
    pub statuses: &'a [Status],
    pub limit: i64,
    pub offset: i64,
}

/// A published answer found by the search.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct AnswerHit {
    pub id: String,
    pub service_code: String,
    pub agency_code: String,
    pub title: String,
    pub description_public: String,
    pub answer: String,
    pub answered_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    kind: String,
    service_code: String,
    agency_code: String,
    unit_code: Option<String>,
    status: String,
    held: bool,
    held_reason: Option<String>,
    title: String,
    description: String,
    description_public: String,
    attributes: String,
    lat: Option<f64>,
    lon: Option<f64>,
    address: String,
    procedure_code: Option<String>,
    reporter_account: Option<String>,
    reporter_name: String,
    reporter_email: Option<String>,
    reporter_phone: Option<String>,
    device_id: Option<String>,
    channel: String,
    token: String,
    duplicate_of: Option<String>,
    supporters: i64,
    answer: Option<String>,
    answer_public: bool,
    answered_at: Option<DateTime<Utc>>,
    requested_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    reopens: i64,
    media_url: Option<String>,
}

const ROW: &str = "SELECT id, kind, service_code, agency_code, unit_code, status, held, held_reason, title, description, description_public, \
    attributes, lat, lon, address, procedure_code, reporter_account, reporter_name, reporter_email, reporter_phone, device_id, channel, token, \
    duplicate_of, supporters, answer, answer_public, answered_at, requested_at, updated_at, due_at, closed_at, reopens, media_url FROM feedback_reports";

const LINE: &str = "SELECT r.id, r.kind, r.service_code, r.agency_code, r.unit_code, r.status, r.held, r.title, r.description_public, r.address, \
    r.lat, r.lon, r.requested_at, r.updated_at, r.due_at, r.supporters, \
    (SELECT MIN(n) FROM feedback_photos f WHERE f.report_id = r.id AND f.public = TRUE) AS photo FROM feedback_reports r";

impl Row {
    fn state(&self) -> rules::State {
        rules::State {
            status: Status::parse(&self.status).unwrap_or(Status::Received),
            held: self.held,
            answered_at: self.answered_at,
            reopens: self.reopens,
        }
    }
    fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Received)
    }
}

fn clean(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect()
}

fn too_long(field: &str, max: usize) -> FeedbackError {
    invalid(
        field,
        format!("Tối đa {max} ký tự"),
        format!("At most {max} characters"),
    )
}

/// Checks an e-mail address's shape.
fn email_ok(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && e.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.contains(char::is_whitespace)
}

impl Feedback {
    /// Files a report.
    pub async fn file(&self, mut new: NewReport) -> Result<Filed> {
        let service = self
            .service(new.service_code.trim())
            .await?
            .filter(|s| s.active)
            .ok_or_else(|| {
                refused(
                    404,
                    "unknown_service",
                    format!("Không có loại phản ánh mã “{}”", new.service_code.trim()),
                    format!(
                        "There is no kind of report with the code “{}”",
                        new.service_code.trim()
                    ),
                )
            })?;
        let description = clean(&new.description);
        let mut problems = Vec::new();
        if description.chars().count() < 10 {
            problems.push(kernel::ProblemDetail::new(
                "description",
                "Hãy mô tả vấn đề (ít nhất 10 ký tự)",
                "Describe the problem (at least 10 characters)",
            ));
        }
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(too_long("description", MAX_DESCRIPTION_CHARS));
        }
        let title = clean(&new.title);
        if title.chars().count() > 200 {
            return Err(too_long("title", 200));
        }
        let address = clean(&new.address);
        if address.chars().count() > 500 {
            return Err(too_long("address", 500));
        }
        let name = clean(&new.reporter.name);
        if name.chars().count() > 200 {
            return Err(too_long("name", 200));
        }
        let email = new
            .reporter
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_lowercase);
        if let Some(e) = &email
            && !email_ok(e)
        {
            problems.push(kernel::ProblemDetail::new(
                "email",
                "Địa chỉ thư điện tử không đúng dạng",
                "The e-mail address is not valid",
            ));
        }
        let phone = new
            .reporter
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        if let Some(ph) = &phone
            && (ph.len() > 40
                || ph.chars().filter(char::is_ascii_digit).count() < 8
                || !ph
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-.()".contains(c)))
        {
            problems.push(kernel::ProblemDetail::new(
                "phone",
                "Số điện thoại không đúng dạng",
                "The phone number is not valid",
            ));
        }
        if new.photos.len() > MAX_PHOTOS {
            problems.push(kernel::ProblemDetail::new(
                "photos",
                format!("Tối đa {MAX_PHOTOS} ảnh"),
                format!("At most {MAX_PHOTOS} photos"),
            ));
        }
        if !problems.is_empty() {
            return Err(FeedbackError::Invalid(problems));
        }
        let attributes = self.check_answers(&service, &new.attributes)?;
        // Photos: checked, their location read, cleaned; all before anything is stored.
        let mut photos = Vec::new();
        for (i, bytes) in std::mem::take(&mut new.photos).into_iter().enumerate() {
            if bytes.is_empty() {
                continue;
            }
            let checked = tokio::task::spawn_blocking(move || {
                let limits = media::Limits {
                    max_bytes: crate::MAX_PHOTO_BYTES,
                    ..media::Limits::default()
                };
                let photo = media::inspect(&bytes, &limits)?;
                let thumb = media::thumbnail(&photo.clean, 480)?;
                Ok::<_, media::MediaError>((photo, thumb))
            })
            .await
            .map_err(|e| {
                refused(
                    500,
                    "photo_failed",
                    format!("Không xử lý được ảnh: {e}"),
                    format!("The photo could not be processed: {e}"),
                )
            })?;
            let (photo, thumb) = checked.map_err(|e| {
                let mut err = FeedbackError::from(e);
                if let FeedbackError::Refused { vi, en, .. } = &mut err {
                    *vi = format!("Ảnh {}: {vi}", i + 1);
                    *en = format!("Photo {}: {en}", i + 1);
                }
                err
            })?;
            photos.push((photo, thumb));
        }
        let point = new.point.or_else(|| {
            photos
                .iter()
                .find_map(|(p, _)| p.location.and_then(|g| Point::new(g.lat, g.lon)))
        });
        // Where it goes.
        let (agency, unit, province) = if service.is_field() {
            let area = match (point, new.unit_code.as_deref().map(str::trim).filter(|u| !u.is_empty())) {
                (Some(p), _) => self.locate(p).await?.ok_or_else(|| {
                    refused(
                        422,
                        "outside_served_area",
                        format!(
                            "Vị trí ({:.5}, {:.5}) không thuộc địa bàn xã, phường nào nhận phản ánh trên hệ thống",
                            p.lat, p.lon
                        ),
                        format!(
                            "The place ({:.5}, {:.5}) is not inside any commune served here",
                            p.lat, p.lon
                        ),
                    )
                })?,
                (None, Some(u)) => self.area(u).await?.ok_or_else(|| {
                    invalid(
                        "address_id",
                        format!("Xã, phường mã {u} chưa nhận phản ánh hiện trường trên hệ thống"),
                        format!("The commune {u} does not take field reports here"),
                    )
                })?,
                (None, None) => {
                    return Err(invalid(
                        "location",
                        "Hãy cho biết vị trí: chọn trên bản đồ, dùng vị trí hiện tại, ảnh có vị trí, hoặc chọn xã, phường",
                        "Give the place: coordinates, a photo with a location, or the commune",
                    ));
                }
            };
            let agency = self.route(&service.code, &area).await?;
            (agency, Some(area.unit_code), Some(area.province_code))
        } else {
            let agency = self.petition_agency(&service, &new, &attributes).await?;
            let province = self
                .catalog
                .lookup()
                .agencies
                .get(&agency)
                .and_then(|a| a.province.clone());
            (agency, None, province)
        };
        let procedure_code = attributes
            .iter()
            .find(|(k, _)| k == "thu_tuc")
            .and_then(|(_, v)| v.first().cloned())
            .or(new.procedure_code.clone());
        let names: Vec<&str> = vec![name.as_str()];
        let masked = rules::mask_personal(&description, &names);
        let hold = rules::hold_reason(&format!("{title}\n{description}"));
        let now = self.clock.now();
        let due_at = rules::due(&self.calendar(), now, service.expected_days);
        let token = identity::random_token()?;
        let title = if title.is_empty() {
            service.name_vi.clone()
        } else {
            title
        };
        // Blobs first: content-addressed, so a failed transaction leaves only unreferenced
        // copies, never a report without its photos.
        let mut stored = Vec::new();
        for (photo, thumb) in &photos {
            let id = self.blobs.put(&photo.clean)?;
            let tid = self.blobs.put(thumb)?;
            stored.push((id, tid));
        }
        let year = i64::from(kernel::clock::to_local(now).year());
        let mut tx = Tx::begin(&self.db).await?;
        let (n,): (i64,) = on_tx!(&mut tx, c => sqlx::query_as(
            "INSERT INTO feedback_counters (year, last) VALUES ($1, 1) ON CONFLICT (year) DO UPDATE SET last = feedback_counters.last + 1 RETURNING last"
        ).bind(year).fetch_one(c).await)?;
        let id = format!("PA-{year}-{n:06}");
        let attrs_json = serde_json::to_string(&attributes).unwrap_or_else(|_| "[]".into());
        let fold = if hold.is_some() {
            String::new()
        } else {
            rules::search_fold(&[&title, &masked, &address])
        };
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO feedback_reports (id, kind, service_code, agency_code, unit_code, province_code, status, held, held_reason, subject, procedure_code, \
             title, description, description_public, attributes, lat, lon, address, reporter_account, reporter_name, reporter_email, reporter_phone, \
             device_id, channel, api_key_id, token, search_fold, requested_at, updated_at, due_at, media_url) \
             VALUES ($1, $2, $3, $4, $5, $6, 'received', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $27, $28, $29)"
        ).bind(&id).bind(&service.kind).bind(&service.code).bind(&agency).bind(&unit).bind(&province)
        .bind(hold.is_some()).bind(hold.as_ref().map(|h| h.vi.clone())).bind(&service.group).bind(&procedure_code)
        .bind(&title).bind(&description).bind(&masked).bind(&attrs_json).bind(point.map(|p| p.lat)).bind(point.map(|p| p.lon))
        .bind(&address).bind(&new.reporter.account).bind(&name).bind(&email).bind(&phone)
        .bind(&new.reporter.device_id).bind(&new.channel).bind(&new.api_key_id).bind(&token).bind(&fold)
        .bind(now).bind(due_at).bind(&new.media_url)
        .execute(c).await.map(|_| ()))?;
        for (i, ((photo, _), (blob, thumb))) in photos.iter().zip(&stored).enumerate() {
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO feedback_photos (report_id, n, sha256, thumb_sha256, media_type, width, height, had_location, public) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE)"
            ).bind(&id).bind(i64::try_from(i + 1).unwrap_or(1)).bind(blob.as_str()).bind(thumb.as_str())
            .bind(photo.kind.media_type()).bind(i64::from(photo.width)).bind(i64::from(photo.height)).bind(photo.location.is_some())
            .execute(c).await.map(|_| ()))?;
        }
        let agency_name = self.agency_name(&agency);
        let note = format!("Đã tiếp nhận và chuyển {agency_name} xử lý.");
        self.add_update(
            &mut tx,
            &id,
            now,
            "system",
            "received",
            Status::Received,
            &note,
            hold.is_none(),
        )
        .await?;
        if let Some(e) = &email {
            self.add_follower(&mut tx, &id, e, new.reporter.account.as_deref(), now)
                .await?;
        }
        kernel::audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &new
                    .reporter
                    .account
                    .as_ref()
                    .map(|a| format!("account/{a}"))
                    .or_else(|| new.api_key_id.as_ref().map(|k| format!("feedback_key/{k}")))
                    .unwrap_or_else(|| "public".into()),
                action: "feedback.file",
                subject: &format!("feedback/{id}"),
                data: json!({
                    "service": service.code, "agency": agency, "unit": unit, "held": hold.is_some(),
                    "photos": photos.len(), "channel": new.channel,
                }),
            },
        )
        .await?;
        if let Some(e) = &email {
            let subject = format!("Đã tiếp nhận phản ánh {id}");
            let body = format!(
                "Phản ánh “{title}” đã được tiếp nhận với mã {id} và chuyển {agency_name} xử lý, hạn trả lời {}.\n\
                 Theo dõi và mở lại phản ánh tại: {}/phan-anh/{id}?t={token}\n\n\
                 Your report {id} was received and sent to {agency_name}. Follow it at the link above.",
                kernel::clock::to_local(due_at).format("%d/%m/%Y"),
                self.public_url,
            );
            identity::outbox::enqueue(
                &mut tx,
                now,
                "email",
                e,
                new.reporter.account.as_deref(),
                &subject,
                &body,
            )
            .await?;
        } else if let Some(ph) = phone.as_deref().filter(|_| self.identity.sms_enabled()) {
            // No address: a text message to the phone, short, with the link to follow it.
            let text = format!(
                "Phan anh {id} da duoc tiep nhan, chuyen {} xu ly. Theo doi: {}/phan-anh/{id}?t={token}",
                kernel::text::fold(&agency_name),
                self.public_url,
            );
            identity::outbox::enqueue(
                &mut tx,
                now,
                "sms",
                ph,
                new.reporter.account.as_deref(),
                "",
                &text,
            )
            .await?;
        }
        tx.commit().await?;
        self.identity.wake_mailer();
        Ok(Filed {
            id,
            token,
            held: hold.is_some(),
            agency_code: agency,
            agency_name,
            due_at,
        })
    }

    /// Checks answers against the kind's questions: required ones given, lists from their
    /// choices, numbers and dates that read.
    fn check_answers(
        &self,
        service: &Service,
        given: &[(String, Vec<String>)],
    ) -> Result<Vec<(String, Vec<String>)>> {
        let mut problems = Vec::new();
        let mut out = Vec::new();
        let mut map: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (k, v) in given {
            let vals: Vec<String> = v
                .iter()
                .map(|s| clean(s))
                .filter(|s| !s.is_empty())
                .collect();
            map.entry(k.as_str()).or_default().extend(vals);
        }
        for k in map.keys() {
            if !service.attributes.iter().any(|q| q.code == *k) {
                problems.push(kernel::ProblemDetail::new(
                    format!("attribute[{k}]"),
                    format!("Loại phản ánh {} không có câu hỏi “{k}”", service.code),
                    format!("The kind {} has no question “{k}”", service.code),
                ));
            }
        }
        for q in &service.attributes {
            let vals = map.get(q.code.as_str()).cloned().unwrap_or_default();
            let at = format!("attribute[{}]", q.code);
            if vals.is_empty() {
                if q.required {
                    problems.push(kernel::ProblemDetail::new(
                        &at,
                        format!("Cần trả lời: {}", q.description),
                        format!("Required: {}", q.description),
                    ));
                }
                continue;
            }
            let known = |v: &String| q.values.iter().any(|c| &c.key == v);
            let ok = match q.datatype.as_str() {
                "number" => vals.len() == 1 && vals[0].parse::<f64>().is_ok_and(f64::is_finite),
                "datetime" => vals.len() == 1 && open311::parse_datetime(&vals[0]).is_some(),
                "singlevaluelist" => vals.len() == 1 && known(&vals[0]),
                "multivaluelist" => vals.iter().all(known),
                _ => vals.len() == 1 && vals[0].chars().count() <= 2000,
            };
            if !ok {
                problems.push(kernel::ProblemDetail::new(
                    &at,
                    format!("Câu trả lời cho “{}” không hợp lệ", q.description),
                    format!("The answer to “{}” is not valid", q.description),
                ));
                continue;
            }
            out.push((q.code.clone(), vals));
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(FeedbackError::Invalid(problems))
        }
    }

    /// The agency a petition goes to: the one named, else the procedure's.
    async fn petition_agency(
        &self,
        service: &Service,
        new: &NewReport,
        attributes: &[(String, Vec<String>)],
    ) -> Result<String> {
        let lookup = self.catalog.lookup();
        let named = new
            .agency
            .clone()
            .or_else(|| {
                attributes
                    .iter()
                    .find(|(k, _)| k == "co_quan")
                    .and_then(|(_, v)| v.first().cloned())
            })
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty());
        if let Some(a) = named {
            if lookup.agencies.contains_key(&a) {
                return Ok(a);
            }
            return Err(invalid(
                "agency",
                format!("Không có cơ quan mã {a} trong danh mục"),
                format!("No agency in the catalogue has the code {a}"),
            ));
        }
        let procedure = attributes
            .iter()
            .find(|(k, _)| k == "thu_tuc")
            .and_then(|(_, v)| v.first().cloned())
            .or(new.procedure_code.clone());
        if let Some(code) = procedure {
            // The first agency of the procedure that the catalogue knows.
            if let Some(a) = self.procedure_agencies(&code).await.into_iter().next() {
                return Ok(a);
            }
            return Err(invalid(
                "procedure",
                format!("Không tìm thấy thủ tục mã {code} hoặc cơ quan giải quyết của nó"),
                format!("The procedure {code} or the agency handling it was not found"),
            ));
        }
        Err(invalid(
            "agency",
            format!("Hãy chọn cơ quan nhận phản ánh ({})", service.name_vi),
            format!(
                "Choose the agency the petition is for ({})",
                service.name_en
            ),
        ))
    }

    async fn procedure_agencies(&self, code: &str) -> Vec<String> {
        let code = code.trim();
        if code.is_empty() || code.len() > 64 {
            return Vec::new();
        }
        let Ok(stored) = self.catalog.procedure(code, None).await else {
            return Vec::new();
        };
        let lookup = self.catalog.lookup();
        stored
            .spec
            .agencies
            .iter()
            .map(|a| a.to_string())
            .filter(|a| lookup.agencies.contains_key(a))
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    async fn add_update(
        &self,
        tx: &mut Tx<'_>,
        id: &str,
        at: DateTime<Utc>,
        actor: &str,
        action: &str,
        status: Status,
        note: &str,
        public: bool,
    ) -> Result<()> {
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO feedback_updates (report_id, at, actor, action, status, note, public) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ).bind(id).bind(at).bind(actor).bind(action).bind(status.as_str()).bind(note).bind(public)
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    async fn add_follower(
        &self,
        tx: &mut Tx<'_>,
        id: &str,
        email: &str,
        account: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let n = on_tx!(tx, c => sqlx::query(
            "INSERT INTO feedback_followers (report_id, email, account_id, since) VALUES ($1, $2, $3, $4) ON CONFLICT (report_id, email) DO NOTHING"
        ).bind(id).bind(email).bind(account).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Other open, public reports of the same kind within [`rules::DUPLICATE_METRES`] of a
    /// place, filed in the last [`rules::DUPLICATE_DAYS`] days, nearest first.
    pub async fn nearby(
        &self,
        service: &str,
        at: Point,
        except: Option<&str>,
    ) -> Result<Vec<Nearby>> {
        let (a, b, c0, d) = rules::box_around(at, rules::DUPLICATE_METRES);
        let since = self.clock.now() - chrono::Duration::days(rules::DUPLICATE_DAYS);
        type Near = (String, String, String, f64, f64, DateTime<Utc>, i64);
        let rows: Vec<Near> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, title, status, lat, lon, requested_at, supporters FROM feedback_reports \
             WHERE service_code = $1 AND lat BETWEEN $2 AND $3 AND lon BETWEEN $4 AND $5 AND requested_at >= $6 \
             AND status IN ('received', 'in_progress') AND held = FALSE AND id <> $7"
        ).bind(service).bind(a).bind(b).bind(c0).bind(d).bind(since).bind(except.unwrap_or("")).fetch_all(c).await)?;
        let mut out: Vec<Nearby> = rows
            .into_iter()
            .filter_map(|(id, title, status, lat, lon, requested_at, supporters)| {
                let dist = rules::distance_m(at, Point { lat, lon });
                (dist <= rules::DUPLICATE_METRES).then(|| Nearby {
                    id,
                    title,
                    status: Status::parse(&status).unwrap_or(Status::Received),
                    distance_m: (dist * 10.0).round() / 10.0,
                    requested_at,
                    supporters,
                })
            })
            .collect();
        out.sort_by(|x, y| x.distance_m.total_cmp(&y.distance_m));
        Ok(out)
    }

    async fn row(&self, id: &str) -> Result<Option<Row>> {
        let sql = format!("{ROW} WHERE id = $1");
        Ok(
            on_db!(&self.db, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await)?,
        )
    }

    async fn build(&self, row: Row, viewer: Viewer) -> Result<Report> {
        let photos: Vec<Photo> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT n, media_type, width, height, had_location, public, sha256, thumb_sha256 FROM feedback_photos WHERE report_id = $1 ORDER BY n"
        ).bind(&row.id).fetch_all(c).await)?;
        let updates: Vec<Update> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, at, action, status, note, public FROM feedback_updates WHERE report_id = $1 ORDER BY id"
        ).bind(&row.id).fetch_all(c).await)?;
        let service_name = self
            .service(&row.service_code)
            .await?
            .map(|s| s.name_vi)
            .unwrap_or_else(|| row.service_code.clone());
        let status = row.status();
        let report = Report {
            agency_name: self.agency_name(&row.agency_code),
            id: row.id,
            kind: row.kind,
            service_code: row.service_code,
            service_name,
            agency_code: row.agency_code,
            unit_code: row.unit_code,
            status,
            held: row.held,
            held_reason: row.held_reason,
            title: row.title,
            description: row.description,
            lat: row.lat,
            lon: row.lon,
            address: row.address,
            procedure_code: row.procedure_code,
            attributes: serde_json::from_str::<Vec<(String, Vec<String>)>>(&row.attributes)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            photos,
            media_url: row.media_url,
            requested_at: row.requested_at,
            updated_at: row.updated_at,
            due_at: row.due_at,
            closed_at: row.closed_at,
            answer: row.answer,
            answer_public: row.answer_public,
            answered_at: row.answered_at,
            duplicate_of: row.duplicate_of,
            supporters: row.supporters,
            reopens: row.reopens,
            channel: row.channel,
            updates,
            reporter: Some(ReporterView {
                account: row.reporter_account,
                name: row.reporter_name,
                email: row.reporter_email,
                phone: row.reporter_phone,
                device_id: row.device_id,
            }),
        };
        Ok(match viewer {
            Viewer::Public => report.public(row.description_public),
            Viewer::Reporter | Viewer::Handler => report,
        })
    }

    /// Whether a report is public: not held, not rejected.
    fn is_public(row: &Row) -> bool {
        !row.held && row.status() != Status::Rejected
    }

    /// A report as `p` (or the holder of its reporter's `token`) may read it: whole for its
    /// handling agency (the reading audited) and its reporter, else its public view; a report
    /// not public is not found.
    pub async fn report(
        &self,
        id: &str,
        p: Option<&Principal>,
        token: Option<&str>,
    ) -> Result<(Report, Viewer)> {
        let row = self
            .row(id.trim())
            .await?
            .ok_or_else(|| FeedbackError::NotFound(format!("phản ánh {id}")))?;
        let viewer = self.viewer_of(&row, p, token).await?;
        if viewer == Viewer::Public && !Self::is_public(&row) {
            return Err(FeedbackError::NotFound(format!("phản ánh {id}")));
        }
        if viewer == Viewer::Handler
            && let Some(p) = p
        {
            let now = self.clock.now();
            let mut tx = Tx::begin(&self.db).await?;
            kernel::audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: &crate::actor_of(p),
                    action: "feedback.read",
                    subject: &format!("feedback/{}", row.id),
                    data: json!({}),
                },
            )
            .await?;
            tx.commit().await?;
        }
        Ok((self.build(row, viewer).await?, viewer))
    }

    async fn viewer_of(
        &self,
        row: &Row,
        p: Option<&Principal>,
        token: Option<&str>,
    ) -> Result<Viewer> {
        if let Some(p) = p {
            if self.may_handle(p, &row.agency_code).await? {
                return Ok(Viewer::Handler);
            }
            if row.reporter_account.as_deref() == Some(p.id.as_str()) {
                return Ok(Viewer::Reporter);
            }
        }
        if let Some(t) = token
            && !t.is_empty()
            && identity::same(t, &row.token)
        {
            return Ok(Viewer::Reporter);
        }
        Ok(Viewer::Public)
    }

    /// The public view of a report, for the Open311 answers.
    pub async fn public_report(&self, id: &str) -> Result<Option<Report>> {
        match self.row(id.trim()).await? {
            Some(r) if Self::is_public(&r) => Ok(Some(self.build(r, Viewer::Public).await?)),
            _ => Ok(None),
        }
    }

    /// The report a reporter's token stands for, and whether it is public yet.
    pub async fn by_token(&self, token: &str) -> Result<Option<(String, bool)>> {
        let token = token.trim();
        if token.is_empty() || token.len() > 100 {
            return Ok(None);
        }
        let row: Option<(String, bool, String)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, held, status FROM feedback_reports WHERE token = $1"
        ).bind(token).fetch_optional(c).await)?;
        Ok(row.map(|(id, held, status)| (id, !held && status != "rejected")))
    }

    /// Public reports, newest first.
    pub async fn public_list(&self, q: &PublicQuery, limit: i64) -> Result<Vec<Line>> {
        let mut sql = format!("{LINE} WHERE r.held = FALSE AND r.status <> 'rejected'");
        let mut binds: Vec<String> = Vec::new();
        let mut add = |cond: &str, v: &str, sql: &mut String| {
            binds.push(v.to_string());
            sql.push_str(&format!(" AND {cond} = ${}", binds.len()));
        };
        if let Some(u) = q.unit.as_deref().filter(|s| !s.is_empty()) {
            add("r.unit_code", u, &mut sql);
        }
        if let Some(pv) = q.province.as_deref().filter(|s| !s.is_empty()) {
            add("r.province_code", pv, &mut sql);
        }
        if let Some(s) = q.service.as_deref().filter(|s| !s.is_empty()) {
            add("r.service_code", s, &mut sql);
        }
        if let Some(k) = q.kind.as_deref().filter(|s| !s.is_empty()) {
            add("r.kind", k, &mut sql);
        }
        match q.state.as_deref() {
            Some("open") => sql.push_str(" AND r.status IN ('received', 'in_progress')"),
            Some("closed") => sql.push_str(" AND r.status IN ('answered', 'merged')"),
            _ => {}
        }
        sql.push_str(&format!(
            " ORDER BY r.requested_at DESC, r.id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ));
        self.lines(sql, binds).await
    }

    async fn lines(&self, sql: String, binds: Vec<String>) -> Result<Vec<Line>> {
        Ok(on_db!(&self.db, c => {
            let mut q = sqlx::query_as::<_, Line>(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                q = q.bind(b.clone());
            }
            q.fetch_all(c).await
        })?)
    }

    /// The reports an account filed, newest first.
    pub async fn mine(&self, account: &str) -> Result<Vec<Line>> {
        let sql =
            format!("{LINE} WHERE r.reporter_account = $1 ORDER BY r.requested_at DESC LIMIT 200");
        self.lines(sql, vec![account.to_string()]).await
    }

    /// An agency's queue: open reports by deadline (or those asked for).
    pub async fn queue(&self, p: &Principal, agency: &str, q: &QueueQuery) -> Result<Vec<Line>> {
        self.allow_handle(p, agency).await?;
        let mut sql = format!("{LINE} WHERE r.agency_code = $1");
        let mut binds = vec![agency.to_string()];
        match q.show.as_deref().unwrap_or("open") {
            "held" => {
                sql.push_str(" AND r.held = TRUE AND r.status IN ('received', 'in_progress')")
            }
            "overdue" => {
                sql.push_str(" AND r.status IN ('received', 'in_progress') AND r.due_at < $2");
                binds.push(String::new());
            }
            "closed" => sql.push_str(" AND r.status IN ('answered', 'merged', 'rejected')"),
            "all" => {}
            _ => sql.push_str(" AND r.status IN ('received', 'in_progress')"),
        }
        if let Some(s) = q.service.as_deref().filter(|s| !s.is_empty()) {
            binds.push(s.to_string());
            sql.push_str(&format!(" AND r.service_code = ${}", binds.len()));
        }
        sql.push_str(" ORDER BY r.due_at, r.id LIMIT 500");
        if q.show.as_deref() == Some("overdue") {
            // The deadline is a timestamp: bound as one, not as text.
            let now = self.clock.now();
            let service = q.service.clone().filter(|s| !s.is_empty());
            return Ok(on_db!(&self.db, c => {
                let mut qq = sqlx::query_as::<_, Line>(sqlx::AssertSqlSafe(sql.clone())).bind(agency.to_string()).bind(now);
                if let Some(s) = &service {
                    qq = qq.bind(s.clone());
                }
                qq.fetch_all(c).await
            })?);
        }
        self.lines(sql, binds).await
    }

    /// Someone who sees the same problem follows a report: told of every update.
    pub async fn follow(&self, id: &str, email: &str, account: Option<&str>) -> Result<bool> {
        let email = email.trim().to_lowercase();
        if !email_ok(&email) {
            return Err(invalid(
                "email",
                "Địa chỉ thư điện tử không đúng dạng",
                "The e-mail address is not valid",
            ));
        }
        let row = self
            .row(id)
            .await?
            .filter(Self::is_public)
            .ok_or_else(|| FeedbackError::NotFound(format!("phản ánh {id}")))?;
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let added = self
            .add_follower(&mut tx, &row.id, &email, account, now)
            .await?;
        if added {
            on_tx!(&mut tx, c => sqlx::query("UPDATE feedback_reports SET supporters = supporters + 1 WHERE id = $1")
                .bind(&row.id).execute(c).await.map(|_| ()))?;
            kernel::audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: &account
                        .map(|a| format!("account/{a}"))
                        .unwrap_or_else(|| "public".into()),
                    action: "feedback.follow",
                    subject: &format!("feedback/{}", row.id),
                    data: json!({}),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Acts on a report: officials of its agency, or its reporter (reopening).
    pub async fn act(
        &self,
        id: &str,
        p: Option<&Principal>,
        token: Option<&str>,
        req: &ActRequest,
    ) -> Result<Report> {
        let row = self
            .row(id.trim())
            .await?
            .ok_or_else(|| FeedbackError::NotFound(format!("phản ánh {id}")))?;
        let viewer = self.viewer_of(&row, p, token).await?;
        let allowed = if req.act.by_reporter() {
            viewer == Viewer::Reporter || viewer == Viewer::Handler
        } else {
            viewer == Viewer::Handler
        };
        if !allowed {
            if viewer == Viewer::Public && !Self::is_public(&row) {
                return Err(FeedbackError::NotFound(format!("phản ánh {id}")));
            }
            if let Some(p) = p {
                self.identity
                    .record_denial(
                        &p.id,
                        identity::Action::HandleFeedback,
                        &identity::Resource::Agency(&row.agency_code),
                    )
                    .await?;
                return Err(FeedbackError::Forbidden);
            }
            return Err(FeedbackError::NeedLogin);
        }
        let now = self.clock.now();
        let to = rules::next(row.state(), req.act, now)
            .map_err(|r| refused(409, "wrong_status", r.vi, r.en))?;
        let note = clean(&req.note);
        if note.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(too_long("note", MAX_DESCRIPTION_CHARS));
        }
        let need_note = matches!(req.act, Act::Answer | Act::Note | Act::Reject | Act::Reopen);
        if need_note && note.chars().count() < 5 {
            return Err(invalid(
                "note",
                match req.act {
                    Act::Answer => "Hãy viết nội dung trả lời",
                    Act::Reject => "Hãy nêu lý do không xử lý",
                    Act::Reopen => "Hãy nêu vì sao cần xử lý lại",
                    _ => "Hãy viết nội dung cập nhật",
                },
                match req.act {
                    Act::Answer => "Write the answer",
                    Act::Reject => "Give the reason",
                    Act::Reopen => "Say why it needs more work",
                    _ => "Write the update",
                },
            ));
        }
        let actor = match (p, viewer) {
            (Some(p), _) => crate::actor_of(p),
            (None, _) => "reporter".to_string(),
        };
        let mut tx = Tx::begin(&self.db).await?;
        let mut public_note = note.clone();
        let mut public = true;
        let mut data = json!({ "from": row.status, "to": to.as_str() });
        match req.act {
            Act::Start => {
                if public_note.is_empty() {
                    public_note = "Cơ quan đã tiếp nhận và đang xử lý.".into();
                }
            }
            Act::Note => {}
            Act::Answer => {
                let fold = if req.public {
                    rules::search_fold(&[&row.title, &row.description_public, &row.address, &note])
                } else {
                    rules::search_fold(&[&row.title, &row.description_public, &row.address])
                };
                on_tx!(&mut tx, c => sqlx::query(
                    "UPDATE feedback_reports SET answer = $2, answer_public = $3, answered_by = $4, answered_at = $5, closed_at = $5, search_fold = $6 WHERE id = $1"
                ).bind(&row.id).bind(&note).bind(req.public).bind(&actor).bind(now).bind(&fold).execute(c).await.map(|_| ()))?;
                public = req.public;
                if !req.public {
                    public_note = "Cơ quan đã trả lời riêng người phản ánh.".into();
                }
                data["public"] = json!(req.public);
            }
            Act::Approve => {
                let fold = rules::search_fold(&[&row.title, &row.description_public, &row.address]);
                on_tx!(&mut tx, c => sqlx::query("UPDATE feedback_reports SET held = FALSE, held_reason = NULL, search_fold = $2 WHERE id = $1")
                    .bind(&row.id).bind(&fold).execute(c).await.map(|_| ()))?;
                public_note = "Phản ánh đã được kiểm duyệt và công khai.".into();
                // The received update was kept private while the report waited: now public.
                on_tx!(&mut tx, c => sqlx::query("UPDATE feedback_updates SET public = TRUE WHERE report_id = $1 AND action = 'received'")
                    .bind(&row.id).execute(c).await.map(|_| ()))?;
            }
            Act::Reject => {
                on_tx!(&mut tx, c => sqlx::query("UPDATE feedback_reports SET closed_at = $2, search_fold = '' WHERE id = $1")
                    .bind(&row.id).bind(now).execute(c).await.map(|_| ()))?;
                public = false;
            }
            Act::Merge => {
                let into = req.into.as_deref().map(str::trim).unwrap_or("");
                let target = self
                    .row(into)
                    .await?
                    .filter(|t| t.id != row.id)
                    .ok_or_else(|| {
                        invalid(
                            "into",
                            format!("Không có phản ánh “{into}” để gộp vào"),
                            format!("There is no report “{into}” to merge into"),
                        )
                    })?;
                if target.agency_code != row.agency_code
                    || !target.status().is_open()
                    || target.held
                {
                    return Err(refused(
                        409,
                        "merge_refused",
                        "Chỉ gộp được vào phản ánh đang mở, đã công khai, của cùng cơ quan",
                        "A report merges only into an open, public report of the same agency",
                    ));
                }
                if target.service_code != row.service_code {
                    return Err(refused(
                        409,
                        "merge_refused",
                        "Chỉ gộp được hai phản ánh cùng loại",
                        "Only reports of the same kind merge",
                    ));
                }
                on_tx!(&mut tx, c => sqlx::query("UPDATE feedback_reports SET duplicate_of = $2, closed_at = $3 WHERE id = $1")
                    .bind(&row.id).bind(&target.id).bind(now).execute(c).await.map(|_| ()))?;
                on_tx!(&mut tx, c => sqlx::query("UPDATE feedback_reports SET supporters = supporters + 1 + $2, updated_at = $3 WHERE id = $1")
                    .bind(&target.id).bind(row.supporters).bind(now).execute(c).await.map(|_| ()))?;
                let followers: Vec<(String, Option<String>)> = on_tx!(&mut tx, c => sqlx::query_as(
                    "SELECT email, account_id FROM feedback_followers WHERE report_id = $1"
                ).bind(&row.id).fetch_all(c).await)?;
                for (e, a) in &followers {
                    self.add_follower(&mut tx, &target.id, e, a.as_deref(), now)
                        .await?;
                }
                self.add_update(
                    &mut tx,
                    &target.id,
                    now,
                    &actor,
                    "merged_in",
                    target.status(),
                    &format!("Phản ánh {} về cùng vấn đề đã được gộp vào đây.", row.id),
                    true,
                )
                .await?;
                if public_note.is_empty() {
                    public_note =
                        format!("Cùng vấn đề với phản ánh {}: theo dõi tại đó.", target.id);
                }
                data["into"] = json!(target.id);
            }
            Act::Transfer => {
                let to_agency = req.agency.as_deref().map(str::trim).unwrap_or("");
                if to_agency == row.agency_code
                    || !self.catalog.lookup().agencies.contains_key(to_agency)
                {
                    return Err(invalid(
                        "agency",
                        format!("Không chuyển được tới cơ quan “{to_agency}”"),
                        format!("Cannot hand the report to “{to_agency}”"),
                    ));
                }
                let agency = to_agency.to_string();
                on_tx!(&mut tx, c => sqlx::query("UPDATE feedback_reports SET agency_code = $2 WHERE id = $1")
                    .bind(&row.id).bind(&agency).execute(c).await.map(|_| ()))?;
                let name = self.agency_name(&agency);
                public_note = if note.is_empty() {
                    format!("Đã chuyển {name} xử lý.")
                } else {
                    format!("Đã chuyển {name} xử lý: {note}")
                };
                data["agency"] = json!(agency);
            }
            Act::Reopen => {
                on_tx!(&mut tx, c => sqlx::query(
                    "UPDATE feedback_reports SET reopens = reopens + 1, closed_at = NULL, due_at = $2 WHERE id = $1"
                ).bind(&row.id).bind(self.reopen_due(&row, now).await?).execute(c).await.map(|_| ()))?;
                public_note = format!("Người phản ánh đề nghị xử lý lại: {note}");
            }
            Act::HidePhoto => {
                let n = req.photo.unwrap_or(0);
                let changed = on_tx!(&mut tx, c => sqlx::query("UPDATE feedback_photos SET public = FALSE WHERE report_id = $1 AND n = $2")
                    .bind(&row.id).bind(n).execute(c).await.map(|r| r.rows_affected()))?;
                if changed == 0 {
                    return Err(invalid(
                        "photo",
                        format!("Không có ảnh số {n}"),
                        format!("There is no photo {n}"),
                    ));
                }
                public = false;
                if public_note.is_empty() {
                    public_note = format!("Ảnh {n} được ẩn khỏi trang công khai.");
                }
                data["photo"] = json!(n);
            }
        }
        on_tx!(&mut tx, c => sqlx::query("UPDATE feedback_reports SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(&row.id).bind(to.as_str()).bind(now).execute(c).await.map(|_| ()))?;
        self.add_update(
            &mut tx,
            &row.id,
            now,
            &actor,
            req.act.as_str(),
            to,
            &public_note,
            (public && !row.held) || req.act == Act::Approve,
        )
        .await?;
        kernel::audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor,
                action: &format!("feedback.{}", req.act.as_str()),
                subject: &format!("feedback/{}", row.id),
                data,
            },
        )
        .await?;
        // Tell the reporter and followers.
        if req.act != Act::HidePhoto {
            let followers: Vec<(String, Option<String>)> = on_tx!(&mut tx, c => sqlx::query_as(
                "SELECT email, account_id FROM feedback_followers WHERE report_id = $1 ORDER BY since"
            ).bind(&row.id).fetch_all(c).await)?;
            let text = if req.act == Act::Answer {
                format!("Trả lời: {note}")
            } else {
                public_note.clone()
            };
            for (email, account) in followers {
                let is_reporter = row.reporter_email.as_deref() == Some(email.as_str());
                // A private answer or a refusal reaches the reporter alone.
                if !is_reporter && (!public || req.act == Act::Reject) {
                    continue;
                }
                let link = if is_reporter {
                    format!("{}/phan-anh/{}?t={}", self.public_url, row.id, row.token)
                } else {
                    format!("{}/phan-anh/{}", self.public_url, row.id)
                };
                let subject = format!("Phản ánh {}: {}", row.id, to.label(true));
                let body = format!(
                    "Phản ánh “{}” ({}) có cập nhật: {}.\n{}\n\nXem chi tiết: {link}\n\nReport {} was updated: {}.",
                    row.title,
                    row.id,
                    to.label(true),
                    text,
                    row.id,
                    to.label(false)
                );
                identity::outbox::enqueue(
                    &mut tx,
                    now,
                    "email",
                    &email,
                    account.as_deref(),
                    &subject,
                    &body,
                )
                .await?;
            }
            // A reporter who gave a phone and no address is sent a text message.
            if row.reporter_email.is_none()
                && let Some(ph) = row
                    .reporter_phone
                    .as_deref()
                    .filter(|_| self.identity.sms_enabled())
            {
                let sms = format!(
                    "Phan anh {}: {}. Xem: {}/phan-anh/{}?t={}",
                    row.id,
                    kernel::text::fold(to.label(true)),
                    self.public_url,
                    row.id,
                    row.token
                );
                identity::outbox::enqueue(
                    &mut tx,
                    now,
                    "sms",
                    ph,
                    row.reporter_account.as_deref(),
                    "",
                    &sms,
                )
                .await?;
            }
        }
        tx.commit().await?;
        self.identity.wake_mailer();
        let row = self
            .row(&row.id)
            .await?
            .ok_or_else(|| FeedbackError::NotFound(format!("phản ánh {id}")))?;
        self.build(
            row,
            if viewer == Viewer::Handler && p.is_some() {
                Viewer::Handler
            } else {
                Viewer::Reporter
            },
        )
        .await
    }

    async fn reopen_due(&self, row: &Row, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
        let days = self
            .service(&row.service_code)
            .await?
            .map(|s| s.expected_days)
            .unwrap_or(10);
        Ok(rules::due(&self.calendar(), now, days))
    }

    /// Published answers whose report or answer holds every word of `q` (folded the way the
    /// catalogue's search folds Vietnamese), newest first.
    pub async fn search_answers(&self, q: &str, limit: i64) -> Result<Vec<AnswerHit>> {
        let words = rules::query_words(q);
        let mut sql = String::from(
            "SELECT id, service_code, agency_code, title, description_public, answer, answered_at FROM feedback_reports \
             WHERE status = 'answered' AND answer_public = TRUE AND held = FALSE AND answer IS NOT NULL AND answered_at IS NOT NULL",
        );
        let mut binds = Vec::new();
        for w in &words {
            binds.push(format!("% {w} %"));
            sql.push_str(&format!(" AND search_fold LIKE ${}", binds.len()));
        }
        sql.push_str(&format!(
            " ORDER BY answered_at DESC, id DESC LIMIT {}",
            limit.clamp(1, 200)
        ));
        Ok(on_db!(&self.db, c => {
            let mut qq = sqlx::query_as::<_, AnswerHit>(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                qq = qq.bind(b.clone());
            }
            qq.fetch_all(c).await
        })?)
    }

    /// A photo's bytes (or its thumbnail's) and type, if the reader may see it.
    pub async fn photo(
        &self,
        id: &str,
        n: i64,
        thumb: bool,
        p: Option<&Principal>,
        token: Option<&str>,
    ) -> Result<(Vec<u8>, String)> {
        let row = self
            .row(id)
            .await?
            .ok_or_else(|| FeedbackError::NotFound(format!("phản ánh {id}")))?;
        let viewer = self.viewer_of(&row, p, token).await?;
        if viewer == Viewer::Public && !Self::is_public(&row) {
            return Err(FeedbackError::NotFound(format!("phản ánh {id}")));
        }
        let photo: Option<(String, String, String, bool)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT sha256, thumb_sha256, media_type, public FROM feedback_photos WHERE report_id = $1 AND n = $2"
        ).bind(&row.id).bind(n).fetch_optional(c).await)?;
        let (sha, tsha, media, _) = photo
            .filter(|p| p.3 || viewer != Viewer::Public)
            .ok_or_else(|| FeedbackError::NotFound(format!("ảnh {n}")))?;
        let blob = kernel::blob::BlobId::parse(if thumb { &tsha } else { &sha })?;
        let bytes = self.blobs.get(&blob)?;
        Ok((bytes, if thumb { "image/jpeg".into() } else { media }))
    }

    /// Public reports for the Open311 `GET requests` answer.
    pub async fn open311_requests(&self, w: &Wanted<'_>) -> Result<Vec<Report>> {
        let Wanted {
            ids,
            services,
            from,
            to,
            statuses,
            limit,
            offset,
        } = *w;
        let mut sql = format!("{ROW} WHERE held = FALSE AND status <> 'rejected'");
        let mut binds: Vec<String> = Vec::new();
        if !ids.is_empty() {
            let marks: Vec<String> = ids
                .iter()
                .map(|i| {
                    binds.push(i.clone());
                    format!("${}", binds.len())
                })
                .collect();
            sql.push_str(&format!(" AND id IN ({})", marks.join(", ")));
        }
        if !services.is_empty() {
            let marks: Vec<String> = services
                .iter()
                .map(|i| {
                    binds.push(i.clone());
                    format!("${}", binds.len())
                })
                .collect();
            sql.push_str(&format!(" AND service_code IN ({})", marks.join(", ")));
        }
        let open = statuses.iter().any(|s| s.is_open());
        let closed = statuses.iter().any(|s| !s.is_open());
        match (open, closed) {
            (true, false) => sql.push_str(" AND status IN ('received', 'in_progress')"),
            (false, true) => sql.push_str(" AND status IN ('answered', 'merged')"),
            _ => {}
        }
        let n = binds.len();
        if from.is_some() {
            sql.push_str(&format!(" AND requested_at >= ${}", n + 1));
        }
        if to.is_some() {
            sql.push_str(&format!(
                " AND requested_at <= ${}",
                n + 1 + usize::from(from.is_some())
            ));
        }
        sql.push_str(&format!(
            " ORDER BY requested_at DESC, id DESC LIMIT {} OFFSET {}",
            limit.clamp(1, 1000),
            offset.clamp(0, 1_000_000)
        ));
        let rows: Vec<Row> = on_db!(&self.db, c => {
            let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                q = q.bind(b.clone());
            }
            if let Some(f) = from {
                q = q.bind(f);
            }
            if let Some(t) = to {
                q = q.bind(t);
            }
            q.fetch_all(c).await
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.build(r, Viewer::Public).await?);
        }
        Ok(out)
    }

    /// Public updates in a time window (the `servicerequestupdates` extension), oldest first.
    pub async fn public_updates(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        report: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(Update, String, Option<String>)>> {
        #[derive(sqlx::FromRow)]
        struct U {
            id: i64,
            at: DateTime<Utc>,
            action: String,
            status: String,
            note: String,
            public: bool,
            report_id: String,
            media_url: Option<String>,
        }
        let sql = format!(
            "SELECT u.id, u.at, u.action, u.status, u.note, u.public, u.report_id, r.media_url FROM feedback_updates u \
             JOIN feedback_reports r ON r.id = u.report_id WHERE u.public = TRUE AND r.held = FALSE AND r.status <> 'rejected' \
             AND u.at >= $1 AND u.at <= $2 AND ($3 = '' OR u.report_id = $3) ORDER BY u.id LIMIT {}",
            limit.clamp(1, 1000)
        );
        let rows: Vec<U> = on_db!(&self.db, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(from).bind(to).bind(report.unwrap_or("")).fetch_all(c).await)?;
        Ok(rows
            .into_iter()
            .map(|u| {
                (
                    Update {
                        id: u.id,
                        at: u.at,
                        action: u.action,
                        status: u.status,
                        note: u.note,
                        public: u.public,
                    },
                    u.report_id,
                    u.media_url,
                )
            })
            .collect())
    }

    /// A comment an Open311 client sends about a report it filed (the
    /// `servicerequestupdates` extension): a public note on the report, its personal data
    /// hidden, or a private one when it should wait for a moderator. Answers the update's id,
    /// or none when no report with that id was filed with this key.
    pub async fn client_comment(
        &self,
        id: &str,
        key_id: &str,
        text: &str,
        fixed: bool,
    ) -> Result<Option<i64>> {
        let Some(row) = self.row(id.trim()).await? else {
            return Ok(None);
        };
        let mine: Option<(Option<String>,)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT api_key_id FROM feedback_reports WHERE id = $1"
        ).bind(&row.id).fetch_optional(c).await)?;
        if mine.and_then(|m| m.0).as_deref() != Some(key_id) {
            return Ok(None);
        }
        let text = clean(text);
        if text.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(too_long("description", MAX_DESCRIPTION_CHARS));
        }
        let mut note = rules::mask_personal(&text, &[row.reporter_name.as_str()]);
        if fixed {
            note = if note.is_empty() {
                "Người phản ánh cho biết vấn đề đã được khắc phục.".into()
            } else {
                format!("Người phản ánh cho biết vấn đề đã được khắc phục: {note}")
            };
        }
        if note.is_empty() {
            return Err(invalid(
                "description",
                "Hãy viết nội dung",
                "Write the comment",
            ));
        }
        let public = rules::hold_reason(&text).is_none() && Self::is_public(&row);
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        self.add_update(
            &mut tx,
            &row.id,
            now,
            &format!("feedback_key/{key_id}"),
            "comment",
            row.status(),
            &note,
            public,
        )
        .await?;
        let (uid,): (i64,) = on_tx!(&mut tx, c => sqlx::query_as(
            "SELECT MAX(id) FROM feedback_updates WHERE report_id = $1"
        ).bind(&row.id).fetch_one(c).await)?;
        on_tx!(&mut tx, c => sqlx::query("UPDATE feedback_reports SET updated_at = $2 WHERE id = $1")
            .bind(&row.id).bind(now).execute(c).await.map(|_| ()))?;
        kernel::audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &format!("feedback_key/{key_id}"),
                action: "feedback.comment",
                subject: &format!("feedback/{}", row.id),
                data: json!({ "public": public, "fixed": fixed }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(uid))
    }
}
