//! The reporting regime's API: templates and their agencies, submissions (by officials or
//! by machine clients of an agency), decisions, consolidation.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use web::ApiError;
use web::extract::{json as body, path, query};

use identity::Action;
use identity::web::Auth;

use crate::regime::{Consolidation, Decision, NewSubmission, Submission, Template, TemplateSpec};
use crate::{ReportError, Reports, Scope};

/// The reporting regime's routes.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Reports>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list_templates, put_template))
        .routes(routes!(get_template))
        .routes(routes!(assign))
        .routes(routes!(list_submissions, submit))
        .routes(routes!(get_submission))
        .routes(routes!(decide))
        .routes(routes!(consolidation))
}

/// Every report template (its latest version) with the agencies that make it. Any logged-in
/// caller; a bearer token needs `reports:read` or `reports:write`.
#[utoipa::path(get, path = "/api/v1/report-templates", tag = "reports",
    responses(
        (status = 200, body = Vec<Template>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A bearer token without the scope", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn list_templates(
    State(r): State<Arc<Reports>>,
    auth: Auth,
) -> Result<Json<Vec<Template>>, ApiError> {
    auth.caller_within(&[Action::ReadReports, Action::WriteReports])
        .await?;
    Ok(Json(r.templates().await?))
}

/// Writes a template (national operators): a new code is version 1, a known one gets a new
/// version; reports already made keep theirs. Indicators are typed (`integer`, `decimal`,
/// `percent`, `text`), may be derived by a `formula` over other codes, say how they add up
/// (`sum`, `mean`, `none`) and may start from a one-stop figure (`source`). Every problem is
/// listed.
#[utoipa::path(post, path = "/api/v1/report-templates", tag = "reports",
    request_body = TemplateSpec,
    responses(
        (status = 201, body = Template),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn put_template(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    headers: HeaderMap,
    b: Result<Json<TemplateSpec>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = auth.writer(&headers)?;
    r.allow_write(&p, None).await?;
    let spec = body(b)?;
    let t = r.put_template(&p.id, spec).await?;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

/// A template's latest version.
#[utoipa::path(get, path = "/api/v1/report-templates/{code}", tag = "reports",
    params(("code" = String, Path)),
    responses(
        (status = 200, body = Template),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A bearer token without the scope", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_template(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    code: Result<Path<String>, PathRejection>,
) -> Result<Json<Template>, ApiError> {
    auth.caller_within(&[Action::ReadReports, Action::WriteReports])
        .await?;
    let code = path(code)?;
    Ok(Json(r.template(&code, None).await?))
}

/// The agencies assigned a template.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Assignment {
    pub agencies: Vec<String>,
}

/// Sets the agencies that make a template's report, replacing the list (national operators).
#[utoipa::path(put, path = "/api/v1/report-templates/{code}/agencies", tag = "reports",
    params(("code" = String, Path)),
    request_body = Assignment,
    responses(
        (status = 200, body = Template),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn assign(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    headers: HeaderMap,
    code: Result<Path<String>, PathRejection>,
    b: Result<Json<Assignment>, JsonRejection>,
) -> Result<Json<Template>, ApiError> {
    let p = auth.writer(&headers)?;
    r.allow_write(&p, None).await?;
    let code = path(code)?;
    let a = body(b)?;
    Ok(Json(r.assign(&p.id, &code, &a.agencies).await?))
}

/// Which reports.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubmissionsQuery {
    pub template: String,
    pub agency: String,
    /// `2026-03`, `2026-Q1`, `2026-H1` or `2026`, by the template's frequency.
    pub period: String,
}

/// May `p` read `agency`'s reports: who sees its figures, who submits for it, who decides.
async fn may_read_reports(
    r: &Reports,
    p: &identity::Principal,
    agency: &str,
) -> Result<(), ReportError> {
    let scope = Scope::Agency {
        code: agency.to_string(),
    };
    if r.may_read(p, &scope) || r.may_decide(p, agency) || r.may_submit(p, agency).await? {
        return Ok(());
    }
    r.refuse(p, &scope).await
}

/// Every version of an agency's report for a period, the latest first.
#[utoipa::path(get, path = "/api/v1/report-submissions", tag = "reports",
    params(SubmissionsQuery),
    responses(
        (status = 200, body = Vec<Submission>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn list_submissions(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    q: Result<Query<SubmissionsQuery>, QueryRejection>,
) -> Result<Json<Vec<Submission>>, ApiError> {
    let p = auth.caller()?;
    let q = query(q)?;
    may_read_reports(&r, &p, q.agency.trim()).await?;
    Ok(Json(
        r.versions_of(q.template.trim(), q.agency.trim(), q.period.trim())
            .await?,
    ))
}

/// Submits an agency's report for a period, or corrects it: a new version, validated whole
/// (types, bounds, required indicators; derived ones computed), superseding the one before.
/// The agency's leaders and administrators, national operators, or a machine client
/// registered for the agency with `reports:write` (client credentials). `late` says whether
/// it came after the deadline.
#[utoipa::path(post, path = "/api/v1/report-submissions", tag = "reports",
    request_body = NewSubmission,
    responses(
        (status = 201, body = Submission),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn submit(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    headers: HeaderMap,
    b: Result<Json<NewSubmission>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = auth.writer(&headers)?;
    let new = body(b)?;
    let s = r.submit(&p, new).await?;
    Ok((StatusCode::CREATED, Json(s)).into_response())
}

/// One version of a report.
#[utoipa::path(get, path = "/api/v1/report-submissions/{id}", tag = "reports",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Submission),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_submission(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Submission>, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    let s = r.submission(&id).await?;
    may_read_reports(&r, &p, &s.agency).await?;
    Ok(Json(s))
}

/// Approves or returns (with the reason) the latest version of a report: national operators
/// for any agency, a province's People's Committee for the province's other agencies. Once:
/// a decided or superseded version is a conflict.
#[utoipa::path(post, path = "/api/v1/report-submissions/{id}/decision", tag = "reports",
    params(("id" = String, Path)),
    request_body = Decision,
    responses(
        (status = 200, body = Submission),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn decide(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<Decision>, JsonRejection>,
) -> Result<Json<Submission>, ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let d = body(b)?;
    Ok(Json(r.decide(&p, &id, d).await?))
}

/// Which consolidation.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsolidationQuery {
    pub template: String,
    pub period: String,
    /// A province (none: the country).
    pub province: Option<String>,
    /// An agency and those under it.
    pub agency: Option<String>,
}

/// A template's reports for a period over the country, a province or an agency's tree: who
/// submitted, who is late or missing, and the approved figures added up (sums and means by
/// the template, derived indicators recomputed). Who sees the scope's figures.
#[utoipa::path(get, path = "/api/v1/report-consolidations", tag = "reports",
    params(ConsolidationQuery),
    responses(
        (status = 200, body = Consolidation),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn consolidation(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    q: Result<Query<ConsolidationQuery>, QueryRejection>,
) -> Result<Json<Consolidation>, ApiError> {
    let p = auth.caller()?;
    let q = query(q)?;
    let scope = Scope::from_query(q.province.as_deref(), q.agency.as_deref(), None)?;
    r.allow(&p, &scope).await?;
    Ok(Json(
        r.consolidate(q.template.trim(), q.period.trim(), &scope)
            .await?,
    ))
}
