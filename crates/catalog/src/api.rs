//! The catalogue's JSON API under `/api/v1`, documented in the OpenAPI document.
//!
//! Query parameters are read as text and parsed here, so that a bad value gets the same
//! bilingual problem+json answer as every other error.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRef, Path, Query, State};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use web::ApiError;

use crate::model::{Audience, FieldSpec};
use crate::search::{SearchRequest, SearchResults};
use crate::store::{AgencyRecord, StoredProcedure};
use crate::units::{AdminUnit, Succession};
use crate::{Catalog, CatalogError};

/// The catalogue's API routes.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Catalog>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list_procedures))
        .routes(routes!(get_procedure))
        .routes(routes!(list_agencies))
        .routes(routes!(get_agency))
        .routes(routes!(list_fields))
        .routes(routes!(list_admin_units))
}

type Params = Query<HashMap<String, String>>;

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    p.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn bad(name: &'static str, vi: impl Into<String>, en: impl Into<String>) -> CatalogError {
    CatalogError::BadParameter {
        name,
        vi: vi.into(),
        en: en.into(),
    }
}

fn number<T>(
    p: &HashMap<String, String>,
    name: &'static str,
    range: std::ops::RangeInclusive<T>,
) -> Result<Option<T>, CatalogError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match param(p, name) {
        None => Ok(None),
        Some(s) => match s.parse::<T>() {
            Ok(v) if range.contains(&v) => Ok(Some(v)),
            _ => Err(bad(
                name,
                format!("cần một số nguyên từ {} đến {}", range.start(), range.end()),
                format!(
                    "expected a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        },
    }
}

/// The `{code}` of a path, or a bilingual 400 when it is not valid UTF-8.
pub fn path_code(p: Result<Path<String>, PathRejection>) -> Result<String, CatalogError> {
    p.map(|Path(c)| c).map_err(|_| {
        bad(
            "code",
            "mã trong đường dẫn không đọc được (không phải UTF-8)",
            "the code in the path cannot be read (not UTF-8)",
        )
    })
}

/// Reads a search request from query parameters; shared with the pages.
pub fn search_request(
    p: &HashMap<String, String>,
    default_page_size: usize,
) -> Result<SearchRequest, CatalogError> {
    let q = p.get("q").cloned().unwrap_or_default();
    if q.chars().count() > 200 {
        return Err(bad("q", "tối đa 200 ký tự", "at most 200 characters"));
    }
    let audience = match param(p, "audience") {
        None => None,
        Some(a) => Some(Audience::parse(a).ok_or_else(|| {
            bad(
                "audience",
                "cần citizen hoặc business",
                "expected citizen or business",
            )
        })?),
    };
    let facets = match param(p, "facets") {
        None | Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(_) => {
            return Err(bad(
                "facets",
                "cần true hoặc false",
                "expected true or false",
            ));
        }
    };
    Ok(SearchRequest {
        facets,
        q,
        agency: param(p, "agency").map(str::to_string),
        province: param(p, "province").map(str::to_string),
        field: param(p, "field").map(str::to_string),
        audience,
        level: number::<u8>(p, "level", 1..=4)?,
        page: number::<usize>(p, "page", 1..=500)?.unwrap_or(1),
        page_size: number::<usize>(p, "page_size", 1..=100)?.unwrap_or(default_page_size),
    })
}

/// Search the procedure catalogue.
///
/// Finds procedures by words typed with or without Vietnamese diacritics, with i/y spelled
/// either way and one typo allowed in longer words; filters and facet counts by agency,
/// province, field, audience and online level.
#[utoipa::path(
    get, path = "/api/v1/procedures", tag = "catalogue",
    params(
        ("q" = Option<String>, Query, description = "Words to search, e.g. `dang ky khai sinh`"),
        ("agency" = Option<String>, Query, description = "Handling agency code"),
        ("province" = Option<String>, Query, description = "2-digit province code (2025 units)"),
        ("field" = Option<String>, Query, description = "Field code"),
        ("audience" = Option<String>, Query, description = "`citizen` or `business`"),
        ("level" = Option<u8>, Query, description = "Online service level 1–4"),
        ("page" = Option<usize>, Query, description = "Page, from 1"),
        ("page_size" = Option<usize>, Query, description = "Results per page, 1–100"),
        ("facets" = Option<bool>, Query, description = "Count facets (default true); `false` answers faster"),
    ),
    responses(
        (status = 200, description = "Results, total and facet counts", body = SearchResults),
        (status = 400, description = "A bad parameter", body = web::error::ProblemBody, content_type = "application/problem+json"),
    )
)]
async fn list_procedures(
    State(c): State<Arc<Catalog>>,
    Query(p): Params,
) -> Result<Json<SearchResults>, ApiError> {
    let req = search_request(&p, c.search_config().page_size)?;
    let c2 = c.clone();
    let res = tokio::task::spawn_blocking(move || c2.search(&req))
        .await
        .map_err(|e| {
            CatalogError::Kernel(kernel::problem::Error::Config(format!(
                "search task failed: {e}"
            )))
        })??;
    Ok(Json(res))
}

/// A procedure with everything a citizen needs before going.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureView {
    #[serde(flatten)]
    pub procedure: StoredProcedure,
    pub field_name: String,
    /// The handling agencies, in full.
    pub agency_details: Vec<AgencyRecord>,
}

pub(crate) async fn procedure_view(
    c: &Catalog,
    code: &str,
    version: Option<i64>,
) -> Result<ProcedureView, CatalogError> {
    let procedure = c.procedure(code, version).await?;
    let lookup = c.lookup();
    Ok(ProcedureView {
        field_name: lookup
            .fields
            .get(&procedure.spec.field)
            .map(|f| f.name.clone())
            .unwrap_or_default(),
        agency_details: procedure
            .spec
            .agencies
            .iter()
            .filter_map(|a| lookup.agencies.get(a.as_str()).cloned())
            .collect(),
        procedure,
    })
}

/// One procedure, at its current version or at `version`.
#[utoipa::path(
    get, path = "/api/v1/procedures/{code}", tag = "catalogue",
    params(
        ("code" = String, Path, description = "Procedure code, e.g. `1.001193`"),
        ("version" = Option<i64>, Query, description = "A past version; the current one when absent"),
    ),
    responses(
        (status = 200, description = "The procedure", body = ProcedureView),
        (status = 404, description = "No such procedure or version", body = web::error::ProblemBody, content_type = "application/problem+json"),
    )
)]
async fn get_procedure(
    State(c): State<Arc<Catalog>>,
    code: Result<Path<String>, PathRejection>,
    Query(p): Params,
) -> Result<Json<ProcedureView>, ApiError> {
    let code = path_code(code)?;
    let version = number::<i64>(&p, "version", 1..=i64::from(u32::MAX))?;
    Ok(Json(procedure_view(&c, &code, version).await?))
}

/// Agencies filtered by province, level or words of their name.
pub fn filter_agencies(
    c: &Catalog,
    p: &HashMap<String, String>,
) -> Result<Vec<AgencyRecord>, CatalogError> {
    let province = param(p, "province");
    let level = match param(p, "level") {
        None => None,
        Some(l) => Some(crate::model::AgencyLevel::parse(l).ok_or_else(|| {
            bad(
                "level",
                "cần central, provincial hoặc commune",
                "expected central, provincial or commune",
            )
        })?),
    };
    let q = param(p, "q").map(kernel::text::fold);
    let parent = param(p, "parent");
    let lookup = c.lookup();
    Ok(lookup
        .agencies
        .values()
        .filter(|a| province.is_none_or(|pr| a.province.as_deref() == Some(pr)))
        .filter(|a| level.is_none_or(|l| a.spec.level == l))
        .filter(|a| parent.is_none_or(|pa| a.spec.parent.as_ref().map(|x| x.as_str()) == Some(pa)))
        .filter(|a| {
            q.as_ref()
                .is_none_or(|q| kernel::text::fold(&a.spec.name).contains(q.as_str()))
        })
        .cloned()
        .collect())
}

/// The agency directory.
#[utoipa::path(
    get, path = "/api/v1/agencies", tag = "catalogue",
    params(
        ("province" = Option<String>, Query, description = "2-digit province code"),
        ("level" = Option<String>, Query, description = "`central`, `provincial` or `commune`"),
        ("parent" = Option<String>, Query, description = "Parent agency code"),
        ("q" = Option<String>, Query, description = "Words of the name, with or without diacritics"),
    ),
    responses(
        (status = 200, description = "Agencies", body = Vec<AgencyRecord>),
        (status = 400, description = "A bad parameter", body = web::error::ProblemBody, content_type = "application/problem+json"),
    )
)]
async fn list_agencies(
    State(c): State<Arc<Catalog>>,
    Query(p): Params,
) -> Result<Json<Vec<AgencyRecord>>, ApiError> {
    Ok(Json(filter_agencies(&c, &p)?))
}

/// One agency.
#[utoipa::path(
    get, path = "/api/v1/agencies/{code}", tag = "catalogue",
    params(("code" = String, Path, description = "Agency electronic identifier code")),
    responses(
        (status = 200, description = "The agency", body = AgencyRecord),
        (status = 404, description = "No such agency", body = web::error::ProblemBody, content_type = "application/problem+json"),
    )
)]
async fn get_agency(
    State(c): State<Arc<Catalog>>,
    code: Result<Path<String>, PathRejection>,
) -> Result<Json<AgencyRecord>, ApiError> {
    let code = path_code(code)?;
    let lookup = c.lookup();
    Ok(Json(
        lookup
            .agencies
            .get(&code)
            .cloned()
            .ok_or(CatalogError::AgencyNotFound(code))?,
    ))
}

/// Fields of administration.
#[utoipa::path(
    get, path = "/api/v1/fields", tag = "catalogue",
    responses((status = 200, description = "Fields", body = Vec<FieldSpec>))
)]
async fn list_fields(State(c): State<Arc<Catalog>>) -> Json<Vec<FieldSpec>> {
    Json(c.lookup().fields.values().cloned().collect())
}

/// An administrative unit with the units that took it over or that it took over.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUnitView {
    #[serde(flatten)]
    pub unit: AdminUnit,
    /// For an old unit: the units that took it over.
    pub successors: Vec<Succession>,
    /// For an old unit: the units in force on the asked date that now hold its territory.
    pub now_part_of: Vec<AdminUnit>,
    /// How many old units it took over.
    pub predecessor_count: usize,
}

/// Administrative units: provinces, or the communes of a province, in force on a date; or
/// every unit, old and new, that has carried a code.
#[utoipa::path(
    get, path = "/api/v1/admin-units", tag = "catalogue",
    params(
        ("code" = Option<String>, Query, description = "Every unit that has carried this code, with its successors"),
        ("parent" = Option<String>, Query, description = "2-digit province code: its communes"),
        ("q" = Option<String>, Query, description = "Words of the name"),
        ("date" = Option<String>, Query, description = "YYYY-MM-DD; today when absent"),
    ),
    responses(
        (status = 200, description = "Units", body = Vec<AdminUnitView>),
        (status = 400, description = "A bad parameter", body = web::error::ProblemBody, content_type = "application/problem+json"),
    )
)]
async fn list_admin_units(
    State(c): State<Arc<Catalog>>,
    Query(p): Params,
) -> Result<Json<Vec<AdminUnitView>>, ApiError> {
    let day = match param(&p, "date") {
        None => c.today(),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| bad("date", "cần ngày dạng YYYY-MM-DD", "expected YYYY-MM-DD"))?,
    };
    let units = c.units();
    let picked: Vec<&AdminUnit> = if let Some(code) = param(&p, "code") {
        units.by_code(code)
    } else if let Some(parent) = param(&p, "parent") {
        let prov = units.resolve(parent, 1, day).ok_or_else(|| {
            bad(
                "parent",
                "không có tỉnh nào mang mã này vào ngày đó",
                "no province has this code on that date",
            )
        })?;
        units.children(prov.id, day)
    } else if let Some(q) = param(&p, "q") {
        units.search(q, day, 200)
    } else {
        units.provinces(day)
    };
    Ok(Json(
        picked
            .into_iter()
            .map(|u| AdminUnitView {
                unit: u.clone(),
                successors: units.successors(u.id).to_vec(),
                now_part_of: if u.in_force_on(day) {
                    vec![]
                } else {
                    units.current_for(u.id, day).into_iter().cloned().collect()
                },
                predecessor_count: units.predecessors(u.id).len(),
            })
            .collect(),
    ))
}
