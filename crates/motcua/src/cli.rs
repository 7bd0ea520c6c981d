//! Command-line parsing and the commands themselves.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use catalog::import::{self, Format};
use kernel::Problem;
use kernel::calendar::{DayKind, SpecialDay};
use kernel::clock::{Clock, SystemClock};
use kernel::config::{Config, LogFormat, Overrides};
use motcua::Application;
use motcua::app::{self, BuildOptions};

#[derive(Parser)]
#[command(
    name = "motcua",
    version,
    about = "motcua: e-government one-stop platform / nền tảng một cửa điện tử"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Data folder: SQLite database, blobs, search index.
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Database URL (sqlite://... or postgres://...); default: the SQLite file in the data folder.
    #[arg(long, global = true, value_name = "URL", env = "DATABASE_URL")]
    database: Option<String>,
    /// Configuration file (TOML); default: <data>/motcua.toml when present.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFmt>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFmt {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Reads or stamps the PDF on standard input in a process of its own (the server runs
    /// it; not for people).
    #[command(hide = true)]
    PdfWorker {
        /// `count` or `stamp`.
        job: String,
        /// A line of the stamp.
        #[arg(long)]
        line: Vec<String>,
    },
    /// Run the HTTP server.
    Serve {
        /// Load the demo catalogue first (idempotent).
        #[arg(long)]
        demo: bool,
        /// Address to listen on.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Bring the database schema and shipped reference data up to date.
    Migrate,
    /// Load the demo catalogue.
    Demo,
    /// Show the configuration in force.
    Config {
        #[command(subcommand)]
        what: ConfigCmd,
    },
    /// The procedure catalogue.
    Catalog {
        #[command(subcommand)]
        what: CatalogCmd,
    },
    /// The working-day calendar.
    Calendar {
        #[command(subcommand)]
        what: CalendarCmd,
    },
    /// Accounts, roles and tokens.
    User {
        #[command(subcommand)]
        what: UserCmd,
    },
    /// The audit chain.
    Audit {
        #[command(subcommand)]
        what: AuditCmd,
    },
    /// The OpenID Connect provider: clients and signing keys.
    Oidc {
        #[command(subcommand)]
        what: OidcCmd,
    },
    /// The report roll-ups.
    Report {
        #[command(subcommand)]
        what: ReportCmd,
    },
    /// The document exchange hub: send a signed edXML package from files, or check one.
    Exchange {
        #[command(subcommand)]
        what: ExchangeCmd,
    },
    /// Feedback: the areas communes serve, and the Open311 API keys.
    Feedback {
        #[command(subcommand)]
        what: FeedbackCmd,
    },
    /// The federation, on a national node: the local nodes, their lag, and the operator's
    /// decisions.
    Federation {
        #[command(subcommand)]
        what: FederationCmd,
    },
    /// A national node and local nodes on this machine, for trying the federation out.
    Cluster {
        #[command(subcommand)]
        what: ClusterCmd,
    },
}

#[derive(Subcommand)]
enum FederationCmd {
    /// The local nodes known here, with their status and lag.
    Nodes,
    /// Lets a registered node push its dossiers.
    Approve { node: String },
    /// Stops taking a node's calls.
    Suspend { node: String },
    /// Takes a suspended node's calls again.
    Resume { node: String },
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// Starts a national node and local nodes on loopback, each with the demo data in a
    /// folder of its own, approves the local nodes, and runs until Ctrl-C.
    Up {
        /// How many local nodes (1 to 9).
        #[arg(long, default_value_t = 3)]
        locals: usize,
        /// The folder that holds every node's folder.
        #[arg(long, default_value = "cluster")]
        dir: std::path::PathBuf,
        /// The national node's port; the local nodes take the ports after it.
        #[arg(long, default_value_t = 8100)]
        port: u16,
    },
}

#[derive(Subcommand)]
enum FeedbackCmd {
    /// Set the area a commune serves from a GeoJSON file (a Polygon or MultiPolygon, or a
    /// Feature holding one, WGS 84) and the agency that handles the reports filed there.
    Area {
        /// The commune's code (5 digits).
        #[arg(long)]
        unit: String,
        /// The handling agency's code.
        #[arg(long)]
        agency: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Make an Open311 API key for a system; it is printed once.
    Key {
        /// The system that files with it.
        #[arg(long)]
        name: String,
        /// Whom to call about it.
        #[arg(long)]
        contact: String,
    },
    /// List the Open311 API keys (never the keys themselves).
    Keys,
}

#[derive(Subcommand)]
enum ExchangeCmd {
    /// Hand a package to this node's hub, as its sender: it is checked as one from the API
    /// (parsed, signature verified against the registry, recipients known, no replay).
    /// Without `--signature`, the sending agency's key that the node keeps signs it.
    Send {
        /// The edXML package.
        #[arg(long)]
        package: PathBuf,
        /// Its detached CMS signature (DER or PEM), made by the sending agency.
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Where to write the signature made here.
        #[arg(long)]
        signature_out: Option<PathBuf>,
    },
    /// Check a package and its detached signature: the package parses, the signature holds
    /// over its bytes, and (against this node's registry, unless `--certificate` is given)
    /// the signing certificate is the sender's, valid and not revoked. Exits 1 if not.
    Verify {
        #[arg(long)]
        package: PathBuf,
        #[arg(long)]
        signature: PathBuf,
        /// Check against this certificate (PEM) instead of the registry.
        #[arg(long)]
        certificate: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReportCmd {
    /// Recompute every roll-up from the dossiers, in one transaction (changes of dossiers
    /// wait for it).
    Rebuild,
    /// Compare the roll-ups with their recomputation from the dossiers; exits with 1 when
    /// they differ.
    Check,
    /// Send the periodic-report reminders due now (a running node sends them every hour).
    Remind,
}

#[derive(Subcommand)]
enum OidcCmd {
    /// Register a client. Prints its id and, for a confidential or machine client, its secret
    /// (shown this once).
    ClientAdd {
        #[arg(long)]
        name: String,
        /// Where the browser returns with a code; repeat for several. Matched exactly.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Where the browser may go after logging out; repeat for several.
        #[arg(long = "post-logout-uri")]
        post_logout_uris: Vec<String>,
        /// Repeat: openid, profile, email, phone, cccd, and API scopes (catalog:read, ...).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// A public client (no secret; PKCE only), such as a mobile app.
        #[arg(long)]
        public: bool,
        /// A machine client: another system using client credentials.
        #[arg(long)]
        machine: bool,
        /// The agency that runs it.
        #[arg(long)]
        agency: Option<String>,
    },
    /// List the registered clients.
    ClientList,
    /// Turn a client off (its tokens are revoked) or back on.
    ClientDisable {
        client_id: String,
        #[arg(long)]
        enable: bool,
    },
    /// Make a new signing key; the old ones stay published for 48 hours.
    RotateKey,
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print the configuration, secrets masked.
    Show,
}

#[derive(Clone, Copy, ValueEnum)]
enum FileFormat {
    Json,
    Csv,
}

#[derive(Subcommand)]
enum CatalogCmd {
    /// Import fields, agencies and procedures from a JSON or CSV file; refused whole if any
    /// record is bad.
    Import {
        file: PathBuf,
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
    },
    /// Export the catalogue (JSON: everything; CSV: procedures).
    Export {
        #[arg(long, value_enum, default_value = "json")]
        format: FileFormat,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Add generated procedures for scale tests (over the existing fields and agencies).
    Generate {
        #[arg(long)]
        procedures: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Rebuild the search index from the database.
    Reindex,
}

#[derive(Subcommand)]
enum CalendarCmd {
    /// List the holidays, days off and swapped working days of a year.
    List {
        #[arg(long)]
        year: Option<i32>,
    },
    /// Set one day (an administrator's edit, recorded in the audit chain).
    Set {
        date: NaiveDate,
        /// holiday, day_off, working_day or normal
        kind: String,
        #[arg(long)]
        name_vi: String,
        #[arg(long)]
        name_en: String,
        #[arg(long, default_value = "")]
        source: String,
        /// Who makes the edit.
        #[arg(long, default_value = "cli")]
        by: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Citizen,
    Business,
    Official,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create an account; the password is read from standard input (one line).
    Add {
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Officials' login.
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        name: String,
        /// Citizens: personal identification number.
        #[arg(long)]
        cccd: Option<String>,
        /// Citizens: date of birth (YYYY-MM-DD).
        #[arg(long)]
        birth_date: Option<NaiveDate>,
        /// Citizens: male or female.
        #[arg(long)]
        sex: Option<String>,
        /// Businesses: tax code.
        #[arg(long)]
        tax_code: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Identity assurance level: 1 self-declared, 2 verified in person.
        #[arg(long, default_value_t = 1)]
        assurance: u8,
    },
    /// List accounts and their roles.
    List,
    /// Give an official a role (in an agency, except national roles).
    Grant {
        login: String,
        role: String,
        #[arg(long)]
        agency: Option<String>,
    },
    /// Take a role back.
    Revoke {
        login: String,
        role: String,
        #[arg(long)]
        agency: Option<String>,
    },
    /// Let a citizen act for a business (or stop it, with --remove).
    Represent {
        /// The business's tax code.
        tax_code: String,
        /// The citizen's personal identification number.
        cccd: String,
        #[arg(long)]
        remove: bool,
    },
    /// Print a bearer token for scripts and integrators.
    Token {
        login: String,
        /// Repeat for several.
        #[arg(long = "scope", required = true, value_parser = clap::builder::PossibleValuesParser::new(identity::authz::SCOPES))]
        scopes: Vec<String>,
        #[arg(long, default_value_t = 30)]
        days: i64,
        #[arg(long, default_value = "cli")]
        label: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check every entry's hash.
    Verify,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::PdfWorker { job, line } = &cli.command {
        let code = cabinet::isolate::worker_main(job, line);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
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
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(g: &Global, listen: Option<std::net::SocketAddr>) -> anyhow::Result<Config> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let overrides = Overrides {
        data_dir: g.data.clone(),
        database_url: g.database.clone(),
        listen,
        log_format: g.log_format.map(|f| match f {
            LogFmt::Human => LogFormat::Human,
            LogFmt::Json => LogFormat::Json,
        }),
    };
    Config::load(g.config.as_deref(), &env, &overrides)
        .map_err(|e| anyhow::anyhow!("{}", e.message_en()))
}

fn init_tracing(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tantivy=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let listen = match &cli.command {
        Command::Serve { listen, .. } => *listen,
        _ => None,
    };
    let config = load_config(&cli.global, listen)?;
    init_tracing(config.log_format, &config.log_filter);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match cli.command {
        Command::Serve { demo, .. } => {
            let started = std::time::Instant::now();
            let history = config.demo_history;
            let app = Application::build(
                config,
                BuildOptions {
                    demo,
                    clock,
                    index_in_memory: false,
                    pdf_worker: std::env::current_exe().ok(),
                },
            )
            .await?;
            if demo {
                app::seed_demo_exchange(app.state()).await?;
                if cabinet::demo::seed_published(&app.state().cabinet)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("creating the demo's published ballot failed: {e}")
                    })?
                {
                    tracing::info!("demo published ballot created");
                }
                let n = app::seed_demo_history(app.state(), history).await?;
                if n > 0 {
                    tracing::info!(dossiers = n, "demo history generated");
                }
            }
            let addr = app.local_addr()?;
            tracing::info!(%addr, ready_ms = started.elapsed().as_millis() as u64, "motcua is ready");
            eprintln!("motcua: http://{addr}/");
            app.run_until(shutdown_signal()).await?;
        }
        Command::Migrate => {
            app::open_database(&config).await?;
            eprintln!("migrations applied / đã cập nhật cơ sở dữ liệu");
        }
        Command::Demo => {
            let state = app::open_state(
                config,
                &BuildOptions {
                    demo: true,
                    clock,
                    index_in_memory: false,
                    pdf_worker: std::env::current_exe().ok(),
                },
            )
            .await?;
            app::seed_demo_exchange(&state).await?;
            app::seed_demo_history(&state, state.config.demo_history).await?;
            let n = catalog::store::procedure_count(&state.db).await?;
            eprintln!("demo loaded / đã nạp dữ liệu mẫu: {n} procedures");
        }
        Command::Config {
            what: ConfigCmd::Show,
        } => {
            print!("{}", config.to_masked_toml());
        }
        Command::Catalog { what } => catalog_cmd(config, clock, what).await?,
        Command::Calendar { what } => calendar_cmd(config, clock, what).await?,
        Command::User { what } => user_cmd(config, clock, what).await?,
        Command::Oidc { what } => oidc_cmd(config, clock, what).await?,
        Command::Report { what } => report_cmd(config, clock, what).await?,
        Command::Exchange { what } => exchange_cmd(config, clock, what).await?,
        Command::Feedback { what } => feedback_cmd(config, clock, what).await?,
        Command::Federation { what } => federation_cmd(config, what).await?,
        Command::Cluster {
            what: ClusterCmd::Up { locals, dir, port },
        } => cluster_up(locals, dir, port).await?,
        // Handled in `main`, before any runtime or configuration.
        Command::PdfWorker { .. } => {}
        Command::Audit {
            what: AuditCmd::Verify,
        } => {
            let db = app::open_database(&config).await?;
            let n = kernel::audit::verify(&db)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message_en()))?;
            println!("audit chain intact / chuỗi nhật ký nguyên vẹn: {n} entries");
        }
    }
    Ok(())
}

/// A signature file as DER: PEM (`-----BEGIN PKCS7-----` or `CMS`) is decoded.
fn signature_der(bytes: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(bytes);
    };
    if !text.trim_start().starts_with("-----BEGIN") {
        return Ok(bytes);
    }
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| anyhow::anyhow!("the signature's PEM is not base64: {e}"))
}

/// The node's state for a command that needs the database alone (the search index stays
/// with the running node).
async fn db_state(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<motcua::AppState> {
    app::open_state(
        config,
        &BuildOptions {
            demo: false,
            clock,
            index_in_memory: true,
            pdf_worker: std::env::current_exe().ok(),
        },
    )
    .await
}

/// A crate's error as the command line says it: both languages, then each detail.
fn problem<E: kernel::Problem>(e: E) -> anyhow::Error {
    let details: Vec<String> = e
        .details()
        .into_iter()
        .map(|d| format!("\n  {}: {} / {}", d.at, d.vi, d.en))
        .collect();
    anyhow::anyhow!(
        "{} / {}{}",
        e.message_vi(),
        e.message_en(),
        details.concat()
    )
}

async fn feedback_cmd(
    config: Config,
    clock: Arc<dyn Clock>,
    what: FeedbackCmd,
) -> anyhow::Result<()> {
    let state = db_state(config, clock).await?;
    let f = &state.feedback;
    match what {
        FeedbackCmd::Area { unit, agency, file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let geometry: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", file.display()))?;
            let spec = feedback::areas::AreaSpec {
                agency_code: agency,
                geometry,
            };
            let a = f
                .set_area("system:cli", &unit, &spec)
                .await
                .map_err(problem)?;
            println!("{}", serde_json::to_string_pretty(&a)?);
        }
        FeedbackCmd::Key { name, contact } => {
            let k = f
                .issue_key(
                    "cli",
                    "system:cli",
                    &feedback::keys::KeyRequest { name, contact },
                )
                .await
                .map_err(problem)?;
            println!("{}", serde_json::to_string_pretty(&k)?);
        }
        FeedbackCmd::Keys => {
            let keys = f.keys().await.map_err(problem)?;
            println!("{}", serde_json::to_string_pretty(&keys)?);
        }
    }
    Ok(())
}

async fn exchange_cmd(
    config: Config,
    clock: Arc<dyn Clock>,
    what: ExchangeCmd,
) -> anyhow::Result<()> {
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
    };
    let fail = problem::<exchange::ExchangeError>;
    match what {
        ExchangeCmd::Verify {
            package,
            signature,
            certificate,
        } => {
            let bytes = read(&package)?;
            let sig = signature_der(read(&signature)?)?;
            if let Some(cert) = certificate {
                let pem = String::from_utf8(read(&cert)?)
                    .map_err(|_| anyhow::anyhow!("the certificate is not PEM text"))?;
                let c = exchange::verify_offline(&bytes, &sig, &pem).map_err(fail)?;
                println!("{}", serde_json::to_string_pretty(&c)?);
                return Ok(());
            }
            let state = db_state(config, clock).await?;
            let c = state.exchange.verify(&bytes, &sig).await.map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&c)?);
            println!("the package and its signature hold / gói tin và chữ ký số hợp lệ");
        }
        ExchangeCmd::Send {
            package,
            signature,
            signature_out,
        } => {
            let state = db_state(config, clock).await?;
            let bytes = read(&package)?;
            let sig = match signature {
                Some(s) => signature_der(read(&s)?)?,
                None => state.exchange.sign_as_sender(&bytes).await.map_err(fail)?,
            };
            if let Some(out) = signature_out {
                std::fs::write(&out, &sig)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
            }
            let d = state
                .exchange
                .accept_as(None, "system:cli", &bytes, &sig)
                .await
                .map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&d)?);
        }
    }
    Ok(())
}

async fn report_cmd(config: Config, clock: Arc<dyn Clock>, what: ReportCmd) -> anyhow::Result<()> {
    // The search index stays with the running node: this needs the database alone.
    let state = app::open_state(
        config,
        &BuildOptions {
            demo: false,
            clock,
            index_in_memory: true,
            pdf_worker: std::env::current_exe().ok(),
        },
    )
    .await?;
    let fail = |e: report::ReportError| anyhow::anyhow!("{}", e.message_en());
    match what {
        ReportCmd::Rebuild => {
            let r = state.reports.rebuild().await.map_err(fail)?;
            println!(
                "report roll-ups rebuilt / đã tính lại số liệu tổng hợp: {} cells, {} agency days, {} agency months, {} open cells in {} ms",
                r.cells, r.agency_days, r.agency_months, r.open_cells, r.millis
            );
        }
        ReportCmd::Check => {
            let c = state.reports.check().await.map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&c)?);
            if !c.agrees() {
                bail!(
                    "the roll-ups differ from the dossiers / số liệu tổng hợp lệch với hồ sơ: run `motcua report rebuild`"
                );
            }
            println!("report roll-ups agree with the dossiers / số liệu tổng hợp khớp với hồ sơ");
        }
        ReportCmd::Remind => {
            let n = state.reports.remind().await.map_err(fail)?;
            println!("{n} reminder(s) queued / đã xếp {n} thư nhắc vào hàng đợi");
        }
    }
    Ok(())
}

async fn catalog_cmd(
    config: Config,
    clock: Arc<dyn Clock>,
    what: CatalogCmd,
) -> anyhow::Result<()> {
    let state = cli_state(config, clock).await?;
    let cat = &state.catalog;
    match what {
        CatalogCmd::Import { file, format } => {
            let format = match format {
                Some(FileFormat::Json) => Format::Json,
                Some(FileFormat::Csv) => Format::Csv,
                None => Format::of_path(&file)
                    .context("cannot tell the format from the file name: give --format json|csv")?,
            };
            const MAX_BYTES: u64 = 512 * 1024 * 1024;
            let size = std::fs::metadata(&file)
                .with_context(|| format!("cannot read {}", file.display()))?
                .len();
            if size > MAX_BYTES {
                bail!(
                    "{} is {size} bytes; split it into files of at most 512 MiB / tệp quá lớn, hãy chia nhỏ",
                    file.display()
                );
            }
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let parsed = match import::parse(&bytes, format) {
                Ok(p) => p,
                Err(problems) => return refuse(&file, &problems),
            };
            let total = parsed.file.procedures.len() as u64;
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} procedures ({eta})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            if total < 1000 {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let progress = |n: usize| bar.set_position(n as u64);
            let result = cat.import(&parsed, "cli", &progress).await;
            bar.finish_and_clear();
            match result {
                Ok(r) => println!(
                    "imported / đã nhập: {} fields, {} agencies, {} new procedures, {} revised, {} unchanged",
                    r.fields_written,
                    r.agencies_written,
                    r.procedures_added,
                    r.procedures_revised,
                    r.procedures_unchanged
                ),
                Err(catalog::CatalogError::Rejected(problems)) => return refuse(&file, &problems),
                Err(e) => bail!("{}", e.message_en()),
            }
        }
        CatalogCmd::Export { format, output } => {
            let file = cat.export().await?;
            let text = match format {
                FileFormat::Json => serde_json::to_string_pretty(&file)?,
                FileFormat::Csv => import::to_csv(&file.procedures)?,
            };
            match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{text}"),
            }
        }
        CatalogCmd::Generate { procedures, seed } => {
            let lookup = cat.lookup();
            let fields: Vec<String> = lookup.fields.keys().cloned().collect();
            let agencies: Vec<kernel::ids::AgencyCode> = lookup
                .agencies
                .values()
                .map(|a| a.spec.code.clone())
                .collect();
            if fields.is_empty() || agencies.is_empty() {
                bail!("no fields or agencies yet: run `motcua demo` or import them first");
            }
            let generated = catalog::generate::procedures(procedures, seed, &fields, &agencies);
            let parsed = import::Parsed {
                procedure_lines: (1..=generated.len()).collect(),
                file: catalog::model::CatalogFile {
                    procedures: generated,
                    ..Default::default()
                },
                ..Default::default()
            };
            let bar = indicatif::ProgressBar::new(procedures as u64);
            let progress = |n: usize| bar.set_position(n as u64);
            let r = cat
                .import(&parsed, "cli:generate", &progress)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message_en()))?;
            bar.finish_and_clear();
            println!(
                "generated / đã tạo: {} new, {} revised, {} unchanged",
                r.procedures_added, r.procedures_revised, r.procedures_unchanged
            );
        }
        CatalogCmd::Reindex => {
            let n = cat
                .rebuild_index()
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message_en()))?;
            println!("index rebuilt / đã lập lại chỉ mục: {n} procedures");
        }
    }
    Ok(())
}

fn refuse(file: &std::path::Path, problems: &[kernel::ProblemDetail]) -> anyhow::Result<()> {
    eprintln!(
        "{}: refused / bị từ chối; the catalogue is unchanged / danh mục không thay đổi",
        file.display()
    );
    for p in problems {
        eprintln!("  {}: {} / {}", p.at, p.en, p.vi);
    }
    bail!("{} bad records / bản ghi không hợp lệ", problems.len())
}

async fn calendar_cmd(
    config: Config,
    clock: Arc<dyn Clock>,
    what: CalendarCmd,
) -> anyhow::Result<()> {
    let db = app::open_database(&config).await?;
    match what {
        CalendarCmd::List { year } => {
            let cal = kernel::calendar::store::load(&db, Default::default()).await?;
            let year = year.unwrap_or_else(|| {
                kernel::clock::to_local(clock.now())
                    .date()
                    .format("%Y")
                    .to_string()
                    .parse()
                    .unwrap_or(2026)
            });
            for d in cal.year(year) {
                println!(
                    "{}\t{}\t{}\t{}",
                    d.date,
                    d.kind.as_str(),
                    d.name_vi,
                    d.source
                );
            }
        }
        CalendarCmd::Set {
            date,
            kind,
            name_vi,
            name_en,
            source,
            by,
        } => {
            let kind = DayKind::parse(&kind)
                .context("kind must be holiday, day_off, working_day or normal")?;
            kernel::calendar::store::set_day(
                &db,
                &SpecialDay {
                    date,
                    kind,
                    name_vi,
                    name_en,
                    source,
                },
                &format!("cli:{by}"),
                clock.now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message_en()))?;
            println!("{date} set / đã cập nhật");
        }
    }
    Ok(())
}

fn identity_err(e: identity::IdentityError) -> anyhow::Error {
    let details: Vec<String> = e
        .details()
        .into_iter()
        .map(|d| format!("\n  {}: {} / {}", d.at, d.en, d.vi))
        .collect();
    anyhow::anyhow!(
        "{} / {}{}",
        e.message_en(),
        e.message_vi(),
        details.concat()
    )
}

/// The node's state for a command that reads or changes accounts and clients.
async fn federation_cmd(config: Config, what: FederationCmd) -> anyhow::Result<()> {
    let db = app::open_database(&config).await?;
    let decision = match &what {
        FederationCmd::Nodes => None,
        FederationCmd::Approve { node } => Some((node, federation::NodeMove::Approve)),
        FederationCmd::Suspend { node } => Some((node, federation::NodeMove::Suspend)),
        FederationCmd::Resume { node } => Some((node, federation::NodeMove::Resume)),
    };
    if let Some((node, m)) = decision {
        federation::national::set_status(&db, chrono::Utc::now(), "cli", node, m)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let nodes = federation::national::list_nodes(&db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{:<20} {:<10} {:>10} {:>10} {:>6} {:>9} {:>10}  last batch",
        "node", "status", "received", "applied", "held", "dossiers", "lag ms"
    );
    for n in nodes {
        println!(
            "{:<20} {:<10} {:>10} {:>10} {:>6} {:>9} {:>10}  {}",
            n.id,
            n.status,
            n.events_received,
            n.events_applied,
            n.events_held,
            n.dossiers,
            n.last_lag_ms.map(|l| l.to_string()).unwrap_or_default(),
            n.last_batch_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        );
    }
    db.close().await;
    Ok(())
}

async fn cluster_up(locals: usize, dir: std::path::PathBuf, port: u16) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    eprintln!(
        "starting a national node and {locals} local nodes under {} …",
        dir.display()
    );
    let mut nodes = motcua::cluster::up(&exe, &dir, port, locals).await?;
    for n in &nodes {
        eprintln!(
            "  {:<14} {}/   (log: {})",
            n.id,
            n.url,
            n.dir.join("motcua.log").display()
        );
    }
    eprintln!(
        "the local nodes are approved and push their dossiers to the national node; its operator (vanhanh / {}) sees them at {}/api/v1/federation/nodes. Ctrl-C stops them all.",
        identity::demo::PASSWORD,
        nodes.first().map(|n| n.url.as_str()).unwrap_or_default()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    for n in &mut nodes {
        let _ = n.child.start_kill();
    }
    for n in &mut nodes {
        let _ = n.child.wait().await;
    }
    Ok(())
}

async fn cli_state(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<motcua::AppState> {
    app::open_state(
        config,
        &BuildOptions {
            demo: false,
            clock,
            index_in_memory: false,
            pdf_worker: std::env::current_exe().ok(),
        },
    )
    .await
}

async fn user_cmd(config: Config, clock: Arc<dyn Clock>, what: UserCmd) -> anyhow::Result<()> {
    use identity::{AccountKind, Role};
    // Accounts and tokens are managed beside a running node.
    let state = db_state(config, clock).await?;
    let id = &state.identity;
    match what {
        UserCmd::Add {
            kind,
            username,
            name,
            cccd,
            birth_date,
            sex,
            tax_code,
            email,
            phone,
            assurance,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let cccd = cccd
                .map(|c| kernel::ids::Cccd::parse(&c))
                .transpose()
                .map_err(|e| anyhow::anyhow!("{} / {}", e.en, e.vi))?;
            let tax_code = tax_code
                .map(|t| kernel::ids::TaxCode::parse(&t))
                .transpose()
                .map_err(|e| anyhow::anyhow!("{} / {}", e.en, e.vi))?;
            let sex = match sex.as_deref() {
                None => None,
                Some("male") => Some(kernel::ids::Sex::Male),
                Some("female") => Some(kernel::ids::Sex::Female),
                Some(other) => bail!("--sex must be male or female, not {other}"),
            };
            let new = identity::NewAccount {
                kind: match kind {
                    KindArg::Citizen => AccountKind::Citizen,
                    KindArg::Business => AccountKind::Business,
                    KindArg::Official => AccountKind::Official,
                },
                username,
                full_name: name,
                cccd,
                tax_code,
                birth_date,
                sex,
                phone,
                email,
                password,
                assurance,
            };
            let a = id.create_account(&new, "cli").await.map_err(identity_err)?;
            println!("created / đã tạo: {} ({}) {}", a.login, a.kind, a.id);
        }
        UserCmd::List => {
            for (a, grants) in id.accounts().await.map_err(identity_err)? {
                let roles: Vec<String> = grants
                    .iter()
                    .map(|g| match &g.agency {
                        Some(ag) => format!("{}@{ag}", g.role.as_str()),
                        None => g.role.as_str().to_string(),
                    })
                    .collect();
                println!(
                    "{}\t{}\t{}\t{}",
                    a.login,
                    a.kind,
                    a.full_name,
                    roles.join(",")
                );
            }
        }
        UserCmd::Grant {
            login,
            role,
            agency,
        }
        | UserCmd::Revoke {
            login,
            role,
            agency,
        } if Role::parse(&role).is_none() => {
            let _ = (login, agency);
            bail!(
                "unknown role {role}: one of reception, specialist, department_head, agency_leader, agency_admin, national_operator, system_admin"
            );
        }
        UserCmd::Grant {
            login,
            role,
            agency,
        } => {
            let role = Role::parse(&role).context("unknown role")?;
            if let Some(a) = &agency
                && !state.catalog.lookup().agencies.contains_key(a)
            {
                bail!("no agency has the code {a} / không có cơ quan mã {a}");
            }
            id.grant(&login, role, agency.as_deref(), "cli")
                .await
                .map_err(identity_err)?;
            println!("granted / đã giao: {login} {}", role.as_str());
        }
        UserCmd::Revoke {
            login,
            role,
            agency,
        } => {
            let role = Role::parse(&role).context("unknown role")?;
            let removed = id
                .revoke(&login, role, agency.as_deref(), "cli")
                .await
                .map_err(identity_err)?;
            println!(
                "{}",
                if removed {
                    "revoked / đã thu hồi"
                } else {
                    "no such grant / không có vai trò này"
                }
            );
        }
        UserCmd::Represent {
            tax_code,
            cccd,
            remove,
        } => {
            let changed = id
                .set_representative(&tax_code, &cccd, !remove, "cli")
                .await
                .map_err(identity_err)?;
            println!(
                "{}",
                match (changed, remove) {
                    (true, false) => "added / đã thêm",
                    (true, true) => "removed / đã bỏ",
                    (false, false) => "already there / đã có",
                    (false, true) => "was not there / không có",
                }
            );
        }
        UserCmd::Token {
            login,
            scopes,
            days,
            label,
        } => {
            let token = id
                .issue_token(&login, &scopes, days, &label, "cli")
                .await
                .map_err(identity_err)?;
            println!("{token}");
        }
    }
    Ok(())
}

async fn oidc_cmd(config: Config, clock: Arc<dyn Clock>, what: OidcCmd) -> anyhow::Result<()> {
    let state = db_state(config, clock).await?;
    let id = &state.identity;
    match what {
        OidcCmd::ClientAdd {
            name,
            redirect_uris,
            post_logout_uris,
            scopes,
            public,
            machine,
            agency,
        } => {
            if public && machine {
                bail!(
                    "a machine client cannot be public / ứng dụng máy không thể là ứng dụng công khai"
                );
            }
            if let Some(a) = &agency
                && !state.catalog.lookup().agencies.contains_key(a)
            {
                bail!("no agency has the code {a} / không có cơ quan mã {a}");
            }
            let spec = identity::oidc::ClientSpec {
                name,
                redirect_uris,
                post_logout_uris,
                scopes,
                confidential: !public,
                machine,
                agency,
            };
            let (c, secret) = id
                .register_client(&spec, "cli")
                .await
                .map_err(identity_err)?;
            println!("client_id: {}", c.client_id);
            if let Some(s) = secret {
                println!("client_secret: {s}");
                eprintln!(
                    "keep the secret now: it is not shown again / hãy lưu mật khẩu ứng dụng ngay: nó không được hiển thị lại"
                );
            }
            println!("issuer: {}", id.issuer());
        }
        OidcCmd::ClientList => {
            for c in id.clients().await.map_err(identity_err)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}{}",
                    c.client_id,
                    c.name,
                    if c.confidential {
                        "confidential"
                    } else {
                        "public"
                    },
                    c.scopes.join(" "),
                    c.redirect_uris.join(" "),
                    if c.disabled { "\tdisabled" } else { "" }
                );
            }
        }
        OidcCmd::ClientDisable { client_id, enable } => {
            id.set_client_disabled(&client_id, !enable, "cli")
                .await
                .map_err(identity_err)?;
            println!(
                "{}",
                if enable {
                    "enabled / đã bật"
                } else {
                    "disabled, tokens revoked / đã tắt, đã thu hồi mã truy cập"
                }
            );
        }
        OidcCmd::RotateKey => {
            let kid = id.rotate_signing_key("cli").await.map_err(identity_err)?;
            println!("new signing key / khóa ký mới: {kid}");
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
