//! API keys of the systems that file reports over Open311 (a city's app, a smart-city
//! centre's call desk). A key is shown once when made; the node keeps its SHA-256.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use identity::Principal;
use kernel::on_db;

use crate::error::invalid;
use crate::{Feedback, FeedbackError, Result};

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub contact: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key asked for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct KeyRequest {
    /// Who files with it: the system's name.
    pub name: String,
    /// Whom to call about it: a person, an e-mail address.
    pub contact: String,
}

/// A key just made: `key` is shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewKey {
    pub id: String,
    pub key: String,
    pub name: String,
}

impl Feedback {
    /// Makes an API key (operators), audited.
    pub async fn create_key(&self, p: &Principal, r: &KeyRequest) -> Result<NewKey> {
        self.allow_manage(p).await?;
        self.issue_key(&p.login, &crate::actor_of(p), r).await
    }

    /// Makes an API key, recorded as made by `by` (a login, or `cli`) and audited as `actor`.
    pub async fn issue_key(&self, by: &str, actor: &str, r: &KeyRequest) -> Result<NewKey> {
        let name = r.name.trim();
        let contact = r.contact.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(invalid(
                "name",
                "Tên hệ thống dùng khóa cần có, tối đa 200 ký tự",
                "The name of the system using the key is required, at most 200 characters",
            ));
        }
        if contact.is_empty() || contact.chars().count() > 200 {
            return Err(invalid(
                "contact",
                "Cần có người hoặc địa chỉ liên hệ, tối đa 200 ký tự",
                "A contact is required, at most 200 characters",
            ));
        }
        let key = format!("o311_{}", identity::random_token()?);
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.clock.now();
        let mut tx = kernel::audit::Tx::begin(&self.db).await?;
        kernel::on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO feedback_api_keys (id, key_hash, name, contact, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
        ).bind(&id).bind(identity::token_hash(&key)).bind(name).bind(contact).bind(by).bind(now)
        .execute(c).await.map(|_| ()))?;
        kernel::audit::append(
            &mut tx,
            now,
            &kernel::audit::Entry {
                actor,
                action: "feedback.key.create",
                subject: &format!("feedback_key/{id}"),
                data: serde_json::json!({ "name": name, "contact": contact }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(NewKey {
            id,
            key,
            name: name.to_string(),
        })
    }

    /// Turns a key off (operators), audited.
    pub async fn revoke_key(&self, p: &Principal, id: &str) -> Result<ApiKey> {
        self.allow_manage(p).await?;
        let now = self.clock.now();
        let mut tx = kernel::audit::Tx::begin(&self.db).await?;
        let n = kernel::on_tx!(&mut tx, c => sqlx::query(
            "UPDATE feedback_api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
        ).bind(id).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(FeedbackError::NotFound(format!("API key {id}")));
        }
        kernel::audit::append(
            &mut tx,
            now,
            &kernel::audit::Entry {
                actor: &crate::actor_of(p),
                action: "feedback.key.revoke",
                subject: &format!("feedback_key/{id}"),
                data: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        self.keys()
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| FeedbackError::NotFound(format!("API key {id}")))
    }

    /// Every key, newest first.
    pub async fn keys(&self) -> Result<Vec<ApiKey>> {
        Ok(on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, name, contact, created_by, created_at, revoked_at, last_used_at FROM feedback_api_keys ORDER BY created_at DESC, id"
        ).fetch_all(c).await)?)
    }

    /// The id of the live key `key` is, noting its use.
    pub async fn key_id(&self, key: &str) -> Result<Option<String>> {
        let key = key.trim();
        if key.is_empty() || key.len() > 200 {
            return Ok(None);
        }
        let row: Option<(String,)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT id FROM feedback_api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ).bind(identity::token_hash(key)).fetch_optional(c).await)?;
        if let Some((id,)) = &row {
            on_db!(&self.db, c => sqlx::query("UPDATE feedback_api_keys SET last_used_at = $2 WHERE id = $1")
                .bind(id).bind(self.clock.now()).execute(c).await.map(|_| ()))?;
        }
        Ok(row.map(|r| r.0))
    }
}
