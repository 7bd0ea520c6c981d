//! Payment pages: paying a dossier's fees, the return from a gateway, the sandbox gateway's
//! own page, receipts, and the agency accountant's payments and reconciliation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRef, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use web::{Chrome, PageError, Site, render, render_status};

use catalog::model::Fee;
use identity::Role;
use identity::web::Auth;
use kernel::clock::to_local;

use crate::fees::{Choice, groups};
use crate::gateway::Outcome;
use crate::receipt::dong;
use crate::{
    DossierFees, Payment, PaymentError, Payments, Provider, RefundInput, StartInput, Statement,
};

/// The payment pages.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Payments>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
    Site: FromRef<S>,
{
    axum::Router::new()
        .route("/ho-so/{code}/thanh-toan", get(pay_page).post(pay_submit))
        .route("/thanh-toan/ket-qua/{provider}", get(return_page))
        .route("/thanh-toan/{id}/bien-lai", get(receipt_page))
        .route(
            "/cong-thanh-toan-thu-nghiem",
            get(sandbox_page).post(sandbox_submit),
        )
        .route("/ke-toan", get(accounts_page))
        .route("/ke-toan/hoan-tien/{id}", post(refund_submit))
        .route(
            "/ke-toan/bang-ke",
            post(statement_submit).layer(axum::extract::DefaultBodyLimit::max(
                crate::api::MAX_STATEMENT_BYTES + 64 * 1024,
            )),
        )
        .route("/ke-toan/bang-ke/{agency}/{id}", get(statement_page))
}

fn login_first(path: &str) -> Response {
    Redirect::to(&format!(
        "/dang-nhap?next={}",
        web::layout::encode_component(path)
    ))
    .into_response()
}

fn session_of(auth: &Auth) -> Option<(identity::Principal, String)> {
    match (auth.principal(), &auth.session) {
        (Some(p), Some(s)) => Some((p.clone(), s.csrf.clone())),
        _ => None,
    }
}

fn message(e: &PaymentError, c: &Chrome) -> String {
    let vi = c.lang.is_vi();
    let mut m = if vi {
        kernel::Problem::message_vi(e)
    } else {
        kernel::Problem::message_en(e)
    };
    for d in kernel::Problem::details(e) {
        m.push_str(&format!(" — {}", if vi { d.vi } else { d.en }));
    }
    m
}

fn time(t: &DateTime<Utc>) -> String {
    to_local(*t).format("%H:%M %d/%m/%Y").to_string()
}

fn status_label(s: &str, vi: bool) -> &'static str {
    match (s, vi) {
        ("pending", true) => "Đang chờ cổng thanh toán",
        ("paid", true) => "Đã thanh toán",
        ("failed", true) => "Không thành công",
        ("cancelled", true) => "Đã hủy",
        ("expired", true) => "Hết hạn",
        ("duplicate", true) => "Thanh toán trùng, đã hoàn tiền",
        ("exempt", true) => "Miễn phí, lệ phí",
        ("pending", false) => "Waiting for the gateway",
        ("paid", false) => "Paid",
        ("failed", false) => "Failed",
        ("cancelled", false) => "Cancelled",
        ("expired", false) => "Expired",
        ("duplicate", false) => "Paid twice, refunded",
        ("exempt", false) => "Exempt",
        _ => "—",
    }
}

/// A label with its alternative lines, as the pay form shows them.
struct Group {
    n: usize,
    label: String,
    /// Index in the procedure's list, the case, the amount as text, per copy.
    options: Vec<(usize, String, String, bool)>,
}

#[derive(Template)]
#[template(path = "pay.html")]
struct PayPage {
    c: Chrome,
    f: DossierFees,
    groups: Vec<Group>,
    per_copy: bool,
    csrf: String,
    error: Option<String>,
}

impl PayPage {
    fn status(&self, s: &str) -> &'static str {
        status_label(s, self.c.lang.is_vi())
    }
    fn money(&self, n: &i64) -> String {
        dong(*n)
    }
    fn time(&self, t: &DateTime<Utc>) -> String {
        time(t)
    }
    fn gateway(&self, g: &str) -> &'static str {
        Provider::parse(g)
            .map(|p| p.label(self.c.lang.is_vi()))
            .unwrap_or("—")
    }
}

fn groups_of(lines: &[Fee]) -> (Vec<Group>, bool) {
    let g = groups(lines)
        .into_iter()
        .enumerate()
        .map(|(n, (label, ix))| Group {
            n,
            label: label.to_string(),
            options: ix
                .into_iter()
                .map(|i| {
                    let f = &lines[i];
                    (
                        i,
                        f.case.clone().unwrap_or_default(),
                        dong(f.amount),
                        f.per_copy,
                    )
                })
                .collect(),
        })
        .collect();
    (g, lines.iter().any(|f| f.per_copy))
}

async fn pay_view(
    s: &Payments,
    p: &identity::Principal,
    code: &str,
    csrf: String,
    c: Chrome,
    error: Option<String>,
) -> Result<Response, PageError> {
    let f = match s.of_dossier(code, p).await {
        Ok(f) => f,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let (groups, per_copy) = groups_of(&f.lines);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render_status(
        status,
        &PayPage {
            c,
            f,
            groups,
            per_copy,
            csrf,
            error,
        },
    ))
}

async fn pay_page(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    c: Chrome,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&format!("/ho-so/{code}/thanh-toan")));
    };
    pay_view(&s, &p, &code, csrf, c, None).await
}

async fn pay_submit(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    c: Chrome,
    headers: HeaderMap,
    Path(code): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&format!("/ho-so/{code}/thanh-toan")));
    };
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if !get("csrf").is_some_and(|t| identity::same(t, &csrf)) {
        return Err(PageError::new(identity::IdentityError::Csrf, c));
    }
    let cases = f
        .iter()
        .filter(|(n, _)| n.starts_with("case_"))
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let copies = match get("copies").map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match v.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                let msg = c
                    .pick("Số bản phải là số", "Copies must be a number")
                    .to_string();
                return pay_view(&s, &p, &code, csrf, c, Some(msg)).await;
            }
        },
    };
    let input = StartInput {
        provider: get("provider").unwrap_or_default().to_string(),
        choice: Choice { cases, copies },
    };
    match s
        .start(
            &code,
            &p,
            &input,
            &crate::api::client_ip(&headers),
            c.lang.is_vi(),
        )
        .await
    {
        Ok(started) => match started.pay_url {
            Some(url) => {
                let mut r = Redirect::to(&url).into_response();
                // The form ends up at the gateway: the page's policy must let it go there.
                let origin = url::Url::parse(&url)
                    .ok()
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_default();
                if let Ok(v) = HeaderValue::from_str(&web::csp(&[&origin])) {
                    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
                }
                Ok(r)
            }
            None => Ok(Redirect::to(&format!("/ho-so/{code}/thanh-toan")).into_response()),
        },
        Err(
            e @ (PaymentError::Invalid(_)
            | PaymentError::Conflict { .. }
            | PaymentError::Forbidden
            | PaymentError::NoGateway(_)),
        ) => {
            let msg = message(&e, &c);
            pay_view(&s, &p, &code, csrf, c, Some(msg)).await
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}

#[derive(Template)]
#[template(path = "returned.html")]
struct ReturnPage {
    c: Chrome,
    outcome: &'static str,
    p: Payment,
}

impl ReturnPage {
    fn status(&self, s: &str) -> &'static str {
        status_label(s, self.c.lang.is_vi())
    }
    fn money(&self, n: &i64) -> String {
        dong(*n)
    }
}

async fn return_page(
    State(s): State<Arc<Payments>>,
    c: Chrome,
    Path(provider): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, PageError> {
    match s.returned(&provider, &q).await {
        Ok(r) => {
            let mut resp = render(&ReturnPage {
                c,
                outcome: r.outcome,
                p: r.payment,
            });
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(resp)
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}

async fn receipt_page(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Some((p, _)) = session_of(&auth) else {
        return Ok(login_first(&format!("/thanh-toan/{id}/bien-lai")));
    };
    match s.receipt_pdf(&id, &p).await {
        Ok((name, bytes)) => Ok(crate::api::pdf(bytes, &name)),
        Err(e) => Err(PageError::new(e, c)),
    }
}

// ----- the sandbox gateway -----

#[derive(Template)]
#[template(path = "sandbox.html")]
struct SandboxPage {
    c: Chrome,
    params: Vec<(String, String)>,
    amount: String,
    order: String,
    txn_ref: String,
    expires: String,
    expired: bool,
}

async fn sandbox_page(
    State(s): State<Arc<Payments>>,
    c: Chrome,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, PageError> {
    let Some(m) = s.merchant(Provider::Sandbox) else {
        return Err(PageError::new(PaymentError::NoGateway("sandbox".into()), c));
    };
    if !m.verify(&q) {
        return Err(PageError::new(
            crate::error::invalid(
                "vnp_SecureHash",
                "Yêu cầu thanh toán không hợp lệ (sai chữ ký)",
                "The payment request is not valid (bad signature)",
            ),
            c,
        ));
    }
    let amount = q
        .get("vnp_Amount")
        .and_then(|a| a.parse::<i64>().ok())
        .map(|a| dong(a / 100))
        .unwrap_or_default();
    let exp = q
        .get("vnp_ExpireDate")
        .and_then(|e| crate::gateway::parse_stamp(e));
    let now = s.now();
    Ok(render(&SandboxPage {
        amount,
        order: q.get("vnp_OrderInfo").cloned().unwrap_or_default(),
        txn_ref: q.get("vnp_TxnRef").cloned().unwrap_or_default(),
        expires: exp.map(|t| time(&t)).unwrap_or_default(),
        expired: exp.is_some_and(|t| t < now),
        params: q.into_iter().collect(),
        c,
    }))
}

async fn sandbox_submit(
    State(s): State<Arc<Payments>>,
    c: Chrome,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let mut request = BTreeMap::new();
    let mut action = String::new();
    let mut bank = "NCB".to_string();
    for (k, v) in f {
        match k.as_str() {
            "act" => action = v,
            "bank" => {
                bank = v
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .take(20)
                    .collect()
            }
            k if k.starts_with("vnp_") => {
                request.insert(k.to_string(), v);
            }
            _ => {}
        }
    }
    let outcome = match action.as_str() {
        "pay" => Outcome::Success,
        "cancel" => Outcome::Cancelled,
        "fail" => Outcome::Failed,
        "timeout" => Outcome::TimedOut,
        _ => {
            return Err(PageError::new(
                crate::error::invalid("act", "Hãy chọn thao tác", "Choose an action"),
                c,
            ));
        }
    };
    match s.sandbox_finish(&request, outcome, &bank).await {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) => Err(PageError::new(e, c)),
    }
}

// ----- the accountant -----

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    c: Chrome,
    csrf: String,
    agencies: Vec<String>,
    agency: String,
    payments: Vec<Payment>,
    statements: Vec<(String, String, NaiveDate, usize)>,
    today: NaiveDate,
    gateways: Vec<String>,
    notice: Option<String>,
}

impl AccountsPage {
    fn status(&self, s: &str) -> &'static str {
        status_label(s, self.c.lang.is_vi())
    }
    fn money(&self, n: &i64) -> String {
        dong(*n)
    }
    fn time(&self, t: &DateTime<Utc>) -> String {
        time(t)
    }
    fn refundable(&self, p: &Payment) -> i64 {
        if p.status == "paid" || p.status == "duplicate" {
            p.amount - p.refunds.iter().map(|r| r.amount).sum::<i64>()
        } else {
            0
        }
    }
}

/// Agencies where the account keeps the books (accountant or leader).
fn books_of(p: &identity::Principal) -> Vec<String> {
    let mut v: Vec<String> = p
        .grants
        .iter()
        .filter(|g| matches!(g.role, Role::Accountant | Role::AgencyLeader))
        .filter_map(|g| g.agency.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

async fn accounts_view(
    s: &Payments,
    p: &identity::Principal,
    csrf: String,
    c: Chrome,
    agency: Option<String>,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let agencies = books_of(p);
    let Some(agency) = agency
        .filter(|a| agencies.contains(a))
        .or_else(|| agencies.first().cloned())
    else {
        let e = s
            .refuse(
                p,
                identity::Action::ManagePayments,
                &identity::Resource::Node,
            )
            .await;
        return Err(PageError::new(e, c));
    };
    let payments = s
        .of_agency(&agency, p)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let statements = s
        .statements(&agency, p)
        .await
        .map_err(|e| PageError::new(e, c.clone()))?;
    let status = if notice.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render_status(
        status,
        &AccountsPage {
            today: to_local(s.now()).date(),
            gateways: s
                .gateways()
                .iter()
                .map(|g| g.as_str().to_string())
                .collect(),
            c,
            csrf,
            agencies,
            agency,
            payments,
            statements,
            notice,
        },
    ))
}

async fn accounts_page(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    c: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first("/ke-toan"));
    };
    accounts_view(&s, &p, csrf, c, q.get("co_quan").cloned(), None).await
}

async fn refund_submit(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    c: Chrome,
    Path(id): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first("/ke-toan"));
    };
    let f = form.map(|Form(f)| f).unwrap_or_default();
    if !f.get("csrf").is_some_and(|t| identity::same(t, &csrf)) {
        return Err(PageError::new(identity::IdentityError::Csrf, c));
    }
    let input = RefundInput {
        amount: f
            .get("amount")
            .and_then(|a| a.replace('.', "").trim().parse().ok())
            .unwrap_or(0),
        reason: f.get("reason").cloned().unwrap_or_default(),
    };
    match s.refund(&id, &p, &input).await {
        Ok(pay) => Ok(Redirect::to(&format!(
            "/ke-toan?co_quan={}",
            web::layout::encode_component(&pay.agency_code)
        ))
        .into_response()),
        Err(e @ (PaymentError::Invalid(_) | PaymentError::Conflict { .. })) => {
            let msg = message(&e, &c);
            accounts_view(&s, &p, csrf, c, f.get("co_quan").cloned(), Some(msg)).await
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}

#[derive(Template)]
#[template(path = "statement.html")]
struct StatementPage {
    c: Chrome,
    s: Statement,
}

impl StatementPage {
    fn money(&self, n: &i64) -> String {
        dong(*n)
    }
}

async fn statement_submit(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    c: Chrome,
    mut mp: Multipart,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first("/ke-toan"));
    };
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut file: Option<Vec<u8>> = None;
    loop {
        match mp.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                match field.bytes().await {
                    Ok(b) if name == "file" => file = Some(b.to_vec()),
                    Ok(b) => {
                        fields.insert(
                            name,
                            String::from_utf8_lossy(&b).chars().take(200).collect(),
                        );
                    }
                    Err(_) => {
                        let msg = c
                            .pick(
                                "Tệp tải lên không đọc được hoặc quá lớn",
                                "The upload cannot be read or is too large",
                            )
                            .to_string();
                        return accounts_view(&s, &p, csrf, c, None, Some(msg)).await;
                    }
                }
            }
            Ok(None) => break,
            Err(_) => {
                let msg = c
                    .pick(
                        "Tệp tải lên không đọc được hoặc quá lớn",
                        "The upload cannot be read or is too large",
                    )
                    .to_string();
                return accounts_view(&s, &p, csrf, c, None, Some(msg)).await;
            }
        }
    }
    if !fields.get("csrf").is_some_and(|t| identity::same(t, &csrf)) {
        return Err(PageError::new(identity::IdentityError::Csrf, c));
    }
    let agency = fields.get("co_quan").cloned().unwrap_or_default();
    let day = fields
        .get("day")
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let (Some(day), Some(file)) = (day, file.filter(|f| !f.is_empty())) else {
        let msg = c
            .pick(
                "Hãy chọn ngày và tệp bảng kê",
                "Choose the day and the statement file",
            )
            .to_string();
        return accounts_view(&s, &p, csrf, c, Some(agency), Some(msg)).await;
    };
    let provider = fields.get("provider").cloned().unwrap_or_default();
    match s.import_statement(&agency, &p, &provider, day, &file).await {
        Ok(st) => Ok(
            Redirect::to(&format!("/ke-toan/bang-ke/{}/{}", st.agency_code, st.id)).into_response(),
        ),
        Err(e @ (PaymentError::Invalid(_) | PaymentError::NotFound(_))) => {
            let msg = message(&e, &c);
            accounts_view(&s, &p, csrf, c, Some(agency), Some(msg)).await
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}

async fn statement_page(
    State(s): State<Arc<Payments>>,
    auth: Auth,
    c: Chrome,
    Path((agency, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let Some((p, _)) = session_of(&auth) else {
        return Ok(login_first(&format!("/ke-toan/bang-ke/{agency}/{id}")));
    };
    match s.statement(&agency, &id, &p).await {
        Ok(st) => Ok(render(&StatementPage { c, s: st })),
        Err(e) => Err(PageError::new(e, c)),
    }
}
