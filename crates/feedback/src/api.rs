//! Feedback's JSON API: the kinds of report, the areas and routes, public reports and their
//! search, an agency's queue and its acts on a report, followers, and the Open311 API keys.
//! Filing from an app goes through Open311 (`/open311/v2/requests.json`).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use web::ApiError;
use web::extract::{json as body, path, query};

use identity::web::Auth;

use crate::areas::{Area, AreaSpec, Route};
use crate::error::invalid;
use crate::keys::{ApiKey, KeyRequest, NewKey};
use crate::reports::{ActRequest, AnswerHit, Line, Nearby, PublicQuery, QueueQuery, Report};
use crate::rules::Point;
use crate::services::Service;
use crate::{Feedback, FeedbackError};

/// Feedback's API routes.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Feedback>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list_services))
        .routes(routes!(put_service))
        .routes(routes!(list_areas))
        .routes(routes!(get_area, put_area))
        .routes(routes!(list_routes, put_route))
        .routes(routes!(list_reports))
        .routes(routes!(get_report))
        .routes(routes!(act))
        .routes(routes!(follow))
        .routes(routes!(queue))
        .routes(routes!(nearby))
        .routes(routes!(answers))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// Every kind of report (active ones; all with `all=true`).
#[utoipa::path(get, path = "/api/v1/feedback/services", tag = "feedback",
    params(("all" = Option<bool>, Query)),
    responses((status = 200, body = Vec<Service>)))]
async fn list_services(
    State(f): State<Arc<Feedback>>,
    q: Result<Query<AllQuery>, QueryRejection>,
) -> Result<Json<Vec<Service>>, ApiError> {
    let q = query(q)?;
    Ok(Json(f.services(q.all.unwrap_or(false)).await?))
}

#[derive(Debug, Default, Deserialize)]
struct AllQuery {
    all: Option<bool>,
}

/// Adds or changes a kind of report (feedback's operators).
#[utoipa::path(put, path = "/api/v1/feedback/services/{code}", tag = "feedback",
    params(("code" = String, Path)),
    request_body = Service,
    responses(
        (status = 200, body = Service),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn put_service(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    headers: HeaderMap,
    code: Result<Path<String>, PathRejection>,
    b: Result<Json<Service>, JsonRejection>,
) -> Result<Json<Service>, ApiError> {
    let p = auth.writer(&headers)?;
    f.allow_manage(&p).await?;
    let code = path(code)?;
    let mut s = body(b)?;
    s.code = code;
    Ok(Json(f.put_service(&p, &s).await?))
}

/// The areas communes serve, with their handling agencies.
#[utoipa::path(get, path = "/api/v1/feedback/areas", tag = "feedback",
    responses((status = 200, body = Vec<Area>)))]
async fn list_areas(State(f): State<Arc<Feedback>>) -> Result<Json<Vec<Area>>, ApiError> {
    Ok(Json(f.areas().await?))
}

/// One area's outline, as a GeoJSON MultiPolygon.
#[utoipa::path(get, path = "/api/v1/feedback/areas/{unit_code}", tag = "feedback",
    params(("unit_code" = String, Path)),
    responses(
        (status = 200, description = "GeoJSON MultiPolygon geometry", body = Object),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn get_area(
    State(f): State<Arc<Feedback>>,
    unit: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let unit = path(unit)?;
    Ok(Json(f.area_geometry(&unit).await?))
}

/// Sets the area a commune serves and the agency handling reports there (operators).
#[utoipa::path(put, path = "/api/v1/feedback/areas/{unit_code}", tag = "feedback",
    params(("unit_code" = String, Path)),
    request_body = AreaSpec,
    responses(
        (status = 200, body = Area),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn put_area(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    headers: HeaderMap,
    unit: Result<Path<String>, PathRejection>,
    b: Result<Json<AreaSpec>, JsonRejection>,
) -> Result<Json<Area>, ApiError> {
    let p = auth.writer(&headers)?;
    f.allow_manage(&p).await?;
    let unit = path(unit)?;
    let spec = body(b)?;
    Ok(Json(f.put_area(&p, &unit, &spec).await?))
}

/// The routes of kinds of report to agencies other than the area's.
#[utoipa::path(get, path = "/api/v1/feedback/routes", tag = "feedback",
    responses((status = 200, body = Vec<Route>)))]
async fn list_routes(State(f): State<Arc<Feedback>>) -> Result<Json<Vec<Route>>, ApiError> {
    Ok(Json(f.routes_list().await?))
}

/// Sends one kind of report in a commune or province to an agency (operators).
#[utoipa::path(put, path = "/api/v1/feedback/routes", tag = "feedback",
    request_body = Route,
    responses(
        (status = 200, body = Route),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn put_route(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    headers: HeaderMap,
    b: Result<Json<Route>, JsonRejection>,
) -> Result<Json<Route>, ApiError> {
    let p = auth.writer(&headers)?;
    f.allow_manage(&p).await?;
    let r = body(b)?;
    Ok(Json(f.put_route(&p, &r).await?))
}

/// Public reports, newest first (at most 500).
#[utoipa::path(get, path = "/api/v1/feedback/reports", tag = "feedback",
    params(PublicQuery),
    responses((status = 200, body = Vec<Line>)))]
async fn list_reports(
    State(f): State<Arc<Feedback>>,
    q: Result<Query<PublicQuery>, QueryRejection>,
) -> Result<Json<Vec<Line>>, ApiError> {
    let q = query(q)?;
    Ok(Json(f.public_list(&q, 500).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
struct TokenQuery {
    /// The reporter's token, for a reporter without an account.
    t: Option<String>,
}

/// One report: whole for its handling agency (the reading is audited) and its reporter (by
/// account, or by the token given when filing, as `t`); the public view for anyone else. A
/// report held for review or rejected is not found by the public.
#[utoipa::path(get, path = "/api/v1/feedback/reports/{id}", tag = "feedback",
    params(("id" = String, Path), TokenQuery),
    responses(
        (status = 200, body = Report),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn get_report(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<TokenQuery>, QueryRejection>,
) -> Result<Json<Report>, ApiError> {
    let id = path(id)?;
    let q = query(q)?;
    let (r, _) = f.report(&id, auth.principal(), q.t.as_deref()).await?;
    Ok(Json(r))
}

/// Acts on a report: its handling agency's officials `start`, `note`, `answer`, `approve`,
/// `reject`, `merge`, `transfer` and `hide_photo`; its reporter `reopen`s (within the window
/// after the answer), by account or with the token as `t`.
#[utoipa::path(post, path = "/api/v1/feedback/reports/{id}/actions", tag = "feedback",
    params(("id" = String, Path), TokenQuery),
    request_body = ActRequest,
    responses(
        (status = 200, body = Report),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("session" = [])))]
async fn act(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<TokenQuery>, QueryRejection>,
    b: Result<Json<ActRequest>, JsonRejection>,
) -> Result<Json<Report>, ApiError> {
    let id = path(id)?;
    let q = query(q)?;
    let p = if auth.principal().is_some() {
        Some(auth.writer(&headers)?)
    } else if q.t.as_deref().unwrap_or("").is_empty() {
        // Neither logged in nor holding the reporter's token.
        return Err(FeedbackError::NeedLogin.into());
    } else {
        None
    };
    let req = body(b)?;
    Ok(Json(f.act(&id, p.as_ref(), q.t.as_deref(), &req).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
struct FollowRequest {
    email: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct Followed {
    /// False when the address already followed the report.
    added: bool,
}

/// Follows a public report (the same problem seen by someone else): every public update is
/// sent to the address.
#[utoipa::path(post, path = "/api/v1/feedback/reports/{id}/followers", tag = "feedback",
    params(("id" = String, Path)),
    request_body = FollowRequest,
    responses(
        (status = 200, body = Followed),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn follow(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<FollowRequest>, JsonRejection>,
) -> Result<Json<Followed>, ApiError> {
    let id = path(id)?;
    let p = if auth.principal().is_some() {
        Some(auth.writer(&headers)?)
    } else {
        None
    };
    let req = body(b)?;
    let added = f
        .follow(&id, &req.email, p.as_ref().map(|p| p.id.as_str()))
        .await?;
    Ok(Json(Followed { added }))
}

/// An agency's queue: open reports by deadline, or those held for review, overdue, closed.
#[utoipa::path(get, path = "/api/v1/feedback/queue", tag = "feedback",
    params(QueueQuery),
    responses(
        (status = 200, body = Vec<Line>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn queue(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    q: Result<Query<QueueQuery>, QueryRejection>,
) -> Result<Json<Vec<Line>>, ApiError> {
    let p = auth.caller()?;
    let q = query(q)?;
    let agency = match q.agency.clone().filter(|a| !a.trim().is_empty()) {
        Some(a) => a,
        None => f
            .agencies_of(&p)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::from(FeedbackError::Forbidden))?,
    };
    Ok(Json(f.queue(&p, &agency, &q).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
struct NearbyQuery {
    service: String,
    lat: f64,
    lon: f64,
}

/// Open public reports of a kind near a place, filed lately: likely the same problem.
#[utoipa::path(get, path = "/api/v1/feedback/nearby", tag = "feedback",
    params(NearbyQuery),
    responses(
        (status = 200, body = Vec<Nearby>),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn nearby(
    State(f): State<Arc<Feedback>>,
    q: Result<Query<NearbyQuery>, QueryRejection>,
) -> Result<Json<Vec<Nearby>>, ApiError> {
    let q = query(q)?;
    let at = Point::new(q.lat, q.lon).ok_or_else(|| {
        ApiError::from(invalid(
            "lat",
            "Tọa độ ngoài phạm vi: vĩ độ −90..90, kinh độ −180..180",
            "Coordinates out of range: latitude −90..90, longitude −180..180",
        ))
    })?;
    Ok(Json(f.nearby(&q.service, at, None).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
struct AnswerQuery {
    /// Words, typed with or without Vietnamese marks.
    q: Option<String>,
}

/// Published answers to reports and petitions, searched the way Vietnamese is typed.
#[utoipa::path(get, path = "/api/v1/feedback/answers", tag = "feedback",
    params(AnswerQuery),
    responses((status = 200, body = Vec<AnswerHit>)))]
async fn answers(
    State(f): State<Arc<Feedback>>,
    q: Result<Query<AnswerQuery>, QueryRejection>,
) -> Result<Json<Vec<AnswerHit>>, ApiError> {
    let q = query(q)?;
    Ok(Json(
        f.search_answers(q.q.as_deref().unwrap_or(""), 100).await?,
    ))
}

/// The Open311 API keys (operators); never the keys themselves.
#[utoipa::path(get, path = "/api/v1/feedback/keys", tag = "feedback",
    responses(
        (status = 200, body = Vec<ApiKey>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn list_keys(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    let p = auth.caller()?;
    f.allow_manage(&p).await?;
    Ok(Json(f.keys().await?))
}

/// Makes an Open311 API key (operators): the key is in this answer only.
#[utoipa::path(post, path = "/api/v1/feedback/keys", tag = "feedback",
    request_body = KeyRequest,
    responses(
        (status = 201, body = NewKey),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn create_key(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    headers: HeaderMap,
    b: Result<Json<KeyRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = auth.writer(&headers)?;
    f.allow_manage(&p).await?;
    let r = body(b)?;
    Ok((StatusCode::CREATED, Json(f.create_key(&p, &r).await?)).into_response())
}

/// Turns an Open311 API key off (operators).
#[utoipa::path(delete, path = "/api/v1/feedback/keys/{id}", tag = "feedback",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = ApiKey),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn revoke_key(
    State(f): State<Arc<Feedback>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ApiKey>, ApiError> {
    let p = auth.writer(&headers)?;
    f.allow_manage(&p).await?;
    let id = path(id)?;
    Ok(Json(f.revoke_key(&p, &id).await?))
}
