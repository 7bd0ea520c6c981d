//! `motcua cluster up`: a national node and N local nodes on loopback, each a process of this
//! binary with the demo data and its own folder, the local nodes approved as soon as they
//! register, for trying the federation out.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use federation::NodeMove;
use kernel::db::Db;

/// The local nodes' names, in order.
pub const LOCAL_IDS: [&str; 9] = [
    "dia-phuong-1",
    "dia-phuong-2",
    "dia-phuong-3",
    "dia-phuong-4",
    "dia-phuong-5",
    "dia-phuong-6",
    "dia-phuong-7",
    "dia-phuong-8",
    "dia-phuong-9",
];

/// One node of the cluster.
pub struct Node {
    pub id: String,
    pub url: String,
    pub dir: PathBuf,
    pub child: Child,
}

/// A command that runs this binary as one node: its folder, port, role and log file.
pub fn node_command(
    exe: &Path,
    dir: &Path,
    host: &str,
    port: u16,
    env: &[(&str, String)],
) -> anyhow::Result<Command> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let log = std::fs::File::create(dir.join("motcua.log"))
        .with_context(|| format!("cannot write the log in {}", dir.display()))?;
    let mut c = Command::new(exe);
    c.arg("--data")
        .arg(dir)
        .args(["serve", "--demo", "--listen", &format!("{host}:{port}")])
        .env("MOTCUA_PUBLIC_URL", format!("http://{host}:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    if std::env::var_os("MOTCUA_DEMO_HISTORY").is_none() {
        c.env("MOTCUA_DEMO_HISTORY", "0");
    }
    for (k, v) in env {
        c.env(k, v);
    }
    Ok(c)
}

/// The loopback address of node `i` (0 the national node): each node its own, so that a
/// browser keeps each node's cookies apart (cookies do not tell ports apart).
pub fn host(i: usize) -> String {
    format!("127.0.0.{}", i + 1)
}

/// The environment of a national node.
pub fn national_env() -> Vec<(&'static str, String)> {
    vec![
        ("MOTCUA_FEDERATION__ROLE", "national".into()),
        ("MOTCUA_NODE_NAME", "Cổng Dịch vụ công quốc gia".into()),
    ]
}

/// The environment of local node number `i` (from 1).
pub fn local_env(i: usize, national_url: &str) -> Vec<(&'static str, String)> {
    let id = LOCAL_IDS.get(i - 1).copied().unwrap_or("dia-phuong");
    vec![
        ("MOTCUA_FEDERATION__ROLE", "local".into()),
        ("MOTCUA_FEDERATION__NODE_ID", id.into()),
        ("MOTCUA_FEDERATION__NATIONAL_URL", national_url.into()),
        ("MOTCUA_FEDERATION__AGENCIES", r#"["*.H26"]"#.into()),
        ("MOTCUA_FEDERATION__RETRY_MAX_SECONDS", "5".into()),
        (
            "MOTCUA_NODE_NAME",
            format!("Một cửa điện tử địa phương {i}"),
        ),
    ]
}

/// Waits until `url` answers `/healthz`, for at most `wait`.
pub async fn healthy(url: &str, wait: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let start = std::time::Instant::now();
    while start.elapsed() < wait {
        if client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} did not start within {wait:?}")
}

/// Approves local node `id` on the national node's database as soon as it has registered
/// (for at most `wait`); one approved already is left as it is.
pub async fn approve_when_registered(db: &Db, id: &str, wait: Duration) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    loop {
        match federation::national::set_status(db, chrono::Utc::now(), "cli", id, NodeMove::Approve)
            .await
        {
            Ok(()) => return Ok(()),
            Err(federation::FederationError::Refused {
                kind: "node_status_conflict",
                ..
            }) => {
                return Ok(());
            }
            Err(federation::FederationError::NotFound(_)) if start.elapsed() < wait => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => bail!("approving {id}: {e}"),
        }
    }
}

/// Starts the national node on `port` and `locals` local nodes on the ports after it, under
/// `dir`; approves the local nodes; answers the nodes, national first.
pub async fn up(exe: &Path, dir: &Path, port: u16, locals: usize) -> anyhow::Result<Vec<Node>> {
    if locals == 0 || locals > LOCAL_IDS.len() {
        bail!("between 1 and {} local nodes", LOCAL_IDS.len());
    }
    let national_url = format!("http://{}:{port}", host(0));
    let mut nodes = Vec::new();
    let ndir = dir.join("national");
    let child = node_command(exe, &ndir, &host(0), port, &national_env())?
        .spawn()
        .context("cannot start the national node")?;
    nodes.push(Node {
        id: "national".into(),
        url: national_url.clone(),
        dir: ndir.clone(),
        child,
    });
    healthy(&national_url, Duration::from_secs(180)).await?;
    for i in 1..=locals {
        let p = port + i as u16;
        let id = LOCAL_IDS[i - 1];
        let ldir = dir.join(id);
        let child = node_command(exe, &ldir, &host(i), p, &local_env(i, &national_url))?
            .spawn()
            .with_context(|| format!("cannot start {id}"))?;
        nodes.push(Node {
            id: id.into(),
            url: format!("http://{}:{p}", host(i)),
            dir: ldir,
            child,
        });
    }
    for n in &nodes[1..] {
        healthy(&n.url, Duration::from_secs(180)).await?;
    }
    let db = Db::connect(&format!("sqlite://{}", ndir.join("motcua.db").display()), 2)
        .await
        .context("cannot open the national node's database")?;
    for n in &nodes[1..] {
        approve_when_registered(&db, &n.id, Duration::from_secs(60)).await?;
    }
    db.close().await;
    Ok(nodes)
}
