//! The audit chain: every state change of a record, in order, each entry sealed with a SHA-256
//! hash over the previous entry's hash and its own content. Changing or deleting any past entry
//! breaks every hash after it, which [`verify`] finds.
//!
//! [`append`] runs inside the caller's transaction, so the change and its audit entry are
//! stored together or not at all. It updates the single head row first, which makes concurrent
//! writers wait their turn on both databases.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::db::Db;
use crate::on_db;
use crate::problem::Error;

/// What happened, to what, by whom.
#[derive(Debug, Clone, Serialize)]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub data: serde_json::Value,
}

/// An open transaction on either database.
pub enum Tx<'c> {
    Sqlite(Transaction<'c, Sqlite>),
    Postgres(Transaction<'c, Postgres>),
}

impl Tx<'_> {
    /// Which database the transaction is on.
    pub fn backend(&self) -> crate::db::Backend {
        match self {
            Tx::Sqlite(_) => crate::db::Backend::Sqlite,
            Tx::Postgres(_) => crate::db::Backend::Postgres,
        }
    }
}

impl Tx<'static> {
    pub async fn begin(db: &Db) -> Result<Tx<'static>, Error> {
        Ok(match db {
            // Every transaction here writes. IMMEDIATE takes SQLite's write lock at the start,
            // waiting for it under the busy timeout; a deferred one that read first would be
            // refused at once (SQLITE_BUSY) when another writer committed meanwhile.
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Begins as [`Tx::begin`] does and runs `then` (statements without parameters) in the
    /// same round trip to the database.
    pub async fn begin_and(db: &Db, then: &'static str) -> Result<Tx<'static>, Error> {
        // `then` is a constant of the caller's; nothing is bound or interpolated from input.
        Ok(match db {
            Db::Sqlite(p) => Tx::Sqlite(
                p.begin_with(sqlx::AssertSqlSafe(format!("BEGIN IMMEDIATE; {then}")))
                    .await?,
            ),
            Db::Postgres(p) => Tx::Postgres(
                p.begin_with(sqlx::AssertSqlSafe(format!("BEGIN; {then}")))
                    .await?,
            ),
        })
    }
}

impl Tx<'_> {
    pub async fn commit(self) -> Result<(), Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// Runs the same code on the connection of whichever transaction `$tx` holds.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::audit::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::audit::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

fn seal(prev: &str, seq: i64, at: &DateTime<Utc>, e: &Entry<'_>, data: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &seq.to_string(),
        &at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        e.actor,
        e.action,
        e.subject,
        data,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends one entry inside `tx`; returns its sequence number.
pub async fn append(tx: &mut Tx<'_>, at: DateTime<Utc>, entry: &Entry<'_>) -> Result<i64, Error> {
    use chrono::SubsecRound;
    let at = at.trunc_subsecs(6);
    let data = entry.data.to_string();
    let (seq, prev): (i64, String) = on_tx!(tx, c => sqlx::query_as(
        "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash"
    ).fetch_one(c).await)?;
    let hash = seal(&prev, seq, &at, entry, &data);
    on_tx!(tx, c => sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&hash).execute(c).await.map(|_| ()))?;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(seq).bind(at).bind(entry.actor).bind(entry.action).bind(entry.subject).bind(&data).bind(&prev).bind(&hash)
    .execute(c).await.map(|_| ()))?;
    Ok(seq)
}

/// Appends `entries` in order inside `tx`, in three statements however many there are.
pub async fn append_many(
    tx: &mut Tx<'_>,
    entries: &[(DateTime<Utc>, Entry<'_>)],
) -> Result<(), Error> {
    use chrono::SubsecRound;
    if entries.is_empty() {
        return Ok(());
    }
    let n = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    let (last, mut prev): (i64, String) = on_tx!(tx, c => sqlx::query_as(
        "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash"
    ).bind(n).fetch_one(c).await)?;
    let mut seq = last - n;
    let mut rows = Vec::with_capacity(entries.len());
    for (at, e) in entries {
        seq += 1;
        let at = at.trunc_subsecs(6);
        let data = e.data.to_string();
        let hash = seal(&prev, seq, &at, e, &data);
        rows.push(serde_json::json!({
            "seq": seq,
            // The text SQLite keeps for a timestamp bound one at a time.
            "at": at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "data": data,
            "prev": prev,
            "hash": hash,
        }));
        prev = hash;
    }
    let rows = serde_json::Value::Array(rows).to_string();
    match tx {
        Tx::Sqlite(t) => {
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                .bind(&prev)
                .execute(&mut **t)
                .await?;
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor, action, subject, data, prev_hash, hash) \
                 SELECT value->>'seq', value->>'at', value->>'actor', value->>'action', value->>'subject', value->>'data', value->>'prev', value->>'hash' \
                 FROM json_each($1)",
            )
            .bind(&rows)
            .execute(&mut **t)
            .await?;
        }
        Tx::Postgres(t) => {
            // The entries and the new head in one round trip.
            sqlx::query(
                "WITH entries AS (INSERT INTO audit_log (seq, at, actor, action, subject, data, prev_hash, hash) \
                 SELECT r.seq, r.at, r.actor, r.action, r.subject, r.data, r.prev, r.hash \
                 FROM jsonb_to_recordset($1::jsonb) AS r(seq bigint, at timestamptz, actor text, action text, subject text, data text, prev text, hash text)) \
                 UPDATE audit_head SET hash = $2 WHERE id = 1",
            )
            .bind(&rows)
            .bind(&prev)
            .execute(&mut **t)
            .await?;
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    subject: String,
    data: String,
    prev_hash: String,
    hash: String,
}

/// Walks the whole chain; returns the number of entries, or the first broken one.
pub async fn verify(db: &Db) -> Result<i64, Error> {
    let mut prev = "0".repeat(64);
    let mut expected_seq = 1;
    let mut after = 0i64;
    loop {
        let rows: Vec<Row> = on_db!(db, p => sqlx::query_as(
            "SELECT seq, at, actor, action, subject, data, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 1000"
        ).bind(after).fetch_all(p).await)?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let value: serde_json::Value =
                serde_json::from_str(&r.data).unwrap_or(serde_json::Value::Null);
            let e = Entry {
                actor: &r.actor,
                action: &r.action,
                subject: &r.subject,
                data: value,
            };
            if r.seq != expected_seq
                || r.prev_hash != prev
                || seal(&prev, r.seq, &r.at, &e, &r.data) != r.hash
            {
                return Err(Error::AuditChainBroken(r.seq));
            }
            prev = r.hash;
            expected_seq += 1;
            after = r.seq;
        }
    }
    let head: (i64, String) = on_db!(db, p => sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(p).await)?;
    if head.0 != expected_seq - 1 || head.1 != prev {
        return Err(Error::AuditChainBroken(head.0));
    }
    Ok(expected_seq - 1)
}

/// Recent entries for a subject, newest first.
pub async fn for_subject(
    db: &Db,
    subject: &str,
    limit: i64,
) -> Result<Vec<(i64, DateTime<Utc>, String, String)>, Error> {
    let rows: Vec<(i64, DateTime<Utc>, String, String)> = on_db!(db, p => sqlx::query_as(
        "SELECT seq, at, actor, action FROM audit_log WHERE subject = $1 ORDER BY seq DESC LIMIT $2"
    ).bind(subject).bind(limit).fetch_all(p).await)?;
    Ok(rows)
}
