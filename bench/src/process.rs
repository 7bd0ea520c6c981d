//! The motcua binary as a child process: starting it, timing it to its first healthy answer,
//! reading its resident memory, and killing it whatever happens (a guard kills on drop).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Longest wait for a server to answer `/healthz`.
const READY_TIMEOUT: Duration = Duration::from_secs(600);
const POLL_EVERY: Duration = Duration::from_millis(10);

/// A running `motcua serve`; killed and reaped when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Asks the child to stop (SIGTERM, so it closes its database and index), waits up to five
/// seconds, then kills it; always reaps it.
fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stderr(Stdio::null())
        .status();
    for _ in 0..500 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Server {
    /// Stops the server (see [`terminate`]).
    pub fn stop(mut self) {
        terminate(&mut self.child);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        status_kib(self.pid(), "VmRSS:")
    }

    /// Peak resident memory so far, in KiB.
    pub fn hwm_kib(&self) -> anyhow::Result<u64> {
        status_kib(self.pid(), "VmHWM:")
    }

    /// Whether the server's log so far holds `needle` (e.g. that it rebuilt its index).
    pub fn log_contains(&self, needle: &str) -> bool {
        std::fs::read_to_string(&self.log).is_ok_and(|t| t.contains(needle))
    }

    /// The end of the server's log, for error messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// Reads a `kB` line of `/proc/<pid>/status`.
fn status_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("cannot read /proc/<pid>/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {key} in /proc/{pid}/status"))
}

/// The `motcua` binary next to this one (both are built into `target/release`).
pub fn motcua_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .context("cannot tell where this program is")?
            .parent()
            .context("this program has no folder")?
            .join("motcua"),
    };
    if !path.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p motcua` (or pass --motcua-bin)",
            path.display()
        );
    }
    Ok(path)
}

/// A free port on the loopback interface.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `motcua --data <data> serve [--demo] --listen 127.0.0.1:<free port>` and waits for the
/// first 200 from `/healthz`, polling every 10 ms. Returns the server and the time from spawn to
/// that answer.
pub async fn start(
    bin: &Path,
    data: &Path,
    demo: bool,
    logs: &Path,
) -> anyhow::Result<(Server, Duration)> {
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let log = logs.join(format!("motcua-{port}.log"));
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut cmd = Command::new(bin);
    cmd.arg("--data")
        .arg(data)
        .arg("serve")
        .arg("--listen")
        .arg(&addr);
    if demo {
        cmd.arg("--demo");
    }
    // The child must use the SQLite file of its data folder, whatever this shell points at.
    cmd.env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let url = format!("http://{addr}/healthz");
    let started = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let mut server = Server { child, addr, log };
    // Bounded by time and by count (a poll takes at least POLL_EVERY).
    let max_polls = READY_TIMEOUT.as_millis() / POLL_EVERY.as_millis();
    for _ in 0..max_polls {
        if let Ok(r) = client.get(&url).send().await
            && r.status() == reqwest::StatusCode::OK
        {
            return Ok((server, started.elapsed()));
        }
        if let Some(status) = server.child.try_wait()? {
            bail!(
                "motcua exited ({status}) before answering /healthz:\n{}",
                server.log_tail()
            );
        }
        if started.elapsed() > READY_TIMEOUT {
            break;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    bail!(
        "motcua did not answer /healthz within {READY_TIMEOUT:?}:\n{}",
        server.log_tail()
    )
}

/// Samples a process's resident memory every 100 ms until told to stop; returns the peak (KiB).
pub fn sample_rss(
    pid: u32,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<u64>,
) {
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut peak = 0;
        // Bounded: at most an hour of samples.
        for _ in 0..36_000 {
            if let Ok(kib) = status_kib(pid, "VmRSS:") {
                peak = peak.max(kib);
            }
            tokio::select! {
                _ = &mut rx => break,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        if let Ok(kib) = status_kib(pid, "VmRSS:") {
            peak = peak.max(kib);
        }
        peak
    });
    (tx, task)
}
