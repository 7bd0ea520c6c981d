//! Storage of fields, agencies and procedure versions. Written once with `$n` parameters for
//! both databases; every write goes through [`apply`], in one transaction with its audit entries.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use utoipa::ToSchema;

use kernel::audit::{self, Entry, Tx};
use kernel::db::Db;
use kernel::ids::AgencyCode;
use kernel::problem::Error;
use kernel::{on_db, on_tx};

use crate::feed;
use crate::model::{AgencyLevel, AgencySpec, CatalogFile, FieldSpec, ProcedureSpec};

/// An agency as stored: its spec and the province it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgencyRecord {
    #[serde(flatten)]
    pub spec: AgencySpec,
    /// 2-digit code of the province (2025 units); none for central bodies.
    pub province: Option<String>,
}

/// Fields and agencies, held in memory for labels and checks.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub fields: BTreeMap<String, FieldSpec>,
    pub agencies: BTreeMap<String, AgencyRecord>,
}

impl crate::search::IndexContext for Lookup {
    fn field_name(&self, code: &str) -> Option<&str> {
        self.fields.get(code).map(|f| f.name.as_str())
    }
    fn agency_name(&self, code: &str) -> Option<&str> {
        self.agencies.get(code).map(|a| a.spec.name.as_str())
    }
    fn agency_province(&self, code: &str) -> Option<&str> {
        self.agencies.get(code).and_then(|a| a.province.as_deref())
    }
}

#[derive(sqlx::FromRow)]
struct AgencyRow {
    code: String,
    name: String,
    name_en: Option<String>,
    parent_code: Option<String>,
    level: String,
    unit_code: Option<String>,
    province_code: Option<String>,
    address: String,
    phone: Option<String>,
    email: Option<String>,
    hours: String,
}

pub async fn load_lookup(db: &Db) -> Result<Lookup, Error> {
    let fields: Vec<(String, String, Option<String>)> = on_db!(db, p => sqlx::query_as(
        "SELECT code, name, name_en FROM fields ORDER BY code"
    ).fetch_all(p).await)?;
    let agencies: Vec<AgencyRow> = on_db!(db, p => sqlx::query_as(
        "SELECT a.code, a.name, a.name_en, a.parent_code, a.level, u.code AS unit_code, a.province_code, \
         a.address, a.phone, a.email, a.hours FROM agencies a LEFT JOIN admin_units u ON u.id = a.unit_id ORDER BY a.code"
    ).fetch_all(p).await)?;
    let mut out = Lookup::default();
    for (code, name, name_en) in fields {
        out.fields.insert(
            code.clone(),
            FieldSpec {
                code,
                name,
                name_en,
            },
        );
    }
    for r in agencies {
        let (Ok(code), Some(level)) = (AgencyCode::parse(&r.code), AgencyLevel::parse(&r.level))
        else {
            tracing::warn!(code = %r.code, "stored agency with an unreadable code or level skipped");
            continue;
        };
        out.agencies.insert(
            r.code.clone(),
            AgencyRecord {
                spec: AgencySpec {
                    code,
                    name: r.name,
                    name_en: r.name_en,
                    parent: r.parent_code.and_then(|p| AgencyCode::parse(&p).ok()),
                    level,
                    unit: r.unit_code,
                    address: r.address,
                    phone: r.phone,
                    email: r.email,
                    hours: r.hours,
                },
                province: r.province_code,
            },
        );
    }
    Ok(out)
}

/// A stored procedure version with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StoredProcedure {
    #[serde(flatten)]
    pub spec: ProcedureSpec,
    pub version: i64,
    pub current_version: i64,
    /// The node that publishes it, when it is not this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    spec: Json<ProcedureSpec>,
    version: i64,
    current_version: i64,
    origin: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A procedure at `version`, or at its current version.
pub async fn procedure(
    db: &Db,
    code: &str,
    version: Option<i64>,
) -> Result<Option<StoredProcedure>, Error> {
    let row: Option<VersionRow> = on_db!(db, p => sqlx::query_as(
        "SELECT v.spec, v.version, p.current_version, p.origin, p.created_at, v.created_at AS updated_at \
         FROM procedures p JOIN procedure_versions v ON v.code = p.code \
         WHERE p.code = $1 AND v.version = COALESCE($2, p.current_version)"
    ).bind(code).bind(version).fetch_optional(p).await)?;
    Ok(row.map(|r| StoredProcedure {
        spec: r.spec.0,
        version: r.version,
        current_version: r.current_version,
        origin: r.origin,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }))
}

/// Current versions in code order, a page at a time after `after`.
pub async fn current_page(
    db: &Db,
    after: &str,
    limit: i64,
) -> Result<Vec<(ProcedureSpec, i64)>, Error> {
    let rows: Vec<(Json<ProcedureSpec>, i64)> = on_db!(db, p => sqlx::query_as(
        "SELECT v.spec, v.version FROM procedures p JOIN procedure_versions v \
         ON v.code = p.code AND v.version = p.current_version WHERE p.code > $1 ORDER BY p.code LIMIT $2"
    ).bind(after).bind(limit).fetch_all(p).await)?;
    Ok(rows.into_iter().map(|(s, v)| (s.0, v)).collect())
}

pub async fn procedure_count(db: &Db) -> Result<i64, Error> {
    Ok(on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM procedures").fetch_one(p).await)?)
}

/// The most viewed procedures, for the home page.
pub async fn most_viewed(db: &Db, limit: i64) -> Result<Vec<(String, String, i64)>, Error> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT code, name, view_count FROM procedures ORDER BY view_count DESC, code LIMIT $1"
    ).bind(limit).fetch_all(p).await)?)
}

pub async fn count_view(db: &Db, code: &str) -> Result<(), Error> {
    on_db!(db, p => sqlx::query("UPDATE procedures SET view_count = view_count + 1 WHERE code = $1")
        .bind(code).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportReport {
    pub fields_written: usize,
    pub fields_unchanged: usize,
    pub agencies_written: usize,
    pub agencies_unchanged: usize,
    pub procedures_added: usize,
    /// Procedures that got a new version.
    pub procedures_revised: usize,
    pub procedures_unchanged: usize,
    /// Codes of added or revised procedures, with their new version.
    #[serde(skip)]
    pub changed: Vec<(String, i64)>,
}

/// Writes a checked catalogue file in one transaction, with an audit entry for every change.
/// `unit_ids` maps each agency's unit code to its stored id and province code.
pub async fn apply(
    db: &Db,
    file: &CatalogFile,
    unit_ids: &BTreeMap<String, (i64, String)>,
    actor: &str,
    now: DateTime<Utc>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<ImportReport, Error> {
    let mut report = ImportReport::default();
    let mut tx = Tx::begin(db).await?;
    write_fields_and_agencies(
        &mut tx,
        &file.fields,
        &file.agencies,
        unit_ids,
        actor,
        now,
        &mut report,
    )
    .await?;
    for (i, p) in file.procedures.iter().enumerate() {
        let current: Option<(Json<ProcedureSpec>, i64)> = on_tx!(&mut tx, c => sqlx::query_as(
            "SELECT v.spec, v.version FROM procedures p JOIN procedure_versions v \
             ON v.code = p.code AND v.version = p.current_version WHERE p.code = $1"
        ).bind(&p.code).fetch_optional(c).await)?;
        let version = match current {
            Some((spec, _)) if spec.0 == *p => {
                report.procedures_unchanged += 1;
                progress(i + 1);
                continue;
            }
            Some((_, v)) => {
                report.procedures_revised += 1;
                v + 1
            }
            None => {
                report.procedures_added += 1;
                1
            }
        };
        write_version(&mut tx, p, version, true, None, now).await?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: if version == 1 {
                    "catalog.procedure.create"
                } else {
                    "catalog.procedure.revise"
                },
                subject: &format!("procedure/{}", p.code),
                data: serde_json::json!({ "version": version, "name": p.name }),
            },
        )
        .await?;
        report.changed.push((p.code.clone(), version));
        progress(i + 1);
    }
    tx.commit().await?;
    Ok(report)
}

/// Writes fields, then agencies (without parents first, so that a parent later in the list is
/// no obstacle), each in the feed and the audit chain.
pub(crate) async fn write_fields_and_agencies(
    tx: &mut Tx<'_>,
    fields: &[FieldSpec],
    agencies: &[AgencySpec],
    unit_ids: &BTreeMap<String, (i64, String)>,
    actor: &str,
    now: DateTime<Utc>,
    report: &mut ImportReport,
) -> Result<(), Error> {
    for f in fields {
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO fields (code, name, name_en, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en, updated_at = excluded.updated_at"
        ).bind(&f.code).bind(&f.name).bind(&f.name_en).bind(now).execute(c).await.map(|_| ()))?;
        feed::record(tx, "field", &f.code, None, now).await?;
        audit::append(
            tx,
            now,
            &Entry {
                actor,
                action: "catalog.field.write",
                subject: &format!("field/{}", f.code),
                data: serde_json::to_value(f).unwrap_or_default(),
            },
        )
        .await?;
        report.fields_written += 1;
    }
    for a in agencies {
        let (unit_id, province) = match &a.unit {
            Some(u) => match unit_ids.get(u) {
                Some((id, prov)) => (Some(*id), Some(prov.clone())),
                None => (None, None),
            },
            None => (None, None),
        };
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO agencies (code, name, name_en, parent_code, level, unit_id, province_code, address, phone, email, hours, updated_at) \
             VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en, level = excluded.level, \
             unit_id = excluded.unit_id, province_code = excluded.province_code, address = excluded.address, \
             phone = excluded.phone, email = excluded.email, hours = excluded.hours, updated_at = excluded.updated_at"
        ).bind(a.code.as_str()).bind(&a.name).bind(&a.name_en).bind(a.level.as_str()).bind(unit_id).bind(&province)
        .bind(&a.address).bind(&a.phone).bind(&a.email).bind(&a.hours).bind(now).execute(c).await.map(|_| ()))?;
    }
    for a in agencies {
        on_tx!(tx, c => sqlx::query("UPDATE agencies SET parent_code = $1 WHERE code = $2")
            .bind(a.parent.as_ref().map(|p| p.as_str())).bind(a.code.as_str()).execute(c).await.map(|_| ()))?;
        feed::record(tx, "agency", a.code.as_str(), None, now).await?;
        audit::append(
            tx,
            now,
            &Entry {
                actor,
                action: "catalog.agency.write",
                subject: &format!("agency/{}", a.code),
                data: serde_json::to_value(a).unwrap_or_default(),
            },
        )
        .await?;
        report.agencies_written += 1;
    }
    Ok(())
}

/// Stores `p` as `version` of its procedure, in the feed; when `current`, it becomes the
/// procedure's current version (the procedure is made if it is new), published by `origin`
/// (none: this node).
pub(crate) async fn write_version(
    tx: &mut Tx<'_>,
    p: &ProcedureSpec,
    version: i64,
    current: bool,
    origin: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if current {
        let audience = p
            .audience
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(",");
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO procedures (code, name, field_code, level, online, audience, time_limit_days, current_version, created_at, updated_at, origin) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, field_code = excluded.field_code, level = excluded.level, \
             online = excluded.online, audience = excluded.audience, time_limit_days = excluded.time_limit_days, \
             current_version = excluded.current_version, updated_at = excluded.updated_at, origin = excluded.origin"
        ).bind(&p.code).bind(&p.name).bind(&p.field).bind(i64::from(p.level)).bind(p.online.as_str()).bind(&audience)
        .bind(i64::from(p.time_limit_days)).bind(version).bind(now).bind(origin).execute(c).await.map(|_| ()))?;
        on_tx!(tx, c => sqlx::query("DELETE FROM procedure_agencies WHERE code = $1")
            .bind(&p.code).execute(c).await.map(|_| ()))?;
        let mut agencies: Vec<&str> = p.agencies.iter().map(|a| a.as_str()).collect();
        agencies.sort_unstable();
        agencies.dedup();
        for a in agencies {
            on_tx!(tx, c => sqlx::query("INSERT INTO procedure_agencies (code, agency_code) VALUES ($1, $2)")
                .bind(&p.code).bind(a).execute(c).await.map(|_| ()))?;
        }
    }
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO procedure_versions (code, version, spec, created_at) VALUES ($1, $2, $3, $4)"
    ).bind(&p.code).bind(version).bind(Json(p)).bind(now).execute(c).await.map(|_| ()))?;
    feed::record(tx, "procedure", &p.code, Some(version), now).await?;
    Ok(())
}
