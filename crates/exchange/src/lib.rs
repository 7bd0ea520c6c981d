//! The document exchange hub (Trục liên thông văn bản): official documents as edXML packages
//! between agencies, each signed by its sending agency with a detached CMS signature, delivered
//! to every recipient, who answers with signed status packages that reach the sender.
//!
//! - [`registry`]: the agencies on the hub, their endpoints and X.509 certificates, the
//!   node's own certificate authority and its revocation list.
//! - [`hub`]: accepting a package (checked, signature verified against the registry, nothing
//!   stored unless all holds), one delivery per recipient, fetching, statuses, the hub's
//!   signed receipt of every hand-over, and the registers of documents sent and received.
//! - [`push`]: delivery to agencies' endpoints, with retries and back-off.
//! - [`api`] and [`pages`]: the API for agencies' document-management systems and the pages
//!   of a clerk (văn thư).

pub mod api;
pub mod compose;
pub mod demo;
pub mod error;

/// edXML packages and status packages (the `motcua-edxml` crate).
pub use edxml;
pub mod hub;
pub mod pages;
pub mod push;
pub mod registry;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use identity::{Action, Principal, Resource};
use kernel::blob::BlobStore;
use kernel::clock::Clock;
use kernel::db::{Db, MigrationSet};

pub use error::ExchangeError;

type Result<T, E = ExchangeError> = std::result::Result<T, E>;

/// The exchange hub's migrations.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("./migrations/sqlite"),
    postgres: &sqlx::migrate!("./migrations/postgres"),
};

/// The largest package (with its attachments, base64) the hub takes.
pub const MAX_PACKAGE_BYTES: usize = 10 * 1024 * 1024;
/// The largest detached signature.
pub const MAX_SIGNATURE_BYTES: usize = 64 * 1024;

/// The exchange hub of a node.
pub struct Exchange {
    db: Db,
    clock: Arc<dyn Clock>,
    blobs: BlobStore,
    identity: Arc<identity::Identity>,
    profile: edxml::Profile,
    limits: edxml::Limits,
    http: reqwest::Client,
    /// The node's own keys (`ca`, `hub`), once read: they never change while it runs.
    keys: std::sync::RwLock<std::collections::HashMap<String, Arc<kernel::pki::KeyPair>>>,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange").finish_non_exhaustive()
    }
}

impl Exchange {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        blobs: BlobStore,
        identity: Arc<identity::Identity>,
    ) -> Exchange {
        let limits = edxml::Limits {
            max_bytes: MAX_PACKAGE_BYTES,
            ..edxml::Limits::default()
        };
        Exchange {
            db,
            clock,
            blobs,
            identity,
            profile: edxml::Profile::default(),
            limits,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .unwrap_or_default(),
            keys: std::sync::RwLock::default(),
        }
    }

    /// Speaks another hub's edXML namespace.
    pub fn with_profile(mut self, profile: edxml::Profile) -> Exchange {
        self.profile = profile;
        self
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn profile(&self) -> &edxml::Profile {
        &self.profile
    }

    /// Whether `p` may run the hub (national operators and system administrators).
    pub fn may_manage(&self, p: &Principal) -> bool {
        let s = identity::Subject::Account(p.clone());
        identity::authorize(&s, Action::ManageExchange, &Resource::Node)
            == identity::Decision::Allow
    }

    /// Lets `p` run the hub, or records the refusal and refuses.
    pub async fn allow_manage(&self, p: &Principal) -> Result<()> {
        if self.may_manage(p) {
            return Ok(());
        }
        self.identity
            .record_denial(&p.id, Action::ManageExchange, &Resource::Node)
            .await?;
        Err(ExchangeError::Forbidden)
    }

    /// Whether `p` acts for `agency` on the hub: its clerks and leaders, or a machine client
    /// registered for that agency with `documents:exchange`.
    pub async fn may_act(&self, p: &Principal, agency: &str) -> Result<bool> {
        Ok(self
            .identity
            .acts_for(p, Action::ExchangeDocuments, agency)
            .await?)
    }

    /// Lets `p` act for `agency`, or records the refusal and refuses.
    pub async fn allow_act(&self, p: &Principal, agency: &str) -> Result<()> {
        if self.may_act(p, agency).await? {
            return Ok(());
        }
        self.identity
            .record_denial(&p.id, Action::ExchangeDocuments, &Resource::Agency(agency))
            .await?;
        Err(ExchangeError::Forbidden)
    }

    /// The agencies `p` acts for on the hub (from its roles; a machine client's registered
    /// agency).
    pub async fn agencies_of(&self, p: &Principal) -> Result<Vec<String>> {
        Ok(self
            .identity
            .agencies_for(p, Action::ExchangeDocuments)
            .await?)
    }
}

/// What a check of a package and its signature found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Checked {
    /// `document` or `status`.
    pub kind: String,
    /// The sending (or answering) agency.
    pub from: String,
    /// The document's id (for a status, the document it answers).
    pub document_id: String,
    pub package_sha256: String,
    pub certificate_serial: String,
    pub certificate_subject: String,
    /// The signing time the signer claims.
    pub signing_time: Option<DateTime<Utc>>,
}

/// The sender and document id of a package or a status package.
fn sender_of(
    bytes: &[u8],
    profile: &edxml::Profile,
    limits: &edxml::Limits,
) -> Result<(String, String, String)> {
    match edxml::parse(bytes, profile, limits) {
        Ok(p) => Ok((
            "document".into(),
            p.header.from.organ_id.clone(),
            p.document_id(),
        )),
        Err(e) => match edxml::parse_status(bytes, profile, limits) {
            Ok(s) => Ok(("status".into(), s.from.organ_id, s.response_for.document_id)),
            Err(_) => Err(e.into()),
        },
    }
}

fn checked(
    bytes: &[u8],
    sender: (String, String, String),
    v: &kernel::pki::Verified,
) -> Result<Checked> {
    use sha2::Digest;
    Ok(Checked {
        kind: sender.0,
        from: sender.1,
        document_id: sender.2,
        package_sha256: hex::encode(sha2::Sha256::digest(bytes)),
        certificate_serial: kernel::pki::cert_info(&v.certificate)?.serial_hex,
        certificate_subject: v.certificate.tbs_certificate.subject.to_string(),
        signing_time: v.signing_time,
    })
}

/// Checks a package and its detached signature against one certificate (PEM), without a
/// node: the package parses, the signature holds over its bytes, and it was made with that
/// certificate.
pub fn verify_offline(bytes: &[u8], signature: &[u8], certificate_pem: &str) -> Result<Checked> {
    let sender = sender_of(bytes, &edxml::Profile::default(), &edxml::Limits::default())?;
    let cert = kernel::pki::parse_certificate_pem(certificate_pem)?;
    let v = kernel::pki::verify_detached(signature, bytes, std::slice::from_ref(&cert))
        .map_err(|e| bad_signature(&e.to_string()))?;
    if v.certificate != cert {
        return Err(bad_signature(
            "signed with another certificate / ký bằng chứng thư số khác",
        ));
    }
    checked(bytes, sender, &v)
}

fn bad_signature(why: &str) -> ExchangeError {
    error::refused(
        422,
        "signature_invalid",
        format!("Chữ ký số không hợp lệ: {why}"),
        format!("The signature does not verify: {why}"),
    )
}

impl Exchange {
    /// Checks a package (or status package) and its detached signature against the
    /// registry, storing nothing.
    pub async fn verify(&self, bytes: &[u8], signature: &[u8]) -> Result<Checked> {
        let sender = sender_of(bytes, &self.profile, &self.limits)?;
        let v = kernel::pki::verify_detached(signature, bytes, &[])
            .map_err(|e| bad_signature(&e.to_string()))?;
        self.check_signer(&sender.1, &v.certificate).await?;
        checked(bytes, sender, &v)
    }

    /// Signs a package with its sender's key that the node keeps.
    pub async fn sign_as_sender(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let sender = sender_of(bytes, &self.profile, &self.limits)?;
        let key = self.signing_key(&sender.1).await?;
        Ok(kernel::pki::sign_detached(&key, bytes, self.clock.now())?)
    }
}
