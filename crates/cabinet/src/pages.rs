//! The pages of e-Cabinet. For members, phone and tablet first: their meetings and ballots,
//! a meeting with its agenda and papers, a document, a ballot with its vote form. For the
//! secretariat: its bodies (members, meetings, ballots, new ones), and the pages that run a
//! meeting (participants, agenda, papers, attendance, minutes, conclusions, the notice) and a
//! ballot (draft, papers, opening, reminders, signature checks, close, publish).
//!
//! Plain HTML forms only (no script); every POST carries the session's CSRF token; a form the
//! service refuses comes back with the reasons and what was typed, with the refusal's status.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, FromRef, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, NaiveTime, Utc, Weekday};
use serde::Deserialize;
use web::{Chrome, PageError, Site, render, render_status};

use identity::web::Auth;
use identity::{Action, Principal, Resource};
use kernel::Problem;

use crate::ballots::{Ballot, BallotLine, BallotSpec, BallotView, VoteCheck, VoterLine};
use crate::error::{invalid, refused};
use crate::meetings::{
    AttendanceSpec, DocumentLine, Meeting, MeetingLine, MeetingSpec, MeetingView, Member,
    MemberSpec,
};
use crate::rules::{
    Access, Answer, BallotStatus, Choice, MeetingMove, MeetingStatus, ParticipantRole,
};
use crate::{Cabinet, CabinetError};

/// e-Cabinet's pages.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Cabinet>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
    Site: FromRef<S>,
{
    let upload_limit = DefaultBodyLimit::max(crate::MAX_DOCUMENT_BYTES + 256 * 1024);
    axum::Router::new()
        .route("/noi-cac", get(home_page))
        .route("/noi-cac/hop/{id}", get(meeting_page))
        .route("/noi-cac/tai-lieu/{id}", get(document))
        .route("/noi-cac/phieu/{id}", get(ballot_page).post(ballot_post))
        .route("/noi-cac/thu-ky", get(desk_page).post(desk_post))
        .route(
            "/noi-cac/thu-ky/hop/{id}",
            get(run_meeting_page).post(run_meeting_post),
        )
        .route(
            "/noi-cac/thu-ky/hop/{id}/tai-lieu",
            post(meeting_upload).layer(upload_limit),
        )
        .route(
            "/noi-cac/thu-ky/phieu/{id}",
            get(run_ballot_page).post(run_ballot_post),
        )
        .route(
            "/noi-cac/thu-ky/phieu/{id}/tai-lieu",
            post(ballot_upload).layer(upload_limit),
        )
}

// ----- what every page does the same way -----

fn login_to(next: &str) -> Response {
    Redirect::to(&format!(
        "/dang-nhap?next={}",
        web::layout::encode_component(next)
    ))
    .into_response()
}

fn login_first(c: &Chrome) -> Response {
    login_to(&c.here)
}

/// A form field, trimmed (empty when absent).
fn field(f: &HashMap<String, String>, k: &str) -> String {
    f.get(k).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// The reasons of a refusal, in the page's language.
fn lines_of(e: &CabinetError, vi: bool) -> Vec<String> {
    match e {
        CabinetError::Invalid(list) => list
            .iter()
            .map(|d| if vi { d.vi.clone() } else { d.en.clone() })
            .collect(),
        other => vec![if vi {
            other.message_vi()
        } else {
            other.message_en()
        }],
    }
}

/// The status a refused form comes back with; `None` when the refusal is a page of its own
/// (not allowed, not found, a failure).
fn form_status(e: &CabinetError) -> Option<StatusCode> {
    match e {
        CabinetError::Invalid(_) => Some(StatusCode::UNPROCESSABLE_ENTITY),
        CabinetError::Refused { status, .. } if !matches!(status, 403 | 404) => {
            StatusCode::from_u16(*status).ok()
        }
        _ => None,
    }
}

/// An optional item number from a form (empty: the whole meeting).
fn item_of(f: &HashMap<String, String>) -> Result<Option<i64>, CabinetError> {
    let v = field(f, "item");
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<i64>().map(Some).map_err(|_| {
        invalid(
            "item",
            "Số thứ tự nội dung không hợp lệ",
            "The item number is not a number",
        )
    })
}

/// A moment typed into `<input type="datetime-local">`, in Vietnam's time.
fn local_moment(
    f: &HashMap<String, String>,
    k: &str,
    vi: &str,
    en: &str,
) -> Result<DateTime<Utc>, CabinetError> {
    let v = field(f, k);
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(&v, fmt).ok())
        .map(kernel::clock::from_local)
        .ok_or_else(|| {
            invalid(
                k,
                format!("Hãy nhập {vi} (ngày và giờ)"),
                format!("Enter the {en} (date and time)"),
            )
        })
}

/// A meeting as typed into the form: the start as a date and time, the end as a time of the
/// same day.
fn meeting_spec(body: &str, f: &HashMap<String, String>) -> Result<MeetingSpec, CabinetError> {
    let starts_at = local_moment(f, "starts_at", "thời gian bắt đầu", "start")?;
    let end = field(f, "ends_at");
    let end_time = ["%H:%M", "%H:%M:%S"]
        .iter()
        .find_map(|fmt| NaiveTime::parse_from_str(&end, fmt).ok())
        .ok_or_else(|| invalid("ends_at", "Hãy nhập giờ kết thúc", "Enter the time it ends"))?;
    let ends_at =
        kernel::clock::from_local(kernel::clock::to_local(starts_at).date().and_time(end_time));
    Ok(MeetingSpec {
        body: body.to_string(),
        title: field(f, "title"),
        starts_at,
        ends_at,
        place: field(f, "place"),
        online_url: field(f, "online_url"),
    })
}

/// A ballot as typed into the form: one question a line.
fn ballot_spec(body: &str, f: &HashMap<String, String>) -> Result<BallotSpec, CabinetError> {
    let deadline = local_moment(f, "deadline", "hạn trả lời", "deadline")?;
    Ok(BallotSpec {
        body: body.to_string(),
        title: field(f, "title"),
        description: f.get("description").cloned().unwrap_or_default(),
        questions: f
            .get("questions")
            .map(|q| q.lines().map(str::to_string).collect())
            .unwrap_or_default(),
        deadline,
        secret: f.contains_key("secret"),
        meeting_id: None,
    })
}

fn input_moment(t: DateTime<Utc>) -> String {
    kernel::clock::to_local(t)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

fn input_time(t: DateTime<Utc>) -> String {
    kernel::clock::to_local(t).format("%H:%M").to_string()
}

fn weekday(d: Weekday, vi: bool) -> &'static str {
    match (d, vi) {
        (Weekday::Mon, true) => "Thứ Hai",
        (Weekday::Tue, true) => "Thứ Ba",
        (Weekday::Wed, true) => "Thứ Tư",
        (Weekday::Thu, true) => "Thứ Năm",
        (Weekday::Fri, true) => "Thứ Sáu",
        (Weekday::Sat, true) => "Thứ Bảy",
        (Weekday::Sun, true) => "Chủ nhật",
        (Weekday::Mon, false) => "Monday",
        (Weekday::Tue, false) => "Tuesday",
        (Weekday::Wed, false) => "Wednesday",
        (Weekday::Thu, false) => "Thursday",
        (Weekday::Fri, false) => "Friday",
        (Weekday::Sat, false) => "Saturday",
        (Weekday::Sun, false) => "Sunday",
    }
}

/// What every page's template says the same way: moments in Vietnam's time, labels in the
/// page's language.
trait PageText {
    fn chrome(&self) -> &Chrome;
    fn vi(&self) -> bool {
        self.chrome().lang.is_vi()
    }
    /// `14/05/2026 08:00`.
    fn when(&self, t: &DateTime<Utc>) -> String {
        kernel::clock::to_local(*t)
            .format("%d/%m/%Y %H:%M")
            .to_string()
    }
    /// `Thứ Năm, 14/05/2026, 08:00–11:00`.
    fn span(&self, from: &DateTime<Utc>, to: &DateTime<Utc>) -> String {
        let (a, b) = (kernel::clock::to_local(*from), kernel::clock::to_local(*to));
        let day = format!(
            "{}, {}",
            weekday(a.weekday(), self.vi()),
            a.format("%d/%m/%Y")
        );
        if a.date() == b.date() {
            format!("{day}, {}–{}", a.format("%H:%M"), b.format("%H:%M"))
        } else {
            format!(
                "{day} {} – {}",
                a.format("%H:%M"),
                b.format("%d/%m/%Y %H:%M")
            )
        }
    }
    fn meeting_status(&self, s: &MeetingStatus) -> &'static str {
        s.label(self.vi())
    }
    fn ballot_status(&self, s: &BallotStatus) -> &'static str {
        s.label(self.vi())
    }
    fn role(&self, r: &ParticipantRole) -> &'static str {
        r.label(self.vi())
    }
    fn access(&self, a: &Access) -> &'static str {
        a.label(self.vi())
    }
    fn choice(&self, c: &Choice) -> &'static str {
        c.label(self.vi())
    }
    fn attendance(&self, a: &Option<String>) -> &'static str {
        match a.as_deref() {
            Some("present") => self.chrome().pick("Có mặt", "Present"),
            Some("absent") => self.chrome().pick("Vắng", "Absent"),
            Some("excused") => self.chrome().pick("Vắng có lý do", "Excused"),
            _ => "",
        }
    }
    /// A file's size, readable.
    fn size(&self, n: &i64) -> String {
        let n = *n;
        if n >= 1024 * 1024 {
            format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
        } else if n >= 1024 {
            format!("{} KB", n / 1024)
        } else {
            format!("{n} B")
        }
    }
    fn pages(&self, p: &Option<i64>) -> String {
        match p {
            Some(n) => format!(
                "{n} {}",
                self.chrome()
                    .pick("trang", if *n == 1 { "page" } else { "pages" })
            ),
            None => String::new(),
        }
    }
}

macro_rules! page_text {
    ($($t:ty),+) => {
        $(impl PageText for $t {
            fn chrome(&self) -> &Chrome {
                &self.c
            }
        })+
    };
}

page_text!(
    HomePage,
    MeetingPage,
    BallotPage,
    DeskPage,
    RunMeetingPage,
    RunBallotPage
);

/// A short confirmation after a Post/Redirect/Get, by its code.
#[derive(Debug, Default, Deserialize)]
struct Told {
    tb: Option<String>,
    n: Option<String>,
}

impl Told {
    fn read(q: Result<Query<Told>, QueryRejection>) -> Told {
        q.map(|Query(q)| q).unwrap_or_default()
    }

    fn message(&self, c: &Chrome) -> String {
        let n = self
            .n
            .as_deref()
            .and_then(|x| x.parse::<usize>().ok())
            .unwrap_or(0);
        let s = match self.tb.as_deref() {
            Some("thanh-vien") => c.pick("Đã lưu thành viên.", "The member is saved."),
            Some("bo-thanh-vien") => c.pick("Đã bỏ thành viên khỏi danh sách.", "The member is taken off."),
            Some("moi-tao") => c.pick("Đã tạo dự thảo. Hãy hoàn thiện rồi gửi đi.", "The draft is made. Complete it, then send it."),
            Some("luu") => c.pick("Đã lưu.", "Saved."),
            Some("tai-lieu") => c.pick("Đã thêm tài liệu.", "The document is added."),
            Some("trieu-tap") => c.pick("Đã gửi giấy mời họp tới người dự họp.", "The invitation is sent to the participants."),
            Some("ket-thuc") => c.pick("Đã ghi nhận phiên họp đã diễn ra.", "The meeting is recorded as held."),
            Some("huy") => c.pick("Đã hủy.", "Cancelled."),
            Some("thong-bao") => c.pick("Đã ban hành thông báo kết luận, ký số và gửi tới người dự họp.", "The conclusion notice is issued, signed and sent to the participants."),
            Some("mo-phieu") => c.pick("Đã gửi phiếu lấy ý kiến tới các thành viên.", "The ballot is sent to the members."),
            Some("dong-phieu") => c.pick("Đã kết thúc lấy ý kiến; mọi chữ ký đã được kiểm tra.", "The ballot is closed; every signature was checked."),
            Some("cong-bo") => c.pick("Đã công bố kết quả và bản tổng hợp có ký số.", "The result and the signed summary are published."),
            Some("nhac") if n == 0 => c.pick(
                "Không gửi được thư nhắc nào: những thành viên chưa cho ý kiến chưa có địa chỉ thư điện tử.",
                "No reminder went out: the members who have not voted have no e-mail address.",
            ),
            Some("nhac") => {
                return if c.lang.is_vi() {
                    format!("Đã gửi thư nhắc tới {n} thành viên chưa cho ý kiến.")
                } else {
                    format!("A reminder went to {n} member(s) who have not voted.")
                };
            }
            _ => "",
        };
        s.to_string()
    }
}

// ----- the member's home -----

#[derive(askama::Template)]
#[template(path = "cabinet_home.html")]
struct HomePage {
    c: Chrome,
    name: String,
    today: Vec<MeetingLine>,
    upcoming: Vec<MeetingLine>,
    to_read: Vec<(DocumentLine, String)>,
    waiting: Vec<BallotLine>,
    other_ballots: Vec<BallotLine>,
    runs: bool,
}

async fn home_page(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let now = cab.now();
    let today = kernel::clock::to_local(now).date();
    let start = today
        .and_hms_opt(0, 0, 0)
        .map(kernel::clock::from_local)
        .unwrap_or(now);
    let tomorrow = start + Duration::days(1);
    let go = async {
        let meetings = cab.my_meetings(&p, start).await?;
        let ballots = cab.my_ballots(&p).await?;
        let mut to_read = Vec::new();
        for l in &meetings {
            if l.unread == 0
                || matches!(
                    l.meeting.status,
                    MeetingStatus::Cancelled | MeetingStatus::Draft
                )
            {
                continue;
            }
            let v = cab.meeting(&p, &l.meeting.id).await?;
            let docs = v
                .items
                .iter()
                .flat_map(|i| i.documents.iter())
                .chain(v.documents.iter())
                .filter(|d| d.read_at.is_none())
                .cloned();
            for d in docs {
                to_read.push((d, l.meeting.title.clone()));
            }
        }
        Ok::<_, CabinetError>((meetings, ballots, to_read))
    };
    let (meetings, ballots, to_read) = go.await.map_err(|e| PageError::new(e, c.clone()))?;
    let (today, upcoming): (Vec<MeetingLine>, Vec<MeetingLine>) = meetings
        .into_iter()
        .filter(|l| l.meeting.ends_at >= start)
        .partition(|l| l.meeting.starts_at < tomorrow);
    let (waiting, other_ballots): (Vec<BallotLine>, Vec<BallotLine>) =
        ballots.into_iter().partition(|l| {
            l.votes && !l.voted && l.ballot.status == BallotStatus::Open && l.ballot.deadline > now
        });
    Ok(render(&HomePage {
        name: p.full_name.clone(),
        runs: !cab.bodies_run_by(&p).is_empty(),
        c,
        today,
        upcoming,
        to_read,
        waiting,
        other_ballots,
    }))
}

// ----- a meeting, as its participants see it -----

#[derive(askama::Template)]
#[template(path = "cabinet_meeting.html")]
struct MeetingPage {
    c: Chrome,
    v: MeetingView,
}

impl MeetingPage {
    fn item_title(&self, pos: &Option<i64>) -> String {
        match pos {
            Some(n) => self
                .v
                .items
                .iter()
                .find(|i| i.position == *n)
                .map(|i| format!("{n}. {}", i.title))
                .unwrap_or_else(|| n.to_string()),
            None => self.c.pick("Chung", "General").to_string(),
        }
    }
    fn concluded_any(&self) -> bool {
        !self.v.meeting.conclusion.trim().is_empty()
            || self.v.items.iter().any(|i| !i.conclusion.trim().is_empty())
    }
}

async fn meeting_page(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let v = cab
        .meeting(&p, &id)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(render(&MeetingPage { c, v }))
}

// ----- a document -----

async fn document(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let o = cab
        .open_document(&p, &id)
        .await
        .map_err(|e| PageError::new(e, c))?;
    let pdf = o.content_type == "application/pdf";
    let mut r = (StatusCode::OK, o.bytes).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&o.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let ascii: String = o
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        if pdf { "inline" } else { "attachment" },
        web::layout::encode_component(&o.file_name)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if o.stamped {
        h.insert("x-motcua-stamped", HeaderValue::from_static("reader"));
    }
    Ok(r)
}

// ----- a ballot, as its voters see it -----

/// One question of the vote form, with what is chosen and typed.
#[derive(Debug, Clone, Default)]
struct AnswerDraft {
    n: u32,
    text: String,
    choice: String,
    opinion: String,
    errors: Vec<String>,
}

#[derive(askama::Template)]
#[template(path = "cabinet_ballot.html")]
struct BallotPage {
    c: Chrome,
    csrf: String,
    v: BallotView,
    login: String,
    now: DateTime<Utc>,
    drafts: Vec<AnswerDraft>,
    errors: Vec<String>,
    confirmed: bool,
}

impl BallotPage {
    fn can_vote(&self) -> bool {
        self.v.votes
            && self.v.ballot.status == BallotStatus::Open
            && self.now < self.v.ballot.deadline
    }
    fn past_deadline(&self) -> bool {
        self.now >= self.v.ballot.deadline
    }
    fn closed(&self) -> bool {
        matches!(
            self.v.ballot.status,
            BallotStatus::Closed | BallotStatus::Published
        )
    }
    fn vote_href(&self, login: &str, what: &str) -> String {
        format!(
            "/api/v1/cabinet/ballots/{}/votes/{}/{what}",
            self.v.ballot.id,
            web::layout::encode_component(login)
        )
    }
    fn question(&self, n: &u32) -> String {
        self.v
            .ballot
            .questions
            .get((*n as usize).wrapping_sub(1))
            .cloned()
            .unwrap_or_default()
    }
    fn voted(&self, l: &VoterLine) -> bool {
        l.revision.is_some()
    }
}

/// The vote form's questions, filled with the voter's current vote.
fn drafts_of(v: &BallotView) -> Vec<AnswerDraft> {
    v.ballot
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let mine = v
                .my_vote
                .as_ref()
                .and_then(|m| m.document.answers.iter().find(|a| a.question == n));
            AnswerDraft {
                n,
                text: q.clone(),
                choice: mine
                    .map(|a| a.choice.as_str().to_string())
                    .unwrap_or_default(),
                opinion: mine.map(|a| a.opinion.clone()).unwrap_or_default(),
                errors: Vec::new(),
            }
        })
        .collect()
}

async fn ballot_page(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    q: Result<Query<Told>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let told = Told::read(q);
    let v = cab
        .ballot(&p, &id)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(render(&BallotPage {
        csrf: auth.csrf(),
        login: p.login.clone(),
        now: cab.now(),
        drafts: drafts_of(&v),
        confirmed: told.tb.as_deref() == Some("da-ky") && v.my_vote.is_some(),
        errors: Vec::new(),
        c,
        v,
    }))
}

async fn ballot_post(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let form = auth.checked_form(form, &c)?;
    let v = cab
        .ballot(&p, &id)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let mut drafts = drafts_of(&v);
    let mut answers = Vec::new();
    for d in &mut drafts {
        d.choice = field(&form, &format!("choice_{}", d.n));
        d.opinion = form
            .get(&format!("opinion_{}", d.n))
            .cloned()
            .unwrap_or_default();
        // An unknown or missing choice is left out: the check says the question is not answered.
        if let Some(choice) = Choice::parse(&d.choice) {
            answers.push(Answer {
                question: d.n,
                choice,
                opinion: d.opinion.clone(),
            });
        } else {
            d.choice.clear();
        }
    }
    match cab.vote(&p, &id, &answers).await {
        Ok(_) => Ok(Redirect::to(&format!("/noi-cac/phieu/{id}?tb=da-ky")).into_response()),
        Err(e) => {
            let Some(status) = form_status(&e) else {
                return Err(PageError::new(e, c));
            };
            let vi = c.lang.is_vi();
            if let CabinetError::Invalid(list) = &e {
                for x in list {
                    let at = x.at.strip_prefix("answers.").unwrap_or("");
                    let n = at.split('.').next().and_then(|n| n.parse::<u32>().ok());
                    if let Some(d) = drafts.iter_mut().find(|d| Some(d.n) == n) {
                        d.errors.push(if vi { x.vi.clone() } else { x.en.clone() });
                    }
                }
            }
            let page = BallotPage {
                csrf: auth.csrf(),
                login: p.login.clone(),
                now: cab.now(),
                drafts,
                confirmed: false,
                errors: lines_of(&e, vi),
                c,
                v,
            };
            Ok(render_status(status, &page))
        }
    }
}

// ----- the secretariat's desk -----

/// One body the secretariat runs.
struct Desk {
    code: String,
    name: String,
    members: Vec<Member>,
    meetings: Vec<Meeting>,
    ballots: Vec<Ballot>,
}

#[derive(askama::Template)]
#[template(path = "cabinet_desk.html")]
struct DeskPage {
    c: Chrome,
    csrf: String,
    desks: Vec<Desk>,
    /// The form that came back: its body, its act and what was typed.
    body: String,
    act: String,
    typed: HashMap<String, String>,
    errors: Vec<String>,
    message: String,
    now: DateTime<Utc>,
}

impl DeskPage {
    /// What was typed into `key` of the form `act` of `body`, or `default`.
    fn val(&self, body: &str, act: &str, key: &str, default: impl AsRef<str>) -> String {
        if self.body == body && self.act == act {
            self.typed.get(key).cloned().unwrap_or_default()
        } else {
            default.as_ref().to_string()
        }
    }
    fn failed(&self, body: &str, act: &str) -> bool {
        !self.errors.is_empty() && self.body == body && self.act == act
    }
    fn chose(
        &self,
        body: &str,
        act: &str,
        key: &str,
        value: impl AsRef<str>,
        default: bool,
    ) -> bool {
        if self.body == body && self.act == act {
            self.typed.get(key).map(String::as_str) == Some(value.as_ref())
        } else {
            default
        }
    }
    fn default_start(&self) -> String {
        let day = kernel::clock::to_local(self.now).date() + Duration::days(1);
        day.and_hms_opt(8, 0, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    }
    fn default_deadline(&self) -> String {
        let day = kernel::clock::to_local(self.now).date() + Duration::days(3);
        day.and_hms_opt(17, 0, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    }
}

async fn desk_view(
    cab: &Cabinet,
    p: &Principal,
    auth: &Auth,
    c: Chrome,
) -> Result<DeskPage, PageError> {
    let bodies = cab.bodies_run_by(p);
    if bodies.is_empty() {
        // Records the refusal.
        auth.check(Action::RunCabinet, &Resource::Node)
            .await
            .map_err(|e| PageError::new(e, c.clone()))?;
        return Err(PageError::new(CabinetError::Forbidden, c));
    }
    let go = async {
        let ballots = cab.my_ballots(p).await?;
        let mut desks = Vec::new();
        for code in bodies {
            desks.push(Desk {
                name: cab.agency_name(&code),
                members: cab.members(&code).await?,
                meetings: cab.body_meetings(p, &code).await?,
                ballots: ballots
                    .iter()
                    .filter(|l| l.ballot.body == code)
                    .map(|l| l.ballot.clone())
                    .collect(),
                code,
            });
        }
        Ok::<_, CabinetError>(desks)
    };
    let desks = go.await.map_err(|e| PageError::new(e, c.clone()))?;
    Ok(DeskPage {
        c,
        csrf: auth.csrf(),
        desks,
        body: String::new(),
        act: String::new(),
        typed: HashMap::new(),
        errors: Vec::new(),
        message: String::new(),
        now: cab.now(),
    })
}

async fn desk_page(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<Told>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let message = Told::read(q).message(&c);
    let mut page = desk_view(&cab, &p, &auth, c).await?;
    page.message = message;
    Ok(render(&page))
}

async fn desk_post(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let form = auth.checked_form(form, &c)?;
    let body = field(&form, "body");
    let act = field(&form, "act");
    let done: Result<String, CabinetError> = async {
        match act.as_str() {
            "member" => {
                let position = ParticipantRole::parse(&field(&form, "position"))
                    .unwrap_or(ParticipantRole::Guest);
                let spec = MemberSpec {
                    position,
                    title: field(&form, "title"),
                };
                cab.set_member(&p, &body, &field(&form, "login"), &spec)
                    .await?;
                Ok("/noi-cac/thu-ky?tb=thanh-vien".to_string())
            }
            "remove_member" => {
                cab.remove_member(&p, &body, &field(&form, "login")).await?;
                Ok("/noi-cac/thu-ky?tb=bo-thanh-vien".to_string())
            }
            "meeting" => {
                let spec = meeting_spec(&body, &form)?;
                let m = cab.create_meeting(&p, &spec).await?;
                Ok(format!("/noi-cac/thu-ky/hop/{}?tb=moi-tao", m.id))
            }
            "ballot" => {
                let spec = ballot_spec(&body, &form)?;
                let b = cab.create_ballot(&p, &spec).await?;
                Ok(format!("/noi-cac/thu-ky/phieu/{}?tb=moi-tao", b.id))
            }
            _ => Err(invalid("act", "Thao tác không hợp lệ", "Unknown action")),
        }
    }
    .await;
    match done {
        Ok(to) => Ok(Redirect::to(&to).into_response()),
        Err(e) => {
            let Some(status) = form_status(&e) else {
                return Err(PageError::new(e, c));
            };
            let errors = lines_of(&e, c.lang.is_vi());
            let mut page = desk_view(&cab, &p, &auth, c).await?;
            page.body = body;
            page.act = act;
            page.typed = form;
            page.errors = errors;
            Ok(render_status(status, &page))
        }
    }
}

// ----- running a meeting -----

#[derive(askama::Template)]
#[template(path = "cabinet_run_meeting.html")]
struct RunMeetingPage {
    c: Chrome,
    csrf: String,
    v: MeetingView,
    members: Vec<Member>,
    /// Documents of the body on the exchange hub that the secretary may take in.
    hub: Vec<exchange::hub::RegisterLine>,
    act: String,
    typed: HashMap<String, String>,
    errors: Vec<String>,
    message: String,
}

impl RunMeetingPage {
    fn is(&self, s: &str) -> bool {
        self.v.meeting.status.as_str() == s
    }
    fn editable(&self) -> bool {
        self.v.meeting.status.is_editable()
    }
    fn may_attend(&self) -> bool {
        matches!(
            self.v.meeting.status,
            MeetingStatus::Scheduled | MeetingStatus::Ended
        )
    }
    fn may_note(&self) -> bool {
        matches!(
            self.v.meeting.status,
            MeetingStatus::Scheduled | MeetingStatus::Ended | MeetingStatus::Concluded
        )
    }
    fn may_conclude(&self) -> bool {
        matches!(
            self.v.meeting.status,
            MeetingStatus::Scheduled | MeetingStatus::Ended
        )
    }
    fn val(&self, act: &str, key: &str, default: impl AsRef<str>) -> String {
        if self.act == act {
            self.typed.get(key).cloned().unwrap_or_default()
        } else {
            default.as_ref().to_string()
        }
    }
    fn chose(&self, act: &str, key: &str, value: impl AsRef<str>, default: bool) -> bool {
        if self.act == act {
            self.typed.get(key).map(String::as_str) == Some(value.as_ref())
        } else {
            default
        }
    }
    fn start_value(&self) -> String {
        input_moment(self.v.meeting.starts_at)
    }
    fn end_value(&self) -> String {
        input_time(self.v.meeting.ends_at)
    }
    fn item_title(&self, pos: &Option<i64>) -> String {
        match pos {
            Some(n) => self
                .v
                .items
                .iter()
                .find(|i| i.position == *n)
                .map(|i| format!("{n}. {}", i.title))
                .unwrap_or_else(|| n.to_string()),
            None => self.c.pick("Chung", "General").to_string(),
        }
    }
    /// What the conclusion form of item `pos` holds: what was typed into it, or the
    /// conclusion so far.
    fn item_conclusion(&self, pos: &i64, current: &str) -> String {
        self.conclusion_typed(&pos.to_string())
            .unwrap_or_else(|| current.to_string())
    }
    /// What the meeting's own conclusion form holds.
    fn meeting_conclusion(&self) -> String {
        self.conclusion_typed("")
            .unwrap_or_else(|| self.v.meeting.conclusion.clone())
    }
    fn conclusion_typed(&self, item: &str) -> Option<String> {
        (self.act == "conclude" && self.typed.get("item").map(|s| s.trim()).unwrap_or("") == item)
            .then(|| self.typed.get("conclusion").cloned().unwrap_or_default())
    }
    /// The attendance buttons: each value with its label.
    fn attendances(&self) -> [(&'static str, &'static str); 3] {
        [
            ("present", self.c.pick("Có mặt", "Present")),
            ("absent", self.c.pick("Vắng", "Absent")),
            ("excused", self.c.pick("Vắng có lý do", "Excused")),
        ]
    }
    fn attended(&self, a: &Option<String>, value: &str) -> bool {
        a.as_deref() == Some(value)
    }
    fn roles(&self) -> [ParticipantRole; 4] {
        [
            ParticipantRole::Chair,
            ParticipantRole::Member,
            ParticipantRole::Secretariat,
            ParticipantRole::Guest,
        ]
    }
    fn accesses(&self) -> [Access; 3] {
        [Access::Participants, Access::Members, Access::Confidential]
    }
}

async fn run_meeting_view(
    cab: &Cabinet,
    p: &Principal,
    auth: &Auth,
    c: Chrome,
    id: &str,
) -> Result<RunMeetingPage, PageError> {
    let v = cab
        .meeting(p, id)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    if !v.runs {
        // Records the refusal and refuses.
        cab.allow_run(p, &v.meeting.body)
            .await
            .map_err(|e| PageError::new(e, c.clone()))?;
        return Err(PageError::new(CabinetError::Forbidden, c));
    }
    let members = cab
        .members(&v.meeting.body)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let hub = cab
        .hub_documents(p, &v.meeting.body)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(RunMeetingPage {
        c,
        csrf: auth.csrf(),
        v,
        members,
        hub,
        act: String::new(),
        typed: HashMap::new(),
        errors: Vec::new(),
        message: String::new(),
    })
}

async fn run_meeting_page(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    q: Result<Query<Told>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let message = Told::read(q).message(&c);
    let mut page = run_meeting_view(&cab, &p, &auth, c, &id).await?;
    page.message = message;
    Ok(render(&page))
}

async fn run_meeting_post(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let form = auth.checked_form(form, &c)?;
    let act = field(&form, "act");
    let done: Result<&str, CabinetError> = async {
        match act.as_str() {
            "participant" => {
                let role = ParticipantRole::parse(&field(&form, "role"))
                    .ok_or_else(|| invalid("role", "Hãy chọn vai trò", "Choose the role"))?;
                cab.set_participant(&p, &id, &field(&form, "login"), role)
                    .await?;
                Ok("luu")
            }
            "remove_participant" => {
                cab.remove_participant(&p, &id, &field(&form, "login"))
                    .await?;
                Ok("luu")
            }
            "item" => {
                cab.add_item(&p, &id, &field(&form, "title"), &field(&form, "presenter"))
                    .await?;
                Ok("luu")
            }
            "import" => {
                let access = Access::parse(&field(&form, "access")).ok_or_else(|| {
                    invalid("access", "Hãy chọn ai được đọc", "Choose who may read it")
                })?;
                let attachment = field(&form, "attachment")
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| {
                        invalid(
                            "attachment",
                            "Số thứ tự tệp đính kèm bắt đầu từ 1",
                            "Attachments are numbered from 1",
                        )
                    })?;
                let item = item_of(&form)?;
                cab.import_from_exchange(
                    &p,
                    &id,
                    &field(&form, "hub"),
                    attachment - 1,
                    access,
                    item,
                )
                .await?;
                Ok("tai-lieu")
            }
            "attendance" => {
                let a = AttendanceSpec {
                    login: field(&form, "login"),
                    attendance: field(&form, "attendance"),
                    note: field(&form, "note"),
                };
                cab.set_attendance(&p, &id, &a).await?;
                Ok("luu")
            }
            "note" => {
                let item = item_of(&form)?;
                cab.add_note(
                    &p,
                    &id,
                    item,
                    form.get("text").map(String::as_str).unwrap_or(""),
                )
                .await?;
                Ok("luu")
            }
            "conclude" => {
                let item = item_of(&form)?;
                cab.conclude(
                    &p,
                    &id,
                    item,
                    form.get("conclusion").map(String::as_str).unwrap_or(""),
                )
                .await?;
                Ok("luu")
            }
            "edit" => {
                let spec = meeting_spec("", &form)?;
                cab.edit_meeting(&p, &id, &spec).await?;
                Ok("luu")
            }
            "call" => {
                cab.move_meeting(&p, &id, MeetingMove::Call).await?;
                Ok("trieu-tap")
            }
            "end" => {
                cab.move_meeting(&p, &id, MeetingMove::End).await?;
                Ok("ket-thuc")
            }
            "cancel" => {
                cab.move_meeting(&p, &id, MeetingMove::Cancel).await?;
                Ok("huy")
            }
            "notice" => {
                cab.issue_notice(&p, &id).await?;
                Ok("thong-bao")
            }
            _ => Err(invalid("act", "Thao tác không hợp lệ", "Unknown action")),
        }
    }
    .await;
    match done {
        Ok(tb) => Ok(Redirect::to(&format!("/noi-cac/thu-ky/hop/{id}?tb={tb}")).into_response()),
        Err(e) => {
            let Some(status) = form_status(&e) else {
                return Err(PageError::new(e, c));
            };
            let errors = lines_of(&e, c.lang.is_vi());
            let mut page = run_meeting_view(&cab, &p, &auth, c, &id).await?;
            page.act = act;
            page.typed = form;
            page.errors = errors;
            Ok(render_status(status, &page))
        }
    }
}

/// Reads a multipart document upload whose CSRF token holds.
async fn upload_of(
    mp: Result<Multipart, MultipartRejection>,
    auth: &Auth,
    c: &Chrome,
) -> Result<(HashMap<String, String>, Option<(String, Vec<u8>)>), PageError> {
    let mp = mp.map_err(|e| {
        PageError::new(
            refused(
                400,
                "form_unreadable",
                "Hãy gửi biểu mẫu kèm tệp (multipart/form-data)",
                format!("Send the form with its file (multipart/form-data): {e}"),
            ),
            c.clone(),
        )
    })?;
    let (fields, file) = crate::api::read_upload(mp)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    if !auth.csrf_matches(&fields) {
        return Err(PageError::new(identity::IdentityError::Csrf, c.clone()));
    }
    Ok((fields, file))
}

async fn meeting_upload(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_to(&format!("/noi-cac/thu-ky/hop/{id}")));
    };
    let (fields, file) = upload_of(mp, &auth, &c).await?;
    let done = match crate::api::document_of(&fields, file) {
        Ok(d) => cab.add_meeting_document(&p, &id, &d).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => {
            Ok(Redirect::to(&format!("/noi-cac/thu-ky/hop/{id}?tb=tai-lieu")).into_response())
        }
        Err(e) => {
            let Some(status) = form_status(&e) else {
                return Err(PageError::new(e, c));
            };
            let errors = lines_of(&e, c.lang.is_vi());
            let mut page = run_meeting_view(&cab, &p, &auth, c, &id).await?;
            page.act = "document".into();
            page.typed = fields;
            page.errors = errors;
            Ok(render_status(status, &page))
        }
    }
}

// ----- running a ballot -----

#[derive(askama::Template)]
#[template(path = "cabinet_run_ballot.html")]
struct RunBallotPage {
    c: Chrome,
    csrf: String,
    v: BallotView,
    checks: Vec<VoteCheck>,
    act: String,
    typed: HashMap<String, String>,
    errors: Vec<String>,
    message: String,
}

impl RunBallotPage {
    fn is(&self, s: &str) -> bool {
        self.v.ballot.status.as_str() == s
    }
    fn val(&self, act: &str, key: &str, default: impl AsRef<str>) -> String {
        if self.act == act {
            self.typed.get(key).cloned().unwrap_or_default()
        } else {
            default.as_ref().to_string()
        }
    }
    fn chose(&self, act: &str, key: &str, value: impl AsRef<str>, default: bool) -> bool {
        if self.act == act {
            self.typed.get(key).map(String::as_str) == Some(value.as_ref())
        } else {
            default
        }
    }
    fn questions_value(&self) -> String {
        self.val("edit", "questions", self.v.ballot.questions.join("\n"))
    }
    fn deadline_value(&self) -> String {
        self.val("edit", "deadline", input_moment(self.v.ballot.deadline))
    }
    fn secret_checked(&self) -> bool {
        if self.act == "edit" {
            self.typed.contains_key("secret")
        } else {
            self.v.ballot.secret
        }
    }
    fn waiting(&self) -> Vec<&VoterLine> {
        self.v
            .voters
            .iter()
            .filter(|l| l.revision.is_none())
            .collect()
    }
    fn voted_count(&self) -> usize {
        self.v
            .voters
            .iter()
            .filter(|l| l.revision.is_some())
            .count()
    }
    fn accesses(&self) -> [Access; 3] {
        [Access::Participants, Access::Members, Access::Confidential]
    }
}

async fn run_ballot_view(
    cab: &Cabinet,
    p: &Principal,
    auth: &Auth,
    c: Chrome,
    id: &str,
) -> Result<RunBallotPage, PageError> {
    let v = cab
        .ballot(p, id)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    if !v.runs {
        cab.allow_run(p, &v.ballot.body)
            .await
            .map_err(|e| PageError::new(e, c.clone()))?;
        return Err(PageError::new(CabinetError::Forbidden, c));
    }
    let checks = if v.ballot.status == BallotStatus::Draft {
        Vec::new()
    } else {
        cab.verify_ballot(p, id)
            .await
            .map_err(|e| PageError::new(e, c.clone()))?
    };
    Ok(RunBallotPage {
        c,
        csrf: auth.csrf(),
        v,
        checks,
        act: String::new(),
        typed: HashMap::new(),
        errors: Vec::new(),
        message: String::new(),
    })
}

async fn run_ballot_page(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    q: Result<Query<Told>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let message = Told::read(q).message(&c);
    let mut page = run_ballot_view(&cab, &p, &auth, c, &id).await?;
    page.message = message;
    Ok(render(&page))
}

async fn run_ballot_post(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let form = auth.checked_form(form, &c)?;
    let act = field(&form, "act");
    let done: Result<String, CabinetError> = async {
        match act.as_str() {
            "edit" => {
                let spec = ballot_spec("", &form)?;
                cab.edit_ballot(&p, &id, &spec).await?;
                Ok("tb=luu".to_string())
            }
            "open" => {
                cab.open_ballot(&p, &id).await?;
                Ok("tb=mo-phieu".to_string())
            }
            "remind" => {
                let n = cab.remind(&p, &id).await?;
                Ok(format!("tb=nhac&n={n}"))
            }
            "close" => {
                cab.close_ballot(&p, &id).await?;
                Ok("tb=dong-phieu".to_string())
            }
            "publish" => {
                cab.publish_ballot(&p, &id).await?;
                Ok("tb=cong-bo".to_string())
            }
            _ => Err(invalid("act", "Thao tác không hợp lệ", "Unknown action")),
        }
    }
    .await;
    match done {
        Ok(q) => Ok(Redirect::to(&format!("/noi-cac/thu-ky/phieu/{id}?{q}")).into_response()),
        Err(e) => {
            let Some(status) = form_status(&e) else {
                return Err(PageError::new(e, c));
            };
            let errors = lines_of(&e, c.lang.is_vi());
            let mut page = run_ballot_view(&cab, &p, &auth, c, &id).await?;
            page.act = act;
            page.typed = form;
            page.errors = errors;
            Ok(render_status(status, &page))
        }
    }
}

async fn ballot_upload(
    State(cab): State<Arc<Cabinet>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_to(&format!("/noi-cac/thu-ky/phieu/{id}")));
    };
    let (fields, file) = upload_of(mp, &auth, &c).await?;
    let done = match crate::api::document_of(&fields, file) {
        Ok(d) => cab.add_ballot_document(&p, &id, &d).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => {
            Ok(Redirect::to(&format!("/noi-cac/thu-ky/phieu/{id}?tb=tai-lieu")).into_response())
        }
        Err(e) => {
            let Some(status) = form_status(&e) else {
                return Err(PageError::new(e, c));
            };
            let errors = lines_of(&e, c.lang.is_vi());
            let mut page = run_ballot_view(&cab, &p, &auth, c, &id).await?;
            page.act = "document".into();
            page.typed = fields;
            page.errors = errors;
            Ok(render_status(status, &page))
        }
    }
}
