//! Identity over HTTP: who is asking ([`Auth`], from the session cookie or a bearer token),
//! the login, registration, profile and sessions pages with CSRF checks, and `/api/v1/me`.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, FromRef, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use web::{ApiError, Chrome, PageError, Site, render_status};

use crate::authz::{Action, Decision, Principal, Resource, Subject, authorize};
use crate::{
    AccountKind, ActiveSession, Identity, IdentityError, NewAccount, PendingSession, SessionInfo,
    Stage, random_token, same,
};
use kernel::ids::{Cccd, Sex};

pub const SESSION_COOKIE: &str = "motcua_session";
pub const CSRF_COOKIE: &str = "motcua_csrf";

/// Who is asking, and through which session.
#[derive(Debug, Clone)]
pub struct Auth {
    pub subject: Subject,
    pub session: Option<ActiveSession>,
    identity: Arc<Identity>,
}

impl Auth {
    pub fn principal(&self) -> Option<&Principal> {
        match &self.subject {
            Subject::Account(p) => Some(p),
            Subject::Anonymous => None,
        }
    }

    /// The authenticated caller, or `NeedLogin`.
    pub fn caller(&self) -> Result<Principal, IdentityError> {
        self.principal().cloned().ok_or(IdentityError::NeedLogin)
    }

    /// The caller, if the token it came with carries the scope of one of `actions` (a browser
    /// session is not narrowed); otherwise `Forbidden`, and the denial joins the audit chain.
    pub async fn caller_within(&self, actions: &[Action]) -> Result<Principal, IdentityError> {
        let p = self.caller()?;
        if actions.iter().any(|a| p.token_allows(*a)) {
            return Ok(p);
        }
        if let Some(first) = actions.first() {
            self.identity
                .record_denial(&p.id, *first, &Resource::Account(&p.id))
                .await?;
        }
        Err(IdentityError::Forbidden)
    }

    /// The caller of a request that changes something. A browser's session must send its
    /// CSRF token in `X-CSRF-Token`: the cookie alone is not enough. Bearer tokens need none.
    pub fn writer(&self, headers: &axum::http::HeaderMap) -> Result<Principal, IdentityError> {
        let p = self.caller()?;
        if let Some(s) = &self.session {
            let sent = headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !crate::same(sent, &s.csrf) {
                return Err(IdentityError::Csrf);
            }
        }
        Ok(p)
    }

    /// The session's CSRF token, for a page's forms (empty without a session).
    pub fn csrf(&self) -> String {
        self.session
            .as_ref()
            .map(|s| s.csrf.clone())
            .unwrap_or_default()
    }

    /// Whether a posted form's `csrf` field matches the session's (a bearer token needs none).
    pub fn csrf_matches(&self, fields: &HashMap<String, String>) -> bool {
        match &self.session {
            Some(s) => fields.get("csrf").is_some_and(|t| crate::same(t, &s.csrf)),
            None => true,
        }
    }

    /// A posted page form's fields, once its `csrf` field matches the session's (a bearer
    /// token needs none); a wrong or missing token is refused on the error page.
    pub fn checked_form(
        &self,
        form: Result<Form<HashMap<String, String>>, FormRejection>,
        c: &Chrome,
    ) -> Result<HashMap<String, String>, PageError> {
        let form = form.map(|Form(x)| x).unwrap_or_default();
        if self.csrf_matches(&form) {
            Ok(form)
        } else {
            Err(PageError::new(IdentityError::Csrf, c.clone()))
        }
    }

    /// Asks the rule book; a denial joins the audit chain.
    pub async fn check(
        &self,
        action: Action,
        resource: &Resource<'_>,
    ) -> Result<(), IdentityError> {
        match authorize(&self.subject, action, resource) {
            Decision::Allow => Ok(()),
            Decision::NeedLogin => Err(IdentityError::NeedLogin),
            Decision::Deny => {
                let who = self
                    .principal()
                    .map(|p| p.id.as_str())
                    .unwrap_or("anonymous");
                self.identity.record_denial(who, action, resource).await?;
                Err(IdentityError::Forbidden)
            }
        }
    }
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

impl<S> FromRequestParts<S> for Auth
where
    S: Send + Sync,
    Arc<Identity>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let id = Arc::<Identity>::from_ref(state);
        if let Some(h) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let token = h.strip_prefix("Bearer ").unwrap_or("").trim();
            let found = if token.starts_with("mca_") {
                id.access_principal(token).await?
            } else {
                id.bearer(token).await?
            };
            return match found {
                Some(p) => Ok(Auth {
                    subject: Subject::Account(p),
                    session: None,
                    identity: id,
                }),
                None => Err(IdentityError::NeedLogin.into()),
            };
        }
        if let Some(token) = cookie(&parts.headers, SESSION_COOKIE)
            && let Some(s) = id.session(token).await?
        {
            return Ok(Auth {
                subject: Subject::Account(s.principal.clone()),
                session: Some(s),
                identity: id,
            });
        }
        Ok(Auth {
            subject: Subject::Anonymous,
            session: None,
            identity: id,
        })
    }
}

/// The identity API routes.
pub fn api_routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Identity>: FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(me))
}

/// The identity pages.
pub fn page_routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Identity>: FromRef<S>,
    Site: FromRef<S>,
{
    axum::Router::new()
        .route("/dang-nhap", get(login_page).post(login_submit))
        .route("/dang-ky", get(register_page).post(register_submit))
        .route("/dang-xuat", post(logout))
        .route("/tai-khoan", get(account_page))
        .route("/tai-khoan/dai-dien", post(representative_submit))
        .route("/tai-khoan/phien", get(sessions_page))
        .route("/tai-khoan/phien/dang-xuat-tat-ca", post(logout_everywhere))
        .route("/dang-nhap/xac-thuc", get(code_page).post(code_submit))
        .route(
            "/tai-khoan/xac-thuc-hai-buoc",
            get(enroll_page).post(enroll_submit),
        )
}

/// The account asking: who it is and what it holds.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "identity",
    responses(
        (status = 200, description = "The authenticated account", body = Principal),
        (status = 401, description = "No valid session or token", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = []))
)]
async fn me(auth: Auth) -> Result<Json<Principal>, ApiError> {
    let p = auth.principal().ok_or(IdentityError::NeedLogin)?;
    auth.check(Action::OwnAccount, &Resource::Account(&p.id))
        .await?;
    Ok(Json(p.clone()))
}

pub fn set_cookie(resp: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

pub fn session_cookie(token: &str, secure: bool, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

fn local_next(next: Option<&String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .cloned()
        .unwrap_or_else(|| "/tai-khoan".into())
}

/// Texts of the identity pages.
pub struct Texts {
    pub login_title: &'static str,
    pub login_label: &'static str,
    pub login_hint: &'static str,
    pub password: &'static str,
    pub password_again: &'static str,
    pub submit_login: &'static str,
    pub no_account: &'static str,
    pub register_title: &'static str,
    pub full_name: &'static str,
    pub cccd: &'static str,
    pub birth_date: &'static str,
    pub sex: &'static str,
    pub male: &'static str,
    pub female: &'static str,
    pub phone: &'static str,
    pub email: &'static str,
    pub submit_register: &'static str,
    pub have_account: &'static str,
    pub account_title: &'static str,
    pub roles: &'static str,
    pub no_roles: &'static str,
    pub assurance: &'static str,
    pub my_sessions: &'static str,
    pub logout: &'static str,
    pub logout_all: &'static str,
    pub this_device: &'static str,
    pub started: &'static str,
    pub last_seen: &'static str,
    pub address: &'static str,
    pub device: &'static str,
    pub password_rules: &'static str,
    pub passwords_differ: &'static str,
}

pub const VI: Texts = Texts {
    login_title: "Đăng nhập",
    login_label: "Số định danh cá nhân, mã số thuế hoặc tên đăng nhập cán bộ",
    login_hint: "Công dân dùng số định danh cá nhân 12 số; doanh nghiệp dùng mã số thuế.",
    password: "Mật khẩu",
    password_again: "Nhập lại mật khẩu",
    submit_login: "Đăng nhập",
    no_account: "Chưa có tài khoản? Đăng ký",
    register_title: "Đăng ký tài khoản công dân",
    full_name: "Họ, chữ đệm và tên",
    cccd: "Số định danh cá nhân (12 số)",
    birth_date: "Ngày sinh",
    sex: "Giới tính",
    male: "Nam",
    female: "Nữ",
    phone: "Số điện thoại",
    email: "Thư điện tử",
    submit_register: "Đăng ký",
    have_account: "Đã có tài khoản? Đăng nhập",
    account_title: "Tài khoản của tôi",
    roles: "Vai trò",
    no_roles: "Không có vai trò cán bộ",
    assurance: "Mức định danh",
    my_sessions: "Các phiên đăng nhập",
    logout: "Đăng xuất",
    logout_all: "Đăng xuất khỏi mọi thiết bị",
    this_device: "thiết bị này",
    started: "Bắt đầu",
    last_seen: "Dùng lần cuối",
    address: "Địa chỉ IP",
    device: "Trình duyệt",
    password_rules: "Ít nhất 10 ký tự; không dùng mật khẩu phổ biến hay chứa số định danh.",
    passwords_differ: "Hai lần nhập mật khẩu không khớp",
};

pub const EN: Texts = Texts {
    login_title: "Log in",
    login_label: "Personal identification number, tax code, or official's username",
    login_hint: "Citizens use their 12-digit personal identification number; businesses their tax code.",
    password: "Password",
    password_again: "Password again",
    submit_login: "Log in",
    no_account: "No account yet? Register",
    register_title: "Register a citizen account",
    full_name: "Full name",
    cccd: "Personal identification number (12 digits)",
    birth_date: "Date of birth",
    sex: "Sex",
    male: "Male",
    female: "Female",
    phone: "Phone",
    email: "E-mail",
    submit_register: "Register",
    have_account: "Already registered? Log in",
    account_title: "My account",
    roles: "Roles",
    no_roles: "No official roles",
    assurance: "Assurance level",
    my_sessions: "Login sessions",
    logout: "Log out",
    logout_all: "Log out on every device",
    this_device: "this device",
    started: "Started",
    last_seen: "Last used",
    address: "IP address",
    device: "Browser",
    password_rules: "At least 10 characters; not a common password, not containing your number.",
    passwords_differ: "The two passwords differ",
};

pub(crate) fn texts(c: &Chrome) -> &'static Texts {
    if c.lang.is_vi() { &VI } else { &EN }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    t: &'static Texts,
    demo: Vec<(&'static str, &'static str)>,
    csrf: String,
    next: String,
    login: String,
    error: Option<String>,
}

/// The anonymous-form CSRF token: the cookie's, or a new one to set.
pub(crate) fn form_csrf(headers: &HeaderMap) -> Result<(String, bool), PageError> {
    match cookie(headers, CSRF_COOKIE) {
        Some(t) if t.len() == 43 => Ok((t.to_string(), false)),
        _ => random_token()
            .map(|t| (t, true))
            .map_err(|e| PageError::new(e, Chrome::new(web::Lang::Vi, "motcua", "/"))),
    }
}

pub(crate) fn with_csrf_cookie(
    mut resp: Response,
    token: &str,
    fresh: bool,
    secure: bool,
) -> Response {
    if fresh {
        set_cookie(
            &mut resp,
            format!(
                "{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}",
                if secure { "; Secure" } else { "" }
            ),
        );
    }
    resp
}

async fn login_page(
    State(id): State<Arc<Identity>>,
    State(site): State<Site>,
    c: Chrome,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let (csrf, fresh) = form_csrf(&headers)?;
    let next = local_next(q.get("next"));
    let target = crate::oidc_web::form_targets_for(&id, &next).await;
    let page = LoginPage {
        t: texts(&c),
        demo: demo_list(&site, &c),
        csrf: csrf.clone(),
        next,
        login: String::new(),
        error: None,
        c,
    };
    Ok(crate::oidc_web::allow_form_target(
        with_csrf_cookie(
            render_status(StatusCode::OK, &page),
            &csrf,
            fresh,
            site.secure_cookies,
        ),
        target.as_deref(),
    ))
}

/// On a demo instance only: the demo accounts and what each is.
fn demo_list(site: &Site, c: &Chrome) -> Vec<(&'static str, &'static str)> {
    if !site.demo {
        return Vec::new();
    }
    crate::demo::ACCOUNTS
        .iter()
        .map(|(login, kind, _, role, _)| {
            let what = match (role, kind) {
                (Some(r), _) => r.label(c.lang.is_vi()),
                (None, AccountKind::Citizen) => c.pick("Công dân", "Citizen"),
                (None, _) => c.pick("Doanh nghiệp", "Business"),
            };
            (*login, what)
        })
        .collect()
}

pub(crate) fn form_or_error(
    form: Result<Form<HashMap<String, String>>, FormRejection>,
    c: &Chrome,
) -> Result<HashMap<String, String>, PageError> {
    form.map(|Form(f)| f).map_err(|e| {
        PageError::new(
            IdentityError::Invalid(vec![kernel::ProblemDetail::new(
                "form",
                format!("Biểu mẫu không đọc được: {e}"),
                format!("The form cannot be read: {e}"),
            )]),
            c.clone(),
        )
    })
}

/// A form posted before login: read, and checked against the double-submit CSRF cookie.
pub(crate) fn anonymous_form(
    form: Result<Form<HashMap<String, String>>, FormRejection>,
    headers: &HeaderMap,
    c: &Chrome,
) -> Result<HashMap<String, String>, PageError> {
    let f = form_or_error(form, c)?;
    match (cookie(headers, CSRF_COOKIE), f.get("csrf")) {
        (Some(a), Some(b)) if same(a, b) => Ok(f),
        _ => Err(PageError::new(IdentityError::Csrf, c.clone())),
    }
}

async fn login_submit(
    State(id): State<Arc<Identity>>,
    State(site): State<Site>,
    c: Chrome,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let f = anonymous_form(form, &headers, &c)?;
    let login = f.get("login").cloned().unwrap_or_default();
    let next = local_next(f.get("next"));
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match id
        .login(
            &login,
            f.get("password").map(String::as_str).unwrap_or(""),
            &peer.ip().to_string(),
            ua,
        )
        .await
    {
        Ok(s) => {
            let to = match s.stage {
                crate::Stage::Full => next,
                crate::Stage::Mfa => format!(
                    "/dang-nhap/xac-thuc?next={}",
                    web::layout::encode_component(&next)
                ),
                crate::Stage::Enroll => "/tai-khoan/xac-thuc-hai-buoc".to_string(),
            };
            let mut resp = Redirect::to(&to).into_response();
            set_cookie(
                &mut resp,
                session_cookie(
                    &s.token,
                    site.secure_cookies,
                    id.policy().absolute.num_seconds(),
                ),
            );
            Ok(resp)
        }
        Err(e @ (IdentityError::BadCredentials | IdentityError::Throttled { .. })) => {
            let status = web::error::status_of(&e);
            let msg = if c.lang.is_vi() {
                kernel::Problem::message_vi(&e)
            } else {
                kernel::Problem::message_en(&e)
            };
            let csrf = f.get("csrf").cloned().unwrap_or_default();
            let target = crate::oidc_web::form_targets_for(&id, &next).await;
            let page = LoginPage {
                t: texts(&c),
                demo: demo_list(&site, &c),
                csrf,
                next,
                login,
                error: Some(msg),
                c,
            };
            Ok(crate::oidc_web::allow_form_target(
                render_status(status, &page),
                target.as_deref(),
            ))
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    c: Chrome,
    t: &'static Texts,
    csrf: String,
    f: HashMap<String, String>,
    errors: Vec<(String, String)>,
}

impl RegisterPage {
    fn v(&self, k: &str) -> &str {
        self.f.get(k).map(String::as_str).unwrap_or("")
    }
}

async fn register_page(
    State(site): State<Site>,
    c: Chrome,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (csrf, fresh) = form_csrf(&headers)?;
    let page = RegisterPage {
        t: texts(&c),
        csrf: csrf.clone(),
        f: HashMap::new(),
        errors: vec![],
        c,
    };
    Ok(with_csrf_cookie(
        render_status(StatusCode::OK, &page),
        &csrf,
        fresh,
        site.secure_cookies,
    ))
}

async fn register_submit(
    State(id): State<Arc<Identity>>,
    State(site): State<Site>,
    c: Chrome,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let f = anonymous_form(form, &headers, &c)?;
    let vi = c.lang.is_vi();
    let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let mut errors: Vec<(String, String)> = Vec::new();
    let cccd = match Cccd::parse(&get("cccd")) {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(("cccd".into(), if vi { e.vi } else { e.en }));
            None
        }
    };
    let birth = NaiveDate::parse_from_str(&get("birth_date"), "%Y-%m-%d").ok();
    if birth.is_none() {
        errors.push((
            "birth_date".into(),
            c.pick("Ngày sinh không hợp lệ", "The date of birth is not valid")
                .into(),
        ));
    }
    let sex = match get("sex").as_str() {
        "male" => Some(Sex::Male),
        "female" => Some(Sex::Female),
        _ => {
            errors.push((
                "sex".into(),
                c.pick("Hãy chọn giới tính", "Choose a sex").into(),
            ));
            None
        }
    };
    let pw = f.get("password").cloned().unwrap_or_default();
    if f.get("password2").map(String::as_str) != Some(pw.as_str()) {
        errors.push(("password2".into(), texts(&c).passwords_differ.into()));
    }
    let new = NewAccount {
        kind: AccountKind::Citizen,
        username: None,
        full_name: get("full_name"),
        cccd,
        tax_code: None,
        birth_date: birth,
        sex,
        phone: Some(get("phone")),
        email: Some(get("email")),
        password: pw.clone(),
        assurance: 1,
    };
    if errors.is_empty() {
        errors.extend(
            new.check()
                .into_iter()
                .map(|d| (d.at, if vi { d.vi } else { d.en })),
        );
    }
    if errors.is_empty() {
        match id.create_account(&new, "self").await {
            Ok(account) => {
                let ua = headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let s = id
                    .login(&account.login, &pw, &peer.ip().to_string(), ua)
                    .await
                    .map_err(|e| PageError::new(e, c.clone()))?;
                let mut resp = Redirect::to("/tai-khoan").into_response();
                set_cookie(
                    &mut resp,
                    session_cookie(
                        &s.token,
                        site.secure_cookies,
                        id.policy().absolute.num_seconds(),
                    ),
                );
                return Ok(resp);
            }
            Err(e @ IdentityError::Taken(_)) => errors.push((
                "cccd".into(),
                if vi {
                    kernel::Problem::message_vi(&e)
                } else {
                    kernel::Problem::message_en(&e)
                },
            )),
            Err(e) => return Err(PageError::new(e, c)),
        }
    }
    let mut kept = f.clone();
    kept.remove("password");
    kept.remove("password2");
    let csrf = f.get("csrf").cloned().unwrap_or_default();
    let page = RegisterPage {
        t: texts(&c),
        csrf,
        f: kept,
        errors,
        c,
    };
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

pub(crate) fn need_login(path: &str) -> Response {
    Redirect::to(&format!(
        "/dang-nhap?next={}",
        web::layout::encode_component(path)
    ))
    .into_response()
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    c: Chrome,
    t: &'static Texts,
    p: Principal,
    csrf: String,
    /// A business's representatives, or the businesses a citizen acts for.
    parties: Vec<crate::representatives::Party>,
    note: Option<Result<String, String>>,
}

impl AccountPage {
    fn role_label(&self, r: &crate::Role) -> &'static str {
        r.label(self.c.lang.is_vi())
    }
    fn is_system_admin(&self) -> bool {
        self.p.has(crate::Role::SystemAdmin, None)
    }
    fn is_admin(&self) -> bool {
        self.is_system_admin()
            || self
                .p
                .grants
                .iter()
                .any(|g| g.role == crate::Role::AgencyAdmin)
    }
}

async fn account_view(
    id: &Identity,
    p: &Principal,
    csrf: String,
    c: Chrome,
    note: Option<Result<String, String>>,
) -> Result<Response, PageError> {
    let parties = match p.kind {
        AccountKind::Business => id.representatives(&p.id).await,
        AccountKind::Citizen => id.represented(&p.id).await,
        _ => Ok(Vec::new()),
    }
    .map_err(|e| PageError::new(e, c.clone()))?;
    let status = if matches!(note, Some(Err(_))) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render_status(
        status,
        &AccountPage {
            t: texts(&c),
            p: p.clone(),
            csrf,
            parties,
            note,
            c,
        },
    ))
}

async fn account_page(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
) -> Result<Response, PageError> {
    match (auth.principal(), &auth.session) {
        (Some(p), Some(s)) => account_view(&id, p, s.csrf.clone(), c, None).await,
        _ => Ok(need_login("/tai-khoan")),
    }
}

/// A business names (or drops) a citizen who acts for it.
async fn representative_submit(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form_or_error(form, &c)?;
    let (Some(p), Some(s)) = (auth.principal(), &auth.session) else {
        return Ok(need_login("/tai-khoan"));
    };
    if !session_csrf_ok(&auth, &f) {
        return Err(PageError::new(IdentityError::Csrf, c));
    }
    auth.check(Action::OwnAccount, &Resource::Account(&p.id))
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    if p.kind != AccountKind::Business {
        return Err(PageError::new(IdentityError::Forbidden, c));
    }
    let cccd = f
        .get("cccd")
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let add = f.get("op").map(String::as_str) != Some("remove");
    let vi = c.lang.is_vi();
    let note = match Cccd::parse(&cccd) {
        Err(e) => Err(if vi { e.vi } else { e.en }),
        Ok(_) => match id
            .set_representative(&p.login, &cccd, add, &format!("account/{}", p.id))
            .await
        {
            Ok(_) if add => Ok(c
                .pick("Đã thêm người đại diện", "Representative added")
                .to_string()),
            Ok(_) => Ok(c
                .pick("Đã bỏ người đại diện", "Representative removed")
                .to_string()),
            Err(IdentityError::Invalid(d)) => Err(d
                .into_iter()
                .map(|x| if vi { x.vi } else { x.en })
                .collect::<Vec<_>>()
                .join("; ")),
            Err(e) => return Err(PageError::new(e, c)),
        },
    };
    let csrf = s.csrf.clone();
    account_view(&id, p, csrf, c, Some(note)).await
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    c: Chrome,
    t: &'static Texts,
    sessions: Vec<SessionInfo>,
    csrf: String,
}

async fn sessions_page(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
) -> Result<Response, PageError> {
    let (Some(p), Some(s)) = (auth.principal(), &auth.session) else {
        return Ok(need_login("/tai-khoan/phien"));
    };
    let sessions = id
        .sessions_of(&p.id, &s.token_hash)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(render_status(
        StatusCode::OK,
        &SessionsPage {
            t: texts(&c),
            sessions,
            csrf: s.csrf.clone(),
            c,
        },
    ))
}

fn session_csrf_ok(auth: &Auth, form: &HashMap<String, String>) -> bool {
    match (&auth.session, form.get("csrf")) {
        (Some(s), Some(t)) => same(&s.csrf, t),
        _ => false,
    }
}

async fn logout(
    State(id): State<Arc<Identity>>,
    State(site): State<Site>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form_or_error(form, &c)?;
    let Some(s) = &auth.session else {
        return Ok(Redirect::to("/").into_response());
    };
    if !session_csrf_ok(&auth, &f) {
        return Err(PageError::new(IdentityError::Csrf, c));
    }
    id.logout(&s.token_hash)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(session_ended("/", site.secure_cookies))
}

/// A redirect that also clears the session cookie.
fn session_ended(to: &str, secure: bool) -> Response {
    let mut resp = Redirect::to(to).into_response();
    set_cookie(&mut resp, session_cookie("", secure, 0));
    resp
}

async fn logout_everywhere(
    State(id): State<Arc<Identity>>,
    State(site): State<Site>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form_or_error(form, &c)?;
    let (Some(p), Some(_)) = (auth.principal(), &auth.session) else {
        return Ok(need_login("/tai-khoan/phien"));
    };
    if !session_csrf_ok(&auth, &f) {
        return Err(PageError::new(IdentityError::Csrf, c));
    }
    id.logout_everywhere(&p.id)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(session_ended("/dang-nhap", site.secure_cookies))
}

/// The half-finished login behind the cookie, if any.
async fn pending_of(
    id: &Identity,
    headers: &HeaderMap,
) -> Result<Option<PendingSession>, IdentityError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(t) => id.pending(t).await,
        None => Ok(None),
    }
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    c: Chrome,
    csrf: String,
    next: String,
    error: Option<String>,
}

async fn code_page(
    State(id): State<Arc<Identity>>,
    c: Chrome,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    match pending_of(&id, &headers)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?
    {
        Some(p) if p.stage == Stage::Mfa => {
            let next = local_next(q.get("next"));
            let target = crate::oidc_web::form_targets_for(&id, &next).await;
            Ok(crate::oidc_web::allow_form_target(
                render_status(
                    StatusCode::OK,
                    &CodePage {
                        csrf: p.csrf,
                        next,
                        error: None,
                        c,
                    },
                ),
                target.as_deref(),
            ))
        }
        _ => Ok(Redirect::to("/dang-nhap").into_response()),
    }
}

fn message(e: &IdentityError, c: &Chrome) -> String {
    if c.lang.is_vi() {
        kernel::Problem::message_vi(e)
    } else {
        kernel::Problem::message_en(e)
    }
}

async fn code_submit(
    State(id): State<Arc<Identity>>,
    c: Chrome,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form_or_error(form, &c)?;
    let Some(p) = pending_of(&id, &headers)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?
        .filter(|p| p.stage == Stage::Mfa)
    else {
        return Ok(Redirect::to("/dang-nhap").into_response());
    };
    if !f.get("csrf").is_some_and(|t| same(t, &p.csrf)) {
        return Err(PageError::new(IdentityError::Csrf, c));
    }
    let next = local_next(f.get("next"));
    match id
        .totp_submit(
            &p.token_hash,
            &p.account_id,
            f.get("code").map(String::as_str).unwrap_or(""),
        )
        .await
    {
        Ok(()) => Ok(Redirect::to(&next).into_response()),
        Err(e @ IdentityError::BadCode) => {
            let status = web::error::status_of(&e);
            let target = crate::oidc_web::form_targets_for(&id, &next).await;
            Ok(crate::oidc_web::allow_form_target(
                render_status(
                    status,
                    &CodePage {
                        error: Some(message(&e, &c)),
                        csrf: p.csrf,
                        next,
                        c,
                    },
                ),
                target.as_deref(),
            ))
        }
        Err(e @ IdentityError::Throttled { .. }) => Ok(render_status(
            StatusCode::TOO_MANY_REQUESTS,
            &CodePage {
                error: Some(message(&e, &c)),
                csrf: String::new(),
                next: "/dang-nhap".into(),
                c,
            },
        )),
        Err(e) => Err(PageError::new(e, c)),
    }
}

#[derive(Template)]
#[template(path = "enroll.html")]
struct EnrollPage {
    c: Chrome,
    csrf: String,
    secret: String,
    url: String,
    required: bool,
    error: Option<String>,
}

/// Who is setting up two-factor: a login that must (pending `Enroll`), or a logged-in account.
async fn enrolling(
    id: &Identity,
    auth: &Auth,
    headers: &HeaderMap,
) -> Result<Option<(String, String, String, bool)>, IdentityError> {
    if let (Some(p), Some(s)) = (auth.principal(), &auth.session) {
        return Ok(Some((
            p.id.clone(),
            s.token_hash.clone(),
            s.csrf.clone(),
            false,
        )));
    }
    Ok(pending_of(id, headers)
        .await?
        .filter(|p| p.stage == Stage::Enroll)
        .map(|p| (p.account_id, p.token_hash, p.csrf, true)))
}

async fn enroll_page(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some((account, _, csrf, required)) = enrolling(&id, &auth, &headers)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?
    else {
        return Ok(need_login("/tai-khoan/xac-thuc-hai-buoc"));
    };
    let (secret, url) = id
        .totp_setup(&account)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(render_status(
        StatusCode::OK,
        &EnrollPage {
            csrf,
            secret: crate::totp::grouped(&secret),
            url,
            required,
            error: None,
            c,
        },
    ))
}

async fn enroll_submit(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form_or_error(form, &c)?;
    let Some((account, token_hash, csrf, required)) = enrolling(&id, &auth, &headers)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?
    else {
        return Ok(need_login("/tai-khoan/xac-thuc-hai-buoc"));
    };
    if !f.get("csrf").is_some_and(|t| same(t, &csrf)) {
        return Err(PageError::new(IdentityError::Csrf, c));
    }
    match id
        .totp_submit(
            &token_hash,
            &account,
            f.get("code").map(String::as_str).unwrap_or(""),
        )
        .await
    {
        Ok(()) => Ok(Redirect::to("/tai-khoan").into_response()),
        Err(e @ IdentityError::BadCode) => {
            let (secret, url) = id
                .totp_setup(&account)
                .await
                .map_err(|e| PageError::new(e, c.clone()))?;
            let status = web::error::status_of(&e);
            Ok(render_status(
                status,
                &EnrollPage {
                    error: Some(message(&e, &c)),
                    csrf,
                    secret: crate::totp::grouped(&secret),
                    url,
                    required,
                    c,
                },
            ))
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}
