//! The pages of feedback. For the citizen: the public reports by area, filing a field report
//! (with photos and the place) or a petition, following a report and reopening one's own, and
//! the published answers. For an agency: its queue, and a report's handling page (take up,
//! note, answer, moderate, merge a duplicate, hand on, hide a photo).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, FromRef, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use web::{Chrome, PageError, Site, render};

use identity::Principal;
use identity::web::Auth;

use crate::areas::Area;
use crate::error::invalid;
use crate::reports::{
    ActRequest, AnswerHit, Line, Nearby, NewReport, PublicQuery, QueueQuery, Report, Reporter,
    Viewer,
};
use crate::rules::{Act, Point, Status};
use crate::services::Service;
use crate::{Feedback, FeedbackError, MAX_PHOTO_BYTES, MAX_PHOTOS};

/// Feedback's pages.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Feedback>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
    Site: FromRef<S>,
{
    axum::Router::new()
        .route("/phan-anh", get(list_page))
        .route("/phan-anh/cua-toi", get(mine_page))
        .route("/phan-anh/tra-loi", get(answers_page))
        .route("/phan-anh/vi-tri.js", get(locate_js))
        .route(
            "/phan-anh/gui",
            get(new_page).post(new_post).layer(DefaultBodyLimit::max(
                MAX_PHOTOS * MAX_PHOTO_BYTES + 256 * 1024,
            )),
        )
        .route("/phan-anh/{id}", get(report_page))
        .route("/phan-anh/{id}/anh/{n}", get(photo))
        .route("/phan-anh/{id}/theo-doi", post(follow_post))
        .route("/phan-anh/{id}/mo-lai", post(reopen_post))
        .route("/xu-ly-phan-anh", get(queue_page))
        .route("/xu-ly-phan-anh/{id}", get(handle_page).post(handle_post))
}

fn login_first(c: &Chrome) -> Response {
    Redirect::to(&format!(
        "/dang-nhap?next={}",
        web::layout::encode_component(&c.here)
    ))
    .into_response()
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    kernel::clock::to_local(t)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// A status's label in the page's language.
fn status_label(c: &Chrome, s: &str) -> String {
    Status::parse(s)
        .map(|s| s.label(c.lang.is_vi()).to_string())
        .unwrap_or_else(|| s.to_string())
}

/// What every page's template says the same way: a status in the page's language, a moment
/// in Vietnam's time.
trait PageText {
    fn chrome(&self) -> &Chrome;
    fn status(&self, s: &str) -> String {
        status_label(self.chrome(), s)
    }
    fn when(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        when(*t)
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

page_text!(ListPage, AnswersPage, ReportPage, QueuePage, HandlePage);

#[derive(askama::Template)]
#[template(path = "feedback_list.html")]
struct ListPage {
    c: Chrome,
    title: String,
    mine: bool,
    lines: Vec<Line>,
    areas: Vec<Area>,
    services: Vec<Service>,
    q: PublicQuery,
    logged_in: bool,
}

impl ListPage {
    fn service_name(&self, code: &str) -> String {
        self.services
            .iter()
            .find(|s| s.code == code)
            .map(|s| s.name(self.c.lang.is_vi()).to_string())
            .unwrap_or_else(|| code.to_string())
    }
    fn area_name(&self, unit: &Option<String>) -> String {
        unit.as_ref()
            .and_then(|u| self.areas.iter().find(|a| &a.unit_code == u))
            .map(|a| a.name.clone())
            .unwrap_or_default()
    }
    fn selected(&self, which: &str, v: &str) -> bool {
        let got = match which {
            "unit" => self.q.unit.as_deref(),
            "service" => self.q.service.as_deref(),
            "state" => self.q.state.as_deref(),
            _ => None,
        };
        got == Some(v)
    }
}

async fn list_page(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<PublicQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let go = async {
        Ok::<_, FeedbackError>((
            f.public_list(&q, 200).await?,
            f.areas().await?,
            f.services(false).await?,
        ))
    };
    let (lines, areas, services) = go.await.map_err(|e| PageError::new(e, c.clone()))?;
    Ok(render(&ListPage {
        title: c
            .pick("Phản ánh, kiến nghị", "Reports and petitions")
            .to_string(),
        c,
        mine: false,
        lines,
        areas,
        services,
        q,
        logged_in: auth.principal().is_some(),
    }))
}

async fn mine_page(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    c: Chrome,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal() else {
        return Ok(login_first(&c));
    };
    let go = async {
        Ok::<_, FeedbackError>((
            f.mine(&p.id).await?,
            f.areas().await?,
            f.services(true).await?,
        ))
    };
    let (lines, areas, services) = go.await.map_err(|e| PageError::new(e, c.clone()))?;
    Ok(render(&ListPage {
        title: c.pick("Phản ánh của tôi", "My reports").to_string(),
        c,
        mine: true,
        lines,
        areas,
        services,
        q: PublicQuery::default(),
        logged_in: true,
    }))
}

#[derive(askama::Template)]
#[template(path = "feedback_answers.html")]
struct AnswersPage {
    c: Chrome,
    q: String,
    hits: Vec<AnswerHit>,
}

#[derive(Debug, Default, Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn answers_page(
    State(f): State<Arc<Feedback>>,
    c: Chrome,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = q
        .map(|Query(q)| q)
        .unwrap_or_default()
        .q
        .unwrap_or_default();
    let hits = f
        .search_answers(&q, 100)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(render(&AnswersPage { c, q, hits }))
}

/// The small script behind “use my location”: the browser's position into the form.
async fn locate_js() -> Response {
    const JS: &str = r#"(function () {
  var b = document.getElementById('use-location');
  if (!b || !navigator.geolocation) { if (b) b.hidden = true; return; }
  b.hidden = false;
  b.addEventListener('click', function () {
    var s = document.getElementById('location-status');
    s.textContent = b.getAttribute('data-wait');
    navigator.geolocation.getCurrentPosition(function (p) {
      document.getElementById('lat').value = p.coords.latitude.toFixed(6);
      document.getElementById('lon').value = p.coords.longitude.toFixed(6);
      s.textContent = b.getAttribute('data-done');
    }, function () { s.textContent = b.getAttribute('data-fail'); }, { enableHighAccuracy: true, timeout: 15000 });
  });
})();
"#;
    let mut r = JS.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// What the filing form holds (kept when it comes back with errors).
#[derive(Debug, Clone, Default)]
struct Draft {
    service: String,
    title: String,
    description: String,
    lat: String,
    lon: String,
    address: String,
    unit: String,
    agency: String,
    procedure: String,
    phone: String,
    answers: HashMap<String, Vec<String>>,
    confirm: bool,
}

#[derive(askama::Template)]
#[template(path = "feedback_new.html")]
struct NewPage {
    c: Chrome,
    csrf: String,
    services: Vec<Service>,
    service: Option<Service>,
    areas: Vec<Area>,
    agencies: Vec<(String, String)>,
    draft: Draft,
    errors: Vec<String>,
    nearby: Vec<Nearby>,
}

impl NewPage {
    fn answer(&self, code: &str) -> String {
        self.draft
            .answers
            .get(code)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    }
    fn chose(&self, code: &str, key: &str) -> bool {
        self.draft
            .answers
            .get(code)
            .is_some_and(|v| v.iter().any(|x| x == key))
    }
    fn fields(&self) -> Vec<&Service> {
        self.services.iter().filter(|s| s.is_field()).collect()
    }
    fn petitions(&self) -> Vec<&Service> {
        self.services.iter().filter(|s| !s.is_field()).collect()
    }
}

#[derive(Debug, Default, Deserialize)]
struct NewQuery {
    loai: Option<String>,
}

async fn new_view(
    f: &Feedback,
    c: Chrome,
    csrf: String,
    draft: Draft,
    errors: Vec<String>,
    nearby: Vec<Nearby>,
) -> Result<NewPage, PageError> {
    let go = async { Ok::<_, FeedbackError>((f.services(false).await?, f.areas().await?)) };
    let (services, areas) = go.await.map_err(|e| PageError::new(e, c.clone()))?;
    let service = services.iter().find(|s| s.code == draft.service).cloned();
    let agencies = f.agency_choices();
    Ok(NewPage {
        c,
        csrf,
        services,
        service,
        areas,
        agencies,
        draft,
        errors,
        nearby,
    })
}

impl Feedback {
    /// The agencies a petition may be addressed to, by name.
    fn agency_choices(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .catalog
            .lookup()
            .agencies
            .iter()
            .map(|(code, a)| (code.clone(), a.spec.name.clone()))
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }
}

async fn new_page(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<NewQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    if auth.principal().is_none() {
        return Ok(login_first(&c));
    }
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let draft = Draft {
        service: q.loai.unwrap_or_default(),
        ..Draft::default()
    };
    let csrf = auth.csrf();
    Ok(render(
        &new_view(&f, c, csrf, draft, Vec::new(), Vec::new()).await?,
    ))
}

fn lines_of(e: &FeedbackError, vi: bool) -> Vec<String> {
    use kernel::Problem;
    match e {
        FeedbackError::Invalid(list) => list
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

async fn new_post(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    c: Chrome,
    mut mp: Multipart,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut answers: HashMap<String, Vec<String>> = HashMap::new();
    let mut photos: Vec<Vec<u8>> = Vec::new();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(e) => {
                return Err(PageError::new(
                    invalid(
                        "form",
                        format!("Biểu mẫu không đọc được (ảnh quá lớn?): {e}"),
                        format!("The form cannot be read (photos too large?): {e}"),
                    ),
                    c,
                ));
            }
        };
        let name = field.name().unwrap_or("").to_string();
        if name == "photos" {
            match field.bytes().await {
                Ok(b) if !b.is_empty() => photos.push(b.to_vec()),
                Ok(_) => {}
                Err(e) => {
                    return Err(PageError::new(
                        invalid(
                            "photos",
                            format!("Ảnh không đọc được: {e}"),
                            format!("A photo cannot be read: {e}"),
                        ),
                        c,
                    ));
                }
            }
            continue;
        }
        let value = field.text().await.unwrap_or_default();
        if let Some(code) = name
            .strip_prefix("attribute[")
            .and_then(|s| s.strip_suffix(']'))
        {
            answers.entry(code.to_string()).or_default().push(value);
        } else {
            fields.insert(name, value);
        }
    }
    if !auth.csrf_matches(&fields) {
        return Err(PageError::new(identity::IdentityError::Csrf, c));
    }
    let get = |k: &str| {
        fields
            .get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let draft = Draft {
        service: get("service"),
        title: get("title"),
        description: fields.get("description").cloned().unwrap_or_default(),
        lat: get("lat"),
        lon: get("lon"),
        address: get("address"),
        unit: get("unit"),
        agency: get("agency"),
        procedure: get("procedure"),
        phone: get("phone"),
        answers: answers.clone(),
        confirm: get("confirm") == "1",
    };
    let csrf = auth.csrf();
    let vi = c.lang.is_vi();
    // The place: both numbers, in range; or neither.
    let point = match (draft.lat.is_empty(), draft.lon.is_empty()) {
        (true, true) => None,
        (false, false) => match (
            draft.lat.replace(',', ".").parse::<f64>(),
            draft.lon.replace(',', ".").parse::<f64>(),
        ) {
            (Ok(a), Ok(b)) => match Point::new(a, b) {
                Some(pt) => Some(pt),
                None => {
                    let e = invalid(
                        "lat",
                        "Tọa độ ngoài phạm vi: vĩ độ từ −90 đến 90, kinh độ từ −180 đến 180",
                        "Coordinates out of range: latitude −90 to 90, longitude −180 to 180",
                    );
                    let page = new_view(&f, c, csrf, draft, lines_of(&e, vi), Vec::new()).await?;
                    return Ok(web::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
                }
            },
            _ => {
                let e = invalid("lat", "Tọa độ phải là số", "Coordinates must be numbers");
                let page = new_view(&f, c, csrf, draft, lines_of(&e, vi), Vec::new()).await?;
                return Ok(web::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
            }
        },
        _ => {
            let e = invalid(
                "lat",
                "Cần cả vĩ độ và kinh độ",
                "Both latitude and longitude are needed",
            );
            let page = new_view(&f, c, csrf, draft, lines_of(&e, vi), Vec::new()).await?;
            return Ok(web::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    // Likely the same problem: offered before filing, unless the citizen confirmed.
    if let Some(pt) = point
        && !draft.confirm
    {
        let near = f
            .nearby(&draft.service, pt, None)
            .await
            .map_err(|e| PageError::new(e, c.clone()))?;
        if !near.is_empty() {
            let page = new_view(&f, c, csrf, draft, Vec::new(), near).await?;
            return Ok(web::render_status(StatusCode::CONFLICT, &page));
        }
    }
    let email = f.identity.email_of(&p.id).await.ok().flatten();
    let new = NewReport {
        service_code: draft.service.clone(),
        title: draft.title.clone(),
        description: draft.description.clone(),
        point,
        address: draft.address.clone(),
        unit_code: Some(draft.unit.clone()).filter(|u| !u.is_empty()),
        agency: Some(draft.agency.clone()).filter(|a| !a.is_empty()),
        procedure_code: Some(draft.procedure.clone()).filter(|a| !a.is_empty()),
        attributes: answers.into_iter().collect(),
        reporter: Reporter {
            account: Some(p.id.clone()),
            name: p.full_name.clone(),
            email,
            phone: Some(draft.phone.clone()).filter(|x| !x.is_empty()),
            device_id: None,
        },
        channel: "web".into(),
        api_key_id: None,
        photos,
        media_url: None,
    };
    match f.file(new).await {
        Ok(filed) => Ok(Redirect::to(&format!("/phan-anh/{}?moi=1", filed.id)).into_response()),
        Err(e @ (FeedbackError::Invalid(_) | FeedbackError::Refused { .. })) => {
            use kernel::Problem;
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let page = new_view(&f, c, csrf, draft, lines_of(&e, vi), Vec::new()).await?;
            Ok(web::render_status(status, &page))
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}

#[derive(askama::Template)]
#[template(path = "feedback_report.html")]
struct ReportPage {
    c: Chrome,
    csrf: String,
    r: Report,
    viewer: Viewer,
    token: String,
    fresh: bool,
    handler: bool,
    email: String,
    message: String,
}

impl ReportPage {
    fn is_reporter(&self) -> bool {
        self.viewer == Viewer::Reporter
    }
    fn photo_href(&self, n: &i64, thumb: bool) -> String {
        let mut h = format!("/phan-anh/{}/anh/{n}", self.r.id);
        let mut sep = '?';
        if thumb {
            h.push_str("?nho=1");
            sep = '&';
        }
        if !self.token.is_empty() {
            h.push(sep);
            h.push_str("t=");
            h.push_str(&web::layout::encode_component(&self.token));
        }
        h
    }
    fn can_reopen(&self) -> bool {
        self.is_reporter() && self.r.status == Status::Answered
    }
}

#[derive(Debug, Default, Deserialize)]
struct ReportQuery {
    t: Option<String>,
    moi: Option<String>,
    tb: Option<String>,
}

async fn report_page(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let token = q.t.clone().unwrap_or_default();
    let p = auth.principal();
    // The public page never audits a reading: officials read on the handling page.
    let (r, viewer) = match f.report(&id, None, Some(token.as_str())).await {
        Ok((r, v)) if v == Viewer::Public => {
            // The reporter by account reads their own whole report.
            match p {
                Some(p) if r.reporter.is_none() => match f.report_as_reporter(&id, p).await {
                    Ok(Some(mine)) => (mine, Viewer::Reporter),
                    _ => (r, v),
                },
                _ => (r, v),
            }
        }
        Ok(x) => x,
        Err(FeedbackError::NotFound(what)) => match p {
            Some(p) => match f.report_as_reporter(&id, p).await {
                Ok(Some(mine)) => (mine, Viewer::Reporter),
                Ok(None) => return Err(PageError::new(FeedbackError::NotFound(what), c)),
                Err(e) => return Err(PageError::new(e, c)),
            },
            None => return Err(PageError::new(FeedbackError::NotFound(what), c)),
        },
        Err(e) => return Err(PageError::new(e, c)),
    };
    let handler = match p {
        Some(p) => f.may_handle(p, &r.agency_code).await.unwrap_or(false),
        None => false,
    };
    let email = match p {
        Some(p) => f
            .identity
            .email_of(&p.id)
            .await
            .ok()
            .flatten()
            .unwrap_or_default(),
        None => String::new(),
    };
    let message = match q.tb.as_deref() {
        Some("theo-doi") => c
            .pick(
                "Bạn sẽ nhận thư khi phản ánh có cập nhật.",
                "You will get an e-mail at every update.",
            )
            .to_string(),
        Some("mo-lai") => c
            .pick(
                "Phản ánh đã được mở lại để xử lý tiếp.",
                "The report was reopened.",
            )
            .to_string(),
        _ => String::new(),
    };
    Ok(render(&ReportPage {
        csrf: auth.csrf(),
        c,
        r,
        viewer,
        token,
        fresh: q.moi.is_some(),
        handler,
        email,
        message,
    }))
}

impl Feedback {
    /// A report whole, if `p` filed it.
    async fn report_as_reporter(
        &self,
        id: &str,
        p: &Principal,
    ) -> Result<Option<Report>, FeedbackError> {
        match self.report(id, Some(p), None).await {
            Ok((r, Viewer::Reporter)) => Ok(Some(r)),
            Ok(_) | Err(FeedbackError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct PhotoQuery {
    nho: Option<String>,
    t: Option<String>,
}

async fn photo(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    c: Chrome,
    Path((id, n)): Path<(String, i64)>,
    q: Result<Query<PhotoQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let (bytes, media) = f
        .photo(&id, n, q.nho.is_some(), auth.principal(), q.t.as_deref())
        .await
        .map_err(|e| PageError::new(e, c))?;
    let mut r = bytes.into_response();
    if let Ok(v) = HeaderValue::from_str(&media) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    Ok(r)
}

async fn follow_post(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let form = auth.checked_form(form, &c)?;
    let email = form.get("email").cloned().unwrap_or_default();
    f.follow(&id, &email, auth.principal().map(|p| p.id.as_str()))
        .await
        .map_err(|e| PageError::new(e, c))?;
    Ok(Redirect::to(&format!("/phan-anh/{id}?tb=theo-doi")).into_response())
}

async fn reopen_post(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let form = auth.checked_form(form, &c)?;
    let token = form.get("t").cloned().unwrap_or_default();
    let req = ActRequest {
        act: Act::Reopen,
        note: form.get("note").cloned().unwrap_or_default(),
        public: true,
        into: None,
        agency: None,
        photo: None,
    };
    f.act(&id, auth.principal(), Some(token.as_str()), &req)
        .await
        .map_err(|e| PageError::new(e, c))?;
    let back = if token.is_empty() {
        format!("/phan-anh/{id}?tb=mo-lai")
    } else {
        format!(
            "/phan-anh/{id}?tb=mo-lai&t={}",
            web::layout::encode_component(&token)
        )
    };
    Ok(Redirect::to(&back).into_response())
}

#[derive(askama::Template)]
#[template(path = "feedback_queue.html")]
struct QueuePage {
    c: Chrome,
    agency: String,
    agency_name: String,
    agencies: Vec<String>,
    show: String,
    lines: Vec<Line>,
    now: chrono::DateTime<chrono::Utc>,
}

impl QueuePage {
    fn late(&self, l: &Line) -> bool {
        l.status().is_open() && l.due_at < self.now
    }
    fn tab(&self, show: &str) -> String {
        format!(
            "/xu-ly-phan-anh?agency={}&show={show}",
            web::layout::encode_component(&self.agency)
        )
    }
}

async fn queue_page(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<QueueQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let agencies = f
        .agencies_of(&p)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let agency = match q.agency.clone().filter(|a| !a.trim().is_empty()) {
        Some(a) => a,
        None => match agencies.first() {
            Some(a) => a.clone(),
            None => return Err(PageError::new(FeedbackError::Forbidden, c)),
        },
    };
    let lines = f
        .queue(&p, &agency, &q)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(render(&QueuePage {
        agency_name: f.agency_name(&agency),
        c,
        agency,
        agencies,
        show: q.show.unwrap_or_else(|| "open".into()),
        lines,
        now: f.now(),
    }))
}

#[derive(askama::Template)]
#[template(path = "feedback_handle.html")]
struct HandlePage {
    c: Chrome,
    csrf: String,
    r: Report,
    nearby: Vec<Nearby>,
    errors: Vec<String>,
    agencies: Vec<(String, String)>,
}

impl HandlePage {
    fn open(&self) -> bool {
        self.r.status.is_open()
    }
}

async fn handle_view(
    f: &Feedback,
    p: &Principal,
    c: Chrome,
    csrf: String,
    id: &str,
    errors: Vec<String>,
) -> Result<HandlePage, PageError> {
    let (r, viewer) = f
        .report(id, Some(p), None)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    if viewer != Viewer::Handler {
        // Records the refusal.
        f.allow_handle(p, &r.agency_code)
            .await
            .map_err(|e| PageError::new(e, c.clone()))?;
        return Err(PageError::new(FeedbackError::Forbidden, c));
    }
    let nearby = match (r.lat, r.lon) {
        (Some(a), Some(b)) if r.status.is_open() => match Point::new(a, b) {
            Some(pt) => f
                .nearby(&r.service_code, pt, Some(&r.id))
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    Ok(HandlePage {
        c,
        csrf,
        r,
        nearby,
        errors,
        agencies: f.agency_choices(),
    })
}

async fn handle_page(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let csrf = auth.csrf();
    Ok(render(
        &handle_view(&f, &p, c, csrf, &id, Vec::new()).await?,
    ))
}

async fn handle_post(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let form = auth.checked_form(form, &c)?;
    let csrf = auth.csrf();
    let get = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let Some(act) = get("act").and_then(|a| Act::parse(&a)) else {
        return Err(PageError::new(
            invalid("act", "Thao tác không hợp lệ", "Unknown action"),
            c,
        ));
    };
    let req = ActRequest {
        act,
        note: form.get("note").cloned().unwrap_or_default(),
        public: get("public").as_deref() != Some("0"),
        into: get("into"),
        agency: get("agency"),
        photo: get("photo").and_then(|n| n.parse().ok()),
    };
    match f.act(&id, Some(&p), None, &req).await {
        Ok(r) => {
            // After a hand-over the report is another agency's: back to the queue.
            if act == Act::Transfer || act == Act::Merge {
                Ok(Redirect::to("/xu-ly-phan-anh").into_response())
            } else {
                Ok(Redirect::to(&format!("/xu-ly-phan-anh/{}", r.id)).into_response())
            }
        }
        Err(e @ (FeedbackError::Invalid(_) | FeedbackError::Refused { .. })) => {
            use kernel::Problem;
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let errors = lines_of(&e, c.lang.is_vi());
            let page = handle_view(&f, &p, c, csrf, &id, errors).await?;
            Ok(web::render_status(status, &page))
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}
