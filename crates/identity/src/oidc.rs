//! The OpenID Connect provider: other portals log their users in with the national account.
//!
//! - Clients are registered by an administrator, with redirect URIs matched exactly. A client
//!   with a secret is confidential; one without is public and relies on PKCE alone.
//! - The authorization code flow needs PKCE (S256) from every client. Codes live two minutes
//!   and work once; a second use revokes everything the first one produced.
//! - Tokens descend from a code in a *family*. Refresh tokens rotate: each works once and
//!   yields a new one; presenting a used one is taken as theft and revokes the family.
//! - ID tokens are RS256 JWTs. The newest signing key signs; retired keys stay in the JWKS for
//!   [`KEY_GRACE_HOURS`] so that tokens already issued still verify.
//! - Machine clients get access tokens by client credentials, with the API scopes they were
//!   registered for; they act as themselves, never as a person.
//!
//! Access and refresh tokens are opaque (`mca_…`, `mcr_…`) and stored as SHA-256, so that
//! revoking works at once; an access token also opens the JSON API within its scopes.

use std::sync::RwLock;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use kernel::ProblemDetail;
use kernel::audit::{self, Entry, Tx};
use kernel::{on_db, on_tx};

use crate::authz::{self, AccountKind, Principal};
use crate::{Identity, IdentityError, random_token, same, token_hash};

type Result<T, E = IdentityError> = std::result::Result<T, E>;

/// Scopes of the OpenID Connect flows, and the claims each releases.
pub const OIDC_SCOPES: &[(&str, &[&str])] = &[
    ("openid", &["sub"]),
    ("profile", &["name", "birthdate", "gender", "acr"]),
    ("email", &["email", "email_verified"]),
    ("phone", &["phone_number", "phone_number_verified"]),
    ("cccd", &["cccd"]),
];
/// How long an authorization code lives.
pub const CODE_LIFETIME_SECS: i64 = 120;
/// How long an access token and an ID token live.
pub const ACCESS_LIFETIME_SECS: i64 = 600;
/// How long one refresh token lives unused.
pub const REFRESH_LIFETIME_DAYS: i64 = 14;
/// How long a family of tokens lives at most, refreshes included.
pub const FAMILY_LIFETIME_DAYS: i64 = 30;
/// How long a retired signing key stays published.
pub const KEY_GRACE_HOURS: i64 = 48;

/// Every scope a client may be registered for.
pub fn known_scope(s: &str) -> bool {
    OIDC_SCOPES.iter().any(|(n, _)| *n == s) || authz::SCOPES.contains(&s)
}

/// What an administrator asks for when registering a client.
#[derive(Debug, Clone, Default)]
pub struct ClientSpec {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    pub scopes: Vec<String>,
    /// Gets a secret (confidential). Machine clients always do.
    pub confidential: bool,
    /// May use the client credentials grant (a machine client).
    pub machine: bool,
    /// The agency that runs it, if any.
    pub agency: Option<String>,
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub confidential: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub grants: Vec<String>,
    pub agency: Option<String>,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
}

impl Client {
    pub fn allows_grant(&self, g: &str) -> bool {
        self.grants.iter().any(|x| x == g)
    }
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    client_id: String,
    name: String,
    secret_hash: Option<String>,
    redirect_uris: String,
    post_logout_uris: String,
    scopes: String,
    grants: String,
    agency_code: String,
    created_at: DateTime<Utc>,
    disabled: bool,
}

impl ClientRow {
    fn client(&self) -> Client {
        let lines = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        };
        Client {
            client_id: self.client_id.clone(),
            name: self.name.clone(),
            confidential: self.secret_hash.is_some(),
            redirect_uris: lines(&self.redirect_uris),
            post_logout_uris: lines(&self.post_logout_uris),
            scopes: self.scopes.split_whitespace().map(str::to_string).collect(),
            grants: self.grants.split_whitespace().map(str::to_string).collect(),
            agency: (!self.agency_code.is_empty()).then(|| self.agency_code.clone()),
            created_at: self.created_at,
            disabled: self.disabled,
        }
    }
}

/// An OAuth 2.0 error as the token, userinfo and authorization endpoints give it
/// (RFC 6749 §5.2), with the description in English and Vietnamese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: &'static str,
    pub en: String,
    pub vi: String,
}

impl OAuthError {
    pub fn new(code: &'static str, en: impl Into<String>, vi: impl Into<String>) -> OAuthError {
        OAuthError {
            code,
            en: en.into(),
            vi: vi.into(),
        }
    }
    fn grant(en: &str, vi: &str) -> OAuthError {
        OAuthError::new("invalid_grant", en, vi)
    }
    fn server(e: impl std::fmt::Display) -> OAuthError {
        tracing::error!(error = %e, "token endpoint failed");
        OAuthError::new(
            "server_error",
            "Internal error; please try again later",
            "Đã có lỗi trong hệ thống; vui lòng thử lại sau",
        )
    }
    /// The HTTP status that goes with the code.
    pub fn status(&self) -> u16 {
        match self.code {
            "invalid_client" | "invalid_token" => 401,
            "insufficient_scope" => 403,
            "server_error" => 500,
            _ => 400,
        }
    }
    pub fn body(&self) -> Value {
        json!({ "error": self.code, "error_description": self.en, "error_description_vi": self.vi })
    }
}

impl From<IdentityError> for OAuthError {
    fn from(e: IdentityError) -> Self {
        OAuthError::server(e)
    }
}

impl From<kernel::problem::Error> for OAuthError {
    fn from(e: kernel::problem::Error) -> Self {
        OAuthError::server(e)
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        OAuthError::server(e)
    }
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub challenge: String,
    pub prompt: Option<String>,
}

/// Why an authorization request fails: either it cannot be trusted to redirect (unknown
/// client, unregistered redirect URI), or the client is told through its redirect URI.
#[derive(Debug, Clone)]
pub enum AuthorizeError {
    NoRedirect(OAuthError),
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

impl AuthorizeError {
    /// Where to send the browser, for the redirecting kind.
    pub fn location(&self, issuer: &str) -> Option<String> {
        match self {
            AuthorizeError::NoRedirect(_) => None,
            AuthorizeError::Redirect {
                redirect_uri,
                state,
                error,
            } => {
                let mut pairs = vec![
                    ("error", error.code.to_string()),
                    ("error_description", error.en.clone()),
                ];
                if let Some(s) = state {
                    pairs.push(("state", s.clone()));
                }
                pairs.push(("iss", issuer.to_string()));
                Some(with_query(redirect_uri, &pairs))
            }
        }
    }
}

/// `uri` with `pairs` added to its query.
pub fn with_query(uri: &str, pairs: &[(&str, String)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => uri.to_string(),
    }
}

/// What the token endpoint answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
}

/// How a client proved who it is at the token endpoint.
#[derive(Debug, Clone, Default)]
pub struct ClientAuth {
    pub client_id: Option<String>,
    pub secret: Option<String>,
    /// The credentials came in an `Authorization: Basic` header.
    pub basic: bool,
}

/// The signing key in use, parsed once.
pub(crate) struct ActiveKey {
    kid: String,
    key: EncodingKey,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    n: String,
    e: String,
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    client_id: String,
    account_id: String,
    redirect_uri: String,
    scopes: String,
    nonce: Option<String>,
    challenge: String,
    sid: String,
    auth_time: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    family: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    family: String,
    kind: String,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    client_id: String,
    account_id: Option<String>,
    scopes: String,
    sid: String,
    auth_time: Option<DateTime<Utc>>,
    family_expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

/// The session identifier given to relying parties (`sid`): derived from the session's
/// stored hash, so it names the session without opening it.
pub fn sid_of(session_hash: &str) -> String {
    hex::encode(Sha256::digest(format!("sid:{session_hash}").as_bytes()))
        .chars()
        .take(32)
        .collect()
}

/// The PKCE S256 transform of a verifier.
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks a redirect URI given at registration: absolute, no fragment, and HTTPS unless it
/// points at this machine.
pub fn check_redirect_uri(uri: &str) -> Result<(), ProblemDetail> {
    let bad = |en: &str, vi: &str| {
        Err(ProblemDetail::new(
            "redirect_uri",
            format!("{vi}: {uri}"),
            format!("{en}: {uri}"),
        ))
    };
    let Ok(u) = url::Url::parse(uri) else {
        return bad("Not an absolute URL", "Không phải địa chỉ URL đầy đủ");
    };
    if u.fragment().is_some() {
        return bad(
            "A redirect URI has no fragment",
            "Địa chỉ chuyển hướng không được có #",
        );
    }
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => bad(
            "Use HTTPS (plain HTTP only for localhost)",
            "Cần dùng HTTPS (HTTP chỉ cho localhost)",
        ),
    }
}

impl ClientSpec {
    /// Every problem with the spec.
    pub fn check(&self) -> Vec<ProblemDetail> {
        let mut out = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            out.push(ProblemDetail::new(
                "name",
                "Tên ứng dụng cần từ 1 đến 100 ký tự",
                "The client name needs 1 to 100 characters",
            ));
        }
        if !self.machine && self.redirect_uris.is_empty() {
            out.push(ProblemDetail::new(
                "redirect_uri",
                "Cần ít nhất một địa chỉ chuyển hướng",
                "At least one redirect URI is needed",
            ));
        }
        for u in self.redirect_uris.iter().chain(&self.post_logout_uris) {
            if let Err(p) = check_redirect_uri(u) {
                out.push(p);
            }
        }
        if self.redirect_uris.len() + self.post_logout_uris.len() > 20 {
            out.push(ProblemDetail::new(
                "redirect_uri",
                "Nhiều nhất 20 địa chỉ",
                "At most 20 URIs",
            ));
        }
        if self.scopes.is_empty() {
            out.push(ProblemDetail::new(
                "scope",
                "Cần ít nhất một phạm vi",
                "At least one scope is needed",
            ));
        }
        for s in &self.scopes {
            if !known_scope(s) {
                out.push(ProblemDetail::new(
                    "scope",
                    format!("Phạm vi {s} không tồn tại"),
                    format!("Unknown scope {s}"),
                ));
            }
        }
        out
    }
}

impl Identity {
    /// The issuer identifier: the node's public URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Registers a client; returns it and, for a confidential one, its secret (shown once).
    pub async fn register_client(
        &self,
        spec: &ClientSpec,
        actor: &str,
    ) -> Result<(Client, Option<String>)> {
        let problems = spec.check();
        if !problems.is_empty() {
            return Err(IdentityError::Invalid(problems));
        }
        let client_id = format!(
            "mc-{}",
            random_token()?.chars().take(16).collect::<String>()
        );
        let secret = if spec.confidential || spec.machine {
            Some(format!("mcs_{}", random_token()?))
        } else {
            None
        };
        let mut grants = Vec::new();
        if !spec.redirect_uris.is_empty() {
            grants.push("authorization_code");
            grants.push("refresh_token");
        }
        if spec.machine {
            grants.push("client_credentials");
        }
        let mut scopes = spec.scopes.clone();
        scopes.sort();
        scopes.dedup();
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO oidc_clients (client_id, name, secret_hash, redirect_uris, post_logout_uris, scopes, grants, agency_code, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ).bind(&client_id).bind(spec.name.trim()).bind(secret.as_deref().map(token_hash))
        .bind(spec.redirect_uris.join("\n")).bind(spec.post_logout_uris.join("\n")).bind(scopes.join(" "))
        .bind(grants.join(" ")).bind(spec.agency.as_deref().unwrap_or("")).bind(actor).bind(now)
        .execute(c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "identity.oidc.client.register",
                subject: &format!("oidc-client/{client_id}"),
                data: json!({ "name": spec.name.trim(), "redirect_uris": spec.redirect_uris, "scopes": scopes, "grants": grants }),
            },
        )
        .await?;
        tx.commit().await?;
        let client = self
            .client(&client_id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(client_id.clone()))?;
        Ok((client, secret))
    }

    async fn client_row(&self, client_id: &str) -> Result<Option<ClientRow>> {
        if client_id.is_empty() || client_id.len() > 64 {
            return Ok(None);
        }
        Ok(on_db!(&self.db, p => sqlx::query_as(
            "SELECT client_id, name, secret_hash, redirect_uris, post_logout_uris, scopes, grants, agency_code, created_at, disabled \
             FROM oidc_clients WHERE client_id = $1"
        ).bind(client_id).fetch_optional(p).await)?)
    }

    /// A client by id.
    pub async fn client(&self, client_id: &str) -> Result<Option<Client>> {
        Ok(self.client_row(client_id).await?.map(|r| r.client()))
    }

    /// Every registered client, newest first.
    pub async fn clients(&self) -> Result<Vec<Client>> {
        let rows: Vec<ClientRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT client_id, name, secret_hash, redirect_uris, post_logout_uris, scopes, grants, agency_code, created_at, disabled \
             FROM oidc_clients ORDER BY created_at DESC LIMIT 1000"
        ).fetch_all(p).await)?;
        Ok(rows.iter().map(ClientRow::client).collect())
    }

    /// Turns a client off (or on again). Turning it off revokes every token it holds.
    pub async fn set_client_disabled(
        &self,
        client_id: &str,
        disabled: bool,
        actor: &str,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query("UPDATE oidc_clients SET disabled = $1 WHERE client_id = $2")
            .bind(disabled).bind(client_id).execute(c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(IdentityError::NotFound(client_id.to_string()));
        }
        if disabled {
            on_tx!(&mut tx, c => sqlx::query("UPDATE oidc_families SET revoked_at = $1, revoked_reason = 'client_disabled' WHERE client_id = $2 AND revoked_at IS NULL")
                .bind(now).bind(client_id).execute(c).await.map(|_| ()))?;
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: if disabled {
                    "identity.oidc.client.disable"
                } else {
                    "identity.oidc.client.enable"
                },
                subject: &format!("oidc-client/{client_id}"),
                data: json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- signing keys -----

    /// Makes a new signing key and retires the others; returns its key id.
    pub async fn rotate_signing_key(&self, actor: &str) -> Result<String> {
        let (pem, n, e) = tokio::task::spawn_blocking(new_rsa_key)
            .await
            .map_err(|e| IdentityError::Hash(e.to_string()))??;
        let now = self.clock.now();
        let kid = format!(
            "{}-{}",
            now.format("%Y%m%d"),
            random_token()?.chars().take(8).collect::<String>()
        );
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query("UPDATE oidc_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now).execute(c).await.map(|_| ()))?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO oidc_keys (kid, alg, private_pem, n, e, created_at) VALUES ($1, 'RS256', $2, $3, $4, $5)"
        ).bind(&kid).bind(&pem).bind(&n).bind(&e).bind(now).execute(c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "identity.oidc.key.rotate",
                subject: &format!("oidc-key/{kid}"),
                data: json!({ "alg": "RS256" }),
            },
        )
        .await?;
        tx.commit().await?;
        if let Ok(mut k) = self.signing.write() {
            *k = None;
        }
        Ok(kid)
    }

    /// The key that signs now, made on first use.
    async fn active_key(&self) -> Result<(String, EncodingKey)> {
        let newest: Option<String> = on_db!(&self.db, p => sqlx::query_scalar(
            "SELECT kid FROM oidc_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1"
        ).fetch_optional(p).await)?;
        let kid = match newest {
            Some(k) => k,
            None => self.rotate_signing_key("system").await?,
        };
        if let Ok(g) = self.signing.read()
            && let Some(k) = g.as_ref()
            && k.kid == kid
        {
            return Ok((k.kid.clone(), k.key.clone()));
        }
        let pem: String = on_db!(&self.db, p => sqlx::query_scalar("SELECT private_pem FROM oidc_keys WHERE kid = $1")
            .bind(&kid).fetch_one(p).await)?;
        let key = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| IdentityError::Hash(format!("signing key {kid}: {e}")))?;
        if let Ok(mut g) = self.signing.write() {
            *g = Some(ActiveKey {
                kid: kid.clone(),
                key: key.clone(),
            });
        }
        Ok((kid, key))
    }

    async fn published_keys(&self) -> Result<Vec<KeyRow>> {
        let since = self.clock.now() - Duration::hours(KEY_GRACE_HOURS);
        Ok(on_db!(&self.db, p => sqlx::query_as(
            "SELECT kid, n, e FROM oidc_keys WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC"
        ).bind(since).fetch_all(p).await)?)
    }

    /// The JSON Web Key Set: the public halves of the published keys.
    pub async fn jwks(&self) -> Result<Value> {
        let mut keys = self.published_keys().await?;
        if keys.is_empty() {
            self.active_key().await?;
            keys = self.published_keys().await?;
        }
        Ok(json!({
            "keys": keys.iter().map(|k| json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid, "n": k.n, "e": k.e,
            })).collect::<Vec<_>>()
        }))
    }

    /// The discovery document.
    pub fn discovery(&self) -> Value {
        let i = self.issuer();
        let mut scopes: Vec<&str> = OIDC_SCOPES.iter().map(|(s, _)| *s).collect();
        scopes.extend(authz::SCOPES.iter().filter(|s| **s != "profile"));
        json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/oidc/authorize"),
            "token_endpoint": format!("{i}/oidc/token"),
            "userinfo_endpoint": format!("{i}/oidc/userinfo"),
            "jwks_uri": format!("{i}/oidc/jwks"),
            "end_session_endpoint": format!("{i}/oidc/logout"),
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "sid", "azp",
                "name", "birthdate", "gender", "email", "email_verified", "phone_number", "phone_number_verified", "cccd"],
            "acr_values_supported": ["urn:motcua:loa:1", "urn:motcua:loa:2"],
            "ui_locales_supported": ["vi", "en"],
            "authorization_response_iss_parameter_supported": true,
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
        })
    }

    // ----- the authorization endpoint -----

    /// Checks an authorization request's parameters.
    pub async fn check_authorize(
        &self,
        q: &std::collections::HashMap<String, String>,
    ) -> Result<AuthRequest, AuthorizeError> {
        let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let client = match get("client_id") {
            Some(id) => self
                .client(id)
                .await
                .map_err(|e| AuthorizeError::NoRedirect(e.into()))?,
            None => None,
        };
        let Some(client) = client.filter(|c| !c.disabled) else {
            return Err(AuthorizeError::NoRedirect(OAuthError::new(
                "unauthorized_client",
                "This application is not registered with this node",
                "Ứng dụng này chưa được đăng ký với hệ thống",
            )));
        };
        let Some(redirect_uri) = get("redirect_uri")
            .filter(|u| client.redirect_uris.iter().any(|r| r == u))
            .map(str::to_string)
        else {
            return Err(AuthorizeError::NoRedirect(OAuthError::new(
                "invalid_request",
                "The redirect URI is not one registered for this application",
                "Địa chỉ chuyển hướng không nằm trong danh sách đã đăng ký của ứng dụng",
            )));
        };
        let state = get("state").map(|s| s.chars().take(500).collect::<String>());
        let fail = |error: OAuthError| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
        };
        if get("response_type") != Some("code") {
            return Err(fail(OAuthError::new(
                "unsupported_response_type",
                "Only response_type=code is supported",
                "Chỉ hỗ trợ response_type=code",
            )));
        }
        if !client.allows_grant("authorization_code") {
            return Err(fail(OAuthError::new(
                "unauthorized_client",
                "This client may not use the authorization code flow",
                "Ứng dụng không được dùng luồng mã ủy quyền",
            )));
        }
        if get("request").is_some() || get("request_uri").is_some() {
            return Err(fail(OAuthError::new(
                "request_not_supported",
                "Request objects are not supported",
                "Không hỗ trợ đối tượng yêu cầu",
            )));
        }
        let mut scopes: Vec<String> = get("scope")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(fail(OAuthError::new(
                "invalid_scope",
                "No scope requested",
                "Chưa nêu phạm vi",
            )));
        }
        if let Some(s) = scopes.iter().find(|s| !client.scopes.contains(s)) {
            return Err(fail(OAuthError::new(
                "invalid_scope",
                format!("Scope {s} is not allowed for this application"),
                format!("Ứng dụng không được cấp phạm vi {s}"),
            )));
        }
        let challenge = match (get("code_challenge"), get("code_challenge_method")) {
            (Some(c), Some("S256"))
                if (43..=128).contains(&c.len())
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')) =>
            {
                c.to_string()
            }
            _ => {
                return Err(fail(OAuthError::new(
                    "invalid_request",
                    "PKCE is required: send code_challenge with code_challenge_method=S256",
                    "Cần PKCE: gửi code_challenge với code_challenge_method=S256",
                )));
            }
        };
        let nonce = get("nonce").map(str::to_string);
        if nonce.as_ref().is_some_and(|n| n.len() > 500) {
            return Err(fail(OAuthError::new(
                "invalid_request",
                "The nonce is too long",
                "Giá trị nonce quá dài",
            )));
        }
        let prompt = get("prompt").map(str::to_string);
        if prompt.as_deref().is_some_and(|p| {
            !p.split_whitespace()
                .all(|x| matches!(x, "none" | "login" | "consent"))
        }) {
            return Err(fail(OAuthError::new(
                "invalid_request",
                "prompt is none, login or consent",
                "prompt chỉ nhận none, login hoặc consent",
            )));
        }
        Ok(AuthRequest {
            client,
            redirect_uri,
            scopes,
            state,
            nonce,
            challenge,
            prompt,
        })
    }

    /// Registers a first-party client (another node of the federation: its users are not
    /// asked for consent): public, with PKCE, for the code flow to `redirect_uri`.
    pub async fn register_first_party(
        &self,
        name: &str,
        redirect_uri: &str,
        actor: &str,
    ) -> Result<Client> {
        let spec = ClientSpec {
            name: name.to_string(),
            redirect_uris: vec![redirect_uri.to_string()],
            post_logout_uris: Vec::new(),
            scopes: vec!["openid".into(), "profile".into(), "cccd".into()],
            confidential: false,
            machine: false,
            agency: None,
        };
        let (client, _) = self.register_client(&spec, actor).await?;
        on_db!(&self.db, p => sqlx::query("UPDATE oidc_clients SET first_party = $1 WHERE client_id = $2")
            .bind(true).bind(&client.client_id).execute(p).await.map(|_| ()))?;
        Ok(client)
    }

    /// Whether the account has already agreed to share these scopes with the client (always,
    /// for a first-party client).
    pub async fn consent_covers(
        &self,
        account_id: &str,
        client_id: &str,
        scopes: &[String],
    ) -> Result<bool> {
        let first_party: Option<bool> = on_db!(&self.db, p => sqlx::query_scalar(
            "SELECT first_party FROM oidc_clients WHERE client_id = $1"
        ).bind(client_id).fetch_optional(p).await)?;
        if first_party == Some(true) {
            return Ok(true);
        }
        let granted: Option<String> = on_db!(&self.db, p => sqlx::query_scalar(
            "SELECT scopes FROM oidc_consents WHERE account_id = $1 AND client_id = $2"
        ).bind(account_id).bind(client_id).fetch_optional(p).await)?;
        Ok(granted.is_some_and(|g| {
            let g: Vec<&str> = g.split_whitespace().collect();
            scopes.iter().all(|s| g.contains(&s.as_str()))
        }))
    }

    /// Records consent and issues a code; returns the URL to send the browser to.
    pub async fn approve(
        &self,
        req: &AuthRequest,
        account_id: &str,
        session_hash: &str,
        auth_time: DateTime<Utc>,
        record_consent: bool,
    ) -> Result<String> {
        let now = self.clock.now();
        let code = random_token()?;
        let mut tx = Tx::begin(&self.db).await?;
        if record_consent {
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO oidc_consents (account_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (account_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at"
            ).bind(account_id).bind(&req.client.client_id).bind(req.scopes.join(" ")).bind(now)
            .execute(c).await.map(|_| ()))?;
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: &format!("account/{account_id}"),
                    action: "identity.oidc.consent",
                    subject: &format!("oidc-client/{}", req.client.client_id),
                    data: json!({ "scopes": req.scopes }),
                },
            )
            .await?;
        }
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO oidc_codes (code_hash, client_id, account_id, redirect_uri, scopes, nonce, challenge, sid, auth_time, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ).bind(token_hash(&code)).bind(&req.client.client_id).bind(account_id).bind(&req.redirect_uri)
        .bind(req.scopes.join(" ")).bind(req.nonce.as_deref()).bind(&req.challenge).bind(sid_of(session_hash))
        .bind(auth_time).bind(now).bind(now + Duration::seconds(CODE_LIFETIME_SECS))
        .execute(c).await.map(|_| ()))?;
        tx.commit().await?;
        let mut pairs = vec![("code", code)];
        if let Some(s) = &req.state {
            pairs.push(("state", s.clone()));
        }
        pairs.push(("iss", self.issuer().to_string()));
        Ok(with_query(&req.redirect_uri, &pairs))
    }

    // ----- the token endpoint -----

    /// Checks a client's credentials at the token endpoint.
    async fn authenticate_client(&self, auth: &ClientAuth) -> Result<Client, OAuthError> {
        let invalid = || {
            OAuthError::new(
                "invalid_client",
                "Client authentication failed",
                "Xác thực ứng dụng không thành công",
            )
        };
        let id = auth.client_id.as_deref().ok_or_else(invalid)?;
        let row = self.client_row(id).await?.ok_or_else(invalid)?;
        if row.disabled {
            return Err(invalid());
        }
        match (&row.secret_hash, &auth.secret) {
            (Some(h), Some(s)) if same(h, &token_hash(s)) => Ok(row.client()),
            (None, None) => Ok(row.client()),
            _ => Err(invalid()),
        }
    }

    /// The token endpoint: `grant_type` and its parameters, and how the client authenticated.
    pub async fn token(
        &self,
        form: &std::collections::HashMap<String, String>,
        auth: &ClientAuth,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.authenticate_client(auth).await?;
        let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
        match get("grant_type") {
            Some("authorization_code") => self.exchange_code(&client, form).await,
            Some("refresh_token") => self.refresh(&client, form).await,
            Some("client_credentials") => self.client_credentials(&client, get("scope")).await,
            Some(_) => Err(OAuthError::new(
                "unsupported_grant_type",
                "Unsupported grant_type",
                "Không hỗ trợ loại grant_type này",
            )),
            None => Err(OAuthError::new(
                "invalid_request",
                "grant_type is missing",
                "Thiếu grant_type",
            )),
        }
    }

    async fn exchange_code(
        &self,
        client: &Client,
        form: &std::collections::HashMap<String, String>,
    ) -> Result<TokenResponse, OAuthError> {
        let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
        let code = get("code");
        if code.is_empty() || code.len() > 100 {
            return Err(OAuthError::new(
                "invalid_request",
                "code is missing",
                "Thiếu mã ủy quyền (code)",
            ));
        }
        let now = self.clock.now();
        let hash = token_hash(code);
        let row: Option<CodeRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT client_id, account_id, redirect_uri, scopes, nonce, challenge, sid, auth_time, expires_at, used_at, family \
             FROM oidc_codes WHERE code_hash = $1"
        ).bind(&hash).fetch_optional(p).await)?;
        let bad = || {
            OAuthError::grant(
                "The code is not valid, has expired or was used already",
                "Mã ủy quyền không hợp lệ, đã hết hạn hoặc đã được dùng",
            )
        };
        let row = row.ok_or_else(bad)?;
        if row.client_id != client.client_id {
            return Err(bad());
        }
        // Single use: only the first exchange marks it.
        let first = on_db!(&self.db, p => sqlx::query("UPDATE oidc_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
            .bind(now).bind(&hash).execute(p).await.map(|r| r.rows_affected() == 1))?;
        if !first || row.used_at.is_some() {
            if let Some(f) = &row.family {
                self.revoke_family(f, "code_reuse").await?;
            }
            tracing::warn!(target: "motcua::audit", client = %client.client_id, "authorization code presented twice; its tokens are revoked");
            return Err(bad());
        }
        if row.expires_at <= now {
            return Err(bad());
        }
        if get("redirect_uri") != row.redirect_uri {
            return Err(OAuthError::grant(
                "redirect_uri differs from the one in the authorization request",
                "redirect_uri khác với địa chỉ trong yêu cầu ủy quyền",
            ));
        }
        let verifier = get("code_verifier");
        if !(43..=128).contains(&verifier.len()) || !same(&s256(verifier), &row.challenge) {
            return Err(OAuthError::grant(
                "The PKCE code_verifier does not match the code_challenge",
                "code_verifier (PKCE) không khớp với code_challenge",
            ));
        }
        let scopes: Vec<String> = row.scopes.split_whitespace().map(str::to_string).collect();
        let family = self
            .new_family(
                client,
                Some(&row.account_id),
                &scopes,
                &row.sid,
                Some(row.auth_time),
            )
            .await?;
        on_db!(&self.db, p => sqlx::query("UPDATE oidc_codes SET family = $1 WHERE code_hash = $2")
            .bind(&family).bind(&hash).execute(p).await.map(|_| ()))?;
        self.issue(
            client,
            &family,
            Some(&row.account_id),
            &scopes,
            &row.sid,
            Some(row.auth_time),
            row.nonce.as_deref(),
            now + Duration::days(FAMILY_LIFETIME_DAYS),
        )
        .await
    }

    async fn refresh(
        &self,
        client: &Client,
        form: &std::collections::HashMap<String, String>,
    ) -> Result<TokenResponse, OAuthError> {
        let token = form.get("refresh_token").map(String::as_str).unwrap_or("");
        let bad = || {
            OAuthError::grant(
                "The refresh token is not valid, has expired or was revoked",
                "Mã làm mới không hợp lệ, đã hết hạn hoặc đã bị thu hồi",
            )
        };
        if !token.starts_with("mcr_") || token.len() > 100 {
            return Err(bad());
        }
        let now = self.clock.now();
        let hash = token_hash(token);
        let row = self.token_row(&hash).await?.ok_or_else(bad)?;
        if row.kind != "refresh" || row.client_id != client.client_id {
            return Err(bad());
        }
        if row.revoked_at.is_some() {
            return Err(bad());
        }
        let first = on_db!(&self.db, p => sqlx::query("UPDATE oidc_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
            .bind(now).bind(&hash).execute(p).await.map(|r| r.rows_affected() == 1))?;
        if !first || row.used_at.is_some() {
            self.revoke_family(&row.family, "refresh_reuse").await?;
            tracing::warn!(target: "motcua::audit", client = %client.client_id, family = %row.family, "a used refresh token came back; the family is revoked");
            return Err(bad());
        }
        if row.expires_at <= now || row.family_expires_at <= now {
            return Err(bad());
        }
        let mut scopes: Vec<String> = row.scopes.split_whitespace().map(str::to_string).collect();
        if let Some(asked) = form.get("scope").filter(|s| !s.trim().is_empty()) {
            let asked: Vec<String> = asked.split_whitespace().map(str::to_string).collect();
            if asked.iter().any(|s| !scopes.contains(s)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    "A refresh cannot widen the scopes",
                    "Không thể mở rộng phạm vi khi làm mới",
                ));
            }
            scopes = asked;
        }
        if let Some(a) = &row.account_id {
            let disabled: Option<bool> = on_db!(&self.db, p => sqlx::query_scalar("SELECT disabled FROM accounts WHERE id = $1")
                .bind(a).fetch_optional(p).await)?;
            if disabled != Some(false) {
                return Err(bad());
            }
        }
        self.issue(
            client,
            &row.family,
            row.account_id.as_deref(),
            &scopes,
            &row.sid,
            row.auth_time,
            None,
            row.family_expires_at,
        )
        .await
    }

    async fn client_credentials(
        &self,
        client: &Client,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        if !client.allows_grant("client_credentials") || !client.confidential {
            return Err(OAuthError::new(
                "unauthorized_client",
                "This client may not use client credentials",
                "Ứng dụng không được dùng thông tin xác thực ứng dụng",
            ));
        }
        let api: Vec<String> = client
            .scopes
            .iter()
            .filter(|s| authz::SCOPES.contains(&s.as_str()))
            .cloned()
            .collect();
        let scopes: Vec<String> = match scope {
            Some(s) => s.split_whitespace().map(str::to_string).collect(),
            None => api.clone(),
        };
        if scopes.is_empty() || scopes.iter().any(|s| !api.contains(s)) {
            return Err(OAuthError::new(
                "invalid_scope",
                "A requested scope is not registered for this client",
                "Có phạm vi chưa được đăng ký cho ứng dụng",
            ));
        }
        let now = self.clock.now();
        let family = self.new_family(client, None, &scopes, "", None).await?;
        let access = format!("mca_{}", random_token()?);
        on_db!(&self.db, p => sqlx::query(
            "INSERT INTO oidc_tokens (token_hash, family, kind, created_at, expires_at) VALUES ($1, $2, 'access', $3, $4)"
        ).bind(token_hash(&access)).bind(&family).bind(now).bind(now + Duration::seconds(ACCESS_LIFETIME_SECS))
        .execute(p).await.map(|_| ()))?;
        Ok(TokenResponse {
            access_token: access,
            token_type: "Bearer".into(),
            expires_in: ACCESS_LIFETIME_SECS,
            refresh_token: None,
            id_token: None,
            scope: scopes.join(" "),
        })
    }

    async fn new_family(
        &self,
        client: &Client,
        account_id: Option<&str>,
        scopes: &[String],
        sid: &str,
        auth_time: Option<DateTime<Utc>>,
    ) -> Result<String, OAuthError> {
        let now = self.clock.now();
        let family = uuid::Uuid::now_v7().to_string();
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO oidc_families (family, client_id, account_id, scopes, sid, auth_time, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ).bind(&family).bind(&client.client_id).bind(account_id).bind(scopes.join(" ")).bind(sid)
        .bind(auth_time).bind(now).bind(now + Duration::days(FAMILY_LIFETIME_DAYS))
        .execute(c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &format!("oidc-client/{}", client.client_id),
                action: "identity.oidc.grant",
                subject: &match account_id {
                    Some(a) => format!("account/{a}"),
                    None => format!("oidc-client/{}", client.client_id),
                },
                data: json!({ "family": family, "scopes": scopes }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(family)
    }

    /// Issues an access token, a refresh token and (with `openid`) an ID token.
    #[allow(clippy::too_many_arguments)]
    async fn issue(
        &self,
        client: &Client,
        family: &str,
        account_id: Option<&str>,
        scopes: &[String],
        sid: &str,
        auth_time: Option<DateTime<Utc>>,
        nonce: Option<&str>,
        family_expires: DateTime<Utc>,
    ) -> Result<TokenResponse, OAuthError> {
        let now = self.clock.now();
        let access = format!("mca_{}", random_token()?);
        let refresh = client
            .allows_grant("refresh_token")
            .then(|| random_token().map(|t| format!("mcr_{t}")))
            .transpose()?;
        let id_token = match (account_id, scopes.iter().any(|s| s == "openid")) {
            (Some(a), true) => Some(
                self.id_token(client, a, scopes, sid, auth_time, nonce)
                    .await?,
            ),
            _ => None,
        };
        let refresh_expires = (now + Duration::days(REFRESH_LIFETIME_DAYS)).min(family_expires);
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO oidc_tokens (token_hash, family, kind, created_at, expires_at) VALUES ($1, $2, 'access', $3, $4)"
        ).bind(token_hash(&access)).bind(family).bind(now).bind(now + Duration::seconds(ACCESS_LIFETIME_SECS))
        .execute(c).await.map(|_| ()))?;
        if let Some(r) = &refresh {
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO oidc_tokens (token_hash, family, kind, created_at, expires_at) VALUES ($1, $2, 'refresh', $3, $4)"
            ).bind(token_hash(r)).bind(family).bind(now).bind(refresh_expires)
            .execute(c).await.map(|_| ()))?;
        }
        tx.commit().await?;
        Ok(TokenResponse {
            access_token: access,
            token_type: "Bearer".into(),
            expires_in: ACCESS_LIFETIME_SECS,
            refresh_token: refresh,
            id_token,
            scope: scopes.join(" "),
        })
    }

    /// The claims about an account that `scopes` release.
    async fn claims(
        &self,
        account_id: &str,
        scopes: &[String],
    ) -> Result<serde_json::Map<String, Value>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            kind: String,
            login: String,
            full_name: String,
            cccd: Option<String>,
            birth_date: Option<chrono::NaiveDate>,
            sex: Option<String>,
            phone: Option<String>,
            email: Option<String>,
            assurance: i64,
        }
        let r: Option<Row> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT kind, login, full_name, cccd, birth_date, sex, phone, email, assurance FROM accounts WHERE id = $1 AND disabled = $2"
        ).bind(account_id).bind(false).fetch_optional(p).await)?;
        let r = r.ok_or_else(|| IdentityError::NotFound(account_id.to_string()))?;
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let mut m = serde_json::Map::new();
        m.insert("sub".into(), json!(account_id));
        if has("profile") {
            m.insert("name".into(), json!(r.full_name));
            m.insert("preferred_username".into(), json!(r.login));
            m.insert("account_kind".into(), json!(r.kind));
            if let Some(b) = r.birth_date {
                m.insert("birthdate".into(), json!(b.format("%Y-%m-%d").to_string()));
            }
            if let Some(s) = r.sex {
                m.insert("gender".into(), json!(s));
            }
            m.insert(
                "acr".into(),
                json!(format!("urn:motcua:loa:{}", r.assurance)),
            );
        }
        if has("email")
            && let Some(e) = r.email
        {
            m.insert("email".into(), json!(e));
            m.insert("email_verified".into(), json!(false));
        }
        if has("phone")
            && let Some(p) = r.phone
        {
            m.insert("phone_number".into(), json!(p));
            m.insert("phone_number_verified".into(), json!(false));
        }
        if has("cccd")
            && let Some(c) = r.cccd
        {
            m.insert("cccd".into(), json!(c));
        }
        Ok(m)
    }

    async fn id_token(
        &self,
        client: &Client,
        account_id: &str,
        scopes: &[String],
        sid: &str,
        auth_time: Option<DateTime<Utc>>,
        nonce: Option<&str>,
    ) -> Result<String, OAuthError> {
        let now = self.clock.now();
        let mut claims = self.claims(account_id, scopes).await?;
        let assurance: i64 = on_db!(&self.db, p => sqlx::query_scalar("SELECT assurance FROM accounts WHERE id = $1")
            .bind(account_id).fetch_one(p).await)?;
        claims.insert("iss".into(), json!(self.issuer()));
        claims.insert("aud".into(), json!(client.client_id));
        claims.insert("azp".into(), json!(client.client_id));
        claims.insert("iat".into(), json!(now.timestamp()));
        claims.insert(
            "exp".into(),
            json!((now + Duration::seconds(ACCESS_LIFETIME_SECS)).timestamp()),
        );
        claims.insert("acr".into(), json!(format!("urn:motcua:loa:{assurance}")));
        if let Some(t) = auth_time {
            claims.insert("auth_time".into(), json!(t.timestamp()));
        }
        if !sid.is_empty() {
            claims.insert("sid".into(), json!(sid));
        }
        if let Some(n) = nonce {
            claims.insert("nonce".into(), json!(n));
        }
        let (kid, key) = self.active_key().await?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid);
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, &Value::Object(claims), &key).map_err(OAuthError::server)
    }

    /// Checks the signature and issuer of an ID token this node issued, ignoring its expiry
    /// (an `id_token_hint` may have expired); returns its claims.
    pub async fn verify_own_id_token(&self, token: &str) -> Result<Option<Value>> {
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return Ok(None);
        };
        let Some(kid) = header.kid else {
            return Ok(None);
        };
        let keys = self.published_keys().await?;
        let Some(k) = keys.iter().find(|k| k.kid == kid) else {
            return Ok(None);
        };
        let Ok(key) = DecodingKey::from_rsa_components(&k.n, &k.e) else {
            return Ok(None);
        };
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_exp = false;
        v.validate_aud = false;
        v.set_issuer(&[self.issuer()]);
        v.required_spec_claims.clear();
        Ok(jsonwebtoken::decode::<Value>(token, &key, &v)
            .ok()
            .map(|d| d.claims))
    }

    async fn token_row(&self, hash: &str) -> Result<Option<TokenRow>> {
        Ok(on_db!(&self.db, p => sqlx::query_as(
            "SELECT t.family, t.kind, t.expires_at, t.used_at, f.client_id, f.account_id, f.scopes, f.sid, f.auth_time, \
                    f.expires_at AS family_expires_at, f.revoked_at \
             FROM oidc_tokens t JOIN oidc_families f ON f.family = t.family WHERE t.token_hash = $1"
        ).bind(hash).fetch_optional(p).await)?)
    }

    /// Revokes every token of a family.
    pub async fn revoke_family(&self, family: &str, reason: &str) -> Result<()> {
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query("UPDATE oidc_families SET revoked_at = $1, revoked_reason = $2 WHERE family = $3 AND revoked_at IS NULL")
            .bind(now).bind(reason).bind(family).execute(c).await.map(|r| r.rows_affected()))?;
        if n > 0 {
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: "system",
                    action: "identity.oidc.revoke",
                    subject: &format!("oidc-family/{family}"),
                    data: json!({ "reason": reason }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Revokes the token families bound to a browser session (at its logout).
    pub(crate) async fn revoke_session_families(&self, session_hash: &str) -> Result<u64> {
        let now = self.clock.now();
        Ok(on_db!(&self.db, p => sqlx::query(
            "UPDATE oidc_families SET revoked_at = $1, revoked_reason = 'logout' WHERE sid = $2 AND revoked_at IS NULL"
        ).bind(now).bind(sid_of(session_hash)).execute(p).await.map(|r| r.rows_affected()))?)
    }

    /// A live access token: its family's account (if any), client and scopes.
    async fn access(&self, token: &str) -> Result<Option<TokenRow>> {
        if !token.starts_with("mca_") || token.len() > 100 {
            return Ok(None);
        }
        let now = self.clock.now();
        Ok(self
            .token_row(&token_hash(token))
            .await?
            .filter(|r| r.kind == "access" && r.expires_at > now && r.revoked_at.is_none()))
    }

    /// The principal behind an OIDC access token: the person it was issued for, limited to
    /// its scopes, or the machine client itself.
    pub async fn access_principal(&self, token: &str) -> Result<Option<Principal>> {
        let Some(row) = self.access(token).await? else {
            return Ok(None);
        };
        let scopes: Vec<String> = row.scopes.split_whitespace().map(str::to_string).collect();
        match &row.account_id {
            Some(a) => {
                let p = self.principal(a, Some(scopes)).await?;
                Ok(Some(p))
            }
            None => {
                let client = self.client(&row.client_id).await?;
                Ok(client.filter(|c| !c.disabled).map(|c| Principal {
                    id: format!("oidc-client/{}", c.client_id),
                    kind: AccountKind::Machine,
                    login: c.client_id.clone(),
                    full_name: c.name.clone(),
                    assurance: 0,
                    grants: Vec::new(),
                    scopes: Some(scopes),
                    represents: Vec::new(),
                }))
            }
        }
    }

    /// The userinfo endpoint.
    pub async fn userinfo(&self, token: &str) -> Result<Value, OAuthError> {
        let row = self.access(token).await?.ok_or_else(|| {
            OAuthError::new(
                "invalid_token",
                "The access token is not valid or has expired",
                "Mã truy cập không hợp lệ hoặc đã hết hạn",
            )
        })?;
        let scopes: Vec<String> = row.scopes.split_whitespace().map(str::to_string).collect();
        let (Some(account), true) = (&row.account_id, scopes.iter().any(|s| s == "openid")) else {
            return Err(OAuthError::new(
                "insufficient_scope",
                "The token does not carry the openid scope",
                "Mã truy cập không có phạm vi openid",
            ));
        };
        match self.claims(account, &scopes).await {
            Ok(m) => Ok(Value::Object(m)),
            Err(IdentityError::NotFound(_)) => Err(OAuthError::new(
                "invalid_token",
                "The account is no longer active",
                "Tài khoản không còn hoạt động",
            )),
            Err(e) => Err(e.into()),
        }
    }
}

/// A new 2048-bit RSA key: its PKCS#1 PEM and the public modulus and exponent, base64url.
fn new_rsa_key() -> Result<(String, String, String)> {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|e| IdentityError::Hash(format!("key generation: {e}")))?;
    let pem = key
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| IdentityError::Hash(format!("key encoding: {e}")))?;
    Ok((
        pem.to_string(),
        b64(&key.n().to_bytes_be()),
        b64(&key.e().to_bytes_be()),
    ))
}

/// The parsed-key cache behind [`Identity`].
#[derive(Default)]
pub(crate) struct KeyCache(RwLock<Option<ActiveKey>>);

impl std::ops::Deref for KeyCache {
    type Target = RwLock<Option<ActiveKey>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_base64url_sha256() {
        // Computed independently: base64url(SHA-256(verifier)) without padding.
        assert_eq!(
            s256("motcua-pkce-verifier-0123456789-abcdefghijklmnop"),
            "WvTcsYagoqUtautdi1bJVkClmNPfXngXOnFI3Aabukk"
        );
    }

    #[test]
    fn redirect_uris_must_be_https_or_loopback() {
        assert!(check_redirect_uri("https://cong.hanoi.gov.vn/cb").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:9000/cb").is_ok());
        assert!(check_redirect_uri("http://cong.hanoi.gov.vn/cb").is_err());
        assert!(check_redirect_uri("https://a.vn/cb#x").is_err());
        assert!(check_redirect_uri("/cb").is_err());
    }

    #[test]
    fn errors_redirect_with_state_and_issuer() {
        let e = AuthorizeError::Redirect {
            redirect_uri: "https://rp.vn/cb?x=1".into(),
            state: Some("s t".into()),
            error: OAuthError::new("access_denied", "no", "không"),
        };
        assert_eq!(
            e.location("https://motcua.vn").as_deref(),
            Some(
                "https://rp.vn/cb?x=1&error=access_denied&error_description=no&state=s+t&iss=https%3A%2F%2Fmotcua.vn"
            )
        );
    }
}
