//! Actions on dossiers stored in bulk.
//!
//! Every action (receive, forward, approve, return…) changes one dossier with one statement
//! that stores nothing unless the dossier is still in the status and at the revision the
//! action read. Through the group commit of `kernel::batch` those statements share a flush,
//! but each still takes its own turn in the shared transaction: a savepoint, then the
//! statement, each a round trip to the database. Under load the transaction was busy with
//! turns nearly all the time, so the turns, not the disk or the processors, set how many
//! actions a second could be stored.
//!
//! So actions queue here, and one task takes every action waiting and stores them in one
//! turn: one `UPDATE … FROM` a JSON array of the changes, each row with its own status and
//! revision check, returning the rows that matched. Events, audit entries, figures and notices
//! of the matched ones are left for the group's commit as before; a result document of an
//! approval is recorded in the same turn. An action whose dossier changed since it was read
//! matches nothing and is answered with a conflict.
//!
//! A dossier is changed at most once by a batch: a second action on it waits for the next
//! batch, where it sees the first one's revision, so that the order the actions came in
//! decides, as it did one at a time.
//!
//! A request that is cancelled once its action is handed over does not take it back: the
//! change is stored with its event and audit entry, or none of them is.
//!
//! If anything in a batch fails, nothing of it is kept and its actions are stored again one by
//! one, so that one bad action fails alone.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

use kernel::audit::Tx;
use kernel::batch::{Committer, Write};
use kernel::on_tx;

use crate::signing::Prepared;
use crate::{DossierError, LaterMail, NewEvent, Row, Status, bulk, event_later, figures};

type Result<T, E = DossierError> = std::result::Result<T, E>;

/// Most actions one batch takes.
const MAX_BATCH: usize = 512;

/// How a column's value is written in the JSON of a change and read back in SQL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    /// A timestamp, as [`bulk::ts`] writes it (the text SQLite keeps for a bound one).
    Time,
    Date,
    Int,
    /// A JSON document.
    Json,
}

/// The columns an action may set, besides its status.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Col {
    Code,
    SubmittedAt,
    ReceivedAt,
    AppointmentDate,
    Workflow,
    Step,
    StepStartedAt,
    StepDueAt,
    RuleSet,
    Rating,
    RatingReason,
    RatedAt,
    Reasons,
    SupplementCount,
    PausedAt,
    ClosedAt,
    DecidedAt,
    HandlerAgency,
    ExtendedFrom,
    ReturnedAt,
    ReturnMethod,
    Outcome,
}

impl Col {
    fn name(self) -> &'static str {
        match self {
            Col::Code => "code",
            Col::SubmittedAt => "submitted_at",
            Col::ReceivedAt => "received_at",
            Col::AppointmentDate => "appointment_date",
            Col::Workflow => "workflow",
            Col::Step => "step",
            Col::StepStartedAt => "step_started_at",
            Col::StepDueAt => "step_due_at",
            Col::RuleSet => "rule_set",
            Col::Rating => "rating",
            Col::RatingReason => "rating_reason",
            Col::RatedAt => "rated_at",
            Col::Reasons => "reasons",
            Col::SupplementCount => "supplement_count",
            Col::PausedAt => "paused_at",
            Col::ClosedAt => "closed_at",
            Col::DecidedAt => "decided_at",
            Col::HandlerAgency => "handler_agency",
            Col::ExtendedFrom => "extended_from",
            Col::ReturnedAt => "returned_at",
            Col::ReturnMethod => "return_method",
            Col::Outcome => "outcome",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Col::SubmittedAt
            | Col::ReceivedAt
            | Col::StepStartedAt
            | Col::StepDueAt
            | Col::RatedAt
            | Col::PausedAt
            | Col::ClosedAt
            | Col::DecidedAt
            | Col::ReturnedAt => Kind::Time,
            Col::AppointmentDate | Col::ExtendedFrom => Kind::Date,
            Col::SupplementCount => Kind::Int,
            Col::Workflow | Col::Reasons => Kind::Json,
            Col::Code
            | Col::Step
            | Col::RuleSet
            | Col::Rating
            | Col::RatingReason
            | Col::HandlerAgency
            | Col::ReturnMethod
            | Col::Outcome => Kind::Text,
        }
    }
}

/// One action's change to one dossier: the columns it sets and its new status, stored only
/// if the dossier is still in the status and at the revision the action read.
#[derive(Clone, Debug)]
pub(crate) struct Change {
    pub id: String,
    pub from: Status,
    pub revision: i64,
    pub to: Status,
    pub at: DateTime<Utc>,
    sets: Vec<(Col, Value)>,
}

impl Change {
    pub fn new(id: &str, from: Status, revision: i64, to: Status, at: DateTime<Utc>) -> Change {
        Change {
            id: id.to_string(),
            from,
            revision,
            to,
            at,
            sets: Vec::new(),
        }
    }

    fn put(&mut self, col: Col, v: Value) -> &mut Change {
        self.sets.retain(|(c, _)| *c != col);
        self.sets.push((col, v));
        self
    }

    pub fn text(&mut self, col: Col, v: Option<&str>) -> &mut Change {
        debug_assert!(col.kind() == Kind::Text);
        self.put(col, v.map_or(Value::Null, |s| Value::String(s.to_string())))
    }

    pub fn time(&mut self, col: Col, v: Option<DateTime<Utc>>) -> &mut Change {
        debug_assert!(col.kind() == Kind::Time);
        self.put(col, v.map_or(Value::Null, |t| Value::String(bulk::ts(&t))))
    }

    pub fn date(&mut self, col: Col, v: Option<NaiveDate>) -> &mut Change {
        debug_assert!(col.kind() == Kind::Date);
        self.put(col, v.map_or(Value::Null, |d| Value::String(d.to_string())))
    }

    pub fn int(&mut self, col: Col, v: i64) -> &mut Change {
        debug_assert!(col.kind() == Kind::Int);
        self.put(col, json!(v))
    }

    pub fn json(&mut self, col: Col, v: Value) -> &mut Change {
        debug_assert!(col.kind() == Kind::Json && !v.is_null());
        self.put(col, v)
    }

    /// The change as the statement reads it.
    fn element(&self) -> Value {
        let mut m = Map::with_capacity(self.sets.len() + 5);
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("from".into(), Value::String(self.from.as_str().into()));
        m.insert("rev".into(), json!(self.revision));
        m.insert("to".into(), Value::String(self.to.as_str().into()));
        m.insert("at".into(), Value::String(bulk::ts(&self.at)));
        for (c, v) in &self.sets {
            m.insert(c.name().into(), v.clone());
        }
        Value::Object(m)
    }
}

/// The statement that stores `changes`: the columns any of them sets (a column not set by
/// every one keeps its value in the rows that do not set it), the status, the time and a new
/// revision, for the rows still at the status and revision read; it returns those rows.
fn statement(postgres: bool, changes: &[&Change]) -> String {
    let mut any: BTreeSet<Col> = BTreeSet::new();
    for c in changes {
        any.extend(c.sets.iter().map(|(col, _)| *col));
    }
    let mut sets = String::new();
    for col in any {
        let every = changes
            .iter()
            .all(|c| c.sets.iter().any(|(x, _)| *x == col));
        let name = col.name();
        let value = if postgres {
            match col.kind() {
                Kind::Text => format!("s.v->>'{name}'"),
                Kind::Time => format!("(s.v->>'{name}')::timestamptz"),
                Kind::Date => format!("(s.v->>'{name}')::date"),
                Kind::Int => format!("(s.v->>'{name}')::bigint"),
                Kind::Json => format!("s.v->'{name}'"),
            }
        } else {
            match col.kind() {
                Kind::Json => format!("s.value->'{name}'"),
                _ => format!("s.value->>'{name}'"),
            }
        };
        let value = if every {
            value
        } else if postgres {
            format!("CASE WHEN s.v ? '{name}' THEN {value} ELSE dossiers.{name} END")
        } else {
            format!(
                "CASE WHEN json_type(s.value, '$.{name}') IS NULL THEN dossiers.{name} ELSE {value} END"
            )
        };
        sets.push_str(name);
        sets.push_str(" = ");
        sets.push_str(&value);
        sets.push_str(", ");
    }
    if postgres {
        format!(
            "UPDATE dossiers SET {sets}status = s.v->>'to', updated_at = (s.v->>'at')::timestamptz, \
             revision = dossiers.revision + 1 FROM jsonb_array_elements($1::jsonb) AS s(v) \
             WHERE dossiers.id = s.v->>'id' AND dossiers.status = s.v->>'from' \
             AND dossiers.revision = (s.v->>'rev')::bigint RETURNING {}",
            columns!()
        )
    } else {
        format!(
            "UPDATE dossiers SET {sets}status = s.value->>'to', updated_at = s.value->>'at', \
             revision = dossiers.revision + 1 FROM json_each($1) AS s \
             WHERE dossiers.id = s.value->>'id' AND dossiers.status = s.value->>'from' \
             AND dossiers.revision = s.value->>'rev' RETURNING {}",
            columns!()
        )
    }
}

/// Stores `changes` in one statement; the rows that matched, by id.
async fn update(tx: &mut Tx<'_>, changes: &[&Change]) -> Result<HashMap<String, Row>> {
    if changes.is_empty() {
        return Ok(HashMap::new());
    }
    let array = Value::Array(changes.iter().map(|c| c.element()).collect()).to_string();
    let postgres = matches!(tx, Tx::Postgres(_));
    let sql = statement(postgres, changes);
    // The text is made of this file's constants: column names and fixed clauses; the values
    // are the one bound parameter.
    let rows: Vec<Row> = on_tx!(tx, c => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
        .bind(&array)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(|r| (r.id.clone(), r)).collect())
}

/// An action ready to be stored: its change, and what is written with it when it matches.
pub(crate) struct Act {
    pub change: Change,
    /// The dossier's figures as read (the change checks that they still are).
    pub before: figures::FactRow,
    /// The day a supplement was asked for, for the figures.
    pub supplement: Option<NaiveDate>,
    pub actor: String,
    pub action: &'static str,
    pub comment: String,
    /// The event's details.
    pub data: Value,
    /// The approval's signed result, recorded with the change.
    pub signed: Option<Prepared>,
    /// The applicant's notice ([`crate::Mail::json`]).
    pub mail: Option<Value>,
}

/// Writes what goes with an action whose change matched (`after`, the row it left).
async fn apply(w: &mut Write, act: &Act, after: &Row) -> Result<()> {
    if let Some(s) = &act.signed {
        s.record(w.tx()?, &act.change.id, &act.actor).await?;
    }
    figures::record_later(w, &act.before, &after.facts(), act.supplement);
    event_later(
        w,
        NewEvent {
            dossier: &act.change.id,
            at: act.change.at,
            actor: &act.actor,
            action: act.action,
            from: act.change.from,
            to: act.change.to,
            comment: &act.comment,
            data: act.data.clone(),
        },
    );
    if let Some(m) = &act.mail {
        w.later(Box::new(LaterMail(m.clone())));
    }
    Ok(())
}

/// Stores `acts` (each on another dossier) in the writer's turn: the row each left, or none
/// for an action whose dossier had changed since it was read.
pub(crate) async fn store(w: &mut Write, acts: &[&Act]) -> Result<Vec<Option<Row>>> {
    let changes: Vec<&Change> = acts.iter().map(|a| &a.change).collect();
    let mut rows = update(w.tx()?, &changes).await?;
    let mut out = Vec::with_capacity(acts.len());
    for a in acts {
        let after = rows.remove(&a.change.id);
        if let Some(r) = &after {
            apply(w, a, r).await?;
        }
        out.push(after);
    }
    Ok(out)
}

struct Pending {
    act: Act,
    reply: oneshot::Sender<Result<Option<Row>>>,
}

/// The queue of actions, and the task that stores them in batches.
#[derive(Clone)]
pub(crate) struct Actions {
    queue: mpsc::Sender<Pending>,
    batches: Arc<AtomicU64>,
    stored: Arc<AtomicU64>,
}

impl Actions {
    /// Starts the task on the current runtime; it ends when the last handle is dropped.
    pub(crate) fn start(writer: Committer) -> Actions {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        let batches = Arc::new(AtomicU64::new(0));
        let stored = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(writer, rx, batches.clone(), stored.clone()));
        Actions {
            queue,
            batches,
            stored,
        }
    }

    /// Batches stored, and the actions they held, since the start.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.batches.load(Ordering::Relaxed),
            self.stored.load(Ordering::Relaxed),
        )
    }

    /// Stores `act`; answers once it is committed, with the row it left, or none when the
    /// dossier had changed since the action read it.
    pub(crate) async fn store(&self, act: Act) -> Result<Option<Row>> {
        let stopped = || DossierError::Storage("the action queue has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { act, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(
    writer: Committer,
    mut rx: mpsc::Receiver<Pending>,
    batches: Arc<AtomicU64>,
    stored: Arc<AtomicU64>,
) {
    // Actions on a dossier that the batch before already changed, in their order.
    let mut carried: Vec<Pending> = Vec::new();
    loop {
        let mut batch: Vec<Pending> = Vec::new();
        let mut next: Vec<Pending> = Vec::new();
        let mut ids: HashSet<String> = HashSet::new();
        let mut take = |p: Pending, batch: &mut Vec<Pending>, next: &mut Vec<Pending>| {
            if batch.len() < MAX_BATCH && ids.insert(p.act.change.id.clone()) {
                batch.push(p);
            } else {
                next.push(p);
            }
        };
        for p in std::mem::take(&mut carried) {
            take(p, &mut batch, &mut next);
        }
        if batch.is_empty() {
            match rx.recv().await {
                Some(p) => take(p, &mut batch, &mut next),
                None => break,
            }
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => take(p, &mut batch, &mut next),
                Err(_) => break,
            }
        }
        carried = next;
        let acts: Vec<&Act> = batch.iter().map(|p| &p.act).collect();
        let together = async {
            let mut w = writer.begin().await?;
            let rows = store(&mut w, &acts).await?;
            w.commit().await?;
            Ok::<_, DossierError>(rows)
        }
        .await;
        match together {
            Ok(rows) => {
                batches.fetch_add(1, Ordering::Relaxed);
                stored.fetch_add(batch.len() as u64, Ordering::Relaxed);
                for (p, r) in batch.into_iter().zip(rows) {
                    let _ = p.reply.send(Ok(r));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, actions = batch.len(), "a batch of actions is stored one by one");
                for p in batch {
                    let one = async {
                        let mut w = writer.begin().await?;
                        let mut rows = store(&mut w, &[&p.act]).await?;
                        w.commit().await?;
                        Ok(rows.pop().flatten())
                    }
                    .await;
                    let _ = p.reply.send(one);
                }
            }
        }
    }
}
