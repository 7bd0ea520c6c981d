//! Feedback from citizens and businesses: petitions about a regulation, a procedure or an
//! agency's handling of one (phản ánh, kiến nghị; Decree 20/2008/NĐ-CP), and field reports of
//! a problem at a place (phản ánh hiện trường: a pothole, illegal dumping, a broken street
//! light) with photos.
//!
//! - [`rules`]: statuses and moves, places and areas, what the public may read, what waits for
//!   a moderator, deadlines (pure).
//! - [`services`]: the kinds of report (Open311's services) and their questions.
//! - [`areas`]: the area each commune serves and which agency handles each kind there.
//! - [`reports`]: filing (photos checked and cleaned, routed by place and kind, likely
//!   duplicates found), handling, answering, merging, moderation, reopening, followers and
//!   their notices, and the search of published answers.
//! - [`keys`]: API keys of the systems that file reports over Open311.
//! - [`georeport`]: the Open311 GeoReport v2 server under `/open311/v2/`.
//! - [`api`] and [`pages`]: the JSON API, the citizen's and the agency's pages.

pub mod api;
pub mod areas;
pub mod demo;
pub mod error;
pub mod georeport;
pub mod keys;
pub mod pages;
pub mod reports;
pub mod rules;
pub mod services;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use catalog::Catalog;
use identity::{Action, Principal, Resource};
use kernel::blob::BlobStore;
use kernel::calendar::Calendar;
use kernel::clock::Clock;
use kernel::db::{Db, MigrationSet};

pub use error::FeedbackError;

type Result<T, E = FeedbackError> = std::result::Result<T, E>;

/// Feedback's migrations.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("./migrations/sqlite"),
    postgres: &sqlx::migrate!("./migrations/postgres"),
};

/// The largest photo taken.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// Photos one report may carry.
pub const MAX_PHOTOS: usize = 5;
/// The longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

/// Feedback on a node.
pub struct Feedback {
    db: Db,
    clock: Arc<dyn Clock>,
    blobs: BlobStore,
    catalog: Arc<Catalog>,
    identity: Arc<identity::Identity>,
    calendar: Arc<RwLock<Calendar>>,
    /// The node's public address, for links in notices.
    public_url: String,
}

impl std::fmt::Debug for Feedback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feedback").finish_non_exhaustive()
    }
}

impl Feedback {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        blobs: BlobStore,
        catalog: Arc<Catalog>,
        identity: Arc<identity::Identity>,
        calendar: Arc<RwLock<Calendar>>,
        public_url: &str,
    ) -> Feedback {
        Feedback {
            db,
            clock,
            blobs,
            catalog,
            identity,
            calendar,
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    fn calendar(&self) -> Calendar {
        match self.calendar.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
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

    /// Whether `p` handles reports of `agency`: its desk, specialists, heads, leaders and
    /// administrators; a machine client registered for that agency with `feedback:handle`.
    pub async fn may_handle(&self, p: &Principal, agency: &str) -> Result<bool> {
        Ok(self
            .identity
            .acts_for(p, Action::HandleFeedback, agency)
            .await?)
    }

    /// Lets `p` handle `agency`'s reports, or records the refusal and refuses.
    pub async fn allow_handle(&self, p: &Principal, agency: &str) -> Result<()> {
        if self.may_handle(p, agency).await? {
            return Ok(());
        }
        self.identity
            .record_denial(&p.id, Action::HandleFeedback, &Resource::Agency(agency))
            .await?;
        Err(FeedbackError::Forbidden)
    }

    /// Whether `p` runs feedback on the node: the kinds of report, areas and API keys.
    pub fn may_manage(&self, p: &Principal) -> bool {
        let s = identity::Subject::Account(p.clone());
        identity::authorize(&s, Action::ManageFeedback, &Resource::Node)
            == identity::Decision::Allow
    }

    /// Lets `p` run feedback on the node, or records the refusal and refuses.
    pub async fn allow_manage(&self, p: &Principal) -> Result<()> {
        if self.may_manage(p) {
            return Ok(());
        }
        self.identity
            .record_denial(&p.id, Action::ManageFeedback, &Resource::Node)
            .await?;
        Err(FeedbackError::Forbidden)
    }

    /// The agencies whose reports `p` handles.
    pub async fn agencies_of(&self, p: &Principal) -> Result<Vec<String>> {
        Ok(self
            .identity
            .agencies_for(p, Action::HandleFeedback)
            .await?)
    }
}

fn actor_of(p: &Principal) -> String {
    format!("account/{}", p.id)
}
