//! New dossiers stored in bulk.
//!
//! The group commit of `kernel::batch` lets many writers share one flush, but each writer
//! still takes its turn, statement by statement. A submission writes six kinds of rows (its
//! code's counter, the dossier, its event, the audit entry, the notice); one at a time those
//! statements, not the disk, become the limit. So submissions queue here, and one task takes
//! every submission waiting and writes them together in one turn: one statement each for the
//! counters of every agency and day, all the dossiers, all the events, the audit entries and
//! the notices. The codes stay gap-free and in order, and every submitter is
//! answered after the commit.
//!
//! If anything in the group fails, nothing of it is kept, and its submissions are stored again
//! one by one, so that one bad submission fails alone.

use std::collections::BTreeMap;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use kernel::audit::{Entry, Tx};
use kernel::batch::Committer;

use crate::{DossierError, NewEvent, NewRow, News, Status, compose};

type Result<T, E = DossierError> = std::result::Result<T, E>;

/// Most submissions one group takes.
const MAX_GROUP: usize = 512;

struct Pending {
    row: NewRow,
    reply: oneshot::Sender<Result<(bool, Option<String>)>>,
}

/// The queue of new dossiers, and the task that stores them in groups.
#[derive(Clone)]
pub(crate) struct Submitter {
    queue: mpsc::Sender<Pending>,
    groups: Arc<AtomicU64>,
    stored: Arc<AtomicU64>,
}

impl Submitter {
    /// Starts the task on the current runtime; it ends when the last handle is dropped.
    pub(crate) fn start(writer: Committer) -> Submitter {
        let (queue, rx) = mpsc::channel(4 * MAX_GROUP);
        let groups = Arc::new(AtomicU64::new(0));
        let stored = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(writer, rx, groups.clone(), stored.clone()));
        Submitter {
            queue,
            groups,
            stored,
        }
    }

    /// Groups written together, and the submissions they held, since the start.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.groups.load(Ordering::Relaxed),
            self.stored.load(Ordering::Relaxed),
        )
    }

    /// Stores `row`; answers once it is committed, with whether a notice was queued and the
    /// dossier's code.
    pub(crate) async fn store(&self, row: NewRow) -> Result<(bool, Option<String>)> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { row, reply })
            .await
            .map_err(|_| DossierError::Storage("the submission queue has stopped".into()))?;
        answer
            .await
            .map_err(|_| DossierError::Storage("the submission queue has stopped".into()))?
    }
}

async fn run(
    writer: Committer,
    mut rx: mpsc::Receiver<Pending>,
    groups: Arc<AtomicU64>,
    stored: Arc<AtomicU64>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.recv().await {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let pending = std::mem::take(&mut group);
        let (rows, replies): (Vec<NewRow>, Vec<_>) =
            pending.into_iter().map(|p| (p.row, p.reply)).unzip();
        let together = async {
            let mut w = writer.begin().await?;
            let stored = store_all(w.tx()?, &rows).await?;
            w.commit().await?;
            Ok::<_, DossierError>(stored)
        }
        .await;
        match together {
            Ok(notified) => {
                groups.fetch_add(1, Ordering::Relaxed);
                stored.fetch_add(notified.len() as u64, Ordering::Relaxed);
                for (reply, n) in replies.into_iter().zip(notified) {
                    let _ = reply.send(Ok(n));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, submissions = rows.len(), "a group of submissions is stored one by one");
                for (row, reply) in rows.into_iter().zip(replies) {
                    let one = async {
                        let mut w = writer.begin().await?;
                        let n = row.store(w.tx()?).await?;
                        w.commit().await?;
                        Ok(n)
                    }
                    .await;
                    let _ = reply.send(one);
                }
            }
        }
    }
}

/// The text SQLite keeps for a timestamp bound one at a time.
pub(crate) fn ts(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// Moves the code counter of each agency and day by its number of new dossiers, all in one
/// statement; the last number of each after the move.
async fn advance_counters(
    tx: &mut Tx<'_>,
    runs: &BTreeMap<(String, String), Vec<usize>>,
) -> Result<BTreeMap<(String, String), i64>> {
    if runs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let moves = Value::Array(
        runs.iter()
            .map(|((agency, day), members)| json!({ "a": agency, "d": day, "n": members.len() }))
            .collect(),
    )
    .to_string();
    let rows: Vec<(String, String, i64)> = match &mut *tx {
        // `WHERE true`: SQLite's parser needs it between a SELECT and an upsert's ON CONFLICT.
        Tx::Sqlite(t) => {
            sqlx::query_as(
                "INSERT INTO dossier_counters (agency_code, day, last) \
                 SELECT value->>'a', value->>'d', value->>'n' FROM json_each($1) WHERE true \
                 ON CONFLICT (agency_code, day) DO UPDATE SET last = dossier_counters.last + excluded.last \
                 RETURNING agency_code, day, last",
            )
            .bind(&moves)
            .fetch_all(&mut **t)
            .await?
        }
        Tx::Postgres(t) => {
            sqlx::query_as(
                "INSERT INTO dossier_counters (agency_code, day, last) \
                 SELECT r.a, r.d, r.n FROM jsonb_to_recordset($1::jsonb) AS r(a text, d text, n bigint) \
                 ON CONFLICT (agency_code, day) DO UPDATE SET last = dossier_counters.last + excluded.last \
                 RETURNING agency_code, day, last",
            )
            .bind(&moves)
            .fetch_all(&mut **t)
            .await?
        }
    };
    Ok(rows.into_iter().map(|(a, d, n)| ((a, d), n)).collect())
}

/// Writes events ([`NewEvent::json`]) in their order, in one statement.
pub(crate) async fn insert_events(
    tx: &mut Tx<'_>,
    events: Vec<Value>,
) -> std::result::Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let events = Value::Array(events).to_string();
    match &mut *tx {
        Tx::Sqlite(t) => {
            sqlx::query(
                "INSERT INTO dossier_events (id, dossier_id, at, actor, action, from_status, to_status, comment, data) \
                 SELECT value->>'id', value->>'dossier', value->>'at', value->>'actor', value->>'action', value->>'from', value->>'to', value->>'comment', value->'data' \
                 FROM json_each($1)",
            )
            .bind(&events)
            .execute(&mut **t)
            .await?;
        }
        Tx::Postgres(t) => {
            sqlx::query(
                "INSERT INTO dossier_events (id, dossier_id, at, actor, action, from_status, to_status, comment, data) \
                 SELECT r.id, r.dossier, r.at, r.actor, r.action, r.\"from\", r.\"to\", r.comment, r.data \
                 FROM jsonb_to_recordset($1::jsonb) AS r(id text, dossier text, at timestamptz, actor text, action text, \"from\" text, \"to\" text, comment text, data jsonb)",
            )
            .bind(&events)
            .execute(&mut **t)
            .await?;
        }
    }
    Ok(())
}

/// Writes applicants' notices ([`crate::Mail::json`]) in one statement.
pub(crate) async fn insert_mails(
    tx: &mut Tx<'_>,
    mails: Vec<Value>,
) -> std::result::Result<(), sqlx::Error> {
    if mails.is_empty() {
        return Ok(());
    }
    let mails = Value::Array(mails).to_string();
    match &mut *tx {
        Tx::Sqlite(t) => {
            sqlx::query(
                "INSERT INTO outbox (id, channel, recipient, account_id, subject, body, created_at) \
                 SELECT value->>'id', value->>'channel', value->>'recipient', value->>'account', value->>'subject', value->>'body', value->>'at' \
                 FROM json_each($1)",
            )
            .bind(&mails)
            .execute(&mut **t)
            .await?;
        }
        Tx::Postgres(t) => {
            sqlx::query(
                "INSERT INTO outbox (id, channel, recipient, account_id, subject, body, created_at) \
                 SELECT r.id, r.channel, r.recipient, r.account, r.subject, r.body, r.at \
                 FROM jsonb_to_recordset($1::jsonb) AS r(id text, channel text, recipient text, account text, subject text, body text, at timestamptz)",
            )
            .bind(&mails)
            .execute(&mut **t)
            .await?;
        }
    }
    Ok(())
}

/// Writes every row of the group; returns, for each, whether a notice was queued, and its code.
async fn store_all(tx: &mut Tx<'static>, rows: &[NewRow]) -> Result<Vec<(bool, Option<String>)>> {
    // Codes: one counter statement per agency and day, handing out a run of numbers in order.
    let mut runs: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.status == Status::Submitted {
            runs.entry((r.agency.clone(), crate::code_day(r.now)))
                .or_default()
                .push(i);
        }
    }
    let mut codes: Vec<Option<String>> = vec![None; rows.len()];
    let lasts = advance_counters(tx, &runs).await?;
    for ((agency, day), members) in &runs {
        let k = i64::try_from(members.len()).unwrap_or(i64::MAX);
        let last = lasts
            .get(&(agency.clone(), day.clone()))
            .copied()
            .ok_or_else(|| DossierError::Storage(format!("no counter for {agency} on {day}")))?;
        for (j, &i) in members.iter().enumerate() {
            let n = last - k + 1 + i64::try_from(j).unwrap_or(0);
            codes[i] = Some(format!("{agency}-{day}-{n:04}"));
        }
    }

    let mut dossiers = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    let mut details = Vec::with_capacity(rows.len());
    let mut mails = Vec::new();
    let mut notified = Vec::with_capacity(rows.len());
    for (r, code) in rows.iter().zip(&codes) {
        let submit = r.status == Status::Submitted;
        dossiers.push(json!({
            "id": r.id, "code": code, "procedure": r.procedure, "version": r.version,
            "agency": r.agency, "applicant_id": r.applicant_id, "name": r.name, "cccd": r.cccd,
            "phone": r.phone, "email": r.email, "on_behalf_of": r.on_behalf_of,
            "channel": r.channel, "status": r.status.as_str(), "form": r.form,
            "time_limit_days": r.time_limit_days,
            "submitted_at": submit.then(|| ts(&r.now)), "actor": r.actor, "at": ts(&r.now),
            "fold": kernel::text::fold(&r.name),
        }));
        let detail = json!({ "code": code, "channel": r.channel });
        events.push(
            NewEvent {
                dossier: &r.id,
                at: r.now,
                actor: &r.actor,
                action: if submit { "submit" } else { "create" },
                from: Status::Draft,
                to: r.status,
                comment: "",
                data: detail.clone(),
            }
            .json(),
        );
        details.push((
            format!("dossier/{}", r.id),
            json!({ "from": Status::Draft.as_str(), "to": r.status.as_str(), "detail": detail }),
        ));
        let mail = compose(
            &r.issuer,
            (
                &r.name,
                r.email.as_deref(),
                r.phone.as_deref().filter(|_| r.sms),
            ),
            code.as_deref(),
            News {
                to: r.status,
                reasons: &[],
                apology: false,
            },
        );
        notified.push(mail.is_some());
        if let Some(m) = mail {
            mails.push(m.json(r.now, r.applicant_id.as_deref()));
        }
    }
    let dossiers = Value::Array(dossiers).to_string();
    match &mut *tx {
        Tx::Sqlite(t) => {
            sqlx::query(
                "INSERT INTO dossiers (id, code, procedure_code, procedure_version, agency_code, applicant_id, applicant_name, applicant_cccd, applicant_phone, applicant_email, on_behalf_of, channel, status, form, time_limit_days, reasons, submitted_at, created_by, created_at, updated_at, applicant_fold) \
                 SELECT value->>'id', value->>'code', value->>'procedure', value->>'version', value->>'agency', value->>'applicant_id', value->>'name', value->>'cccd', value->>'phone', value->>'email', value->>'on_behalf_of', value->>'channel', value->>'status', value->'form', value->>'time_limit_days', '[]', value->>'submitted_at', value->>'actor', value->>'at', value->>'at', value->>'fold' \
                 FROM json_each($1)",
            )
            .bind(&dossiers)
            .execute(&mut **t)
            .await?;
        }
        Tx::Postgres(t) => {
            sqlx::query(
                "INSERT INTO dossiers (id, code, procedure_code, procedure_version, agency_code, applicant_id, applicant_name, applicant_cccd, applicant_phone, applicant_email, on_behalf_of, channel, status, form, time_limit_days, reasons, submitted_at, created_by, created_at, updated_at, applicant_fold) \
                 SELECT r.id, r.code, r.procedure, r.version, r.agency, r.applicant_id, r.name, r.cccd, r.phone, r.email, r.on_behalf_of, r.channel, r.status, r.form, r.time_limit_days, '[]'::jsonb, r.submitted_at, r.actor, r.at, r.at, r.fold \
                 FROM jsonb_to_recordset($1::jsonb) AS r(id text, code text, procedure text, version bigint, agency text, applicant_id text, name text, cccd text, phone text, email text, on_behalf_of text, channel text, status text, form jsonb, time_limit_days bigint, submitted_at timestamptz, actor text, at timestamptz, fold text)",
            )
            .bind(&dossiers)
            .execute(&mut **t)
            .await?;
        }
    }
    insert_events(tx, events).await?;
    let actions: Vec<&str> = rows
        .iter()
        .map(|r| {
            if r.status == Status::Submitted {
                "dossier.submit"
            } else {
                "dossier.create"
            }
        })
        .collect();
    let entries: Vec<_> = rows
        .iter()
        .zip(&details)
        .zip(&actions)
        .map(|((r, (subject, data)), action)| {
            (
                r.now,
                Entry {
                    actor: &r.actor,
                    action,
                    subject,
                    data: data.clone(),
                },
            )
        })
        .collect();
    kernel::audit::append_many(tx, &entries).await?;
    insert_mails(tx, mails).await?;
    Ok(notified.into_iter().zip(codes).collect())
}
