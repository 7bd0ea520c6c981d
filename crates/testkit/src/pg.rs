//! A throwaway PostgreSQL cluster for tests and benchmarks.
//!
//! With `DATABASE_URL` set, that server is used as is. Otherwise a cluster is created under
//! the temporary folder with the machine's `initdb` (PostgreSQL 15 or later), started with
//! `pg_ctl` on a free loopback port with durability turned off (it is thrown away), and reused
//! by later test processes until `scripts/pg-test-cluster stop`. As root, the PostgreSQL tools
//! run as the `postgres` user, since `initdb` refuses to run as root.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use tokio::sync::OnceCell;

/// The administrative URL of the server tests use.
static ADMIN: OnceCell<String> = OnceCell::const_new();

/// Where the throwaway cluster lives.
pub fn cluster_dir() -> PathBuf {
    std::env::temp_dir().join("motcua-test-pg")
}

fn tool(name: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin").join(name))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().with_context(|| {
        format!("PostgreSQL's {name} is not installed (apt-get install postgresql)")
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as `postgres` when we are root.
fn run(tool_path: &Path, args: &[&str]) -> anyhow::Result<std::process::Output> {
    let out = if is_root() {
        Command::new("runuser")
            .arg("-u")
            .arg("postgres")
            .arg("--")
            .arg(tool_path)
            .args(args)
            .output()
    } else {
        Command::new(tool_path).args(args).output()
    }
    .with_context(|| format!("cannot run {}", tool_path.display()))?;
    Ok(out)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Creates a cluster in `data`; `sync` waits for its files to reach the disk.
fn initdb(data: &Path, sync: bool) -> anyhow::Result<()> {
    let data = data.to_string_lossy();
    let mut args = vec![
        "-D",
        &data,
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    ];
    if !sync {
        args.push("--no-sync");
    }
    let out = run(&tool("initdb")?, &args)?;
    if !out.status.success() {
        bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Starts the server of `data` with `opts`, waiting until it accepts connections.
fn pg_start(pg_ctl: &Path, data: &Path, opts: &str, log: &Path) -> anyhow::Result<()> {
    let out = run(
        pg_ctl,
        &[
            "-D",
            &data.to_string_lossy(),
            "-o",
            opts,
            "-l",
            &log.to_string_lossy(),
            "-w",
            "-t",
            "60",
            "start",
        ],
    )?;
    if !out.status.success() {
        let tail = std::fs::read_to_string(log).unwrap_or_default();
        bail!(
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            tail
        );
    }
    Ok(())
}

/// Makes sure the throwaway cluster runs; returns its port.
pub fn ensure_cluster() -> anyhow::Result<u16> {
    let dir = cluster_dir();
    std::fs::create_dir_all(&dir)?;
    let lock = std::fs::File::create(dir.join("lock"))?;
    lock.lock()?;
    let data = dir.join("data");
    let port_file = dir.join("port");
    if is_root() {
        let _ = Command::new("chown")
            .arg("-R")
            .arg("postgres:postgres")
            .arg(&dir)
            .status();
    }
    if !data.join("PG_VERSION").exists() {
        initdb(&data, false)?;
    }
    let pg_ctl = tool("pg_ctl")?;
    let running = run(&pg_ctl, &["status", "-D", &data.to_string_lossy()])?
        .status
        .success();
    if running
        && let Ok(p) = std::fs::read_to_string(&port_file)
        && let Ok(port) = p.trim().parse::<u16>()
    {
        return Ok(port);
    }
    let port = free_port()?;
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB",
        dir.to_string_lossy()
    );
    pg_start(&pg_ctl, &data, &opts, &dir.join("log"))?;
    std::fs::write(&port_file, port.to_string())?;
    Ok(port)
}

/// Stops the throwaway cluster, if it runs.
pub fn stop_cluster() -> anyhow::Result<()> {
    let data = cluster_dir().join("data");
    if data.join("PG_VERSION").exists() {
        run(
            &tool("pg_ctl")?,
            &["-D", &data.to_string_lossy(), "-m", "fast", "stop"],
        )?;
    }
    Ok(())
}

/// The administrative URL: `DATABASE_URL`, or the throwaway cluster's.
pub async fn admin_url() -> anyhow::Result<String> {
    ADMIN
        .get_or_try_init(|| async {
            match std::env::var("DATABASE_URL") {
                Ok(u) if u.starts_with("postgres") => Ok(u),
                _ => {
                    let port = tokio::task::spawn_blocking(ensure_cluster).await??;
                    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
                }
            }
        })
        .await
        .cloned()
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database() -> anyhow::Result<String> {
    use sqlx::Connection;
    let admin = admin_url().await?;
    let name = format!("motcua_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .context("cannot reach the test PostgreSQL server")?;
    // The name is made here from a UUID: nothing from outside reaches this statement.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let (base, _) = admin
        .rsplit_once('/')
        .context("DATABASE_URL has no database name")?;
    Ok(format!("{base}/{name}"))
}

/// A PostgreSQL cluster of its own, with the durability a production server keeps (`fsync`,
/// `synchronous_commit` and `full_page_writes` on, the defaults), for measuring writes. It is
/// stopped and deleted when dropped. `DATABASE_URL` is not used for it.
pub struct DurableCluster {
    dir: tempfile::TempDir,
    /// The administrative URL (database `postgres`).
    pub url: String,
}

impl DurableCluster {
    pub fn start() -> anyhow::Result<DurableCluster> {
        let dir = tempfile::Builder::new()
            .prefix("motcua-durable-pg")
            .tempdir()?;
        let data = dir.path().join("data");
        if is_root() {
            let _ = Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status();
        }
        initdb(&data, true)?;
        let port = free_port()?;
        // MOTCUA_BENCH_PG_OPTIONS adds server options, for example to load
        // pg_stat_statements while a benchmark runs.
        let extra = std::env::var("MOTCUA_BENCH_PG_OPTIONS").unwrap_or_default();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=300 -c shared_buffers=256MB {extra}",
            dir.path().to_string_lossy()
        );
        pg_start(&tool("pg_ctl")?, &data, &opts, &dir.path().join("log"))?;
        Ok(DurableCluster {
            dir,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        })
    }
}

impl Drop for DurableCluster {
    fn drop(&mut self) {
        if let Ok(pg_ctl) = tool("pg_ctl") {
            let data = self.dir.path().join("data");
            let _ = run(
                &pg_ctl,
                &["-D", &data.to_string_lossy(), "-m", "fast", "stop"],
            );
        }
    }
}
