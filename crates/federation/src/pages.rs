//! Single sign-on across the federation, on a local node: people log in through the national
//! node's OpenID Connect provider (code flow with PKCE, as the node's first-party client) and
//! get a session of this node, with this node's roles. A browser without a session that opens a
//! page is sent once, silently (`prompt=none`), to the national node: logged in there, it comes
//! back logged in here; otherwise it comes back as it was and is not sent again.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use identity::web::{SESSION_COOKIE, session_cookie, set_cookie};
use kernel::config::NodeRole;
use web::Site;
use web::error::PageError;
use web::layout::{Chrome, encode_component};

use crate::error::refused;
use crate::{Federation, FederationError};

/// Where the login starts.
pub const START: &str = "/dang-nhap/quoc-gia";
/// Where the national node sends the browser back.
pub const CALLBACK: &str = "/dang-nhap/quoc-gia/ve";
/// The flow's state, for the callback only.
const FLOW_COOKIE: &str = "motcua_sso";
/// Set once a silent try found nobody logged in at the national node.
const TRIED_COOKIE: &str = "motcua_sso_tried";

/// The pages.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Federation>: axum::extract::FromRef<S>,
    Arc<identity::Identity>: axum::extract::FromRef<S>,
    Site: axum::extract::FromRef<S>,
{
    Router::new()
        .route(START, get(start))
        .route(CALLBACK, get(callback))
        .route(MY_DOSSIERS, get(my_dossiers))
        .route("/ho-so-toan-quoc/cap-nhat.js", get(live_js))
}

/// The citizen's dossiers from every node, on the national node.
pub const MY_DOSSIERS: &str = "/ho-so-toan-quoc";

/// A row of the national list of a citizen's dossiers.
struct Line {
    node_id: String,
    dossier_id: String,
    code: String,
    /// The node's tracking page for the dossier, which serves a dossier filed at a desk as
    /// well as one filed online.
    href: Option<String>,
    procedure: String,
    procedure_code: String,
    agency: String,
    node: String,
    status: String,
    due: Option<chrono::NaiveDate>,
    changed: String,
}

#[derive(Template)]
#[template(path = "my_dossiers.html")]
struct MyDossiersPage {
    c: Chrome,
    lines: Vec<Line>,
    citizen: bool,
    /// The status labels by code, as JSON, for the page's live updates.
    labels: String,
    shown_at: String,
}

fn local_time(t: chrono::DateTime<chrono::Utc>) -> String {
    kernel::clock::to_local(t)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// The logged-in citizen's dossiers from every node, with their status as last synchronised;
/// the page keeps the status fresh while it is open.
async fn my_dossiers(
    State(f): State<Arc<Federation>>,
    auth: identity::web::Auth,
    c: Chrome,
) -> Result<Response, PageError> {
    if let Err(e) = f.need_role(NodeRole::National) {
        return Err(PageError::new(e, c));
    }
    let Some(p) = auth.principal().filter(|_| auth.session.is_some()) else {
        return Ok(Redirect::to(&format!(
            "/dang-nhap?next={}",
            encode_component(MY_DOSSIERS)
        ))
        .into_response());
    };
    let rows = f
        .dossiers_of_citizen(p)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let nodes = f
        .node_addresses()
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let vi = c.lang.is_vi();
    let lookup = f.catalog.lookup();
    let mut procedures: std::collections::HashMap<String, String> = Default::default();
    let mut lines = Vec::with_capacity(rows.len());
    for d in rows {
        if !procedures.contains_key(&d.procedure_code) {
            let name = match f.catalog.procedure(&d.procedure_code, None).await {
                Ok(p) => p.spec.name,
                Err(_) => d.procedure_code.clone(),
            };
            procedures.insert(d.procedure_code.clone(), name);
        }
        let (node, url) = nodes
            .get(&d.node_id)
            .cloned()
            .unwrap_or_else(|| (d.node_id.clone(), String::new()));
        let code = d.code.clone().unwrap_or_else(|| d.dossier_id.clone());
        let href = (url.starts_with("https://") || url.starts_with("http://")).then(|| {
            format!(
                "{}/tra-cuu-ho-so?ma={}",
                url.trim_end_matches('/'),
                encode_component(&code)
            )
        });
        lines.push(Line {
            procedure: procedures
                .get(&d.procedure_code)
                .cloned()
                .unwrap_or_default(),
            agency: lookup
                .agencies
                .get(&d.agency_code)
                .map(|a| a.spec.name.clone())
                .unwrap_or_else(|| d.agency_code.clone()),
            status: dossier::Status::parse(&d.status)
                .map(|s| s.label(vi).to_string())
                .unwrap_or_else(|| d.status.clone()),
            due: d.appointment_date,
            changed: local_time(d.last_event_at),
            node,
            href,
            code,
            node_id: d.node_id,
            dossier_id: d.dossier_id,
            procedure_code: d.procedure_code,
        });
    }
    let labels: serde_json::Map<String, serde_json::Value> = dossier::Status::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), s.label(vi).into()))
        .collect();
    Ok(web::render(&MyDossiersPage {
        lines,
        citizen: p.kind == identity::AccountKind::Citizen,
        labels: serde_json::Value::Object(labels).to_string(),
        shown_at: local_time(f.clock.now()),
        c,
    }))
}

/// Keeps the national list's status fresh: every 15 seconds while the page is shown, and
/// when it is shown again; a dossier new to the list reloads the page.
async fn live_js() -> Response {
    const JS: &str = r#"(function () {
  var table = document.querySelector('table[data-api]');
  var live = document.querySelector('[data-testid="live"]');
  var changes = document.querySelector('[data-testid="changes"]');
  if (!table || !live || !changes) { return; }
  var labels = {};
  try { labels = JSON.parse(table.getAttribute('data-labels')); } catch (e) { labels = {}; }
  function two(n) { return (n < 10 ? '0' : '') + n; }
  function local(iso) {
    var t = new Date(Date.parse(iso) + 7 * 3600e3);
    return two(t.getUTCDate()) + '/' + two(t.getUTCMonth() + 1) + '/' + t.getUTCFullYear() + ' ' + two(t.getUTCHours()) + ':' + two(t.getUTCMinutes());
  }
  function day(d) { var p = (d || '').split('-'); return p.length === 3 ? p[2] + '/' + p[1] + '/' + p[0] : ''; }
  function set(row, field, text) {
    var cell = row.querySelector('[data-field="' + field + '"]');
    if (!cell || cell.textContent === text) { return false; }
    cell.textContent = text;
    return true;
  }
  var busy = false;
  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(table.getAttribute('data-api'), { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (list) {
        var moved = [];
        for (var i = 0; i < list.length; i++) {
          var d = list[i];
          var row = table.querySelector('tr[data-key="' + CSS.escape(d.node_id + '/' + d.dossier_id) + '"]');
          if (!row) { location.reload(); return; }
          var label = labels[d.status] || d.status;
          if (set(row, 'status', label)) { moved.push((d.code || d.dossier_id) + ': ' + label); }
          set(row, 'due', day(d.appointment_date));
          set(row, 'changed', local(d.last_event_at));
        }
        // Said once to a screen reader: only what changed.
        if (moved.length) { changes.textContent = moved.join('; '); }
        live.textContent = live.getAttribute('data-done') + ' ' + local(new Date().toISOString()).slice(11);
      })
      .catch(function () { live.textContent = live.getAttribute('data-fail'); })
      .then(function () { busy = false; });
  }
  setInterval(refresh, 15000);
  document.addEventListener('visibilitychange', refresh);
  window.addEventListener('focus', refresh);
})();
"#;
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    next: Option<String>,
    silent: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Flow {
    state: String,
    verifier: String,
    next: String,
    silent: bool,
}

fn local_next(n: Option<&str>) -> String {
    n.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/")
        .to_string()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn not_set_up() -> FederationError {
    refused(
        503,
        "sso_unavailable",
        "Chưa đăng nhập qua Cổng Dịch vụ công quốc gia được: hệ thống này chưa được kết nối",
        "Logging in through the national portal is not available: this node is not connected yet",
    )
}

/// Starts a login at the national node.
async fn start(
    State(f): State<Arc<Federation>>,
    State(site): State<Site>,
    c: Chrome,
    Query(q): Query<StartQuery>,
) -> Result<Response, PageError> {
    let Some(sso) = f.sso().filter(|_| f.role() == NodeRole::Local) else {
        return Err(PageError::new(not_set_up(), c));
    };
    let flow = Flow {
        state: uuid::Uuid::new_v4().simple().to_string(),
        verifier: format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ),
        next: local_next(q.next.as_deref()),
        silent: q.silent.is_some(),
    };
    let challenge = B64URL.encode(Sha256::digest(flow.verifier.as_bytes()));
    let mut url = format!(
        "{}/oidc/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
        sso.issuer.trim_end_matches('/'),
        encode_component(&sso.client_id),
        encode_component(&sso.redirect_uri),
        encode_component("openid profile cccd"),
        flow.state,
        challenge,
    );
    if flow.silent {
        url.push_str("&prompt=none");
    }
    let value = B64URL.encode(serde_json::to_vec(&flow).unwrap_or_default());
    let mut resp = Redirect::to(&url).into_response();
    set_cookie(
        &mut resp,
        format!(
            "{FLOW_COOKIE}={value}; Path={CALLBACK}; HttpOnly; SameSite=Lax; Max-Age=600{}",
            if site.secure_cookies { "; Secure" } else { "" }
        ),
    );
    Ok(resp)
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    preferred_username: Option<String>,
    account_kind: Option<String>,
    cccd: Option<String>,
    name: Option<String>,
}

/// The national node's answer: a code to exchange, or why not.
async fn callback(
    State(f): State<Arc<Federation>>,
    State(id): State<Arc<identity::Identity>>,
    State(site): State<Site>,
    c: Chrome,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let secure = if site.secure_cookies { "; Secure" } else { "" };
    let clear_flow =
        format!("{FLOW_COOKIE}=; Path={CALLBACK}; HttpOnly; SameSite=Lax; Max-Age=0{secure}");
    let flow: Option<Flow> = cookie(&headers, FLOW_COOKIE)
        .and_then(|v| B64URL.decode(v).ok())
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(flow) = flow.filter(|fl| q.state.as_deref() == Some(fl.state.as_str())) else {
        return Err(PageError::new(
            refused(
                400,
                "sso_state_mismatch",
                "Phiên đăng nhập qua Cổng quốc gia đã hết hạn hoặc không khớp; hãy thử lại",
                "The login through the national portal expired or does not match; try again",
            ),
            c,
        ));
    };
    let Some(sso) = f.sso() else {
        return Err(PageError::new(not_set_up(), c));
    };
    let Some(code) = q.code.filter(|_| q.error.is_none()) else {
        if flow.silent {
            // Nobody is logged in there: carry on here as a visitor, and do not ask again.
            let mut resp = Redirect::to(&flow.next).into_response();
            set_cookie(&mut resp, clear_flow);
            set_cookie(
                &mut resp,
                format!("{TRIED_COOKIE}=1; Path=/; HttpOnly; SameSite=Lax{secure}"),
            );
            return Ok(resp);
        }
        return Err(PageError::new(
            refused(
                403,
                "sso_refused",
                format!(
                    "Cổng Dịch vụ công quốc gia không cho đăng nhập ({})",
                    q.error.unwrap_or_default()
                ),
                "The national portal did not log you in",
            ),
            c,
        ));
    };
    let claims = match f.exchange(&sso, &code, &flow.verifier).await {
        Ok(cl) => cl,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let login = match claims.account_kind.as_deref() {
        Some("citizen") => claims.cccd.clone(),
        _ => claims.preferred_username.clone(),
    }
    .unwrap_or_default();
    if claims.account_kind.as_deref() == Some("citizen")
        && let Err(e) = ensure_citizen(&id, &login, claims.name.as_deref().unwrap_or("")).await
    {
        return Err(PageError::new(e, c));
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let session = match id
        .federated_login(&login, &peer.ip().to_string(), ua, "national")
        .await
    {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(PageError::new(
                refused(
                    403,
                    "no_local_account",
                    format!(
                        "Tài khoản {login} chưa có ở hệ thống này; hãy liên hệ quản trị cơ quan"
                    ),
                    format!(
                        "The account {login} does not exist on this node; ask the agency's administrator"
                    ),
                ),
                c,
            ));
        }
        Err(e) => return Err(PageError::new(e, c)),
    };
    let to = match session.stage {
        identity::Stage::Full => flow.next,
        identity::Stage::Mfa => {
            format!("/dang-nhap/xac-thuc?next={}", encode_component(&flow.next))
        }
        identity::Stage::Enroll => "/tai-khoan/xac-thuc-hai-buoc".to_string(),
    };
    let mut resp = Redirect::to(&to).into_response();
    set_cookie(&mut resp, clear_flow);
    set_cookie(
        &mut resp,
        session_cookie(
            &session.token,
            site.secure_cookies,
            id.policy().absolute.num_seconds(),
        ),
    );
    Ok(resp)
}

/// A citizen the national node vouches for gets an account here at their first visit (no
/// password: they log in through the national node, or set one by a reset).
async fn ensure_citizen(
    id: &identity::Identity,
    cccd: &str,
    name: &str,
) -> Result<(), FederationError> {
    let Ok(parsed) = kernel::ids::Cccd::parse(cccd) else {
        return Err(refused(
            502,
            "sso_bad_claims",
            "Cổng quốc gia không gửi số định danh hợp lệ",
            "The national portal sent no valid identification number",
        ));
    };
    if id.principal_by_login(cccd).await?.is_some() {
        return Ok(());
    }
    let new = identity::NewAccount {
        kind: identity::AccountKind::Citizen,
        username: None,
        full_name: if name.trim().is_empty() {
            cccd.to_string()
        } else {
            name.to_string()
        },
        cccd: Some(parsed),
        tax_code: None,
        birth_date: None,
        sex: None,
        phone: None,
        email: None,
        password: format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ),
        assurance: 1,
    };
    id.create_account(&new, "node/national").await?;
    Ok(())
}

impl Federation {
    /// Exchanges a code at the national node and reads who it is for.
    async fn exchange(
        &self,
        sso: &crate::SsoClient,
        code: &str,
        verifier: &str,
    ) -> Result<Claims, FederationError> {
        let national = self.config.national_url.trim_end_matches('/');
        let remote = |e: reqwest::Error| FederationError::Remote(e.to_string());
        let r = self
            .http
            .post(format!("{national}/oidc/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", sso.redirect_uri.as_str()),
                ("client_id", sso.client_id.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(remote)?;
        if !r.status().is_success() {
            return Err(FederationError::Remote(format!(
                "the token endpoint answered {}",
                r.status()
            )));
        }
        let t: TokenAnswer = r.json().await.map_err(remote)?;
        let r = self
            .http
            .get(format!("{national}/oidc/userinfo"))
            .bearer_auth(&t.access_token)
            .send()
            .await
            .map_err(remote)?;
        if !r.status().is_success() {
            return Err(FederationError::Remote(format!(
                "the userinfo endpoint answered {}",
                r.status()
            )));
        }
        r.json().await.map_err(remote)
    }
}

/// On a local node with single sign-on set up: a browser without a session that opens a page
/// goes once, silently, to the national node to see whether it is logged in there.
pub async fn silent_sso(State(f): State<Arc<Federation>>, req: Request, next: Next) -> Response {
    if f.role() == NodeRole::Local
        && f.sso().is_some()
        && req.method() == axum::http::Method::GET
        && wants_page(&req)
        && cookie(req.headers(), SESSION_COOKIE).is_none_or(str::is_empty)
        && cookie(req.headers(), TRIED_COOKIE).is_none()
    {
        let here = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        return (
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                format!("{START}?silent=1&next={}", encode_component(&here)),
            )],
        )
            .into_response();
    }
    next.run(req).await
}

/// A page a person opens (not the API, the login pages, assets or machine endpoints).
fn wants_page(req: &Request) -> bool {
    let path = req.uri().path();
    const MACHINE: [&str; 10] = [
        "/api/",
        "/oidc/",
        "/.well-known/",
        "/open311/",
        "/assets/",
        "/dang-nhap",
        "/dang-xuat",
        "/healthz",
        "/readyz",
        "/metrics",
    ];
    let html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    html && !MACHINE.iter().any(|m| path.starts_with(m))
        && !path.rsplit('/').next().unwrap_or("").contains('.')
}
