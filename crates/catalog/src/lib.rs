//! The catalogue: administrative units, agencies, fields and administrative procedures, with
//! versioned procedures and a Vietnamese search index.
//!
//! [`Catalog`] is the service the rest of motcua uses: it owns the tables (through [`store`]),
//! the in-memory lookups and the search index, and keeps them in step on every change.

pub mod api;
pub mod error;
pub mod feed;
pub mod generate;
pub mod import;
pub mod model;
pub mod pages;
mod scoring;
pub mod search;
pub mod store;
pub mod units;

use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::NaiveDate;

use kernel::clock::{Clock, to_local};
use kernel::config::SearchConfig;
use kernel::db::{Db, MigrationSet};

pub use error::CatalogError;
use model::CatalogFile;
use search::{SearchIndex, SearchRequest, SearchResults};
use store::{ImportReport, Lookup, StoredProcedure};
use units::AdminUnits;

/// The catalogue's migrations.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("./migrations/sqlite"),
    postgres: &sqlx::migrate!("./migrations/postgres"),
};

/// The demo catalogue shipped with motcua.
pub const DEMO_JSON: &str = include_str!("../data/demo.json");

/// The catalogue service.
pub struct Catalog {
    db: Db,
    index: SearchIndex,
    units: AdminUnits,
    lookup: RwLock<Arc<Lookup>>,
    clock: Arc<dyn Clock>,
    cfg: SearchConfig,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("index", &self.index)
            .finish()
    }
}

impl Catalog {
    /// Opens the catalogue: loads units (seeding them on first start), lookups, and the index
    /// under `index_dir` (or in memory when `None`), rebuilding it when it is missing or does
    /// not match the database.
    pub async fn open(
        db: Db,
        index_dir: Option<&Path>,
        clock: Arc<dyn Clock>,
        cfg: SearchConfig,
    ) -> Result<Catalog, CatalogError> {
        units::seed(&db).await?;
        let units = AdminUnits::load(&db).await?;
        let lookup = store::load_lookup(&db).await?;
        let (index, fresh) = match index_dir {
            Some(dir) => SearchIndex::open(dir, &cfg)?,
            None => (SearchIndex::in_memory(&cfg)?, true),
        };
        let catalog = Catalog {
            db,
            index,
            units,
            lookup: RwLock::new(Arc::new(lookup)),
            clock,
            cfg,
        };
        let stored = store::procedure_count(&catalog.db).await?;
        if fresh || catalog.index.doc_count() != stored as u64 {
            tracing::info!(
                procedures = stored,
                "building the search index from the database"
            );
            catalog.rebuild_index().await?;
        }
        let (common, bytes) = catalog.index.memory_size();
        tracing::info!(
            procedures = catalog.index.doc_count(),
            common_words = common,
            memory_kib = bytes / 1024,
            "search index open"
        );
        Ok(catalog)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn units(&self) -> &AdminUnits {
        &self.units
    }

    pub fn search_config(&self) -> &SearchConfig {
        &self.cfg
    }

    /// The time now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Today in Vietnam.
    pub fn today(&self) -> NaiveDate {
        to_local(self.clock.now()).date()
    }

    /// Fields and agencies as they are now.
    pub fn lookup(&self) -> Arc<Lookup> {
        match self.lookup.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Fills the index from the database, replacing what it held.
    pub async fn rebuild_index(&self) -> Result<u64, CatalogError> {
        let lookup = self.lookup();
        self.index.clear()?;
        let mut after = String::new();
        loop {
            let page = store::current_page(&self.db, &after, 2000).await?;
            let Some((last, _)) = page.last() else { break };
            after = last.code.clone();
            self.index
                .add_batch(page.iter().map(|(s, v)| (s, *v)), lookup.as_ref())?;
        }
        self.index.commit()?;
        Ok(self.index.doc_count())
    }

    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults, CatalogError> {
        Ok(self.index.search(req)?)
    }

    /// A procedure at a version (the current one when `None`).
    pub async fn procedure(
        &self,
        code: &str,
        version: Option<i64>,
    ) -> Result<StoredProcedure, CatalogError> {
        store::procedure(&self.db, code, version)
            .await?
            .ok_or_else(|| CatalogError::ProcedureNotFound {
                code: code.to_string(),
                version,
            })
    }

    /// Checks and writes a parsed file; nothing is written when any record is bad.
    pub async fn import(
        &self,
        parsed: &import::Parsed,
        actor: &str,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<ImportReport, CatalogError> {
        let before = self.lookup();
        let unit_ids = import::check(parsed, &before, &self.units, self.today())
            .map_err(CatalogError::Rejected)?;
        let owned = self
            .owned_elsewhere(&parsed.file, &parsed.procedure_lines)
            .await?;
        if !owned.is_empty() {
            return Err(CatalogError::Rejected(owned));
        }
        // Fields and agencies stored as they are in the file are not written again.
        let changes = CatalogFile {
            fields: parsed
                .file
                .fields
                .iter()
                .filter(|f| before.fields.get(&f.code) != Some(*f))
                .cloned()
                .collect(),
            agencies: parsed
                .file
                .agencies
                .iter()
                .filter(|a| before.agencies.get(a.code.as_str()).map(|r| &r.spec) != Some(*a))
                .cloned()
                .collect(),
            procedures: parsed.file.procedures.clone(),
        };
        let mut report = store::apply(
            &self.db,
            &changes,
            &unit_ids,
            actor,
            self.clock.now(),
            progress,
        )
        .await?;
        report.fields_unchanged = parsed.file.fields.len() - changes.fields.len();
        report.agencies_unchanged = parsed.file.agencies.len() - changes.agencies.len();
        let versions: std::collections::HashMap<&str, i64> = report
            .changed
            .iter()
            .map(|(c, v)| (c.as_str(), *v))
            .collect();
        let changed: Vec<(model::ProcedureSpec, i64)> = parsed
            .file
            .procedures
            .iter()
            .filter_map(|p| versions.get(p.code.as_str()).map(|v| (p.clone(), *v)))
            .collect();
        self.refresh(
            &changed,
            !changes.agencies.is_empty() || !changes.fields.is_empty(),
        )
        .await?;
        Ok(report)
    }

    /// After a write: the lookups read again, and the index brought up to date with the
    /// `changed` procedures (current versions), or rebuilt whole when agencies or fields
    /// changed, whose names may show in every card.
    pub(crate) async fn refresh(
        &self,
        changed: &[(model::ProcedureSpec, i64)],
        agencies_or_fields_changed: bool,
    ) -> Result<(), CatalogError> {
        let lookup = Arc::new(store::load_lookup(&self.db).await?);
        match self.lookup.write() {
            Ok(mut g) => *g = lookup.clone(),
            Err(p) => *p.into_inner() = lookup.clone(),
        }
        if agencies_or_fields_changed
            && store::procedure_count(&self.db).await? > changed.len() as i64
        {
            self.rebuild_index().await?;
        } else if !changed.is_empty() {
            self.index
                .upsert(changed.iter().map(|(p, v)| (p, *v)), lookup.as_ref())?;
        }
        Ok(())
    }

    /// Imports the shipped demo catalogue, but for the procedures another node publishes.
    pub async fn load_demo(&self, actor: &str) -> Result<ImportReport, CatalogError> {
        let mut parsed = import::parse(DEMO_JSON.as_bytes(), import::Format::Json)
            .map_err(CatalogError::Rejected)?;
        let elsewhere = self.published_elsewhere().await?;
        if !elsewhere.is_empty() {
            parsed
                .file
                .procedures
                .retain(|p| !elsewhere.contains_key(&p.code));
            parsed.procedure_lines.clear();
        }
        self.import(&parsed, actor, &|_| {}).await
    }

    /// The whole catalogue in the import format.
    pub async fn export(&self) -> Result<CatalogFile, CatalogError> {
        let lookup = self.lookup();
        let mut file = CatalogFile {
            fields: lookup.fields.values().cloned().collect(),
            agencies: order_parents_first(
                lookup.agencies.values().map(|a| a.spec.clone()).collect(),
            ),
            procedures: Vec::new(),
        };
        let mut after = String::new();
        loop {
            let page = store::current_page(&self.db, &after, 2000).await?;
            let Some((last, _)) = page.last() else { break };
            after = last.code.clone();
            file.procedures.extend(page.into_iter().map(|(s, _)| s));
        }
        Ok(file)
    }

    pub async fn count_view(&self, code: &str) -> Result<(), CatalogError> {
        Ok(store::count_view(&self.db, code).await?)
    }

    pub async fn most_viewed(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, String, i64)>, CatalogError> {
        Ok(store::most_viewed(&self.db, limit).await?)
    }

    pub fn index_doc_count(&self) -> u64 {
        self.index.doc_count()
    }
}

/// Orders agencies so that each parent comes before its children.
fn order_parents_first(mut agencies: Vec<model::AgencySpec>) -> Vec<model::AgencySpec> {
    let mut out = Vec::with_capacity(agencies.len());
    let mut placed = std::collections::HashSet::new();
    while !agencies.is_empty() {
        let before = agencies.len();
        agencies.retain(|a| {
            let ready = a
                .parent
                .as_ref()
                .is_none_or(|p| placed.contains(p.as_str()));
            if ready {
                placed.insert(a.code.as_str().to_string());
                out.push(a.clone());
            }
            !ready
        });
        if agencies.len() == before {
            out.append(&mut agencies);
        }
    }
    out
}
