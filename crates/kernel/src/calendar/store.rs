//! Loading and saving the calendar. The shipped rows are written on every start without
//! overwriting a row an administrator edited; the calendar in force is the stored one.

use chrono::{DateTime, NaiveDate, Utc};

use super::{
    Calendar, CalendarDataError, DayKind, OfficeHours, SHIPPED_CSV, SpecialDay, parse_csv,
};
use crate::audit::{self, Entry, Tx};
use crate::db::Db;
use crate::problem::Error;
use crate::{on_db, on_tx};

impl From<CalendarDataError> for Error {
    fn from(e: CalendarDataError) -> Self {
        Error::Config(format!("calendar data: {e}"))
    }
}

/// Writes the shipped rows that are not stored yet (or were stored unedited).
pub async fn seed(db: &Db) -> Result<usize, Error> {
    let days = parse_csv(SHIPPED_CSV)?;
    let mut tx = Tx::begin(db).await?;
    let mut written = 0;
    for d in &days {
        let n = on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO calendar_days (day, kind, name_vi, name_en, source) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, name_vi = excluded.name_vi, \
             name_en = excluded.name_en, source = excluded.source WHERE calendar_days.edited_by IS NULL"
        ).bind(d.date).bind(d.kind.as_str()).bind(&d.name_vi).bind(&d.name_en).bind(&d.source)
        .execute(c).await.map(|r| r.rows_affected()))?;
        written += n as usize;
    }
    tx.commit().await?;
    Ok(written)
}

#[derive(sqlx::FromRow)]
struct Row {
    day: NaiveDate,
    kind: String,
    name_vi: String,
    name_en: String,
    source: String,
}

/// The calendar in force: every stored day, with the given office hours.
pub async fn load(db: &Db, hours: OfficeHours) -> Result<Calendar, Error> {
    let rows: Vec<Row> = on_db!(db, p => sqlx::query_as(
        "SELECT day, kind, name_vi, name_en, source FROM calendar_days ORDER BY day"
    ).fetch_all(p).await)?;
    let days = rows.into_iter().filter_map(|r| {
        Some(SpecialDay {
            date: r.day,
            kind: DayKind::parse(&r.kind)?,
            name_vi: r.name_vi,
            name_en: r.name_en,
            source: r.source,
        })
    });
    Ok(Calendar::new(days, hours))
}

/// An administrator's edit of one day, recorded in the audit chain.
pub async fn set_day(
    db: &Db,
    day: &SpecialDay,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if day.name_vi.trim().is_empty() || day.name_en.trim().is_empty() {
        return Err(Error::Invalid {
            field: "name".into(),
            reason: "a listed day needs a Vietnamese and an English name".into(),
        });
    }
    let mut tx = Tx::begin(db).await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO calendar_days (day, kind, name_vi, name_en, source, edited_by, edited_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, name_vi = excluded.name_vi, name_en = excluded.name_en, \
         source = excluded.source, edited_by = excluded.edited_by, edited_at = excluded.edited_at"
    ).bind(day.date).bind(day.kind.as_str()).bind(&day.name_vi).bind(&day.name_en).bind(&day.source)
    .bind(actor).bind(now).execute(c).await.map(|_| ()))?;
    audit::append(&mut tx, now, &Entry {
        actor,
        action: "calendar.set_day",
        subject: &format!("calendar/{}", day.date),
        data: serde_json::json!({ "kind": day.kind.as_str(), "name_vi": day.name_vi, "name_en": day.name_en, "source": day.source }),
    }).await?;
    tx.commit().await
}
