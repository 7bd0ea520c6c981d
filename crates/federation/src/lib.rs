//! The federation of one-stop systems: a national node (the National Public Service Portal)
//! and the ministries' and provinces' local nodes, the same binary and schema in every role.
//!
//! - [`rules`]: what a signed call signs, the time window, agencies a node answers for, how far
//!   a dossier's events apply, the pause between attempts (pure).
//! - [`keys`]: the node's Ed25519 key, kept in the database.
//! - [`national`]: on the national node, the register of local nodes (a node registers, a
//!   national operator approves or suspends it), the check of every signed call (key, time,
//!   nonce), and the events received, each applied once, in order per dossier, gaps held.
//! - [`local`]: on a local node, the push of the dossier outbox to the national node, in
//!   order, in batches, again and again after failures with a growing pause; its backlog and
//!   the replay from a point.
//! - [`api`]: the routes, for nodes (signed) and operators.

pub mod api;
pub mod error;
pub mod keys;
pub mod local;
pub mod national;
pub mod pages;
pub mod publication;
pub mod rules;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use identity::{Action, Principal, Resource};
use kernel::clock::Clock;
use kernel::config::{FederationConfig, NodeRole};
use kernel::db::{Db, MigrationSet};

pub use error::FederationError;
pub use keys::NodeKey;

type Result<T, E = FederationError> = std::result::Result<T, E>;

/// The federation's migrations.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("./migrations/sqlite"),
    postgres: &sqlx::migrate!("./migrations/postgres"),
};

/// The largest request of events a national node takes.
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// The most events in one request.
pub const MAX_BATCH_EVENTS: usize = 5000;

/// One event of a dossier on a local node, as it is pushed: the event, its number in the
/// dossier, and what the dossier was when it happened (Circular 04/2025/TT-VPCP's status
/// record: the dossier, its step, the status and its national code, the details of fees,
/// supplements and results the event carries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SyncEvent {
    pub dossier_id: String,
    /// The event's number in its dossier, from 1, without gaps.
    pub seq: i64,
    pub event_id: String,
    pub code: Option<String>,
    pub agency_code: String,
    pub procedure_code: String,
    pub applicant_cccd: Option<String>,
    pub applicant_name: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub appointment_date: Option<NaiveDate>,
    /// When the local node wrote it to its outbox.
    pub written_at: DateTime<Utc>,
    /// When it happened.
    pub at: DateTime<Utc>,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    /// The status's code in the national list (DOMAIN.md), when it has one.
    pub national_status: Option<u8>,
    pub comment: String,
    #[schema(value_type = Object)]
    pub data: Value,
    /// What the dossier added to the report figures just after the event, for the national
    /// node's reports (none from a node that did not carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures: Option<dossier::outbox::Figures>,
}

impl SyncEvent {
    /// The report roll-ups' facts of the dossier just after the event, when carried.
    pub fn facts(&self) -> Option<report::rollup::Facts> {
        self.figures.as_ref().and_then(|f| {
            f.facts(
                &self.agency_code,
                &self.procedure_code,
                self.appointment_date,
            )
        })
    }
}

impl SyncEvent {
    /// The event of an outbox row.
    pub fn of(o: dossier::outbox::OutboxEvent) -> SyncEvent {
        SyncEvent {
            national_status: dossier::Status::parse(&o.to_status).and_then(|s| s.national_code()),
            dossier_id: o.dossier_id,
            seq: o.seq,
            event_id: o.event_id,
            code: o.code,
            agency_code: o.agency_code,
            procedure_code: o.procedure_code,
            applicant_cccd: o.applicant_cccd,
            applicant_name: o.applicant_name,
            submitted_at: o.submitted_at,
            appointment_date: o.appointment_date,
            written_at: o.written_at,
            at: o.at,
            action: o.action,
            from_status: o.from_status,
            to_status: o.to_status,
            comment: o.comment,
            data: o.data.0,
            figures: o.figures.channel.is_some().then_some(o.figures),
        }
    }
}

/// A request of events from a local node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SyncBatch {
    pub events: Vec<SyncEvent>,
}

/// One event the national node will not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RefusedEvent {
    pub dossier_id: String,
    pub seq: i64,
    /// `agency_not_yours`, `invalid` or `conflict` (another event holds that number).
    pub reason: String,
}

/// What the national node did with a request of events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct SyncAnswer {
    /// Events stored for the first time.
    pub stored: u64,
    /// Events it had already (ignored).
    pub duplicates: u64,
    /// Events applied to their dossiers by this request (some may have waited for it).
    pub applied: u64,
    /// Events of the dossiers in this request still waiting for an earlier one.
    pub held: u64,
    pub refused: Vec<RefusedEvent>,
}

/// A local node's request to join (or its renewal), signed with the key it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Registration {
    /// The node's name, as in `Motcua-Node`.
    pub node: String,
    /// Its name for people (`Sở Tư pháp Hà Nội`).
    pub name: String,
    /// Its public address.
    pub url: String,
    /// Its Ed25519 public key, base64.
    pub public_key: String,
    /// The agencies it answers for (codes, or `*.H26`).
    pub agencies: Vec<String>,
}

/// A local node as the national node knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct NodeView {
    pub id: String,
    pub name: String,
    pub url: String,
    pub public_key: String,
    /// The agencies it answers for, as JSON.
    pub agencies: String,
    /// `pending` (waiting for an operator), `active` or `suspended`.
    pub status: String,
    pub registered_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_batch_at: Option<DateTime<Utc>>,
    /// The delay of the last request's oldest new event, from its outbox to being stored
    /// here, in milliseconds.
    pub last_lag_ms: Option<i64>,
    pub events_received: i64,
    pub events_applied: i64,
    pub events_refused: i64,
    /// Its client at this node's identity provider, for single sign-on.
    pub sso_client_id: Option<String>,
    /// Events received and waiting for an earlier one of their dossier.
    #[sqlx(skip)]
    pub events_held: i64,
    /// Dossiers known from it.
    #[sqlx(skip)]
    pub dossiers: i64,
}

/// A local node asks for its single sign-on client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SsoRequest {
    /// Where the national node sends the browser back: under the node's registered address.
    pub redirect_uri: String,
}

/// A local node's single sign-on client at the national node's OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SsoClient {
    /// The national node's issuer (its public address).
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
}

/// What an operator does to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeMove {
    Approve,
    Suspend,
    Resume,
}

/// A local node's view of its own sync.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SyncStatus {
    pub role: String,
    pub node: String,
    pub national_url: String,
    /// What the national node last said of this node: `pending`, `active`, `suspended`, or
    /// `unknown` before it answered.
    pub registration: String,
    pub public_key: String,
    pub backlog: dossier::outbox::Backlog,
    /// Seconds the oldest event not pushed has waited.
    pub lag_seconds: Option<i64>,
    pub last_error: Option<String>,
    pub failures: u32,
    pub pushed_since_start: u64,
    /// The catalogue's publication between this node and the national node.
    pub catalog: publication::CatalogSync,
}

/// The state of the push on a local node (in memory; the outbox itself is in the database).
#[derive(Debug, Default)]
pub(crate) struct PushState {
    pub registration: Option<String>,
    pub last_error: Option<String>,
    pub failures: u32,
    pub pushed: u64,
    pub catalog_conflicts: Vec<catalog::feed::Conflict>,
    pub catalog_error: Option<String>,
    pub catalog_round_at: Option<DateTime<Utc>>,
}

/// The federation on a node.
pub struct Federation {
    db: Db,
    clock: Arc<dyn Clock>,
    identity: Arc<identity::Identity>,
    catalog: Arc<catalog::Catalog>,
    config: FederationConfig,
    node_name: String,
    public_url: String,
    key: NodeKey,
    http: reqwest::Client,
    push: Mutex<PushState>,
    wake: tokio::sync::Notify,
    /// On a local node, its single sign-on client at the national node, once known.
    sso: Mutex<Option<SsoClient>>,
    /// On SQLite, requests of events take turns here rather than in SQLite's busy handler,
    /// which sleeps between tries while the write lock may already be free.
    receiving: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field("role", &self.config.role)
            .finish_non_exhaustive()
    }
}

impl Federation {
    /// The federation of a node: its key (made at the first start), and on a local node the
    /// dossier outbox turned on.
    pub async fn open(
        db: Db,
        clock: Arc<dyn Clock>,
        identity: Arc<identity::Identity>,
        catalog: Arc<catalog::Catalog>,
        config: FederationConfig,
        node_name: &str,
        public_url: &str,
    ) -> Result<Federation> {
        let now = clock.now();
        let key = NodeKey::load_or_create(&db, now).await?;
        if config.role == NodeRole::Local {
            dossier::outbox::turn_on(&db, now).await?;
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| FederationError::Remote(e.to_string()))?;
        Ok(Federation {
            db,
            clock,
            identity,
            catalog,
            config,
            node_name: node_name.to_string(),
            public_url: public_url.trim_end_matches('/').to_string(),
            key,
            http,
            push: Mutex::new(PushState::default()),
            wake: tokio::sync::Notify::new(),
            sso: Mutex::new(None),
            receiving: tokio::sync::Mutex::new(()),
        })
    }

    pub fn role(&self) -> NodeRole {
        self.config.role
    }

    /// The node's public key, base64.
    pub fn public_key(&self) -> String {
        self.key.public()
    }

    /// Refuses `p` unless they run the federation (audited).
    pub(crate) async fn allow_manage(&self, p: &Principal) -> Result<()> {
        let subject = identity::Subject::Account(p.clone());
        if identity::authorize(&subject, Action::ManageFederation, &Resource::Node)
            == identity::Decision::Allow
        {
            return Ok(());
        }
        self.identity
            .record_denial(&p.id, Action::ManageFederation, &Resource::Node)
            .await?;
        Err(error::refused(
            403,
            "forbidden",
            "Bạn không có quyền quản lý liên thông giữa các hệ thống",
            "You may not run the federation of nodes",
        ))
    }

    /// Refuses unless the node has `role`.
    pub(crate) fn need_role(&self, role: NodeRole) -> Result<()> {
        if self.config.role == role {
            return Ok(());
        }
        let (vi, en) = match role {
            NodeRole::National => (
                "Chức năng này chỉ có ở hệ thống quốc gia",
                "Only the national node does this",
            ),
            NodeRole::Local => (
                "Chức năng này chỉ có ở hệ thống của bộ, tỉnh",
                "Only a local node does this",
            ),
            NodeRole::All => ("Chức năng này không có ở đây", "This node does not do this"),
        };
        Err(error::refused(404, "not_this_role", vi, en))
    }
}

fn role_name(r: NodeRole) -> &'static str {
    match r {
        NodeRole::All => "all",
        NodeRole::National => "national",
        NodeRole::Local => "local",
    }
}
