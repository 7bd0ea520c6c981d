//! The payment API: a dossier's fees and payments, the gateways' IPN calls, receipts,
//! refunds, statements and figures.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use web::ApiError;
use web::extract::{json as body, path, query};

use identity::web::Auth;

use crate::{
    DossierFees, Payment, PaymentError, Payments, RefundInput, StartInput, Started, Statement,
    Summary,
};

/// The largest statement accepted, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 8 * 1024 * 1024;

/// The payment routes.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Payments>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(fees_of, start))
        .routes(routes!(ipn))
        .routes(routes!(get_one))
        .routes(routes!(receipt))
        .routes(routes!(refund))
        .routes(routes!(import_statement))
        .routes(routes!(get_statement))
        .routes(routes!(summary))
}

fn who(auth: &Auth) -> Result<identity::Principal, ApiError> {
    Ok(auth.caller()?)
}

/// The caller of a request that changes something (CSRF-checked for a browser's session).
fn writer(auth: &Auth, headers: &HeaderMap) -> Result<identity::Principal, ApiError> {
    Ok(auth.writer(headers)?)
}

/// The caller's address as the gateway wants it.
pub(crate) fn client_ip(headers: &HeaderMap) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
        .unwrap_or_else(|| "127.0.0.1".into())
}

/// What a dossier owes and every payment of it: its applicant and its agency's officials.
#[utoipa::path(get, path = "/api/v1/dossiers/{code}/payments", tag = "payments",
    params(("code" = String, Path, description = "Dossier code or id")),
    responses(
        (status = 200, body = DossierFees),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The procedure collects no fees through the system", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn fees_of(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    code: Result<Path<String>, PathRejection>,
) -> Result<Json<DossierFees>, ApiError> {
    let p = who(&auth)?;
    let code = path(code)?;
    Ok(Json(s.of_dossier(&code, &p).await?))
}

/// Pay a dossier's fees. The applicant, through a gateway (`sandbox` or `vnpay`): the answer
/// carries `pay_url`, where to send the browser; a pending payment of the same choice is
/// reused, so two tabs pay once. The receiving agency's desk, `desk`: cash or card taken at
/// the counter, paid at once with its receipt. A case that owes nothing settles at once.
#[utoipa::path(post, path = "/api/v1/dossiers/{code}/payments", tag = "payments",
    params(("code" = String, Path, description = "Dossier code or id")),
    request_body = StartInput,
    responses(
        (status = 201, body = Started),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Already paid, nothing collected here, or the dossier is closed", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn start(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    headers: HeaderMap,
    code: Result<Path<String>, PathRejection>,
    b: Result<Json<StartInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let p = writer(&auth, &headers)?;
    let code = path(code)?;
    let input = body(b)?;
    let vi = !headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|l| l.starts_with("en"));
    Ok((
        StatusCode::CREATED,
        Json(s.start(&code, &p, &input, &client_ip(&headers), vi).await?),
    ))
}

/// The answer a gateway expects to its IPN call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IpnAnswer {
    #[serde(rename = "RspCode")]
    pub rsp_code: String,
    #[serde(rename = "Message")]
    pub message: String,
}

/// The gateway's server-to-server confirmation (IPN) of how a payment ended, as signed
/// `vnp_*` query parameters. Always 200 with `RspCode`: `00` applied, `01` unknown reference,
/// `02` already confirmed (a replay or a stale message: nothing changed), `04` amount
/// mismatch, `97` bad signature, `99` other. Only this call changes a payment.
#[utoipa::path(get, path = "/api/v1/payments/ipn/{provider}", tag = "payments",
    params(("provider" = String, Path, description = "sandbox or vnpay")),
    responses((status = 200, body = IpnAnswer)))]
async fn ipn(
    State(s): State<Arc<Payments>>,
    provider: Result<Path<String>, PathRejection>,
    q: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Json<IpnAnswer> {
    let provider = provider.map(|Path(p)| p).unwrap_or_default();
    let params = q.map(|Query(q)| q).unwrap_or_default();
    let a = s.notify(&provider, &params).await;
    Json(IpnAnswer {
        rsp_code: a.code().into(),
        message: a.message().into(),
    })
}

/// One payment: the dossier's applicant and its agency's officials.
#[utoipa::path(get, path = "/api/v1/payments/{id}", tag = "payments",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Payment),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_one(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Payment>, ApiError> {
    let p = who(&auth)?;
    let id = path(id)?;
    Ok(Json(s.get(&id, &p).await?))
}

pub(crate) fn pdf(bytes: Vec<u8>, name: &str) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    r
}

/// The electronic receipt of a paid payment (PDF), numbered per agency and year.
#[utoipa::path(get, path = "/api/v1/payments/{id}/receipt", tag = "payments",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The receipt", content_type = "application/pdf", body = Vec<u8>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such payment for the caller, or it has no receipt", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn receipt(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = who(&auth)?;
    let id = path(id)?;
    let (name, bytes) = s.receipt_pdf(&id, &p).await?;
    Ok(pdf(bytes, &name))
}

/// Give money back (the agency's accountant or leader): up to what was paid and not given
/// back yet, with a reason. Done at once for the sandbox and the desk; requested, to be paid
/// out through the gateway, for VNPAY.
#[utoipa::path(post, path = "/api/v1/payments/{id}/refunds", tag = "payments",
    params(("id" = String, Path)),
    request_body = RefundInput,
    responses(
        (status = 201, body = Payment),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn refund(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<RefundInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Payment>), ApiError> {
    let p = writer(&auth, &headers)?;
    let id = path(id)?;
    let input = body(b)?;
    Ok((StatusCode::CREATED, Json(s.refund(&id, &p, &input).await?)))
}

/// Which statement.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// `sandbox` or `vnpay`.
    pub provider: String,
    /// The statement's day, `YYYY-MM-DD` (Vietnam's time).
    pub day: NaiveDate,
}

/// Import a gateway's daily statement (CSV with a header row: `txn_ref`, `amount`, and
/// optionally `transaction_no`, `pay_date`, `bank_code`) and match it with the agency's
/// payments of that day: matched, missing here, missing in the statement, amounts that differ.
#[utoipa::path(post, path = "/api/v1/agencies/{agency}/payment-statements", tag = "payments",
    params(("agency" = String, Path), StatementQuery),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 201, body = Statement),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 8 MiB", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn import_statement(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    headers: HeaderMap,
    agency: Result<Path<String>, PathRejection>,
    q: Result<Query<StatementQuery>, QueryRejection>,
    csv: Bytes,
) -> Result<(StatusCode, Json<Statement>), ApiError> {
    let p = writer(&auth, &headers)?;
    let agency = path(agency)?;
    let q = query(q)?;
    if csv.len() > MAX_STATEMENT_BYTES {
        return Err(PaymentError::Invalid(vec![kernel::ProblemDetail::new(
            "file",
            String::from("Tệp bảng kê lớn hơn 8 MiB"),
            String::from("The statement file is larger than 8 MiB"),
        )])
        .into());
    }
    Ok((
        StatusCode::CREATED,
        Json(
            s.import_statement(&agency, &p, &q.provider, q.day, &csv)
                .await?,
        ),
    ))
}

/// A statement and how it matches now.
#[utoipa::path(get, path = "/api/v1/agencies/{agency}/payment-statements/{id}", tag = "payments",
    params(("agency" = String, Path), ("id" = String, Path)),
    responses(
        (status = 200, body = Statement),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_statement(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Statement>, ApiError> {
    let p = who(&auth)?;
    let (agency, id) = path(ids)?;
    Ok(Json(s.statement(&agency, &id, &p).await?))
}

/// Which figures.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// One agency; left out, every agency (national operators).
    pub agency: Option<String>,
    /// First day, `YYYY-MM-DD`, inclusive.
    pub from: Option<NaiveDate>,
    /// Last day, inclusive.
    pub to: Option<NaiveDate>,
}

/// Payment figures for reports: paid, refunded, exempt, pending and failed, by gateway.
#[utoipa::path(get, path = "/api/v1/payment-summary", tag = "payments",
    params(SummaryQuery),
    responses(
        (status = 200, body = Summary),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn summary(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    q: Result<Query<SummaryQuery>, QueryRejection>,
) -> Result<Json<Summary>, ApiError> {
    let p = who(&auth)?;
    let q = query(q)?;
    Ok(Json(
        s.summary(q.agency.as_deref(), q.from, q.to, &p).await?,
    ))
}
