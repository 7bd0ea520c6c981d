//! The public tracking page.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRef, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use web::{Chrome, Site, render_status};

use crate::{DossierError, Dossiers, Tracking};

/// The dossier pages.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Dossiers>: FromRef<S>,
    Site: FromRef<S>,
{
    axum::Router::new().route("/tra-cuu-ho-so", get(track_page))
}

#[derive(Template)]
#[template(path = "track.html")]
struct TrackPage {
    c: Chrome,
    code: String,
    found: Option<Tracking>,
    error: Option<String>,
}

async fn track_page(
    State(d): State<Arc<Dossiers>>,
    c: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let code = q
        .get("ma")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let digits = q
        .get("so")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if code.is_empty() || digits.is_empty() {
        return render_status(
            StatusCode::OK,
            &TrackPage {
                c,
                code,
                found: None,
                error: None,
            },
        );
    }
    let (status, found, error) = match d.track(&code, &digits).await {
        Ok(t) => (StatusCode::OK, Some(t), None),
        Err(e) => {
            let msg = if c.lang.is_vi() {
                match &e {
                    DossierError::NotFound(_) => {
                        "Không tìm thấy hồ sơ với mã và 4 chữ số này".to_string()
                    }
                    other => kernel::Problem::message_vi(other),
                }
            } else {
                match &e {
                    DossierError::NotFound(_) => {
                        "No dossier matches this code and these 4 digits".to_string()
                    }
                    other => kernel::Problem::message_en(other),
                }
            };
            (web::error::status_of(&e), None, Some(msg))
        }
    };
    render_status(
        status,
        &TrackPage {
            c,
            code,
            found,
            error,
        },
    )
}

// ----- filing, "my dossiers" and the dossier page -----

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Multipart, Path};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value};

use catalog::model::{FieldType, FormField};
use identity::web::Auth;
use identity::{AccountKind, Principal};
use web::PageError;

use crate::{ActionInput, ActionKind, Dossier, DossierLine, NewDossier, Status};

/// The filing, list and dossier pages.
pub fn account_routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Dossiers>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
    Site: FromRef<S>,
{
    axum::Router::new()
        .route("/thu-tuc/{code}/nop", get(file_page).post(file_submit))
        .route("/ho-so", get(list_page))
        .route("/ho-so/{code}", get(dossier_page))
        .route(
            "/ho-so/{code}/tai-lieu",
            axum::routing::post(upload_submit).layer(axum::extract::DefaultBodyLimit::max(
                crate::MAX_DOCUMENT_BYTES + 64 * 1024,
            )),
        )
        .route("/ho-so/{code}/thao-tac", axum::routing::post(action_submit))
        .route(
            "/ho-so/thao-tac-hang-loat",
            axum::routing::post(bulk_submit),
        )
        .route("/ho-so/{code}/phieu/{kind}", get(slip_page))
        .route("/ho-so/{code}/ket-qua", get(result_page))
        .route("/ho-so/{code}/ket-qua.p7s", get(signature_page))
}

/// A slip of the dossier, as a PDF (the same as the API's, with the session).
async fn slip_page(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    c: Chrome,
    params: Path<(String, String)>,
) -> Result<Response, PageError> {
    let Path((code, kind)) = params;
    let Some((p, _)) = session_of(&auth) else {
        return Ok(login_first(&format!("/ho-so/{code}/phieu/{kind}")));
    };
    let kind = crate::api::slip_kind(&kind).map_err(|e| PageError::new(e, c.clone()))?;
    let (name, bytes) = d
        .slip(&code, &p, kind)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(crate::api::file_response(
        bytes,
        "application/pdf",
        &name,
        true,
    ))
}

async fn result_file_page(
    d: &Dossiers,
    auth: &Auth,
    c: Chrome,
    code: &str,
    which: crate::signing::ResultFile,
    here: &str,
) -> Result<Response, PageError> {
    let Some((p, _)) = session_of(auth) else {
        return Ok(login_first(here));
    };
    let (name, media, bytes) = d
        .result_file(code, &p, which)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(crate::api::file_response(bytes, media, &name, false))
}

/// The signed result document.
async fn result_page(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    c: Chrome,
    code: Path<String>,
) -> Result<Response, PageError> {
    let Path(code) = code;
    let here = format!("/ho-so/{code}/ket-qua");
    result_file_page(
        &d,
        &auth,
        c,
        &code,
        crate::signing::ResultFile::Document,
        &here,
    )
    .await
}

/// The detached signature over the result document.
async fn signature_page(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    c: Chrome,
    code: Path<String>,
) -> Result<Response, PageError> {
    let Path(code) = code;
    let here = format!("/ho-so/{code}/ket-qua.p7s");
    result_file_page(
        &d,
        &auth,
        c,
        &code,
        crate::signing::ResultFile::Signature,
        &here,
    )
    .await
}

fn login_first(path: &str) -> Response {
    Redirect::to(&format!(
        "/dang-nhap?next={}",
        web::layout::encode_component(path)
    ))
    .into_response()
}

fn session_of(auth: &Auth) -> Option<(Principal, String)> {
    match (auth.principal(), &auth.session) {
        (Some(p), Some(s)) => Some((p.clone(), s.csrf.clone())),
        _ => None,
    }
}

fn message(e: &DossierError, c: &Chrome) -> String {
    let mut m = if c.lang.is_vi() {
        kernel::Problem::message_vi(e)
    } else {
        kernel::Problem::message_en(e)
    };
    for d in kernel::Problem::details(e) {
        m.push_str(&format!(" — {}", if c.lang.is_vi() { d.vi } else { d.en }));
    }
    m
}

/// One field of the filing form, ready to render.
struct Input {
    f: FormField,
    label: String,
    value: String,
    error: Option<String>,
}

impl Input {
    fn html_type(&self) -> &'static str {
        match self.f.kind {
            FieldType::Date => "date",
            FieldType::Number => "number",
            FieldType::Email => "email",
            FieldType::Phone => "tel",
            _ => "text",
        }
    }
    fn is(&self, k: &str) -> bool {
        matches!(
            (k, self.f.kind),
            ("textarea", FieldType::Textarea)
                | ("select", FieldType::Select)
                | ("checkbox", FieldType::Checkbox)
        )
    }
    fn numeric(&self) -> bool {
        matches!(
            self.f.kind,
            FieldType::Cccd | FieldType::TaxCode | FieldType::Number | FieldType::Phone
        )
    }
}

#[derive(Template)]
#[template(path = "file.html")]
struct FilePage {
    c: Chrome,
    code: String,
    name: String,
    agencies: Vec<(String, String)>,
    agency: String,
    inputs: Vec<Input>,
    csrf: String,
    error: Option<String>,
}

async fn procedure_of(
    d: &Dossiers,
    code: &str,
    c: &Chrome,
) -> Result<catalog::store::StoredProcedure, PageError> {
    d.catalog
        .procedure(code, None)
        .await
        .map_err(|e| PageError::new(e, c.clone()))
}

fn inputs(
    fields: &[FormField],
    values: &HashMap<String, String>,
    errors: &HashMap<String, String>,
    vi: bool,
) -> Vec<Input> {
    fields
        .iter()
        .map(|f| Input {
            label: if vi {
                f.label.clone()
            } else {
                f.label_en.clone().unwrap_or_else(|| f.label.clone())
            },
            value: values.get(&f.name).cloned().unwrap_or_default(),
            error: errors.get(&format!("form.{}", f.name)).cloned(),
            f: f.clone(),
        })
        .collect()
}

async fn file_page(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    c: Chrome,
    code: Path<String>,
) -> Result<Response, PageError> {
    let Path(code) = code;
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&format!("/thu-tuc/{code}/nop")));
    };
    let stored = procedure_of(&d, &code, &c).await?;
    // Prefill from the account: its identification number, phone and e-mail.
    let mut values = HashMap::new();
    let (cccd, phone, email) = d
        .contact_of(&p.id)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    for f in &stored.spec.form {
        let v = match f.kind {
            FieldType::Cccd if p.kind == AccountKind::Citizen => cccd.clone(),
            FieldType::TaxCode if p.kind == AccountKind::Business => Some(p.login.clone()),
            FieldType::Phone => phone.clone(),
            FieldType::Email => email.clone(),
            _ => None,
        };
        if let Some(v) = v {
            values.insert(f.name.clone(), v);
        }
    }
    render_file(
        &d,
        &c,
        &stored,
        csrf,
        String::new(),
        &values,
        &HashMap::new(),
        None,
        StatusCode::OK,
    )
}

#[allow(clippy::too_many_arguments)]
fn render_file(
    d: &Dossiers,
    c: &Chrome,
    stored: &catalog::store::StoredProcedure,
    csrf: String,
    agency: String,
    values: &HashMap<String, String>,
    errors: &HashMap<String, String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let lookup = d.catalog.lookup();
    let agencies = stored
        .spec
        .agencies
        .iter()
        .map(|a| {
            let code = a.to_string();
            let name = lookup
                .agencies
                .get(&code)
                .map(|r| r.spec.name.clone())
                .unwrap_or_else(|| code.clone());
            (code, name)
        })
        .collect();
    Ok(render_status(
        status,
        &FilePage {
            code: stored.spec.code.clone(),
            name: stored.spec.name.clone(),
            agencies,
            agency,
            inputs: inputs(&stored.spec.form, values, errors, c.lang.is_vi()),
            csrf,
            error,
            c: c.clone(),
        },
    ))
}

async fn file_submit(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    c: Chrome,
    code: Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let Path(code) = code;
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&format!("/thu-tuc/{code}/nop")));
    };
    let Ok(Form(f)) = form else {
        return Err(PageError::new(
            DossierError::Invalid(vec![kernel::ProblemDetail::new(
                "form",
                "Biểu mẫu không đọc được",
                "The form cannot be read",
            )]),
            c,
        ));
    };
    if !f.get("csrf").is_some_and(|t| identity::same(t, &csrf)) {
        return Err(PageError::new(identity::IdentityError::Csrf, c));
    }
    let stored = procedure_of(&d, &code, &c).await?;
    let mut values = Map::new();
    for field in &stored.spec.form {
        if let Some(v) = f.get(&field.name).filter(|v| !v.trim().is_empty()) {
            values.insert(field.name.clone(), Value::String(v.clone()));
        }
    }
    let agency = f.get("agency").cloned().unwrap_or_default();
    let new = NewDossier {
        procedure: code.clone(),
        agency: Some(agency.clone()).filter(|a| !a.is_empty()),
        form: values,
        ..NewDossier::default()
    };
    match d.create(&p, &new, None).await {
        Ok((dossier, _)) => Ok(Redirect::to(&format!("/ho-so/{}", dossier.id)).into_response()),
        Err(e @ (DossierError::Invalid(_) | DossierError::Assurance { .. })) => {
            let vi = c.lang.is_vi();
            let errors: HashMap<String, String> = kernel::Problem::details(&e)
                .into_iter()
                .map(|x| (x.at, if vi { x.vi } else { x.en }))
                .collect();
            let status = web::error::status_of(&e);
            let msg = message(&e, &c);
            let kept: HashMap<String, String> =
                f.into_iter().filter(|(k, _)| k != "csrf").collect();
            render_file(
                &d,
                &c,
                &stored,
                csrf,
                agency,
                &kept,
                &errors,
                Some(msg),
                status,
            )
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    c: Chrome,
    lines: Vec<DossierLine>,
    /// For leaders: what is overdue or about to be.
    due: Vec<DossierLine>,
    q: String,
    official: bool,
    now: chrono::DateTime<chrono::Utc>,
    csrf: String,
    /// What a bulk action did: a line per dossier it could not act on, after a summary.
    notice: Vec<String>,
    /// Whether the notice reports a failure.
    failed: bool,
}

impl ListPage {
    fn label(&self, s: &Status) -> &'static str {
        s.label(self.c.lang.is_vi())
    }
    /// `overdue`, `soon` (within four hours) or `ok`, for an official's inbox.
    fn urgency(&self, l: &DossierLine) -> &'static str {
        match l.step_due_at {
            Some(d) if d < self.now => "overdue",
            Some(d) if d < self.now + chrono::Duration::hours(4) => "soon",
            _ => "ok",
        }
    }
}

async fn list_page(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    c: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first("/ho-so"));
    };
    list_view(&d, &p, c, &q, csrf, Vec::new(), false).await
}

async fn list_view(
    d: &Dossiers,
    p: &Principal,
    c: Chrome,
    q: &HashMap<String, String>,
    csrf: String,
    notice: Vec<String>,
    failed: bool,
) -> Result<Response, PageError> {
    let lines = d
        .list(
            p,
            q.get("trang_thai").and_then(|s| Status::parse(s)),
            q.get("q").map(String::as_str).unwrap_or(""),
            200,
        )
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let due = d
        .due_soon(p)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let official = p.kind == AccountKind::Official;
    Ok(render_status(
        if failed {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &ListPage {
            lines,
            due,
            q: q.get("q").cloned().unwrap_or_default(),
            official,
            now: d.clock.now(),
            csrf,
            notice,
            failed,
            c,
        },
    ))
}

/// The console's bulk action: the ticked dossiers (`ma`, repeated), one action, each dossier
/// on its own; the list comes back with what was done and what was not, and why.
async fn bulk_submit(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first("/ho-so"));
    };
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let one = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if !one("csrf").is_some_and(|t| identity::same(&t, &csrf)) {
        return Err(PageError::new(identity::IdentityError::Csrf, c));
    }
    let codes: Vec<String> = f
        .iter()
        .filter(|(n, _)| n == "ma")
        .map(|(_, v)| v.clone())
        .collect();
    let q = HashMap::new();
    let Some(action) = one("action").and_then(|a| ActionKind::parse(&a)) else {
        let msg = c.pick("Hãy chọn thao tác", "Choose an action").to_string();
        return list_view(&d, &p, c, &q, csrf, vec![msg], true).await;
    };
    let input = ActionInput {
        method: (action == ActionKind::Return)
            .then(|| one("method").filter(|m| !m.is_empty()))
            .flatten(),
        comment: one("comment").unwrap_or_default(),
        ..ActionInput::default()
    };
    let results = match d.act_many(&codes, &p, action, &input).await {
        Ok(r) => r,
        Err(e @ DossierError::Invalid(_)) => {
            let msg = message(&e, &c);
            return list_view(&d, &p, c, &q, csrf, vec![msg], true).await;
        }
        Err(e) => return Err(PageError::new(e, c)),
    };
    let done = results.iter().filter(|(_, r)| r.is_ok()).count();
    let mut notice = vec![if c.lang.is_vi() {
        format!("Đã thực hiện với {done}/{} hồ sơ.", results.len())
    } else {
        format!("Done for {done} of {} dossiers.", results.len())
    }];
    for (code, r) in &results {
        if let Err(e) = r {
            notice.push(format!("{code}: {}", message(e, &c)));
        }
    }
    let failed = done < results.len();
    list_view(&d, &p, c, &q, csrf, notice, failed).await
}

#[derive(Template)]
#[template(path = "dossier.html")]
struct DossierPage {
    c: Chrome,
    d: Dossier,
    csrf: String,
    /// What the viewer may do now.
    actions: Vec<(&'static str, &'static str)>,
    applicant: bool,
    required: Vec<String>,
    error: Option<String>,
    form: Vec<(String, String)>,
    /// How its links name it: the code, or the id of a draft.
    reference: String,
    /// The slips it has: kind and label.
    slips: Vec<(&'static str, &'static str)>,
    /// Whether the viewer may download the signed result now.
    result_ready: bool,
    /// Where a transfer may go: code and name, when the viewer may transfer.
    agencies: Vec<(String, String)>,
}

impl DossierPage {
    fn label(&self, s: &Status) -> &'static str {
        s.label(self.c.lang.is_vi())
    }
    fn can(&self, action: &str) -> bool {
        self.actions.iter().any(|(a, _)| *a == action)
    }
}

async fn dossier_view(
    d: &Dossiers,
    p: &Principal,
    code: &str,
    csrf: String,
    c: Chrome,
    error: Option<String>,
) -> Result<Response, PageError> {
    let dossier = d
        .get(code, p)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let applicant = p.is_applicant(
        dossier.applicant_account.as_deref(),
        dossier.on_behalf_of.as_deref(),
    );
    let vi = c.lang.is_vi();
    let label = |k: ActionKind| -> &'static str {
        match (k, vi) {
            (ActionKind::Submit, true) => "Nộp hồ sơ",
            (ActionKind::Submit, false) => "Submit",
            (ActionKind::Supplement, true) => "Đã bổ sung",
            (ActionKind::Supplement, false) => "Supplement done",
            (ActionKind::Receive, true) => "Tiếp nhận",
            (ActionKind::Receive, false) => "Receive",
            (ActionKind::RequestSupplement, true) => "Yêu cầu bổ sung",
            (ActionKind::RequestSupplement, false) => "Request a supplement",
            (ActionKind::Refuse, true) => "Từ chối tiếp nhận",
            (ActionKind::Refuse, false) => "Refuse",
            (ActionKind::Forward, true) => "Chuyển bước tiếp",
            (ActionKind::Forward, false) => "Forward",
            (ActionKind::SendBack, true) => "Trả lại bước trước",
            (ActionKind::SendBack, false) => "Send back",
            (ActionKind::Approve, true) => "Phê duyệt",
            (ActionKind::Approve, false) => "Approve",
            (ActionKind::Reject, true) => "Không giải quyết",
            (ActionKind::Reject, false) => "Reject",
            (ActionKind::Return, true) => "Trả kết quả",
            (ActionKind::Return, false) => "Return the result",
            (ActionKind::Apologize, true) => "Xin lỗi, gia hạn",
            (ActionKind::Apologize, false) => "Apologise and extend",
            (ActionKind::Stop, true) => "Dừng xử lý",
            (ActionKind::Stop, false) => "Stop handling",
            (ActionKind::Rate, true) => "Gửi đánh giá",
            (ActionKind::Rate, false) => "Send the rating",
            (ActionKind::Transfer, true) => "Chuyển liên thông",
            (ActionKind::Transfer, false) => "Transfer to another agency",
        }
    };
    let actions: Vec<(&'static str, &'static str)> = d
        .possible_actions(&dossier, p)
        .into_iter()
        .map(|k| (k.as_str(), label(k)))
        .collect();
    let stored = d
        .catalog
        .procedure(&dossier.procedure_code, Some(dossier.procedure_version))
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let required = stored
        .spec
        .documents
        .iter()
        .map(|x| x.name.clone())
        .collect();
    let form = stored
        .spec
        .form
        .iter()
        .filter_map(|f| {
            let v = dossier.form.get(&f.name)?;
            let shown = match v {
                Value::String(s) => s.clone(),
                Value::Bool(true) => c.pick("Có", "Yes").to_string(),
                Value::Bool(false) => c.pick("Không", "No").to_string(),
                other => other.to_string(),
            };
            let label = if vi {
                f.label.clone()
            } else {
                f.label_en.clone().unwrap_or_else(|| f.label.clone())
            };
            Some((label, shown))
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let slips = crate::slips::available(&dossier)
        .into_iter()
        .map(|k| (k.as_str(), if vi { k.title() } else { k.title_en() }))
        .collect();
    let result_ready =
        dossier.result.is_some() && (!applicant || dossier.status == Status::Returned);
    let agencies = if actions.iter().any(|(a, _)| *a == "transfer") {
        let lookup = d.catalog.lookup();
        let here = dossier
            .handler_agency
            .as_deref()
            .unwrap_or(&dossier.agency_code);
        let mut all: Vec<(String, String)> = lookup
            .agencies
            .iter()
            .filter(|(code, _)| code.as_str() != here)
            .map(|(code, a)| (code.to_string(), a.spec.name.clone()))
            .collect();
        all.sort_by(|a, b| a.1.cmp(&b.1));
        all
    } else {
        Vec::new()
    };
    Ok(render_status(
        status,
        &DossierPage {
            reference: dossier.code.clone().unwrap_or_else(|| dossier.id.clone()),
            d: dossier,
            csrf,
            actions,
            applicant,
            required,
            error,
            form,
            slips,
            result_ready,
            agencies,
            c,
        },
    ))
}

async fn dossier_page(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    c: Chrome,
    code: Path<String>,
) -> Result<Response, PageError> {
    let Path(code) = code;
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&format!("/ho-so/{code}")));
    };
    dossier_view(&d, &p, &code, csrf, c, None).await
}

async fn action_submit(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    c: Chrome,
    code: Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let Path(code) = code;
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&format!("/ho-so/{code}")));
    };
    let f = form.map(|Form(f)| f).unwrap_or_default();
    if !f.get("csrf").is_some_and(|t| identity::same(t, &csrf)) {
        return Err(PageError::new(identity::IdentityError::Csrf, c));
    }
    let Some(action) = f.get("action").and_then(|a| ActionKind::parse(a)) else {
        return dossier_view(
            &d,
            &p,
            &code,
            csrf,
            c.clone(),
            Some(c.pick("Hãy chọn thao tác", "Choose an action").into()),
        )
        .await;
    };
    let input = ActionInput {
        comment: f.get("comment").cloned().unwrap_or_default(),
        reasons: f
            .get("reasons")
            .map(|r| {
                r.lines()
                    .map(str::to_string)
                    .filter(|l| !l.trim().is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        to: f.get("to").cloned().filter(|t| !t.is_empty()),
        method: f.get("method").cloned().filter(|m| !m.is_empty()),
        new_date: f
            .get("new_date")
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        rating: f.get("rating").cloned().filter(|r| !r.is_empty()),
        agency: f.get("agency").cloned().filter(|a| !a.is_empty()),
    };
    match d.act(&code, &p, action, &input).await {
        Ok(done) => {
            Ok(Redirect::to(&format!("/ho-so/{}", done.code.unwrap_or(done.id))).into_response())
        }
        Err(
            e @ (DossierError::Invalid(_)
            | DossierError::WrongState { .. }
            | DossierError::Conflict
            | DossierError::Forbidden),
        ) => {
            let msg = message(&e, &c);
            dossier_view(&d, &p, &code, csrf, c, Some(msg)).await
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}

async fn upload_submit(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    c: Chrome,
    code: Path<String>,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let Path(code) = code;
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&format!("/ho-so/{code}")));
    };
    let mut token = String::new();
    let mut name = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let key = field.name().unwrap_or("").to_string();
                match key.as_str() {
                    "csrf" => token = field.text().await.unwrap_or_default(),
                    "name" => name = field.text().await.unwrap_or_default(),
                    "file" => {
                        let filename = field.file_name().unwrap_or("").to_string();
                        let bytes = field.bytes().await.map_err(|e| {
                            PageError::new(
                                DossierError::Invalid(vec![kernel::ProblemDetail::new(
                                    "file",
                                    format!("Không đọc được tệp: {e}"),
                                    format!("The file cannot be read: {e}"),
                                )]),
                                c.clone(),
                            )
                        })?;
                        file = Some((filename, bytes.to_vec()));
                    }
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(PageError::new(
                    DossierError::Invalid(vec![kernel::ProblemDetail::new(
                        "file",
                        format!("Không đọc được biểu mẫu: {e}"),
                        format!("The form cannot be read: {e}"),
                    )]),
                    c,
                ));
            }
        }
    }
    if !identity::same(&token, &csrf) {
        return Err(PageError::new(identity::IdentityError::Csrf, c));
    }
    let (filename, bytes) = file.unwrap_or_default();
    match d.upload(&code, &p, &name, &filename, &bytes).await {
        Ok(_) => Ok(Redirect::to(&format!("/ho-so/{code}")).into_response()),
        Err(e @ (DossierError::Invalid(_) | DossierError::WrongState { .. })) => {
            let msg = message(&e, &c);
            dossier_view(&d, &p, &code, csrf, c, Some(msg)).await
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}
