//! The pages of a clerk (văn thư) and of the hub's operators: the documents waiting and the
//! registers of documents received and sent, composing and signing an outgoing document,
//! receiving, registering and answering an incoming one, every recipient's status; and the
//! registry of agencies, their certificates and the pushes waiting.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, FromRef, Multipart, Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::Deserialize;
use web::{Chrome, PageError, Site, render};

use identity::Principal;
use identity::web::Auth;

use crate::compose::{Answer, Draft};
use crate::error::invalid;
use crate::hub::{Document, InboxLine, RegisterLine, RegisterQuery, status_labels};
use crate::push::Push;
use crate::registry::{Agency, AgencySpec, CertificateRequest};
use crate::{Exchange, ExchangeError, MAX_PACKAGE_BYTES};

/// The clerk's and operators' pages.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Exchange>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
    Site: FromRef<S>,
{
    axum::Router::new()
        .route("/van-ban", get(desk_page))
        .route(
            "/van-ban/soan",
            get(compose_page)
                .post(compose_post)
                .layer(DefaultBodyLimit::max(MAX_PACKAGE_BYTES)),
        )
        .route("/van-ban/truc", get(hub_page))
        .route("/van-ban/truc/co-quan", post(agency_post))
        .route("/van-ban/truc/chung-thu", post(certificate_post))
        .route("/van-ban/truc/thu-hoi", post(revoke_post))
        .route("/van-ban/{id}", get(document_page))
        .route("/van-ban/{id}/trang-thai", post(status_post))
        .route("/van-ban/{id}/thu-hoi", post(recall_post))
        .route("/van-ban/{id}/tep/{n}", get(attachment))
}

fn login_first(c: &Chrome) -> Response {
    Redirect::to(&format!(
        "/dang-nhap?next={}",
        web::layout::encode_component(&c.here)
    ))
    .into_response()
}

fn session_of(auth: &Auth) -> Option<(Principal, String)> {
    match (auth.principal(), &auth.session) {
        (Some(p), Some(s)) => Some((p.clone(), s.csrf.clone())),
        _ => None,
    }
}

fn csrf_ok(f: &HashMap<String, String>, csrf: &str) -> bool {
    f.get("csrf").is_some_and(|t| identity::same(t, csrf))
}

/// The agency a page is about: the one asked for, else the caller's first.
async fn agency_for(
    x: &Exchange,
    p: &Principal,
    asked: Option<&str>,
) -> Result<(String, Vec<String>), ExchangeError> {
    let mine = x.agencies_of(p).await?;
    let agency = match asked.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => {
            x.allow_act(p, a).await?;
            a.to_string()
        }
        None => match mine.first() {
            Some(a) => a.clone(),
            None => {
                x.allow_act(p, "").await?;
                String::new()
            }
        },
    };
    Ok((agency, mine))
}

#[derive(Debug, Default, Deserialize)]
struct DeskQuery {
    agency: Option<String>,
    /// `den` (waiting), `so-den` (register received), `so-di` (register sent).
    tab: Option<String>,
    q: Option<String>,
    nam: Option<i32>,
}

#[derive(askama::Template)]
#[template(path = "exchange_desk.html")]
struct DeskPage {
    c: Chrome,
    agency: String,
    agency_name: String,
    agencies: Vec<String>,
    tab: String,
    q: String,
    year: i32,
    waiting: Vec<InboxLine>,
    lines: Vec<RegisterLine>,
    can_manage: bool,
}

impl DeskPage {
    fn label(&self, code: &str) -> String {
        let (vi, en) = status_labels(code);
        if self.c.lang.is_vi() { vi } else { en }
    }
    fn tab_href(&self, tab: &str) -> String {
        format!(
            "/van-ban?agency={}&tab={tab}",
            web::layout::encode_component(&self.agency)
        )
    }
}

async fn desk_page(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<DeskQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some((p, _)) = session_of(&auth) else {
        return Ok(login_first(&c));
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let can_manage = x.may_manage(&p);
    if can_manage
        && q.agency.is_none()
        && x.agencies_of(&p)
            .await
            .map_err(|e| PageError::new(e, c.clone()))?
            .is_empty()
    {
        return Ok(Redirect::to("/van-ban/truc").into_response());
    }
    let (agency, agencies) = match agency_for(&x, &p, q.agency.as_deref()).await {
        Ok(a) => a,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let tab = match q.tab.as_deref() {
        Some("so-den") => "so-den",
        Some("so-di") => "so-di",
        _ => "den",
    }
    .to_string();
    let year = q
        .nam
        .unwrap_or_else(|| chrono::Datelike::year(&kernel::clock::to_local(x.now())));
    let (waiting, lines) = if tab == "den" {
        match x.inbox(&agency, true, 200).await {
            Ok(w) => (w, Vec::new()),
            Err(e) => return Err(PageError::new(e, c)),
        }
    } else {
        let rq = RegisterQuery {
            agency: agency.clone(),
            direction: if tab == "so-den" { "in" } else { "out" }.into(),
            year: Some(year),
            q: q.q.clone(),
        };
        match x.register(&rq, 500).await {
            Ok(l) => (Vec::new(), l),
            Err(e) => return Err(PageError::new(e, c)),
        }
    };
    let agency_name = x.agency_name(&agency).await;
    Ok(render(&DeskPage {
        c,
        agency,
        agency_name,
        agencies,
        tab,
        q: q.q.unwrap_or_default(),
        year,
        waiting,
        lines,
        can_manage,
    }))
}

#[derive(askama::Template)]
#[template(path = "exchange_compose.html")]
struct ComposePage {
    c: Chrome,
    csrf: String,
    agency: String,
    agency_name: String,
    recipients: Vec<Agency>,
    draft: Draft,
    errors: Vec<String>,
    today: NaiveDate,
}

impl ComposePage {
    fn chosen(&self, organ: &str) -> bool {
        self.draft.to.iter().any(|t| t == organ)
    }
    fn type_chosen(&self, t: &str) -> bool {
        self.draft.document_type == t
    }
}

#[derive(Debug, Default, Deserialize)]
struct AgencyQuery {
    agency: Option<String>,
}

async fn compose_view(
    x: &Exchange,
    c: Chrome,
    csrf: String,
    agency: String,
    draft: Draft,
    errors: Vec<String>,
) -> Result<ComposePage, PageError> {
    let recipients = match x.agencies().await {
        Ok(a) => a
            .into_iter()
            .filter(|a| a.active && a.organ_id != agency)
            .collect(),
        Err(e) => return Err(PageError::new(e, c)),
    };
    Ok(ComposePage {
        agency_name: x.agency_name(&agency).await,
        today: kernel::clock::to_local(x.now()).date(),
        c,
        csrf,
        agency,
        recipients,
        draft,
        errors,
    })
}

async fn compose_page(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<AgencyQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&c));
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let agency = match agency_for(&x, &p, q.agency.as_deref()).await {
        Ok((a, _)) => a,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let draft = x.blank_draft(&p, &agency).await;
    Ok(render(
        &compose_view(&x, c, csrf, agency, draft, Vec::new()).await?,
    ))
}

async fn compose_post(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    c: Chrome,
    mut mp: Multipart,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&c));
    };
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut to: Vec<String> = Vec::new();
    let mut file: Option<(String, String, Bytes)> = None;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(PageError::new(
                    invalid(
                        "form",
                        format!("Biểu mẫu không đọc được: {e}"),
                        format!("The form cannot be read: {e}"),
                    ),
                    c,
                ));
            }
        };
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            let filename = field.file_name().unwrap_or("").to_string();
            let media = field.content_type().unwrap_or("").to_string();
            match field.bytes().await {
                Ok(b) if !b.is_empty() => file = Some((filename, media, b)),
                Ok(_) => {}
                Err(e) => {
                    return Err(PageError::new(
                        invalid(
                            "file",
                            format!("Tệp đính kèm không đọc được: {e}"),
                            format!("The attachment cannot be read: {e}"),
                        ),
                        c,
                    ));
                }
            }
            continue;
        }
        let value = field.text().await.unwrap_or_default();
        if name == "to" {
            to.push(value);
        } else {
            fields.insert(name, value);
        }
    }
    if !csrf_ok(&fields, &csrf) {
        return Err(PageError::new(identity::IdentityError::Csrf, c));
    }
    let agency = match agency_for(&x, &p, fields.get("agency").map(String::as_str)).await {
        Ok((a, _)) => a,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let draft = Draft::from_form(&agency, &fields, to, file);
    match x.compose(&p, &draft).await {
        Ok(d) => Ok(Redirect::to(&format!("/van-ban/{}?gui=1", d.id)).into_response()),
        Err(e @ (ExchangeError::Invalid(_) | ExchangeError::Refused { .. })) => {
            let vi = c.lang.is_vi();
            let mut errors: Vec<String> = kernel::Problem::details(&e)
                .into_iter()
                .map(|d| if vi { d.vi } else { d.en })
                .collect();
            if errors.is_empty() {
                errors.push(if vi {
                    kernel::Problem::message_vi(&e)
                } else {
                    kernel::Problem::message_en(&e)
                });
            }
            let mut page = compose_view(&x, c, csrf, agency, draft, errors).await?;
            page.draft.attachment_name.clear();
            Ok(web::layout::render_status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                &page,
            ))
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}

#[derive(askama::Template)]
#[template(path = "exchange_document.html")]
struct DocumentPage {
    c: Chrome,
    csrf: String,
    d: Document,
    /// Whether the caller may recall it (a clerk or leader of its sender, not yet recalled).
    can_recall: bool,
    sender_name: String,
    /// The recipients the caller answers for, with their current status.
    answering: Vec<(String, String)>,
    /// The attachments' names, in order.
    attachments: Vec<(usize, String, String)>,
    content: String,
    sent: bool,
    answered: bool,
}

impl DocumentPage {
    fn label(&self, code: &str) -> String {
        let (vi, en) = status_labels(code);
        if self.c.lang.is_vi() { vi } else { en }
    }
    fn next_codes(&self, current: &str) -> Vec<(&'static str, String)> {
        let recall = self.d.business != "new";
        let answered = self
            .d
            .deliveries
            .iter()
            .filter(|x| x.status == current)
            .flat_map(|x| x.history.iter())
            .any(|h| matches!(h.code.as_str(), "15" | "16"));
        crate::compose::next_statuses(current, recall, answered)
            .into_iter()
            .map(|code| (code, self.label(code)))
            .collect()
    }
    fn receipt_label(&self, kind: &str) -> &'static str {
        match (kind, self.c.lang.is_vi()) {
            ("accepted", true) => "Trục nhận từ nơi gửi",
            ("accepted", false) => "Taken from the sender",
            ("delivered", true) => "Giao cho nơi nhận",
            ("delivered", false) => "Handed to the recipient",
            (_, true) => "Nhận trạng thái",
            (_, false) => "Status taken",
        }
    }
    fn business_label(&self) -> &'static str {
        match (self.d.business.as_str(), self.c.lang.is_vi()) {
            ("revoke", true) => "Thu hồi",
            ("revoke", false) => "Revocation",
            ("update", true) => "Cập nhật",
            ("update", false) => "Update",
            ("replace", true) => "Thay thế",
            ("replace", false) => "Replacement",
            (_, true) => "Văn bản mới",
            (_, false) => "New document",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct DocQuery {
    gui: Option<String>,
    tl: Option<String>,
}

async fn document_page(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    c: Chrome,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<DocQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&c));
    };
    let Ok(Path(id)) = id else {
        return Err(PageError::new(
            ExchangeError::NotFound("văn bản/document".into()),
            c,
        ));
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let (d, summary) = match x.read_for_page(&p, &id).await {
        Ok(v) => v,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let can_recall = d.business == "new"
        && !d.followed_by.iter().any(|(_, b)| b == "revoke")
        && x.may_act(&p, &d.sender).await.unwrap_or(false);
    let mut answering = Vec::new();
    for del in &d.deliveries {
        if x.may_act(&p, &del.recipient).await.unwrap_or(false) {
            answering.push((del.recipient.clone(), del.status.clone()));
        }
    }
    Ok(render(&DocumentPage {
        sender_name: x.agency_name(&d.sender).await,
        c,
        csrf,
        can_recall,
        answering,
        attachments: summary.attachments,
        content: summary.content,
        sent: q.gui.is_some(),
        answered: q.tl.is_some(),
        d,
    }))
}

/// Who posted, about which document, and the fields.
type DocumentForm = (Principal, String, HashMap<String, String>);

/// A form posted about a document, checked: a session, the document's id, the CSRF token.
fn document_form(
    auth: &Auth,
    c: &Chrome,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Result<DocumentForm, Response>, PageError> {
    let Some((p, csrf)) = session_of(auth) else {
        return Ok(Err(login_first(c)));
    };
    let (Ok(Path(id)), Ok(Form(f))) = (id, form) else {
        return Err(PageError::new(
            invalid("form", "Biểu mẫu không đọc được", "The form cannot be read"),
            c.clone(),
        ));
    };
    if !csrf_ok(&f, &csrf) {
        return Err(PageError::new(identity::IdentityError::Csrf, c.clone()));
    }
    Ok(Ok((p, id, f)))
}

async fn status_post(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    c: Chrome,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let (p, id, f) = match document_form(&auth, &c, id, form)? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let a = Answer {
        agency: get("agency"),
        code: get("code"),
        description: get("description"),
        staff: get("staff"),
        department: get("department"),
    };
    match x.answer_as(&p, &id, &a).await {
        Ok(_) => Ok(Redirect::to(&format!("/van-ban/{id}?tl=1")).into_response()),
        Err(e) => Err(PageError::new(e, c)),
    }
}

async fn recall_post(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    c: Chrome,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let (p, id, f) = match document_form(&auth, &c, id, form)? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let reason = f.get("reason").map(String::as_str).unwrap_or("");
    match x.recall(&p, &id, reason).await {
        Ok(r) => Ok(Redirect::to(&format!("/van-ban/{}?gui=1", r.id)).into_response()),
        Err(e) => Err(PageError::new(e, c)),
    }
}

async fn attachment(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    c: Chrome,
    params: Result<Path<(String, usize)>, PathRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let Ok(Path((id, n))) = params else {
        return Err(PageError::new(
            ExchangeError::NotFound("tệp/file".into()),
            c,
        ));
    };
    let (name, media, bytes) = match x.attachment(&p, &id, n).await {
        Ok(v) => v,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    let media = if media.is_empty() {
        "application/octet-stream".to_string()
    } else {
        media
    };
    if let Ok(v) = HeaderValue::from_str(&media) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let ascii: String = name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '_') {
                ch
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(r)
}

#[derive(askama::Template)]
#[template(path = "exchange_hub.html")]
struct HubPage {
    c: Chrome,
    csrf: String,
    agencies: Vec<Agency>,
    pushes: Vec<Push>,
    note: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct HubQuery {
    ok: Option<String>,
}

async fn hub_page(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<HubQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&c));
    };
    if let Err(e) = x.allow_manage(&p).await {
        return Err(PageError::new(e, c));
    }
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let (agencies, pushes) = match (x.agencies().await, x.pushes(false, 100).await) {
        (Ok(a), Ok(u)) => (a, u),
        (Err(e), _) | (_, Err(e)) => return Err(PageError::new(e, c)),
    };
    Ok(render(&HubPage {
        c,
        csrf,
        agencies,
        pushes,
        note: q.ok,
    }))
}

/// The form of an operator's page, checked: the caller runs the hub and sent the CSRF token.
async fn operator_form(
    x: &Exchange,
    auth: &Auth,
    c: &Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Result<(Principal, HashMap<String, String>), Response>, PageError> {
    let Some((p, csrf)) = session_of(auth) else {
        return Ok(Err(login_first(c)));
    };
    let Ok(Form(f)) = form else {
        return Err(PageError::new(
            invalid("form", "Biểu mẫu không đọc được", "The form cannot be read"),
            c.clone(),
        ));
    };
    if !csrf_ok(&f, &csrf) {
        return Err(PageError::new(identity::IdentityError::Csrf, c.clone()));
    }
    if let Err(e) = x.allow_manage(&p).await {
        return Err(PageError::new(e, c.clone()));
    }
    Ok(Ok((p, f)))
}

async fn agency_post(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let (p, f) = match operator_form(&x, &auth, &c, form).await? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let get = |k: &str| {
        f.get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let spec = AgencySpec {
        organ_id: get("organ_id").unwrap_or_default(),
        name: get("name").unwrap_or_default(),
        endpoint: get("endpoint"),
        push_secret: get("push_secret"),
        active: f.contains_key("active"),
    };
    match x.put_agency(&p.id, spec).await {
        Ok(a) => Ok(back_to_hub(&a.organ_id)),
        Err(e) => Err(PageError::new(e, c)),
    }
}

/// Back to the hub's page, saying which agency was saved.
fn back_to_hub(organ: &str) -> Response {
    Redirect::to(&format!(
        "/van-ban/truc?ok={}",
        web::layout::encode_component(organ)
    ))
    .into_response()
}

async fn certificate_post(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let (p, f) = match operator_form(&x, &auth, &c, form).await? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let organ = f
        .get("organ_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let pem = f
        .get("certificate_pem")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let req = CertificateRequest {
        public_key_pem: None,
        certificate_pem: pem,
    };
    match x.add_certificate(&p.id, &organ, req).await {
        Ok(_) => Ok(back_to_hub(&organ)),
        Err(e) => Err(PageError::new(e, c)),
    }
}

async fn revoke_post(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let (p, f) = match operator_form(&x, &auth, &c, form).await? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let serial = f
        .get("serial")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let reason = f.get("reason").and_then(|r| r.trim().parse::<i64>().ok());
    match x.revoke(&p.id, &serial, reason).await {
        Ok(cert) => Ok(back_to_hub(&cert.organ_id)),
        Err(e) => Err(PageError::new(e, c)),
    }
}
