//! The reporting API: a dashboard's figures at any level and for any period, its export, the
//! overdue list, the public rankings and the roll-ups' check.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use web::ApiError;
use web::extract::{json as body, query};

use identity::web::Auth;

use crate::error::invalid;
use crate::index::{EnterValues, Entered, IndexFigures, NewVersion, Version};
use crate::{Check, Figures, OverdueLine, Period, ReportError, Reports, Scope};

/// The reporting routes.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Reports>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(figures))
        .routes(routes!(export))
        .routes(routes!(overdue))
        .routes(routes!(public))
        .routes(routes!(check))
        .routes(routes!(index_figures))
        .routes(routes!(index_versions, add_index_version))
        .routes(routes!(index_inputs, enter_index_inputs))
}

/// Which figures: the level (none of the three gives the country) and the period.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiguresQuery {
    /// A province's two-digit code, or `TW` for the central agencies.
    pub province: Option<String>,
    /// An agency's code.
    pub agency: Option<String>,
    /// A procedure's code (with `agency`).
    pub procedure: Option<String>,
    /// First day, `YYYY-MM-DD` (default: the first day of the last day's month).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (default: today).
    pub to: Option<String>,
    /// `csv` or `xlsx`, for the export.
    pub format: Option<String>,
    /// `vi` (default) or `en`: the language of the export's headings.
    pub lang: Option<String>,
    /// How many overdue dossiers (1 to 500, default 100).
    pub limit: Option<i64>,
}

impl FiguresQuery {
    pub fn scope(&self) -> Result<Scope, ReportError> {
        Scope::from_query(
            self.province.as_deref(),
            self.agency.as_deref(),
            self.procedure.as_deref(),
        )
    }
    pub fn period(&self, r: &Reports) -> Result<Period, ReportError> {
        Period::from_query(self.from.as_deref(), self.to.as_deref(), r.today())
    }
}

/// A dashboard's figures: totals, dossiers in progress and overdue, ratios, the level below
/// ranked by on-time share, and the series (by day up to 62 days, else by month). The
/// country: national operators; a province: also its People's Committee's leaders; an agency
/// or one of its procedures: also the agency's leaders, heads of department and
/// administrators.
#[utoipa::path(get, path = "/api/v1/reports/figures", tag = "reports",
    params(FiguresQuery),
    responses(
        (status = 200, body = Figures),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such province or agency", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn figures(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    q: Result<Query<FiguresQuery>, QueryRejection>,
) -> Result<Json<Figures>, ApiError> {
    let q = query(q)?;
    let (scope, period) = (q.scope()?, q.period(&r)?);
    Ok(Json(r.figures_for(auth.principal(), &scope, period).await?))
}

/// A file download, not cached.
pub fn download(bytes: Vec<u8>, media: &'static str, name: &str) -> Response {
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    resp
}

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The file name of an export.
pub fn file_name(f: &Figures, ext: &str) -> String {
    let level = match &f.scope {
        Scope::National => "toan-quoc".to_string(),
        Scope::Province { code } => format!("tinh-{code}"),
        Scope::Agency { code } => code.clone(),
        Scope::Procedure { agency, code } => format!("{agency}-{code}"),
    };
    format!(
        "bao-cao-{level}-{}-{}.{ext}",
        f.period.from.format("%Y%m%d"),
        f.period.to.format("%Y%m%d")
    )
}

/// Renders figures as a file of `format`.
pub fn render(f: &Figures, format: &str, vi: bool) -> Result<Response, ReportError> {
    match format {
        "csv" => {
            let bytes =
                crate::export::csv(f, vi).map_err(|e| ReportError::Export(e.to_string()))?;
            Ok(download(
                bytes,
                "text/csv; charset=utf-8",
                &file_name(f, "csv"),
            ))
        }
        "xlsx" => {
            let bytes =
                crate::export::xlsx(f, vi).map_err(|e| ReportError::Export(e.to_string()))?;
            Ok(download(bytes, XLSX, &file_name(f, "xlsx")))
        }
        other => Err(bad_format(other).err().unwrap_or(ReportError::Forbidden)),
    }
}

/// Refuses a format other than `csv` and `xlsx`.
pub fn bad_format(format: &str) -> Result<(), ReportError> {
    if matches!(format, "csv" | "xlsx") {
        return Ok(());
    }
    Err(invalid(
        "format",
        format!("Định dạng \u{201c}{format}\u{201d} không có; chọn csv hoặc xlsx"),
        format!("No format \u{201c}{format}\u{201d}; choose csv or xlsx"),
    ))
}

/// The same figures as a file: `format=csv` (the level below and the total) or `format=xlsx`
/// (summary, level below, series); who may see the figures may export them.
#[utoipa::path(get, path = "/api/v1/reports/export", tag = "reports",
    params(FiguresQuery),
    responses(
        (status = 200, description = "The file", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn export(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    q: Result<Query<FiguresQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let (scope, period) = (q.scope()?, q.period(&r)?);
    let format = q
        .format
        .as_deref()
        .unwrap_or("xlsx")
        .trim()
        .to_ascii_lowercase();
    bad_format(&format)?;
    let f = r.figures_for(auth.principal(), &scope, period).await?;
    Ok(render(&f, &format, q.lang.as_deref() != Some("en"))?)
}

/// Dossiers in progress past their appointment date (not those waiting for a supplement),
/// the oldest date first.
#[utoipa::path(get, path = "/api/v1/reports/overdue", tag = "reports",
    params(FiguresQuery),
    responses(
        (status = 200, body = Vec<OverdueLine>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn overdue(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    q: Result<Query<FiguresQuery>, QueryRejection>,
) -> Result<Json<Vec<OverdueLine>>, ApiError> {
    let q = query(q)?;
    let scope = q.scope()?;
    Ok(Json(
        r.overdue_for(auth.principal(), &scope, q.limit.unwrap_or(100))
            .await?,
    ))
}

/// The public transparency figures: the country's totals, the on-time ranking of the
/// provinces and of the agencies over the period, and the provinces' citizen-service index.
/// No login; an answer may be up to a minute old.
#[utoipa::path(get, path = "/api/v1/reports/public", tag = "reports",
    params(FiguresQuery),
    responses(
        (status = 200, body = crate::Public),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn public(
    State(r): State<Arc<Reports>>,
    q: Result<Query<FiguresQuery>, QueryRejection>,
) -> Result<Json<crate::Public>, ApiError> {
    let q = query(q)?;
    let period = q.period(&r)?;
    Ok(Json(crate::Public::clone(&*r.public(period).await?)))
}

/// Compares the kept roll-ups with their recomputation from the dossiers (national
/// operators and system administrators). `agrees` is false when any count differs.
#[utoipa::path(get, path = "/api/v1/reports/check", tag = "reports",
    responses(
        (status = 200, body = CheckAnswer),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn check(State(r): State<Arc<Reports>>, auth: Auth) -> Result<Json<CheckAnswer>, ApiError> {
    let p = auth.caller()?;
    r.allow(&p, &Scope::National).await?;
    let c = r.check().await?;
    Ok(Json(CheckAnswer {
        agrees: c.agrees(),
        check: c,
    }))
}

/// The check's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckAnswer {
    pub agrees: bool,
    #[serde(flatten)]
    pub check: Check,
}

/// The citizen-service index (Decision 766/QĐ-TTg) of the country, a province or an agency
/// over the period: every group and indicator with its share and points, the level below
/// ranked by score, and the months up to the period's end. Who may see the figures of the
/// scope may see its index.
#[utoipa::path(get, path = "/api/v1/reports/index", tag = "reports",
    params(FiguresQuery),
    responses(
        (status = 200, body = IndexFigures),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A procedure, or a bad period", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn index_figures(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    q: Result<Query<FiguresQuery>, QueryRejection>,
) -> Result<Json<IndexFigures>, ApiError> {
    let q = query(q)?;
    let (scope, period) = (q.scope()?, q.period(&r)?);
    Ok(Json(r.index_for(auth.principal(), &scope, period).await?))
}

/// Every version of the index's definition (groups, indicators, points, how each is
/// measured), the first made first; each is in force from its day. No login.
#[utoipa::path(get, path = "/api/v1/reports/index/versions", tag = "reports",
    responses((status = 200, body = Vec<Version>)))]
async fn index_versions(State(r): State<Arc<Reports>>) -> Result<Json<Vec<Version>>, ApiError> {
    Ok(Json(r.index_versions().await?))
}

/// Puts a new version of the definition in force from `effective_from` (national operators
/// and system administrators). Groups must add up to the total and indicators to their
/// group; every problem is listed. Scores of earlier days keep the version then in force.
#[utoipa::path(post, path = "/api/v1/reports/index/versions", tag = "reports",
    request_body = NewVersion,
    responses(
        (status = 201, body = Version),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn add_index_version(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    headers: HeaderMap,
    b: Result<Json<NewVersion>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = auth.writer(&headers)?;
    r.allow_write(&p, None).await?;
    let new = body(b)?;
    let v = r.add_index_version(&p.id, new).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// Which agency and month.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InputsQuery {
    pub agency: String,
    /// `YYYY-MM`.
    pub month: String,
}

/// The shares an agency entered for a month, for the indicators the one-stop system does not
/// measure (with those not entered yet). Who may see the agency's figures.
#[utoipa::path(get, path = "/api/v1/reports/index/inputs", tag = "reports",
    params(InputsQuery),
    responses(
        (status = 200, body = Entered),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn index_inputs(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    q: Result<Query<InputsQuery>, QueryRejection>,
) -> Result<Json<Entered>, ApiError> {
    let p = auth.caller()?;
    let q = query(q)?;
    let month = crate::index::parse_month(&q.month)?;
    let agency = q.agency.trim().to_string();
    r.allow(
        &p,
        &Scope::Agency {
            code: agency.clone(),
        },
    )
    .await?;
    Ok(Json(r.entered(&agency, month).await?))
}

/// Enters an agency's shares (percent, 0 to 100) for a month; a null clears one. The
/// agency's leaders and administrators, or national operators. All or nothing.
#[utoipa::path(put, path = "/api/v1/reports/index/inputs", tag = "reports",
    request_body = EnterValues,
    responses(
        (status = 200, body = Entered),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn enter_index_inputs(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    headers: HeaderMap,
    b: Result<Json<EnterValues>, JsonRejection>,
) -> Result<Json<Entered>, ApiError> {
    let p = auth.writer(&headers)?;
    let input = body(b)?;
    r.allow_write(&p, Some(input.agency.trim())).await?;
    Ok(Json(r.enter(&p.id, input).await?))
}
