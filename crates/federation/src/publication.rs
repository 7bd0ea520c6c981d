//! Catalogue publication between nodes. The national node publishes its catalogue's feed
//! (fields, agencies, every procedure version); a local node pulls it a page at a time after
//! the last number it took, keeping the national version numbers, and publishes upward the
//! procedures it makes itself for its own agencies, which the national node then publishes to
//! every node. Each procedure has one publisher: only that node makes its versions.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use catalog::feed::{Conflict, MAX_PAGE, Published, Received, Scope, Source};
use kernel::config::NodeRole;
use kernel::on_db;

use crate::error::{invalid, refused};
use crate::national::Caller;
use crate::{Federation, Result, rules};

/// Pages a local node takes in one round before it turns to other work.
const PAGES_PER_ROUND: usize = 20;
/// The conflicts kept to show, the newest.
const KEPT_CONFLICTS: usize = 100;

/// A local node asks for the national catalogue's changes after a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CatalogPull {
    /// The number of the last change it has (0 at first).
    pub after: i64,
    /// The most changes in the page (default and most 1000).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// A page of a node's catalogue feed, with the node that publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CatalogPage {
    /// The sending node: the publisher of every procedure the page names no origin for.
    pub publisher: String,
    #[serde(flatten)]
    pub page: Published,
}

/// Where a local node is in the catalogue's publication.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct CatalogSync {
    /// The number of the national node's last change taken here.
    pub pulled: i64,
    /// The number of this node's last change published upward.
    pub published: i64,
    /// This node's newest change.
    pub newest_here: i64,
    /// The latest versions left, from either side, and why (at most 100).
    pub conflicts: Vec<Conflict>,
    pub last_error: Option<String>,
    pub last_round_at: Option<chrono::DateTime<Utc>>,
}

/// What an approved local node may publish: its own agencies only.
fn within<'a>(agencies: &'a [String]) -> impl Fn(&str) -> bool + Sync + 'a {
    move |code: &str| rules::agency_matches(agencies, code)
}

impl Federation {
    /// The name this node publishes under.
    pub(crate) fn publisher(&self) -> String {
        if self.config.node_id.is_empty() {
            "national".to_string()
        } else {
            self.config.node_id.clone()
        }
    }

    fn need_active(caller: &Caller) -> Result<()> {
        if caller.status.as_deref() == Some("active") {
            return Ok(());
        }
        Err(refused(
            403,
            "node_not_active",
            "hệ thống chưa được chấp nhận hoặc đang bị đình chỉ",
            "the node is not approved, or is suspended",
        ))
    }

    /// On the national node: a page of its catalogue's changes, for an approved node.
    pub async fn catalog_changes(
        &self,
        caller: &Caller,
        pull: &CatalogPull,
    ) -> Result<CatalogPage> {
        self.need_role(NodeRole::National)?;
        Self::need_active(caller)?;
        if pull.after < 0 {
            return Err(invalid(
                "after",
                "số thứ tự không được âm",
                "the number may not be negative",
            ));
        }
        let page = self
            .catalog
            .published(pull.after, pull.limit.unwrap_or(MAX_PAGE), Scope::All)
            .await?;
        Ok(CatalogPage {
            publisher: self.publisher(),
            page,
        })
    }

    /// On the national node: takes in the procedures an approved node publishes for its own
    /// agencies; the agencies it names outside them are left as they are here.
    pub async fn catalog_receive(&self, caller: &Caller, page: &CatalogPage) -> Result<Received> {
        self.need_role(NodeRole::National)?;
        Self::need_active(caller)?;
        if page.publisher != caller.node {
            return Err(invalid(
                "publisher",
                "hệ thống công bố phải là hệ thống gọi",
                "the publisher must be the calling node",
            ));
        }
        if page.page.procedures.len() as i64 > MAX_PAGE
            || page.page.agencies.len() as i64 > MAX_PAGE
        {
            return Err(invalid(
                "procedures",
                format!("tối đa {MAX_PAGE} thủ tục và {MAX_PAGE} cơ quan mỗi lần gửi"),
                format!("at most {MAX_PAGE} procedures and {MAX_PAGE} agencies a request"),
            ));
        }
        if let Some(p) = page.page.procedures.iter().find(|p| {
            p.origin.is_some()
                || !p
                    .spec
                    .agencies
                    .iter()
                    .all(|a| rules::agency_matches(&caller.agencies, a.as_str()))
        }) {
            return Err(refused(
                403,
                "agency_not_yours",
                format!(
                    "thủ tục {} thuộc cơ quan mà hệ thống này không quản lý",
                    p.spec.code
                ),
                format!(
                    "procedure {} belongs to an agency this node does not answer for",
                    p.spec.code
                ),
            ));
        }
        let agencies = within(&caller.agencies);
        let own = self.publisher();
        let received = self
            .catalog
            .receive(
                &page.page,
                Source {
                    node: &caller.node,
                    own: &own,
                    fields: false,
                    agencies: &agencies,
                    adopt: false,
                },
                &format!("node/{}", caller.node),
            )
            .await?;
        Ok(received)
    }

    async fn cursor(&self, name: &str) -> Result<i64> {
        let v: Option<i64> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT seq FROM federation_cursors WHERE name = $1"
        ).bind(name).fetch_optional(c).await)?;
        Ok(v.unwrap_or(0))
    }

    async fn set_cursor(&self, name: &str, seq: i64) -> Result<()> {
        let now = self.clock.now();
        on_db!(&self.db, c => sqlx::query(
            "INSERT INTO federation_cursors (name, seq, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at"
        ).bind(name).bind(seq).bind(now).execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// On a local node, one round: takes the national catalogue's new pages, then publishes
    /// upward its own changes. Answers how many versions were taken and sent.
    pub async fn catalog_round(&self) -> Result<(usize, usize)> {
        self.need_role(NodeRole::Local)?;
        let mut conflicts = Vec::new();
        let mut taken = 0;
        for _ in 0..PAGES_PER_ROUND {
            let after = self.cursor("pulled").await?;
            let page: CatalogPage = self
                .post(
                    "/api/v1/federation/catalog/changes",
                    &CatalogPull { after, limit: None },
                )
                .await?;
            let everything = |_: &str| true;
            let own = self.publisher();
            let r = self
                .catalog
                .receive(
                    &page.page,
                    Source {
                        node: &page.publisher,
                        own: &own,
                        fields: true,
                        agencies: &everything,
                        adopt: true,
                    },
                    &format!("node/{}", page.publisher),
                )
                .await?;
            taken += r.procedures_written;
            conflicts.extend(r.conflicts);
            if page.page.last > after {
                self.set_cursor("pulled", page.page.last).await?;
            }
            if !page.page.more {
                break;
            }
        }
        let mut sent = 0;
        let agencies = within(&self.config.agencies);
        for _ in 0..PAGES_PER_ROUND {
            let after = self.cursor("published").await?;
            let page = self
                .catalog
                .published(after, MAX_PAGE, Scope::Own(&agencies))
                .await?;
            if page.last == after {
                break;
            }
            if !page.procedures.is_empty() {
                let more = page.more;
                let last = page.last;
                let n = page.procedures.len();
                let r: Received = self
                    .post(
                        "/api/v1/federation/catalog/publish",
                        &CatalogPage {
                            publisher: self.publisher(),
                            page,
                        },
                    )
                    .await?;
                sent += n;
                conflicts.extend(r.conflicts);
                self.set_cursor("published", last).await?;
                if !more {
                    break;
                }
            } else {
                self.set_cursor("published", page.last).await?;
                if !page.more {
                    break;
                }
            }
        }
        if !conflicts.is_empty() {
            tracing::warn!(
                conflicts = conflicts.len(),
                "catalogue versions were left in the publication between nodes"
            );
        }
        if let Ok(mut s) = self.push.lock() {
            s.catalog_conflicts.extend(conflicts);
            let over = s.catalog_conflicts.len().saturating_sub(KEPT_CONFLICTS);
            s.catalog_conflicts.drain(..over);
            s.catalog_error = None;
            s.catalog_round_at = Some(self.clock.now());
        }
        Ok((taken, sent))
    }

    /// Where this local node is in the catalogue's publication.
    pub(crate) async fn catalog_sync(&self) -> Result<CatalogSync> {
        let (conflicts, last_error, last_round_at) = self
            .push
            .lock()
            .map(|s| {
                (
                    s.catalog_conflicts.clone(),
                    s.catalog_error.clone(),
                    s.catalog_round_at,
                )
            })
            .unwrap_or_default();
        Ok(CatalogSync {
            pulled: self.cursor("pulled").await?,
            published: self.cursor("published").await?,
            newest_here: catalog::feed::last_seq(&self.db).await?,
            conflicts,
            last_error,
            last_round_at,
        })
    }
}
