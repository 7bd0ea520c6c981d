//! Building the application state and the server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use axum::extract::FromRef;
use tokio::net::TcpListener;

use catalog::Catalog;
use kernel::calendar::{self, Calendar, OfficeHours};
use kernel::clock::{Clock, SystemClock};
use kernel::config::Config;
use kernel::db::{self, Db};

/// Everything a request handler may need.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub catalog: Arc<Catalog>,
    pub identity: Arc<identity::Identity>,
    pub calendar: Arc<RwLock<Calendar>>,
    pub clock: Arc<dyn Clock>,
    pub site: web::Site,
    /// Attachments, scans and results, by SHA-256, under `<data>/blobs`.
    pub blobs: kernel::blob::BlobStore,
    pub dossiers: Arc<dossier::Dossiers>,
    pub payments: Arc<payment::Payments>,
    pub reports: Arc<report::Reports>,
    pub exchange: Arc<exchange::Exchange>,
    pub feedback: Arc<feedback::Feedback>,
    pub cabinet: Arc<cabinet::Cabinet>,
    pub federation: Arc<federation::Federation>,
}

impl FromRef<AppState> for Arc<federation::Federation> {
    fn from_ref(s: &AppState) -> Self {
        s.federation.clone()
    }
}

impl FromRef<AppState> for Arc<cabinet::Cabinet> {
    fn from_ref(s: &AppState) -> Self {
        s.cabinet.clone()
    }
}

impl FromRef<AppState> for Arc<feedback::Feedback> {
    fn from_ref(s: &AppState) -> Self {
        s.feedback.clone()
    }
}

impl FromRef<AppState> for Arc<exchange::Exchange> {
    fn from_ref(s: &AppState) -> Self {
        s.exchange.clone()
    }
}

impl FromRef<AppState> for Arc<report::Reports> {
    fn from_ref(s: &AppState) -> Self {
        s.reports.clone()
    }
}

impl FromRef<AppState> for Arc<payment::Payments> {
    fn from_ref(s: &AppState) -> Self {
        s.payments.clone()
    }
}

impl FromRef<AppState> for Arc<dossier::Dossiers> {
    fn from_ref(s: &AppState) -> Self {
        s.dossiers.clone()
    }
}

impl FromRef<AppState> for Arc<Catalog> {
    fn from_ref(s: &AppState) -> Self {
        s.catalog.clone()
    }
}

impl FromRef<AppState> for Arc<identity::Identity> {
    fn from_ref(s: &AppState) -> Self {
        s.identity.clone()
    }
}

impl FromRef<AppState> for web::Site {
    fn from_ref(s: &AppState) -> Self {
        s.site.clone()
    }
}

/// The catalogue's agency list, as identity sees it.
struct CatalogAgencies(Arc<Catalog>);

impl identity::Agencies for CatalogAgencies {
    fn name(&self, code: &str) -> Option<String> {
        self.0
            .lookup()
            .agencies
            .get(code)
            .map(|a| a.spec.name.clone())
    }
}

/// Choices beyond the configuration.
#[derive(Clone)]
pub struct BuildOptions {
    /// Load the demo catalogue at start (idempotent).
    pub demo: bool,
    pub clock: Arc<dyn Clock>,
    /// Keep the search index in memory instead of under the data folder.
    pub index_in_memory: bool,
    /// The binary that reads and stamps PDFs in a process of its own (`motcua pdf-worker`);
    /// none: a thread of the server's.
    pub pdf_worker: Option<std::path::PathBuf>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            demo: false,
            clock: Arc::new(SystemClock),
            index_in_memory: false,
            pdf_worker: None,
        }
    }
}

/// Every crate's migrations, in one list.
pub fn migration_sets() -> [&'static db::MigrationSet; 10] {
    [
        &db::MIGRATIONS,
        &catalog::MIGRATIONS,
        &identity::MIGRATIONS,
        &dossier::MIGRATIONS,
        &payment::MIGRATIONS,
        &report::MIGRATIONS,
        &exchange::MIGRATIONS,
        &feedback::MIGRATIONS,
        &cabinet::MIGRATIONS,
        &federation::MIGRATIONS,
    ]
}

/// Opens the database and brings its schema and shipped data up to date.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    let url = config.effective_database_url();
    let db = Db::connect(&url, config.database_max_connections)
        .await
        .with_context(|| {
            format!(
                "cannot open the database at {}",
                kernel::config::mask_url(&url)
            )
        })?;
    db::migrate(&db, &migration_sets())
        .await
        .context("migrations failed")?;
    calendar::store::seed(&db)
        .await
        .context("seeding the calendar failed")?;
    Ok(db)
}

/// Opens everything a node needs, without binding a port.
pub async fn open_state(config: Config, opts: &BuildOptions) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}",
            config.data_dir.display()
        )
    })?;
    let db = open_database(&config).await?;
    let index_dir = config.data_dir.join("index");
    let catalog = Arc::new(
        Catalog::open(
            db.clone(),
            if opts.index_in_memory {
                None
            } else {
                Some(index_dir.as_path())
            },
            opts.clock.clone(),
            config.search.clone(),
        )
        .await
        .context("opening the catalogue failed")?,
    );
    if opts.demo {
        let r = catalog
            .load_demo("system:demo")
            .await
            .context("loading the demo catalogue failed")?;
        tracing::info!(
            added = r.procedures_added,
            revised = r.procedures_revised,
            "demo catalogue loaded"
        );
    }
    let mut identity = identity::Identity::new(
        db.clone(),
        opts.clock.clone(),
        identity::SessionPolicy::default(),
    )
    .with_issuer(&config.public_url)
    .with_agencies(Arc::new(CatalogAgencies(catalog.clone())));
    if !config.smtp.url.trim().is_empty() {
        identity = identity.with_mail();
    }
    if !config.sms.url.trim().is_empty() {
        identity = identity.with_sms();
    }
    if opts.demo {
        let n = identity::demo::ensure(&identity)
            .await
            .context("creating the demo accounts failed")?;
        if n > 0 {
            tracing::warn!(
                accounts = n,
                "demo accounts created with a public password: never use --demo with real data"
            );
        }
    }
    let cal = calendar::store::load(&db, OfficeHours::default()).await?;
    let blobs = kernel::blob::BlobStore::open(config.data_dir.join("blobs"))
        .context("cannot open the blob folder")?;
    let identity = Arc::new(identity);
    let calendar = Arc::new(RwLock::new(cal));
    let dossiers = Arc::new(dossier::Dossiers::new(
        db.clone(),
        opts.clock.clone(),
        catalog.clone(),
        identity.clone(),
        calendar.clone(),
        blobs.clone(),
    ));
    if opts.demo {
        let n = dossier::demo::seed(
            &db,
            identity.clone(),
            catalog.clone(),
            calendar.clone(),
            blobs.clone(),
            opts.clock.now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo dossiers failed: {e}"))?;
        if n > 0 {
            tracing::info!(dossiers = n, "demo dossiers created");
        }
    }
    let payments = Arc::new(payment::Payments::new(
        db.clone(),
        opts.clock.clone(),
        catalog.clone(),
        dossiers.clone(),
        identity.clone(),
        payment_options(&config, opts.demo),
    ));
    if opts.demo {
        let n = payments
            .seed_demo()
            .await
            .map_err(|e| anyhow::anyhow!("creating the demo payments failed: {e}"))?;
        if n > 0 {
            tracing::info!(dossiers = n, "demo payments created");
        }
    }
    let reports = Arc::new(report::Reports::new(
        db.clone(),
        opts.clock.clone(),
        catalog.clone(),
        identity.clone(),
        dossiers.clone(),
        dossiers.clone(),
    ));
    let exchange = Arc::new(exchange::Exchange::new(
        db.clone(),
        opts.clock.clone(),
        blobs.clone(),
        identity.clone(),
    ));
    let feedback = Arc::new(feedback::Feedback::new(
        db.clone(),
        opts.clock.clone(),
        blobs.clone(),
        catalog.clone(),
        identity.clone(),
        calendar.clone(),
        &config.public_url,
    ));
    feedback
        .ensure_services()
        .await
        .map_err(|e| anyhow::anyhow!("writing the kinds of feedback failed: {e}"))?;
    if opts.demo
        && feedback::demo::seed(&feedback)
            .await
            .map_err(|e| anyhow::anyhow!("creating the demo feedback failed: {e}"))?
    {
        tracing::info!("demo feedback areas and reports created");
    }
    let cabinet = Arc::new(
        cabinet::Cabinet::new(
            db.clone(),
            opts.clock.clone(),
            blobs.clone(),
            catalog.clone(),
            identity.clone(),
            exchange.clone(),
            &config.public_url,
        )
        .with_pdf_worker(opts.pdf_worker.clone()),
    );
    if opts.demo
        && cabinet::demo::seed(&cabinet)
            .await
            .map_err(|e| anyhow::anyhow!("creating the demo meetings and ballots failed: {e}"))?
    {
        tracing::info!("demo meetings and ballots created");
    }
    // After the demo: what a local node pushes starts with the first change made on it.
    let federation = Arc::new(
        federation::Federation::open(
            db.clone(),
            opts.clock.clone(),
            identity.clone(),
            catalog.clone(),
            config.federation.clone(),
            &config.node_name,
            &config.public_url,
        )
        .await
        .map_err(|e| anyhow::anyhow!("opening the federation failed: {e}"))?,
    );
    // On a national node the figures also count every local node's dossiers.
    reports.set_remote(federation.clone());
    // A new or upgraded database: count the dossiers it already has.
    reports
        .ensure_built()
        .await
        .map_err(|e| anyhow::anyhow!("building the report roll-ups failed: {e}"))?;
    Ok(AppState {
        cabinet,
        federation,
        reports,
        exchange,
        feedback,
        payments,
        site: web::Site {
            node_name: config.node_name.clone(),
            secure_cookies: config.public_url.starts_with("https://"),
            demo: opts.demo,
            national: config.federation.role == kernel::config::NodeRole::National,
        },
        config: Arc::new(config),
        db,
        catalog,
        identity,
        calendar,
        clock: opts.clock.clone(),
        blobs,
        dossiers,
    })
}

/// Fills the demo with a year of generated past dossiers (once), so that its dashboards and
/// rankings have something to show; the agencies where the demo's officials work keep only
/// their own. Answers how many were written.
pub async fn seed_demo_history(state: &AppState, dossiers: u64) -> anyhow::Result<u64> {
    let n = generate_history(state, dossiers).await?;
    // The periodic reports start from the figures, so they come after the history.
    state
        .reports
        .seed_demo()
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo reports failed: {e}"))?;
    Ok(n)
}

/// Puts the demo's agencies on the document exchange hub with their keys, and sends its
/// first document (once). Kept out of every start because it makes six RSA keys.
pub async fn seed_demo_exchange(state: &AppState) -> anyhow::Result<()> {
    if exchange::demo::seed(&state.exchange)
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo document hub failed: {e}"))?
    {
        tracing::info!("demo agencies put on the document exchange hub");
    }
    Ok(())
}

async fn generate_history(state: &AppState, dossiers: u64) -> anyhow::Result<u64> {
    let done = dossier::history::generated(&state.db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if done || dossiers == 0 {
        return Ok(0);
    }
    let skip = [identity::demo::AGENCY, payment::demo::AGENCY];
    let lookup = state.catalog.lookup();
    let file = state
        .catalog
        .export()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut by_agency: std::collections::BTreeMap<String, Vec<(String, i64, u16)>> =
        std::collections::BTreeMap::new();
    for p in &file.procedures {
        let version = state
            .catalog
            .procedure(&p.code, None)
            .await
            .map(|s| s.version)
            .unwrap_or(1);
        for a in &p.agencies {
            if skip.contains(&a.as_str()) {
                continue;
            }
            by_agency.entry(a.to_string()).or_default().push((
                p.code.to_string(),
                version,
                p.time_limit_days.max(1),
            ));
        }
    }
    let agencies = by_agency
        .into_iter()
        .map(|(a, procs)| {
            let province = lookup
                .agencies
                .get(&a)
                .and_then(|r| r.province.clone())
                .unwrap_or_else(|| report::CENTRAL.to_string());
            (a, province, procs)
        })
        .collect();
    let today = kernel::clock::to_local(state.clock.now()).date();
    let spec = dossier::history::Spec {
        agencies,
        from: today - chrono::Duration::days(365),
        to: today - chrono::Duration::days(1),
        today,
        dossiers,
        seed: 2026,
    };
    let n = dossier::history::generate(&state.db, &spec, &|_| {})
        .await
        .map_err(|e| anyhow::anyhow!("generating the demo history failed: {e}"))?;
    state
        .reports
        .rebuild()
        .await
        .map_err(|e| anyhow::anyhow!("rebuilding the report roll-ups failed: {e}"))?;
    Ok(n)
}

/// How this node takes payments: the sandbox in the demo or when configured, VNPAY when its
/// merchant code and secret are set.
fn payment_options(config: &Config, demo: bool) -> payment::Options {
    let p = &config.payment;
    let listen = config.listen;
    // The sandbox calls this node back on its own address.
    let host = match listen.ip() {
        std::net::IpAddr::V4(v) if v.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(v) if v.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V4(v) => v.to_string(),
        std::net::IpAddr::V6(v) => format!("[{v}]"),
    };
    let sandbox_secret = (p.sandbox || demo).then(|| {
        if p.sandbox_secret.is_empty() {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
            .into_bytes()
        } else {
            p.sandbox_secret.clone().into_bytes()
        }
    });
    let vnpay = (!p.vnpay_terminal.trim().is_empty() && !p.vnpay_secret.is_empty()).then(|| {
        (
            p.vnpay_url.clone(),
            p.vnpay_terminal.trim().to_string(),
            p.vnpay_secret.clone().into_bytes(),
        )
    });
    payment::Options {
        public_url: config.public_url.clone(),
        ipn_base: format!("http://{host}:{}", listen.port()),
        sandbox_secret,
        vnpay,
        window: chrono::Duration::minutes(i64::from(p.window_minutes.clamp(1, 24 * 60))),
    }
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    mailer: Option<identity::outbox::Mailer>,
    sms: Option<identity::outbox::SmsSender>,
}

impl Application {
    /// Opens the state and binds `config.listen` (port 0 picks a free port).
    pub async fn build(config: Config, opts: BuildOptions) -> anyhow::Result<Application> {
        let listen = config.listen;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        Self::build_on(config, opts, listener).await
    }

    /// Opens the state and serves on a listener already bound (so that the public URL can
    /// name a port picked by the system).
    pub async fn build_on(
        config: Config,
        opts: BuildOptions,
        listener: TcpListener,
    ) -> anyhow::Result<Application> {
        let mailer = identity::outbox::Mailer::new(&config.smtp)
            .map_err(|e| anyhow::anyhow!("the SMTP settings are wrong: {e}"))?;
        let sms = identity::outbox::SmsSender::new(&config.sms)
            .map_err(|e| anyhow::anyhow!("the SMS settings are wrong: {e}"))?;
        let state = open_state(config, &opts).await?;
        Ok(Application {
            listener,
            state,
            mailer,
            sms,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Some(m) = self.mailer {
            tokio::spawn(m.run(self.state.identity.clone()));
        }
        if let Some(s) = self.sms {
            tokio::spawn(s.run(self.state.identity.clone()));
        }
        tokio::spawn(payment::Payments::sweep(Arc::downgrade(
            &self.state.payments,
        )));
        tokio::spawn(report::Reports::remind_loop(Arc::downgrade(
            &self.state.reports,
        )));
        tokio::spawn(exchange::Exchange::push_loop(Arc::downgrade(
            &self.state.exchange,
        )));
        tokio::spawn(cabinet::Cabinet::remind_loop(Arc::downgrade(
            &self.state.cabinet,
        )));
        tokio::spawn(federation::Federation::push_loop(Arc::downgrade(
            &self.state.federation,
        )));
        let router = crate::routes::router(self.state.clone());
        axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        self.state.db.close().await;
        Ok(())
    }
}
