//! Where field reports go: the area each commune serves (a GeoJSON outline, from the
//! province's land or survey office), the agency that handles reports there (its People's
//! Committee, as a rule), and, per kind of report, another agency for a commune or a whole
//! province (street lights to the city's lighting company, say).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use identity::Principal;
use kernel::on_db;

use crate::error::{invalid, refused};
use crate::rules::{self, Point, Polygons};
use crate::{Feedback, FeedbackError, Result};

/// An area a commune serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Area {
    /// The commune's code (2025 administrative units, 5 digits).
    pub unit_code: String,
    pub name: String,
    /// The province's code (2 digits).
    pub province_code: String,
    /// The agency that handles reports filed here.
    pub agency_code: String,
    pub updated_at: DateTime<Utc>,
}

/// An area as an operator gives it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AreaSpec {
    /// The agency that handles reports filed here.
    pub agency_code: String,
    /// A GeoJSON `Polygon` or `MultiPolygon` (or a `Feature` holding one), WGS 84.
    #[schema(value_type = Object)]
    pub geometry: serde_json::Value,
}

/// Which agency handles one kind of report in a commune or province, other than the area's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Route {
    pub service_code: String,
    /// A commune's (5 digits) or a province's (2 digits) code.
    pub unit_code: String,
    pub agency_code: String,
}

#[derive(sqlx::FromRow)]
struct AreaRow {
    unit_code: String,
    name: String,
    province_code: String,
    agency_code: String,
    updated_at: DateTime<Utc>,
    polygons: String,
}

impl AreaRow {
    fn area(&self) -> Area {
        Area {
            unit_code: self.unit_code.clone(),
            name: self.name.clone(),
            province_code: self.province_code.clone(),
            agency_code: self.agency_code.clone(),
            updated_at: self.updated_at,
        }
    }
}

impl Feedback {
    /// Sets the area a commune serves and its handling agency (operators), audited.
    pub async fn put_area(&self, p: &Principal, unit_code: &str, spec: &AreaSpec) -> Result<Area> {
        self.allow_manage(p).await?;
        self.set_area(&crate::actor_of(p), unit_code, spec).await
    }

    /// Sets an area, as `actor`.
    pub async fn set_area(&self, actor: &str, unit_code: &str, spec: &AreaSpec) -> Result<Area> {
        let polys =
            rules::parse_geometry(&spec.geometry).map_err(|r| invalid("geometry", r.vi, r.en))?;
        let today = kernel::clock::to_local(self.clock.now()).date();
        let units = self.catalog.units();
        let unit = units
            .by_code(unit_code.trim())
            .into_iter()
            .find(|u| u.level == 2 && u.in_force_on(today))
            .ok_or_else(|| {
                invalid(
                    "unit_code",
                    format!("Không có xã, phường đang hiệu lực mã {unit_code}"),
                    format!("No commune in force has the code {unit_code}"),
                )
            })?;
        let province = units
            .province_of(unit.id)
            .map(|u| u.code.clone())
            .unwrap_or_default();
        let agency = spec.agency_code.trim();
        if !self.catalog.lookup().agencies.contains_key(agency) {
            return Err(invalid(
                "agency_code",
                format!("Không có cơ quan mã {agency} trong danh mục"),
                format!("No agency in the catalogue has the code {agency}"),
            ));
        }
        let (min_lat, max_lat, min_lon, max_lon) = rules::bounds(&polys);
        let text = serde_json::to_string(&polys).unwrap_or_default();
        let now = self.clock.now();
        let mut tx = kernel::audit::Tx::begin(&self.db).await?;
        kernel::on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO feedback_areas (unit_code, name, province_code, agency_code, min_lat, max_lat, min_lon, max_lon, polygons, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (unit_code) DO UPDATE SET name = excluded.name, \
             province_code = excluded.province_code, agency_code = excluded.agency_code, min_lat = excluded.min_lat, max_lat = excluded.max_lat, \
             min_lon = excluded.min_lon, max_lon = excluded.max_lon, polygons = excluded.polygons, updated_at = excluded.updated_at"
        ).bind(&unit.code).bind(&unit.name).bind(&province).bind(agency).bind(min_lat).bind(max_lat).bind(min_lon).bind(max_lon)
        .bind(&text).bind(now).execute(c).await.map(|_| ()))?;
        kernel::audit::append(
            &mut tx,
            now,
            &kernel::audit::Entry {
                actor,
                action: "feedback.area.put",
                subject: &format!("feedback_area/{}", unit.code),
                data: serde_json::json!({ "agency": agency, "bounds": [min_lat, max_lat, min_lon, max_lon] }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Area {
            unit_code: unit.code.clone(),
            name: unit.name.clone(),
            province_code: province,
            agency_code: agency.to_string(),
            updated_at: now,
        })
    }

    /// Every area, by province and name.
    pub async fn areas(&self) -> Result<Vec<Area>> {
        let rows: Vec<AreaRow> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT unit_code, name, province_code, agency_code, updated_at, '' AS polygons FROM feedback_areas ORDER BY province_code, name"
        ).fetch_all(c).await)?;
        Ok(rows.iter().map(AreaRow::area).collect())
    }

    /// One area's outline as a GeoJSON geometry.
    pub async fn area_geometry(&self, unit_code: &str) -> Result<serde_json::Value> {
        let row: Option<(String,)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT polygons FROM feedback_areas WHERE unit_code = $1"
        ).bind(unit_code).fetch_optional(c).await)?;
        let (text,) = row.ok_or_else(|| FeedbackError::NotFound(unit_code.to_string()))?;
        let polys: Polygons = serde_json::from_str(&text).unwrap_or_default();
        Ok(serde_json::json!({ "type": "MultiPolygon", "coordinates": polys }))
    }

    /// The area holding a point, if any.
    pub async fn locate(&self, at: Point) -> Result<Option<Area>> {
        let rows: Vec<AreaRow> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT unit_code, name, province_code, agency_code, updated_at, polygons FROM feedback_areas \
             WHERE min_lat <= $1 AND max_lat >= $1 AND min_lon <= $2 AND max_lon >= $2 ORDER BY unit_code"
        ).bind(at.lat).bind(at.lon).fetch_all(c).await)?;
        Ok(rows.into_iter().find_map(|r| {
            let polys: Polygons = serde_json::from_str(&r.polygons).unwrap_or_default();
            rules::contains(&polys, at).then(|| r.area())
        }))
    }

    /// An area by its commune's code.
    pub async fn area(&self, unit_code: &str) -> Result<Option<Area>> {
        let row: Option<AreaRow> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT unit_code, name, province_code, agency_code, updated_at, '' AS polygons FROM feedback_areas WHERE unit_code = $1"
        ).bind(unit_code).fetch_optional(c).await)?;
        Ok(row.map(|r| r.area()))
    }

    /// The agency that handles `service` in `area`: a route for the commune, else one for
    /// the province, else the area's own.
    pub async fn route(&self, service: &str, area: &Area) -> Result<String> {
        let rows: Vec<(String, String)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT unit_code, agency_code FROM feedback_routes WHERE service_code = $1 AND unit_code IN ($2, $3)"
        ).bind(service).bind(&area.unit_code).bind(&area.province_code).fetch_all(c).await)?;
        let commune = rows.iter().find(|r| r.0 == area.unit_code);
        let province = rows.iter().find(|r| r.0 == area.province_code);
        Ok(commune
            .or(province)
            .map(|r| r.1.clone())
            .unwrap_or_else(|| area.agency_code.clone()))
    }

    /// Sends one kind of report in a commune or province to an agency (operators), audited.
    pub async fn put_route(&self, p: &Principal, r: &Route) -> Result<Route> {
        self.allow_manage(p).await?;
        if self.service(&r.service_code).await?.is_none() {
            return Err(invalid(
                "service_code",
                format!("Không có loại phản ánh mã {}", r.service_code),
                format!("No kind of report has the code {}", r.service_code),
            ));
        }
        if !matches!(r.unit_code.len(), 2 | 5)
            || self.catalog.units().by_code(&r.unit_code).is_empty()
        {
            return Err(invalid(
                "unit_code",
                format!("Không có tỉnh hoặc xã mã {}", r.unit_code),
                format!("No province or commune has the code {}", r.unit_code),
            ));
        }
        if !self.catalog.lookup().agencies.contains_key(&r.agency_code) {
            return Err(refused(
                422,
                "unknown_agency",
                format!("Không có cơ quan mã {} trong danh mục", r.agency_code),
                format!("No agency in the catalogue has the code {}", r.agency_code),
            ));
        }
        let now = self.clock.now();
        let mut tx = kernel::audit::Tx::begin(&self.db).await?;
        kernel::on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO feedback_routes (service_code, unit_code, agency_code) VALUES ($1, $2, $3) \
             ON CONFLICT (service_code, unit_code) DO UPDATE SET agency_code = excluded.agency_code"
        ).bind(&r.service_code).bind(&r.unit_code).bind(&r.agency_code).execute(c).await.map(|_| ()))?;
        kernel::audit::append(
            &mut tx,
            now,
            &kernel::audit::Entry {
                actor: &crate::actor_of(p),
                action: "feedback.route.put",
                subject: &format!("feedback_route/{}/{}", r.service_code, r.unit_code),
                data: serde_json::json!({ "agency": r.agency_code }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(r.clone())
    }

    /// Every route.
    pub async fn routes_list(&self) -> Result<Vec<Route>> {
        let rows: Vec<(String, String, String)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT service_code, unit_code, agency_code FROM feedback_routes ORDER BY service_code, unit_code"
        ).fetch_all(c).await)?;
        Ok(rows
            .into_iter()
            .map(|(service_code, unit_code, agency_code)| Route {
                service_code,
                unit_code,
                agency_code,
            })
            .collect())
    }
}
