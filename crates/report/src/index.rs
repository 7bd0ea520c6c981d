//! The citizen-service index of Decision 766/QĐ-TTg: groups of indicators with their points,
//! kept as versioned data (a national operator edits them; each edit is a new version in
//! force from a day), scored per agency and per province from the roll-ups, with the
//! figures the one-stop system cannot measure entered per agency and month.
//!
//! An indicator's points are `max × min(1, rate / full_at)`: linear up to the share at which
//! it earns them all. A score keeps apart what was measured: `points` counts every
//! indicator (one without data earns nothing), `scaled` is the points out of 100 over the
//! indicators that had data, so that an agency is not ranked down for what nobody measured.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use kernel::audit::{self, Entry, Tx};
use kernel::{on_db, on_tx};

use crate::error::invalid;
use crate::{Metrics, Period, ReportError, Reports, Scope};

type Result<T, E = ReportError> = std::result::Result<T, E>;

/// The definition the index starts from: the decision's groups and indicators.
pub const SEED: &str = include_str!("../data/index766.json");
/// The day the seeded definition is in force from (the portal's first published scores).
pub const SEED_FROM: (i32, u32, u32) = (2022, 8, 1);
/// The most months an index history goes back.
pub const HISTORY_MONTHS: u32 = 12;

/// What an indicator is measured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Resolved early or on time, of those resolved.
    OnTimeShare,
    /// Received from an online submission, of those received.
    OnlineShare,
    /// Paid through an online gateway, of those whose fees were paid.
    OnlinePaymentShare,
    /// One less the share resolved late and the share rated "not satisfied", of those
    /// resolved (the decision's service satisfaction).
    ServiceSatisfaction,
    /// Rated satisfied or very satisfied, of the ratings.
    RatedSatisfiedShare,
    /// Entered by the agency for each month.
    Manual,
}

impl Measure {
    /// The share (0 to 1) the figures give, if they give one.
    pub fn rate(self, m: &Metrics) -> Option<f64> {
        let share = |n: i64, d: i64| (d > 0).then(|| n as f64 / d as f64);
        match self {
            Measure::OnTimeShare => share(m.resolved_early + m.resolved_on_time, m.resolved()),
            Measure::OnlineShare => share(m.received_online, m.received()),
            Measure::OnlinePaymentShare => share(m.paid_online, m.paid_online + m.paid_desk),
            Measure::ServiceSatisfaction => share(
                m.resolved() - m.resolved_late - m.rated_not_satisfied,
                m.resolved(),
            )
            .map(|x| x.max(0.0)),
            Measure::RatedSatisfiedShare => {
                share(m.rated_very_satisfied + m.rated_satisfied, m.rated())
            }
            Measure::Manual => None,
        }
    }
}

/// One indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Indicator {
    /// Its number in the decision (`2.1`, `3.5a`...).
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    /// The points it is worth.
    pub max_points: f64,
    pub measure: Measure,
    /// The share (0 to 1] at which it earns all its points (1 when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_at: Option<f64>,
}

impl Indicator {
    /// Points for a share (0 to 1).
    pub fn points(&self, rate: f64) -> f64 {
        let full = self.full_at.unwrap_or(1.0);
        round2(self.max_points * (rate / full).clamp(0.0, 1.0))
    }
}

/// A group of indicators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub max_points: f64,
    pub indicators: Vec<Indicator>,
}

/// The whole index: its groups and their indicators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Definition {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    /// The legal text it follows.
    #[serde(default)]
    pub source: String,
    pub max_points: f64,
    pub groups: Vec<Group>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.005
}

impl Definition {
    /// The seeded definition.
    pub fn seed() -> Result<Definition> {
        serde_json::from_str(SEED).map_err(|e| ReportError::Export(format!("index seed: {e}")))
    }

    pub fn indicators(&self) -> impl Iterator<Item = &Indicator> {
        self.groups.iter().flat_map(|g| g.indicators.iter())
    }

    /// Every problem with the definition, listed (none when it may be put in force).
    pub fn problems(&self) -> Vec<kernel::ProblemDetail> {
        let mut out = Vec::new();
        let mut say = |field: String, vi: String, en: String| {
            out.push(kernel::ProblemDetail::new(field, vi, en));
        };
        let points_ok = |x: f64| x.is_finite() && (0.0..=1000.0).contains(&x);
        if self.name.trim().is_empty() {
            say(
                "name".into(),
                "Hãy nhập tên bộ chỉ số".into(),
                "The index needs a name".into(),
            );
        }
        if !points_ok(self.max_points) || self.max_points <= 0.0 {
            say(
                "max_points".into(),
                "Tổng điểm phải lớn hơn 0 và không quá 1000".into(),
                "The total must be above 0 and at most 1000".into(),
            );
        }
        if self.groups.is_empty() || self.groups.len() > 20 || self.indicators().count() > 100 {
            say(
                "groups".into(),
                "Bộ chỉ số cần từ 1 đến 20 nhóm, tối đa 100 chỉ số".into(),
                "The index needs 1 to 20 groups and at most 100 indicators".into(),
            );
        }
        let too_long = |s: &str| s.chars().count() > 300;
        if too_long(&self.name)
            || too_long(&self.name_en)
            || too_long(&self.source)
            || self
                .groups
                .iter()
                .any(|g| too_long(&g.name) || too_long(&g.name_en))
            || self
                .indicators()
                .any(|i| too_long(&i.name) || too_long(&i.name_en))
        {
            say(
                "name".into(),
                "Tên dài quá 300 ký tự".into(),
                "A name is longer than 300 characters".into(),
            );
        }
        let mut codes = BTreeSet::new();
        let mut group_codes = BTreeSet::new();
        let mut sum = 0.0;
        for (gi, g) in self.groups.iter().enumerate() {
            let at = format!("groups[{gi}]");
            if g.code.trim().is_empty() || !group_codes.insert(g.code.trim().to_string()) {
                say(
                    format!("{at}.code"),
                    format!("Mã nhóm trống hoặc trùng: \u{201c}{}\u{201d}", g.code),
                    format!("Group code empty or repeated: \u{201c}{}\u{201d}", g.code),
                );
            }
            if g.name.trim().is_empty() {
                say(
                    format!("{at}.name"),
                    "Hãy nhập tên nhóm".into(),
                    "The group needs a name".into(),
                );
            }
            if !points_ok(g.max_points) {
                say(
                    format!("{at}.max_points"),
                    "Điểm của nhóm không hợp lệ".into(),
                    "The group's points are not valid".into(),
                );
            }
            if g.indicators.is_empty() {
                say(
                    format!("{at}.indicators"),
                    "Nhóm cần ít nhất một chỉ số".into(),
                    "The group needs at least one indicator".into(),
                );
            }
            let mut in_group = 0.0;
            for (ii, i) in g.indicators.iter().enumerate() {
                let at = format!("{at}.indicators[{ii}]");
                let code = i.code.trim();
                if code.is_empty() || code.chars().count() > 16 || !codes.insert(code.to_string()) {
                    say(
                        format!("{at}.code"),
                        format!(
                            "Mã chỉ số trống, quá dài hoặc trùng: \u{201c}{}\u{201d}",
                            i.code
                        ),
                        format!(
                            "Indicator code empty, too long or repeated: \u{201c}{}\u{201d}",
                            i.code
                        ),
                    );
                }
                if i.name.trim().is_empty() {
                    say(
                        format!("{at}.name"),
                        "Hãy nhập tên chỉ số".into(),
                        "The indicator needs a name".into(),
                    );
                }
                if !points_ok(i.max_points) {
                    say(
                        format!("{at}.max_points"),
                        "Điểm của chỉ số không hợp lệ".into(),
                        "The indicator's points are not valid".into(),
                    );
                }
                if let Some(f) = i.full_at
                    && !(f.is_finite() && f > 0.0 && f <= 1.0)
                {
                    say(
                        format!("{at}.full_at"),
                        "Ngưỡng đạt điểm tối đa phải trong khoảng (0, 1]".into(),
                        "The share for full points must be in (0, 1]".into(),
                    );
                }
                in_group += i.max_points;
            }
            if points_ok(g.max_points) && !close(in_group, g.max_points) {
                say(
                    format!("{at}.max_points"),
                    format!(
                        "Nhóm {} có {} điểm nhưng các chỉ số cộng lại {}",
                        g.code,
                        g.max_points,
                        round2(in_group)
                    ),
                    format!(
                        "Group {} is worth {} but its indicators add up to {}",
                        g.code,
                        g.max_points,
                        round2(in_group)
                    ),
                );
            }
            sum += g.max_points;
        }
        if points_ok(self.max_points) && !self.groups.is_empty() && !close(sum, self.max_points) {
            say(
                "max_points".into(),
                format!(
                    "Tổng điểm {} nhưng các nhóm cộng lại {}",
                    self.max_points,
                    round2(sum)
                ),
                format!(
                    "The total is {} but the groups add up to {}",
                    self.max_points,
                    round2(sum)
                ),
            );
        }
        out
    }
}

/// A version of the definition, in force from a day until a later version's day.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Version {
    pub version: i64,
    #[schema(value_type = String, format = Date)]
    pub effective_from: NaiveDate,
    pub note: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub definition: Definition,
}

/// A new version, as asked for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewVersion {
    /// `YYYY-MM-DD`: the first day it scores.
    pub effective_from: String,
    /// Why (the decision or document that changes it).
    #[serde(default)]
    pub note: String,
    pub definition: Definition,
}

/// The version in force on `day`: the latest day not after it, and of those the last made.
pub fn in_force(versions: &[Version], day: NaiveDate) -> Option<&Version> {
    versions
        .iter()
        .filter(|v| v.effective_from <= day)
        .max_by_key(|v| (v.effective_from, v.version))
}

/// How an indicator was scored.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IndicatorScore {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub measure: Measure,
    pub max_points: f64,
    /// The share in percent (two decimals); none without data.
    pub rate: Option<f64>,
    /// Points earned; none without data.
    pub points: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GroupScore {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub max_points: f64,
    pub points: f64,
    pub indicators: Vec<IndicatorScore>,
}

/// A score of the index.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Score {
    /// The version of the definition it was scored with.
    pub version: i64,
    pub max_points: f64,
    /// Points earned (an indicator without data earns none).
    pub points: f64,
    /// The points the indicators with data were worth.
    pub measured_points: f64,
    /// Points out of `max_points` over the indicators with data; none when none had any.
    pub scaled: Option<f64>,
    pub groups: Vec<GroupScore>,
}

/// Scores a definition: the figures give the measured shares, `entered` the manual ones
/// (0 to 1, by indicator code).
pub fn score(v: &Version, m: &Metrics, entered: &HashMap<String, f64>) -> Score {
    let d = &v.definition;
    let mut points = 0.0;
    let mut measured = 0.0;
    let groups = d
        .groups
        .iter()
        .map(|g| {
            let mut gp = 0.0;
            let indicators = g
                .indicators
                .iter()
                .map(|i| {
                    let rate = match i.measure {
                        Measure::Manual => entered.get(&i.code).copied(),
                        x => x.rate(m),
                    };
                    let pts = rate.map(|r| i.points(r));
                    if let Some(p) = pts {
                        gp += p;
                        measured += i.max_points;
                    }
                    IndicatorScore {
                        code: i.code.clone(),
                        name: i.name.clone(),
                        name_en: i.name_en.clone(),
                        measure: i.measure,
                        max_points: i.max_points,
                        rate: rate.map(|r| round2(r * 100.0)),
                        points: pts,
                    }
                })
                .collect();
            points += gp;
            GroupScore {
                code: g.code.clone(),
                name: g.name.clone(),
                name_en: g.name_en.clone(),
                max_points: g.max_points,
                points: round2(gp),
                indicators,
            }
        })
        .collect();
    Score {
        version: v.version,
        max_points: d.max_points,
        points: round2(points),
        measured_points: round2(measured),
        scaled: (measured > 0.0).then(|| round2(points * d.max_points / measured)),
        groups,
    }
}

/// A line under an index: a province or an agency, with its score.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IndexLine {
    pub code: String,
    pub name: String,
    pub points: f64,
    pub scaled: Option<f64>,
    /// Place by scaled score among the lines that had one (1 is best).
    pub rank: Option<usize>,
}

/// One month of the history.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HistoryPoint {
    /// The first day of the month.
    #[schema(value_type = String, format = Date)]
    pub month: NaiveDate,
    pub version: i64,
    pub points: f64,
    pub scaled: Option<f64>,
}

/// The index of a province or an agency (or the country) over a period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IndexFigures {
    pub scope: Scope,
    pub title: String,
    pub period: Period,
    /// The definition in force on the period's last day.
    pub definition: Version,
    pub score: Score,
    /// `province` under the country, `agency` under a province; none under an agency.
    pub children_kind: Option<String>,
    pub children: Vec<IndexLine>,
    /// Month by month, up to the period's last month, each with the version then in force.
    pub history: Vec<HistoryPoint>,
}

/// Manual shares entered for an agency and a month.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Entered {
    pub agency: String,
    /// `YYYY-MM`.
    pub month: String,
    /// The version whose manual indicators these are.
    pub version: i64,
    /// Every manual indicator of that version, with its share in percent when entered.
    pub values: Vec<EnteredValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EnteredValue {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub rate: Option<f64>,
    pub entered_by: Option<String>,
    pub entered_at: Option<DateTime<Utc>>,
}

/// Manual shares to enter, in percent; a null clears one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EnterValues {
    pub agency: String,
    /// `YYYY-MM`.
    pub month: String,
    pub values: BTreeMap<String, Option<f64>>,
}

/// Parses `YYYY-MM` into the month's first day.
pub fn parse_month(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d").map_err(|_| {
        invalid(
            "month",
            format!(
                "Tháng không hợp lệ: \u{201c}{}\u{201d} (dạng YYYY-MM)",
                s.trim()
            ),
            format!("Not a valid month: \u{201c}{}\u{201d} (YYYY-MM)", s.trim()),
        )
    })
}

fn last_day_of_month(first: NaiveDate) -> NaiveDate {
    crate::next_month(first) - Duration::days(1)
}

type VersionRow = (i64, NaiveDate, String, String, String, DateTime<Utc>);

impl Reports {
    /// Every version of the index definition, the first made first; the seeded one is put
    /// in force the first time any is asked for.
    pub async fn index_versions(&self) -> Result<Vec<Version>> {
        let rows = self.version_rows().await?;
        let rows = if rows.is_empty() {
            self.seed_index().await?;
            self.version_rows().await?
        } else {
            rows
        };
        rows.into_iter()
            .map(
                |(version, effective_from, note, created_by, definition, created_at)| {
                    let definition: Definition =
                        serde_json::from_str(&definition).map_err(|e| {
                            ReportError::Export(format!("index version {version} unreadable: {e}"))
                        })?;
                    Ok(Version {
                        version,
                        effective_from,
                        note,
                        created_by,
                        created_at,
                        definition,
                    })
                },
            )
            .collect()
    }

    async fn version_rows(&self) -> Result<Vec<VersionRow>> {
        Ok(on_db!(&self.db, c => sqlx::query_as(
            "SELECT version, effective_from, note, created_by, definition, created_at FROM report_index_versions ORDER BY version"
        ).fetch_all(c).await)?)
    }

    async fn seed_index(&self) -> Result<()> {
        let d = Definition::seed()?;
        let from = NaiveDate::from_ymd_opt(SEED_FROM.0, SEED_FROM.1, SEED_FROM.2)
            .unwrap_or(NaiveDate::MIN);
        let now = self.clock.now();
        let json = serde_json::to_string(&d).map_err(|e| ReportError::Export(e.to_string()))?;
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO report_index_versions (version, effective_from, note, created_by, definition, created_at) \
             VALUES (1, $1, $2, 'system', $3, $4) ON CONFLICT (version) DO NOTHING"
        ).bind(from).bind(&d.source).bind(&json).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n > 0 {
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: "system",
                    action: "report.index.version",
                    subject: "report/index/1",
                    data: serde_json::json!({"effective_from": from, "id": d.id, "seeded": true}),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Puts a new version of the definition in force from its day; a national operator's.
    pub async fn add_index_version(&self, actor: &str, new: NewVersion) -> Result<Version> {
        let from =
            NaiveDate::parse_from_str(new.effective_from.trim(), "%Y-%m-%d").map_err(|_| {
                invalid(
                    "effective_from",
                    format!(
                        "Ngày không hợp lệ: \u{201c}{}\u{201d} (dạng YYYY-MM-DD)",
                        new.effective_from.trim()
                    ),
                    format!(
                        "Not a valid date: \u{201c}{}\u{201d} (YYYY-MM-DD)",
                        new.effective_from.trim()
                    ),
                )
            })?;
        let mut problems = new.definition.problems();
        if from.year() < 2022 || from.year() > 2100 {
            problems.push(kernel::ProblemDetail::new(
                "effective_from",
                "Ngày áp dụng phải từ năm 2022 đến 2100",
                "The first day must be between 2022 and 2100",
            ));
        }
        if new.note.chars().count() > 500 {
            problems.push(kernel::ProblemDetail::new(
                "note",
                "Ghi chú dài quá 500 ký tự",
                "The note is longer than 500 characters",
            ));
        }
        if !problems.is_empty() {
            return Err(ReportError::Invalid(problems));
        }
        // The seeded version first, so that numbering starts after it.
        self.index_versions().await?;
        let mut d = new.definition;
        for g in &mut d.groups {
            g.code = g.code.trim().to_string();
            for i in &mut g.indicators {
                i.code = i.code.trim().to_string();
            }
        }
        let json = serde_json::to_string(&d).map_err(|e| ReportError::Export(e.to_string()))?;
        let now = self.clock.now();
        let note = new.note.trim().to_string();
        let mut tx = Tx::begin(&self.db).await?;
        let version: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(
            "INSERT INTO report_index_versions (version, effective_from, note, created_by, definition, created_at) \
             SELECT COALESCE(MAX(version), 0) + 1, $1, $2, $3, $4, $5 FROM report_index_versions RETURNING version"
        ).bind(from).bind(&note).bind(actor).bind(&json).bind(now).fetch_one(&mut *c).await)?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "report.index.version",
                subject: &format!("report/index/{version}"),
                data: serde_json::json!({"effective_from": from, "note": note, "id": d.id,
                    "points": d.indicators().map(|i| (i.code.clone(), i.max_points)).collect::<BTreeMap<_, _>>()}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Version {
            version,
            effective_from: from,
            note,
            created_by: actor.to_string(),
            created_at: now,
            definition: d,
        })
    }

    /// The manual shares of an agency and a month, with the version's manual indicators.
    pub async fn entered(&self, agency: &str, month: NaiveDate) -> Result<Entered> {
        self.known(&Scope::Agency {
            code: agency.to_string(),
        })?;
        let versions = self.index_versions().await?;
        let v = in_force(&versions, last_day_of_month(month)).ok_or_else(|| {
            ReportError::NotFound(format!("chỉ số/index {}", month.format("%Y-%m")))
        })?;
        let rows: Vec<(String, f64, String, DateTime<Utc>)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT indicator, rate, entered_by, entered_at FROM report_index_inputs WHERE agency = $1 AND month = $2"
        ).bind(agency).bind(month).fetch_all(c).await)?;
        let by: HashMap<String, (f64, String, DateTime<Utc>)> = rows
            .into_iter()
            .map(|(i, r, b, a)| (i, (r, b, a)))
            .collect();
        Ok(Entered {
            agency: agency.to_string(),
            month: month.format("%Y-%m").to_string(),
            version: v.version,
            values: v
                .definition
                .indicators()
                .filter(|i| i.measure == Measure::Manual)
                .map(|i| {
                    let e = by.get(&i.code);
                    EnteredValue {
                        code: i.code.clone(),
                        name: i.name.clone(),
                        name_en: i.name_en.clone(),
                        rate: e.map(|x| round2(x.0 * 100.0)),
                        entered_by: e.map(|x| x.1.clone()),
                        entered_at: e.map(|x| x.2),
                    }
                })
                .collect(),
        })
    }

    /// Enters (or clears) manual shares for an agency and a month; all or nothing.
    pub async fn enter(&self, actor: &str, input: EnterValues) -> Result<Entered> {
        let month = parse_month(&input.month)?;
        let agency = input.agency.trim().to_string();
        self.known(&Scope::Agency {
            code: agency.clone(),
        })?;
        let today = self.today();
        if month > crate::rollup::month_of(today) {
            return Err(invalid(
                "month",
                "Không nhập số liệu cho tháng chưa đến",
                "Figures cannot be entered for a month still to come",
            ));
        }
        let versions = self.index_versions().await?;
        let v = in_force(&versions, last_day_of_month(month)).ok_or_else(|| {
            invalid(
                "month",
                "Tháng này chưa có bộ chỉ số áp dụng",
                "No index definition is in force for this month",
            )
        })?;
        let manual: BTreeSet<&str> = v
            .definition
            .indicators()
            .filter(|i| i.measure == Measure::Manual)
            .map(|i| i.code.as_str())
            .collect();
        let mut problems = Vec::new();
        if input.values.is_empty() {
            problems.push(kernel::ProblemDetail::new(
                "values",
                "Chưa có số liệu nào",
                "No figure was given",
            ));
        }
        for (code, rate) in &input.values {
            if !manual.contains(code.as_str()) {
                problems.push(kernel::ProblemDetail::new(
                    format!("values.{code}"),
                    format!("\u{201c}{code}\u{201d} không phải chỉ số nhập tay của bộ chỉ số đang áp dụng"),
                    format!("\u{201c}{code}\u{201d} is not an entered indicator of the index in force"),
                ));
            }
            if let Some(r) = rate
                && !(r.is_finite() && (0.0..=100.0).contains(r))
            {
                problems.push(kernel::ProblemDetail::new(
                    format!("values.{code}"),
                    "Tỷ lệ phải từ 0 đến 100",
                    "A share must be between 0 and 100",
                ));
            }
        }
        if !problems.is_empty() {
            return Err(ReportError::Invalid(problems));
        }
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        for (code, rate) in &input.values {
            match rate {
                Some(r) => {
                    on_tx!(&mut tx, c => sqlx::query(
                        "INSERT INTO report_index_inputs (agency, month, indicator, rate, entered_by, entered_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (agency, month, indicator) DO UPDATE SET rate = excluded.rate, entered_by = excluded.entered_by, entered_at = excluded.entered_at"
                    ).bind(&agency).bind(month).bind(code).bind(r / 100.0).bind(actor).bind(now).execute(&mut *c).await.map(|_| ()))?;
                }
                None => {
                    on_tx!(&mut tx, c => sqlx::query(
                        "DELETE FROM report_index_inputs WHERE agency = $1 AND month = $2 AND indicator = $3"
                    ).bind(&agency).bind(month).bind(code).execute(&mut *c).await.map(|_| ()))?;
                }
            }
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "report.index.enter",
                subject: &format!("agency/{agency}/index/{}", month.format("%Y-%m")),
                data: serde_json::json!({"version": v.version, "values": input.values}),
            },
        )
        .await?;
        tx.commit().await?;
        self.entered(&agency, month).await
    }

    /// Manual shares over `months` (first days), averaged per agency and indicator across
    /// the months entered; only `agencies` when given.
    async fn entered_means(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<HashMap<String, HashMap<String, f64>>> {
        let rows: Vec<(String, String, f64)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT agency, indicator, CAST(AVG(rate) AS DOUBLE PRECISION) FROM report_index_inputs \
             WHERE month >= $1 AND month <= $2 GROUP BY agency, indicator"
        ).bind(crate::rollup::month_of(from)).bind(crate::rollup::month_of(to)).fetch_all(c).await)?;
        let mut out: HashMap<String, HashMap<String, f64>> = HashMap::new();
        for (agency, indicator, rate) in rows {
            out.entry(agency).or_default().insert(indicator, rate);
        }
        Ok(out)
    }

    /// The index of a scope over a period, for a caller allowed to see its figures.
    pub async fn index_for(
        &self,
        p: Option<&identity::Principal>,
        scope: &Scope,
        period: Period,
    ) -> Result<IndexFigures> {
        let Some(p) = p else {
            return Err(ReportError::NeedLogin);
        };
        self.allow(p, scope).await?;
        self.index(scope, period).await
    }

    /// The index of the country, a province or an agency over a period, with the level
    /// below ranked and the months up to the period's end.
    pub async fn index(&self, scope: &Scope, period: Period) -> Result<IndexFigures> {
        self.index_with(scope, period, true, None).await
    }

    /// The country's index with the provinces ranked, without the history, from the country's
    /// figures already at hand: the public page's.
    pub(crate) async fn public_index(
        &self,
        period: Period,
        national: &crate::Figures,
    ) -> Result<IndexFigures> {
        self.index_with(&Scope::National, period, false, Some(national))
            .await
    }

    async fn index_with(
        &self,
        scope: &Scope,
        period: Period,
        with_history: bool,
        figures: Option<&crate::Figures>,
    ) -> Result<IndexFigures> {
        if let Scope::Procedure { .. } = scope {
            return Err(invalid(
                "procedure",
                "Chỉ số phục vụ tính cho cơ quan và tỉnh, không cho từng thủ tục",
                "The index is scored for agencies and provinces, not for one procedure",
            ));
        }
        self.known(scope)?;
        let versions = self.index_versions().await?;
        let v = in_force(&versions, period.to).cloned().ok_or_else(|| {
            invalid(
                "to",
                "Kỳ này chưa có bộ chỉ số áp dụng",
                "No index definition is in force for this period",
            )
        })?;
        let lookup = self.catalog.lookup();
        let province_of = |a: &str| {
            lookup
                .agencies
                .get(a)
                .map(|x| {
                    x.province
                        .clone()
                        .unwrap_or_else(|| crate::CENTRAL.to_string())
                })
                .unwrap_or_else(|| crate::CENTRAL.to_string())
        };
        // Which agencies the scope holds, and how entered shares are pooled.
        let member = |a: &str| match scope {
            Scope::National => true,
            Scope::Province { code } => province_of(a) == *code,
            Scope::Agency { code } => a == code,
            Scope::Procedure { .. } => false,
        };
        let pooled = |means: &HashMap<String, HashMap<String, f64>>,
                      keep: &dyn Fn(&str) -> bool| {
            let mut sum: HashMap<String, (f64, f64)> = HashMap::new();
            for (agency, m) in means {
                if !keep(agency) {
                    continue;
                }
                for (code, r) in m {
                    let e = sum.entry(code.clone()).or_default();
                    e.0 += r;
                    e.1 += 1.0;
                }
            }
            sum.into_iter()
                .map(|(k, (s, n))| (k, s / n))
                .collect::<HashMap<String, f64>>()
        };
        let f = match figures {
            Some(f) => f.clone(),
            None => self.figures(scope, period).await?,
        };
        let means = self.entered_means(period.from, period.to).await?;
        let score_now = score(&v, &f.totals, &pooled(&means, &member));
        let children_kind = match scope {
            Scope::National => Some("province".to_string()),
            Scope::Province { .. } => Some("agency".to_string()),
            _ => None,
        };
        let mut children: Vec<IndexLine> = Vec::new();
        if children_kind.is_some() {
            for l in &f.children {
                let entered = match scope {
                    Scope::National => pooled(&means, &|a: &str| province_of(a) == l.code),
                    _ => means.get(&l.code).cloned().unwrap_or_default(),
                };
                let s = score(&v, &l.metrics, &entered);
                children.push(IndexLine {
                    code: l.code.clone(),
                    name: l.name.clone(),
                    points: s.points,
                    scaled: s.scaled,
                    rank: None,
                });
            }
            rank_index(&mut children);
        }
        // The history: the months up to the period's last, each scored with its version.
        if !with_history {
            return Ok(IndexFigures {
                scope: scope.clone(),
                title: f.title,
                period,
                definition: v,
                score: score_now,
                children_kind,
                children,
                history: Vec::new(),
            });
        }
        let last = crate::rollup::month_of(period.to);
        let mut first = last;
        for _ in 1..HISTORY_MONTHS {
            let prev = crate::rollup::month_of(first - Duration::days(1));
            if prev
                < crate::rollup::month_of(
                    versions
                        .iter()
                        .map(|v| v.effective_from)
                        .min()
                        .unwrap_or(prev),
                )
            {
                break;
            }
            first = prev;
        }
        let span = Period {
            from: first,
            to: period.to,
        };
        let hist = self.figures(scope, span).await?;
        // A short span comes day by day: add it up by month.
        let mut months: BTreeMap<NaiveDate, Metrics> = BTreeMap::new();
        for b in &hist.series {
            months
                .entry(crate::rollup::month_of(b.start))
                .or_default()
                .add(&b.metrics, 1);
        }
        let mut history = Vec::new();
        for (month, metrics) in &months {
            let end = last_day_of_month(*month).min(period.to);
            let Some(hv) = in_force(&versions, end) else {
                continue;
            };
            let entered = self
                .entered_means(*month, *month)
                .await
                .map(|x| pooled(&x, &member))?;
            let s = score(hv, metrics, &entered);
            history.push(HistoryPoint {
                month: *month,
                version: hv.version,
                points: s.points,
                scaled: s.scaled,
            });
        }
        Ok(IndexFigures {
            scope: scope.clone(),
            title: f.title,
            period,
            definition: v,
            score: score_now,
            children_kind,
            children,
            history,
        })
    }
}

/// Orders lines by scaled score (best first, then by points, then by code) and numbers those
/// that had one.
pub fn rank_index(lines: &mut [IndexLine]) {
    let key = |l: &IndexLine| l.scaled.map(|x| (x * 100.0).round() as i64);
    lines.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) => y
            .cmp(&x)
            .then(b.points.total_cmp(&a.points))
            .then(a.code.cmp(&b.code)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.code.cmp(&b.code),
    });
    for (i, l) in lines.iter_mut().enumerate() {
        l.rank = l.scaled.map(|_| i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded() -> Version {
        Version {
            version: 1,
            effective_from: NaiveDate::from_ymd_opt(2022, 8, 1).unwrap_or(NaiveDate::MIN),
            note: String::new(),
            created_by: "system".into(),
            created_at: DateTime::<Utc>::MIN_UTC,
            definition: Definition::seed().unwrap_or_else(|e| panic!("{e}")),
        }
    }

    #[test]
    fn the_seed_adds_up_to_100_points_in_five_groups() {
        let d = Definition::seed().unwrap_or_else(|e| panic!("{e}"));
        assert!(d.problems().is_empty(), "{:?}", d.problems());
        let groups: Vec<f64> = d.groups.iter().map(|g| g.max_points).collect();
        assert_eq!(groups, [18.0, 20.0, 22.0, 22.0, 18.0]);
        let measured: f64 = d
            .indicators()
            .filter(|i| i.measure != Measure::Manual)
            .map(|i| i.max_points)
            .sum();
        assert_eq!(measured, 38.0);
    }

    #[test]
    fn a_definition_that_does_not_add_up_is_refused_with_every_reason() {
        let mut d = Definition::seed().unwrap_or_else(|e| panic!("{e}"));
        d.groups[1].indicators[0].max_points = 19.0;
        d.groups[2].indicators[0].full_at = Some(1.5);
        let dup = d.groups[0].indicators[0].clone();
        d.groups[0].indicators.push(dup);
        let p = d.problems();
        let fields: Vec<&str> = p.iter().map(|x| x.at.as_str()).collect();
        assert!(fields.contains(&"groups[1].max_points"), "{fields:?}");
        assert!(
            fields.contains(&"groups[2].indicators[0].full_at"),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"groups[0].indicators[4].code"),
            "{fields:?}"
        );
        assert!(fields.contains(&"groups[0].max_points"), "{fields:?}");
    }

    #[test]
    fn points_are_linear_up_to_the_full_share() {
        let i = Indicator {
            code: "x".into(),
            name: "x".into(),
            name_en: String::new(),
            max_points: 6.0,
            measure: Measure::OnlineShare,
            full_at: Some(0.5),
        };
        assert_eq!(i.points(0.25), 3.0);
        assert_eq!(i.points(0.5), 6.0);
        assert_eq!(i.points(0.9), 6.0);
        assert_eq!(i.points(0.0), 0.0);
    }

    #[test]
    fn a_score_counts_what_was_measured_apart() {
        let v = seeded();
        let m = Metrics {
            received_online: 3,
            received_desk: 1,
            resolved_early: 1,
            resolved_on_time: 2,
            resolved_late: 1,
            paid_online: 1,
            paid_desk: 1,
            rated_satisfied: 1,
            rated_not_satisfied: 1,
            ..Metrics::default()
        };
        let s = score(&v, &m, &HashMap::new());
        // 2.1: 3 of 4 on time → 15 of 20; 3.3: 3 of 4 online, full at 50% → 6 of 6;
        // 3.6: 1 of 2 paid online → 3 of 6; 5.4: 1 − 1/4 − 1/4 = 0.5, full at 90% → 3.33.
        assert_eq!(s.points, 27.33);
        assert_eq!(s.measured_points, 38.0);
        assert_eq!(s.scaled, Some(71.92));
        let mut entered = HashMap::new();
        entered.insert("1.1".to_string(), 1.0);
        let s = score(&v, &m, &entered);
        assert_eq!(s.points, 33.33);
        assert_eq!(s.measured_points, 44.0);
        let nothing = score(&v, &Metrics::default(), &HashMap::new());
        assert_eq!((nothing.points, nothing.scaled), (0.0, None));
    }

    #[test]
    fn the_version_in_force_is_the_latest_started_and_last_made() {
        let mut a = seeded();
        let mut b = seeded();
        let mut c = seeded();
        let d = |m: u32, day: u32| NaiveDate::from_ymd_opt(2026, m, day).unwrap_or(NaiveDate::MIN);
        a.version = 1;
        b.version = 2;
        b.effective_from = d(3, 1);
        c.version = 3;
        c.effective_from = d(3, 1);
        let all = [a, b, c];
        assert_eq!(in_force(&all, d(2, 28)).map(|v| v.version), Some(1));
        assert_eq!(in_force(&all, d(3, 1)).map(|v| v.version), Some(3));
        assert_eq!(
            in_force(
                &all,
                NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or(NaiveDate::MIN)
            ),
            None
        );
    }
}
