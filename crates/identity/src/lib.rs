//! Identity and access: accounts of citizens, businesses and officials; roles held within
//! agencies; passwords; browser sessions; bearer tokens for scripts and integrators; and the
//! one authorization function ([`authz::authorize`]) every route calls.
//!
//! Brute force is met three ways: each account counts its consecutive failures and is locked
//! for a time that doubles with each failure past the fifth (up to 15 minutes); the same is kept
//! in memory for logins that do not exist, so that a lock says nothing about whether an account
//! exists; and each client address gets the same treatment past twenty failures. An unknown
//! login costs one Argon2id evaluation like a wrong password, so both take the same time.

pub mod admin;
pub mod authz;
pub mod demo;
pub mod error;
pub mod oidc;
pub mod oidc_web;
pub mod outbox;
pub mod password;
pub mod representatives;
pub mod totp;
pub mod web;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use kernel::ProblemDetail;
use kernel::audit::{self, Entry, Tx};
use kernel::clock::Clock;
use kernel::db::{Db, MigrationSet};
use kernel::ids::{Cccd, Sex, TaxCode};
use kernel::{on_db, on_tx};

pub use authz::{
    AccountKind, Action, Decision, Grant, Principal, Resource, Role, Subject, authorize,
};
pub use error::IdentityError;

/// The identity system's migrations.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("./migrations/sqlite"),
    postgres: &sqlx::migrate!("./migrations/postgres"),
};

type Result<T, E = IdentityError> = std::result::Result<T, E>;

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle: Duration,
    /// No session lives longer than this.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

/// Consecutive failures allowed before locks start, per login and per client address.
pub const FREE_FAILURES_PER_LOGIN: i64 = 5;
pub const FREE_FAILURES_PER_ADDRESS: i64 = 20;
/// The longest lock.
pub const MAX_LOCK_SECS: i64 = 15 * 60;

/// Lock length after `failures` consecutive failures, past `free` allowed ones.
pub fn lock_secs(failures: i64, free: i64) -> i64 {
    if failures < free {
        0
    } else {
        let exp = (failures - free).min(20) as u32;
        (1i64 << exp).min(MAX_LOCK_SECS)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Strikes {
    failures: i64,
    until: Option<DateTime<Utc>>,
}

/// A fresh random token, URL-safe.
pub fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| IdentityError::Hash(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored of a token: its SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time comparison of two strings.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub kind: AccountKind,
    /// For officials; citizens log in with their CCCD and businesses with their tax code.
    pub username: Option<String>,
    pub full_name: String,
    pub cccd: Option<Cccd>,
    pub tax_code: Option<TaxCode>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub password: String,
    pub assurance: u8,
}

impl NewAccount {
    /// The login this account will use.
    pub fn login(&self) -> Option<String> {
        match self.kind {
            AccountKind::Citizen => self.cccd.as_ref().map(|c| c.to_string()),
            AccountKind::Business => self.tax_code.as_ref().map(|t| t.to_string()),
            AccountKind::Official => self.username.as_ref().map(|u| u.trim().to_lowercase()),
            AccountKind::Machine => None,
        }
    }

    /// Every problem with the account's details.
    pub fn check(&self) -> Vec<ProblemDetail> {
        let mut out = Vec::new();
        let name = self.full_name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            out.push(ProblemDetail::new(
                "full_name",
                "Họ và tên cần từ 1 đến 100 ký tự",
                "The full name needs 1 to 100 characters",
            ));
        }
        match self.kind {
            AccountKind::Citizen => match (&self.cccd, self.birth_date, self.sex) {
                (Some(c), Some(born), Some(sex)) => {
                    if let Err(e) = c.check_holder(born, sex) {
                        out.push(ProblemDetail::new("cccd", e.vi, e.en));
                    }
                }
                _ => out.push(ProblemDetail::new(
                    "cccd",
                    "Công dân cần số định danh cá nhân, ngày sinh và giới tính",
                    "A citizen needs a personal identification number, date of birth and sex",
                )),
            },
            AccountKind::Business => {
                if self.tax_code.is_none() {
                    out.push(ProblemDetail::new(
                        "tax_code",
                        "Doanh nghiệp cần mã số thuế",
                        "A business needs its tax code",
                    ));
                }
            }
            AccountKind::Machine => out.push(ProblemDetail::new(
                "kind",
                "Hệ thống máy được đăng ký như một ứng dụng, không phải tài khoản",
                "Machines are registered as clients, not accounts",
            )),
            AccountKind::Official => {
                let ok = self.username.as_ref().is_some_and(|u| {
                    let u = u.trim();
                    (3..=40).contains(&u.len())
                        && u.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
                });
                if !ok {
                    out.push(ProblemDetail::new(
                        "username",
                        "Tên đăng nhập gồm 3 đến 40 chữ cái không dấu, số, dấu chấm, gạch",
                        "A username has 3 to 40 ASCII letters, digits, dots or dashes",
                    ));
                }
            }
        }
        if let Some(e) = &self.email
            && !e.is_empty()
            && (e.len() > 254
                || !e.contains('@')
                || e.starts_with('@')
                || e.ends_with('@')
                || e.contains(' '))
        {
            out.push(ProblemDetail::new(
                "email",
                "Địa chỉ thư điện tử không hợp lệ",
                "The e-mail address is not valid",
            ));
        }
        if let Some(p) = &self.phone
            && !p.is_empty()
            && !(p.len() >= 9
                && p.len() <= 15
                && p.trim_start_matches('+')
                    .bytes()
                    .all(|b| b.is_ascii_digit()))
        {
            out.push(ProblemDetail::new(
                "phone",
                "Số điện thoại không hợp lệ",
                "The phone number is not valid",
            ));
        }
        if !(1..=2).contains(&self.assurance) {
            out.push(ProblemDetail::new(
                "assurance",
                "Mức định danh là 1 hoặc 2",
                "Assurance level is 1 or 2",
            ));
        }
        if let Err(w) = password::check_policy(&self.password, &self.login().unwrap_or_default()) {
            out.push(ProblemDetail::new("password", w.vi, w.en));
        }
        out
    }
}

/// An account as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct AccountSummary {
    pub id: String,
    pub kind: String,
    pub login: String,
    pub full_name: String,
    pub assurance: i64,
    pub disabled: bool,
}

/// A session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionInfo {
    /// First characters of the stored hash: enough to tell sessions apart, useless to an attacker.
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: String,
    pub user_agent: String,
    pub current: bool,
}

/// A session that has just been opened: the token goes into the cookie.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub principal: Principal,
    pub stage: Stage,
}

/// How far a login has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Logged in.
    Full,
    /// The password was right; the two-factor code is awaited.
    Mfa,
    /// The password was right; two-factor must be set up first (administrators).
    Enroll,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Full => "full",
            Stage::Mfa => "mfa",
            Stage::Enroll => "enroll",
        }
    }
    fn parse(s: &str) -> Stage {
        match s {
            "mfa" => Stage::Mfa,
            "enroll" => Stage::Enroll,
            _ => Stage::Full,
        }
    }
}

/// A session still short of [`Stage::Full`].
#[derive(Debug, Clone)]
pub struct PendingSession {
    pub account_id: String,
    pub login: String,
    pub stage: Stage,
    pub token_hash: String,
    pub csrf: String,
}

/// How long a half-finished login waits for its second factor.
pub const PENDING_LIFETIME_MINUTES: i64 = 10;
/// Wrong codes allowed before a half-finished login is dropped.
pub const MAX_CODE_FAILURES: i64 = 5;

/// A session found from its cookie.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub principal: Principal,
    pub csrf: String,
    pub token_hash: String,
    /// When the password (and code) were checked.
    pub authenticated_at: DateTime<Utc>,
}

/// The identity service.
pub struct Identity {
    db: Db,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
    unknown_logins: Mutex<HashMap<String, Strikes>>,
    addresses: Mutex<HashMap<String, Strikes>>,
    /// The OpenID Connect issuer: the node's public URL.
    issuer: String,
    signing: oidc::KeyCache,
    /// Wakes the mailer when a message is written (e-mail on).
    mail_wakeup: Option<Arc<tokio::sync::Notify>>,
    sms_wakeup: Option<Arc<tokio::sync::Notify>>,
    agencies: Option<Arc<dyn Agencies>>,
}

/// What identity needs to know of the agency list (kept by the catalogue).
pub trait Agencies: Send + Sync {
    /// The agency's name, if the code exists.
    fn name(&self, code: &str) -> Option<String>;
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: String,
    kind: String,
    login: String,
    full_name: String,
    password_hash: String,
    assurance: i64,
    failed_logins: i64,
    locked_until: Option<DateTime<Utc>>,
    disabled: bool,
    totp_enabled: bool,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    account_id: String,
    csrf: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    stage: String,
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    account_id: String,
    login: String,
    stage: String,
    csrf: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct SessionListRow {
    token_hash: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ip: String,
    user_agent: String,
}

/// A bearer token with its account and one of the account's roles.
#[derive(sqlx::FromRow)]
struct BearerRow {
    scopes: String,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    id: String,
    kind: String,
    login: String,
    full_name: String,
    assurance: i64,
    disabled: bool,
    role: Option<String>,
    agency_code: Option<String>,
}

fn strike(map: &Mutex<HashMap<String, Strikes>>, key: &str, now: DateTime<Utc>, free: i64) {
    let mut m = match map.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if m.len() > 100_000 {
        // Forget expired entries rather than grow without bound.
        m.retain(|_, s| s.until.is_some_and(|u| u > now));
    }
    let s = m.entry(key.to_string()).or_default();
    s.failures += 1;
    let secs = lock_secs(s.failures, free);
    s.until = (secs > 0).then(|| now + Duration::seconds(secs));
}

fn locked(map: &Mutex<HashMap<String, Strikes>>, key: &str, now: DateTime<Utc>) -> Option<i64> {
    let m = match map.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    m.get(key)
        .and_then(|s| s.until)
        .filter(|u| *u > now)
        .map(|u| (u - now).num_seconds().max(1))
}

fn forget(map: &Mutex<HashMap<String, Strikes>>, key: &str) {
    let mut m = match map.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    m.remove(key);
}

impl Identity {
    pub fn new(db: Db, clock: Arc<dyn Clock>, policy: SessionPolicy) -> Identity {
        Identity {
            db,
            clock,
            policy,
            unknown_logins: Mutex::new(HashMap::new()),
            addresses: Mutex::new(HashMap::new()),
            issuer: "http://127.0.0.1:8080".into(),
            signing: oidc::KeyCache::default(),
            mail_wakeup: None,
            sms_wakeup: None,
            agencies: None,
        }
    }

    /// Turns e-mail delivery on: the mailer is woken when a message is written.
    pub fn with_mail(mut self) -> Identity {
        self.mail_wakeup = Some(Arc::new(tokio::sync::Notify::new()));
        self
    }

    /// Whether text messages are delivered (`sms.url` is set).
    pub fn sms_enabled(&self) -> bool {
        self.sms_wakeup.is_some()
    }

    /// Turns text-message delivery on: the sender is woken when a message is written.
    pub fn with_sms(mut self) -> Identity {
        self.sms_wakeup = Some(Arc::new(tokio::sync::Notify::new()));
        self
    }

    /// Lets identity check agency codes against the catalogue.
    pub fn with_agencies(mut self, a: Arc<dyn Agencies>) -> Identity {
        self.agencies = Some(a);
        self
    }

    /// The name of an agency, if the catalogue knows the code (always `Some` without one).
    pub fn agency_name(&self, code: &str) -> Option<String> {
        match &self.agencies {
            Some(a) => a.name(code),
            None => Some(code.to_string()),
        }
    }

    /// Sets the OpenID Connect issuer (the node's public URL, without a trailing slash).
    pub fn with_issuer(mut self, url: &str) -> Identity {
        self.issuer = url.trim_end_matches('/').to_string();
        self
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// The time on this node's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Writes a refused request into the audit chain.
    pub async fn record_denial(
        &self,
        who: &str,
        action: Action,
        resource: &Resource<'_>,
    ) -> Result<()> {
        let now = self.clock.now();
        tracing::warn!(target: "motcua::audit", subject = who, ?action, ?resource, "denied");
        let mut tx = Tx::begin(&self.db).await?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: who,
                action: "identity.access.deny",
                subject: &match resource {
                    Resource::Node => "node".to_string(),
                    Resource::Agency(a) => format!("agency/{a}"),
                    Resource::Account(a) => format!("account/{a}"),
                    Resource::Dossier { agency, .. } => format!("agency/{agency}/dossier"),
                },
                data: serde_json::json!({ "action": format!("{action:?}"), "scope": action.scope() }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates an account; `actor` is who creates it (`self` for a citizen registering).
    pub async fn create_account(&self, new: &NewAccount, actor: &str) -> Result<AccountSummary> {
        let problems = new.check();
        if !problems.is_empty() {
            return Err(IdentityError::Invalid(problems));
        }
        let pw = new.password.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
            .await
            .map_err(|e| IdentityError::Hash(e.to_string()))?
            .map_err(IdentityError::Hash)?;
        self.insert_account(new, actor, &hash).await
    }

    /// Creates an account whose password `new.password` is already hashed as `hash`, which the
    /// caller made from that very password (the demo's accounts share one hash of the demo's
    /// public password, made once per process).
    pub(crate) async fn create_account_hashed(
        &self,
        new: &NewAccount,
        actor: &str,
        hash: &str,
    ) -> Result<AccountSummary> {
        let problems = new.check();
        if !problems.is_empty() {
            return Err(IdentityError::Invalid(problems));
        }
        self.insert_account(new, actor, hash).await
    }

    async fn insert_account(
        &self,
        new: &NewAccount,
        actor: &str,
        hash: &str,
    ) -> Result<AccountSummary> {
        let login = new.login().unwrap_or_default();
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let taken: Option<String> = on_tx!(&mut tx, c => sqlx::query_scalar("SELECT id FROM accounts WHERE login = $1")
            .bind(&login).fetch_optional(c).await)?;
        if taken.is_some() {
            return Err(IdentityError::Taken(login));
        }
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO accounts (id, kind, login, full_name, cccd, tax_code, birth_date, sex, phone, email, password_hash, assurance, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)"
        )
        .bind(&id).bind(new.kind.as_str()).bind(&login).bind(new.full_name.trim())
        .bind(new.cccd.as_ref().map(|c| c.to_string())).bind(new.tax_code.as_ref().map(|t| t.to_string()))
        .bind(new.birth_date).bind(new.sex.map(|s| if s == Sex::Male { "male" } else { "female" }))
        .bind(new.phone.as_deref().filter(|p| !p.is_empty())).bind(new.email.as_deref().filter(|e| !e.is_empty()))
        .bind(hash).bind(i64::from(new.assurance)).bind(now)
        .execute(c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "identity.account.create",
                subject: &format!("account/{id}"),
                data: serde_json::json!({ "kind": new.kind.as_str(), "login": mask_login(&login) }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(AccountSummary {
            id,
            kind: new.kind.as_str().into(),
            login,
            full_name: new.full_name.trim().to_string(),
            assurance: i64::from(new.assurance),
            disabled: false,
        })
    }

    async fn account_by_login(&self, login: &str) -> Result<Option<AccountRow>> {
        Ok(on_db!(&self.db, p => sqlx::query_as(
            "SELECT id, kind, login, full_name, password_hash, assurance, failed_logins, locked_until, disabled, totp_enabled FROM accounts WHERE login = $1"
        ).bind(login).fetch_optional(p).await)?)
    }

    /// Whether `p` may do `action` for `agency`: the rule book allows it, and a machine client
    /// acts only for the agency it was registered for.
    pub async fn acts_for(&self, p: &Principal, action: Action, agency: &str) -> Result<bool> {
        let s = Subject::Account(p.clone());
        if authorize(&s, action, &Resource::Agency(agency)) != Decision::Allow {
            return Ok(false);
        }
        if p.kind == AccountKind::Machine {
            let client = self.client(&p.login).await?;
            return Ok(client.is_some_and(|c| c.agency.as_deref() == Some(agency)));
        }
        Ok(true)
    }

    /// The agencies `p` may do `action` for: those of its roles, or a machine client's own.
    pub async fn agencies_for(&self, p: &Principal, action: Action) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        if p.kind == AccountKind::Machine {
            if let Some(c) = self.client(&p.login).await?
                && let Some(a) = c.agency
                && self.acts_for(p, action, &a).await?
            {
                out.push(a);
            }
            return Ok(out);
        }
        for g in &p.grants {
            if let Some(a) = &g.agency
                && !out.contains(a)
                && self.acts_for(p, action, a).await?
            {
                out.push(a.clone());
            }
        }
        out.sort();
        Ok(out)
    }

    /// The principal of an account by its login, with its grants.
    pub async fn principal_by_login(&self, login: &str) -> Result<Option<Principal>> {
        match self.account_by_login(&login.trim().to_lowercase()).await? {
            Some(row) => Ok(Some(self.principal_of(row, None).await?)),
            None => Ok(None),
        }
    }

    /// The e-mail address of an account, when it has one and is not disabled.
    pub async fn email_of(&self, account_id: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT email FROM accounts WHERE id = $1 AND disabled = FALSE"
        ).bind(account_id).fetch_optional(p).await)?;
        Ok(row.and_then(|r| r.0).filter(|e| !e.trim().is_empty()))
    }

    /// The principal of an account, with its grants.
    pub async fn principal(
        &self,
        account_id: &str,
        scopes: Option<Vec<String>>,
    ) -> Result<Principal> {
        let row: Option<AccountRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT id, kind, login, full_name, password_hash, assurance, failed_logins, locked_until, disabled, totp_enabled FROM accounts WHERE id = $1"
        ).bind(account_id).fetch_optional(p).await)?;
        let row = row.ok_or_else(|| IdentityError::NotFound(account_id.to_string()))?;
        self.principal_of(row, scopes).await
    }

    /// The businesses a citizen represents, by login (none for other kinds of account).
    async fn represents(&self, account_id: &str, kind: &str) -> Result<Vec<String>> {
        if kind != "citizen" {
            return Ok(Vec::new());
        }
        Ok(on_db!(&self.db, p => sqlx::query_scalar(
            "SELECT b.login FROM business_representatives r JOIN accounts b ON b.id = r.business_id \
             WHERE r.citizen_id = $1 AND b.disabled = $2 ORDER BY b.login"
        ).bind(account_id).bind(false).fetch_all(p).await)?)
    }

    async fn principal_of(
        &self,
        row: AccountRow,
        scopes: Option<Vec<String>>,
    ) -> Result<Principal> {
        let grants: Vec<(String, String)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT role, agency_code FROM account_roles WHERE account_id = $1 ORDER BY agency_code, role"
        ).bind(&row.id).fetch_all(p).await)?;
        let represents = self.represents(&row.id, &row.kind).await?;
        Ok(Principal {
            kind: AccountKind::parse(&row.kind).unwrap_or(AccountKind::Citizen),
            login: row.login,
            full_name: row.full_name,
            assurance: u8::try_from(row.assurance).unwrap_or(1),
            grants: grants
                .into_iter()
                .filter_map(|(r, a)| {
                    Some(Grant {
                        role: Role::parse(&r)?,
                        agency: (!a.is_empty()).then_some(a),
                    })
                })
                .collect(),
            scopes,
            represents,
            id: row.id,
        })
    }

    /// Checks a login and password and opens a session.
    pub async fn login(
        &self,
        login: &str,
        pw: &str,
        ip: &str,
        user_agent: &str,
    ) -> Result<NewSession> {
        let now = self.clock.now();
        let login = login.trim().to_lowercase();
        if let Some(secs) = locked(&self.addresses, ip, now) {
            return Err(IdentityError::Throttled {
                retry_after_secs: secs as u64,
            });
        }
        let row = if login.is_empty() || login.len() > 64 {
            None
        } else {
            self.account_by_login(&login).await?
        };
        if let Some(r) = &row
            && let Some(until) = r.locked_until
            && until > now
        {
            return Err(IdentityError::Throttled {
                retry_after_secs: (until - now).num_seconds().max(1) as u64,
            });
        }
        if row.is_none()
            && let Some(secs) = locked(&self.unknown_logins, &login, now)
        {
            return Err(IdentityError::Throttled {
                retry_after_secs: secs as u64,
            });
        }
        let phc = row
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| password::decoy().to_string());
        let candidate = pw.to_string();
        let ok = tokio::task::spawn_blocking(move || password::verify(&candidate, &phc))
            .await
            .map_err(|e| IdentityError::Hash(e.to_string()))?;
        let Some(row) = row.filter(|r| ok && !r.disabled) else {
            strike(&self.addresses, ip, now, FREE_FAILURES_PER_ADDRESS);
            match self.account_by_login(&login).await? {
                Some(r) => {
                    let failures = r.failed_logins + 1;
                    let secs = lock_secs(failures, FREE_FAILURES_PER_LOGIN);
                    let until = (secs > 0).then(|| now + Duration::seconds(secs));
                    on_db!(&self.db, p => sqlx::query("UPDATE accounts SET failed_logins = $1, locked_until = $2 WHERE id = $3")
                        .bind(failures).bind(until).bind(&r.id).execute(p).await.map(|_| ()))?;
                    if secs > 0 {
                        tracing::warn!(target: "motcua::audit", account = %r.id, failures, "account locked after failed logins");
                    }
                }
                None => strike(&self.unknown_logins, &login, now, FREE_FAILURES_PER_LOGIN),
            }
            return Err(IdentityError::BadCredentials);
        };
        forget(&self.addresses, ip);
        let totp_enabled = row.totp_enabled;
        let principal = self.principal_of(row, None).await?;
        self.open_session(principal, totp_enabled, ip, user_agent, "password")
            .await
    }

    /// Opens a session for an account of this node that another node's identity provider has
    /// vouched for (single sign-on across the federation): the account by its login, not
    /// disabled. Its roles are this node's; an administrator still gives this node's second
    /// factor. None when there is no such account.
    pub async fn federated_login(
        &self,
        login: &str,
        ip: &str,
        user_agent: &str,
        via: &str,
    ) -> Result<Option<NewSession>> {
        let login = login.trim().to_lowercase();
        if login.is_empty() || login.len() > 64 {
            return Ok(None);
        }
        let Some(row) = self.account_by_login(&login).await?.filter(|r| !r.disabled) else {
            return Ok(None);
        };
        let totp_enabled = row.totp_enabled;
        let principal = self.principal_of(row, None).await?;
        Ok(Some(
            self.open_session(principal, totp_enabled, ip, user_agent, via)
                .await?,
        ))
    }

    async fn open_session(
        &self,
        principal: Principal,
        totp_enabled: bool,
        ip: &str,
        user_agent: &str,
        via: &str,
    ) -> Result<NewSession> {
        let now = self.clock.now();
        let admin = principal
            .grants
            .iter()
            .any(|g| matches!(g.role, Role::SystemAdmin | Role::AgencyAdmin));
        let stage = if totp_enabled {
            Stage::Mfa
        } else if admin {
            Stage::Enroll
        } else {
            Stage::Full
        };
        let token = random_token()?;
        let csrf = random_token()?;
        let expires = now + self.policy.absolute;
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query("UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(&principal.id).execute(c).await.map(|_| ()))?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, csrf, created_at, last_seen_at, expires_at, ip, user_agent, stage) \
             VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)"
        ).bind(token_hash(&token)).bind(&principal.id).bind(&csrf).bind(now).bind(expires).bind(ip)
        .bind(user_agent.chars().take(300).collect::<String>()).bind(stage.as_str()).execute(c).await.map(|_| ()))?;
        let mut data = serde_json::json!({ "ip": ip, "stage": stage.as_str() });
        if via != "password" {
            data["via"] = serde_json::json!(via);
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &format!("account/{}", principal.id),
                action: "identity.session.open",
                subject: &format!("account/{}", principal.id),
                data,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(NewSession {
            token,
            csrf,
            principal,
            stage,
        })
    }

    /// The session behind a cookie token, if it is still alive; refreshes its last use.
    pub async fn session(&self, token: &str) -> Result<Option<ActiveSession>> {
        let now = self.clock.now();
        let hash = token_hash(token);
        let row: Option<SessionRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT account_id, csrf, created_at, last_seen_at, expires_at, revoked_at, stage FROM sessions WHERE token_hash = $1"
        ).bind(&hash).fetch_optional(p).await)?;
        let Some(SessionRow {
            account_id,
            csrf,
            created_at,
            last_seen_at: last_seen,
            expires_at: expires,
            revoked_at: revoked,
            stage,
        }) = row
        else {
            return Ok(None);
        };
        if revoked.is_some()
            || expires <= now
            || last_seen + self.policy.idle <= now
            || stage != "full"
        {
            return Ok(None);
        }
        if now - last_seen > Duration::minutes(1) {
            on_db!(&self.db, p => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(now).bind(&hash).execute(p).await.map(|_| ()))?;
        }
        let principal = self.principal(&account_id, None).await?;
        Ok(Some(ActiveSession {
            principal,
            csrf,
            token_hash: hash,
            authenticated_at: created_at,
        }))
    }

    /// A half-finished login behind a cookie token (password right, second factor awaited).
    pub async fn pending(&self, token: &str) -> Result<Option<PendingSession>> {
        let now = self.clock.now();
        let hash = token_hash(token);
        let row: Option<PendingRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT s.account_id, a.login, s.stage, s.csrf, s.created_at, s.revoked_at FROM sessions s \
             JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1"
        ).bind(&hash).fetch_optional(p).await)?;
        Ok(row
            .filter(|r| r.revoked_at.is_none() && r.stage != "full")
            .filter(|r| r.created_at + Duration::minutes(PENDING_LIFETIME_MINUTES) > now)
            .map(|r| PendingSession {
                account_id: r.account_id,
                login: r.login,
                stage: Stage::parse(&r.stage),
                token_hash: hash,
                csrf: r.csrf,
            }))
    }

    /// The two-factor secret being set up for an account: the one already waiting for
    /// confirmation, or a new one. Refused when two-factor is already on.
    pub async fn totp_setup(&self, account_id: &str) -> Result<(String, String)> {
        let row: Option<(String, Option<String>, bool)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT login, totp_secret, totp_enabled FROM accounts WHERE id = $1"
        ).bind(account_id).fetch_optional(p).await)?;
        let (login, secret, enabled) =
            row.ok_or_else(|| IdentityError::NotFound(account_id.to_string()))?;
        if enabled {
            return Err(IdentityError::Invalid(vec![ProblemDetail::new(
                "totp",
                "Xác thực hai bước đã được bật",
                "Two-factor authentication is already on",
            )]));
        }
        let secret = match secret {
            Some(s) => s,
            None => {
                let s = totp::new_secret()
                    .ok_or_else(|| IdentityError::Hash("no randomness".into()))?;
                on_db!(&self.db, p => sqlx::query("UPDATE accounts SET totp_secret = $1 WHERE id = $2 AND totp_enabled = $3")
                    .bind(&s).bind(account_id).bind(false).execute(p).await.map(|_| ()))?;
                s
            }
        };
        let url = totp::url(&secret, &login).unwrap_or_default();
        Ok((secret, url))
    }

    /// Checks a code: for a session waiting for one (`Mfa`), or to confirm a new secret
    /// (`Enroll`, or a logged-in official turning it on). A right code makes the session full.
    pub async fn totp_submit(&self, token_hash: &str, account_id: &str, code: &str) -> Result<()> {
        let now = self.clock.now();
        let row: Option<(String, Option<String>, bool, i64)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT login, totp_secret, totp_enabled, totp_last_step FROM accounts WHERE id = $1"
        ).bind(account_id).fetch_optional(p).await)?;
        let (login, secret, enabled, last_step) =
            row.ok_or_else(|| IdentityError::NotFound(account_id.to_string()))?;
        let secret = secret.ok_or_else(|| {
            IdentityError::Invalid(vec![ProblemDetail::new(
                "totp",
                "Chưa thiết lập xác thực hai bước",
                "Two-factor authentication is not set up",
            )])
        })?;
        let unix = u64::try_from(now.timestamp()).unwrap_or(0);
        let Some(step) = totp::check(
            &secret,
            &login,
            code,
            unix,
            u64::try_from(last_step).unwrap_or(0),
        ) else {
            let failures = on_db!(&self.db, p => sqlx::query_scalar::<_, i64>(
                "UPDATE sessions SET mfa_failures = mfa_failures + 1 WHERE token_hash = $1 RETURNING mfa_failures"
            ).bind(token_hash).fetch_optional(p).await)?
            .unwrap_or(0);
            if failures >= MAX_CODE_FAILURES {
                self.logout(token_hash).await?;
                return Err(IdentityError::Throttled {
                    retry_after_secs: 60,
                });
            }
            return Err(IdentityError::BadCode);
        };
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query("UPDATE accounts SET totp_enabled = $1, totp_last_step = $2, updated_at = $3 WHERE id = $4")
            .bind(true).bind(i64::try_from(step).unwrap_or(i64::MAX)).bind(now).bind(account_id).execute(c).await.map(|_| ()))?;
        on_tx!(&mut tx, c => sqlx::query("UPDATE sessions SET stage = 'full', mfa_failures = 0, last_seen_at = $1 WHERE token_hash = $2")
            .bind(now).bind(token_hash).execute(c).await.map(|_| ()))?;
        if !enabled {
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: &format!("account/{account_id}"),
                    action: "identity.totp.enable",
                    subject: &format!("account/{account_id}"),
                    data: serde_json::json!({}),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends one session.
    pub async fn logout(&self, token_hash: &str) -> Result<()> {
        let now = self.clock.now();
        on_db!(&self.db, p => sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
            .bind(now).bind(token_hash).execute(p).await.map(|_| ()))?;
        self.revoke_session_families(token_hash).await?;
        Ok(())
    }

    /// Ends every session of an account; returns how many were open.
    pub async fn logout_everywhere(&self, account_id: &str) -> Result<u64> {
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL")
            .bind(now).bind(account_id).execute(c).await.map(|r| r.rows_affected()))?;
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE oidc_families SET revoked_at = $1, revoked_reason = 'logout_everywhere' WHERE account_id = $2 AND revoked_at IS NULL"
        ).bind(now).bind(account_id).execute(c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &format!("account/{account_id}"),
                action: "identity.session.revoke_all",
                subject: &format!("account/{account_id}"),
                data: serde_json::json!({ "sessions": n }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The live sessions of an account, newest first.
    pub async fn sessions_of(
        &self,
        account_id: &str,
        current_hash: &str,
    ) -> Result<Vec<SessionInfo>> {
        let now = self.clock.now();
        let rows: Vec<SessionListRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT token_hash, created_at, last_seen_at, expires_at, ip, user_agent FROM sessions \
             WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC LIMIT 100"
        ).bind(account_id).bind(now).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .filter(|r| r.last_seen_at + self.policy.idle > now)
            .map(|r| SessionInfo {
                id: r.token_hash.chars().take(12).collect(),
                current: r.token_hash == current_hash,
                created_at: r.created_at,
                last_seen_at: r.last_seen_at,
                expires_at: r.expires_at,
                ip: r.ip,
                user_agent: r.user_agent,
            })
            .collect())
    }

    /// Grants a role; national roles take no agency, the others need one.
    pub async fn grant(
        &self,
        login: &str,
        role: Role,
        agency: Option<&str>,
        actor: &str,
    ) -> Result<()> {
        let agency = check_role_agency(role, agency)?;
        if !agency.is_empty() && self.agency_name(agency).is_none() {
            return Err(IdentityError::Invalid(vec![ProblemDetail::new(
                "agency",
                format!("Không có cơ quan mã {agency}"),
                format!("No agency has the code {agency}"),
            )]));
        }
        let row = self
            .account_by_login(&login.trim().to_lowercase())
            .await?
            .ok_or_else(|| IdentityError::NotFound(login.to_string()))?;
        if row.kind != "official" {
            return Err(IdentityError::Invalid(vec![ProblemDetail::new(
                "login",
                "Chỉ tài khoản cán bộ mới được giao vai trò",
                "Only officials' accounts hold roles",
            )]));
        }
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO account_roles (account_id, agency_code, role, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (account_id, agency_code, role) DO NOTHING"
        ).bind(&row.id).bind(agency).bind(role.as_str()).bind(actor).bind(now).execute(c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "identity.role.grant",
                subject: &format!("account/{}", row.id),
                data: serde_json::json!({ "role": role.as_str(), "agency": agency }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes a role back.
    pub async fn revoke(
        &self,
        login: &str,
        role: Role,
        agency: Option<&str>,
        actor: &str,
    ) -> Result<bool> {
        let agency = check_role_agency(role, agency)?;
        let row = self
            .account_by_login(&login.trim().to_lowercase())
            .await?
            .ok_or_else(|| IdentityError::NotFound(login.to_string()))?;
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query("DELETE FROM account_roles WHERE account_id = $1 AND agency_code = $2 AND role = $3")
            .bind(&row.id).bind(agency).bind(role.as_str()).execute(c).await.map(|r| r.rows_affected()))?;
        if n > 0 {
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor,
                    action: "identity.role.revoke",
                    subject: &format!("account/{}", row.id),
                    data: serde_json::json!({ "role": role.as_str(), "agency": agency }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Every account, by login.
    pub async fn accounts(&self) -> Result<Vec<(AccountSummary, Vec<Grant>)>> {
        let rows: Vec<AccountSummary> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT id, kind, login, full_name, assurance, disabled FROM accounts ORDER BY login LIMIT 10000"
        ).fetch_all(p).await)?;
        let grants: Vec<(String, String, String)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT account_id, role, agency_code FROM account_roles ORDER BY account_id, agency_code, role"
        ).fetch_all(p).await)?;
        let mut by: HashMap<String, Vec<Grant>> = HashMap::new();
        for (id, r, a) in grants {
            if let Some(role) = Role::parse(&r) {
                by.entry(id).or_default().push(Grant {
                    role,
                    agency: (!a.is_empty()).then_some(a),
                });
            }
        }
        Ok(rows
            .into_iter()
            .map(|a| {
                let g = by.remove(&a.id).unwrap_or_default();
                (a, g)
            })
            .collect())
    }

    /// Issues a bearer token for an account, limited to `scopes`, valid `days` days.
    pub async fn issue_token(
        &self,
        login: &str,
        scopes: &[String],
        days: i64,
        label: &str,
        actor: &str,
    ) -> Result<String> {
        let bad: Vec<ProblemDetail> = scopes
            .iter()
            .filter(|s| !authz::SCOPES.contains(&s.as_str()))
            .map(|s| {
                ProblemDetail::new(
                    "scope",
                    format!("Phạm vi {s} không tồn tại"),
                    format!("Unknown scope {s}"),
                )
            })
            .collect();
        if !bad.is_empty() || scopes.is_empty() || !(1..=366).contains(&days) {
            let mut all = bad;
            if scopes.is_empty() {
                all.push(ProblemDetail::new(
                    "scope",
                    "Cần ít nhất một phạm vi",
                    "At least one scope is needed",
                ));
            }
            if !(1..=366).contains(&days) {
                all.push(ProblemDetail::new(
                    "days",
                    "Thời hạn từ 1 đến 366 ngày",
                    "Validity is 1 to 366 days",
                ));
            }
            return Err(IdentityError::Invalid(all));
        }
        let row = self
            .account_by_login(&login.trim().to_lowercase())
            .await?
            .ok_or_else(|| IdentityError::NotFound(login.to_string()))?;
        let token = format!("mct_{}", random_token()?);
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO api_tokens (token_hash, account_id, label, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)"
        ).bind(token_hash(&token)).bind(&row.id).bind(label).bind(scopes.join(" ")).bind(now).bind(now + Duration::days(days))
        .execute(c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "identity.token.issue",
                subject: &format!("account/{}", row.id),
                data: serde_json::json!({ "scopes": scopes, "days": days, "label": label }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The principal behind a bearer token, if it is valid.
    pub async fn bearer(&self, token: &str) -> Result<Option<Principal>> {
        if !token.starts_with("mct_") || token.len() > 100 {
            return Ok(None);
        }
        let now = self.clock.now();
        // The token, its account and the account's roles in one statement: a row per role
        // (one without a role when it has none).
        let rows: Vec<BearerRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT t.scopes, t.expires_at, t.revoked_at, a.id, a.kind, a.login, a.full_name, a.assurance, a.disabled, r.role, r.agency_code \
             FROM api_tokens t JOIN accounts a ON a.id = t.account_id LEFT JOIN account_roles r ON r.account_id = a.id \
             WHERE t.token_hash = $1 ORDER BY r.agency_code, r.role"
        ).bind(token_hash(token)).fetch_all(p).await)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        if first.revoked_at.is_some() || first.expires_at <= now || first.disabled {
            return Ok(None);
        }
        let represents = self.represents(&first.id, &first.kind).await?;
        let scopes = first
            .scopes
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let grants = rows
            .iter()
            .filter_map(|r| {
                Some(Grant {
                    role: Role::parse(r.role.as_deref()?)?,
                    agency: r.agency_code.clone().filter(|a| !a.is_empty()),
                })
            })
            .collect();
        let Some(first) = rows.into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(Principal {
            kind: AccountKind::parse(&first.kind).unwrap_or(AccountKind::Citizen),
            login: first.login,
            full_name: first.full_name,
            assurance: u8::try_from(first.assurance).unwrap_or(1),
            grants,
            scopes: Some(scopes),
            represents,
            id: first.id,
        }))
    }
}

fn check_role_agency(role: Role, agency: Option<&str>) -> Result<&str> {
    match (
        role.is_national(),
        agency.map(str::trim).filter(|a| !a.is_empty()),
    ) {
        (true, None) => Ok(""),
        (false, Some(a)) => Ok(a),
        (true, Some(_)) => Err(IdentityError::Invalid(vec![ProblemDetail::new(
            "agency",
            "Vai trò cấp quốc gia không gắn với cơ quan",
            "A national role is held without an agency",
        )])),
        (false, None) => Err(IdentityError::Invalid(vec![ProblemDetail::new(
            "agency",
            "Vai trò này cần nêu cơ quan",
            "This role is held within an agency: name it",
        )])),
    }
}

/// A login with most of it hidden, for the audit chain.
fn mask_login(login: &str) -> String {
    let n = login.chars().count();
    if n <= 4 {
        return "*".repeat(n);
    }
    let tail: String = login.chars().skip(n - 3).collect();
    format!("{}{tail}", "*".repeat(n - 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_grow_and_stop_at_fifteen_minutes() {
        assert_eq!(lock_secs(4, 5), 0);
        assert_eq!(lock_secs(5, 5), 1);
        assert_eq!(lock_secs(6, 5), 2);
        assert_eq!(lock_secs(10, 5), 32);
        assert_eq!(lock_secs(100, 5), MAX_LOCK_SECS);
    }

    #[test]
    fn tokens_are_random_and_compared_in_constant_time() {
        let a = random_token().unwrap_or_default();
        let b = random_token().unwrap_or_default();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same("abc", "abcd"));
        assert_eq!(mask_login("001095012345"), "*********345");
    }
}
