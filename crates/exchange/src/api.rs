//! The exchange hub's API, for agencies' document-management systems and the hub's operators.
//!
//! A package travels as the request body (`application/xml`, the exact bytes that were
//! signed) with the sender's detached CMS signature, base64 DER, in `X-Motcua-Signature`; the
//! same shape as the hub's pushes.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRef, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use web::ApiError;
use web::extract::{json as body, path, query};

use identity::Action;
use identity::web::Auth;

use crate::error::refused;
use crate::hub::{Document, InboxLine, RegisterLine, RegisterQuery};
use crate::push::Push;
use crate::registry::{Agency, AgencySpec, CertificateEntry, CertificateRequest, Revocation};
use crate::{Exchange, ExchangeError, MAX_PACKAGE_BYTES};

/// The exchange hub's routes.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Exchange>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(ca_certificate))
        .routes(routes!(hub_certificate))
        .routes(routes!(crl))
        .routes(routes!(list_agencies, put_agency))
        .routes(routes!(get_agency))
        .routes(routes!(add_certificate))
        .routes(routes!(revoke))
        .routes(routes!(send).layer(DefaultBodyLimit::max(MAX_PACKAGE_BYTES + 64 * 1024)))
        .routes(routes!(get_document))
        .routes(routes!(get_package))
        .routes(routes!(get_signature))
        .routes(routes!(inbox))
        .routes(routes!(answer).layer(DefaultBodyLimit::max(MAX_PACKAGE_BYTES + 64 * 1024)))
        .routes(routes!(register))
        .routes(routes!(receipt))
        .routes(routes!(receipt_signature))
        .routes(routes!(pushes))
}

fn file(bytes: Vec<u8>, media: &'static str, name: &str) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// The detached signature sent in `X-Motcua-Signature`.
fn signature_of(headers: &HeaderMap) -> Result<Vec<u8>, ExchangeError> {
    let v = headers
        .get("x-motcua-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if v.is_empty() {
        return Err(refused(
            400,
            "missing_signature",
            "Thiếu chữ ký số tách rời của gói tin (tiêu đề X-Motcua-Signature, base64)",
            "The package's detached signature is missing (header X-Motcua-Signature, base64)",
        ));
    }
    base64::engine::general_purpose::STANDARD
        .decode(v)
        .map_err(|_| {
            refused(
                400,
                "missing_signature",
                "Tiêu đề X-Motcua-Signature không phải base64",
                "The X-Motcua-Signature header is not base64",
            )
        })
}

/// The node's root certificate (PEM): the authority that issues agencies' certificates.
#[utoipa::path(get, path = "/api/v1/exchange/ca", tag = "exchange",
    responses((status = 200, description = "PEM certificate", content_type = "application/x-pem-file")))]
async fn ca_certificate(State(x): State<Arc<Exchange>>) -> Result<Response, ApiError> {
    Ok(file(
        x.ca_pem().await?.into_bytes(),
        "application/x-pem-file",
        "motcua-ca.pem",
    ))
}

/// The certificate that signs the hub's delivery receipts (PEM), issued by the node's root.
#[utoipa::path(get, path = "/api/v1/exchange/hub-certificate", tag = "exchange",
    responses((status = 200, description = "PEM certificate", content_type = "application/x-pem-file")))]
async fn hub_certificate(State(x): State<Arc<Exchange>>) -> Result<Response, ApiError> {
    Ok(file(
        x.hub_pem().await?.into_bytes(),
        "application/x-pem-file",
        "motcua-hub.pem",
    ))
}

/// The revocation list of certificates the node's root issued (DER).
#[utoipa::path(get, path = "/api/v1/exchange/crl", tag = "exchange",
    responses((status = 200, description = "DER CRL", content_type = "application/pkix-crl")))]
async fn crl(State(x): State<Arc<Exchange>>) -> Result<Response, ApiError> {
    Ok(file(x.crl().await?, "application/pkix-crl", "motcua.crl"))
}

/// The agencies on the hub with their certificates. Any logged-in caller; a bearer token needs
/// `documents:exchange` or `exchange:admin`.
#[utoipa::path(get, path = "/api/v1/exchange/agencies", tag = "exchange",
    responses(
        (status = 200, body = Vec<Agency>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A bearer token without the scope", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn list_agencies(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
) -> Result<Json<Vec<Agency>>, ApiError> {
    auth.caller_within(&[Action::ExchangeDocuments, Action::ManageExchange])
        .await?;
    Ok(Json(x.agencies().await?))
}

/// Adds an agency to the hub or changes its entry (the hub's operators).
#[utoipa::path(post, path = "/api/v1/exchange/agencies", tag = "exchange",
    request_body = AgencySpec,
    responses(
        (status = 200, body = Agency),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn put_agency(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    headers: HeaderMap,
    b: Result<Json<AgencySpec>, JsonRejection>,
) -> Result<Json<Agency>, ApiError> {
    let p = auth.writer(&headers)?;
    x.allow_manage(&p).await?;
    let spec = body(b)?;
    Ok(Json(x.put_agency(&p.id, spec).await?))
}

/// One agency on the hub.
#[utoipa::path(get, path = "/api/v1/exchange/agencies/{organ_id}", tag = "exchange",
    params(("organ_id" = String, Path)),
    responses(
        (status = 200, body = Agency),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A bearer token without the scope", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_agency(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    organ: Result<Path<String>, PathRejection>,
) -> Result<Json<Agency>, ApiError> {
    auth.caller_within(&[Action::ExchangeDocuments, Action::ManageExchange])
        .await?;
    let organ = path(organ)?;
    Ok(Json(x.agency(&organ).await?))
}

/// Gives an agency a certificate (the hub's operators): `public_key_pem` to have the node's
/// root certify the agency's own key, `certificate_pem` to import one from an outside CA, or
/// neither for a new key that the node keeps for the agency's clerks.
#[utoipa::path(post, path = "/api/v1/exchange/agencies/{organ_id}/certificates", tag = "exchange",
    params(("organ_id" = String, Path)),
    request_body = CertificateRequest,
    responses(
        (status = 201, body = CertificateEntry),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn add_certificate(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    headers: HeaderMap,
    organ: Result<Path<String>, PathRejection>,
    b: Result<Json<CertificateRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = auth.writer(&headers)?;
    x.allow_manage(&p).await?;
    let organ = path(organ)?;
    let req = body(b)?;
    let c = x.add_certificate(&p.id, &organ, req).await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// Revokes a certificate (the hub's operators): it signs nothing more, and the CRL lists it.
#[utoipa::path(post, path = "/api/v1/exchange/certificates/{serial}/revoke", tag = "exchange",
    params(("serial" = String, Path)),
    request_body = Revocation,
    responses(
        (status = 200, body = CertificateEntry),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn revoke(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    headers: HeaderMap,
    serial: Result<Path<String>, PathRejection>,
    b: Result<Json<Revocation>, JsonRejection>,
) -> Result<Json<CertificateEntry>, ApiError> {
    let p = auth.writer(&headers)?;
    x.allow_manage(&p).await?;
    let serial = path(serial)?;
    let r = body(b)?;
    Ok(Json(x.revoke(&p.id, &serial, r.reason).await?))
}

/// Sends a document: the edXML package as the body, exactly as signed, and the sending
/// agency's detached CMS signature over it (base64 DER) in `X-Motcua-Signature`. The caller
/// must act for the package's `From` agency (its clerk or leader, or a machine client
/// registered for it with `documents:exchange`). Nothing is stored unless the package parses,
/// the signature verifies with a certificate registered for that agency and not revoked,
/// every recipient is on the hub, and neither these bytes nor (for a new document) its
/// DocumentId were accepted before.
#[utoipa::path(post, path = "/api/v1/exchange/documents", tag = "exchange",
    params(("X-Motcua-Signature" = String, Header, description = "base64 DER detached CMS signature over the body")),
    request_body(content = String, content_type = "application/xml"),
    responses(
        (status = 201, body = Document),
        (status = 400, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 413, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn send(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let p = auth.writer(&headers)?;
    let sig = signature_of(&headers)?;
    let d = x.accept(&p, &bytes, &sig).await?;
    Ok((StatusCode::CREATED, Json(d)).into_response())
}

/// A document with each recipient's status and history, and the hub's receipts: for the
/// sender's and recipients' clerks and leaders, and the hub's operators.
#[utoipa::path(get, path = "/api/v1/exchange/documents/{id}", tag = "exchange",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Document),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_document(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Document>, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    let d = x.document(&id).await?;
    x.allow_read(&p, &d).await?;
    Ok(Json(d))
}

/// The package, exactly as the sender signed it, with the signature in `X-Motcua-Signature`.
/// A recipient's first fetch is the hand-over: the hub signs a `delivered` receipt.
#[utoipa::path(get, path = "/api/v1/exchange/documents/{id}/package", tag = "exchange",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The edXML package", content_type = "application/xml"),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_package(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    let (package, sig) = x.package(&p, &id).await?;
    let mut r = file(package, "application/xml", &format!("{id}.edxml"));
    if let Ok(v) = HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(&sig)) {
        r.headers_mut().insert("x-motcua-signature", v);
    }
    Ok(r)
}

/// The sender's detached CMS signature over the package (DER), for `openssl cms -verify`.
#[utoipa::path(get, path = "/api/v1/exchange/documents/{id}/signature", tag = "exchange",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "DER CMS SignedData", content_type = "application/pkcs7-signature"),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_signature(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    let (_, sig) = x.package(&p, &id).await?;
    Ok(file(
        sig,
        "application/pkcs7-signature",
        &format!("{id}.p7s"),
    ))
}

/// Which agency's inbox.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    pub agency: String,
    /// Also the documents taken but not finished (refused or completed).
    #[serde(default)]
    pub all: bool,
    pub limit: Option<i64>,
}

/// Documents waiting for an agency: not yet taken (or, with `all`, not finished).
#[utoipa::path(get, path = "/api/v1/exchange/inbox", tag = "exchange",
    params(InboxQuery),
    responses(
        (status = 200, body = Vec<InboxLine>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn inbox(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    q: Result<Query<InboxQuery>, QueryRejection>,
) -> Result<Json<Vec<InboxLine>>, ApiError> {
    let p = auth.caller()?;
    let q = query(q)?;
    x.allow_act(&p, &q.agency).await?;
    Ok(Json(
        x.inbox(&q.agency, q.all, q.limit.unwrap_or(100)).await?,
    ))
}

/// A recipient answers a document with a signed edXML status package (the body; signature in
/// `X-Motcua-Signature`): `01` arrived, `02` refused, `03` accepted (which registers it in the
/// recipient's register of documents received), `04` assigned, `05` in progress, `06`
/// completed. A status only moves forward; the sender sees it at once, and is pushed it.
#[utoipa::path(post, path = "/api/v1/exchange/statuses", tag = "exchange",
    params(("X-Motcua-Signature" = String, Header, description = "base64 DER detached CMS signature over the body")),
    request_body(content = String, content_type = "application/xml"),
    responses(
        (status = 201, body = Document),
        (status = 400, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn answer(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let p = auth.writer(&headers)?;
    let sig = signature_of(&headers)?;
    let d = x.answer(&p, &bytes, &sig).await?;
    Ok((StatusCode::CREATED, Json(d)).into_response())
}

/// An agency's register of documents received (`in`) or sent (`out`) for a year, newest
/// first, searched by words of the subject, code or other agency.
#[utoipa::path(get, path = "/api/v1/exchange/register", tag = "exchange",
    params(RegisterQuery),
    responses(
        (status = 200, body = Vec<RegisterLine>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn register(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    q: Result<Query<RegisterQuery>, QueryRejection>,
) -> Result<Json<Vec<RegisterLine>>, ApiError> {
    let p = auth.caller()?;
    let q = query(q)?;
    if !x.may_manage(&p) {
        x.allow_act(&p, &q.agency).await?;
    }
    Ok(Json(x.register(&q, 500).await?))
}

/// A receipt the hub signed (JSON): what was handed over, by or to whom, and when.
#[utoipa::path(get, path = "/api/v1/exchange/receipts/{id}", tag = "exchange",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The receipt's JSON body, as signed", content_type = "application/json"),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn receipt(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    let (body, _) = x.receipt(&p, &id).await?;
    Ok(file(body, "application/json", &format!("{id}.json")))
}

/// The hub's detached CMS signature over a receipt (DER); its signing time is the time stamp.
#[utoipa::path(get, path = "/api/v1/exchange/receipts/{id}/signature", tag = "exchange",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "DER CMS SignedData", content_type = "application/pkcs7-signature"),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn receipt_signature(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    let (_, sig) = x.receipt(&p, &id).await?;
    Ok(file(
        sig,
        "application/pkcs7-signature",
        &format!("{id}.p7s"),
    ))
}

/// Which pushes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PushQuery {
    /// Also those done.
    #[serde(default)]
    pub all: bool,
}

/// Pushes to agencies' endpoints not yet done, with their tries and last error (the hub's
/// operators).
#[utoipa::path(get, path = "/api/v1/exchange/pushes", tag = "exchange",
    params(PushQuery),
    responses(
        (status = 200, body = Vec<Push>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn pushes(
    State(x): State<Arc<Exchange>>,
    auth: Auth,
    q: Result<Query<PushQuery>, QueryRejection>,
) -> Result<Json<Vec<Push>>, ApiError> {
    let p = auth.caller()?;
    x.allow_manage(&p).await?;
    let q = query(q)?;
    Ok(Json(x.pushes(q.all, 200).await?))
}
