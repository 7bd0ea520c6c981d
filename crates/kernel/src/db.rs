//! The database handle: SQLite or PostgreSQL, chosen by URL.
//!
//! Each crate writes its SQL once with `$1`-style parameters, which both SQLite and PostgreSQL
//! accept, and runs it through [`on_db!`], which type-checks the same code against each native
//! pool. Where the dialects really differ, the code matches on [`Db`] and writes both. Each crate
//! keeps one migrations folder per database; [`migrate`] runs them all, in version order, as one
//! set.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::problem::Error;

/// A pool for one of the two databases.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool `$db` holds, binding it to `$pool`.
///
/// ```ignore
/// let n: i64 = on_db!(&db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM fields").fetch_one(pool).await)?;
/// ```
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Which database a handle talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Migrations of each crate, per backend.
pub struct MigrationSet {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

/// How long a PostgreSQL connection may sit idle before it is pinged on its next use.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Pings a PostgreSQL connection that sat idle for a while before it is used.
fn ping_if_idle(
    conn: &mut sqlx::PgConnection,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        if meta.idle_for > PING_AFTER_IDLE {
            sqlx::Connection::ping(conn).await?;
        }
        Ok(true)
    })
}

impl Db {
    /// Opens a pool for `url`. A SQLite file and its folder are created when missing.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, Error> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Checkpoints run in the background (`checkpoints`), not in whichever commit
                // happens to fill the log: that commit would hold the write lock, and every
                // writer behind it, through the copy and its fsync.
                .pragma("wal_autocheckpoint", "0")
                // Pages of the database file are read from a mapping rather than copied into
                // each connection's cache; every connection drops its cache whenever another
                // has written, so reads under a write load fetch the same pages again and
                // again (up to 256 MiB mapped, address space only).
                .pragma("mmap_size", "268435456");
            if let Some(path) = opts.get_filename().parent()
                && !path.as_os_str().is_empty()
            {
                std::fs::create_dir_all(path)?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(15))
                // A connection to a file in this process has no peer to lose; pinging it
                // before each use is a round trip to its thread for nothing.
                .test_before_acquire(false)
                .connect_with(opts)
                .await?;
            tokio::spawn(checkpoints(pool.clone()));
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(15))
                // A connection in use a moment ago is taken as it is: pinging the server
                // before every use is one more round trip for each query. One that sat idle is
                // pinged first, so that a connection lost meanwhile (a restarted server) is
                // replaced before a request uses it.
                .test_before_acquire(false)
                .before_acquire(ping_if_idle)
                .connect_with(opts)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(Error::UnsupportedDatabase(crate::config::mask_url(url)))
        }
    }

    /// A pool of `n` connections of its own to the same database, with the same settings:
    /// for a writer that must not wait behind every reader for a connection of the shared pool
    /// each time it begins. Connections are opened on first use.
    pub fn apart(&self, n: u32) -> Db {
        match self {
            Db::Sqlite(p) => Db::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(n.max(1))
                    .acquire_timeout(Duration::from_secs(15))
                    .test_before_acquire(false)
                    .connect_lazy_with((*p.connect_options()).clone()),
            ),
            Db::Postgres(p) => Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(n.max(1))
                    .acquire_timeout(Duration::from_secs(15))
                    .test_before_acquire(false)
                    .before_acquire(ping_if_idle)
                    .connect_lazy_with((*p.connect_options()).clone()),
            ),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Answers when the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), Error> {
        let one: i64 =
            on_db!(self, p => sqlx::query_scalar("SELECT CAST(1 AS BIGINT)").fetch_one(p).await)?;
        if one == 1 {
            Ok(())
        } else {
            Err(Error::Config("database answered SELECT 1 wrongly".into()))
        }
    }

    pub async fn close(&self) {
        on_db!(self, p => p.close().await)
    }
}

/// How often the write-ahead log is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Copies committed pages from the write-ahead log into the database file, as far as readers
/// allow (PASSIVE: it takes no lock that writers wait for), until the pool is closed. The log
/// is rewound by the next writer once a checkpoint has caught up with it.
async fn checkpoints(pool: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
        }
    }
}

/// Runs every pending migration of every crate, in version order.
pub async fn migrate(db: &Db, sets: &[&MigrationSet]) -> Result<(), Error> {
    let pick = |s: &MigrationSet| -> &'static Migrator {
        match db {
            Db::Sqlite(_) => s.sqlite,
            Db::Postgres(_) => s.postgres,
        }
    };
    let mut all: Vec<Migration> = sets.iter().flat_map(|s| pick(s).iter().cloned()).collect();
    all.sort_by_key(|m| m.version);
    for pair in all.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(Error::Config(format!(
                "two migrations share version {}",
                pair[0].version
            )));
        }
    }
    let migrator = Migrator::with_migrations(all);
    on_db!(db, p => migrator.run(p).await)?;
    Ok(())
}

/// The kernel's own migrations (calendar, audit chain).
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("./migrations/sqlite"),
    postgres: &sqlx::migrate!("./migrations/postgres"),
};
