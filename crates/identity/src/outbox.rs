//! Messages to people, and the password reset that uses them.
//!
//! A message is written to the `outbox` table in the same transaction as the change that
//! causes it. When SMTP is configured, a background task ([`Mailer`]) delivers e-mail and marks
//! it sent, retrying failures with a growing pause; without SMTP, or for an account with no
//! e-mail address, the message waits in the outbox, where a system administrator reads it
//! (`/quan-tri/thu-di`) and hands the link over in person.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use kernel::ProblemDetail;
use kernel::audit::{self, Entry, Tx};
use kernel::config::SmtpConfig;
use kernel::{on_db, on_tx};

use crate::{Identity, IdentityError, password, random_token, token_hash};

type Result<T, E = IdentityError> = std::result::Result<T, E>;

/// How long a reset link works.
pub const RESET_LIFETIME_MINUTES: i64 = 30;
/// Reset links an account may be sent per hour; more requests are quietly ignored.
pub const RESETS_PER_HOUR: i64 = 3;
/// Delivery attempts before a message is left for an administrator.
pub const MAX_ATTEMPTS: i64 = 8;

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Message {
    pub id: String,
    /// `email`, or `desk` when there is no address and a person must hand it over.
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// Writes a message to the outbox inside the caller's transaction, so that it exists exactly
/// when the change it tells of does. Wake the mailer after the commit ([`Identity::wake_mailer`]).
pub async fn enqueue(
    tx: &mut Tx<'_>,
    now: DateTime<Utc>,
    channel: &str,
    recipient: &str,
    account_id: Option<&str>,
    subject: &str,
    body: &str,
) -> Result<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO outbox (id, channel, recipient, account_id, subject, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ).bind(uuid::Uuid::now_v7().to_string()).bind(channel).bind(recipient).bind(account_id)
    .bind(subject).bind(body).bind(now).execute(c).await.map(|_| ()))?;
    Ok(())
}

impl Identity {
    /// The accounts (id, e-mail address) holding any of `roles` in `agency` that can be
    /// written to: not disabled, with an address.
    pub async fn contacts(
        &self,
        agency: &str,
        roles: &[crate::Role],
    ) -> Result<Vec<(String, String)>> {
        let mut out: Vec<(String, String)> = Vec::new();
        for role in roles {
            let rows: Vec<(String, String)> = on_db!(&self.db, c => sqlx::query_as(
                "SELECT a.id, a.email FROM account_roles r JOIN accounts a ON a.id = r.account_id \
                 WHERE r.agency_code = $1 AND r.role = $2 AND a.disabled = FALSE AND a.email IS NOT NULL AND a.email <> '' ORDER BY a.id"
            ).bind(agency).bind(role.as_str()).fetch_all(c).await)?;
            for r in rows {
                if !out.iter().any(|x| x.0 == r.0) {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    /// Tells the mailer and the text-message sender there is something new (no-op for what
    /// is off).
    pub fn wake_mailer(&self) {
        if let Some(n) = &self.mail_wakeup {
            n.notify_one();
        }
        if let Some(n) = &self.sms_wakeup {
            n.notify_one();
        }
    }

    /// Starts a password reset for a login. Whether or not the login exists, the caller says
    /// the same thing; nothing here tells them apart.
    pub async fn request_reset(&self, login: &str) -> Result<()> {
        let login = login.trim().to_lowercase();
        if login.is_empty() || login.len() > 64 {
            return Ok(());
        }
        let row: Option<(String, String, Option<String>, bool)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT id, full_name, email, disabled FROM accounts WHERE login = $1"
        ).bind(&login).fetch_optional(p).await)?;
        let Some((account_id, name, email, disabled)) = row else {
            return Ok(());
        };
        if disabled {
            return Ok(());
        }
        let now = self.clock.now();
        let recent: i64 = on_db!(&self.db, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM password_resets WHERE account_id = $1 AND created_at > $2"
        ).bind(&account_id).bind(now - Duration::hours(1)).fetch_one(p).await)?;
        if recent >= RESETS_PER_HOUR {
            tracing::warn!(target: "motcua::audit", account = %account_id, "password reset requests over the hourly limit");
            return Ok(());
        }
        let token = random_token()?;
        let link = format!("{}/dat-lai-mat-khau?token={token}", self.issuer());
        let (channel, recipient) = match email.filter(|e| !e.is_empty()) {
            Some(e) => ("email", e),
            None => ("desk", login.clone()),
        };
        let subject = "Đặt lại mật khẩu / Password reset".to_string();
        let body = format!(
            "Xin chào {name},\n\nCó yêu cầu đặt lại mật khẩu cho tài khoản {login}. Mở liên kết sau trong {RESET_LIFETIME_MINUTES} phút để đặt mật khẩu mới:\n\n{link}\n\nNếu bạn không yêu cầu, hãy bỏ qua thư này; mật khẩu hiện tại vẫn giữ nguyên.\n\n---\n\nHello {name},\n\nSomeone asked to reset the password of account {login}. Open this link within {RESET_LIFETIME_MINUTES} minutes to choose a new one:\n\n{link}\n\nIf it was not you, ignore this message; your password stays as it is.\n"
        );
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO password_resets (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)"
        ).bind(token_hash(&token)).bind(&account_id).bind(now).bind(now + Duration::minutes(RESET_LIFETIME_MINUTES))
        .execute(c).await.map(|_| ()))?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO outbox (id, channel, recipient, account_id, subject, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ).bind(uuid::Uuid::now_v7().to_string()).bind(channel).bind(&recipient).bind(&account_id)
        .bind(&subject).bind(&body).bind(now).execute(c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: "anonymous",
                action: "identity.password.reset_request",
                subject: &format!("account/{account_id}"),
                data: json!({ "channel": channel }),
            },
        )
        .await?;
        tx.commit().await?;
        if let Some(n) = &self.mail_wakeup {
            n.notify_one();
        }
        Ok(())
    }

    /// Whether a reset link is still good (for showing the form).
    pub async fn reset_link_valid(&self, token: &str) -> Result<bool> {
        Ok(self.reset_account(token).await?.is_some())
    }

    async fn reset_account(&self, token: &str) -> Result<Option<(String, String)>> {
        if token.len() != 43 {
            return Ok(None);
        }
        let now = self.clock.now();
        type Row = (String, String, DateTime<Utc>, Option<DateTime<Utc>>);
        let row: Option<Row> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT r.account_id, a.login, r.expires_at, r.used_at FROM password_resets r JOIN accounts a ON a.id = r.account_id WHERE r.token_hash = $1"
        ).bind(token_hash(token)).fetch_optional(p).await)?;
        Ok(row
            .filter(|(_, _, exp, used)| used.is_none() && *exp > now)
            .map(|(a, l, _, _)| (a, l)))
    }

    /// Sets a new password through a reset link. Ends every session and token family of the
    /// account, and lifts a lock left by failed logins.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<String> {
        let Some((account_id, login)) = self.reset_account(token).await? else {
            return Err(IdentityError::Invalid(vec![ProblemDetail::new(
                "token",
                "Liên kết đặt lại mật khẩu không hợp lệ, đã hết hạn hoặc đã được dùng",
                "The reset link is not valid, has expired or was used already",
            )]));
        };
        if let Err(w) = password::check_policy(new_password, &login) {
            return Err(IdentityError::Invalid(vec![ProblemDetail::new(
                "password", w.vi, w.en,
            )]));
        }
        let pw = new_password.to_string();
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
            .await
            .map_err(|e| IdentityError::Hash(e.to_string()))?
            .map_err(IdentityError::Hash)?;
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let first = on_tx!(&mut tx, c => sqlx::query("UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
            .bind(now).bind(token_hash(token)).execute(c).await.map(|r| r.rows_affected() == 1))?;
        if !first {
            return Err(IdentityError::Invalid(vec![ProblemDetail::new(
                "token",
                "Liên kết đặt lại mật khẩu đã được dùng",
                "The reset link was used already",
            )]));
        }
        on_tx!(&mut tx, c => sqlx::query("UPDATE accounts SET password_hash = $1, failed_logins = 0, locked_until = NULL, updated_at = $2 WHERE id = $3")
            .bind(&hash).bind(now).bind(&account_id).execute(c).await.map(|_| ()))?;
        on_tx!(&mut tx, c => sqlx::query("UPDATE password_resets SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL")
            .bind(now).bind(&account_id).execute(c).await.map(|_| ()))?;
        on_tx!(&mut tx, c => sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL")
            .bind(now).bind(&account_id).execute(c).await.map(|_| ()))?;
        on_tx!(&mut tx, c => sqlx::query("UPDATE oidc_families SET revoked_at = $1, revoked_reason = 'password_reset' WHERE account_id = $2 AND revoked_at IS NULL")
            .bind(now).bind(&account_id).execute(c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &format!("account/{account_id}"),
                action: "identity.password.reset",
                subject: &format!("account/{account_id}"),
                data: json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(login)
    }

    /// The newest messages in the outbox.
    pub async fn outbox(&self, limit: i64) -> Result<Vec<Message>> {
        Ok(on_db!(&self.db, p => sqlx::query_as(
            "SELECT id, channel, recipient, subject, body, created_at, sent_at, attempts, last_error FROM outbox ORDER BY created_at DESC LIMIT $1"
        ).bind(limit.clamp(1, 1000)).fetch_all(p).await)?)
    }

    /// Marks a message handed over in person.
    pub async fn mark_delivered(&self, id: &str, actor: &str) -> Result<bool> {
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query("UPDATE outbox SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL")
            .bind(now).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
        if n > 0 {
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor,
                    action: "identity.outbox.hand_over",
                    subject: &format!("outbox/{id}"),
                    data: json!({}),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Messages of a channel waiting to go, oldest first, not tried too often or too recently.
    async fn due(&self, channel: &str) -> Result<Vec<Message>> {
        let now = self.clock.now();
        let rows: Vec<Message> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT id, channel, recipient, subject, body, created_at, sent_at, attempts, last_error FROM outbox \
             WHERE channel = $2 AND sent_at IS NULL AND attempts < $1 ORDER BY created_at LIMIT 50"
        ).bind(MAX_ATTEMPTS).bind(channel).fetch_all(p).await)?;
        // Attempt n waits 2^n × 10 s after the message was written.
        Ok(rows
            .into_iter()
            .filter(|m| {
                m.attempts == 0 || m.created_at + Duration::seconds(10 << m.attempts.min(12)) <= now
            })
            .collect())
    }

    async fn record_attempt(&self, id: &str, error: Option<&str>) -> Result<()> {
        let now = self.clock.now();
        match error {
            None => {
                on_db!(&self.db, p => sqlx::query("UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2")
                .bind(now).bind(id).execute(p).await.map(|_| ()))?
            }
            Some(e) => {
                on_db!(&self.db, p => sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2")
                .bind(e.chars().take(500).collect::<String>()).bind(id).execute(p).await.map(|_| ()))?
            }
        }
        Ok(())
    }
}

/// Delivers the outbox's e-mail over SMTP.
pub struct Mailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Mailer {
    /// A mailer for the configuration, or `None` when e-mail is off.
    pub fn new(cfg: &SmtpConfig) -> Result<Option<Mailer>, String> {
        if cfg.url.trim().is_empty() {
            return Ok(None);
        }
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&cfg.url)
            .map_err(|e| format!("smtp.url: {e}"))?
            .timeout(Some(StdDuration::from_secs(20)))
            .build();
        let from = if cfg.from.trim().is_empty() {
            "motcua <no-reply@localhost>"
        } else {
            cfg.from.as_str()
        };
        let from = from
            .parse()
            .map_err(|e| format!("smtp.from {from:?}: {e}"))?;
        Ok(Some(Mailer { transport, from }))
    }

    async fn send(&self, m: &Message) -> Result<(), String> {
        use lettre::AsyncTransport;
        let to: lettre::message::Mailbox = m.recipient.parse().map_err(|e| format!("{e}"))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&m.subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| e.to_string())?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Sends what is due, then waits for new mail or a minute, until the process ends.
    pub async fn run(self, id: Arc<Identity>) {
        let Some(wakeup) = id.mail_wakeup.clone() else {
            return;
        };
        loop {
            match id.due("email").await {
                Ok(due) => {
                    for m in due {
                        let result = self.send(&m).await;
                        if let Err(e) = &result {
                            tracing::warn!(message = %m.id, error = %e, "e-mail not delivered");
                        }
                        if let Err(e) = id.record_attempt(&m.id, result.err().as_deref()).await {
                            tracing::error!(error = %e, "cannot record a delivery attempt");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
            }
            let _ = tokio::time::timeout(StdDuration::from_secs(60), wakeup.notified()).await;
        }
    }
}

/// Delivers the outbox's text messages through an HTTP gateway (`sms.url`).
pub struct SmsSender {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl SmsSender {
    /// A sender for the configuration, or `None` when text messages are off.
    pub fn new(cfg: &kernel::config::SmsConfig) -> Result<Option<SmsSender>, String> {
        let url = cfg.url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        let parsed = url::Url::parse(url).map_err(|e| format!("sms.url: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("sms.url: an http:// or https:// address is needed".into());
        }
        let client = reqwest::Client::builder()
            .timeout(StdDuration::from_secs(20))
            .build()
            .map_err(|e| format!("sms: {e}"))?;
        Ok(Some(SmsSender {
            client,
            url: url.to_string(),
            token: cfg.token.clone(),
        }))
    }

    async fn send(&self, m: &Message) -> Result<(), String> {
        let mut req = self
            .client
            .post(&self.url)
            .json(&json!({ "to": m.recipient, "text": m.body }));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        let r = req.send().await.map_err(|e| e.to_string())?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!("the gateway answered {}", r.status()))
        }
    }

    /// Sends what is due, then waits for new messages or a minute, until the process ends.
    pub async fn run(self, id: Arc<Identity>) {
        let Some(wakeup) = id.sms_wakeup.clone() else {
            return;
        };
        loop {
            match id.due("sms").await {
                Ok(due) => {
                    for m in due {
                        let result = self.send(&m).await;
                        if let Err(e) = &result {
                            tracing::warn!(message = %m.id, error = %e, "text message not delivered");
                        }
                        if let Err(e) = id.record_attempt(&m.id, result.err().as_deref()).await {
                            tracing::error!(error = %e, "cannot record a delivery attempt");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
            }
            let _ = tokio::time::timeout(StdDuration::from_secs(60), wakeup.notified()).await;
        }
    }
}
