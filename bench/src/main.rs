//! `motcua-bench`: motcua's benchmarks. `search` measures the procedure search against
//! PostgreSQL full-text search (relevance, latency, throughput) and the binary's startup and
//! memory; `identity` measures password logins, bearer-token checks and OpenID Connect code exchanges;
//! `exchange` measures signed documents sent, fetched and answered through the exchange hub. Each prints its results
//! and writes them into its own section of `docs/BENCHMARKS.md`.

mod dashboards;
mod dossier;
mod exchange;
mod federation;
mod identity;
mod measure;
mod node;
mod payment;
mod postgres;
mod process;
mod queries;
mod report;
mod search;

/// The same allocator as the `motcua` binary, since the in-process phases run its code here.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "motcua-bench", about = "motcua's benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Search: motcua (in process, HTTP, binary) against PostgreSQL full-text search.
    Search {
        /// Generated procedures added to the 51 of the demo.
        #[arg(long, default_value_t = 100_000)]
        procedures: usize,
        /// Length of each load phase, in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent clients of the load phases.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// The Markdown file whose search section is written or replaced.
        #[arg(long, default_value = "docs/BENCHMARKS.md")]
        out: PathBuf,
        /// Seed of the generated procedures.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Startups timed for each kind of data folder (the median is reported).
        #[arg(long, default_value_t = 3)]
        startup_runs: usize,
        /// The motcua binary (default: `motcua` next to this program).
        #[arg(long)]
        motcua_bin: Option<PathBuf>,
    },
    /// Dossiers: submissions and tracking over HTTP on SQLite and PostgreSQL against the
    /// ceiling, and five-step lifecycles against SpiffWorkflow.
    Dossier {
        /// Length of each load phase, in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// The Markdown file whose dossier section is written or replaced.
        #[arg(long, default_value = "docs/BENCHMARKS.md")]
        out: PathBuf,
        /// A Python that has SpiffWorkflow (default: a virtual environment under `target/`,
        /// made with `python3 -m venv` and SpiffWorkflow from PyPI on first use).
        #[arg(long)]
        python: Option<PathBuf>,
        /// Leave SpiffWorkflow out.
        #[arg(long)]
        no_peer: bool,
        /// Run on one database alone (`sqlite` or `postgres`) and print the result without
        /// writing it to the file.
        #[arg(long)]
        only: Option<String>,
    },
    /// Payments: gateway confirmations (IPN) verified and applied per second, and replays.
    Payment {
        /// Pending payments, each confirmed once.
        #[arg(long, default_value_t = 3000)]
        payments: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// The Markdown file whose payment section is written or replaced.
        #[arg(long, default_value = "docs/BENCHMARKS.md")]
        out: PathBuf,
        /// Run on one database alone (`sqlite` or `postgres`) and print the result without
        /// writing it to the file.
        #[arg(long)]
        only: Option<String>,
    },
    /// Reports: the national dashboard and a province's drill-down on 10 million generated
    /// dossiers, against a plain GROUP BY over the dossier table.
    Report {
        /// Dossiers generated over the last year.
        #[arg(long, default_value_t = 10_000_000)]
        dossiers: u64,
        /// Agencies (commune People's Committees) per province.
        #[arg(long, default_value_t = 30)]
        per_province: usize,
        /// Times each question is asked of the dashboard.
        #[arg(long, default_value_t = 30)]
        requests: usize,
        /// The Markdown file whose report section is written or replaced.
        #[arg(long, default_value = "docs/BENCHMARKS.md")]
        out: PathBuf,
        /// Run on one database alone (`sqlite` or `postgres`) and print the result without
        /// writing it to the file.
        #[arg(long)]
        only: Option<String>,
    },
    /// Federation: dossier status events from three local nodes applied on the national node.
    Federation {
        /// Events in all (shared by the three nodes).
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Events a request.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// The Markdown file whose federation section is written or replaced.
        #[arg(long, default_value = "docs/BENCHMARKS.md")]
        out: PathBuf,
        /// Run on one database alone (`sqlite` or `postgres`) and print the result without
        /// writing it to the file.
        #[arg(long)]
        only: Option<String>,
    },
    /// Document exchange: signed edXML packages posted, fetched (with the hub's signed receipt)
    /// and answered with a signed status, end to end over HTTP.
    Exchange {
        /// Documents sent, each fetched and answered once.
        #[arg(long, default_value_t = 2000)]
        packages: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// The Markdown file whose exchange section is written or replaced.
        #[arg(long, default_value = "docs/BENCHMARKS.md")]
        out: PathBuf,
        /// Run on one database alone (`sqlite` or `postgres`) and print the result without
        /// writing it to the file.
        #[arg(long)]
        only: Option<String>,
    },
    /// Identity: Argon2id password checks per core, whole logins and bearer-token checks.
    Identity {
        /// Length of each measurement, in seconds.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// The Markdown file whose identity section is written or replaced.
        #[arg(long, default_value = "docs/BENCHMARKS.md")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The servers measured log nothing unless RUST_LOG asks (for example RUST_LOG=error).
    if let Ok(filter) = std::env::var("RUST_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Search {
            procedures,
            seconds,
            clients,
            out,
            seed,
            startup_runs,
            motcua_bin,
        } => {
            let mut command = format!(
                "cargo run --release -p motcua-bench -- search --procedures {procedures} --seconds {seconds} --clients {clients}"
            );
            if out.as_path() != std::path::Path::new("docs/BENCHMARKS.md") {
                command.push_str(&format!(" --out {}", out.display()));
            }
            if seed != 42 {
                command.push_str(&format!(" --seed {seed}"));
            }
            let args = search::Args {
                procedures,
                seconds,
                clients,
                out,
                seed,
                startup_runs,
                motcua_bin,
                command,
            };
            runtime.block_on(search::run(args))
        }
        Command::Dossier {
            seconds,
            clients,
            out,
            python,
            no_peer,
            only,
        } => {
            let mut command = format!(
                "cargo run --release -p motcua-bench -- dossier --seconds {seconds} --clients {clients}"
            );
            if out.as_path() != std::path::Path::new("docs/BENCHMARKS.md") {
                command.push_str(&format!(" --out {}", out.display()));
            }
            let python = if no_peer {
                Ok(None)
            } else {
                match python {
                    Some(p) => Ok(Some(p)),
                    None => dossier::spiff_python().map(Some),
                }
            };
            match python {
                Ok(python) => runtime.block_on(dossier::run(dossier::Args {
                    seconds,
                    clients,
                    out,
                    command,
                    python,
                    only,
                })),
                Err(e) => Err(e),
            }
        }
        Command::Payment {
            payments,
            clients,
            out,
            only,
        } => {
            let mut command = format!(
                "cargo run --release -p motcua-bench -- payment --payments {payments} --clients {clients}"
            );
            if out.as_path() != std::path::Path::new("docs/BENCHMARKS.md") {
                command.push_str(&format!(" --out {}", out.display()));
            }
            runtime.block_on(payment::run(payment::Args {
                payments,
                clients,
                out,
                command,
                only,
            }))
        }
        Command::Report {
            dossiers,
            per_province,
            requests,
            out,
            only,
        } => {
            let mut command = format!(
                "cargo run --release -p motcua-bench -- report --dossiers {dossiers} --per-province {per_province} --requests {requests}"
            );
            if out.as_path() != std::path::Path::new("docs/BENCHMARKS.md") {
                command.push_str(&format!(" --out {}", out.display()));
            }
            runtime.block_on(dashboards::run(dashboards::Args {
                dossiers,
                per_province,
                requests,
                out,
                command,
                only,
            }))
        }
        Command::Exchange {
            packages,
            clients,
            out,
            only,
        } => {
            let mut command = format!(
                "cargo run --release -p motcua-bench -- exchange --packages {packages} --clients {clients}"
            );
            if out.as_path() != std::path::Path::new("docs/BENCHMARKS.md") {
                command.push_str(&format!(" --out {}", out.display()));
            }
            runtime.block_on(exchange::run(exchange::Args {
                packages,
                clients,
                out,
                command,
                only,
            }))
        }
        Command::Federation {
            events,
            batch,
            out,
            only,
        } => {
            let mut command = format!(
                "cargo run --release -p motcua-bench -- federation --events {events} --batch {batch}"
            );
            if out.as_path() != std::path::Path::new("docs/BENCHMARKS.md") {
                command.push_str(&format!(" --out {}", out.display()));
            }
            runtime.block_on(federation::run(federation::Args {
                events,
                batch,
                out,
                command,
                only,
            }))
        }
        Command::Identity { seconds, out } => {
            let mut command =
                format!("cargo run --release -p motcua-bench -- identity --seconds {seconds}");
            if out.as_path() != std::path::Path::new("docs/BENCHMARKS.md") {
                command.push_str(&format!(" --out {}", out.display()));
            }
            runtime.block_on(identity::run(identity::Args {
                seconds,
                out,
                command,
            }))
        }
    };
    match result {
        Ok(section) => {
            println!("{section}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
