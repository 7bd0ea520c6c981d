//! Dossiers (hồ sơ): what an applicant files with an agency, from the form to the desk's check.
//!
//! A dossier starts as a draft (online) or is entered at the desk for a walk-in applicant. When
//! submitted it gets its code, `<agency code>-YYMMDD-NNNN`, drawn from a per-agency, per-day
//! counter in the same transaction, so codes have no gaps even under concurrency. The desk then
//! receives it (which fixes the appointment date from the working-day calendar), asks once for a
//! supplement, or refuses it with reasons. Every change is a row in `dossier_events` and an
//! entry in the audit chain, written in the same transaction; so is every time an official
//! opens a dossier.
//!
//! Access goes through [`identity::authorize`]; a dossier the caller may not read is answered
//! as not found, so that a code alone tells nothing.

pub mod api;
pub mod error;
pub mod form;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::types::Json;
use utoipa::ToSchema;

use catalog::Catalog;
use identity::{AccountKind, Action, Principal, Resource, Role};
use kernel::ProblemDetail;
use kernel::audit::{self, Entry, Tx};
use kernel::blob::BlobStore;
use kernel::calendar::Calendar;
use kernel::clock::{Clock, to_local};
use kernel::db::{Db, MigrationSet};
use kernel::{on_db, on_tx};

pub use error::DossierError;

/// The dossier system's migrations.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("./migrations/sqlite"),
    postgres: &sqlx::migrate!("./migrations/postgres"),
};

type Result<T, E = DossierError> = std::result::Result<T, E>;

/// Largest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// Documents a dossier may hold.
pub const MAX_DOCUMENTS: i64 = 50;
/// A dossier received at or after this local time counts from the next working day.
pub const DEFAULT_CUTOFF: (u32, u32) = (15, 0);

/// Where a dossier stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Being written by the applicant; no code yet.
    Draft,
    /// Filed, waiting for the desk's check.
    Submitted,
    /// The desk asked for more; the clock has not started.
    SupplementRequested,
    /// Received: the appointment date is set and the clock runs.
    Received,
    /// Refused at the desk, with reasons.
    Refused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Submitted => "submitted",
            Status::SupplementRequested => "supplement_requested",
            Status::Received => "received",
            Status::Refused => "refused",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Draft,
            Status::Submitted,
            Status::SupplementRequested,
            Status::Received,
            Status::Refused,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
    /// The status code local systems report to the national portal.
    pub fn national_code(self) -> Option<u8> {
        match self {
            Status::Draft => None,
            Status::Submitted => Some(1),
            Status::Received => Some(2),
            Status::Refused => Some(3),
            Status::SupplementRequested => Some(5),
        }
    }
    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (Status::Draft, true) => "Bản nháp",
            (Status::Submitted, true) => "Đã nộp, chờ tiếp nhận",
            (Status::SupplementRequested, true) => "Yêu cầu bổ sung",
            (Status::Received, true) => "Đã tiếp nhận",
            (Status::Refused, true) => "Từ chối tiếp nhận",
            (Status::Draft, false) => "Draft",
            (Status::Submitted, false) => "Submitted, awaiting the desk",
            (Status::SupplementRequested, false) => "Supplement requested",
            (Status::Received, false) => "Received",
            (Status::Refused, false) => "Refused",
        }
    }
}

/// How a dossier came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Online,
    Desk,
}

/// A walk-in applicant entered at the desk.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    pub name: String,
    #[serde(default)]
    pub cccd: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A new dossier.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDossier {
    /// Procedure code, e.g. `1.001193`.
    pub procedure: String,
    /// The agency to file with; may be left out when the procedure has one agency.
    #[serde(default)]
    pub agency: Option<String>,
    /// The application form's values, by field name.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub form: Map<String, Value>,
    /// Tax code of the business this is filed for (its own account, or a representative's).
    #[serde(default)]
    pub on_behalf_of: Option<String>,
    /// Submit at once (only when the procedure asks for no documents, or at the desk);
    /// otherwise a draft is kept.
    #[serde(default)]
    pub submit: bool,
    /// At the desk: the walk-in applicant.
    #[serde(default)]
    pub applicant: Option<Applicant>,
}

/// A document of a dossier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Document {
    pub id: String,
    /// Which required document it is (its name in the procedure), or another name.
    pub name: String,
    pub filename: String,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
}

/// One change in a dossier's history.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub comment: String,
    #[schema(value_type = Object)]
    pub data: Json<Value>,
}

/// A dossier as its applicant and its agency's officials see it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Dossier {
    pub id: String,
    /// `<agency>-YYMMDD-NNNN`, given on submission.
    pub code: Option<String>,
    pub procedure_code: String,
    pub procedure_version: i64,
    pub procedure_name: String,
    pub agency_code: String,
    pub applicant_name: String,
    pub applicant_cccd: Option<String>,
    pub on_behalf_of: Option<String>,
    pub channel: Channel,
    pub status: Status,
    /// The national portal's status code (1 submitted, 2 received, 3 refused, 5 supplement).
    pub national_status: Option<u8>,
    #[schema(value_type = Object)]
    pub form: Value,
    pub time_limit_days: i64,
    pub supplement_count: i64,
    /// What is missing (supplement request) or why it was refused.
    pub reasons: Vec<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
    /// The date the result is promised for.
    pub appointment_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub documents: Vec<Document>,
    pub events: Vec<Event>,
}

/// A dossier in a list.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DossierLine {
    pub id: String,
    pub code: Option<String>,
    pub procedure_code: String,
    pub agency_code: String,
    pub applicant_name: String,
    pub status: Status,
    pub submitted_at: Option<DateTime<Utc>>,
    pub appointment_date: Option<NaiveDate>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    code: Option<String>,
    procedure_code: String,
    procedure_version: i64,
    agency_code: String,
    applicant_id: Option<String>,
    applicant_name: String,
    applicant_cccd: Option<String>,
    on_behalf_of: Option<String>,
    channel: String,
    status: String,
    form: Json<Value>,
    time_limit_days: i64,
    supplement_count: i64,
    reasons: Json<Vec<String>>,
    submitted_at: Option<DateTime<Utc>>,
    received_at: Option<DateTime<Utc>>,
    appointment_date: Option<NaiveDate>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "id, code, procedure_code, procedure_version, agency_code, applicant_id, applicant_name, applicant_cccd, on_behalf_of, channel, status, form, time_limit_days, supplement_count, reasons, submitted_at, received_at, appointment_date, created_at, updated_at"
    };
}

impl Row {
    fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Draft)
    }
    fn resource(&self) -> Resource<'_> {
        Resource::Dossier {
            agency: &self.agency_code,
            applicant: self.applicant_id.as_deref(),
            on_behalf_of: self.on_behalf_of.as_deref(),
        }
    }
}

/// What can be done to a dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Applicant: file a draft (needs every required document).
    Submit,
    /// Desk: receive; issues the appointment date and starts the clock.
    Receive,
    /// Desk: ask for more (once), listing everything missing.
    RequestSupplement,
    /// Applicant: answer a supplement request.
    Supplement,
    /// Desk: refuse, with reasons.
    Refuse,
}

impl ActionKind {
    pub fn parse(s: &str) -> Option<ActionKind> {
        match s {
            "submit" => Some(ActionKind::Submit),
            "receive" => Some(ActionKind::Receive),
            "request_supplement" => Some(ActionKind::RequestSupplement),
            "supplement" => Some(ActionKind::Supplement),
            "refuse" => Some(ActionKind::Refuse),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Submit => "submit",
            ActionKind::Receive => "receive",
            ActionKind::RequestSupplement => "request_supplement",
            ActionKind::Supplement => "supplement",
            ActionKind::Refuse => "refuse",
        }
    }
    /// The authorization an action needs.
    fn needs(self) -> Action {
        match self {
            ActionKind::Submit | ActionKind::Supplement => Action::FileDossier,
            _ => Action::HandleDossier(Role::Reception),
        }
    }
}

/// An action's details.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    #[serde(default)]
    pub comment: String,
    /// For a supplement request or a refusal: each missing item or reason.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// Detects a document's type from its first bytes; only PDF, JPEG and PNG are accepted.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else {
        None
    }
}

/// The appointment date of a dossier received at `received` (local time): counted from the
/// next working day when it comes on a day off or at or after the cut-off.
pub fn appointment(
    cal: &Calendar,
    received: chrono::NaiveDateTime,
    cutoff: NaiveTime,
    days: u16,
) -> NaiveDate {
    let date = received.date();
    let start = if !cal.is_working_day(date) || received.time() >= cutoff {
        cal.next_working_day(date)
    } else {
        date
    };
    cal.add_working_days(start, days)
}

/// The dossier service.
pub struct Dossiers {
    db: Db,
    clock: Arc<dyn Clock>,
    catalog: Arc<Catalog>,
    identity: Arc<identity::Identity>,
    calendar: Arc<RwLock<Calendar>>,
    blobs: BlobStore,
    cutoff: NaiveTime,
}

impl std::fmt::Debug for Dossiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dossiers").finish_non_exhaustive()
    }
}

fn actor_of(p: &Principal) -> String {
    format!("account/{}", p.id)
}

fn invalid(at: &str, vi: impl Into<String>, en: impl Into<String>) -> DossierError {
    DossierError::Invalid(vec![ProblemDetail::new(at, vi, en)])
}

fn clean(s: &str, max: usize) -> Option<String> {
    let t = s.trim();
    (!t.is_empty() && t.chars().count() <= max && !t.chars().any(char::is_control))
        .then(|| t.to_string())
}

impl Dossiers {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        catalog: Arc<Catalog>,
        identity: Arc<identity::Identity>,
        calendar: Arc<RwLock<Calendar>>,
        blobs: BlobStore,
    ) -> Dossiers {
        Dossiers {
            db,
            clock,
            catalog,
            identity,
            calendar,
            blobs,
            cutoff: NaiveTime::from_hms_opt(DEFAULT_CUTOFF.0, DEFAULT_CUTOFF.1, 0)
                .unwrap_or(NaiveTime::MIN),
        }
    }

    /// Asks the rule book; a refusal is audited and answered as "not found".
    async fn allow(
        &self,
        p: &Principal,
        action: Action,
        r: &Resource<'_>,
        code: &str,
    ) -> Result<()> {
        let subject = identity::Subject::Account(p.clone());
        match identity::authorize(&subject, action, r) {
            identity::Decision::Allow => Ok(()),
            _ => {
                self.identity.record_denial(&p.id, action, r).await?;
                Err(DossierError::NotFound(code.to_string()))
            }
        }
    }

    /// Files a new dossier (a draft, or submitted). With an idempotency key, a repeat of the
    /// same request returns the dossier made the first time (and `false`).
    pub async fn create(
        &self,
        p: &Principal,
        new: &NewDossier,
        idempotency_key: Option<&str>,
    ) -> Result<(Dossier, bool)> {
        if let Some(k) = idempotency_key {
            if k.is_empty() || k.len() > 100 || !k.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(
                    "Idempotency-Key",
                    "Idempotency-Key cần 1 đến 100 ký tự ASCII in được",
                    "Idempotency-Key needs 1 to 100 printable ASCII characters",
                ));
            }
            if let Some(id) = self.idempotent(&p.id, k).await? {
                return Ok((self.load(&id, p, false).await?, false));
            }
        }
        let stored = match self.catalog.procedure(new.procedure.trim(), None).await {
            Ok(s) => s,
            Err(_) => {
                return Err(invalid(
                    "procedure",
                    format!("Không có thủ tục mã {}", new.procedure.trim()),
                    format!("No procedure has the code {}", new.procedure.trim()),
                ));
            }
        };
        let spec = &stored.spec;
        let agencies: Vec<String> = spec.agencies.iter().map(|a| a.to_string()).collect();
        let agency = match new.agency.as_deref().map(str::trim) {
            Some(a) if agencies.iter().any(|x| x == a) => a.to_string(),
            Some(a) => {
                return Err(invalid(
                    "agency",
                    format!("Thủ tục này không do cơ quan {a} giải quyết"),
                    format!("Agency {a} does not handle this procedure"),
                ));
            }
            None if agencies.len() == 1 => agencies[0].clone(),
            None => {
                return Err(invalid(
                    "agency",
                    format!("Hãy chọn cơ quan: {}", agencies.join(", ")),
                    format!("Choose the agency: {}", agencies.join(", ")),
                ));
            }
        };
        let desk = new.applicant.is_some();
        let mut problems = Vec::new();
        let (applicant_id, name, cccd, phone, email) = if let Some(a) = &new.applicant {
            let name = clean(&a.name, 100);
            if name.is_none() {
                problems.push(ProblemDetail::new(
                    "applicant.name",
                    "Cần họ tên người nộp (1 đến 100 ký tự)",
                    "The applicant's name is needed (1 to 100 characters)",
                ));
            }
            let cccd = match a.cccd.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                Some(c) => match kernel::ids::Cccd::parse(c) {
                    Ok(c) => Some(c.to_string()),
                    Err(e) => {
                        problems.push(ProblemDetail::new("applicant.cccd", e.vi, e.en));
                        None
                    }
                },
                None => None,
            };
            (
                None,
                name.unwrap_or_default(),
                cccd,
                a.phone.as_deref().and_then(|s| clean(s, 20)),
                a.email.as_deref().and_then(|s| clean(s, 254)),
            )
        } else {
            if !matches!(p.kind, AccountKind::Citizen | AccountKind::Business) {
                return Err(invalid(
                    "applicant",
                    "Cán bộ nộp hồ sơ tại quầy cần nhập thông tin người nộp",
                    "An official filing at the desk must give the applicant's details",
                ));
            }
            if spec.online == catalog::model::OnlineMode::None {
                return Err(invalid(
                    "procedure",
                    "Thủ tục này không nhận hồ sơ trực tuyến; vui lòng nộp tại bộ phận một cửa",
                    "This procedure is not filed online; please file it at the one-stop desk",
                ));
            }
            if let Some(level) = spec.requires_assurance
                && p.assurance < level
            {
                return Err(DossierError::Assurance { needed: level });
            }
            let row: Option<(Option<String>, Option<String>, Option<String>)> = on_db!(&self.db, c => sqlx::query_as(
                "SELECT cccd, phone, email FROM accounts WHERE id = $1"
            ).bind(&p.id).fetch_optional(c).await)?;
            let (cccd, phone, email) = row.unwrap_or_default();
            (Some(p.id.clone()), p.full_name.clone(), cccd, phone, email)
        };
        let on_behalf_of = match new
            .on_behalf_of
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(t) => match kernel::ids::TaxCode::parse(t) {
                Ok(t) => Some(t.to_string()),
                Err(e) => {
                    problems.push(ProblemDetail::new("on_behalf_of", e.vi, e.en));
                    None
                }
            },
            None if p.kind == AccountKind::Business && !desk => Some(p.login.clone()),
            None => None,
        };
        let form = match form::check(&spec.form, &new.form) {
            Ok(f) => f,
            Err(list) => {
                problems.extend(list);
                Map::new()
            }
        };
        if !problems.is_empty() {
            return Err(DossierError::Invalid(problems));
        }
        let resource = Resource::Dossier {
            agency: &agency,
            applicant: applicant_id.as_deref(),
            on_behalf_of: on_behalf_of.as_deref(),
        };
        self.allow(p, Action::FileDossier, &resource, &new.procedure)
            .await?;
        let submit = new.submit || desk;
        if submit && !desk && spec.documents.iter().any(|_| true) {
            return Err(invalid(
                "submit",
                "Thủ tục cần giấy tờ: hãy lưu nháp, tải giấy tờ lên rồi nộp",
                "The procedure needs documents: save a draft, upload them, then submit",
            ));
        }
        let now = self.clock.now();
        let id = uuid::Uuid::now_v7().to_string();
        let mut tx = Tx::begin(&self.db).await?;
        let status = if submit {
            Status::Submitted
        } else {
            Status::Draft
        };
        let code = if submit {
            Some(next_code(&mut tx, &agency, now).await?)
        } else {
            None
        };
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO dossiers (id, code, procedure_code, procedure_version, agency_code, applicant_id, applicant_name, applicant_cccd, applicant_phone, applicant_email, on_behalf_of, channel, status, form, time_limit_days, reasons, submitted_at, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19)"
        ).bind(&id).bind(&code).bind(&spec.code).bind(stored.version).bind(&agency).bind(&applicant_id)
        .bind(&name).bind(&cccd).bind(&phone).bind(&email).bind(&on_behalf_of)
        .bind(if desk { "desk" } else { "online" }).bind(status.as_str()).bind(Json(Value::Object(form)))
        .bind(i64::from(spec.time_limit_days)).bind(Json(Vec::<String>::new()))
        .bind(submit.then_some(now)).bind(actor_of(p)).bind(now)
        .execute(c).await.map(|_| ()))?;
        if let Some(k) = idempotency_key {
            let inserted = on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO dossier_idempotency (account_id, key, dossier_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, key) DO NOTHING"
            ).bind(&p.id).bind(k).bind(&id).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
            if inserted == 0 {
                // The same request won a race: drop this one, answer with the first.
                drop(tx);
                if let Some(first) = self.idempotent(&p.id, k).await? {
                    return Ok((self.load(&first, p, false).await?, false));
                }
                return Err(DossierError::Conflict);
            }
        }
        event(
            &mut tx,
            &id,
            now,
            &actor_of(p),
            if submit { "submit" } else { "create" },
            Status::Draft,
            status,
            "",
            json!({ "code": code, "channel": if desk { "desk" } else { "online" } }),
        )
        .await?;
        tx.commit().await?;
        Ok((self.load(&id, p, false).await?, true))
    }

    async fn idempotent(&self, account: &str, key: &str) -> Result<Option<String>> {
        Ok(on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT dossier_id FROM dossier_idempotency WHERE account_id = $1 AND key = $2"
        ).bind(account).bind(key).fetch_optional(c).await)?)
    }

    async fn row(&self, reference: &str) -> Result<Option<Row>> {
        if reference.is_empty() || reference.len() > 64 {
            return Ok(None);
        }
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM dossiers WHERE id = $1 OR code = $1"
        );
        Ok(on_db!(&self.db, c => sqlx::query_as(SQL).bind(reference).fetch_optional(c).await)?)
    }

    /// A dossier by id or code, if `p` may read it. An official's reading is audited.
    pub async fn get(&self, reference: &str, p: &Principal) -> Result<Dossier> {
        self.load(reference, p, true).await
    }

    async fn load(&self, reference: &str, p: &Principal, audit_read: bool) -> Result<Dossier> {
        let row = self
            .row(reference)
            .await?
            .ok_or_else(|| DossierError::NotFound(reference.to_string()))?;
        self.allow(p, Action::ReadDossier, &row.resource(), reference)
            .await?;
        let applicant = p.is_applicant(row.applicant_id.as_deref(), row.on_behalf_of.as_deref());
        if audit_read && !applicant {
            let now = self.clock.now();
            let mut tx = Tx::begin(&self.db).await?;
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: &actor_of(p),
                    action: "dossier.read",
                    subject: &format!("dossier/{}", row.id),
                    data: json!({ "code": row.code }),
                },
            )
            .await?;
            tx.commit().await?;
        }
        self.view(row).await
    }

    async fn view(&self, row: Row) -> Result<Dossier> {
        let documents: Vec<Document> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, name, filename, media_type, size, sha256, uploaded_at FROM dossier_documents WHERE dossier_id = $1 ORDER BY uploaded_at, id"
        ).bind(&row.id).fetch_all(c).await)?;
        let events: Vec<Event> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT at, actor, action, from_status, to_status, comment, data FROM dossier_events WHERE dossier_id = $1 ORDER BY at, id"
        ).bind(&row.id).fetch_all(c).await)?;
        let name = self
            .catalog
            .procedure(&row.procedure_code, Some(row.procedure_version))
            .await
            .map(|s| s.spec.name)
            .unwrap_or_default();
        let status = row.status();
        Ok(Dossier {
            id: row.id,
            code: row.code,
            procedure_code: row.procedure_code,
            procedure_version: row.procedure_version,
            procedure_name: name,
            agency_code: row.agency_code,
            applicant_name: row.applicant_name,
            applicant_cccd: row.applicant_cccd,
            on_behalf_of: row.on_behalf_of,
            channel: if row.channel == "desk" {
                Channel::Desk
            } else {
                Channel::Online
            },
            status,
            national_status: status.national_code(),
            form: row.form.0,
            time_limit_days: row.time_limit_days,
            supplement_count: row.supplement_count,
            reasons: row.reasons.0,
            submitted_at: row.submitted_at,
            received_at: row.received_at,
            appointment_date: row.appointment_date,
            created_at: row.created_at,
            updated_at: row.updated_at,
            documents,
            events,
        })
    }

    /// The caller's dossiers (an applicant), or those of the agencies where the caller holds
    /// a role (an official), newest first.
    pub async fn list(
        &self,
        p: &Principal,
        status: Option<Status>,
        limit: i64,
    ) -> Result<Vec<DossierLine>> {
        let limit = limit.clamp(1, 500);
        let agencies: Vec<String> = p
            .grants
            .iter()
            .filter(|g| !g.role.is_national())
            .filter_map(|g| g.agency.clone())
            .collect();
        const MINE: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM dossiers WHERE (applicant_id = $1 OR on_behalf_of = $2) AND ($3 = '' OR status = $3) ORDER BY created_at DESC LIMIT $4"
        );
        const FOR: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM dossiers WHERE on_behalf_of = $1 AND ($2 = '' OR status = $2) ORDER BY created_at DESC LIMIT $3"
        );
        const AGENCY: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM dossiers WHERE agency_code = $1 AND status <> 'draft' AND ($2 = '' OR status = $2) ORDER BY created_at DESC LIMIT $3"
        );
        let business = if p.kind == AccountKind::Business {
            p.login.clone()
        } else {
            String::new()
        };
        let st = status.map(Status::as_str).unwrap_or("");
        let mut rows: Vec<Row> = on_db!(&self.db, c => sqlx::query_as(MINE).bind(&p.id).bind(&business).bind(st).bind(limit).fetch_all(c).await)?;
        for tax in &p.represents {
            let more: Vec<Row> = on_db!(&self.db, c => sqlx::query_as(FOR).bind(tax).bind(st).bind(limit).fetch_all(c).await)?;
            rows.extend(more);
        }
        for a in &agencies {
            let more: Vec<Row> = on_db!(&self.db, c => sqlx::query_as(AGENCY).bind(a).bind(st).bind(limit).fetch_all(c).await)?;
            rows.extend(more);
        }
        rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        rows.dedup_by(|a, b| a.id == b.id);
        rows.truncate(usize::try_from(limit).unwrap_or(500));
        Ok(rows
            .into_iter()
            .map(|r| DossierLine {
                status: r.status(),
                id: r.id,
                code: r.code,
                procedure_code: r.procedure_code,
                agency_code: r.agency_code,
                applicant_name: r.applicant_name,
                submitted_at: r.submitted_at,
                appointment_date: r.appointment_date,
            })
            .collect())
    }

    /// Adds a document: while a draft or asked for a supplement (applicant), or at the desk.
    pub async fn upload(
        &self,
        reference: &str,
        p: &Principal,
        name: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<Document> {
        let row = self
            .row(reference)
            .await?
            .ok_or_else(|| DossierError::NotFound(reference.to_string()))?;
        self.allow(p, Action::ReadDossier, &row.resource(), reference)
            .await?;
        let applicant = p.is_applicant(row.applicant_id.as_deref(), row.on_behalf_of.as_deref());
        let status = row.status();
        let allowed = if applicant {
            matches!(status, Status::Draft | Status::SupplementRequested)
        } else {
            self.allow(
                p,
                Action::HandleDossier(Role::Reception),
                &row.resource(),
                reference,
            )
            .await?;
            matches!(status, Status::Submitted | Status::Received)
        };
        if !allowed {
            return Err(DossierError::WrongState {
                status,
                action: "upload",
            });
        }
        let mut problems = Vec::new();
        let name = clean(name, 200);
        if name.is_none() {
            problems.push(ProblemDetail::new(
                "name",
                "Cần tên giấy tờ (1 đến 200 ký tự)",
                "The document's name is needed (1 to 200 characters)",
            ));
        }
        let filename = clean(filename, 200).unwrap_or_else(|| "tai-lieu".to_string());
        if bytes.is_empty() {
            problems.push(ProblemDetail::new("file", "Tệp rỗng", "The file is empty"));
        } else if bytes.len() > MAX_DOCUMENT_BYTES {
            problems.push(ProblemDetail::new(
                "file",
                format!("Tệp lớn quá {} MiB", MAX_DOCUMENT_BYTES / 1024 / 1024),
                format!(
                    "The file is larger than {} MiB",
                    MAX_DOCUMENT_BYTES / 1024 / 1024
                ),
            ));
        }
        let media_type = sniff(bytes);
        if !bytes.is_empty() && media_type.is_none() {
            problems.push(ProblemDetail::new(
                "file",
                "Chỉ nhận tệp PDF, JPEG hoặc PNG (kiểm tra theo nội dung tệp, không theo tên)",
                "Only PDF, JPEG or PNG files are accepted (checked from the content, not the name)",
            ));
        }
        if !problems.is_empty() {
            return Err(DossierError::Invalid(problems));
        }
        let count: i64 = on_db!(&self.db, c => sqlx::query_scalar("SELECT COUNT(*) FROM dossier_documents WHERE dossier_id = $1")
            .bind(&row.id).fetch_one(c).await)?;
        if count >= MAX_DOCUMENTS {
            return Err(invalid(
                "file",
                format!("Hồ sơ có tối đa {MAX_DOCUMENTS} tệp"),
                format!("A dossier holds at most {MAX_DOCUMENTS} files"),
            ));
        }
        let blobs = self.blobs.clone();
        let data = bytes.to_vec();
        let blob = tokio::task::spawn_blocking(move || blobs.put(&data))
            .await
            .map_err(|e| DossierError::Storage(e.to_string()))?
            .map_err(|e| DossierError::Storage(e.to_string()))?;
        let doc = Document {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.unwrap_or_default(),
            filename,
            media_type: media_type.unwrap_or("application/octet-stream").to_string(),
            size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            sha256: blob.as_str().to_string(),
            uploaded_at: self.clock.now(),
        };
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO dossier_documents (id, dossier_id, name, filename, media_type, size, sha256, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ).bind(&doc.id).bind(&row.id).bind(&doc.name).bind(&doc.filename).bind(&doc.media_type).bind(doc.size)
        .bind(&doc.sha256).bind(actor_of(p)).bind(doc.uploaded_at).execute(c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            doc.uploaded_at,
            &Entry {
                actor: &actor_of(p),
                action: "dossier.document.add",
                subject: &format!("dossier/{}", row.id),
                data: json!({ "document": doc.id, "name": doc.name, "sha256": doc.sha256, "size": doc.size }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(doc)
    }

    /// A document's bytes, for someone who may read the dossier.
    pub async fn document(
        &self,
        reference: &str,
        doc_id: &str,
        p: &Principal,
    ) -> Result<(Document, Vec<u8>)> {
        let row = self
            .row(reference)
            .await?
            .ok_or_else(|| DossierError::NotFound(reference.to_string()))?;
        self.allow(p, Action::ReadDossier, &row.resource(), reference)
            .await?;
        let doc: Option<Document> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, name, filename, media_type, size, sha256, uploaded_at FROM dossier_documents WHERE dossier_id = $1 AND id = $2"
        ).bind(&row.id).bind(doc_id).fetch_optional(c).await)?;
        let doc = doc.ok_or_else(|| DossierError::NotFound(doc_id.to_string()))?;
        let id = kernel::blob::BlobId::parse(&doc.sha256)
            .map_err(|e| DossierError::Storage(e.to_string()))?;
        let blobs = self.blobs.clone();
        let bytes = tokio::task::spawn_blocking(move || blobs.get(&id))
            .await
            .map_err(|e| DossierError::Storage(e.to_string()))?
            .map_err(|e| DossierError::Storage(e.to_string()))?;
        if !p.is_applicant(row.applicant_id.as_deref(), row.on_behalf_of.as_deref()) {
            let mut tx = Tx::begin(&self.db).await?;
            audit::append(
                &mut tx,
                self.clock.now(),
                &Entry {
                    actor: &actor_of(p),
                    action: "dossier.document.read",
                    subject: &format!("dossier/{}", row.id),
                    data: json!({ "document": doc.id }),
                },
            )
            .await?;
            tx.commit().await?;
        }
        Ok((doc, bytes))
    }

    /// Carries out an action.
    pub async fn act(
        &self,
        reference: &str,
        p: &Principal,
        action: ActionKind,
        input: &ActionInput,
    ) -> Result<Dossier> {
        let row = self
            .row(reference)
            .await?
            .ok_or_else(|| DossierError::NotFound(reference.to_string()))?;
        self.allow(p, Action::ReadDossier, &row.resource(), reference)
            .await?;
        let needs = action.needs();
        let (agency, applicant, behalf) = (
            row.agency_code.clone(),
            row.applicant_id.clone(),
            row.on_behalf_of.clone(),
        );
        let resource = Resource::Dossier {
            agency: &agency,
            applicant: applicant.as_deref(),
            on_behalf_of: behalf.as_deref(),
        };
        let subject = identity::Subject::Account(p.clone());
        if identity::authorize(&subject, needs, &resource) != identity::Decision::Allow {
            self.identity.record_denial(&p.id, needs, &resource).await?;
            return Err(DossierError::Forbidden);
        }
        // The applicant's own actions are theirs alone, not the desk's.
        if matches!(action, ActionKind::Submit | ActionKind::Supplement)
            && !p.is_applicant(row.applicant_id.as_deref(), row.on_behalf_of.as_deref())
        {
            return Err(DossierError::Forbidden);
        }
        let from = row.status();
        let reasons: Vec<String> = input.reasons.iter().filter_map(|r| clean(r, 500)).collect();
        let comment = input.comment.trim().chars().take(2000).collect::<String>();
        let wrong = || DossierError::WrongState {
            status: from,
            action: action.as_str(),
        };
        let now = self.clock.now();
        let to = match (action, from) {
            (ActionKind::Submit, Status::Draft) => Status::Submitted,
            (ActionKind::Submit, Status::Submitted) => {
                // Submitting again is answered with the dossier as it is.
                return self.view(row).await;
            }
            (ActionKind::Supplement, Status::SupplementRequested) => Status::Submitted,
            (ActionKind::Receive, Status::Submitted) => Status::Received,
            (ActionKind::RequestSupplement, Status::Submitted) => {
                if row.supplement_count >= 1 {
                    return Err(invalid(
                        "action",
                        "Chỉ được yêu cầu bổ sung một lần",
                        "A supplement may be requested only once",
                    ));
                }
                Status::SupplementRequested
            }
            (ActionKind::Refuse, Status::Submitted) => Status::Refused,
            _ => return Err(wrong()),
        };
        if matches!(action, ActionKind::RequestSupplement | ActionKind::Refuse)
            && reasons.is_empty()
        {
            return Err(invalid(
                "reasons",
                "Hãy liệt kê từng điểm cần bổ sung hoặc lý do",
                "List each missing item or reason",
            ));
        }
        if action == ActionKind::Submit {
            let spec = self
                .catalog
                .procedure(&row.procedure_code, Some(row.procedure_version))
                .await
                .map_err(|e| DossierError::Storage(e.to_string()))?
                .spec;
            let have: Vec<String> = on_db!(&self.db, c => sqlx::query_scalar("SELECT name FROM dossier_documents WHERE dossier_id = $1")
                .bind(&row.id).fetch_all(c).await)?;
            let missing: Vec<ProblemDetail> = spec
                .documents
                .iter()
                .filter(|d| !have.iter().any(|h| h == &d.name))
                .map(|d| {
                    ProblemDetail::new(
                        "documents",
                        format!("Thiếu: {}", d.name),
                        format!("Missing: {}", d.name),
                    )
                })
                .collect();
            if !missing.is_empty() {
                return Err(DossierError::Invalid(missing));
            }
        }
        let mut tx = Tx::begin(&self.db).await?;
        let mut data = json!({});
        match to {
            Status::Submitted if row.code.is_none() => {
                let code = next_code(&mut tx, &row.agency_code, now).await?;
                data = json!({ "code": code });
                on_tx!(&mut tx, c => sqlx::query("UPDATE dossiers SET code = $1, submitted_at = $2 WHERE id = $3")
                    .bind(&code).bind(now).bind(&row.id).execute(c).await.map(|_| ()))?;
            }
            Status::Received => {
                let days = u16::try_from(row.time_limit_days).unwrap_or(u16::MAX);
                let date = {
                    let cal = self
                        .calendar
                        .read()
                        .map_err(|_| DossierError::Storage("calendar lock".into()))?;
                    appointment(&cal, to_local(now), self.cutoff, days)
                };
                data = json!({ "appointment_date": date });
                on_tx!(&mut tx, c => sqlx::query("UPDATE dossiers SET received_at = $1, appointment_date = $2 WHERE id = $3")
                    .bind(now).bind(date).bind(&row.id).execute(c).await.map(|_| ()))?;
            }
            Status::SupplementRequested | Status::Refused => {
                data = json!({ "reasons": reasons });
                on_tx!(&mut tx, c => sqlx::query("UPDATE dossiers SET reasons = $1, supplement_count = supplement_count + $2 WHERE id = $3")
                    .bind(Json(&reasons)).bind(i64::from(to == Status::SupplementRequested)).bind(&row.id).execute(c).await.map(|_| ()))?;
            }
            _ => {}
        }
        // Only one action wins on a dossier: the state must still be the one read.
        let n = on_tx!(&mut tx, c => sqlx::query("UPDATE dossiers SET status = $1, updated_at = $2, revision = revision + 1 WHERE id = $3 AND status = $4")
            .bind(to.as_str()).bind(now).bind(&row.id).bind(from.as_str()).execute(c).await.map(|r| r.rows_affected()))?;
        if n != 1 {
            return Err(DossierError::Conflict);
        }
        event(
            &mut tx,
            &row.id,
            now,
            &actor_of(p),
            action.as_str(),
            from,
            to,
            &comment,
            data,
        )
        .await?;
        tx.commit().await?;
        self.load(&row.id, p, false).await
    }
}

/// The next dossier code of an agency for the local day of `now`, in the caller's transaction.
async fn next_code(tx: &mut Tx<'_>, agency: &str, now: DateTime<Utc>) -> Result<String> {
    let local = to_local(now);
    let day = format!(
        "{:02}{:02}{:02}",
        local.year() % 100,
        local.month(),
        local.day()
    );
    let n: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO dossier_counters (agency_code, day, last) VALUES ($1, $2, 1) \
         ON CONFLICT (agency_code, day) DO UPDATE SET last = dossier_counters.last + 1 RETURNING last"
    ).bind(agency).bind(&day).fetch_one(c).await)?;
    Ok(format!("{agency}-{day}-{n:04}"))
}

#[allow(clippy::too_many_arguments)]
async fn event(
    tx: &mut Tx<'_>,
    dossier: &str,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    from: Status,
    to: Status,
    comment: &str,
    data: Value,
) -> Result<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO dossier_events (id, dossier_id, at, actor, action, from_status, to_status, comment, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ).bind(uuid::Uuid::now_v7().to_string()).bind(dossier).bind(at).bind(actor).bind(action)
    .bind(from.as_str()).bind(to.as_str()).bind(comment).bind(Json(&data)).execute(c).await.map(|_| ()))?;
    audit::append(
        tx,
        at,
        &Entry {
            actor,
            action: &format!("dossier.{action}"),
            subject: &format!("dossier/{dossier}"),
            data: json!({ "from": from.as_str(), "to": to.as_str(), "detail": data }),
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default()
    }

    #[test]
    fn the_clock_starts_next_working_day_after_the_cutoff_or_on_a_day_off() {
        let cal = Calendar::shipped().unwrap_or_else(|_| Calendar::weekdays_only());
        let cutoff = NaiveTime::from_hms_opt(15, 0, 0).unwrap_or(NaiveTime::MIN);
        // Monday 2 March 2026, morning: 5 working days → Monday 9 March.
        assert_eq!(
            appointment(&cal, at("2026-03-02 09:00"), cutoff, 5),
            NaiveDate::from_ymd_opt(2026, 3, 9).unwrap_or_default()
        );
        // The same day at 15:00: counted from Tuesday → Tuesday 10 March.
        assert_eq!(
            appointment(&cal, at("2026-03-02 15:00"), cutoff, 5),
            NaiveDate::from_ymd_opt(2026, 3, 10).unwrap_or_default()
        );
        // Saturday: from Monday.
        assert_eq!(
            appointment(&cal, at("2026-03-07 10:00"), cutoff, 1),
            NaiveDate::from_ymd_opt(2026, 3, 10).unwrap_or_default()
        );
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(
            sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Some("image/png")
        );
        assert_eq!(sniff(b"MZ\x90\x00 an exe named scan.pdf"), None);
    }
}
