//! A demo node for a benchmark: its own data folder, the given database, a free port, and a
//! check that every acknowledged write is durable before anything is measured.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

use kernel::clock::SystemClock;
use kernel::config::Config;
use motcua::{AppState, Application, BuildOptions};

pub struct Node {
    pub app: Application,
    pub state: AppState,
    pub bound: SocketAddr,
    /// The database and its durability settings, as the report prints them.
    pub version: String,
    /// The data folder, removed when dropped.
    pub data: tempfile::TempDir,
}

/// Builds a demo node on `database_url` (SQLite in the data folder when none), bound but
/// not serving yet.
pub async fn start(database_url: Option<String>) -> anyhow::Result<Node> {
    start_as(database_url, kernel::config::FederationConfig::default()).await
}

/// The same, in the given place of a federation.
pub async fn start_as(
    database_url: Option<String>,
    federation: kernel::config::FederationConfig,
) -> anyhow::Result<Node> {
    let data = tempfile::tempdir().context("cannot create a temporary folder")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bound = listener.local_addr()?;
    let config = Config {
        data_dir: data.path().to_path_buf(),
        database_url,
        listen: bound,
        public_url: format!("http://{bound}"),
        database_max_connections: 16,
        federation,
        ..Config::default()
    };
    let app = Application::build_on(
        config,
        BuildOptions {
            demo: true,
            clock: Arc::new(SystemClock),
            index_in_memory: true,
            pdf_worker: None,
        },
        listener,
    )
    .await?;
    let state = app.state().clone();
    let version = match &state.db {
        kernel::db::Db::Sqlite(p) => {
            let v: String = sqlx::query_scalar("SELECT sqlite_version()")
                .fetch_one(p)
                .await?;
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(p)
                .await?;
            anyhow::ensure!(sync == 2, "SQLite synchronous is {sync}, not FULL");
            format!("SQLite {v}, WAL, synchronous=FULL")
        }
        kernel::db::Db::Postgres(p) => {
            let v: String = sqlx::query_scalar("SHOW server_version")
                .fetch_one(p)
                .await?;
            let sync: String = sqlx::query_scalar("SHOW synchronous_commit")
                .fetch_one(p)
                .await?;
            let fsync: String = sqlx::query_scalar("SHOW fsync").fetch_one(p).await?;
            anyhow::ensure!(
                sync == "on" && fsync == "on",
                "PostgreSQL synchronous_commit={sync}, fsync={fsync}"
            );
            format!("PostgreSQL {v}, synchronous_commit=on, fsync=on")
        }
    };
    Ok(Node {
        app,
        state,
        bound,
        version,
        data,
    })
}

/// A node serving in a task of its own until [`Serving::stop`].
pub struct Serving {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// Serves `app` until stopped.
pub fn serve(app: Application) -> Serving {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Serving { stop, task }
}

impl Serving {
    /// Stops taking requests, finishes those in flight, and waits for the node to close.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Runs `run` on SQLite, then on a PostgreSQL cluster of its own with the production
/// durability settings (`fsync`, `synchronous_commit` on); `only` (`sqlite` or `postgres`)
/// keeps one of them.
pub async fn on_each_database<T, F, Fut>(only: Option<&str>, run: F) -> anyhow::Result<Vec<T>>
where
    F: Fn(&'static str, Option<String>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    anyhow::ensure!(
        matches!(only, None | Some("sqlite" | "postgres")),
        "--only takes sqlite or postgres"
    );
    let mut out = Vec::new();
    if only != Some("postgres") {
        out.push(run("SQLite", None).await?);
    }
    if only != Some("sqlite") {
        eprintln!("[bench] PostgreSQL: a cluster of its own, with fsync and synchronous_commit on");
        let cluster = tokio::task::spawn_blocking(testkit::pg::DurableCluster::start)
            .await?
            .context("cannot start PostgreSQL for the benchmark")?;
        let pg = run("PostgreSQL", Some(cluster.url.clone())).await;
        drop(cluster);
        out.push(pg?);
    }
    Ok(out)
}
