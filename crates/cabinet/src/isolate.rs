//! Reading and stamping PDFs away from the server.
//!
//! The PDF reader under [`crate::watermark`] can be made to overflow its stack (which aborts
//! the process) or to use memory without bound by a crafted file of a few kilobytes, and a
//! confidential paper may come from anyone who can upload one or send one through the
//! exchange hub. So the node reads and stamps PDFs in a worker: the same `motcua` binary run
//! as `motcua pdf-worker count|stamp`, the PDF on its standard input, limited to
//! [`WORKER_MEMORY_BYTES`] of address space and [`WORKER_CPU_SECONDS`] of processor time, and
//! killed after [`WORKER_SECONDS`]. A file that ends the worker is refused as damaged; the
//! server goes on.
//!
//! Without a worker (tests that start the server inside their own process), the work runs on
//! a thread of its own with a large stack; the reader's panics are already caught there.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::watermark::{self, Stamp, WatermarkError};

/// The worker's address space.
pub const WORKER_MEMORY_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// The worker's processor time.
pub const WORKER_CPU_SECONDS: u64 = 60;
/// How long the server waits for the worker.
pub const WORKER_SECONDS: u64 = 90;
/// The stack of the thread that reads PDFs when there is no worker.
const THREAD_STACK_BYTES: usize = 256 * 1024 * 1024;

/// What the worker is asked.
#[derive(Debug, Clone)]
pub enum Job {
    /// Check the PDF can be read and stamped; its page count.
    Count,
    /// The PDF stamped with these lines.
    Stamp(Stamp),
}

/// What the worker answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Pages(usize),
    Pdf(Vec<u8>),
}

fn refusal_code(e: &WatermarkError) -> &'static str {
    match e {
        WatermarkError::NotPdf => "not_pdf",
        WatermarkError::Encrypted => "encrypted",
        WatermarkError::Damaged(_) => "damaged",
        WatermarkError::TooLarge => "too_large",
        WatermarkError::TooManyPages(_) => "too_many_pages",
        WatermarkError::Empty => "empty",
        WatermarkError::EmptyStamp => "empty_stamp",
        WatermarkError::Font => "font",
        WatermarkError::Write(_) => "write",
    }
}

fn refusal_of(code: &str, detail: &str) -> WatermarkError {
    match code {
        "not_pdf" => WatermarkError::NotPdf,
        "encrypted" => WatermarkError::Encrypted,
        "too_large" => WatermarkError::TooLarge,
        "too_many_pages" => WatermarkError::TooManyPages(detail.parse().unwrap_or(0)),
        "empty" => WatermarkError::Empty,
        "empty_stamp" => WatermarkError::EmptyStamp,
        "font" => WatermarkError::Font,
        "write" => WatermarkError::Write(detail.to_string()),
        _ => WatermarkError::Damaged(detail.to_string()),
    }
}

fn run_here(job: &Job, pdf: &[u8]) -> Result<Output, WatermarkError> {
    match job {
        Job::Count => watermark::page_count(pdf).map(Output::Pages),
        Job::Stamp(s) => watermark::stamp(pdf, s, crate::FONT).map(Output::Pdf),
    }
}

/// Runs `job` on `pdf`: in the worker `exe` when given, else on a thread of its own.
pub async fn run(exe: Option<&Path>, job: Job, pdf: Vec<u8>) -> Result<Output, WatermarkError> {
    if pdf.len() > watermark::MAX_PDF_BYTES {
        return Err(WatermarkError::TooLarge);
    }
    match exe {
        Some(exe) => run_worker(exe, &job, pdf).await,
        None => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let spawned = std::thread::Builder::new()
                .name("pdf".into())
                .stack_size(THREAD_STACK_BYTES)
                .spawn(move || {
                    let _ = tx.send(run_here(&job, &pdf));
                });
            if let Err(e) = spawned {
                return Err(WatermarkError::Damaged(format!(
                    "no thread to read it: {e}"
                )));
            }
            rx.await
                .unwrap_or_else(|_| Err(WatermarkError::Damaged("the reading stopped".into())))
        }
    }
}

async fn run_worker(exe: &Path, job: &Job, pdf: Vec<u8>) -> Result<Output, WatermarkError> {
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("pdf-worker");
    match job {
        Job::Count => {
            cmd.arg("count");
        }
        Job::Stamp(s) => {
            cmd.arg("stamp");
            for l in &s.lines {
                cmd.arg("--line").arg(l);
            }
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let failed = |what: String| WatermarkError::Damaged(what);
    let mut child = cmd
        .spawn()
        .map_err(|e| failed(format!("the PDF worker did not start: {e}")))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| failed("the PDF worker has no input".into()))?;
    // Written while the output is read, so neither side waits on a full pipe.
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&pdf).await;
        let _ = stdin.shutdown().await;
    });
    let out = tokio::time::timeout(
        Duration::from_secs(WORKER_SECONDS),
        child.wait_with_output(),
    )
    .await;
    writer.abort();
    let out = match out {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(failed(format!("the PDF worker failed: {e}"))),
        Err(_) => return Err(failed("reading the PDF took too long".into())),
    };
    if out.status.success() {
        return match job {
            Job::Count => String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .map(Output::Pages)
                .map_err(|_| failed("the PDF worker answered nonsense".into())),
            Job::Stamp(_) => Ok(Output::Pdf(out.stdout)),
        };
    }
    let err = String::from_utf8_lossy(&out.stderr);
    // A refusal is the last line: `refused <code> <detail>`; anything else is a crash.
    match err.lines().rev().find_map(|l| l.strip_prefix("refused ")) {
        Some(rest) => {
            let (code, detail) = rest.split_once(' ').unwrap_or((rest, ""));
            Err(refusal_of(code, detail))
        }
        None => Err(failed(
            "the file stopped the PDF reader (too deep, too large or malformed)".into(),
        )),
    }
}

/// The worker's side: limits itself, reads the PDF from standard input, writes the answer
/// to standard output. Answers the process's exit code.
pub fn worker_main(job: &str, lines: &[String]) -> i32 {
    use std::io::{Read, Write};
    // Limits first, before the file is read. A system that refuses them still gets the
    // parent's time limit.
    let _ = rlimit::setrlimit(
        rlimit::Resource::AS,
        WORKER_MEMORY_BYTES,
        WORKER_MEMORY_BYTES,
    );
    let _ = rlimit::setrlimit(
        rlimit::Resource::CPU,
        WORKER_CPU_SECONDS,
        WORKER_CPU_SECONDS,
    );
    let job = match job {
        "count" => Job::Count,
        "stamp" => Job::Stamp(Stamp {
            lines: lines.to_vec(),
        }),
        other => {
            eprintln!("unknown job {other}");
            return 2;
        }
    };
    let mut pdf = Vec::new();
    let limit = u64::try_from(watermark::MAX_PDF_BYTES).unwrap_or(u64::MAX) + 1;
    if let Err(e) = std::io::stdin().take(limit).read_to_end(&mut pdf) {
        eprintln!("refused damaged cannot read the input: {e}");
        return 3;
    }
    match run_here(&job, &pdf) {
        Ok(Output::Pages(n)) => {
            println!("{n}");
            0
        }
        Ok(Output::Pdf(b)) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(&b).and_then(|_| out.flush()).is_err() {
                return 4;
            }
            0
        }
        Err(e) => {
            let detail = match &e {
                WatermarkError::Damaged(d) | WatermarkError::Write(d) => d.replace('\n', " "),
                WatermarkError::TooManyPages(n) => n.to_string(),
                _ => String::new(),
            };
            eprintln!("refused {} {detail}", refusal_code(&e));
            3
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_back_as_they_were() {
        for e in [
            WatermarkError::NotPdf,
            WatermarkError::Encrypted,
            WatermarkError::TooLarge,
            WatermarkError::Empty,
            WatermarkError::EmptyStamp,
            WatermarkError::Font,
        ] {
            let back = refusal_of(refusal_code(&e), "");
            assert_eq!(back.to_string(), e.to_string());
        }
        assert!(matches!(
            refusal_of("too_many_pages", "2500"),
            WatermarkError::TooManyPages(2500)
        ));
        assert!(matches!(
            refusal_of("whatever", "x"),
            WatermarkError::Damaged(_)
        ));
    }
}
