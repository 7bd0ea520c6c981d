//! The local node's side: registering with the national node, pushing the dossier outbox to
//! it in order and in batches, trying again with a growing pause while it cannot be reached;
//! the backlog, and the replay from a point.

use std::sync::Weak;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use identity::Principal;
use kernel::audit::{self, Entry, Tx};
use kernel::config::NodeRole;

use crate::rules::{self, H_DATE, H_NODE, H_NONCE, H_SIGNATURE};
use crate::{
    Federation, FederationError, NodeView, Registration, Result, SyncAnswer, SyncBatch, SyncEvent,
    SyncStatus, role_name,
};

/// The pause between looks at an empty outbox.
const IDLE: Duration = Duration::from_millis(200);
/// The pause between rounds of the catalogue's publication.
const CATALOG_EVERY: Duration = Duration::from_secs(5);

impl Federation {
    /// A request to the national node, signed with the node's key.
    fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let date = self.clock.now().timestamp();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let message = rules::canonical(
            method.as_str(),
            path,
            &self.config.node_id,
            date,
            &nonce,
            &body,
        );
        let url = format!("{}{path}", self.config.national_url.trim_end_matches('/'));
        self.http
            .request(method, url)
            .header(H_NODE, &self.config.node_id)
            .header(H_DATE, date.to_string())
            .header(H_NONCE, nonce)
            .header(H_SIGNATURE, self.key.sign(&message))
            .header("content-type", "application/json")
            .body(body)
    }

    /// A signed `POST` of `body` to the national node, and its JSON answer. A refusal reads
    /// as its status and detail.
    pub(crate) async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let remote = |e: &dyn std::fmt::Display| FederationError::Remote(e.to_string());
        let bytes = serde_json::to_vec(body).map_err(|e| remote(&e))?;
        let resp = self
            .signed(reqwest::Method::POST, path, bytes)
            .send()
            .await
            .map_err(|e| remote(&e))?;
        let status = resp.status();
        if !status.is_success() {
            if status.as_u16() == 403
                && let Ok(mut s) = self.push.lock()
            {
                s.registration = None;
            }
            return Err(FederationError::Remote(problem_of(status, resp).await));
        }
        resp.json().await.map_err(|e| remote(&e))
    }

    /// Says to the national node who this node is; answers its status there.
    pub async fn register_upward(&self) -> Result<String> {
        self.need_role(NodeRole::Local)?;
        let r = Registration {
            node: self.config.node_id.clone(),
            name: self.node_name.clone(),
            url: self.public_url.clone(),
            public_key: self.key.public(),
            agencies: self.config.agencies.clone(),
        };
        let v: NodeView = self.post("/api/v1/federation/register", &r).await?;
        if let Ok(mut s) = self.push.lock() {
            s.registration = Some(v.status.clone());
        }
        Ok(v.status)
    }

    /// Asks the national node for this node's single sign-on client, and keeps it.
    pub async fn setup_sso(&self) -> Result<crate::SsoClient> {
        self.need_role(NodeRole::Local)?;
        let r = crate::SsoRequest {
            redirect_uri: format!("{}{}", self.public_url, crate::pages::CALLBACK),
        };
        let c: crate::SsoClient = self.post("/api/v1/federation/sso", &r).await?;
        if let Ok(mut s) = self.sso.lock() {
            *s = Some(c.clone());
        }
        Ok(c)
    }

    /// This node's single sign-on client at the national node, once known.
    pub fn sso(&self) -> Option<crate::SsoClient> {
        self.sso.lock().ok().and_then(|s| s.clone())
    }

    /// Pushes the next batch of the outbox: answers how many events went (0 when it is
    /// empty). Events are marked pushed only once the national node has stored them.
    pub async fn push_once(&self) -> Result<usize> {
        self.need_role(NodeRole::Local)?;
        let pending = dossier::outbox::pending(&self.db, self.config.batch_size).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let keys: Vec<(i64, String, i64)> = pending
            .iter()
            .map(|o| (o.outbox_id, o.dossier_id.clone(), o.seq))
            .collect();
        let batch = SyncBatch {
            events: pending.into_iter().map(SyncEvent::of).collect(),
        };
        let answer: SyncAnswer = self.post("/api/v1/federation/events", &batch).await?;
        let mut pushed = Vec::with_capacity(keys.len());
        let mut refused = Vec::new();
        for (id, d, s) in &keys {
            match answer
                .refused
                .iter()
                .find(|r| &r.dossier_id == d && r.seq == *s)
            {
                Some(r) => refused.push((*id, r.reason.clone())),
                None => pushed.push(*id),
            }
        }
        dossier::outbox::mark_pushed(&self.db, &pushed, &refused, self.clock.now()).await?;
        if !refused.is_empty() {
            tracing::warn!(
                refused = refused.len(),
                "the national node refused some dossier events"
            );
        }
        Ok(keys.len())
    }

    /// The push, for as long as the node runs: registers until approved, then sends the
    /// outbox batch after batch; after a failure waits (half a second, doubling, to the
    /// configured most) and tries again, so a backlog catches up by itself.
    pub async fn push_loop(fed: Weak<Federation>) {
        let mut next_catalog = tokio::time::Instant::now();
        loop {
            let Some(f) = fed.upgrade() else {
                return;
            };
            if f.config.role != NodeRole::Local {
                return;
            }
            let max = Duration::from_secs(f.config.retry_max_seconds);
            let active = f
                .push
                .lock()
                .map(|s| s.registration.as_deref() == Some("active"))
                .unwrap_or(false);
            if active
                && f.sso().is_none()
                && let Err(e) = f.setup_sso().await
            {
                tracing::debug!(error = %e, "single sign-on with the national node is not set up yet");
            }
            if active && tokio::time::Instant::now() >= next_catalog {
                next_catalog = tokio::time::Instant::now() + CATALOG_EVERY;
                if let Err(e) = f.catalog_round().await {
                    tracing::debug!(error = %e, "the catalogue round with the national node failed");
                    if let Ok(mut s) = f.push.lock() {
                        s.catalog_error = Some(e.to_string());
                    }
                }
            }
            let outcome = if active {
                f.push_once().await
            } else {
                match f.register_upward().await {
                    Ok(s) if s == "active" => f.push_once().await,
                    Ok(s) => Err(FederationError::Remote(format!(
                        "the national node has this node as {s}"
                    ))),
                    Err(e) => Err(e),
                }
            };
            let pause = match outcome {
                Ok(n) => {
                    if let Ok(mut s) = f.push.lock() {
                        s.failures = 0;
                        s.last_error = None;
                        s.pushed += n as u64;
                    }
                    if n > 0 { None } else { Some(IDLE) }
                }
                Err(e) => {
                    let failures = f
                        .push
                        .lock()
                        .map(|mut s| {
                            s.failures = s.failures.saturating_add(1);
                            s.last_error = Some(e.to_string());
                            s.failures
                        })
                        .unwrap_or(1);
                    tracing::debug!(error = %e, failures, "dossier sync to the national node failed");
                    Some(rules::backoff(failures - 1, max))
                }
            };
            let wake = f.clone();
            drop(f);
            if let Some(p) = pause {
                tokio::select! {
                    _ = tokio::time::sleep(p) => {}
                    _ = wake.wake.notified() => {}
                }
            }
        }
    }

    /// The node's sync as an operator sees it.
    pub async fn sync_status(&self, p: &Principal) -> Result<SyncStatus> {
        self.allow_manage(p).await?;
        let backlog = dossier::outbox::backlog(&self.db).await?;
        let catalog = if self.config.role == NodeRole::Local {
            self.catalog_sync().await?
        } else {
            crate::publication::CatalogSync::default()
        };
        let now = self.clock.now();
        let lag_seconds = backlog
            .oldest_pending
            .map(|o| (now - o).num_seconds().max(0));
        let s = self
            .push
            .lock()
            .map_err(|_| FederationError::Remote("the sync state is unreadable".to_string()))?;
        Ok(SyncStatus {
            role: role_name(self.config.role).to_string(),
            node: self.config.node_id.clone(),
            national_url: self.config.national_url.clone(),
            registration: s.registration.clone().unwrap_or_else(|| "unknown".into()),
            public_key: self.key.public(),
            backlog,
            lag_seconds,
            last_error: s.last_error.clone(),
            failures: s.failures,
            pushed_since_start: s.pushed,
            catalog,
        })
    }

    /// Sends again every event written since `since` (operators), in the audit chain;
    /// answers how many. The national node ignores the ones it has.
    pub async fn replay(&self, p: &Principal, since: DateTime<Utc>) -> Result<u64> {
        self.allow_manage(p).await?;
        self.need_role(NodeRole::Local)?;
        let n = dossier::outbox::replay_from(&self.db, since).await?;
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &format!("account/{}", p.id),
                action: "federation.replay",
                subject: &format!("node/{}", self.config.node_id),
                data: json!({ "since": since, "events": n }),
            },
        )
        .await?;
        tx.commit().await?;
        self.wake.notify_one();
        Ok(n)
    }
}

/// A failed answer in a line: the status and the problem's English detail.
async fn problem_of(status: reqwest::StatusCode, resp: reqwest::Response) -> String {
    let detail = resp
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
        .unwrap_or_default();
    format!("{status}: {detail}")
}
