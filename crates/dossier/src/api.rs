//! The dossier API: file, read, list, upload and download documents, and act.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, FromRef, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use web::ApiError;
use web::extract::{json as body, path};

use identity::web::Auth;
use kernel::ProblemDetail;

use crate::signing::ResultFile;
use crate::slips::SlipKind;
use crate::{
    ActionInput, ActionKind, Document, Dossier, DossierError, DossierLine, Dossiers,
    MAX_DOCUMENT_BYTES, NewDossier, Status, Tracking, Workflow,
};

/// The dossier routes.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Dossiers>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one))
        .routes(routes!(act))
        .routes(routes!(act_many))
        .routes(routes!(upload).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 64 * 1024)))
        .routes(routes!(download))
        .routes(routes!(workflow_get, workflow_put))
        .routes(routes!(tracking))
        .routes(routes!(due))
        .routes(routes!(slip))
        .routes(routes!(result_document))
        .routes(routes!(result_signature))
        .routes(routes!(agency_certificate))
}

/// A file to download: its bytes, type and name; `inline` lets a browser show it (a slip to
/// print) rather than save it.
pub(crate) fn file_response(bytes: Vec<u8>, media: &str, name: &str, inline: bool) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(media) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let how = if inline { "inline" } else { "attachment" };
    if let Ok(v) = HeaderValue::from_str(&format!("{how}; filename=\"{ascii}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    r
}

/// The kind of slip named in a path; an unknown one is not found.
pub(crate) fn slip_kind(kind: &str) -> Result<SlipKind, DossierError> {
    SlipKind::parse(kind).ok_or_else(|| DossierError::NotIssued {
        vi: format!("Không có loại phiếu {kind}"),
        en: format!("There is no slip of kind {kind}"),
    })
}

/// A printable slip of a dossier: an A4 PDF in Vietnamese, for the applicant and the agency's
/// officials. `receipt` (receipt and appointment slip, with a QR code to the tracking page) and
/// `control` (process control slip: every hand-over, its due time and whether it was on time)
/// exist once the dossier is received; `supplement`, `refusal`, `apology` and `stop` once such
/// a request, refusal, apology or stop notice was issued. A slip the dossier does not have is
/// 404, as is a dossier the caller may not read.
#[utoipa::path(get, path = "/api/v1/dossiers/{code}/slips/{kind}", tag = "dossiers",
    params(("code" = String, Path, description = "Dossier code or id"),
        ("kind" = String, Path, description = "receipt, supplement, refusal, apology, stop or control")),
    responses(
        (status = 200, description = "The slip", content_type = "application/pdf", body = Vec<u8>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such dossier for the caller, or no such slip", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn slip(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    params: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = who(&auth)?;
    let (code, kind) = path(params)?;
    let kind = slip_kind(&kind)?;
    let (name, bytes) = d.slip(&code, &p, kind).await?;
    Ok(file_response(bytes, "application/pdf", &name, true))
}

/// The signed result document (PDF), made when the deciding step approved. The agency's
/// officials may download it once signed, the applicant once the result was returned (at the
/// desk, by post or online); the applicant's download is recorded in the dossier's history.
#[utoipa::path(get, path = "/api/v1/dossiers/{code}/result", tag = "dossiers",
    params(("code" = String, Path, description = "Dossier code or id")),
    responses(
        (status = 200, description = "The result document", content_type = "application/pdf", body = Vec<u8>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such dossier for the caller, or no result for them yet", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn result_document(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    code: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = who(&auth)?;
    let code = path(code)?;
    let (name, media, bytes) = d.result_file(&code, &p, ResultFile::Document).await?;
    Ok(file_response(bytes, media, &name, false))
}

/// The detached CMS SignedData (DER) over the result document, signed with the agency's key,
/// its certificate included. Check it with `openssl cms -verify -binary -inform DER -in
/// result.p7s -content result.pdf -CAfile agency.pem -purpose any`. Same access as the result.
#[utoipa::path(get, path = "/api/v1/dossiers/{code}/result/signature", tag = "dossiers",
    params(("code" = String, Path, description = "Dossier code or id")),
    responses(
        (status = 200, description = "The signature", content_type = "application/pkcs7-signature", body = Vec<u8>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn result_signature(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    code: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = who(&auth)?;
    let code = path(code)?;
    let (name, media, bytes) = d.result_file(&code, &p, ResultFile::Signature).await?;
    Ok(file_response(bytes, media, &name, false))
}

/// An agency's signing certificate (PEM, self-signed), to check its signed results. Public;
/// 404 until the agency has signed a first result.
#[utoipa::path(get, path = "/api/v1/agencies/{code}/certificate", tag = "dossiers",
    params(("code" = String, Path, description = "Agency code")),
    responses(
        (status = 200, description = "The certificate", content_type = "application/x-pem-file", body = String),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn agency_certificate(
    State(d): State<Arc<Dossiers>>,
    code: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let code = path(code)?;
    let pem = d.certificate_pem(&code).await?;
    let mut r = file_response(
        pem.into_bytes(),
        "application/x-pem-file",
        &format!("{code}.pem"),
        true,
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    Ok(r)
}

fn who(auth: &Auth) -> Result<identity::Principal, ApiError> {
    Ok(auth.caller()?)
}

/// The caller of a request that changes something (CSRF-checked for a browser's session).
fn writer(auth: &Auth, headers: &HeaderMap) -> Result<identity::Principal, ApiError> {
    Ok(auth.writer(headers)?)
}

/// File a dossier: a draft (then upload documents and submit), or submitted at once. At the
/// desk, a reception official gives `applicant` for a walk-in applicant. With an
/// `Idempotency-Key` header, repeating the request returns the first dossier (200).
#[utoipa::path(post, path = "/api/v1/dossiers", tag = "dossiers",
    request_body = NewDossier,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe")),
    responses(
        (status = 201, description = "Filed", body = Dossier),
        (status = 200, description = "Already filed with this Idempotency-Key", body = Dossier),
        (status = 401, description = "Not logged in", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Assurance level too low", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Every problem with the form, listed", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn create(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    headers: HeaderMap,
    b: Result<Json<NewDossier>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = writer(&auth, &headers)?;
    let new = body(b)?;
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(v.to_str().map_err(|_| {
            DossierError::Invalid(vec![ProblemDetail::new(
                "Idempotency-Key",
                "Idempotency-Key chỉ gồm ký tự ASCII",
                "Idempotency-Key must be ASCII",
            )])
        })?),
        None => None,
    };
    let (dossier, created) = d.create(&p, &new, key).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(dossier)).into_response())
}

/// The caller's dossiers, or (for officials) their agencies' dossiers, newest first.
#[utoipa::path(get, path = "/api/v1/dossiers", tag = "dossiers",
    params(
        ("status" = Option<String>, Query, description = "draft, submitted, supplement_requested, received, refused"),
        ("q" = Option<String>, Query, description = "Officials: a dossier code (or part), the applicant's CCCD, or their name with or without diacritics"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 100"),
    ),
    responses(
        (status = 200, body = Vec<DossierLine>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A bearer token without the dossiers:read scope", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn list(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<DossierLine>>, ApiError> {
    let p = who(&auth)?;
    let status = match q
        .get("status")
        .map(String::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            DossierError::Invalid(vec![ProblemDetail::new(
                "status",
                format!("Không có trạng thái {s}"),
                format!("No status {s}"),
            )])
        })?),
        None => None,
    };
    let limit = match q.get("limit") {
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                DossierError::Invalid(vec![ProblemDetail::new(
                    "limit",
                    "limit là số từ 1 đến 500",
                    "limit is a number from 1 to 500",
                )])
            })?,
        None => 100,
    };
    let q = q.get("q").map(String::as_str).unwrap_or("");
    Ok(Json(d.list(&p, status, q, limit).await?))
}

/// One dossier, by its code or id. A dossier the caller may not see is "not found".
#[utoipa::path(get, path = "/api/v1/dossiers/{code}", tag = "dossiers",
    params(("code" = String, Path, description = "Dossier code or id")),
    responses(
        (status = 200, body = Dossier),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_one(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    code: Result<Path<String>, PathRejection>,
) -> Result<Json<Dossier>, ApiError> {
    let p = who(&auth)?;
    let code = path(code)?;
    Ok(Json(d.get(&code, &p).await?))
}

/// Act on a dossier. The applicant: `submit`, `supplement`, `rate`. The agency's desk:
/// `receive`, `request_supplement`, `refuse`, `return`. The current step's role: `forward`,
/// `send_back`, `request_supplement`, `apologize`, `stop`, `transfer` (to another agency), and
/// on the deciding step `approve` or `reject`.
#[utoipa::path(post, path = "/api/v1/dossiers/{code}/actions/{action}", tag = "dossiers",
    params(("code" = String, Path), ("action" = String, Path, description = "submit, supplement, rate, receive, request_supplement, refuse, forward, send_back, apologize, stop, transfer, approve, reject, return")),
    request_body = ActionInput,
    responses(
        (status = 200, body = Dossier),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Not possible in the dossier's state", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn act(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    headers: HeaderMap,
    params: Result<Path<(String, String)>, PathRejection>,
    b: Result<Json<ActionInput>, JsonRejection>,
) -> Result<Json<Dossier>, ApiError> {
    let p = writer(&auth, &headers)?;
    // Most actions need no input: a request without a JSON body takes none.
    let input = match b {
        Err(JsonRejection::MissingJsonContentType(_)) => ActionInput::default(),
        b => body(b)?,
    };
    let (code, action) = path(params)?;
    let Some(action) = ActionKind::parse(&action) else {
        return Err(DossierError::Invalid(vec![ProblemDetail::new(
            "action",
            format!("Không có thao tác {action}"),
            format!("No action {action}"),
        )])
        .into());
    };
    Ok(Json(d.act(&code, &p, action, &input).await?))
}

/// One action on many dossiers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInput {
    /// Codes (or ids) of 1 to 100 dossiers.
    pub dossiers: Vec<String>,
    /// The action's details, the same for each.
    #[serde(default)]
    pub input: ActionInput,
}

/// What became of one dossier of a bulk action.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItem {
    pub dossier: String,
    /// The HTTP status the single action would have answered.
    pub status: u16,
    /// The dossier's status after the action, when it was taken.
    pub dossier_status: Option<Status>,
    /// Why not, when it was not.
    pub problem: Option<web::error::ProblemBody>,
}

/// A bulk action's answer: one item per dossier, in the order given.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkOutcome {
    pub done: usize,
    pub failed: usize,
    pub results: Vec<BulkItem>,
}

impl BulkOutcome {
    pub fn of(results: Vec<(String, Result<Dossier, DossierError>)>) -> BulkOutcome {
        let results: Vec<BulkItem> = results
            .into_iter()
            .map(|(dossier, r)| match r {
                Ok(d) => BulkItem {
                    dossier,
                    status: 200,
                    dossier_status: Some(d.status),
                    problem: None,
                },
                Err(e) => BulkItem {
                    dossier,
                    status: kernel::Problem::status(&e),
                    dossier_status: None,
                    problem: Some(web::error::ProblemBody::of(&e)),
                },
            })
            .collect();
        let done = results.iter().filter(|r| r.status == 200).count();
        BulkOutcome {
            done,
            failed: results.len() - done,
            results,
        }
    }
}

/// Take one action on many dossiers (`receive`, `forward`, `approve`, `return`, `transfer`),
/// each checked and stored on its own, as if sent one by one. The answer is 200 with one
/// result per dossier, whatever became of each; 422 when the list or the action is wrong.
#[utoipa::path(post, path = "/api/v1/dossier-actions/{action}", tag = "dossiers",
    params(("action" = String, Path, description = "receive, forward, approve, return, transfer")),
    request_body = BulkInput,
    responses(
        (status = 200, body = BulkOutcome),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn act_many(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    headers: HeaderMap,
    action: Result<Path<String>, PathRejection>,
    b: Result<Json<BulkInput>, JsonRejection>,
) -> Result<Json<BulkOutcome>, ApiError> {
    let p = writer(&auth, &headers)?;
    let action = path(action)?;
    let Some(action) = ActionKind::parse(&action) else {
        return Err(DossierError::Invalid(vec![ProblemDetail::new(
            "action",
            format!("Không có thao tác {action}"),
            format!("No action {action}"),
        )])
        .into());
    };
    let b = body(b)?;
    let results = d.act_many(&b.dossiers, &p, action, &b.input).await?;
    Ok(Json(BulkOutcome::of(results)))
}

/// Upload a document: the raw bytes as the body (PDF, JPEG or PNG, up to 10 MiB; the type is
/// read from the bytes), with `name` (which required document it is) and `filename`.
#[utoipa::path(post, path = "/api/v1/dossiers/{code}/documents", tag = "dossiers",
    params(("code" = String, Path), ("name" = String, Query), ("filename" = Option<String>, Query)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, body = Document),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 10 MiB"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn upload(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    headers: HeaderMap,
    code: Result<Path<String>, PathRejection>,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let p = writer(&auth, &headers)?;
    let code = path(code)?;
    let doc = d
        .upload(
            &code,
            &p,
            q.get("name").map(String::as_str).unwrap_or(""),
            q.get("filename").map(String::as_str).unwrap_or(""),
            &bytes,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

/// Download a document.
#[utoipa::path(get, path = "/api/v1/dossiers/{code}/documents/{id}", tag = "dossiers",
    params(("code" = String, Path), ("id" = String, Path)),
    responses(
        (status = 200, description = "The document's bytes", content_type = "application/octet-stream"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn download(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    params: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = who(&auth)?;
    let (code, id) = path(params)?;
    let (doc, bytes) = d.document(&code, &id, &p).await?;
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&doc.media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let ascii: String = doc
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
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

/// The steps an agency's dossiers of a procedure go through (the standard ones unless the
/// agency set its own). For the agency's officials.
#[utoipa::path(get, path = "/api/v1/workflows/{agency}/{procedure}", tag = "dossiers",
    params(("agency" = String, Path), ("procedure" = String, Path)),
    responses(
        (status = 200, body = Workflow),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn workflow_get(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    params: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Workflow>, ApiError> {
    let p = who(&auth)?;
    let (agency, procedure) = path(params)?;
    Ok(Json(d.workflow_view(&p, &agency, &procedure).await?))
}

/// Set an agency's workflow for a procedure (its administrator). Refused when a step cannot be
/// reached, a path never ends, or there is not exactly one deciding and one returning step.
/// Dossiers already received keep the workflow they started with.
#[utoipa::path(put, path = "/api/v1/workflows/{agency}/{procedure}", tag = "dossiers",
    params(("agency" = String, Path), ("procedure" = String, Path)),
    request_body = Workflow,
    responses(
        (status = 200, body = Workflow),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn workflow_put(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
    headers: HeaderMap,
    params: Result<Path<(String, String)>, PathRejection>,
    b: Result<Json<Workflow>, JsonRejection>,
) -> Result<Json<Workflow>, ApiError> {
    let p = writer(&auth, &headers)?;
    let (agency, procedure) = path(params)?;
    let w = body(b)?;
    d.set_workflow(&p, &agency, &procedure, &w).await?;
    Ok(Json(w))
}

/// Public tracking: a dossier's progress by its code and the last four digits of the
/// applicant's phone (or identification number, when no phone was given). An unknown code and
/// wrong digits get the same 404; repeated wrong tries on a code are locked out for a while.
#[utoipa::path(get, path = "/api/v1/tracking/{code}", tag = "dossiers",
    params(("code" = String, Path), ("digits" = String, Query, description = "The last 4 digits")),
    responses(
        (status = 200, body = Tracking),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 429, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn tracking(
    State(d): State<Arc<Dossiers>>,
    code: Result<Path<String>, PathRejection>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Tracking>, ApiError> {
    let code = path(code)?;
    let digits = q.get("digits").map(String::as_str).unwrap_or("");
    Ok(Json(d.track(&code, digits.trim()).await?))
}

/// For an agency's leader, department heads and administrator: its open dossiers that are
/// overdue or due by the end of the next working day, most urgent first.
#[utoipa::path(get, path = "/api/v1/due-dossiers", tag = "dossiers",
    responses(
        (status = 200, body = Vec<DossierLine>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A bearer token without the dossiers:read scope", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn due(
    State(d): State<Arc<Dossiers>>,
    auth: Auth,
) -> Result<Json<Vec<DossierLine>>, ApiError> {
    let p = who(&auth)?;
    Ok(Json(d.due_soon(&p).await?))
}
