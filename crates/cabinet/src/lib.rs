//! e-Cabinet: the meetings of an agency's leadership (the Government's sessions, a People's
//! Committee's) and the opinion ballots of its members (phiếu lấy ý kiến thành viên), paperless.
//!
//! - [`rules`]: statuses and moves, who reads which document, what a vote says and the exact
//!   bytes signed, the tally (pure).
//! - [`keys`]: the node's e-Cabinet signing authority and each member's key and certificate;
//!   votes, conclusion notices and ballot summaries are detached CMS signatures that `openssl
//!   cms -verify` checks against the authority's certificate.
//! - [`meetings`]: bodies and their members; meetings with participants, agenda, documents
//!   (uploaded or taken from the exchange hub; confidential ones stamped with the reader's
//!   name on every page and every opening in the audit chain), attendance, notes, conclusions
//!   and the signed conclusion notice.
//! - [`ballots`]: drafts with questions, opening, signed votes that can be changed until the
//!   deadline, secret until the close when the secretariat says so, reminders, closing with
//!   every signature checked, the tally, the signed summary, the archive.
//! - [`watermark`]: the reader's name over every page of a confidential PDF (pure).
//! - [`api`] and [`pages`]: the JSON API; the members' pages (phone and tablet first) and
//!   the secretariat's.

pub mod api;
pub mod ballots;
pub mod demo;
pub mod error;
pub mod isolate;
pub mod keys;
pub mod meetings;
pub mod pages;
pub mod rules;
pub mod watermark;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use catalog::Catalog;
use identity::{Action, Principal, Resource};
use kernel::blob::BlobStore;
use kernel::clock::Clock;
use kernel::db::{Db, MigrationSet};
use kernel::pki::KeyPair;

pub use error::CabinetError;

type Result<T, E = CabinetError> = std::result::Result<T, E>;

/// e-Cabinet's migrations.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("./migrations/sqlite"),
    postgres: &sqlx::migrate!("./migrations/postgres"),
};

/// The largest document taken.
pub const MAX_DOCUMENT_BYTES: usize = 50 * 1024 * 1024;

/// The font stamped on confidential documents and written in notices (every Vietnamese glyph).
pub(crate) const FONT: &[u8] = include_bytes!("../../dossier/assets/fonts/DejaVuSans.ttf");

/// e-Cabinet on a node.
pub struct Cabinet {
    db: Db,
    clock: Arc<dyn Clock>,
    blobs: BlobStore,
    catalog: Arc<Catalog>,
    identity: Arc<identity::Identity>,
    exchange: Arc<exchange::Exchange>,
    /// The node's public address, for links in notices.
    public_url: String,
    /// Keys read from the database, by name (`ca`) or account id.
    keys: RwLock<HashMap<String, Arc<KeyPair>>>,
    /// The binary that reads and stamps PDFs in a process of its own ([`isolate`]).
    pdf_worker: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Cabinet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cabinet").finish_non_exhaustive()
    }
}

impl Cabinet {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        blobs: BlobStore,
        catalog: Arc<Catalog>,
        identity: Arc<identity::Identity>,
        exchange: Arc<exchange::Exchange>,
        public_url: &str,
    ) -> Cabinet {
        Cabinet {
            db,
            clock,
            blobs,
            catalog,
            identity,
            exchange,
            public_url: public_url.trim_end_matches('/').to_string(),
            keys: RwLock::new(HashMap::new()),
            pdf_worker: None,
        }
    }

    /// Reads and stamps PDFs with `exe pdf-worker` (the node's own binary), not in the
    /// server's process.
    pub fn with_pdf_worker(mut self, exe: Option<std::path::PathBuf>) -> Cabinet {
        self.pdf_worker = exe;
        self
    }

    /// Runs a PDF job, in the worker when there is one.
    pub(crate) async fn pdf_job(
        &self,
        job: isolate::Job,
        pdf: Vec<u8>,
    ) -> Result<isolate::Output, watermark::WatermarkError> {
        isolate::run(self.pdf_worker.as_deref(), job, pdf).await
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// An agency's name from the catalogue (its code when unknown).
    pub fn agency_name(&self, code: &str) -> String {
        self.catalog
            .lookup()
            .agencies
            .get(code)
            .map(|a| a.spec.name.clone())
            .unwrap_or_else(|| code.to_string())
    }

    /// Whether `code` is an agency of the catalogue.
    pub fn is_agency(&self, code: &str) -> bool {
        self.catalog.lookup().agencies.contains_key(code)
    }

    /// Whether `p` may ask for meetings and ballots at all: a person's account (a token needs
    /// the `cabinet` scope). Which ones is the meeting's and the ballot's own list.
    pub(crate) fn allow_attend(&self, p: &Principal) -> Result<()> {
        let s = identity::Subject::Account(p.clone());
        if identity::authorize(&s, Action::AttendCabinet, &Resource::Node)
            == identity::Decision::Allow
        {
            Ok(())
        } else {
            Err(CabinetError::Forbidden)
        }
    }

    /// Whether `p` is the secretariat of `body`.
    pub fn may_run(&self, p: &Principal, body: &str) -> bool {
        let s = identity::Subject::Account(p.clone());
        identity::authorize(&s, Action::RunCabinet, &Resource::Agency(body))
            == identity::Decision::Allow
    }

    /// Lets `p` prepare `body`'s meetings and ballots, or records the refusal and refuses.
    pub async fn allow_run(&self, p: &Principal, body: &str) -> Result<()> {
        if self.may_run(p, body) {
            return Ok(());
        }
        self.identity
            .record_denial(&p.id, Action::RunCabinet, &Resource::Agency(body))
            .await?;
        Err(CabinetError::Forbidden)
    }

    /// The bodies whose secretariat `p` is.
    pub fn bodies_run_by(&self, p: &Principal) -> Vec<String> {
        let mut out: Vec<String> = p
            .grants
            .iter()
            .filter(|g| g.role == identity::Role::Secretariat)
            .filter_map(|g| g.agency.clone())
            .filter(|a| self.may_run(p, a))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Queues an e-mail to each account of `accounts` with an address, in `tx`.
    pub(crate) async fn tell(
        &self,
        tx: &mut kernel::audit::Tx<'_>,
        accounts: &[String],
        subject: &str,
        body: &str,
    ) -> Result<usize> {
        let now = self.now();
        let mut n = 0;
        for a in accounts {
            if let Some(email) = self.identity.email_of(a).await? {
                identity::outbox::enqueue(tx, now, "email", &email, Some(a), subject, body).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Wakes the mailer after a commit that queued messages.
    pub(crate) fn wake(&self) {
        self.identity.wake_mailer();
    }
}

fn actor_of(p: &Principal) -> String {
    format!("account/{}", p.id)
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}
