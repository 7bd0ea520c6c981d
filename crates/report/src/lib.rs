//! Reporting and the command centre: the one-stop figures kept live per agency, procedure
//! and day, the rankings, and the dashboards that drill from the country to one procedure of
//! one agency.
//!
//! The roll-ups ([`rollup`]) are written by the dossier system in the transaction of every
//! change of a dossier; [`rebuild`] recomputes them from the raw rows and checks the two
//! agree. Reading is [`Reports::figures`]: any period, at any of four levels (the country, a
//! province, an agency, a procedure of an agency), answered from the agency-level months and
//! days, or from the base cells of one agency.

pub mod api;
pub mod chart;
pub mod error;
pub mod export;
pub mod index;
pub mod index_pages;
pub mod pages;
pub mod rebuild;
pub mod regime;
pub mod regime_api;
pub mod regime_pages;
pub mod rollup;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use catalog::Catalog;
use identity::{Action, Principal, Resource};
use kernel::clock::{Clock, to_local};
use kernel::db::{Db, MigrationSet};
use kernel::on_db;

pub use error::ReportError;
use error::invalid;
pub use rebuild::{Check, Rebuilt, Remote, Source};
pub use rollup::{Facts, Metrics, Open};

type Result<T, E = ReportError> = std::result::Result<T, E>;

/// The reporting system's migrations.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("./migrations/sqlite"),
    postgres: &sqlx::migrate!("./migrations/postgres"),
};

/// The longest period a dashboard answers for.
pub const MAX_PERIOD_DAYS: i64 = 3700;
/// Periods up to this long are drawn day by day; longer ones month by month.
pub const DAILY_SERIES_DAYS: i64 = 62;

/// Where the code of the group of central (ministry-level) agencies stands in for a province.
pub const CENTRAL: &str = "TW";

/// A dossier past its appointment date, for the overdue list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OverdueLine {
    pub code: String,
    pub procedure: String,
    pub agency: String,
    #[schema(value_type = String, format = Date)]
    pub appointment_date: NaiveDate,
    /// Working or not, the days past the date.
    pub days_late: i64,
    /// The step it is at.
    pub step: Option<String>,
}

/// A future that borrows what made it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Reads the dossiers the overdue list shows; the dossier system answers it.
pub trait OverdueSource: Send + Sync {
    /// Dossiers in progress (not paused) due before `today`, oldest date first; only those of
    /// `agencies` when given, and of `procedure` when given.
    fn overdue<'a>(
        &'a self,
        agencies: Option<&'a [String]>,
        procedure: Option<&'a str>,
        today: NaiveDate,
        limit: i64,
    ) -> BoxFuture<'a, Result<Vec<OverdueLine>, kernel::problem::Error>>;
}

/// What a dashboard looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "level", rename_all = "snake_case")]
pub enum Scope {
    National,
    /// A province by its two-digit code, or `TW` for the central agencies.
    Province {
        code: String,
    },
    Agency {
        code: String,
    },
    Procedure {
        agency: String,
        code: String,
    },
}

impl Scope {
    /// The scope from query parameters: none gives the country.
    pub fn from_query(
        province: Option<&str>,
        agency: Option<&str>,
        procedure: Option<&str>,
    ) -> Result<Scope> {
        let t = |s: Option<&str>| {
            s.map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match (t(province), t(agency), t(procedure)) {
            (_, Some(a), Some(p)) => Ok(Scope::Procedure { agency: a, code: p }),
            (_, Some(a), None) => Ok(Scope::Agency { code: a }),
            (Some(p), None, None) => Ok(Scope::Province { code: p }),
            (None, None, None) => Ok(Scope::National),
            (_, None, Some(_)) => Err(invalid(
                "procedure",
                "Hãy chọn cơ quan của thủ tục",
                "Choose the agency of the procedure",
            )),
        }
    }
}

/// First and last day (or first days of the first and last months), both included.
pub type Span = (NaiveDate, NaiveDate);

/// A period of local days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Period {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
}

fn parse_day(field: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        invalid(
            field,
            format!(
                "Ngày không hợp lệ: \u{201c}{}\u{201d} (dạng YYYY-MM-DD)",
                s.trim()
            ),
            format!(
                "Not a valid date: \u{201c}{}\u{201d} (YYYY-MM-DD)",
                s.trim()
            ),
        )
    })
}

impl Period {
    /// The period from query parameters: the month so far when none is given.
    pub fn from_query(from: Option<&str>, to: Option<&str>, today: NaiveDate) -> Result<Period> {
        fn t(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        let to = match t(to) {
            Some(s) => parse_day("to", s)?,
            None => today,
        };
        let from = match t(from) {
            Some(s) => parse_day("from", s)?,
            None => rollup::month_of(to),
        };
        if from > to {
            return Err(invalid(
                "from",
                "Ngày bắt đầu phải trước ngày kết thúc",
                "The start must not be after the end",
            ));
        }
        if (to - from).num_days() >= MAX_PERIOD_DAYS {
            return Err(invalid(
                "from",
                format!("Kỳ báo cáo dài nhất {MAX_PERIOD_DAYS} ngày"),
                format!("A period is at most {MAX_PERIOD_DAYS} days long"),
            ));
        }
        Ok(Period { from, to })
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// Whether the series is drawn day by day.
    pub fn daily(&self) -> bool {
        self.days() <= DAILY_SERIES_DAYS
    }

    /// The months wholly inside the period (their first days, first and last), and the day
    /// ranges left at either end.
    pub fn split(&self) -> (Option<Span>, Vec<Span>) {
        let first_full = if self.from.day() == 1 {
            self.from
        } else {
            next_month(self.from)
        };
        let end_next = self.to + Duration::days(1);
        let last_full_end = if end_next.day() == 1 {
            self.to
        } else {
            rollup::month_of(self.to) - Duration::days(1)
        };
        if first_full > last_full_end {
            return (None, vec![(self.from, self.to)]);
        }
        let mut edges = Vec::new();
        if self.from < first_full {
            edges.push((self.from, first_full - Duration::days(1)));
        }
        if last_full_end < self.to {
            edges.push((last_full_end + Duration::days(1), self.to));
        }
        (Some((first_full, rollup::month_of(last_full_end))), edges)
    }
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let m = rollup::month_of(d);
    let (y, mo) = if m.month() == 12 {
        (m.year() + 1, 1)
    } else {
        (m.year(), m.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, mo, 1).unwrap_or(m)
}

/// Ratios drawn from the figures, in percent with two decimals; none when nothing to divide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct Rates {
    /// Resolved early or on time, of those resolved.
    pub on_time: Option<f64>,
    /// Received online, of those received.
    pub online: Option<f64>,
    /// Very satisfied or satisfied, of the ratings.
    pub satisfied: Option<f64>,
    /// In progress past the appointment date, of those in progress.
    pub overdue: Option<f64>,
    /// Paid through an online gateway, of the dossiers whose fees were paid (online or at the
    /// desk; waived fees left out).
    pub paid_online: Option<f64>,
}

fn pct(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| ((n as f64) * 10000.0 / (d as f64)).round() / 100.0)
}

impl Rates {
    pub fn of(m: &Metrics, open: &OpenFigures) -> Rates {
        Rates {
            on_time: pct(m.resolved_early + m.resolved_on_time, m.resolved()),
            online: pct(m.received_online, m.received()),
            satisfied: pct(m.rated_very_satisfied + m.rated_satisfied, m.rated()),
            overdue: pct(open.overdue, open.in_progress),
            paid_online: pct(m.paid_online, m.paid_online + m.paid_desk),
        }
    }
}

/// Dossiers in progress now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct OpenFigures {
    pub in_progress: i64,
    /// Past the appointment date, the clock running.
    pub overdue: i64,
    /// Waiting for the applicant's supplement.
    pub paused: i64,
}

impl OpenFigures {
    fn merge(&mut self, o: &OpenFigures) {
        self.in_progress += o.in_progress;
        self.overdue += o.overdue;
        self.paused += o.paused;
    }

    fn add(&mut self, o: &Open, due: NaiveDate, today: NaiveDate) {
        self.in_progress += o.active + o.paused;
        self.paused += o.paused;
        if due < today {
            self.overdue += o.active;
        }
    }
}

/// One line under a dashboard: a province, an agency or a procedure.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Line {
    pub code: String,
    pub name: String,
    pub metrics: Metrics,
    pub open: OpenFigures,
    pub rates: Rates,
    /// Place in the on-time ranking among the lines that resolved something (1 is best).
    pub rank: Option<usize>,
}

/// One point of the time series.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Bucket {
    /// The day, or the first day of the month.
    #[schema(value_type = String, format = Date)]
    pub start: NaiveDate,
    pub metrics: Metrics,
}

/// A dashboard's figures.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Figures {
    pub scope: Scope,
    pub title: String,
    pub period: Period,
    /// The local day the open figures are counted on.
    #[schema(value_type = String, format = Date)]
    pub today: NaiveDate,
    pub totals: Metrics,
    pub open: OpenFigures,
    pub rates: Rates,
    /// `province`, `agency`, `procedure`, or none at the last level.
    pub children_kind: Option<String>,
    /// The level below, ranked by on-time share.
    pub children: Vec<Line>,
    /// `day` or `month`.
    pub granularity: String,
    pub series: Vec<Bucket>,
}

/// How long a public answer is kept.
pub const PUBLIC_TTL_SECS: u64 = 60;

/// What the public transparency page shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Public {
    /// The country's figures, with the provinces ranked.
    pub national: Figures,
    /// Every agency that received or resolved a dossier in the period, ranked.
    pub agencies: Vec<Line>,
    /// The citizen-service index (Decision 766/QĐ-TTg) of the country, with the provinces
    /// ranked by it; no history.
    pub index: index::IndexFigures,
}

type PublicCache =
    std::sync::Mutex<HashMap<(NaiveDate, NaiveDate), (std::time::Instant, Arc<Public>)>>;

/// The reporting service.
pub struct Reports {
    db: Db,
    clock: Arc<dyn Clock>,
    catalog: Arc<Catalog>,
    identity: Arc<identity::Identity>,
    source: Arc<dyn Source>,
    /// Figures kept outside the source (a national node's federated dossiers), once set.
    remote: std::sync::OnceLock<Arc<dyn Remote>>,
    overdue: Arc<dyn OverdueSource>,
    names: RwLock<HashMap<String, String>>,
    public_cache: PublicCache,
}

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reports").finish_non_exhaustive()
    }
}

/// A row of sums: a key, then the thirteen figures in the order of [`rollup::COLUMNS`].
type Keyed<K> = (
    K,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

/// The key and the figures of a row of sums.
fn keyed<K>(r: Keyed<K>) -> (K, Metrics) {
    (
        r.0,
        Metrics::from_array([
            r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12, r.13,
        ]),
    )
}

/// A base cell of one agency: its procedure, its day and its figures.
type MetricRow = (
    String,
    NaiveDate,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

fn metrics_of(r: &MetricRow) -> Metrics {
    Metrics::from_array([
        r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12, r.13, r.14,
    ])
}

impl Reports {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        catalog: Arc<Catalog>,
        identity: Arc<identity::Identity>,
        source: Arc<dyn Source>,
        overdue: Arc<dyn OverdueSource>,
    ) -> Reports {
        Reports {
            db,
            clock,
            catalog,
            identity,
            source,
            remote: std::sync::OnceLock::new(),
            overdue,
            names: RwLock::new(HashMap::new()),
            public_cache: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Today, in Vietnam.
    pub fn today(&self) -> NaiveDate {
        to_local(self.clock.now()).date()
    }

    /// Adds the figures kept outside the source to what a rebuild or a check recomputes
    /// (once; a second call is ignored and answers false).
    pub fn set_remote(&self, remote: Arc<dyn Remote>) -> bool {
        self.remote.set(remote).is_ok()
    }

    fn remote(&self) -> Option<&dyn Remote> {
        self.remote.get().map(|r| r.as_ref())
    }

    /// Recomputes every roll-up from the raw rows.
    pub async fn rebuild(&self) -> Result<Rebuilt> {
        Ok(rebuild::rebuild(self.source.as_ref(), self.remote(), self.clock.now()).await?)
    }

    /// Compares the roll-ups with their recomputation.
    pub async fn check(&self) -> Result<Check> {
        Ok(rebuild::check(&self.db, self.source.as_ref(), self.remote()).await?)
    }

    /// Rebuilds the roll-ups when they never were (a new or upgraded database); answers
    /// whether it did.
    pub async fn ensure_built(&self) -> Result<bool> {
        if rebuild::built_at(&self.db).await?.is_some() {
            return Ok(false);
        }
        let r = self.rebuild().await?;
        tracing::info!(
            cells = r.cells,
            open = r.open_cells,
            ms = r.millis as u64,
            "report roll-ups built from the dossiers"
        );
        Ok(true)
    }

    /// Whether `p` may see `scope`: an agency's figures its leaders and administrators, a
    /// province's those of its People's Committee, the country's the national operators.
    pub fn may_read(&self, p: &Principal, scope: &Scope) -> bool {
        let subject = identity::Subject::Account(p.clone());
        let ok = |r: &Resource<'_>| {
            identity::authorize(&subject, Action::ReadReports, r) == identity::Decision::Allow
        };
        match scope {
            Scope::National => ok(&Resource::Node),
            Scope::Province { code } => {
                ok(&Resource::Node)
                    || self
                        .province_committee(code)
                        .is_some_and(|a| ok(&Resource::Agency(&a)))
            }
            Scope::Agency { code } | Scope::Procedure { agency: code, .. } => {
                ok(&Resource::Agency(code))
                    || self.province_of(code).is_some_and(|pr| {
                        self.province_committee(&pr)
                            .is_some_and(|a| ok(&Resource::Agency(&a)))
                    })
            }
        }
    }

    /// The figures of `scope`, for a caller allowed to see them (a refusal is audited).
    pub async fn figures_for(
        &self,
        p: Option<&Principal>,
        scope: &Scope,
        period: Period,
    ) -> Result<Figures> {
        let Some(p) = p else {
            return Err(ReportError::NeedLogin);
        };
        self.allow(p, scope).await?;
        self.figures(scope, period).await
    }

    /// Lets `p` see `scope`, or records the refusal in the audit chain and refuses.
    pub async fn allow(&self, p: &Principal, scope: &Scope) -> Result<()> {
        self.known(scope)?;
        if self.may_read(p, scope) {
            return Ok(());
        }
        self.refuse(p, scope).await
    }

    /// Whether `p` may change what the reports are made of: an agency's entered figures
    /// (`Some(agency)`), or the node's (`None`: the index's definition).
    pub fn may_write(&self, p: &Principal, agency: Option<&str>) -> bool {
        let subject = identity::Subject::Account(p.clone());
        let r = match agency {
            Some(a) => Resource::Agency(a),
            None => Resource::Node,
        };
        identity::authorize(&subject, Action::WriteReports, &r) == identity::Decision::Allow
    }

    /// Lets `p` change what [`Reports::may_write`] covers, or records the refusal and refuses.
    pub async fn allow_write(&self, p: &Principal, agency: Option<&str>) -> Result<()> {
        if let Some(a) = agency {
            self.known(&Scope::Agency {
                code: a.to_string(),
            })?;
        }
        if self.may_write(p, agency) {
            return Ok(());
        }
        let resource = match agency {
            Some(a) => Resource::Agency(a),
            None => Resource::Node,
        };
        self.identity
            .record_denial(&p.id, Action::WriteReports, &resource)
            .await?;
        Err(ReportError::Forbidden)
    }

    /// Records a refusal to see `scope` and answers it.
    pub async fn refuse(&self, p: &Principal, scope: &Scope) -> Result<()> {
        let code = match scope {
            Scope::National => String::new(),
            Scope::Province { code }
            | Scope::Agency { code }
            | Scope::Procedure { agency: code, .. } => code.clone(),
        };
        let resource = if code.is_empty() {
            Resource::Node
        } else {
            Resource::Agency(&code)
        };
        self.identity
            .record_denial(&p.id, Action::ReadReports, &resource)
            .await?;
        Err(ReportError::Forbidden)
    }

    /// The province of an agency (`TW` for central ones).
    pub fn province_of(&self, agency: &str) -> Option<String> {
        self.catalog
            .lookup()
            .agencies
            .get(agency)
            .map(|a| a.province.clone().unwrap_or_else(|| CENTRAL.to_string()))
    }

    /// The agency that stands for a province: its People's Committee (the provincial agency
    /// with no parent).
    pub fn province_committee(&self, province: &str) -> Option<String> {
        self.catalog
            .lookup()
            .agencies
            .values()
            .find(|a| {
                a.province.as_deref() == Some(province)
                    && a.spec.parent.is_none()
                    && a.spec.level == catalog::model::AgencyLevel::Provincial
            })
            .map(|a| a.spec.code.to_string())
    }

    /// Provinces by code, with their names (and the central group).
    pub fn provinces(&self, vi: bool) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = self
            .catalog
            .units()
            .provinces(self.today())
            .into_iter()
            .map(|u| (u.code.clone(), u.name.clone()))
            .collect();
        out.insert(
            CENTRAL.to_string(),
            if vi {
                "Cơ quan trung ương"
            } else {
                "Central agencies"
            }
            .to_string(),
        );
        out
    }

    fn known(&self, scope: &Scope) -> Result<()> {
        let lookup = self.catalog.lookup();
        match scope {
            Scope::National => Ok(()),
            Scope::Province { code } => {
                if code == CENTRAL || self.provinces(true).contains_key(code) {
                    Ok(())
                } else {
                    Err(ReportError::NotFound(format!("tỉnh/province {code}")))
                }
            }
            Scope::Agency { code } | Scope::Procedure { agency: code, .. } => {
                if lookup.agencies.contains_key(code) {
                    Ok(())
                } else {
                    Err(ReportError::NotFound(format!("cơ quan/agency {code}")))
                }
            }
        }
    }

    async fn procedure_name(&self, code: &str) -> String {
        if let Ok(n) = self.names.read()
            && let Some(s) = n.get(code)
        {
            return s.clone();
        }
        let name = match self.catalog.procedure(code, None).await {
            Ok(s) => s.spec.name.to_string(),
            Err(_) => code.to_string(),
        };
        if let Ok(mut n) = self.names.write() {
            n.insert(code.to_string(), name.clone());
        }
        name
    }

    /// The period's figures summed in the database, from the agency-level roll-ups: whole
    /// months from the monthly table, the days at either end from the daily one; only the
    /// given agencies when some are. Answers the sums per agency and per bucket of the series
    /// (days when `daily`, else months).
    async fn agency_sums(
        &self,
        period: Period,
        agencies: Option<&[String]>,
    ) -> Result<(Vec<(String, Metrics)>, Vec<(NaiveDate, Metrics)>)> {
        let sums: Vec<String> = rollup::COLUMNS
            .iter()
            .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
            .collect();
        let sums = sums.join(", ");
        let cols = rollup::COLUMNS.join(", ");
        let (months, edges) = period.split();
        // $1, $2: months; $3..$6: the two edge ranges (empty when unused); then the agencies.
        // An empty range, within both databases' dates.
        let (first, last) = (
            NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN),
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX),
        );
        let none = (last, first);
        let (m, e1, e2) = (
            months.unwrap_or(none),
            edges.first().copied().unwrap_or(none),
            edges.get(1).copied().unwrap_or(none),
        );
        let filter = match agencies {
            Some(list) => {
                let marks: Vec<String> = (0..list.len()).map(|i| format!("${}", i + 7)).collect();
                format!(" AND agency IN ({})", marks.join(", "))
            }
            None => String::new(),
        };
        let edge = "((day >= $3 AND day <= $4) OR (day >= $5 AND day <= $6))";
        let by_agency = format!(
            "SELECT agency, {sums} FROM (             SELECT agency, {cols} FROM report_agency_monthly WHERE month >= $1 AND month <= $2{filter}              UNION ALL SELECT agency, {cols} FROM report_agency_daily WHERE {edge}{filter}) x GROUP BY agency"
        );
        let series = if period.daily() {
            format!(
                "SELECT day, {sums} FROM report_agency_daily WHERE day >= $1 AND day <= $2 AND $3 <= $4 AND $5 <= $6{filter} GROUP BY day"
            )
        } else {
            let month = rebuild::month_expr(self.db.backend(), "day");
            format!(
                "SELECT month, {sums} FROM report_agency_monthly WHERE month >= $1 AND month <= $2{filter} GROUP BY month                  UNION ALL SELECT {month} AS month, {sums} FROM report_agency_daily WHERE {edge}{filter} GROUP BY {month}"
            )
        };
        let (s1, s2) = if period.daily() {
            ((period.from, period.to), (first, last))
        } else {
            ((m.0, m.1), (first, last))
        };
        let list = agencies.unwrap_or(&[]);
        let rows: Vec<Keyed<String>> = on_db!(&self.db, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(by_agency.as_str()))
                .bind(m.0).bind(m.1).bind(e1.0).bind(e1.1).bind(e2.0).bind(e2.1);
            for a in list {
                q = q.bind(a);
            }
            q.fetch_all(c).await
        })?;
        let points: Vec<Keyed<NaiveDate>> = on_db!(&self.db, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(series.as_str()))
                .bind(s1.0).bind(s1.1);
            q = if period.daily() {
                q.bind(s2.0).bind(s2.1).bind(s2.0).bind(s2.1)
            } else {
                q.bind(e1.0).bind(e1.1).bind(e2.0).bind(e2.1)
            };
            for a in list {
                q = q.bind(a);
            }
            q.fetch_all(c).await
        })?;
        let points = points.into_iter().map(keyed).collect();
        let rows = rows.into_iter().map(keyed).collect();
        Ok((rows, points))
    }

    /// Base rows of one agency (and one procedure), keyed by procedure.
    async fn procedure_rows(
        &self,
        agency: &str,
        procedure: Option<&str>,
        period: Period,
    ) -> Result<Vec<MetricRow>> {
        let cols = rollup::COLUMNS.join(", ");
        let sql = format!(
            "SELECT procedure, day, {cols} FROM report_daily WHERE agency = $1 AND day >= $2 AND day <= $3 AND ($4 = '' OR procedure = $4)"
        );
        let p = procedure.unwrap_or("");
        Ok(
            on_db!(&self.db, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(agency).bind(period.from).bind(period.to).bind(p).fetch_all(c).await)?,
        )
    }

    /// The figures of a scope and period, with no check of who asks.
    pub async fn figures(&self, scope: &Scope, period: Period) -> Result<Figures> {
        self.known(scope)?;
        let today = self.today();
        let lookup = self.catalog.lookup();
        let daily = period.daily();
        let bucket = |d: NaiveDate| if daily { d } else { rollup::month_of(d) };
        let mut totals = Metrics::default();
        let mut series: BTreeMap<NaiveDate, Metrics> = BTreeMap::new();
        let mut children: BTreeMap<String, (Metrics, OpenFigures)> = BTreeMap::new();
        let mut open = OpenFigures::default();
        let (title, children_kind) = match scope {
            Scope::National => ("Toàn quốc".to_string(), Some("province".to_string())),
            Scope::Province { code } => (
                self.provinces(true)
                    .get(code)
                    .cloned()
                    .unwrap_or_else(|| code.clone()),
                Some("agency".to_string()),
            ),
            Scope::Agency { code } => (
                lookup
                    .agencies
                    .get(code)
                    .map(|a| a.spec.name.clone())
                    .unwrap_or_else(|| code.clone()),
                Some("procedure".to_string()),
            ),
            Scope::Procedure { code, .. } => (self.procedure_name(code).await, None),
        };
        match scope {
            Scope::National | Scope::Province { .. } => {
                let province = match scope {
                    Scope::Province { code } => Some(code.as_str()),
                    _ => None,
                };
                let group_of = |agency: &str| -> Option<String> {
                    let pr = lookup
                        .agencies
                        .get(agency)
                        .map(|a| a.province.clone().unwrap_or_else(|| CENTRAL.to_string()))
                        .unwrap_or_else(|| CENTRAL.to_string());
                    match province {
                        None => Some(pr),
                        Some(p) if p == pr => Some(agency.to_string()),
                        Some(_) => None,
                    }
                };
                let members: Option<Vec<String>> = province.map(|p| {
                    lookup
                        .agencies
                        .values()
                        .filter(|a| a.province.as_deref().unwrap_or(CENTRAL) == p)
                        .map(|a| a.spec.code.to_string())
                        .collect()
                });
                let (rows, points) = self.agency_sums(period, members.as_deref()).await?;
                for (agency, m) in rows {
                    let Some(g) = group_of(&agency) else { continue };
                    totals.add(&m, 1);
                    children.entry(g).or_default().0.add(&m, 1);
                }
                for (d, m) in points {
                    series.entry(bucket(d)).or_default().add(&m, 1);
                }
                let opens: Vec<(String, i64, i64, i64)> = on_db!(&self.db, c => sqlx::query_as(
                    "SELECT agency, CAST(SUM(active) AS BIGINT), CAST(SUM(paused) AS BIGINT), \
                     CAST(SUM(CASE WHEN due < $1 THEN active ELSE 0 END) AS BIGINT) FROM report_agency_open GROUP BY agency"
                ).bind(today).fetch_all(c).await)?;
                for (agency, active, paused, overdue) in opens {
                    let Some(g) = group_of(&agency) else { continue };
                    let o = OpenFigures {
                        in_progress: active + paused,
                        overdue,
                        paused,
                    };
                    open.merge(&o);
                    children.entry(g).or_default().1.merge(&o);
                }
            }
            Scope::Agency { code } | Scope::Procedure { agency: code, .. } => {
                let procedure = match scope {
                    Scope::Procedure { code, .. } => Some(code.as_str()),
                    _ => None,
                };
                for r in self.procedure_rows(code, procedure, period).await? {
                    let m = metrics_of(&r);
                    totals.add(&m, 1);
                    series.entry(bucket(r.1)).or_default().add(&m, 1);
                    if procedure.is_none() {
                        children.entry(r.0.clone()).or_default().0.add(&m, 1);
                    }
                }
                let opens: Vec<(String, NaiveDate, i64, i64)> = on_db!(&self.db, c => sqlx::query_as(
                    "SELECT procedure, due, active, paused FROM report_open WHERE agency = $1 AND ($2 = '' OR procedure = $2)"
                ).bind(code).bind(procedure.unwrap_or("")).fetch_all(c).await)?;
                for (proc_code, due, active, paused) in opens {
                    let o = Open { active, paused };
                    open.add(&o, due, today);
                    if procedure.is_none() {
                        children.entry(proc_code).or_default().1.add(&o, due, today);
                    }
                }
            }
        }
        // Every bucket of the period, empty ones too, so a chart shows the gaps.
        let mut start = bucket(period.from);
        while start <= period.to {
            series.entry(start).or_default();
            start = if daily {
                start + Duration::days(1)
            } else {
                next_month(start)
            };
        }
        let provinces = self.provinces(true);
        let mut lines = Vec::with_capacity(children.len());
        for (code, (m, o)) in children {
            let name = match children_kind.as_deref() {
                Some("province") => provinces
                    .get(&code)
                    .cloned()
                    .unwrap_or_else(|| code.clone()),
                Some("agency") => lookup
                    .agencies
                    .get(&code)
                    .map(|a| a.spec.name.clone())
                    .unwrap_or_else(|| code.clone()),
                _ => self.procedure_name(&code).await,
            };
            lines.push(Line {
                rates: Rates::of(&m, &o),
                code,
                name,
                metrics: m,
                open: o,
                rank: None,
            });
        }
        rank(&mut lines);
        Ok(Figures {
            rates: Rates::of(&totals, &open),
            scope: scope.clone(),
            title,
            period,
            today,
            totals,
            open,
            children_kind,
            children: lines,
            granularity: if daily { "day" } else { "month" }.to_string(),
            series: series
                .into_iter()
                .filter(|(d, _)| *d <= period.to)
                .map(|(start, metrics)| Bucket { start, metrics })
                .collect(),
        })
    }

    /// The overdue dossiers of a scope (up to `limit`), for a caller allowed to see it.
    pub async fn overdue_for(
        &self,
        p: Option<&Principal>,
        scope: &Scope,
        limit: i64,
    ) -> Result<Vec<OverdueLine>> {
        let Some(p) = p else {
            return Err(ReportError::NeedLogin);
        };
        self.allow(p, scope).await?;
        let lookup = self.catalog.lookup();
        let today = self.today();
        let limit = limit.clamp(1, 500);
        let lines = match scope {
            Scope::National => self.overdue.overdue(None, None, today, limit).await?,
            Scope::Province { code } => {
                let agencies: Vec<String> = lookup
                    .agencies
                    .values()
                    .filter(|a| a.province.as_deref().unwrap_or(CENTRAL) == code)
                    .map(|a| a.spec.code.to_string())
                    .collect();
                self.overdue
                    .overdue(Some(&agencies), None, today, limit)
                    .await?
            }
            Scope::Agency { code } => {
                let one = [code.clone()];
                self.overdue.overdue(Some(&one), None, today, limit).await?
            }
            Scope::Procedure { agency, code } => {
                let one = [agency.clone()];
                self.overdue
                    .overdue(Some(&one), Some(code), today, limit)
                    .await?
            }
        };
        Ok(lines)
    }

    /// The public page's figures for a period. Anyone may ask and each answer adds up the
    /// whole country, so an answer is kept for [`PUBLIC_TTL_SECS`] seconds.
    pub async fn public(&self, period: Period) -> Result<Arc<Public>> {
        let key = (period.from, period.to);
        if let Ok(c) = self.public_cache.lock()
            && let Some((at, p)) = c.get(&key)
            && at.elapsed().as_secs() < PUBLIC_TTL_SECS
        {
            return Ok(p.clone());
        }
        let (national, agencies) = self.public_ranking(period).await?;
        let index = self.public_index(period, &national).await?;
        let p = Arc::new(Public {
            national,
            agencies,
            index,
        });
        if let Ok(mut c) = self.public_cache.lock() {
            if c.len() >= 64 {
                c.retain(|_, (at, _)| at.elapsed().as_secs() < PUBLIC_TTL_SECS);
                if c.len() >= 64 {
                    c.clear();
                }
            }
            c.insert(key, (std::time::Instant::now(), p.clone()));
        }
        Ok(p)
    }

    /// The public rankings: provinces, and every agency, by on-time share over the period.
    pub async fn public_ranking(&self, period: Period) -> Result<(Figures, Vec<Line>)> {
        let national = self.figures(&Scope::National, period).await?;
        let lookup = self.catalog.lookup();
        let mut agencies: BTreeMap<String, Metrics> = BTreeMap::new();
        for (agency, m) in self.agency_sums(period, None).await?.0 {
            agencies.entry(agency).or_default().add(&m, 1);
        }
        let mut lines: Vec<Line> = agencies
            .into_iter()
            .filter(|(_, m)| m.resolved() > 0 || m.received() > 0)
            .map(|(code, m)| Line {
                name: lookup
                    .agencies
                    .get(&code)
                    .map(|a| a.spec.name.clone())
                    .unwrap_or_else(|| code.clone()),
                rates: Rates::of(&m, &OpenFigures::default()),
                code,
                metrics: m,
                open: OpenFigures::default(),
                rank: None,
            })
            .collect();
        rank(&mut lines);
        Ok((national, lines))
    }
}

/// Orders lines by on-time share (best first; then by how many were resolved) and numbers
/// those that resolved anything; the others follow, by code.
pub fn rank(lines: &mut [Line]) {
    lines.sort_by(|a, b| {
        let key = |l: &Line| l.rates.on_time.map(|r| (r * 100.0) as i64);
        match (key(a), key(b)) {
            (Some(x), Some(y)) => y
                .cmp(&x)
                .then(b.metrics.resolved().cmp(&a.metrics.resolved()))
                .then(a.code.cmp(&b.code)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.code.cmp(&b.code),
        }
    });
    for (i, l) in lines.iter_mut().enumerate() {
        l.rank = l.rates.on_time.map(|_| i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn a_period_splits_into_whole_months_and_edges() {
        let p = Period {
            from: d(2026, 1, 15),
            to: d(2026, 4, 10),
        };
        let (months, edges) = p.split();
        assert_eq!(months, Some((d(2026, 2, 1), d(2026, 3, 1))));
        assert_eq!(
            edges,
            vec![
                (d(2026, 1, 15), d(2026, 1, 31)),
                (d(2026, 4, 1), d(2026, 4, 10))
            ]
        );
        let whole = Period {
            from: d(2025, 12, 1),
            to: d(2026, 2, 28),
        };
        assert_eq!(
            whole.split(),
            (Some((d(2025, 12, 1), d(2026, 2, 1))), vec![])
        );
        let inside = Period {
            from: d(2026, 3, 2),
            to: d(2026, 3, 30),
        };
        assert_eq!(
            inside.split(),
            (None, vec![(d(2026, 3, 2), d(2026, 3, 30))])
        );
    }

    #[test]
    fn periods_from_the_query_are_checked() {
        let today = d(2026, 11, 23);
        let p = Period::from_query(None, None, today).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.from, p.to), (d(2026, 11, 1), today));
        assert!(Period::from_query(Some("2026-11-24"), Some("2026-11-01"), today).is_err());
        assert!(Period::from_query(Some("23/11/2026"), None, today).is_err());
        assert!(Period::from_query(Some("2000-01-01"), None, today).is_err());
        assert!(Period::from_query(Some("2026-02-30"), None, today).is_err());
    }

    #[test]
    fn ranking_puts_the_best_on_time_share_first() {
        let line = |code: &str, on_time: i64, late: i64| {
            let m = Metrics {
                resolved_on_time: on_time,
                resolved_late: late,
                ..Metrics::default()
            };
            Line {
                code: code.into(),
                name: code.into(),
                rates: Rates::of(&m, &OpenFigures::default()),
                metrics: m,
                open: OpenFigures::default(),
                rank: None,
            }
        };
        let mut l = vec![
            line("a", 9, 1),
            line("b", 0, 0),
            line("c", 10, 0),
            line("d", 18, 2),
        ];
        rank(&mut l);
        let order: Vec<&str> = l.iter().map(|x| x.code.as_str()).collect();
        assert_eq!(order, ["c", "d", "a", "b"]);
        assert_eq!(l[0].rank, Some(1));
        assert_eq!(l[3].rank, None);
    }
}
