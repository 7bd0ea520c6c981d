//! The federation under fire: one national and three local nodes, each a process of the real
//! binary, while desk officials file and receive dossiers on the local nodes; random nodes
//! (the national one too) are killed with SIGKILL and restarted again and again. Once the
//! load stops and the sync settles, the national node holds exactly what the local nodes
//! hold: every dossier with its status and its last event number, every event once, under
//! its own number. The counts compared are printed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use kernel::db::Db;
use motcua::cluster;
use testkit::{Backend, both};
use tokio::process::Child;

both!(killed_nodes_catch_up_and_the_national_view_is_the_union);

const BIN: &str = env!("CARGO_BIN_EXE_motcua");
const LOCALS: usize = 3;
const ROUNDS: u64 = 8;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

struct Cluster {
    root: tempfile::TempDir,
    ports: Vec<u16>,
    dbs: Vec<Option<String>>,
    children: Vec<Option<Child>>,
}

impl Cluster {
    fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    fn db_url(&self, i: usize) -> String {
        self.dbs[i].clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.root
                    .path()
                    .join(i.to_string())
                    .join("motcua.db")
                    .display()
            )
        })
    }

    async fn spawn(&mut self, i: usize) {
        let mut env = if i == 0 {
            cluster::national_env()
        } else {
            cluster::local_env(i, &self.url(0))
        };
        env.push(("MOTCUA_LOG_FILTER", "warn".into()));
        env.push(("MOTCUA_FEDERATION__RETRY_MAX_SECONDS", "1".into()));
        env.push(("MOTCUA_FEDERATION__BATCH_SIZE", "50".into()));
        if let Some(u) = &self.dbs[i] {
            env.push(("MOTCUA_DATABASE_URL", u.clone()));
        }
        let dir = self.root.path().join(i.to_string());
        let child = cluster::node_command(
            std::path::Path::new(BIN),
            &dir,
            "127.0.0.1",
            self.ports[i],
            &env,
        )
        .unwrap_or_else(|e| panic!("{e:#}"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node {i}: {e}"));
        self.children[i] = Some(child);
    }

    async fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            c.start_kill().unwrap_or_else(|e| panic!("{e}"));
            let _ = c.wait().await;
        }
    }
}

async fn connect(url: &str) -> Db {
    Db::connect(url, 2)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

type Row = (String, String, i64);
type Event = (String, i64, String);

async fn local_rows(db: &Db) -> (Vec<Row>, Vec<Event>) {
    let rows: Vec<Row> = kernel::on_db!(db, c => sqlx::query_as(
        "SELECT id, status, sync_seq FROM dossiers WHERE sync_seq > 0 ORDER BY id"
    ).fetch_all(c).await)
    .unwrap_or_else(|e| panic!("{e}"));
    let events: Vec<Event> = kernel::on_db!(db, c => sqlx::query_as(
        "SELECT dossier_id, seq, event_id FROM dossier_outbox ORDER BY dossier_id, seq"
    ).fetch_all(c).await)
    .unwrap_or_else(|e| panic!("{e}"));
    (rows, events)
}

async fn national_rows(db: &Db, node: &str) -> (Vec<Row>, Vec<Event>) {
    let rows: Vec<Row> = kernel::on_db!(db, c => sqlx::query_as(
        "SELECT dossier_id, status, applied_seq FROM federation_dossiers WHERE node_id = $1 ORDER BY dossier_id"
    ).bind(node).fetch_all(c).await)
    .unwrap_or_else(|e| panic!("{e}"));
    let events: Vec<Event> = kernel::on_db!(db, c => sqlx::query_as(
        "SELECT dossier_id, seq, event_id FROM federation_events WHERE node_id = $1 ORDER BY dossier_id, seq"
    ).bind(node).fetch_all(c).await)
    .unwrap_or_else(|e| panic!("{e}"));
    (rows, events)
}

async fn pending(db: &Db) -> i64 {
    kernel::on_db!(db, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM dossier_outbox WHERE pushed_at IS NULL"
    ).fetch_one(c).await)
    .unwrap_or(-1)
}

/// Files dossiers on one local node and receives every other one, until `stop`; a node
/// that is down is waited for.
async fn load(base: String, stop: Arc<AtomicBool>, filed: Arc<AtomicU64>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    // The nodes are being killed and restarted meanwhile: log in again until one answers.
    let (cookie, csrf) = loop {
        match crate::crash::try_desk_session(&base).await {
            Ok(s) => break s,
            Err(_) if stop.load(Ordering::Relaxed) => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let body = serde_json::json!({
            "procedure": "2.001610", "agency": "000.00.02.H26",
            "form": {
                "ten_doanh_nghiep": format!("Công ty Liên thông {i}"), "dia_chi_tru_so": "Hà Nội",
                "von_dieu_le": 100, "nganh_nghe": "Thương mại", "loai_chu_so_huu": "Cá nhân",
                "nguoi_dai_dien": "Nguyễn Văn An", "so_dinh_danh_nguoi_dai_dien": "001095012345",
                "dien_thoai": "0912345678", "email": "an@example.vn"
            },
            "applicant": {"name": "Nguyễn Văn An", "phone": "0912345678"}
        });
        let r = client
            .post(format!("{base}/api/v1/dossiers"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
            .await;
        let code = match r {
            Ok(r) if r.status() == 201 => r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v["code"].as_str().map(str::to_string)),
            _ => None,
        };
        let Some(code) = code else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        filed.fetch_add(1, Ordering::Relaxed);
        if i.is_multiple_of(2) {
            let _ = client
                .post(format!("{base}/api/v1/dossiers/{code}/actions/receive"))
                .header("cookie", &cookie)
                .header("x-csrf-token", &csrf)
                .send()
                .await;
        }
    }
}

async fn killed_nodes_catch_up_and_the_national_view_is_the_union(b: Backend) {
    let mut dbs = Vec::new();
    for _ in 0..=LOCALS {
        dbs.push(
            testkit::fresh_database(b)
                .await
                .unwrap_or_else(|e| panic!("{e:#}")),
        );
    }
    let mut c = Cluster {
        root: tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
        ports: (0..=LOCALS).map(|_| free_port()).collect(),
        dbs,
        children: (0..=LOCALS).map(|_| None).collect(),
    };
    for i in 0..=LOCALS {
        c.spawn(i).await;
    }
    for i in 0..=LOCALS {
        cluster::healthy(&c.url(i), Duration::from_secs(180))
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
    let national = connect(&c.db_url(0)).await;
    for i in 1..=LOCALS {
        cluster::approve_when_registered(
            &national,
            cluster::LOCAL_IDS[i - 1],
            Duration::from_secs(60),
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    }

    // Desks file on every local node while nodes die and come back.
    let stop = Arc::new(AtomicBool::new(false));
    let filed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 1..=LOCALS {
        tasks.push(tokio::spawn(load(c.url(i), stop.clone(), filed.clone())));
    }
    let mut killed = [0u32; LOCALS + 1];
    for round in 0..ROUNDS {
        tokio::time::sleep(Duration::from_millis(600 + 53 * round)).await;
        // Every node is hit, the national one every third round.
        let victim = if round % 3 == 1 {
            0
        } else {
            1 + (round as usize - round as usize / 3) % LOCALS
        };
        killed[victim] += 1;
        c.kill(victim).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.spawn(victim).await;
        cluster::healthy(&c.url(victim), Duration::from_secs(180))
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap_or_else(|e| panic!("{e}"));
    }

    // The sync settles by itself.
    let mut locals = Vec::new();
    for i in 1..=LOCALS {
        locals.push(connect(&c.db_url(i)).await);
    }
    for (i, db) in locals.iter().enumerate() {
        let mut left = -1;
        for _ in 0..600 {
            left = pending(db).await;
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(left, 0, "local node {} did not catch up", i + 1);
    }

    // The national view is the union of the local ones.
    let (mut dossiers, mut events) = (0, 0);
    for (i, db) in locals.iter().enumerate() {
        let node = cluster::LOCAL_IDS[i];
        let (lrows, levents) = local_rows(db).await;
        let (nrows, nevents) = national_rows(&national, node).await;
        assert!(!lrows.is_empty(), "{node} filed nothing");
        assert_eq!(nrows.len(), lrows.len(), "{node}: dossiers");
        assert_eq!(nevents.len(), levents.len(), "{node}: events");
        assert_eq!(
            nrows, lrows,
            "{node}: status and last event of each dossier"
        );
        assert_eq!(
            nevents, levents,
            "{node}: every event once, under its number"
        );
        let refused: i64 = kernel::on_db!(db, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM dossier_outbox WHERE refused IS NOT NULL"
        ).fetch_one(c).await)
        .unwrap_or(-1);
        assert_eq!(refused, 0, "{node}: events refused");
        println!(
            "{node}: {} dossiers and {} events on the local node, {} and {} on the national node",
            lrows.len(),
            levents.len(),
            nrows.len(),
            nevents.len()
        );
        dossiers += lrows.len();
        events += levents.len();
    }
    let held: i64 = kernel::on_db!(&national, c => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(events_received - events_applied), 0) AS BIGINT) FROM federation_nodes"
    ).fetch_one(c).await)
    .unwrap_or(-1);
    assert_eq!(held, 0, "events still waiting on the national node");
    println!(
        "{b:?}: {} filings acknowledged; kills per node (national first): {killed:?}; compared {dossiers} dossiers and {events} events: equal",
        filed.load(Ordering::Relaxed)
    );
    for i in 0..=LOCALS {
        c.kill(i).await;
    }
}
