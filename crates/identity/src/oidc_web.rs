//! The OpenID Connect endpoints: discovery, JWKS, authorize (with the consent screen), token,
//! userinfo and RP-initiated logout.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRef, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use web::{Chrome, PageError, Site, render_status};

use crate::oidc::{
    AuthRequest, AuthorizeError, ClientAuth, OAuthError, OIDC_SCOPES, TokenResponse,
};
use crate::web::{Auth, SESSION_COOKIE, cookie, need_login, session_cookie, set_cookie};
use crate::{Identity, IdentityError, same};

impl kernel::Problem for OAuthError {
    fn kind(&self) -> &'static str {
        self.code
    }
    fn status(&self) -> u16 {
        OAuthError::status(self)
    }
    fn message_vi(&self) -> String {
        self.vi.clone()
    }
    fn message_en(&self) -> String {
        self.en.clone()
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.en)
    }
}

impl std::error::Error for OAuthError {}

/// The OpenID Connect routes.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Identity>: FromRef<S>,
    Site: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(discovery))
        .routes(routes!(jwks))
        .routes(routes!(authorize, authorize_decide))
        .routes(routes!(token))
        .routes(routes!(userinfo_get, userinfo_post))
        .routes(routes!(logout_get, logout_post))
}

fn json_no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn oauth_error(e: &OAuthError) -> Response {
    json_no_store(
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
        e.body(),
    )
}

/// The OpenID Provider's metadata.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oidc",
    responses((status = 200, description = "OpenID Provider metadata (OpenID Connect Discovery 1.0)", body = serde_json::Value)))]
async fn discovery(State(id): State<Arc<Identity>>) -> Response {
    let mut r = Json(id.discovery()).into_response();
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// The public signing keys, the retired ones included while tokens they signed may live.
#[utoipa::path(get, path = "/oidc/jwks", tag = "oidc",
    responses((status = 200, description = "JSON Web Key Set", body = serde_json::Value)))]
async fn jwks(State(id): State<Arc<Identity>>) -> Response {
    match id.jwks().await {
        Ok(v) => {
            let mut r = Json(v).into_response();
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            r.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            r
        }
        Err(e) => oauth_error(&e.into()),
    }
}

/// What a scope lets the application see, for the consent screen.
fn scope_text(scope: &str, vi: bool) -> &'static str {
    match (scope, vi) {
        ("openid", true) => "Biết bạn là ai (mã định danh tài khoản)",
        ("openid", false) => "Know who you are (your account identifier)",
        ("profile", true) => "Họ tên, ngày sinh, giới tính và mức định danh",
        ("profile", false) => "Your name, date of birth, sex and assurance level",
        ("email", true) => "Địa chỉ thư điện tử",
        ("email", false) => "Your e-mail address",
        ("phone", true) => "Số điện thoại",
        ("phone", false) => "Your phone number",
        ("cccd", true) => "Số định danh cá nhân (CCCD)",
        ("cccd", false) => "Your personal identification number (CCCD)",
        ("catalog:read", true) => "Đọc danh mục thủ tục",
        ("catalog:read", false) => "Read the procedure catalogue",
        ("catalog:write", true) => "Sửa danh mục thủ tục thay bạn",
        ("catalog:write", false) => "Change the procedure catalogue on your behalf",
        ("accounts:admin", true) => "Quản trị tài khoản thay bạn",
        ("accounts:admin", false) => "Administer accounts on your behalf",
        ("calendar:write", true) => "Sửa lịch ngày làm việc thay bạn",
        ("calendar:write", false) => "Edit the working-day calendar on your behalf",
        ("audit:read", true) => "Đọc nhật ký kiểm toán",
        ("audit:read", false) => "Read the audit log",
        (_, true) => "Phạm vi khác",
        (_, false) => "Other access",
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    c: Chrome,
    client_name: String,
    agency: Option<String>,
    user: String,
    redirect_host: String,
    scopes: Vec<(String, &'static str, String)>,
    fields: Vec<(&'static str, String)>,
    csrf: String,
}

/// The origin of a URL (`https://host:port`), for the CSP's form targets.
fn origin(uri: &str) -> Option<String> {
    url::Url::parse(uri)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

/// Where a login that continues to `next` may end up: the relying party's origin, when `next`
/// is an authorization request with a registered redirect URI.
pub(crate) async fn form_targets_for(id: &Identity, next: &str) -> Option<String> {
    let query = next.strip_prefix("/oidc/authorize?")?;
    let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    match id.check_authorize(&q).await {
        Ok(r) => origin(&r.redirect_uri),
        Err(AuthorizeError::Redirect { redirect_uri, .. }) => origin(&redirect_uri),
        Err(AuthorizeError::NoRedirect(_)) => None,
    }
}

/// Sets a CSP that lets forms on this page end at `target` as well as this node.
pub(crate) fn allow_form_target(mut resp: Response, target: Option<&str>) -> Response {
    if let Some(t) = target
        && let Ok(v) = HeaderValue::from_str(&web::csp(&[t]))
    {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

fn authorize_failure(e: AuthorizeError, id: &Identity, c: Chrome) -> Response {
    match e.location(id.issuer()) {
        Some(to) => Redirect::to(&to).into_response(),
        None => match e {
            AuthorizeError::NoRedirect(err) => PageError::new(err, c).into_response(),
            AuthorizeError::Redirect { error, .. } => PageError::new(error, c).into_response(),
        },
    }
}

/// The parameters that carry an authorization request through the consent form.
const CARRIED: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// The authorization endpoint: logs the user in if needed, asks for consent, and sends the
/// browser back to the application with a code.
#[utoipa::path(get, path = "/oidc/authorize", tag = "oidc",
    params(
        ("response_type" = String, Query, description = "`code`"),
        ("client_id" = String, Query),
        ("redirect_uri" = String, Query, description = "Exactly as registered"),
        ("scope" = String, Query, description = "Space-separated: `openid profile email phone cccd` and API scopes"),
        ("state" = Option<String>, Query),
        ("nonce" = Option<String>, Query),
        ("code_challenge" = String, Query, description = "PKCE, required"),
        ("code_challenge_method" = String, Query, description = "`S256`"),
        ("prompt" = Option<String>, Query, description = "`none`, `login` or `consent`"),
    ),
    responses(
        (status = 200, description = "The consent page", content_type = "text/html"),
        (status = 303, description = "To the login page, or back to the application with `code` or `error`"),
        (status = 400, description = "Unknown client or unregistered redirect URI (no redirect)", content_type = "text/html"),
    ))]
async fn authorize(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let req = match id.check_authorize(&q).await {
        Ok(r) => r,
        Err(e) => return authorize_failure(e, &id, c),
    };
    let prompt: Vec<&str> = req
        .prompt
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let here = || {
        let pairs: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "prompt")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            s.append_pair(k, v);
        }
        format!("/oidc/authorize?{}", s.finish())
    };
    let (Some(p), Some(s)) = (auth.principal(), &auth.session) else {
        if prompt.contains(&"none") {
            return authorize_failure(
                redirect_error(
                    &req,
                    "login_required",
                    "The user is not logged in",
                    "Người dùng chưa đăng nhập",
                ),
                &id,
                c,
            );
        }
        return need_login(&here());
    };
    let now = id.now();
    if prompt.contains(&"login") && now - s.authenticated_at > chrono::Duration::seconds(60) {
        return need_login(&here());
    }
    let covered = match id
        .consent_covers(&p.id, &req.client.client_id, &req.scopes)
        .await
    {
        Ok(b) => b,
        Err(e) => return PageError::new(e, c).into_response(),
    };
    if covered && !prompt.contains(&"consent") {
        return match id
            .approve(&req, &p.id, &s.token_hash, s.authenticated_at, false)
            .await
        {
            Ok(to) => Redirect::to(&to).into_response(),
            Err(e) => PageError::new(e, c).into_response(),
        };
    }
    if prompt.contains(&"none") {
        return authorize_failure(
            redirect_error(
                &req,
                "consent_required",
                "The user has not agreed yet",
                "Người dùng chưa đồng ý",
            ),
            &id,
            c,
        );
    }
    consent_page(&req, p.full_name.clone(), s.csrf.clone(), &q, c)
}

fn redirect_error(req: &AuthRequest, code: &'static str, en: &str, vi: &str) -> AuthorizeError {
    AuthorizeError::Redirect {
        redirect_uri: req.redirect_uri.clone(),
        state: req.state.clone(),
        error: OAuthError::new(code, en, vi),
    }
}

fn consent_page(
    req: &AuthRequest,
    user: String,
    csrf: String,
    q: &HashMap<String, String>,
    c: Chrome,
) -> Response {
    let vi = c.lang.is_vi();
    let scopes = req
        .scopes
        .iter()
        .map(|s| {
            let claims = OIDC_SCOPES
                .iter()
                .find(|(n, _)| n == s)
                .map(|(_, cl)| cl.join(", "))
                .unwrap_or_default();
            (s.clone(), scope_text(s, vi), claims)
        })
        .collect();
    let fields = CARRIED
        .iter()
        .filter_map(|k| q.get(*k).map(|v| (*k, v.clone())))
        .collect();
    let target = origin(&req.redirect_uri);
    let page = ConsentPage {
        client_name: req.client.name.clone(),
        agency: req.client.agency.clone(),
        user,
        redirect_host: url::Url::parse(&req.redirect_uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default(),
        scopes,
        fields,
        csrf,
        c,
    };
    allow_form_target(render_status(StatusCode::OK, &page), target.as_deref())
}

/// The answer on the consent screen.
#[utoipa::path(post, path = "/oidc/authorize", tag = "oidc",
    request_body(content = HashMap<String, String>, content_type = "application/x-www-form-urlencoded",
        description = "The authorization request's parameters, `csrf`, and `decision` (`allow` or `deny`)"),
    responses(
        (status = 303, description = "Back to the application with `code` or `error=access_denied`"),
        (status = 403, description = "CSRF check failed", content_type = "text/html"),
    ))]
async fn authorize_decide(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return PageError::new(
            IdentityError::Invalid(vec![kernel::ProblemDetail::new(
                "form",
                "Biểu mẫu không đọc được",
                "The form cannot be read",
            )]),
            c,
        )
        .into_response();
    };
    let (Some(p), Some(s)) = (auth.principal(), &auth.session) else {
        return need_login("/tai-khoan");
    };
    if !f.get("csrf").is_some_and(|t| same(t, &s.csrf)) {
        return PageError::new(IdentityError::Csrf, c).into_response();
    }
    let req = match id.check_authorize(&f).await {
        Ok(r) => r,
        Err(e) => return authorize_failure(e, &id, c),
    };
    if f.get("decision").map(String::as_str) != Some("allow") {
        return authorize_failure(
            redirect_error(
                &req,
                "access_denied",
                "The user declined",
                "Người dùng đã từ chối",
            ),
            &id,
            c,
        );
    }
    match id
        .approve(&req, &p.id, &s.token_hash, s.authenticated_at, true)
        .await
    {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(e) => PageError::new(e, c).into_response(),
    }
}

/// The token endpoint's parameters (form-encoded).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
struct TokenForm {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    grant_type: String,
    code: Option<String>,
    redirect_uri: Option<String>,
    /// PKCE verifier.
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    /// For `client_secret_post` and public clients.
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn form_decode(part: &str) -> String {
    url::form_urlencoded::parse(part.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1) or the form.
fn client_auth(headers: &HeaderMap, f: &HashMap<String, String>) -> Result<ClientAuth, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "));
    match basic {
        Some(b) => {
            if f.contains_key("client_secret") {
                return Err(OAuthError::new(
                    "invalid_request",
                    "Use one client authentication method",
                    "Chỉ dùng một cách xác thực ứng dụng",
                ));
            }
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
                .and_then(|v| String::from_utf8(v).ok())
                .ok_or_else(|| {
                    OAuthError::new(
                        "invalid_client",
                        "The Basic credentials cannot be read",
                        "Không đọc được thông tin xác thực Basic",
                    )
                })?;
            let (id, secret) = raw.split_once(':').unwrap_or((raw.as_str(), ""));
            Ok(ClientAuth {
                client_id: Some(form_decode(id)),
                secret: Some(form_decode(secret)).filter(|s| !s.is_empty()),
                basic: true,
            })
        }
        None => Ok(ClientAuth {
            client_id: f.get("client_id").cloned(),
            secret: f.get("client_secret").cloned().filter(|s| !s.is_empty()),
            basic: false,
        }),
    }
}

/// The token endpoint: exchanges a code (with its PKCE verifier), a refresh token, or a
/// machine client's credentials for tokens.
#[utoipa::path(post, path = "/oidc/token", tag = "oidc",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 400, description = "`invalid_grant`, `invalid_request`, `invalid_scope`, `unsupported_grant_type`, ... (RFC 6749 §5.2), with `error_description` and `error_description_vi`", body = serde_json::Value),
        (status = 401, description = "`invalid_client`", body = serde_json::Value),
    ),
    security(("client_basic" = []), ()))]
async fn token(
    State(id): State<Arc<Identity>>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return oauth_error(&OAuthError::new(
            "invalid_request",
            "The body must be application/x-www-form-urlencoded",
            "Nội dung phải ở dạng application/x-www-form-urlencoded",
        ));
    };
    let auth = match client_auth(&headers, &f) {
        Ok(a) => a,
        Err(e) => return oauth_error(&e),
    };
    match id.token(&f, &auth).await {
        Ok(t) => json_no_store(StatusCode::OK, serde_json::to_value(&t).unwrap_or_default()),
        Err(e) => {
            let mut r = oauth_error(&e);
            if e.code == "invalid_client" && auth.basic {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"motcua\""),
                );
            }
            r
        }
    }
}

fn bearer_of(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("")
}

async fn userinfo(id: &Identity, headers: &HeaderMap) -> Response {
    match id.userinfo(bearer_of(headers)).await {
        Ok(v) => json_no_store(StatusCode::OK, v),
        Err(e) => {
            let mut r = oauth_error(&e);
            let challenge = format!(
                "Bearer realm=\"motcua\", error=\"{}\", error_description=\"{}\"",
                e.code, e.en
            );
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            r
        }
    }
}

/// Claims about the user the access token was issued for, as its scopes allow.
#[utoipa::path(get, path = "/oidc/userinfo", tag = "oidc",
    responses(
        (status = 200, description = "The user's claims", body = serde_json::Value),
        (status = 401, description = "`invalid_token`", body = serde_json::Value),
        (status = 403, description = "`insufficient_scope`", body = serde_json::Value),
    ),
    security(("oidc_access" = [])))]
async fn userinfo_get(State(id): State<Arc<Identity>>, headers: HeaderMap) -> Response {
    userinfo(&id, &headers).await
}

/// The same, by POST.
#[utoipa::path(post, path = "/oidc/userinfo", tag = "oidc",
    responses(
        (status = 200, description = "The user's claims", body = serde_json::Value),
        (status = 401, description = "`invalid_token`", body = serde_json::Value),
    ),
    security(("oidc_access" = [])))]
async fn userinfo_post(State(id): State<Arc<Identity>>, headers: HeaderMap) -> Response {
    userinfo(&id, &headers).await
}

#[derive(Template)]
#[template(path = "oidc_logout.html")]
struct LogoutPage {
    c: Chrome,
    /// Asking to confirm (no valid hint), or telling it is done.
    confirm: bool,
    client_name: Option<String>,
    fields: Vec<(&'static str, String)>,
    csrf: String,
}

/// Where to go after logging out, if the request names a client and one of its registered
/// post-logout URIs. An unregistered URI is an error.
async fn logout_target(
    id: &Identity,
    q: &HashMap<String, String>,
) -> Result<(Option<String>, Option<String>, Option<String>), OAuthError> {
    let hint = match q.get("id_token_hint").filter(|h| !h.is_empty()) {
        Some(h) => id.verify_own_id_token(h).await?,
        None => None,
    };
    let sub = hint
        .as_ref()
        .and_then(|c| c["sub"].as_str())
        .map(str::to_string);
    let client_id = hint
        .as_ref()
        .and_then(|c| c["aud"].as_str().map(str::to_string))
        .or_else(|| q.get("client_id").cloned());
    let client = match &client_id {
        Some(cid) => id.client(cid).await?,
        None => None,
    };
    let target = match q.get("post_logout_redirect_uri").filter(|u| !u.is_empty()) {
        Some(u) => {
            let ok = client
                .as_ref()
                .is_some_and(|c| c.post_logout_uris.iter().any(|r| r == u));
            if !ok {
                return Err(OAuthError::new(
                    "invalid_request",
                    "post_logout_redirect_uri is not registered for this application",
                    "post_logout_redirect_uri chưa được đăng ký cho ứng dụng",
                ));
            }
            let mut pairs = Vec::new();
            if let Some(s) = q.get("state").filter(|s| !s.is_empty()) {
                pairs.push(("state", s.clone()));
            }
            Some(crate::oidc::with_query(u, &pairs))
        }
        None => None,
    };
    Ok((target, sub, client.map(|c| c.name)))
}

fn logged_out(to: Option<&str>, secure: bool, c: Chrome, client_name: Option<String>) -> Response {
    let mut resp = match to {
        Some(t) => Redirect::to(t).into_response(),
        None => render_status(
            StatusCode::OK,
            &LogoutPage {
                c,
                confirm: false,
                client_name,
                fields: Vec::new(),
                csrf: String::new(),
            },
        ),
    };
    set_cookie(&mut resp, session_cookie("", secure, 0));
    resp
}

const LOGOUT_CARRIED: &[&str] = &[
    "id_token_hint",
    "post_logout_redirect_uri",
    "state",
    "client_id",
];

/// RP-initiated logout: with an ID token of the logged-in user as hint, logs out at once;
/// otherwise asks the user first.
#[utoipa::path(get, path = "/oidc/logout", tag = "oidc",
    params(
        ("id_token_hint" = Option<String>, Query),
        ("post_logout_redirect_uri" = Option<String>, Query, description = "Exactly as registered"),
        ("state" = Option<String>, Query),
        ("client_id" = Option<String>, Query),
    ),
    responses(
        (status = 200, description = "A confirmation page, or the logged-out page", content_type = "text/html"),
        (status = 303, description = "Logged out; back to the application"),
        (status = 400, description = "Unregistered post-logout URI", content_type = "text/html"),
    ))]
async fn logout_get(
    State(id): State<Arc<Identity>>,
    State(site): State<Site>,
    auth: Auth,
    c: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (target, sub, client_name) = match logout_target(&id, &q).await {
        Ok(t) => t,
        Err(e) => return PageError::new(e, c).into_response(),
    };
    match (auth.principal(), &auth.session) {
        (Some(p), Some(s)) if sub.as_deref() == Some(p.id.as_str()) => {
            if let Err(e) = id.logout(&s.token_hash).await {
                return PageError::new(e, c).into_response();
            }
            logged_out(target.as_deref(), site.secure_cookies, c, client_name)
        }
        (Some(_), Some(s)) => {
            let fields = LOGOUT_CARRIED
                .iter()
                .filter_map(|k| q.get(*k).map(|v| (*k, v.clone())))
                .collect();
            let t = target.as_deref().and_then(origin);
            allow_form_target(
                render_status(
                    StatusCode::OK,
                    &LogoutPage {
                        c,
                        confirm: true,
                        client_name,
                        fields,
                        csrf: s.csrf.clone(),
                    },
                ),
                t.as_deref(),
            )
        }
        _ => logged_out(target.as_deref(), site.secure_cookies, c, client_name),
    }
}

/// The user confirms logging out.
#[utoipa::path(post, path = "/oidc/logout", tag = "oidc",
    request_body(content = HashMap<String, String>, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Logged out; back to the application"),
        (status = 200, description = "The logged-out page", content_type = "text/html"),
        (status = 403, description = "CSRF check failed", content_type = "text/html"),
    ))]
async fn logout_post(
    State(id): State<Arc<Identity>>,
    State(site): State<Site>,
    auth: Auth,
    c: Chrome,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let (target, _, client_name) = match logout_target(&id, &f).await {
        Ok(t) => t,
        Err(e) => return PageError::new(e, c).into_response(),
    };
    if let Some(s) = &auth.session {
        if !f.get("csrf").is_some_and(|t| same(t, &s.csrf)) {
            return PageError::new(IdentityError::Csrf, c).into_response();
        }
        if let Err(e) = id.logout(&s.token_hash).await {
            return PageError::new(e, c).into_response();
        }
    } else if cookie(&headers, SESSION_COOKIE).is_none() && target.is_none() {
        return Redirect::to("/").into_response();
    }
    logged_out(target.as_deref(), site.secure_cookies, c, client_name)
}
