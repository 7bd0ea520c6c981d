//! Payment of fees and charges (phí, lệ phí): what a dossier owes, the gateways that take the
//! money, the receipts, refunds and the reconciliation with the gateways' statements.
//!
//! A payment is an attempt: created `pending` when the applicant is sent to a gateway, it
//! ends `paid`, `failed`, `cancelled` or `expired` by the gateway's confirmation (IPN), never
//! by the return URL the applicant's browser comes back on. At most one payment of a dossier
//! settles its fees (a unique index holds this in the database); money that arrives for a
//! second one (a late success after another attempt was paid) is recorded as `duplicate` and
//! given back by a refund record in the same transaction. A payment that settles gets a
//! receipt number from the agency's yearly counter in the same transaction, so receipts have
//! no gaps. Every change is an entry in the audit chain; every gateway message, accepted or
//! refused, is kept with the answer it got.

pub mod api;
pub mod demo;
pub mod error;
pub mod fees;
pub mod gateway;
pub mod pages;
pub mod receipt;
pub mod reconcile;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::types::Json;
use utoipa::ToSchema;

use catalog::Catalog;
use catalog::model::Fee;
use dossier::{Dossier, Dossiers, Settled, Status};
use identity::{Action, Principal, Resource, Role};
use kernel::audit::Entry;
use kernel::batch::Write;
use kernel::clock::{Clock, to_local};
use kernel::db::{Db, MigrationSet};
use kernel::{on_db, on_tx};

pub use error::PaymentError;
use error::{conflict, invalid};
pub use gateway::{Answer, Merchant, Provider};

type Result<T, E = PaymentError> = std::result::Result<T, E>;

/// The payment system's migrations.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("./migrations/sqlite"),
    postgres: &sqlx::migrate!("./migrations/postgres"),
};

/// The sandbox's merchant code.
pub const SANDBOX_TERMINAL: &str = "MOTCUA01";

/// How a node takes payments.
#[derive(Clone, Debug)]
pub struct Options {
    /// Public base URL: the return URL and the sandbox's pages are under it.
    pub public_url: String,
    /// Where the sandbox sends its IPN calls (this node's own address).
    pub ipn_base: String,
    /// The built-in sandbox gateway, with its secret, when enabled.
    pub sandbox_secret: Option<Vec<u8>>,
    /// VNPAY: payment page URL, merchant code (vnp_TmnCode) and secret, when configured.
    pub vnpay: Option<(String, String, Vec<u8>)>,
    /// How long a payment may wait for the gateway.
    pub window: Duration,
}

/// The payment system.
pub struct Payments {
    db: Db,
    clock: Arc<dyn Clock>,
    catalog: Arc<Catalog>,
    dossiers: Arc<Dossiers>,
    identity: Arc<identity::Identity>,
    merchants: HashMap<Provider, Merchant>,
    opts: Options,
    http: reqwest::Client,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments").finish_non_exhaustive()
    }
}

/// A payment's status.
pub const STATUSES: [&str; 7] = [
    "pending",
    "paid",
    "failed",
    "cancelled",
    "expired",
    "duplicate",
    "exempt",
];

/// A receipt's number as printed: series and number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReceiptNo {
    /// Ký hiệu, e.g. `BL26E`: receipt (biên lai), year, electronic.
    pub series: String,
    /// Số, seven digits, from 0000001 each year in each agency.
    pub number: String,
    pub issued_at: DateTime<Utc>,
}

/// Money given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    pub reason: String,
    /// `requested` (to be paid out through the gateway) or `done`.
    pub status: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

/// One payment of a dossier.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Payment {
    pub id: String,
    /// The reference the gateway knows it by.
    pub txn_ref: String,
    pub dossier_code: String,
    pub agency_code: String,
    /// `sandbox`, `vnpay` or `desk`.
    pub provider: String,
    /// Whole đồng.
    pub amount: i64,
    pub currency: String,
    pub quote: fees::Quote,
    /// pending, paid, failed, cancelled, expired, duplicate (paid twice: refunded) or exempt.
    pub status: String,
    /// Whether this is the payment that settles the dossier's fees.
    pub settles: bool,
    pub payer_name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub gateway_txn: Option<String>,
    pub bank_code: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Confirmed after its time ran out.
    pub late: bool,
    pub receipt: Option<ReceiptNo>,
    pub refunds: Vec<Refund>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    txn_ref: String,
    dossier_id: String,
    dossier_code: String,
    agency_code: String,
    provider: String,
    amount: i64,
    currency: String,
    quote: Json<fees::Quote>,
    status: String,
    settles: bool,
    payer_name: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    gateway_txn: Option<String>,
    bank_code: Option<String>,
    paid_at: Option<DateTime<Utc>>,
    late: bool,
}

macro_rules! columns {
    () => {
        "id, txn_ref, dossier_id, dossier_code, agency_code, provider, amount, currency, quote, status, settles, payer_name, created_at, expires_at, gateway_txn, bank_code, paid_at, late"
    };
}

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    year: i32,
    number: i64,
    issued_at: DateTime<Utc>,
}

impl ReceiptRow {
    fn no(&self) -> ReceiptNo {
        ReceiptNo {
            series: format!("BL{:02}E", self.year % 100),
            number: format!("{:07}", self.number),
            issued_at: self.issued_at,
        }
    }
}

/// What a dossier owes and what was paid, as its applicant and its agency see it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DossierFees {
    pub dossier_code: String,
    pub procedure_name: String,
    pub agency_code: String,
    /// `submission` or `result`: when the fees are due.
    pub due: String,
    pub settled: bool,
    /// The procedure's fee lines; [`fees::Choice::cases`] indexes them.
    #[schema(value_type = Vec<Object>)]
    pub lines: Vec<Fee>,
    pub payments: Vec<Payment>,
    /// Gateways this node takes payments through.
    pub gateways: Vec<String>,
    /// Whether the caller may pay online now (the applicant, while something is owed).
    pub can_pay: bool,
    /// Whether the caller may record a payment at the desk.
    pub can_collect: bool,
}

/// Pay a dossier's fees.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartInput {
    /// `sandbox`, `vnpay`, or `desk` (an official of the receiving agency's desk records cash
    /// or card taken there).
    pub provider: String,
    #[serde(default)]
    pub choice: fees::Choice,
}

/// A payment begun.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Started {
    pub payment: Payment,
    /// Where to send the applicant; none when nothing is left to do at a gateway.
    pub pay_url: Option<String>,
}

/// Give money back.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    /// Whole đồng, at most what was paid and not yet given back.
    pub amount: i64,
    pub reason: String,
}

/// What the browser's return from a gateway says, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Returned {
    /// What the gateway told the browser: success, cancelled, failed or timed_out.
    pub outcome: &'static str,
    /// The payment as recorded here now (the IPN, not this return, changes it).
    pub payment: Payment,
}

/// A statement imported, and how it matches.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Statement {
    pub id: String,
    pub agency_code: String,
    pub provider: String,
    pub day: NaiveDate,
    pub imported_by: String,
    pub imported_at: DateTime<Utc>,
    pub lines: usize,
    pub result: reconcile::Reconciliation,
}

/// Payment figures for reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Summary {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub agency_code: Option<String>,
    /// Payments that settled a dossier, and their sum.
    pub paid_count: i64,
    pub paid_amount: i64,
    /// Money taken twice and refunded.
    pub duplicate_count: i64,
    pub refunded_amount: i64,
    /// Dossiers whose fees were waived for beneficiaries.
    pub exempt_count: i64,
    pub pending_count: i64,
    pub failed_count: i64,
    /// Paid amount by gateway.
    pub by_provider: BTreeMap<String, i64>,
}

fn outcome_str(o: gateway::Outcome) -> &'static str {
    match o {
        gateway::Outcome::Success => "success",
        gateway::Outcome::Cancelled => "cancelled",
        gateway::Outcome::Failed => "failed",
        gateway::Outcome::TimedOut => "timed_out",
    }
}

/// The reference a gateway knows a payment by: ASCII letters and digits only, unique.
fn new_txn_ref(now: DateTime<Utc>) -> String {
    let u = uuid::Uuid::now_v7().simple().to_string();
    format!("{}{}", to_local(now).format("%y%m%d"), &u[u.len() - 14..]).to_uppercase()
}

impl Payments {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        catalog: Arc<Catalog>,
        dossiers: Arc<Dossiers>,
        identity: Arc<identity::Identity>,
        opts: Options,
    ) -> Payments {
        let mut merchants = HashMap::new();
        let base = opts.public_url.trim_end_matches('/');
        if let Some(secret) = &opts.sandbox_secret {
            merchants.insert(
                Provider::Sandbox,
                Merchant::new(
                    Provider::Sandbox,
                    &format!("{base}/cong-thanh-toan-thu-nghiem"),
                    SANDBOX_TERMINAL,
                    secret,
                ),
            );
        }
        if let Some((url, terminal, secret)) = &opts.vnpay {
            merchants.insert(
                Provider::Vnpay,
                Merchant::new(Provider::Vnpay, url, terminal, secret),
            );
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Payments {
            db,
            clock,
            catalog,
            dossiers,
            identity,
            merchants,
            opts,
            http,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The time on this node's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The gateway configured for `provider`.
    pub fn merchant(&self, provider: Provider) -> Option<&Merchant> {
        self.merchants.get(&provider)
    }

    /// Gateways this node takes payments through, sandbox first.
    pub fn gateways(&self) -> Vec<Provider> {
        [Provider::Sandbox, Provider::Vnpay]
            .into_iter()
            .filter(|p| self.merchants.contains_key(p))
            .collect()
    }

    fn public_url(&self) -> &str {
        self.opts.public_url.trim_end_matches('/')
    }

    async fn allow(&self, p: &Principal, action: Action, resource: &Resource<'_>) -> Result<()> {
        let subject = identity::Subject::Account(p.clone());
        if identity::authorize(&subject, action, resource) == identity::Decision::Allow {
            return Ok(());
        }
        self.identity.record_denial(&p.id, action, resource).await?;
        Err(PaymentError::Forbidden)
    }

    /// Records a refusal in the audit chain and gives the error to answer with.
    pub async fn refuse(
        &self,
        p: &Principal,
        action: Action,
        resource: &Resource<'_>,
    ) -> PaymentError {
        match self.identity.record_denial(&p.id, action, resource).await {
            Ok(()) => PaymentError::Forbidden,
            Err(e) => e.into(),
        }
    }

    fn may_collect(p: &Principal, d: &Dossier) -> bool {
        let subject = identity::Subject::Account(p.clone());
        identity::authorize(
            &subject,
            Action::HandleDossier(Role::Reception),
            &desk_of(d),
        ) == identity::Decision::Allow
    }

    async fn fee_lines(&self, d: &Dossier) -> Result<Vec<Fee>> {
        let spec = self
            .catalog
            .procedure(&d.procedure_code, Some(d.procedure_version))
            .await
            .map_err(|_| PaymentError::NotFound(format!("thủ tục {}", d.procedure_code)))?;
        Ok(spec.spec.fees)
    }

    /// What `code` owes and what was paid.
    pub async fn of_dossier(&self, code: &str, p: &Principal) -> Result<DossierFees> {
        let d = self.dossiers.get(code, p).await?;
        let Some(fee) = d.fee.clone() else {
            return Err(conflict(
                "Thủ tục của hồ sơ này không thu phí, lệ phí qua hệ thống",
                "The dossier's procedure collects no fees through the system",
            ));
        };
        let lines = self.fee_lines(&d).await?;
        let payments = self.payments_of(&d.id).await?;
        let settled = fee.settled_at.is_some();
        let open = payable(d.status);
        Ok(DossierFees {
            dossier_code: d.code.clone().unwrap_or_else(|| d.id.clone()),
            procedure_name: d.procedure_name.clone(),
            agency_code: d.agency_code.clone(),
            due: fee.stage.as_str().to_string(),
            settled,
            can_pay: !settled
                && open
                && p.is_applicant(d.applicant_account.as_deref(), d.on_behalf_of.as_deref()),
            can_collect: !settled && open && Self::may_collect(p, &d),
            lines,
            payments,
            gateways: self
                .gateways()
                .iter()
                .map(|g| g.as_str().to_string())
                .collect(),
        })
    }

    async fn payments_of(&self, dossier_id: &str) -> Result<Vec<Payment>> {
        let rows: Vec<Row> = on_db!(&self.db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM payments WHERE dossier_id = $1 ORDER BY created_at, id"))
            .bind(dossier_id).fetch_all(pool).await)?;
        self.views(rows).await
    }

    async fn views(&self, rows: Vec<Row>) -> Result<Vec<Payment>> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.view(r).await?);
        }
        Ok(out)
    }

    async fn view(&self, r: Row) -> Result<Payment> {
        let receipt: Option<ReceiptRow> = on_db!(&self.db, pool => sqlx::query_as("SELECT year, number, issued_at FROM receipts WHERE payment_id = $1")
            .bind(&r.id).fetch_optional(pool).await)?;
        let refunds: Vec<Refund> = on_db!(&self.db, pool => sqlx::query_as("SELECT id, amount, reason, status, created_by, created_at, done_at FROM refunds WHERE payment_id = $1 ORDER BY created_at")
            .bind(&r.id).fetch_all(pool).await)?;
        Ok(Payment {
            id: r.id,
            txn_ref: r.txn_ref,
            dossier_code: r.dossier_code,
            agency_code: r.agency_code,
            provider: r.provider,
            amount: r.amount,
            currency: r.currency,
            quote: r.quote.0,
            status: r.status,
            settles: r.settles,
            payer_name: r.payer_name,
            created_at: r.created_at,
            expires_at: r.expires_at,
            gateway_txn: r.gateway_txn,
            bank_code: r.bank_code,
            paid_at: r.paid_at,
            late: r.late,
            receipt: receipt.map(|x| x.no()),
            refunds,
        })
    }

    /// Begins paying `code`'s fees: through a gateway (the applicant), at the desk (its
    /// official), or nothing at all when the chosen case owes nothing. A pending payment of
    /// the same amount through the same gateway is reused, so two tabs pay one payment.
    pub async fn start(
        &self,
        code: &str,
        p: &Principal,
        input: &StartInput,
        ip: &str,
        vi: bool,
    ) -> Result<Started> {
        let d = self.dossiers.get(code, p).await?;
        let provider = Provider::parse(input.provider.trim()).ok_or_else(|| {
            invalid(
                "provider",
                format!("Không có cổng thanh toán {}", input.provider),
                format!("No gateway {}", input.provider),
            )
        })?;
        if provider == Provider::Desk {
            if !Self::may_collect(p, &d) {
                let r = desk_of(&d);
                self.identity
                    .record_denial(&p.id, Action::HandleDossier(Role::Reception), &r)
                    .await?;
                return Err(PaymentError::Forbidden);
            }
        } else if !p.is_applicant(d.applicant_account.as_deref(), d.on_behalf_of.as_deref()) {
            return Err(PaymentError::Forbidden);
        } else if !p.token_allows(Action::FileDossier) {
            // Paying is part of filing: an applicant's token needs `dossiers:write`.
            let r = desk_of(&d);
            self.identity
                .record_denial(&p.id, Action::FileDossier, &r)
                .await?;
            return Err(PaymentError::Forbidden);
        }
        let merchant = match provider {
            Provider::Desk => None,
            other => Some(
                self.merchants
                    .get(&other)
                    .ok_or_else(|| PaymentError::NoGateway(other.as_str().into()))?,
            ),
        };
        let Some(fee) = d.fee.clone() else {
            return Err(conflict(
                "Thủ tục của hồ sơ này không thu phí, lệ phí qua hệ thống",
                "The dossier's procedure collects no fees through the system",
            ));
        };
        if fee.settled_at.is_some() {
            return Err(already_settled());
        }
        if !payable(d.status) {
            return Err(conflict(
                format!(
                    "Không thể nộp phí khi hồ sơ đang ở trạng thái: {}",
                    d.status.label(true)
                ),
                format!(
                    "Fees cannot be paid while the dossier is: {}",
                    d.status.label(false)
                ),
            ));
        }
        let lines = self.fee_lines(&d).await?;
        let quote = fees::quote(&lines, &input.choice).map_err(|u| invalid(u.field, u.vi, u.en))?;
        let code = d.code.clone().unwrap_or_else(|| d.id.clone());
        let now = self.clock.now();
        let mut w = self.dossiers.committer().begin().await?;
        if settling_of(&mut w, &d.id).await?.is_some() {
            return Err(already_settled());
        }
        let pending: Vec<Row> = on_tx!(w.tx()?, c => sqlx::query_as(concat!("SELECT ", columns!(), " FROM payments WHERE dossier_id = $1 AND status = 'pending' ORDER BY created_at"))
            .bind(&d.id).fetch_all(&mut *c).await)?;
        for r in pending {
            if r.expires_at <= now {
                set_status(&mut w, &r.id, "expired", now).await?;
                w.audit_later(
                    now,
                    &entry(
                        &p.id,
                        "payment.expired",
                        &subject(&r.id),
                        json!({"dossier": code}),
                    ),
                );
            } else if merchant.is_some()
                && r.provider == provider.as_str()
                && r.amount == quote.total
                && r.quote.0 == quote
            {
                w.commit().await?;
                let pay_url = merchant.map(|m| self.pay_url(m, &r, &code, ip, vi));
                return Ok(Started {
                    payment: self.view(r).await?,
                    pay_url,
                });
            }
        }
        let id = uuid::Uuid::now_v7().to_string();
        let txn_ref = new_txn_ref(now);
        let (status, settles) = if quote.total == 0 {
            ("exempt", true)
        } else if provider == Provider::Desk {
            ("paid", true)
        } else {
            ("pending", false)
        };
        let expires = now + self.opts.window;
        let paid_at = settles.then_some(now);
        on_tx!(w.tx()?, c => sqlx::query(
            "INSERT INTO payments (id, txn_ref, dossier_id, dossier_code, agency_code, provider, amount, currency, quote, status, settles, payer_name, created_by, created_at, expires_at, paid_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'VND', $8, $9, $10, $11, $12, $13, $14, $15, $13)"
        ).bind(&id).bind(&txn_ref).bind(&d.id).bind(&code).bind(&d.agency_code).bind(provider.as_str()).bind(quote.total)
        .bind(Json(&quote)).bind(status).bind(settles).bind(&d.applicant_name).bind(&p.id).bind(now).bind(expires).bind(paid_at)
        .execute(&mut *c).await.map(|_| ()))?;
        w.audit_later(now, &entry(&p.id, &format!("payment.{status}"), &subject(&id), json!({
            "dossier": code, "provider": provider.as_str(), "amount": quote.total, "txn_ref": txn_ref,
            "claims_reduction": quote.claims_reduction,
        })));
        if settles {
            if status == "paid" {
                issue_receipt(&mut w, &id, &d.agency_code, now).await?;
            }
            self.dossiers
                .settle_fee(&mut w, &d.id, &p.id, now, if status == "exempt" { Settled::Waived } else { Settled::Desk(quote.total) }, json!({"payment": id, "amount": quote.total, "provider": provider.as_str(), "exempt": status == "exempt"}))
                .await?;
        }
        w.commit().await?;
        let row = self
            .row(&id)
            .await?
            .ok_or_else(|| PaymentError::NotFound(id.clone()))?;
        let pay_url = match (merchant, status) {
            (Some(m), "pending") => Some(self.pay_url(m, &row, &code, ip, vi)),
            _ => None,
        };
        Ok(Started {
            payment: self.view(row).await?,
            pay_url,
        })
    }

    fn pay_url(&self, m: &Merchant, r: &Row, code: &str, ip: &str, vi: bool) -> String {
        let return_url = format!(
            "{}/thanh-toan/ket-qua/{}",
            self.public_url(),
            m.provider.as_str()
        );
        let info = format!("Nop phi le phi ho so {code}");
        m.pay_url_for(&gateway::PayRequest {
            txn_ref: &r.txn_ref,
            amount: r.amount,
            order_info: &info,
            return_url: &return_url,
            ip,
            created: r.created_at,
            expires: r.expires_at,
            vi,
        })
    }

    async fn row(&self, id: &str) -> Result<Option<Row>> {
        Ok(
            on_db!(&self.db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM payments WHERE id = $1")).bind(id).fetch_optional(pool).await)?,
        )
    }

    async fn row_by_ref(&self, provider: Provider, txn_ref: &str) -> Result<Option<Row>> {
        Ok(
            on_db!(&self.db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM payments WHERE txn_ref = $1 AND provider = $2"))
            .bind(txn_ref).bind(provider.as_str()).fetch_optional(pool).await)?,
        )
    }

    /// Handles a gateway's IPN call and says what to answer. Strict and idempotent: a bad
    /// signature, an unknown reference or a wrong amount changes nothing; a repeated or stale
    /// message is answered "already confirmed"; a success for an attempt whose dossier was
    /// settled by another becomes a duplicate with its refund. Every message is kept.
    pub async fn notify(&self, provider: &str, params: &BTreeMap<String, String>) -> Answer {
        match self.notify_inner(provider, params).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, provider, "IPN not applied");
                Answer::Error
            }
        }
    }

    /// The checks an IPN passes before anything is written: a gateway configured here, its
    /// signature, its merchant, a known reference, the amount and currency.
    async fn screen(&self, provider: &str, params: &BTreeMap<String, String>) -> Result<Screened> {
        let refused =
            |provider: &str, txn_ref: Option<&str>, verdict: &str, answer| Screened::Refused {
                provider: provider.to_string(),
                txn_ref: txn_ref.map(str::to_string),
                verdict: verdict.to_string(),
                answer,
            };
        let sent_ref = params.get("vnp_TxnRef").map(String::as_str);
        let Some((p, m)) =
            Provider::parse(provider).and_then(|p| self.merchants.get(&p).map(|m| (p, m)))
        else {
            return Ok(refused(
                provider,
                sent_ref,
                "unknown_gateway",
                Answer::NotFound,
            ));
        };
        let notice = match m.read(params) {
            Ok(n) => n,
            Err(gateway::Unread::BadSignature) => {
                return Ok(refused(
                    p.as_str(),
                    sent_ref,
                    "bad_signature",
                    Answer::BadSignature,
                ));
            }
            Err(gateway::Unread::Malformed(why)) => {
                return Ok(refused(
                    p.as_str(),
                    sent_ref,
                    &format!("malformed: {why}"),
                    Answer::Error,
                ));
            }
        };
        let txn_ref = Some(notice.txn_ref.as_str());
        if notice.terminal != m.terminal {
            return Ok(refused(
                p.as_str(),
                txn_ref,
                "wrong_merchant",
                Answer::NotFound,
            ));
        }
        // A read that takes no lock, before the writer's turn; checked again inside it.
        let Some(before) = self.row_by_ref(p, &notice.txn_ref).await? else {
            return Ok(refused(
                p.as_str(),
                txn_ref,
                "unknown_reference",
                Answer::NotFound,
            ));
        };
        if notice.amount != before.amount
            || notice
                .currency
                .as_deref()
                .is_some_and(|c| c != before.currency)
        {
            return Ok(refused(
                p.as_str(),
                txn_ref,
                "amount_mismatch",
                Answer::InvalidAmount,
            ));
        }
        Ok(Screened::Ready(p, Box::new((notice, before))))
    }

    async fn notify_inner(
        &self,
        provider: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<Answer> {
        let now = self.clock.now();
        let (provider, notice, before) = match self.screen(provider, params).await? {
            Screened::Ready(p, ready) => {
                let (n, r) = *ready;
                (p, n, r)
            }
            Screened::Refused {
                provider,
                txn_ref,
                verdict,
                answer,
            } => {
                tracing::warn!(provider, txn_ref = ?txn_ref, verdict, "IPN refused");
                self.log(&provider, txn_ref.as_deref(), params, &verdict, answer, now)
                    .await?;
                return Ok(answer);
            }
        };
        let mut w = self.dossiers.committer().begin().await?;
        let actor = format!("gateway:{}", provider.as_str());
        if notice.outcome == gateway::Outcome::Success {
            // The common case in one statement: an open attempt of a dossier nobody settled
            // becomes the paid, settling one. Anything else takes the checks below.
            let paid_at = notice.paid_at.unwrap_or(now);
            let late: Option<bool> = on_tx!(w.tx()?, c => sqlx::query_scalar(
                "UPDATE payments SET status = 'paid', settles = $1, gateway_txn = $2, bank_code = $3, paid_at = $4, \
                 late = (status <> 'pending' OR expires_at < $5), updated_at = $5 \
                 WHERE id = $6 AND status IN ('pending', 'failed', 'cancelled', 'expired') \
                 AND NOT EXISTS (SELECT 1 FROM payments o WHERE o.dossier_id = $7 AND o.settles = $1) RETURNING late"
            ).bind(true).bind(&notice.gateway_txn).bind(&notice.bank_code).bind(paid_at).bind(now)
            .bind(&before.id).bind(&before.dossier_id).fetch_optional(&mut *c).await)?;
            if let Some(late) = late {
                let r = &before;
                issue_receipt(&mut w, &r.id, &r.agency_code, now).await?;
                self.dossiers
                    .settle_fee(&mut w, &r.dossier_id, &actor, now, Settled::Online(r.amount), json!({"payment": r.id, "amount": r.amount, "provider": provider.as_str(), "late": late}))
                    .await?;
                w.audit_later(now, &entry(&actor, "payment.paid", &subject(&r.id), json!({
                    "dossier": r.dossier_code, "amount": r.amount, "gateway_txn": notice.gateway_txn, "bank": notice.bank_code, "late": late,
                })));
                let verdict = if late { "late_paid" } else { "paid" };
                log_in(
                    &mut w,
                    provider.as_str(),
                    Some(&r.txn_ref),
                    params,
                    verdict,
                    Answer::Confirmed,
                    now,
                )
                .await?;
                w.commit().await?;
                return Ok(Answer::Confirmed);
            }
        }
        let r: Row = on_tx!(w.tx()?, c => sqlx::query_as(concat!("SELECT ", columns!(), " FROM payments WHERE id = $1")).bind(&before.id).fetch_one(&mut *c).await)?;
        let (verdict, answer) = match (notice.outcome, r.status.as_str()) {
            (gateway::Outcome::Success, "paid" | "duplicate") => {
                if r.gateway_txn == notice.gateway_txn {
                    ("replay", Answer::AlreadyConfirmed)
                } else {
                    ("second_success_refused", Answer::AlreadyConfirmed)
                }
            }
            (gateway::Outcome::Success, "pending" | "failed" | "cancelled" | "expired") => {
                let late = r.status != "pending" || now > r.expires_at;
                let paid_at = notice.paid_at.unwrap_or(now);
                if let Some(other) = settling_of(&mut w, &r.dossier_id).await? {
                    on_tx!(w.tx()?, c => sqlx::query(
                        "UPDATE payments SET status = 'duplicate', gateway_txn = $1, bank_code = $2, paid_at = $3, late = $4, updated_at = $5 WHERE id = $6"
                    ).bind(&notice.gateway_txn).bind(&notice.bank_code).bind(paid_at).bind(late).bind(now).bind(&r.id).execute(&mut *c).await.map(|_| ()))?;
                    let refund = uuid::Uuid::now_v7().to_string();
                    let done = provider == Provider::Sandbox;
                    on_tx!(w.tx()?, c => sqlx::query(
                        "INSERT INTO refunds (id, payment_id, amount, reason, status, created_by, created_at, done_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    ).bind(&refund).bind(&r.id).bind(r.amount)
                    .bind(format!("Thanh toán trùng: hồ sơ {} đã được thanh toán bởi giao dịch khác", r.dossier_code))
                    .bind(if done { "done" } else { "requested" }).bind(&actor).bind(now).bind(done.then_some(now))
                    .execute(&mut *c).await.map(|_| ()))?;
                    w.audit_later(now, &entry(&actor, "payment.duplicate", &subject(&r.id), json!({
                        "dossier": r.dossier_code, "amount": r.amount, "settled_by": other, "refund": refund, "gateway_txn": notice.gateway_txn,
                    })));
                    ("duplicate_refunded", Answer::Confirmed)
                } else {
                    on_tx!(w.tx()?, c => sqlx::query(
                        "UPDATE payments SET status = 'paid', settles = $1, gateway_txn = $2, bank_code = $3, paid_at = $4, late = $5, updated_at = $6 WHERE id = $7"
                    ).bind(true).bind(&notice.gateway_txn).bind(&notice.bank_code).bind(paid_at).bind(late).bind(now).bind(&r.id).execute(&mut *c).await.map(|_| ()))?;
                    issue_receipt(&mut w, &r.id, &r.agency_code, now).await?;
                    self.dossiers
                        .settle_fee(&mut w, &r.dossier_id, &actor, now, Settled::Online(r.amount), json!({"payment": r.id, "amount": r.amount, "provider": provider.as_str(), "late": late}))
                        .await?;
                    w.audit_later(now, &entry(&actor, "payment.paid", &subject(&r.id), json!({
                        "dossier": r.dossier_code, "amount": r.amount, "gateway_txn": notice.gateway_txn, "bank": notice.bank_code, "late": late,
                    })));
                    (if late { "late_paid" } else { "paid" }, Answer::Confirmed)
                }
            }
            (outcome, "pending") => {
                let to = match outcome {
                    gateway::Outcome::Cancelled => "cancelled",
                    gateway::Outcome::TimedOut => "expired",
                    _ => "failed",
                };
                set_status(&mut w, &r.id, to, now).await?;
                w.audit_later(
                    now,
                    &entry(
                        &actor,
                        &format!("payment.{to}"),
                        &subject(&r.id),
                        json!({
                            "dossier": r.dossier_code, "response_code": notice.response_code,
                        }),
                    ),
                );
                (to, Answer::Confirmed)
            }
            _ => ("stale", Answer::AlreadyConfirmed),
        };
        log_in(
            &mut w,
            provider.as_str(),
            Some(&r.txn_ref),
            params,
            verdict,
            answer,
            now,
        )
        .await?;
        w.commit().await?;
        Ok(answer)
    }

    async fn log(
        &self,
        provider: &str,
        txn_ref: Option<&str>,
        params: &BTreeMap<String, String>,
        verdict: &str,
        answer: Answer,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut w = self.dossiers.committer().begin().await?;
        log_in(&mut w, provider, txn_ref, params, verdict, answer, now).await?;
        w.commit().await?;
        Ok(())
    }

    /// Reads the browser's return from a gateway. Nothing changes: only the IPN does.
    pub async fn returned(
        &self,
        provider: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<Returned> {
        let provider = Provider::parse(provider)
            .ok_or_else(|| PaymentError::NotFound(format!("cổng {provider}")))?;
        let m = self
            .merchants
            .get(&provider)
            .ok_or_else(|| PaymentError::NoGateway(provider.as_str().into()))?;
        let notice = m.read(params).map_err(|_| {
            invalid(
                "vnp_SecureHash",
                "Dữ liệu trả về từ cổng thanh toán không hợp lệ (sai chữ ký)",
                "The data the gateway sent back is not valid (bad signature)",
            )
        })?;
        let r = self
            .row_by_ref(provider, &notice.txn_ref)
            .await?
            .ok_or_else(|| PaymentError::NotFound(format!("giao dịch {}", notice.txn_ref)))?;
        Ok(Returned {
            outcome: outcome_str(notice.outcome),
            payment: self.view(r).await?,
        })
    }

    /// One payment, for its dossier's applicant and agency.
    pub async fn get(&self, id: &str, p: &Principal) -> Result<Payment> {
        let r = self
            .row(id)
            .await?
            .ok_or_else(|| PaymentError::NotFound(format!("giao dịch {id}")))?;
        // Reading the dossier checks the caller may see it (and answers not found if not).
        self.dossiers.get(&r.dossier_code, p).await?;
        self.view(r).await
    }

    /// The receipt of a payment, as a PDF: its file name and bytes.
    pub async fn receipt_pdf(&self, id: &str, p: &Principal) -> Result<(String, Vec<u8>)> {
        let pay = self.get(id, p).await?;
        let Some(no) = pay.receipt.clone() else {
            return Err(PaymentError::NotFound(format!(
                "biên lai của giao dịch {id}"
            )));
        };
        let d = self.dossiers.get(&pay.dossier_code, p).await?;
        let lookup = self.catalog.lookup();
        let agency = lookup
            .agencies
            .get(&pay.agency_code)
            .map(|a| a.spec.name.clone())
            .unwrap_or_else(|| pay.agency_code.clone());
        let parent = lookup
            .agencies
            .get(&pay.agency_code)
            .and_then(|a| a.spec.parent.as_ref())
            .and_then(|pc| lookup.agencies.get(pc.as_str()))
            .map(|a| a.spec.name.clone());
        let bytes = receipt::render(&receipt::Data {
            agency,
            parent,
            payment: &pay,
            receipt: &no,
            procedure: &d.procedure_name,
            payer: &d.applicant_name,
            payer_id: d.applicant_cccd.as_deref().or(d.on_behalf_of.as_deref()),
        })?;
        Ok((format!("bien-lai-{}-{}.pdf", no.series, no.number), bytes))
    }

    /// Gives money back: an agency's accountant or leader, up to what was paid and not yet
    /// given back. Through the sandbox or at the desk it is done at once; through VNPAY it is
    /// requested, to be paid out through the gateway.
    pub async fn refund(&self, id: &str, p: &Principal, input: &RefundInput) -> Result<Payment> {
        let r = self
            .row(id)
            .await?
            .ok_or_else(|| PaymentError::NotFound(format!("giao dịch {id}")))?;
        self.allow(p, Action::ManagePayments, &Resource::Agency(&r.agency_code))
            .await?;
        let reason = input.reason.trim().chars().take(500).collect::<String>();
        if reason.is_empty() {
            return Err(invalid(
                "reason",
                "Hãy ghi lý do hoàn tiền",
                "Give the reason for the refund",
            ));
        }
        if !matches!(r.status.as_str(), "paid" | "duplicate") {
            return Err(conflict(
                "Chỉ hoàn tiền giao dịch đã thanh toán",
                "Only a paid payment can be refunded",
            ));
        }
        let now = self.clock.now();
        let mut w = self.dossiers.committer().begin().await?;
        let given: Option<i64> = on_tx!(w.tx()?, c => sqlx::query_scalar("SELECT CAST(SUM(amount) AS BIGINT) FROM refunds WHERE payment_id = $1")
            .bind(&r.id).fetch_one(&mut *c).await)?;
        let left = r.amount - given.unwrap_or(0);
        if input.amount <= 0 || input.amount > left {
            return Err(invalid(
                "amount",
                format!("Số tiền hoàn phải từ 1 đến {left} đồng"),
                format!("The refund must be between 1 and {left} đồng"),
            ));
        }
        let done = r.provider != Provider::Vnpay.as_str();
        let refund = uuid::Uuid::now_v7().to_string();
        on_tx!(w.tx()?, c => sqlx::query(
            "INSERT INTO refunds (id, payment_id, amount, reason, status, created_by, created_at, done_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ).bind(&refund).bind(&r.id).bind(input.amount).bind(&reason).bind(if done { "done" } else { "requested" })
        .bind(&p.id).bind(now).bind(done.then_some(now)).execute(&mut *c).await.map(|_| ()))?;
        w.audit_later(now, &entry(&p.id, "payment.refund", &subject(&r.id), json!({"refund": refund, "amount": input.amount, "reason": reason, "dossier": r.dossier_code})));
        w.commit().await?;
        self.get(id, p).await
    }

    /// Imports a gateway's statement of `day` for `agency` and matches it.
    pub async fn import_statement(
        &self,
        agency: &str,
        p: &Principal,
        provider: &str,
        day: NaiveDate,
        csv: &[u8],
    ) -> Result<Statement> {
        self.allow(p, Action::ManagePayments, &Resource::Agency(agency))
            .await?;
        if !self.catalog.lookup().agencies.contains_key(agency) {
            return Err(PaymentError::NotFound(format!("cơ quan {agency}")));
        }
        let provider = Provider::parse(provider)
            .filter(|p| *p != Provider::Desk)
            .ok_or_else(|| {
                invalid(
                    "provider",
                    format!("Không có cổng thanh toán {provider}"),
                    format!("No gateway {provider}"),
                )
            })?;
        let lines = reconcile::parse(csv).map_err(|b| invalid("file", b.vi, b.en))?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.clock.now();
        let mut w = self.dossiers.committer().begin().await?;
        on_tx!(w.tx()?, c => sqlx::query(
            "INSERT INTO payment_statements (id, agency_code, provider, day, imported_by, imported_at, lines) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ).bind(&id).bind(agency).bind(provider.as_str()).bind(day).bind(&p.id).bind(now).bind(Json(&lines)).execute(&mut *c).await.map(|_| ()))?;
        w.audit_later(now, &entry(&p.id, "payment.statement_imported", &format!("agency/{agency}"), json!({"statement": id, "provider": provider.as_str(), "day": day, "lines": lines.len()})));
        w.commit().await?;
        self.statement(agency, &id, p).await
    }

    /// A statement and how it matches now.
    pub async fn statement(&self, agency: &str, id: &str, p: &Principal) -> Result<Statement> {
        self.allow(p, Action::ManagePayments, &Resource::Agency(agency))
            .await?;
        #[derive(sqlx::FromRow)]
        struct S {
            id: String,
            agency_code: String,
            provider: String,
            day: NaiveDate,
            imported_by: String,
            imported_at: DateTime<Utc>,
            lines: Json<Vec<reconcile::StatementLine>>,
        }
        let s: S = on_db!(&self.db, pool => sqlx::query_as("SELECT id, agency_code, provider, day, imported_by, imported_at, lines FROM payment_statements WHERE id = $1 AND agency_code = $2")
            .bind(id).bind(agency).fetch_optional(pool).await)?
            .ok_or_else(|| PaymentError::NotFound(format!("bảng kê {id}")))?;
        let (start, end) = day_bounds(s.day);
        let recorded = |rows: Vec<RecordedRow>| -> Vec<reconcile::Recorded> {
            rows.into_iter()
                .map(
                    |(txn_ref, dossier_code, amount, status, paid_at)| reconcile::Recorded {
                        txn_ref,
                        dossier_code,
                        amount,
                        status,
                        paid_at,
                    },
                )
                .collect()
        };
        let day_rows = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT txn_ref, dossier_code, amount, status, paid_at FROM payments WHERE agency_code = $1 AND provider = $2 AND paid_at >= $3 AND paid_at < $4 AND status IN ('paid', 'duplicate') ORDER BY paid_at"
        ).bind(&s.agency_code).bind(&s.provider).bind(start).bind(end).fetch_all(pool).await)?;
        let day = recorded(day_rows);
        let in_day: HashSet<&str> = day.iter().map(|r| r.txn_ref.as_str()).collect();
        let wanted: Vec<&str> = s
            .lines
            .0
            .iter()
            .map(|l| l.txn_ref.as_str())
            .filter(|r| !in_day.contains(r))
            .collect();
        let mut known = Vec::new();
        for chunk in wanted.chunks(400) {
            let marks = (0..chunk.len())
                .map(|i| format!("${}", i + 3))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT txn_ref, dossier_code, amount, status, paid_at FROM payments WHERE agency_code = $1 AND provider = $2 AND txn_ref IN ({marks})"
            );
            let rows: Vec<RecordedRow> = on_db!(&self.db, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(&s.agency_code).bind(&s.provider);
                for r in chunk {
                    q = q.bind(*r);
                }
                q.fetch_all(pool).await
            })?;
            known.extend(recorded(rows));
        }
        let result = reconcile::reconcile(&s.lines.0, &day, &known);
        Ok(Statement {
            lines: s.lines.0.len(),
            id: s.id,
            agency_code: s.agency_code,
            provider: s.provider,
            day: s.day,
            imported_by: s.imported_by,
            imported_at: s.imported_at,
            result,
        })
    }

    /// The statements of an agency, newest first: id, gateway, day, lines.
    pub async fn statements(
        &self,
        agency: &str,
        p: &Principal,
    ) -> Result<Vec<(String, String, NaiveDate, usize)>> {
        self.allow(p, Action::ManagePayments, &Resource::Agency(agency))
            .await?;
        let rows: Vec<(
            String,
            String,
            NaiveDate,
            Json<Vec<reconcile::StatementLine>>,
        )> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT id, provider, day, lines FROM payment_statements WHERE agency_code = $1 ORDER BY imported_at DESC LIMIT 50"
        ).bind(agency).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(id, pr, day, l)| (id, pr, day, l.0.len()))
            .collect())
    }

    /// An agency's payments, newest first (at most 200), for its accountant.
    pub async fn of_agency(&self, agency: &str, p: &Principal) -> Result<Vec<Payment>> {
        self.allow(p, Action::ManagePayments, &Resource::Agency(agency))
            .await?;
        let rows: Vec<Row> = on_db!(&self.db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM payments WHERE agency_code = $1 AND status <> 'pending' ORDER BY updated_at DESC LIMIT 200"))
            .bind(agency).fetch_all(pool).await)?;
        self.views(rows).await
    }

    /// Payment figures of an agency (its accountant and leaders) or of every agency (national
    /// operators), between two local dates inclusive.
    pub async fn summary(
        &self,
        agency: Option<&str>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        p: &Principal,
    ) -> Result<Summary> {
        let resource = match agency {
            Some(a) => Resource::Agency(a),
            None => Resource::Node,
        };
        self.allow(p, Action::ReadPaymentReports, &resource).await?;
        // Open ends stay within four-digit years, which both databases compare as times.
        let far = |y| NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or_default();
        let start = day_bounds(from.unwrap_or(far(2000))).0;
        let end = day_bounds(to.unwrap_or(far(9999))).1;
        let rows: Vec<(String, String, i64, i64)> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT status, provider, CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM payments \
             WHERE (CAST($1 AS TEXT) IS NULL OR agency_code = $1) AND created_at >= $2 AND created_at < $3 GROUP BY status, provider"
        ).bind(agency).bind(start).bind(end).fetch_all(pool).await)?;
        let refunded: Option<i64> = on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT CAST(SUM(f.amount) AS BIGINT) FROM refunds f JOIN payments p ON p.id = f.payment_id \
             WHERE (CAST($1 AS TEXT) IS NULL OR p.agency_code = $1) AND f.created_at >= $2 AND f.created_at < $3"
        ).bind(agency).bind(start).bind(end).fetch_one(pool).await)?;
        let mut s = Summary {
            from,
            to,
            agency_code: agency.map(str::to_string),
            refunded_amount: refunded.unwrap_or(0),
            ..Summary::default()
        };
        for (status, provider, n, sum) in rows {
            match status.as_str() {
                "paid" => {
                    s.paid_count += n;
                    s.paid_amount += sum;
                    *s.by_provider.entry(provider).or_default() += sum;
                }
                "duplicate" => s.duplicate_count += n,
                "exempt" => s.exempt_count += n,
                "pending" => s.pending_count += n,
                _ => s.failed_count += n,
            }
        }
        Ok(s)
    }

    /// Marks payments still waiting at a gateway well past their window (two minutes of
    /// grace for a confirmation on its way) as expired, each with its audit entry. A gateway's
    /// late success for one is still taken, as a late payment. Returns how many.
    pub async fn expire_overdue(&self) -> Result<usize> {
        let now = self.clock.now();
        let before = now
            - self
                .opts
                .window
                .min(Duration::minutes(2))
                .max(Duration::minutes(2));
        let due: Vec<(String, String)> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT id, dossier_code FROM payments WHERE status = 'pending' AND expires_at < $1 ORDER BY expires_at LIMIT 500"
        ).bind(before).fetch_all(pool).await)?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut w = self.dossiers.committer().begin().await?;
        let mut n = 0;
        for (id, dossier) in &due {
            let changed = on_tx!(w.tx()?, c => sqlx::query("UPDATE payments SET status = 'expired', updated_at = $1 WHERE id = $2 AND status = 'pending'")
                .bind(now).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
            if changed > 0 {
                n += 1;
                w.audit_later(
                    now,
                    &entry(
                        "system:payment",
                        "payment.expired",
                        &subject(id),
                        json!({"dossier": dossier}),
                    ),
                );
            }
        }
        w.commit().await?;
        Ok(n)
    }

    /// Runs [`Payments::expire_overdue`] every minute while the payment system is in use: it
    /// holds it weakly, so a node that stops releases it (and the catalogue's index) at once.
    pub async fn sweep(this: std::sync::Weak<Self>) {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            let Some(s) = this.upgrade() else { break };
            if on_db!(&s.db, pool => pool.is_closed()) {
                break;
            }
            match s.expire_overdue().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(payments = n, "payments past their window marked expired"),
                Err(e) => tracing::warn!(error = %e, "expiring overdue payments failed"),
            }
        }
    }

    /// The sandbox gateway's side of a payment the tester ended: sends the signed IPN to this
    /// node (as a gateway would, over HTTP, retrying a few times), and gives back the query
    /// the browser returns with.
    pub async fn sandbox_finish(
        &self,
        request: &BTreeMap<String, String>,
        outcome: gateway::Outcome,
        bank: &str,
    ) -> Result<String> {
        let m = self
            .merchants
            .get(&Provider::Sandbox)
            .ok_or_else(|| PaymentError::NoGateway("sandbox".into()))?;
        if !m.verify(request) {
            return Err(invalid(
                "vnp_SecureHash",
                "Yêu cầu thanh toán không hợp lệ (sai chữ ký)",
                "The payment request is not valid (bad signature)",
            ));
        }
        let now = self.clock.now();
        let gateway_txn = format!(
            "{}",
            10_000_000 + (uuid::Uuid::new_v4().as_u128() % 90_000_000)
        );
        let notice = m.notice_params(request, outcome, &gateway_txn, bank, now);
        let url = format!(
            "{}/api/v1/payments/ipn/sandbox",
            self.opts.ipn_base.trim_end_matches('/')
        );
        let mut delivered = false;
        for attempt in 0..3u64 {
            match self.http.get(&url).query(&notice).send().await {
                Ok(r) if r.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(r) => tracing::warn!(status = %r.status(), "sandbox IPN not taken"),
                Err(e) => tracing::warn!(error = %e, "sandbox IPN not delivered"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 * (attempt + 1))).await;
        }
        if !delivered {
            tracing::error!(txn_ref = ?request.get("vnp_TxnRef"), "sandbox IPN never delivered");
        }
        let return_url = request.get("vnp_ReturnUrl").cloned().unwrap_or_default();
        let query = notice
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let sep = if return_url.contains('?') { '&' } else { '?' };
        Ok(format!("{return_url}{sep}{query}"))
    }
}

/// A payment as reconciliation reads it: reference, dossier, amount, status, paid at.
type RecordedRow = (String, String, i64, String, Option<DateTime<Utc>>);

/// An IPN after its checks: refused (with what to log and answer), or ready to apply.
enum Screened {
    Refused {
        provider: String,
        txn_ref: Option<String>,
        verdict: String,
        answer: Answer,
    },
    Ready(Provider, Box<(gateway::Notice, Row)>),
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Whether fees may be paid while a dossier is in `s`.
fn payable(s: Status) -> bool {
    matches!(
        s,
        Status::Submitted
            | Status::SupplementRequested
            | Status::Received
            | Status::Processing
            | Status::Approved
    )
}

fn already_settled() -> PaymentError {
    conflict(
        "Phí, lệ phí của hồ sơ đã được thanh toán",
        "The dossier's fees are already paid",
    )
}

/// The dossier as its receiving agency's desk acts on it.
fn desk_of(d: &Dossier) -> Resource<'_> {
    Resource::Dossier {
        agency: &d.agency_code,
        applicant: d.applicant_account.as_deref(),
        on_behalf_of: d.on_behalf_of.as_deref(),
    }
}

fn entry<'a>(actor: &'a str, action: &'a str, subject: &'a str, data: Value) -> Entry<'a> {
    Entry {
        actor,
        action,
        subject,
        data,
    }
}

/// The audit subject of a payment.
fn subject(id: &str) -> String {
    format!("payment/{id}")
}

/// UTC bounds of a local day.
fn day_bounds(d: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    let from = kernel::clock::from_local(start);
    (from, from + Duration::days(1))
}

async fn settling_of(w: &mut Write, dossier_id: &str) -> Result<Option<String>> {
    Ok(
        on_tx!(w.tx()?, c => sqlx::query_scalar("SELECT id FROM payments WHERE dossier_id = $1 AND settles = $2")
        .bind(dossier_id).bind(true).fetch_optional(&mut *c).await)?,
    )
}

async fn set_status(w: &mut Write, id: &str, status: &str, now: DateTime<Utc>) -> Result<()> {
    on_tx!(w.tx()?, c => sqlx::query("UPDATE payments SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status).bind(now).bind(id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

async fn issue_receipt(
    w: &mut Write,
    payment: &str,
    agency: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let year = to_local(now).year();
    let n: i64 = on_tx!(w.tx()?, c => sqlx::query_scalar(
        "INSERT INTO receipt_counters (agency_code, year, last) VALUES ($1, $2, 1) \
         ON CONFLICT (agency_code, year) DO UPDATE SET last = receipt_counters.last + 1 RETURNING last"
    ).bind(agency).bind(year).fetch_one(&mut *c).await)?;
    on_tx!(w.tx()?, c => sqlx::query("INSERT INTO receipts (id, payment_id, agency_code, year, number, issued_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(uuid::Uuid::now_v7().to_string()).bind(payment).bind(agency).bind(year).bind(n).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

async fn log_in(
    w: &mut Write,
    provider: &str,
    txn_ref: Option<&str>,
    params: &BTreeMap<String, String>,
    verdict: &str,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<()> {
    // Keep what came, bounded: a message is a few hundred bytes; anything larger is cut.
    let kept: BTreeMap<String, String> = params
        .iter()
        .take(64)
        .map(|(k, v)| (k.chars().take(64).collect(), v.chars().take(512).collect()))
        .collect();
    on_tx!(w.tx()?, c => sqlx::query("INSERT INTO payment_messages (id, provider, txn_ref, received_at, params, verdict, answer) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(uuid::Uuid::now_v7().to_string()).bind(provider).bind(txn_ref.map(|t| t.chars().take(100).collect::<String>()))
        .bind(now).bind(Json(&kept)).bind(verdict).bind(answer.code()).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
