//! Administrators' pages (accounts and roles, OpenID Connect clients, the outbox) and the
//! password reset pages.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRef, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use web::{Chrome, PageError, Site, render_status};

use crate::authz::{ALL_ROLES, Action, Grant, Principal, Resource, Role};
use crate::oidc::{Client, ClientSpec};
use crate::outbox::Message;
use crate::web::{Auth, need_login};
use crate::{AccountSummary, Identity, IdentityError, same};

/// The administrators' and password reset pages.
pub fn page_routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Identity>: FromRef<S>,
    Site: FromRef<S>,
{
    axum::Router::new()
        .route("/quan-tri/tai-khoan", get(accounts_page))
        .route("/quan-tri/tai-khoan/vai-tro", post(role_submit))
        .route("/quan-tri/ung-dung", get(clients_page).post(client_submit))
        .route("/quan-tri/ung-dung/trang-thai", post(client_state))
        .route("/quan-tri/thu-di", get(outbox_page))
        .route("/quan-tri/thu-di/da-giao", post(outbox_handed))
        .route("/quen-mat-khau", get(forgot_page).post(forgot_submit))
        .route("/dat-lai-mat-khau", get(reset_page).post(reset_submit))
}

/// The logged-in account and the session's CSRF token.
fn admin_of(auth: &Auth) -> Option<(Principal, String)> {
    match (auth.principal(), &auth.session) {
        (Some(p), Some(s)) => Some((p.clone(), s.csrf.clone())),
        _ => None,
    }
}

/// A form posted by a logged-in administrator: read, its CSRF token checked, and `action`
/// asked of the rule book. `Ok(Err(page))` sends someone not logged in to the login page.
async fn admin_form(
    auth: &Auth,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
    c: &Chrome,
    here: &str,
    action: Option<Action>,
) -> Result<Result<(Principal, String, HashMap<String, String>), Response>, PageError> {
    let f = crate::web::form_or_error(form, c)?;
    let Some((p, csrf)) = admin_of(auth) else {
        return Ok(Err(need_login(here)));
    };
    if !same(field(&f, "csrf"), &csrf) {
        return Err(PageError::new(IdentityError::Csrf, c.clone()));
    }
    if let Some(a) = action {
        auth.check(a, &Resource::Node)
            .await
            .map_err(|e| PageError::new(e, c.clone()))?;
    }
    Ok(Ok((p, csrf, f)))
}

fn field<'a>(f: &'a HashMap<String, String>, k: &str) -> &'a str {
    f.get(k).map(|s| s.trim()).unwrap_or("")
}

// ----- accounts and roles -----

#[derive(Template)]
#[template(path = "admin_accounts.html")]
struct AccountsPage {
    c: Chrome,
    csrf: String,
    rows: Vec<(AccountSummary, Vec<Grant>)>,
    q: String,
    roles: Vec<(&'static str, &'static str)>,
    /// Agencies this administrator manages; empty for a system administrator (any).
    own_agencies: Vec<String>,
    message: Option<String>,
    error: Option<String>,
}

impl AccountsPage {
    fn role_label(&self, r: &Role) -> &'static str {
        r.label(self.c.lang.is_vi())
    }
}

/// The agencies whose officials `p` may manage: `None` means every one (system administrator).
fn managed_agencies(p: &Principal) -> Option<Vec<String>> {
    if p.has(Role::SystemAdmin, None) {
        return None;
    }
    Some(
        p.grants
            .iter()
            .filter(|g| g.role == Role::AgencyAdmin)
            .filter_map(|g| g.agency.clone())
            .collect(),
    )
}

async fn accounts_view(
    id: &Identity,
    auth: &Auth,
    p: &Principal,
    csrf: String,
    q: String,
    c: Chrome,
    note: Option<Result<String, String>>,
) -> Result<Response, PageError> {
    let (message, error) = match note {
        Some(Ok(m)) => (Some(m), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let managed = managed_agencies(p);
    match &managed {
        None => auth.check(Action::ListAccounts, &Resource::Node).await,
        Some(list) if list.is_empty() => auth.check(Action::ListAccounts, &Resource::Node).await,
        Some(list) => {
            for a in list {
                auth.check(Action::ListAccounts, &Resource::Agency(a))
                    .await
                    .map_err(|e| PageError::new(e, c.clone()))?;
            }
            Ok(())
        }
    }
    .map_err(|e| PageError::new(e, c.clone()))?;
    let needle = kernel::text::fold(&q);
    let rows = id
        .accounts()
        .await
        .map_err(|e| PageError::new(e, c.clone()))?
        .into_iter()
        .filter(|(_, grants)| match &managed {
            None => true,
            Some(list) => grants
                .iter()
                .any(|g| g.agency.as_ref().is_some_and(|ag| list.contains(ag))),
        })
        .filter(|(a, _)| {
            needle.is_empty()
                || kernel::text::fold(&a.login).contains(&needle)
                || kernel::text::fold(&a.full_name).contains(&needle)
        })
        .take(500)
        .collect();
    let vi = c.lang.is_vi();
    let roles = ALL_ROLES
        .iter()
        .filter(|r| managed.is_none() || !r.is_national())
        .map(|r| (r.as_str(), r.label(vi)))
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render_status(
        status,
        &AccountsPage {
            csrf,
            rows,
            q,
            roles,
            own_agencies: managed.unwrap_or_default(),
            message,
            error,
            c,
        },
    ))
}

async fn accounts_page(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = admin_of(&auth) else {
        return Ok(need_login("/quan-tri/tai-khoan"));
    };
    let q = q.get("q").cloned().unwrap_or_default();
    accounts_view(&id, &auth, &p, csrf, q, c, None).await
}

async fn role_submit(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let (p, csrf, f) = match admin_form(&auth, form, &c, "/quan-tri/tai-khoan", None).await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    let login = field(&f, "login").to_string();
    let Some(role) = Role::parse(field(&f, "role")) else {
        let msg = c.pick("Hãy chọn vai trò", "Choose a role").to_string();
        return accounts_view(&id, &auth, &p, csrf, String::new(), c, Some(Err(msg))).await;
    };
    let agency = Some(field(&f, "agency")).filter(|a| !a.is_empty() && !role.is_national());
    let resource = match agency {
        Some(a) => Resource::Agency(a),
        None => Resource::Node,
    };
    auth.check(Action::GrantRole(role), &resource)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let actor = format!("account/{}", p.id);
    let grant = field(&f, "op") != "revoke";
    let result = if grant {
        id.grant(&login, role, agency, &actor).await.map(|_| true)
    } else {
        id.revoke(&login, role, agency, &actor).await
    };
    let vi = c.lang.is_vi();
    match result {
        Ok(changed) => {
            let msg = match (grant, changed, vi) {
                (true, _, true) => format!("Đã giao vai trò {} cho {login}", role.label(true)),
                (true, _, false) => format!("{login} now holds {}", role.label(false)),
                (false, true, true) => {
                    format!("Đã thu hồi vai trò {} của {login}", role.label(true))
                }
                (false, true, false) => format!("{} taken back from {login}", role.label(false)),
                (false, false, true) => format!("{login} không giữ vai trò này"),
                (false, false, false) => format!("{login} does not hold that role"),
            };
            accounts_view(&id, &auth, &p, csrf, String::new(), c, Some(Ok(msg))).await
        }
        Err(e @ (IdentityError::Invalid(_) | IdentityError::NotFound(_))) => {
            let mut msg = if vi {
                kernel::Problem::message_vi(&e)
            } else {
                kernel::Problem::message_en(&e)
            };
            for d in kernel::Problem::details(&e) {
                msg.push_str(&format!(" — {}", if vi { d.vi } else { d.en }));
            }
            accounts_view(&id, &auth, &p, csrf, String::new(), c, Some(Err(msg))).await
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}

// ----- OpenID Connect clients -----

#[derive(Template)]
#[template(path = "admin_clients.html")]
struct ClientsPage {
    c: Chrome,
    csrf: String,
    clients: Vec<Client>,
    created: Option<(String, Option<String>)>,
    errors: Vec<String>,
    f: HashMap<String, String>,
    issuer: String,
}

impl ClientsPage {
    fn v(&self, k: &str) -> &str {
        self.f.get(k).map(String::as_str).unwrap_or("")
    }
}

async fn clients_view(
    id: &Identity,
    csrf: String,
    c: Chrome,
    created: Option<(String, Option<String>)>,
    errors: Vec<String>,
    f: HashMap<String, String>,
) -> Result<Response, PageError> {
    let clients = id
        .clients()
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_status(
        status,
        &ClientsPage {
            csrf,
            clients,
            created,
            errors,
            f,
            issuer: id.issuer().to_string(),
            c,
        },
    ))
}

async fn clients_page(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
) -> Result<Response, PageError> {
    let Some((_, csrf)) = admin_of(&auth) else {
        return Ok(need_login("/quan-tri/ung-dung"));
    };
    auth.check(Action::ManageClients, &Resource::Node)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    clients_view(&id, csrf, c, None, Vec::new(), HashMap::new()).await
}

fn lines(s: &str) -> Vec<String> {
    s.split(['\n', ' ', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

async fn client_submit(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let pairs = form.map(|Form(f)| f).map_err(|e| {
        PageError::new(
            IdentityError::Invalid(vec![kernel::ProblemDetail::new(
                "form",
                format!("Biểu mẫu không đọc được: {e}"),
                format!("The form cannot be read: {e}"),
            )]),
            c.clone(),
        )
    })?;
    let Some((p, csrf)) = admin_of(&auth) else {
        return Ok(need_login("/quan-tri/ung-dung"));
    };
    let mut f: HashMap<String, String> = HashMap::new();
    let mut scopes = Vec::new();
    for (k, v) in pairs {
        if k == "scope" {
            scopes.push(v);
        } else {
            f.insert(k, v);
        }
    }
    if !same(field(&f, "csrf"), &csrf) {
        return Err(PageError::new(IdentityError::Csrf, c));
    }
    auth.check(Action::ManageClients, &Resource::Node)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let kind = field(&f, "kind");
    let agency = Some(field(&f, "agency").to_string()).filter(|a| !a.is_empty());
    let mut errors = Vec::new();
    if let Some(a) = &agency
        && id.agency_name(a).is_none()
    {
        errors.push(
            c.pick("Không có cơ quan mã này", "No agency has this code")
                .to_string(),
        );
    }
    let spec = ClientSpec {
        name: field(&f, "name").to_string(),
        redirect_uris: lines(field(&f, "redirect_uris")),
        post_logout_uris: lines(field(&f, "post_logout_uris")),
        scopes,
        confidential: kind != "public",
        machine: kind == "machine",
        agency,
    };
    let vi = c.lang.is_vi();
    errors.extend(
        spec.check()
            .into_iter()
            .map(|d| if vi { d.vi } else { d.en }),
    );
    if !errors.is_empty() {
        f.remove("csrf");
        return clients_view(&id, csrf, c, None, errors, f).await;
    }
    let (client, secret) = id
        .register_client(&spec, &format!("account/{}", p.id))
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    clients_view(
        &id,
        csrf,
        c,
        Some((client.client_id, secret)),
        Vec::new(),
        HashMap::new(),
    )
    .await
}

async fn client_state(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let (p, _, f) = match admin_form(
        &auth,
        form,
        &c,
        "/quan-tri/ung-dung",
        Some(Action::ManageClients),
    )
    .await?
    {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    id.set_client_disabled(
        field(&f, "client_id"),
        field(&f, "disabled") == "true",
        &format!("account/{}", p.id),
    )
    .await
    .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(Redirect::to("/quan-tri/ung-dung").into_response())
}

// ----- the outbox -----

#[derive(Template)]
#[template(path = "admin_outbox.html")]
struct OutboxPage {
    c: Chrome,
    csrf: String,
    messages: Vec<Message>,
}

async fn outbox_page(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
) -> Result<Response, PageError> {
    let Some((_, csrf)) = admin_of(&auth) else {
        return Ok(need_login("/quan-tri/thu-di"));
    };
    auth.check(Action::ReadOutbox, &Resource::Node)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let messages = id
        .outbox(200)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(render_status(
        StatusCode::OK,
        &OutboxPage { csrf, messages, c },
    ))
}

async fn outbox_handed(
    State(id): State<Arc<Identity>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let (p, _, f) = match admin_form(
        &auth,
        form,
        &c,
        "/quan-tri/thu-di",
        Some(Action::ReadOutbox),
    )
    .await?
    {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    id.mark_delivered(field(&f, "id"), &format!("account/{}", p.id))
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(Redirect::to("/quan-tri/thu-di").into_response())
}

// ----- password reset -----

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    c: Chrome,
    csrf: String,
    sent: bool,
}

async fn forgot_page(
    State(site): State<Site>,
    c: Chrome,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (csrf, fresh) = crate::web::form_csrf(&headers)?;
    Ok(crate::web::with_csrf_cookie(
        render_status(
            StatusCode::OK,
            &ForgotPage {
                csrf: csrf.clone(),
                sent: false,
                c,
            },
        ),
        &csrf,
        fresh,
        site.secure_cookies,
    ))
}

async fn forgot_submit(
    State(id): State<Arc<Identity>>,
    c: Chrome,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let f = crate::web::anonymous_form(form, &headers, &c)?;
    id.request_reset(field(&f, "login"))
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    Ok(render_status(
        StatusCode::OK,
        &ForgotPage {
            csrf: String::new(),
            sent: true,
            c,
        },
    ))
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    c: Chrome,
    csrf: String,
    token: String,
    valid: bool,
    done: bool,
    error: Option<String>,
}

async fn reset_page(
    State(id): State<Arc<Identity>>,
    State(site): State<Site>,
    c: Chrome,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let token = q.get("token").cloned().unwrap_or_default();
    let valid = id
        .reset_link_valid(&token)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let (csrf, fresh) = crate::web::form_csrf(&headers)?;
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let mut resp = crate::web::with_csrf_cookie(
        render_status(
            status,
            &ResetPage {
                csrf: csrf.clone(),
                token,
                valid,
                done: false,
                error: None,
                c,
            },
        ),
        &csrf,
        fresh,
        site.secure_cookies,
    );
    // The token is in this page's address: keep it out of other sites' logs.
    resp.headers_mut().insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    Ok(resp)
}

async fn reset_submit(
    State(id): State<Arc<Identity>>,
    c: Chrome,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let f = crate::web::anonymous_form(form, &headers, &c)?;
    let token = field(&f, "token").to_string();
    let pw = f.get("password").cloned().unwrap_or_default();
    let vi = c.lang.is_vi();
    let fail = |msg: String, c: Chrome, valid: bool| {
        render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ResetPage {
                csrf: field(&f, "csrf").to_string(),
                token: token.clone(),
                valid,
                done: false,
                error: Some(msg),
                c,
            },
        )
    };
    if f.get("password2") != Some(&pw) {
        let msg = crate::web::texts(&c).passwords_differ.to_string();
        return Ok(fail(msg, c, true));
    }
    match id.reset_password(&token, &pw).await {
        Ok(_) => Ok(render_status(
            StatusCode::OK,
            &ResetPage {
                csrf: String::new(),
                token: String::new(),
                valid: true,
                done: true,
                error: None,
                c,
            },
        )),
        Err(IdentityError::Invalid(d)) => {
            let token_bad = d.iter().any(|x| x.at == "token");
            let msg = d
                .into_iter()
                .map(|x| if vi { x.vi } else { x.en })
                .collect::<Vec<_>>()
                .join("; ");
            Ok(fail(msg, c, !token_bad))
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}
