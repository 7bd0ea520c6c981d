//! The whole HTTP surface: each system's routes, the node's own endpoints (health, metrics,
//! calendar, language switch), the OpenAPI document, and the middleware every request passes.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::NaiveDate;
use serde::Serialize;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use kernel::calendar::{DayKind, SpecialDay};
use kernel::problem::{Error as KernelError, Problem};
use web::{ApiError, Chrome, PageError};

use crate::app::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "motcua API", description = "Public services of the motcua e-government platform: the procedure catalogue, administrative units, agencies and the working-day calendar. Errors are RFC 9457 problem+json with Vietnamese and English messages."),
    tags(
        (name = "catalogue", description = "Procedures, agencies, fields, administrative units"),
        (name = "identity", description = "Accounts; send `Authorization: Bearer mct_...` (from `motcua user token`) or the session cookie"),
        (name = "node", description = "Health and the working-day calendar"),
        (name = "dossiers", description = "Dossiers: file online or at the desk, upload documents, and the desk's check (receive, supplement, refuse). A dossier the caller may not see answers 404"),
        (name = "reports", description = "Figures of the one-stop system kept live per agency, procedure and day: dashboards from the country down to one procedure for any period, the on-time rankings, the overdue list, CSV and XLSX exports, the public transparency figures, and the roll-ups' check against the dossiers"),
        (name = "payments", description = "Fees and charges: what a dossier owes, paying through a gateway (redirect, return, and the gateway's signed IPN confirmation) or at the desk, receipts, refunds, and reconciliation with the gateways' daily statements"),
        (name = "exchange", description = "The document exchange hub: agencies' document-management systems send official documents as edXML packages (QCVN 102:2016) with a detached CMS signature, fetch or are pushed what is sent to them, and answer with signed status packages; the registry of agencies and their X.509 certificates, the node's CA and CRL, the hub's signed receipts, and the registers of documents sent and received"),
        (name = "feedback", description = "Feedback: petitions about regulations, procedures and agencies' handling, and field reports with a place and photos; the kinds of report and their questions, the areas communes serve and the agencies handling each kind, public reports and published answers, an agency's queue and its acts (take up, note, answer publicly or privately, moderate, merge duplicates, hand on), followers, and the Open311 API keys"),
        (name = "cabinet", description = "e-Cabinet: the meetings of an agency's leadership and the opinion ballots of its members. Bodies and members; meetings with participants (chair, members, secretariat, guests), agenda items, documents with who may read them (confidential ones stamped with the reader's name, every opening in the audit chain), attendance, minutes, conclusions and the signed conclusion notice; ballots with questions, a deadline, reminders, votes signed with each member's key (detached CMS, checked with the authority's certificate), secret until the close when so set, the tally, the signed summary and the archive"),
        (name = "federation", description = "The federation of one-stop systems: local nodes (ministries, provinces) register with the national node, which a national operator approves or suspends; each local node pushes every change of its dossiers, in order per dossier and in batches, in calls signed with its Ed25519 key (Motcua-Node, Motcua-Date, Motcua-Nonce, Motcua-Signature; five minutes either way; a nonce is never taken twice); the national node applies each event once, holding any that follows a gap; operators see each node's lag and replay a node's outbox from a point"),
        (name = "open311", description = "Open311 GeoReport v2 under /open311/v2/ (discovery at /open311/discovery.json): services, service definitions, filing with an api_key, requests with their filters, tokens, and the servicerequestupdates extension; every answer as .json or .xml, errors as the standard writes them"),
        (name = "oidc", description = "OpenID Connect provider: single sign-on for other portals, and OAuth2 client credentials for other agencies' systems. Errors follow RFC 6749 with `error_description` (English) and `error_description_vi`"),
    )
)]
struct ApiDoc;

/// The OpenAPI document and the API router, built from the code.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .merge(catalog::api::routes())
        .merge(identity::web::api_routes())
        .merge(identity::oidc_web::routes())
        .merge(dossier::api::routes())
        .merge(payment::api::routes())
        .merge(report::api::routes())
        .merge(report::regime_api::routes())
        .merge(exchange::api::routes())
        .merge(feedback::api::routes())
        .merge(cabinet::api::routes())
        .merge(federation::api::routes())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(calendar_year))
        .routes(routes!(calendar_deadline))
        .split_for_parts();
    doc.merge(<feedback::georeport::Open311Doc as OpenApi>::openapi());
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    (router.merge(feedback::georeport::routes::<AppState>()), doc)
}

/// The complete router with middleware.
pub fn router(state: AppState) -> Router {
    // Install the metrics recorder before the first request is counted.
    let _ = web::metrics::handle();
    let (api_router, doc) = api();
    let doc_json = serde_json::to_string(&doc).unwrap_or_else(|_| "{}".into());
    let request_id = HeaderName::from_static("x-request-id");
    let pages = catalog::pages::routes::<AppState>()
        .merge(identity::web::page_routes::<AppState>())
        .merge(identity::admin::page_routes::<AppState>())
        .merge(dossier::pages::routes::<AppState>())
        .merge(dossier::pages::account_routes::<AppState>())
        .merge(payment::pages::routes::<AppState>())
        .merge(report::pages::routes::<AppState>())
        .merge(exchange::pages::routes::<AppState>())
        .merge(feedback::pages::routes::<AppState>())
        .merge(cabinet::pages::routes::<AppState>())
        .merge(federation::pages::routes::<AppState>())
        .route("/lang/{code}", get(switch_language));
    Router::new()
        .merge(api_router)
        .merge(pages)
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let body = doc_json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .route("/metrics", get(metrics))
        .route("/assets/app.css", get(web::assets::css))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.federation.clone(),
            federation::pages::silent_sso,
        ))
        .with_state(state)
        .layer(axum::middleware::from_fn(web::extract::utf8_query))
        .layer(axum::middleware::from_fn(web::metrics::track))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &Request| {
                        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                    }),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(CatchPanicLayer::new())
                .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
                .layer(RequestBodyLimitLayer::new(
                    // The largest a route takes (each route's own limit is lower or equal).
                    dossier::MAX_DOCUMENT_BYTES
                        .max(feedback::MAX_PHOTOS * feedback::MAX_PHOTO_BYTES)
                        .max(cabinet::MAX_DOCUMENT_BYTES)
                        + 1024 * 1024,
                ))
                .layer(CompressionLayer::new())
                .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
                .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
                .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_str(&web::csp(&[])).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'")),
                )),
        )
}

#[derive(Serialize, ToSchema)]
struct Health {
    status: &'static str,
    version: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "node", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Serialize, ToSchema)]
struct Readiness {
    status: &'static str,
    database: &'static str,
    search_documents: u64,
}

/// Readiness: the database answers and the search index is open.
#[utoipa::path(get, path = "/readyz", tag = "node", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn readyz(State(s): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let db_ok = s.db.ping().await.is_ok();
    let body = Readiness {
        status: if db_ok { "ready" } else { "not_ready" },
        database: match s.db.backend() {
            kernel::db::Backend::Sqlite => "sqlite",
            kernel::db::Backend::Postgres => "postgres",
        },
        search_documents: s.catalog.index_doc_count(),
    };
    (
        if db_ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}

async fn metrics() -> Response {
    match web::metrics::handle() {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}

fn bad(field: &str, reason: &str) -> ApiError {
    KernelError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
    .into()
}

#[derive(Serialize, ToSchema)]
struct CalendarYear {
    year: i32,
    /// Office sessions, local time (HH:MM–HH:MM).
    office_hours: Vec<String>,
    days: Vec<CalendarDay>,
}

#[derive(Serialize, ToSchema)]
struct CalendarDay {
    #[schema(value_type = String, format = Date)]
    date: NaiveDate,
    /// holiday, day_off, working_day or normal
    kind: String,
    name_vi: String,
    name_en: String,
    source: String,
}

impl From<&SpecialDay> for CalendarDay {
    fn from(d: &SpecialDay) -> Self {
        CalendarDay {
            date: d.date,
            kind: d.kind.as_str().into(),
            name_vi: d.name_vi.clone(),
            name_en: d.name_en.clone(),
            source: d.source.clone(),
        }
    }
}

fn calendar(s: &AppState) -> kernel::calendar::Calendar {
    match s.calendar.read() {
        Ok(c) => c.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

/// The listed days of a year: holidays, days off and swapped working days.
#[utoipa::path(
    get, path = "/api/v1/calendar", tag = "node",
    params(("year" = Option<i32>, Query, description = "Year, 2000–2100; this year when absent")),
    responses((status = 200, body = CalendarYear), (status = 400, body = web::error::ProblemBody, content_type = "application/problem+json"))
)]
async fn calendar_year(
    State(s): State<AppState>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Json<CalendarYear>, ApiError> {
    let year = match p.get("year") {
        None => kernel::clock::to_local(s.clock.now())
            .date()
            .format("%Y")
            .to_string()
            .parse()
            .unwrap_or(2026),
        Some(y) => y
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .ok_or_else(|| bad("year", "expected a year from 2000 to 2100"))?,
    };
    let cal = calendar(&s);
    Ok(Json(CalendarYear {
        year,
        office_hours: cal
            .hours()
            .sessions()
            .iter()
            .map(|(a, b)| format!("{}–{}", a.format("%H:%M"), b.format("%H:%M")))
            .collect(),
        days: cal
            .year(year)
            .filter(|d| d.kind != DayKind::Normal)
            .map(CalendarDay::from)
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
struct Deadline {
    #[schema(value_type = String, format = Date)]
    from: NaiveDate,
    working_days: u16,
    #[schema(value_type = String, format = Date)]
    due: NaiveDate,
}

/// The date reached after a number of working days, skipping weekends, holidays and days off.
#[utoipa::path(
    get, path = "/api/v1/calendar/deadline", tag = "node",
    params(
        ("from" = String, Query, description = "Start date YYYY-MM-DD (not counted)"),
        ("days" = u16, Query, description = "Working days, 0–3650"),
    ),
    responses((status = 200, body = Deadline), (status = 400, body = web::error::ProblemBody, content_type = "application/problem+json"))
)]
async fn calendar_deadline(
    State(s): State<AppState>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Json<Deadline>, ApiError> {
    let from = p
        .get("from")
        .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .ok_or_else(|| bad("from", "expected a date YYYY-MM-DD"))?;
    let days = p
        .get("days")
        .and_then(|d| d.trim().parse::<u16>().ok())
        .filter(|d| *d <= 3650)
        .ok_or_else(|| bad("days", "expected a whole number from 0 to 3650"))?;
    Ok(Json(Deadline {
        from,
        working_days: days,
        due: calendar(&s).add_working_days(from, days),
    }))
}

/// `/lang/{vi|en}?next=/path`: remembers the language in a cookie and goes back.
async fn switch_language(
    Path(code): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    let Some(lang) = web::Lang::parse(&code) else {
        return (
            StatusCode::NOT_FOUND,
            "unknown language / ngôn ngữ không hỗ trợ",
        )
            .into_response();
    };
    let next = p
        .get("next")
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .cloned()
        .unwrap_or_else(|| "/".into());
    let cookie = format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    );
    let mut r = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Debug)]
struct NotFound(String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no route for {}", self.0)
    }
}

impl std::error::Error for NotFound {}

impl Problem for NotFound {
    fn kind(&self) -> &'static str {
        "not_found"
    }
    fn status(&self) -> u16 {
        404
    }
    fn message_vi(&self) -> String {
        format!("Không tìm thấy trang {}", self.0)
    }
    fn message_en(&self) -> String {
        format!("There is no page at {}", self.0)
    }
}

async fn not_found(State(s): State<AppState>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/api/") {
        ApiError::from(NotFound(path)).into_response()
    } else {
        let (mut parts, _) = req.into_parts();
        let chrome = <Chrome as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut parts, &s,
        )
        .await;
        match chrome {
            Ok(c) => PageError::new(NotFound(path), c).into_response(),
            Err(never) => match never {},
        }
    }
}
