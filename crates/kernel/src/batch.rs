//! Group commit: many writers, one transaction, one flush.
//!
//! An acknowledged write must survive a power loss, so every commit waits for the disk (SQLite
//! with `synchronous=FULL`, PostgreSQL with `synchronous_commit=on`). A disk flushes a few
//! hundred to a thousand times a second, so writers that each commit alone cannot go faster
//! than that. Writers that go through a [`Committer`] share transactions instead:
//!
//! - [`Committer::begin`] waits its turn (one writer at a time), joins the open transaction or
//!   begins one, and sets a savepoint;
//! - the writer writes through [`Write::tx`];
//! - [`Write::commit`] ends the turn; its savepoint is released in the same round trip that
//!   opens the next writer's, or by the commit. When other writers are waiting for their turn,
//!   it leaves the transaction open for them and waits; the last writer of the group commits
//!   once for everyone and wakes them. Nobody is answered before the commit that holds their
//!   writes has reached the disk.
//!
//! A writer that gives up (an error, or its request cancelled) drops its [`Write`]: its writes
//! are rolled back to its savepoint and the others' are kept. When a commit fails, every
//! writer of that group gets the error, and nothing of the group is stored.
//!
//! Reads and checks that take no lock belong before [`Committer::begin`], so a turn holds only
//! the writing.
//!
//! A writer's audit entries may wait for the group ([`Write::audit_later`]): they are chained
//! in the order the writers finished, with one statement set for the whole group, just before
//! its commit, so they are stored with the writes they record or not at all. A writer that
//! gives up leaves none.
//!
//! Other work may wait for the group the same way ([`Write::later`]): the committer's
//! [`GroupWork`] takes every finished writer's items at once, so that changes of the same
//! kind (counters that several writers move) are merged and written in a few statements.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use chrono::{DateTime, Utc};

use crate::audit::{Entry, Tx};
use crate::db::Db;
use crate::problem::Error;

/// Most writers one transaction takes before it is committed, waiting writers or not.
const MAX_GROUP: usize = 512;

type Outcome = Option<Result<(), String>>;

/// What a writer leaves for its group's commit ([`Write::later`]).
pub type Item = Box<dyn Any + Send>;

/// Does the items that the finished writers of a group left, in their order, in the group's
/// transaction just before it commits. An error fails the whole group.
pub type GroupWork = Arc<
    dyn for<'a> Fn(
            &'a mut Tx<'static>,
            Vec<Item>,
        ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>
        + Send
        + Sync,
>;

/// The open transaction, and who is waiting for it.
struct Open {
    tx: Option<Tx<'static>>,
    /// Writers whose writes it holds and who wait for its commit.
    members: usize,
    /// A writer gave up inside its savepoint: roll back to it before anything else.
    dirty: bool,
    /// The last writer's savepoint is still to be released: the next writer releases it
    /// in the same round trip that opens its own, and a commit releases it anyway.
    release: bool,
    /// Audit entries of the writers that finished, in order, to chain before the commit.
    audit: Vec<Later>,
    /// Items of the writers that finished, for the group's work.
    later: Vec<Item>,
    done: watch::Sender<Outcome>,
}

/// An audit entry kept for the group's commit.
struct Later {
    at: DateTime<Utc>,
    actor: String,
    action: String,
    subject: String,
    data: serde_json::Value,
}

impl Open {
    fn new() -> Open {
        Open {
            tx: None,
            members: 0,
            dirty: false,
            release: false,
            audit: Vec::new(),
            later: Vec::new(),
            done: watch::channel(None).0,
        }
    }

    /// Ends the group with `outcome`: wakes its writers and starts a fresh one.
    fn finish(&mut self, outcome: Result<(), String>) {
        let _ = self.done.send(Some(outcome));
        *self = Open::new();
    }

    /// Rolls back a writer that gave up; on failure the whole group fails.
    async fn clean(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let failed = match self.tx.as_mut() {
            Some(tx) => exec(tx, "ROLLBACK TO SAVEPOINT motcua_write")
                .await
                .and(exec(tx, "RELEASE SAVEPOINT motcua_write").await)
                .err(),
            None => None,
        };
        if let Some(e) = failed {
            self.fail(&e);
        }
    }

    fn fail(&mut self, e: &Error) {
        tracing::error!(error = %e, writes = self.members, "a group of writes was not stored");
        // Dropping the transaction rolls it back.
        self.tx = None;
        self.finish(Err(e.to_string()));
    }
}

/// Where a committer's time went since it started: how long writers held the transaction,
/// and how long the ends of groups took. The transaction is held by one writer at a time, so
/// `held` plus `closing` against the time elapsed says how busy it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Writers' turns, kept or given up.
    pub turns: u64,
    /// Time writers held the transaction, from their turn's start to its end.
    pub held: std::time::Duration,
    /// Of that, opening their savepoints (with the release of the writer before).
    pub savepoints: std::time::Duration,
    /// Groups ended (committed or failed).
    pub groups: u64,
    /// Time the ends of groups took: their work, the audit chain, the commit and its flush.
    pub closing: std::time::Duration,
}

impl Timings {
    /// What happened between `before` and these.
    pub fn since(&self, before: &Timings) -> Timings {
        Timings {
            turns: self.turns.saturating_sub(before.turns),
            held: self.held.saturating_sub(before.held),
            savepoints: self.savepoints.saturating_sub(before.savepoints),
            groups: self.groups.saturating_sub(before.groups),
            closing: self.closing.saturating_sub(before.closing),
        }
    }
}

/// The counters behind [`Timings`], in nanoseconds.
#[derive(Default)]
struct Clocks {
    turns: AtomicU64,
    held: AtomicU64,
    savepoints: AtomicU64,
    groups: AtomicU64,
    closing: AtomicU64,
}

fn nanos(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The shared transactions of one database.
#[derive(Clone)]
pub struct Committer {
    db: Db,
    open: Arc<Mutex<Open>>,
    waiting: Arc<AtomicUsize>,
    commits: Arc<AtomicU64>,
    writes: Arc<AtomicU64>,
    clocks: Arc<Clocks>,
    work: Option<GroupWork>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (commits, writes) = self.counts();
        f.debug_struct("Committer")
            .field("commits", &commits)
            .field("writes", &writes)
            .finish_non_exhaustive()
    }
}

/// Counts a writer waiting for its turn; one that stops waiting without a turn makes sure a
/// group left open for it is still committed.
struct Waiting {
    c: Committer,
    served: bool,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.c.waiting.fetch_sub(1, Ordering::SeqCst);
        if !self.served {
            self.c.flush_later();
        }
    }
}

impl Committer {
    pub fn new(db: Db) -> Committer {
        Committer {
            // One transaction at a time, on a connection of its own: beginning a group does
            // not wait for a connection behind the readers of the shared pool.
            db: db.apart(1),
            open: Arc::new(Mutex::new(Open::new())),
            waiting: Arc::new(AtomicUsize::new(0)),
            commits: Arc::new(AtomicU64::new(0)),
            writes: Arc::new(AtomicU64::new(0)),
            clocks: Arc::new(Clocks::default()),
            work: None,
        }
    }

    /// A committer whose groups end with `work` on the items their writers left.
    pub fn with_group_work(db: Db, work: GroupWork) -> Committer {
        Committer {
            work: Some(work),
            ..Committer::new(db)
        }
    }

    /// Transactions committed, and the writes they held, since the start.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }

    /// Where the time went since the start ([`Timings`]).
    pub fn timings(&self) -> Timings {
        let c = &self.clocks;
        let d = |a: &AtomicU64| std::time::Duration::from_nanos(a.load(Ordering::Relaxed));
        Timings {
            turns: c.turns.load(Ordering::Relaxed),
            held: d(&c.held),
            savepoints: d(&c.savepoints),
            groups: c.groups.load(Ordering::Relaxed),
            closing: d(&c.closing),
        }
    }

    /// Waits for this writer's turn and opens its savepoint.
    pub async fn begin(&self) -> Result<Write, Error> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut waiting = Waiting {
            c: self.clone(),
            served: false,
        };
        let mut open = self.open.clone().lock_owned().await;
        let started = Instant::now();
        waiting.served = true;
        drop(waiting);
        open.clean().await;
        let (tx, opened) = match open.tx.take() {
            Some(mut tx) => {
                let open_savepoint = if std::mem::take(&mut open.release) {
                    "RELEASE SAVEPOINT motcua_write; SAVEPOINT motcua_write"
                } else {
                    "SAVEPOINT motcua_write"
                };
                let opened = exec_raw(&mut tx, open_savepoint).await;
                (tx, opened)
            }
            // A new group: its transaction and the first savepoint in one round trip.
            None => match Tx::begin_and(&self.db, "SAVEPOINT motcua_write").await {
                Ok(tx) => (tx, Ok(())),
                Err(e) => {
                    // Nobody waits on a group without a transaction.
                    drop(open);
                    return Err(e);
                }
            },
        };
        self.clocks
            .savepoints
            .fetch_add(nanos(started), Ordering::Relaxed);
        if let Err(e) = opened {
            self.end_turn(started);
            open.tx = Some(tx);
            open.fail(&e);
            return Err(e);
        }
        Ok(Write {
            started,
            tx: Some(tx),
            open: Some(open),
            c: self.clone(),
            audit: Vec::new(),
            later: Vec::new(),
        })
    }

    /// Returns once everything written before the call is committed.
    pub async fn barrier(&self) -> Result<(), Error> {
        self.begin().await?.commit().await
    }

    /// Commits a group left open when nobody is left to do it.
    fn flush_later(&self) {
        let c = self.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { c.flush().await });
        }
    }

    async fn flush(&self) {
        let mut open = self.open.clone().lock_owned().await;
        open.clean().await;
        if self.waiting.load(Ordering::SeqCst) > 0 {
            // The next writer carries the group on.
            return;
        }
        if open.members == 0 {
            open.tx = None;
            return;
        }
        self.commit_group(&mut open).await;
    }

    fn end_turn(&self, started: Instant) {
        self.clocks.turns.fetch_add(1, Ordering::Relaxed);
        self.clocks
            .held
            .fetch_add(nanos(started), Ordering::Relaxed);
    }

    async fn commit_group(&self, open: &mut Open) -> Option<Error> {
        let started = Instant::now();
        let failed = self.end_group(open).await;
        self.clocks.groups.fetch_add(1, Ordering::Relaxed);
        self.clocks
            .closing
            .fetch_add(nanos(started), Ordering::Relaxed);
        failed
    }

    async fn end_group(&self, open: &mut Open) -> Option<Error> {
        let members = open.members;
        let later = std::mem::take(&mut open.audit);
        let items = std::mem::take(&mut open.later);
        let result = match open.tx.take() {
            Some(mut tx) => {
                let worked = match &self.work {
                    _ if items.is_empty() => Ok(()),
                    Some(work) => work(&mut tx, items).await,
                    None => Err(Error::Batch(
                        "work was left for a group that does none".into(),
                    )),
                };
                let entries: Vec<(DateTime<Utc>, Entry<'_>)> = later
                    .iter()
                    .map(|l| {
                        (
                            l.at,
                            Entry {
                                actor: &l.actor,
                                action: &l.action,
                                subject: &l.subject,
                                data: l.data.clone(),
                            },
                        )
                    })
                    .collect();
                match worked {
                    Ok(()) => match crate::audit::append_many(&mut tx, &entries).await {
                        Ok(()) => tx.commit().await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                }
            }
            None => Ok(()),
        };
        match result {
            Ok(()) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                self.writes.fetch_add(members as u64, Ordering::Relaxed);
                open.finish(Ok(()));
                None
            }
            Err(e) => {
                open.fail(&e);
                Some(e)
            }
        }
    }
}

/// One writer's turn: its savepoint in the shared transaction.
pub struct Write {
    /// When the turn began.
    started: Instant,
    tx: Option<Tx<'static>>,
    open: Option<OwnedMutexGuard<Open>>,
    c: Committer,
    audit: Vec<Later>,
    later: Vec<Item>,
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Write")
    }
}

fn finished() -> Error {
    Error::Batch("the write has already ended".into())
}

impl Write {
    /// The transaction to write in.
    pub fn tx(&mut self) -> Result<&mut Tx<'static>, Error> {
        self.tx.as_mut().ok_or_else(finished)
    }

    /// Records `entry` in the audit chain with this writer's writes: appended, in the order
    /// writers finish, just before the group commits.
    pub fn audit_later(&mut self, at: DateTime<Utc>, entry: &Entry<'_>) {
        self.audit.push(Later {
            at,
            actor: entry.actor.to_string(),
            action: entry.action.to_string(),
            subject: entry.subject.to_string(),
            data: entry.data.clone(),
        });
    }

    /// Leaves `item` for the group's work ([`Committer::with_group_work`]), done with this
    /// writer's writes just before the group commits; dropped if the writer gives up.
    pub fn later(&mut self, item: Item) {
        self.later.push(item);
    }

    /// Keeps this writer's writes and returns once they are committed.
    pub async fn commit(mut self) -> Result<(), Error> {
        let (Some(tx), Some(mut open)) = (self.tx.take(), self.open.take()) else {
            return Err(finished());
        };
        self.c.end_turn(self.started);
        // The savepoint is released by the next writer's first round trip, or by the commit.
        open.release = true;
        open.tx = Some(tx);
        open.audit.append(&mut self.audit);
        open.later.append(&mut self.later);
        open.members += 1;
        if open.members < MAX_GROUP && self.c.waiting.load(Ordering::SeqCst) > 0 {
            // Someone is waiting for a turn: they carry the group on, and the last commits.
            let mut done = open.done.subscribe();
            drop(open);
            let outcome = done
                .wait_for(Option::is_some)
                .await
                .map(|v| v.clone())
                .map_err(|_| Error::Batch("the group ended unanswered".into()))?;
            return match outcome {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) => Err(Error::Batch(e)),
                None => Err(Error::Batch("the group ended unanswered".into())),
            };
        }
        match self.c.commit_group(&mut open).await {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

impl Drop for Write {
    fn drop(&mut self) {
        // Given up before `commit`: undo this writer's part, keep the rest.
        if let (Some(tx), Some(mut open)) = (self.tx.take(), self.open.take()) {
            self.c.end_turn(self.started);
            open.tx = Some(tx);
            open.dirty = true;
            drop(open);
            self.c.flush_later();
        }
    }
}

async fn exec(tx: &mut Tx<'static>, sql: &'static str) -> Result<(), Error> {
    crate::on_tx!(tx, c => sqlx::query(sql).execute(c).await.map(|_| ()))?;
    Ok(())
}

/// Runs statements without parameters in one round trip.
async fn exec_raw(tx: &mut Tx<'static>, sql: &'static str) -> Result<(), Error> {
    crate::on_tx!(tx, c => sqlx::raw_sql(sql).execute(c).await.map(|_| ()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> Result<(Db, tempfile::TempDir), Error> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let db = Db::connect(&url, 4).await?;
        crate::on_db!(&db, p => sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)").execute(p).await.map(|_| ()))?;
        Ok((db, dir))
    }

    async fn insert(c: &Committer, n: i64) -> Result<i64, Error> {
        let mut w = c.begin().await?;
        crate::on_tx!(w.tx()?, c => sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(c).await.map(|_| ()))?;
        w.commit().await?;
        Ok(n)
    }

    async fn rows(db: &Db) -> Result<Vec<i64>, Error> {
        Ok(
            crate::on_db!(db, p => sqlx::query_scalar("SELECT n FROM t ORDER BY n").fetch_all(p).await)?,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_is_undone_and_the_rest_commit() -> Result<(), Error> {
        let (db, _dir) = db().await?;
        let c = Committer::new(db.clone());
        // 1 and 2 twice: the repeats fail on the primary key, whichever group they land in.
        let mut handles = Vec::new();
        for n in [1i64, 2, 1, 3, 2, 4] {
            let c = c.clone();
            handles.push(tokio::spawn(async move { insert(&c, n).await }));
        }
        let mut ok = 0;
        let mut failed = 0;
        for h in handles {
            match h.await {
                Ok(Ok(_)) => ok += 1,
                Ok(Err(_)) => failed += 1,
                Err(_) => return Err(Error::Batch("join".into())),
            }
        }
        assert_eq!((ok, failed), (4, 2));
        assert_eq!(rows(&db).await?, vec![1, 2, 3, 4]);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_work_gets_the_items_of_the_writers_that_finished() -> Result<(), Error> {
        let (db, _dir) = db().await?;
        crate::on_db!(&db, p => sqlx::query("CREATE TABLE sums (total INTEGER NOT NULL, statements INTEGER NOT NULL)").execute(p).await.map(|_| ()))?;
        crate::on_db!(&db, p => sqlx::query("INSERT INTO sums VALUES (0, 0)").execute(p).await.map(|_| ()))?;
        // The work adds up the numbers its group's writers left, in one statement per group.
        let work: GroupWork = Arc::new(|tx, items| {
            Box::pin(async move {
                let total: i64 = items
                    .into_iter()
                    .filter_map(|i| i.downcast::<i64>().ok())
                    .map(|n| *n)
                    .sum();
                crate::on_tx!(tx, c => sqlx::query("UPDATE sums SET total = total + $1, statements = statements + 1").bind(total).execute(c).await.map(|_| ()))?;
                Ok(())
            })
        });
        let c = Committer::with_group_work(db.clone(), work);
        let mut handles = Vec::new();
        for n in 1..=300i64 {
            let c = c.clone();
            handles.push(tokio::spawn(async move {
                let mut w = c.begin().await?;
                crate::on_tx!(w.tx()?, c => sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(c).await.map(|_| ()))?;
                w.later(Box::new(n));
                if n % 10 == 0 {
                    // Gives up: neither its row nor its number may count.
                    return Ok::<i64, Error>(0);
                }
                w.commit().await?;
                Ok(n)
            }));
        }
        let mut expected = 0;
        for h in handles {
            expected += h.await.map_err(|_| Error::Batch("join".into()))??;
        }
        c.barrier().await?;
        let (total, statements): (i64, i64) = crate::on_db!(&db, p => sqlx::query_as("SELECT total, statements FROM sums").fetch_one(p).await)?;
        let stored: i64 = rows(&db).await?.iter().sum();
        assert_eq!(total, expected);
        assert_eq!(stored, expected);
        let (commits, _) = c.counts();
        assert!(statements as u64 <= commits, "{statements} > {commits}");
        assert!(commits < 270, "writers did not share groups: {commits}");
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_left_without_group_work_fails_the_group() -> Result<(), Error> {
        let (db, _dir) = db().await?;
        let c = Committer::new(db.clone());
        let mut w = c.begin().await?;
        crate::on_tx!(w.tx()?, c => sqlx::query("INSERT INTO t (n) VALUES (1)").execute(c).await.map(|_| ()))?;
        w.later(Box::new(1i64));
        assert!(w.commit().await.is_err());
        assert!(rows(&db).await?.is_empty());
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_that_gives_up_leaves_the_others_alone() -> Result<(), Error> {
        let (db, _dir) = db().await?;
        let c = Committer::new(db.clone());
        let mut handles = Vec::new();
        for n in 0..200i64 {
            let c = c.clone();
            handles.push(tokio::spawn(async move {
                let mut w = c.begin().await?;
                crate::on_tx!(w.tx()?, c => sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(c).await.map(|_| ()))?;
                if n % 3 == 0 {
                    // Dropped without commit: its row must not be stored.
                    return Ok::<bool, Error>(false);
                }
                w.commit().await?;
                Ok(true)
            }));
        }
        let mut kept = Vec::new();
        for (n, h) in handles.into_iter().enumerate() {
            if h.await.map_err(|_| Error::Batch("join".into()))?? {
                kept.push(n as i64);
            }
        }
        // Let a last flush run.
        for _ in 0..100 {
            if rows(&db).await? == kept {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(rows(&db).await?, kept);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_writers_share_few_commits() -> Result<(), Error> {
        let (db, _dir) = db().await?;
        let c = Committer::new(db.clone());
        let mut handles = Vec::new();
        for n in 0..500i64 {
            let c = c.clone();
            handles.push(tokio::spawn(async move { insert(&c, n).await }));
        }
        for h in handles {
            let n = h.await.map_err(|_| Error::Batch("join".into()))??;
            assert!((0..500).contains(&n));
        }
        // Every acknowledged write is visible from another connection.
        assert_eq!(rows(&db).await?.len(), 500);
        let (commits, writes) = c.counts();
        assert_eq!(writes, 500);
        assert!(commits < 250, "{commits} commits for 500 writes");
        // Every turn and every group was timed; a savepoint is part of its turn.
        let t = c.timings();
        assert_eq!((t.turns, t.groups), (500, commits));
        assert!(t.savepoints <= t.held && !t.held.is_zero() && !t.closing.is_zero());
        assert_eq!(t.since(&t), Timings::default());
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn audit_entries_wait_for_the_group_and_leave_with_a_writer_that_gives_up()
    -> Result<(), Error> {
        let (db, _dir) = db().await?;
        crate::db::migrate(&db, &[&crate::db::MIGRATIONS]).await?;
        let c = Committer::new(db.clone());
        let mut handles = Vec::new();
        for n in 0..120i64 {
            let c = c.clone();
            handles.push(tokio::spawn(async move {
                let mut w = c.begin().await?;
                crate::on_tx!(w.tx()?, c => sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(c).await.map(|_| ()))?;
                w.audit_later(
                    Utc::now(),
                    &Entry {
                        actor: "test",
                        action: "t.insert",
                        subject: &format!("t/{n}"),
                        data: serde_json::json!({ "n": n }),
                    },
                );
                if n % 4 == 0 {
                    return Ok::<bool, Error>(false);
                }
                w.commit().await?;
                Ok(true)
            }));
        }
        let mut kept = Vec::new();
        for (n, h) in handles.into_iter().enumerate() {
            if h.await.map_err(|_| Error::Batch("join".into()))?? {
                kept.push(format!("t/{n}"));
            }
        }
        c.barrier().await?;
        // One entry for each kept row, none for those given up, and the chain holds.
        let mut subjects: Vec<String> = crate::on_db!(&db, p => sqlx::query_scalar(
            "SELECT subject FROM audit_log WHERE action = 't.insert'"
        ).fetch_all(p).await)?;
        subjects.sort();
        kept.sort();
        assert_eq!(subjects, kept);
        assert_eq!(crate::audit::verify(&db).await?, 90);
        Ok(())
    }
}
