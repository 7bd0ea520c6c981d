//! The catalogue's feed: every change of a field, an agency or a procedure version, numbered in
//! the order it was made, in the transaction that made it. A federated node reads it a page at
//! a time after the last number it has ([`Catalog::published`]) and another node takes such a
//! page in ([`Catalog::receive`]), keeping the publisher's version numbers.
//!
//! A procedure is published by one node: the one that made it, or the node named in its
//! `origin`. Only that node makes its versions; a node takes a version it lacks, keeps one it
//! has, and reports one that differs from the one it holds under the same number.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::types::Json;
use utoipa::ToSchema;

use kernel::audit::{self, Entry, Tx};
use kernel::db::Db;
use kernel::problem::Error;
use kernel::{on_db, on_tx};

use crate::import::{self, Parsed};
use crate::model::{AgencySpec, CatalogFile, FieldSpec, ProcedureSpec};
use crate::store::{self, ImportReport};
use crate::{Catalog, CatalogError};

/// The most changes in one page.
pub const MAX_PAGE: i64 = 1000;

/// Notes a change in the feed, in the transaction that makes it.
pub(crate) async fn record(
    tx: &mut Tx<'_>,
    kind: &str,
    code: &str,
    version: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    on_tx!(tx, c => sqlx::query("INSERT INTO catalog_feed (kind, code, version, at) VALUES ($1, $2, $3, $4)")
        .bind(kind).bind(code).bind(version).bind(now).execute(c).await.map(|_| ()))?;
    Ok(())
}

/// The number of the newest change (0 when there is none).
pub async fn last_seq(db: &Db) -> Result<i64, Error> {
    let n: Option<i64> = on_db!(db, p => sqlx::query_scalar("SELECT MAX(seq) FROM catalog_feed")
        .fetch_one(p).await)?;
    Ok(n.unwrap_or(0))
}

/// One version of a procedure as it is published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PublishedProcedure {
    /// The node that publishes it, when it is not the node that sends this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub version: i64,
    pub spec: ProcedureSpec,
}

/// A page of the feed, whole in itself: besides what changed, the agencies (with their
/// parents) and fields its procedures name, so that a node can take it in alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Published {
    /// The number it starts after.
    pub after: i64,
    /// The number of its last change: where the next page starts.
    pub last: i64,
    /// Whether more changes follow.
    pub more: bool,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    /// Parents before their children.
    #[serde(default)]
    pub agencies: Vec<AgencySpec>,
    /// In the order they were made; a procedure's versions in order.
    #[serde(default)]
    pub procedures: Vec<PublishedProcedure>,
}

/// Which changes a page carries.
#[derive(Clone, Copy)]
pub enum Scope<'a> {
    /// Everything: what the national node publishes.
    All,
    /// Only the procedures this node publishes itself whose every agency `within` accepts,
    /// and those agencies: what a local node publishes upward.
    Own(&'a (dyn Fn(&str) -> bool + Sync)),
}

/// Where a page comes from, and what a node takes from it.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    /// The sending node: the publisher of the procedures the page names no origin for.
    pub node: &'a str,
    /// This node's own name: versions it published itself come back and are skipped.
    pub own: &'a str,
    /// Whether fields are taken (from the national node) or left (from a local node).
    pub fields: bool,
    /// The agencies the sender may write here.
    pub agencies: &'a (dyn Fn(&str) -> bool + Sync),
    /// Whether a procedure the sender itself publishes passes to it when this node has it
    /// as its own with the same version (a local node joining the national catalogue).
    pub adopt: bool,
}

/// A version not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Conflict {
    pub code: String,
    pub version: i64,
    pub vi: String,
    pub en: String,
}

/// What a node did with a page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Received {
    pub fields_written: usize,
    pub agencies_written: usize,
    /// Versions stored for the first time.
    pub procedures_written: usize,
    /// Versions it had already.
    pub procedures_unchanged: usize,
    pub conflicts: Vec<Conflict>,
}

#[derive(sqlx::FromRow)]
struct FeedRow {
    seq: i64,
    kind: String,
    code: String,
    version: Option<i64>,
    origin: Option<String>,
    spec: Option<Json<ProcedureSpec>>,
}

enum Outcome {
    Written { current: bool },
    Unchanged,
    Conflict(String, String),
}

impl Catalog {
    /// The changes after `after`, at most `limit` of them, as a page whole in itself.
    pub async fn published(
        &self,
        after: i64,
        limit: i64,
        scope: Scope<'_>,
    ) -> Result<Published, CatalogError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let rows: Vec<FeedRow> = on_db!(self.db(), p => sqlx::query_as(
            "SELECT f.seq, f.kind, f.code, f.version, p.origin, v.spec FROM catalog_feed f \
             LEFT JOIN procedures p ON f.kind = 'procedure' AND p.code = f.code \
             LEFT JOIN procedure_versions v ON f.kind = 'procedure' AND v.code = f.code AND v.version = f.version \
             WHERE f.seq > $1 ORDER BY f.seq LIMIT $2"
        ).bind(after).bind(limit).fetch_all(p).await).map_err(Error::from)?;
        let lookup = self.lookup();
        let mut out = Published {
            after,
            last: rows.last().map_or(after, |r| r.seq),
            more: rows.len() as i64 == limit,
            ..Published::default()
        };
        let mut fields = BTreeSet::new();
        let mut agencies = BTreeSet::new();
        for r in rows {
            match (r.kind.as_str(), scope) {
                ("field", Scope::All) => {
                    fields.insert(r.code);
                }
                ("agency", Scope::All) => {
                    agencies.insert(r.code);
                }
                ("agency", Scope::Own(within)) if within(&r.code) => {
                    agencies.insert(r.code);
                }
                ("procedure", _) => {
                    let (Some(spec), Some(version)) = (r.spec, r.version) else {
                        continue;
                    };
                    if let Scope::Own(within) = scope
                        && (r.origin.is_some()
                            || !spec.0.agencies.iter().all(|a| within(a.as_str())))
                    {
                        continue;
                    }
                    if matches!(scope, Scope::All) {
                        fields.insert(spec.0.field.clone());
                    }
                    agencies.extend(spec.0.agencies.iter().map(|a| a.as_str().to_string()));
                    out.procedures.push(PublishedProcedure {
                        origin: r.origin,
                        version,
                        spec: spec.0,
                    });
                }
                _ => {}
            }
        }
        // Each agency's parents too, so that the page can be taken in alone.
        let mut todo: Vec<String> = agencies.iter().cloned().collect();
        while let Some(code) = todo.pop() {
            if let Some(parent) = lookup
                .agencies
                .get(&code)
                .and_then(|a| a.spec.parent.as_ref())
                && agencies.insert(parent.as_str().to_string())
            {
                todo.push(parent.as_str().to_string());
            }
        }
        out.fields = fields
            .iter()
            .filter_map(|c| lookup.fields.get(c).cloned())
            .collect();
        out.agencies = crate::order_parents_first(
            agencies
                .iter()
                .filter_map(|c| lookup.agencies.get(c).map(|a| a.spec.clone()))
                .collect(),
        );
        Ok(out)
    }

    /// Takes in a page another node published, in one transaction with an audit entry for
    /// every change. The page is refused whole when its fields or agencies do not check;
    /// a procedure version that does not check, or that differs from the one here under the
    /// same number, or that another node publishes, is left and reported.
    pub async fn receive(
        &self,
        page: &Published,
        source: Source<'_>,
        actor: &str,
    ) -> Result<Received, CatalogError> {
        let before = self.lookup();
        let fields: Vec<FieldSpec> = if source.fields {
            page.fields
                .iter()
                .filter(|f| before.fields.get(&f.code) != Some(*f))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let agencies: Vec<AgencySpec> = page
            .agencies
            .iter()
            .filter(|a| (source.agencies)(a.code.as_str()))
            .filter(|a| before.agencies.get(a.code.as_str()).map(|r| &r.spec) != Some(*a))
            .cloned()
            .collect();
        let mut parsed = Parsed {
            file: CatalogFile {
                fields,
                agencies,
                procedures: Vec::new(),
            },
            ..Parsed::default()
        };
        let unit_ids = import::check(&parsed, &before, self.units(), self.today())
            .map_err(CatalogError::Rejected)?;
        let mut received = Received::default();
        let mut candidates = Vec::new();
        for pp in &page.procedures {
            let origin = pp.origin.as_deref().unwrap_or(source.node);
            if origin == source.own {
                continue;
            }
            parsed.file.procedures = vec![pp.spec.clone()];
            match import::check(&parsed, &before, self.units(), self.today()) {
                Ok(_) => candidates.push((pp, origin)),
                Err(list) => received.conflicts.push(Conflict {
                    code: pp.spec.code.clone(),
                    version: pp.version,
                    vi: list.first().map(|p| p.vi.clone()).unwrap_or_default(),
                    en: list.first().map(|p| p.en.clone()).unwrap_or_default(),
                }),
            }
        }
        let now = self.now();
        let mut tx = Tx::begin(self.db()).await?;
        let mut report = ImportReport::default();
        store::write_fields_and_agencies(
            &mut tx,
            &parsed.file.fields,
            &parsed.file.agencies,
            &unit_ids,
            actor,
            now,
            &mut report,
        )
        .await?;
        received.fields_written = report.fields_written;
        received.agencies_written = report.agencies_written;
        let mut current: BTreeMap<String, (i64, ProcedureSpec)> = BTreeMap::new();
        for (pp, origin) in candidates {
            let adopt = source.adopt && pp.origin.is_none();
            match take_version(&mut tx, pp, origin, adopt, source.node, actor, now).await? {
                Outcome::Written {
                    current: now_current,
                } => {
                    received.procedures_written += 1;
                    if now_current {
                        current.insert(pp.spec.code.clone(), (pp.version, pp.spec.clone()));
                    }
                }
                Outcome::Unchanged => received.procedures_unchanged += 1,
                Outcome::Conflict(vi, en) => received.conflicts.push(Conflict {
                    code: pp.spec.code.clone(),
                    version: pp.version,
                    vi,
                    en,
                }),
            }
        }
        tx.commit().await?;
        let changed: Vec<(ProcedureSpec, i64)> =
            current.into_values().map(|(v, s)| (s, v)).collect();
        self.refresh(
            &changed,
            received.fields_written + received.agencies_written > 0,
        )
        .await?;
        Ok(received)
    }

    /// The codes of the procedures another node publishes, with that node.
    pub async fn published_elsewhere(&self) -> Result<BTreeMap<String, String>, CatalogError> {
        let rows: Vec<(String, String)> = on_db!(self.db(), p => sqlx::query_as(
            "SELECT code, origin FROM procedures WHERE origin IS NOT NULL"
        ).fetch_all(p).await)
        .map_err(Error::from)?;
        Ok(rows.into_iter().collect())
    }

    /// Procedures in `codes` that another node publishes and that `file` would change: the
    /// problems that refuse the file.
    pub(crate) async fn owned_elsewhere(
        &self,
        file: &CatalogFile,
        lines: &[usize],
    ) -> Result<Vec<kernel::ProblemDetail>, CatalogError> {
        let elsewhere = self.published_elsewhere().await?;
        let mut out = Vec::new();
        if elsewhere.is_empty() {
            return Ok(out);
        }
        let mut seen = HashSet::new();
        for (i, p) in file.procedures.iter().enumerate() {
            let Some(node) = elsewhere.get(&p.code) else {
                continue;
            };
            if !seen.insert(p.code.as_str()) {
                continue;
            }
            let same = store::procedure(self.db(), &p.code, None)
                .await?
                .is_some_and(|s| s.spec == *p);
            if !same {
                out.push(kernel::ProblemDetail::new(
                    format!(
                        "line {} (procedures[{i}])",
                        lines.get(i).copied().unwrap_or(0)
                    ),
                    format!(
                        "Thủ tục {} do hệ thống {node} công bố; chỉ sửa được ở đó",
                        p.code
                    ),
                    format!(
                        "Procedure {} is published by node {node}; it can be changed only there",
                        p.code
                    ),
                ));
            }
        }
        Ok(out)
    }
}

/// Takes one published version in (see [`Catalog::receive`]).
async fn take_version(
    tx: &mut Tx<'_>,
    pp: &PublishedProcedure,
    origin: &str,
    adopt: bool,
    from: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, Error> {
    let code = &pp.spec.code;
    let stored: Option<(Option<String>, i64)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT origin, current_version FROM procedures WHERE code = $1"
    ).bind(code).fetch_optional(c).await)?;
    let here: Option<Json<ProcedureSpec>> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT spec FROM procedure_versions WHERE code = $1 AND version = $2"
    ).bind(code).bind(pp.version).fetch_optional(c).await)?;
    let Some((held_by, current)) = stored else {
        store::write_version(tx, &pp.spec, pp.version, true, Some(origin), now).await?;
        audit_take(tx, pp, origin, from, actor, now).await?;
        return Ok(Outcome::Written { current: true });
    };
    match held_by.as_deref() {
        None if !adopt => {
            return Ok(match here {
                Some(s) if s.0 == pp.spec => Outcome::Unchanged,
                _ => Outcome::Conflict(
                    format!("Thủ tục {code} do hệ thống này công bố"),
                    format!("Procedure {code} is published by this node"),
                ),
            });
        }
        Some(other) if other != origin => {
            return Ok(Outcome::Conflict(
                format!("Thủ tục {code} do hệ thống {other} công bố"),
                format!("Procedure {code} is published by node {other}"),
            ));
        }
        _ => {}
    }
    match here {
        Some(s) if s.0 == pp.spec => {
            if held_by.as_deref() != Some(origin) {
                on_tx!(tx, c => sqlx::query("UPDATE procedures SET origin = $1 WHERE code = $2")
                    .bind(origin).bind(code).execute(c).await.map(|_| ()))?;
                audit::append(
                    tx,
                    now,
                    &Entry {
                        actor,
                        action: "catalog.procedure.adopt",
                        subject: &format!("procedure/{code}"),
                        data: json!({ "version": pp.version, "origin": origin, "from": from }),
                    },
                )
                .await?;
            }
            Ok(Outcome::Unchanged)
        }
        Some(_) => Ok(Outcome::Conflict(
            format!(
                "Phiên bản {} của thủ tục {code} ở đây khác với bản được công bố",
                pp.version
            ),
            format!(
                "Version {} of procedure {code} here differs from the published one",
                pp.version
            ),
        )),
        None => {
            let is_current = pp.version > current;
            if !is_current {
                on_tx!(tx, c => sqlx::query("UPDATE procedures SET origin = $1 WHERE code = $2")
                    .bind(origin).bind(code).execute(c).await.map(|_| ()))?;
            }
            store::write_version(tx, &pp.spec, pp.version, is_current, Some(origin), now).await?;
            audit_take(tx, pp, origin, from, actor, now).await?;
            Ok(Outcome::Written {
                current: is_current,
            })
        }
    }
}

async fn audit_take(
    tx: &mut Tx<'_>,
    pp: &PublishedProcedure,
    origin: &str,
    from: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    audit::append(
        tx,
        now,
        &Entry {
            actor,
            action: "catalog.procedure.receive",
            subject: &format!("procedure/{}", pp.spec.code),
            data: json!({
                "version": pp.version,
                "name": pp.spec.name,
                "origin": origin,
                "from": from,
            }),
        },
    )
    .await?;
    Ok(())
}
