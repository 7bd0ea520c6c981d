//! Pushes to agencies' endpoints: a document to each recipient that has an endpoint, and each
//! signed status to the sender. A push is a row written in the transaction that made it due;
//! a worker posts it, and on failure tries again later, waiting twice as long each time (10
//! seconds, then 20, 40… up to an hour). A recipient's 2xx answer to a document is the
//! hand-over, with the hub's `delivered` receipt.
//!
//! The request: `POST <endpoint>` with the package as the body (`application/xml`), the
//! sender's detached CMS signature in `X-Motcua-Signature` (base64 DER), `X-Motcua-Kind`
//! (`document` or `status`), `X-Motcua-Document` (the hub's id) and, when the agency set a
//! push secret, `X-Motcua-Push-Signature`: the hex HMAC-SHA256 of the body under that secret.

use std::sync::Weak;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use utoipa::ToSchema;

use kernel::blob::BlobId;
use kernel::on_db;

use crate::{Exchange, ExchangeError, Result};

/// The longest wait between two tries.
const MAX_BACKOFF_SECS: i64 = 3600;
/// Pushes taken in one round.
const BATCH: i64 = 50;

/// A push waiting or retried, as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Push {
    pub id: String,
    pub agency: String,
    pub kind: String,
    /// The document's id, or the status package's SHA-256.
    pub reference: String,
    pub attempts: i64,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
}

/// How long to wait after `attempts` failed tries.
pub fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    Duration::seconds((10_i64.saturating_mul(2_i64.saturating_pow(exp))).min(MAX_BACKOFF_SECS))
}

/// The hex HMAC-SHA256 of `body` under `secret`.
pub fn push_signature(secret: &str, body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut m) => {
            m.update(body);
            hex::encode(m.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

impl Exchange {
    /// Pushes not yet done, oldest first (with `all`, the last done too).
    pub async fn pushes(&self, all: bool, limit: i64) -> Result<Vec<Push>> {
        let filter = if all { "1 = 1" } else { "done_at IS NULL" };
        type Row = (
            String,
            String,
            String,
            String,
            i64,
            DateTime<Utc>,
            Option<String>,
            Option<DateTime<Utc>>,
        );
        let rows: Vec<Row> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, agency, kind, ref, attempts, next_at, last_error, done_at FROM exchange_pushes WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT $1"
        ))).bind(limit.clamp(1, 1000)).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(|r| Push {
                id: r.0,
                agency: r.1,
                kind: r.2,
                reference: r.3,
                attempts: r.4,
                next_at: r.5,
                last_error: r.6,
                done_at: r.7,
            })
            .collect())
    }

    /// Makes every push of `agency` due now (after its endpoint is back).
    pub async fn retry_now(&self, agency: &str) -> Result<u64> {
        let now = self.clock.now();
        Ok(on_db!(&self.db, p => sqlx::query(
            "UPDATE exchange_pushes SET next_at = $1 WHERE agency = $2 AND done_at IS NULL"
        ).bind(now).bind(agency).execute(p).await.map(|r| r.rows_affected()))?)
    }

    /// Posts the pushes that are due; returns how many went through.
    pub async fn push_due(&self) -> Result<usize> {
        let now = self.clock.now();
        type Row = (
            String,
            String,
            String,
            String,
            i64,
            Option<String>,
            Option<String>,
        );
        let due: Vec<Row> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT u.id, u.agency, u.kind, u.ref, u.attempts, a.endpoint, a.push_secret FROM exchange_pushes u \
             JOIN exchange_agencies a ON a.organ_id = u.agency \
             WHERE u.done_at IS NULL AND u.next_at <= $1 ORDER BY u.next_at, u.id LIMIT $2"
        ).bind(now).bind(BATCH).fetch_all(p).await)?;
        let mut done = 0;
        for (id, agency, kind, reference, attempts, endpoint, secret) in due {
            let outcome = match endpoint {
                Some(url) => self.post(&url, secret.as_deref(), &kind, &reference).await,
                None => Err("no endpoint".to_string()),
            };
            let now = self.clock.now();
            match outcome {
                Ok(()) => {
                    on_db!(&self.db, p => sqlx::query(
                        "UPDATE exchange_pushes SET done_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2"
                    ).bind(now).bind(&id).execute(p).await.map(|_| ()))?;
                    if kind == "document" {
                        let d = self.document(&reference).await?;
                        self.hand_over("system:exchange", &d, &agency).await?;
                    }
                    done += 1;
                }
                Err(e) => {
                    let next = now + backoff(attempts);
                    let e: String = e.chars().take(500).collect();
                    tracing::warn!(agency = %agency, kind = %kind, attempts = attempts + 1, error = %e, "exchange push failed");
                    on_db!(&self.db, p => sqlx::query(
                        "UPDATE exchange_pushes SET attempts = attempts + 1, next_at = $1, last_error = $2 WHERE id = $3"
                    ).bind(next).bind(&e).bind(&id).execute(p).await.map(|_| ()))?;
                }
            }
        }
        Ok(done)
    }

    async fn post(
        &self,
        url: &str,
        secret: Option<&str>,
        kind: &str,
        reference: &str,
    ) -> std::result::Result<(), String> {
        let (body, signature, document) = self
            .push_body(kind, reference)
            .await
            .map_err(|e| e.to_string())?;
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/xml")
            .header("x-motcua-kind", kind)
            .header("x-motcua-document", document)
            .header(
                "x-motcua-signature",
                base64::engine::general_purpose::STANDARD.encode(&signature),
            );
        if let Some(s) = secret {
            req = req.header("x-motcua-push-signature", push_signature(s, &body));
        }
        let resp = req.body(body).send().await.map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", resp.status().as_u16()))
        }
    }

    /// The bytes a push carries: the package, its signature, and the document's id.
    async fn push_body(&self, kind: &str, reference: &str) -> Result<(Vec<u8>, Vec<u8>, String)> {
        if kind == "document" {
            let row: Option<(String, String)> = on_db!(&self.db, p => sqlx::query_as(
                "SELECT package_sha256, signature_sha256 FROM exchange_documents WHERE id = $1"
            ).bind(reference).fetch_optional(p).await)?;
            let (pk, sig) = row.ok_or_else(|| ExchangeError::NotFound(reference.to_string()))?;
            return Ok((
                self.blobs.get(&BlobId::parse(&pk)?)?,
                self.blobs.get(&BlobId::parse(&sig)?)?,
                reference.to_string(),
            ));
        }
        let row: Option<(String, String)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT s.signature_sha256, d.document FROM exchange_statuses s JOIN exchange_deliveries d ON d.id = s.delivery WHERE s.package_sha256 = $1"
        ).bind(reference).fetch_optional(p).await)?;
        let (sig, doc) = row.ok_or_else(|| ExchangeError::NotFound(reference.to_string()))?;
        Ok((
            self.blobs.get(&BlobId::parse(reference)?)?,
            self.blobs.get(&BlobId::parse(&sig)?)?,
            doc,
        ))
    }

    /// Posts due pushes every two seconds while the node runs.
    pub async fn push_loop(this: Weak<Self>) {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let Some(x) = this.upgrade() else { break };
            if on_db!(&x.db, pool => pool.is_closed()) {
                break;
            }
            match x.push_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pushes = n, "exchange pushes delivered"),
                Err(e) => tracing::warn!(error = %e, "exchange pushes failed"),
            }
        }
    }
}
