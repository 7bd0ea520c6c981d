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
mod bulk;
pub mod demo;
pub mod error;
pub(crate) mod figures;
pub mod form;
pub mod history;
pub mod outbox;
pub mod pages;
pub mod rules;
pub mod signing;
pub mod slips;
pub mod workflow;

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
use kernel::batch::Committer;
use kernel::blob::BlobStore;
use kernel::calendar::Calendar;
use kernel::clock::{Clock, to_local};
use kernel::db::{Db, MigrationSet};
use kernel::{on_db, on_tx};

pub use error::DossierError;
pub use workflow::{Step, Workflow};

/// The dossier system's migrations.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("./migrations/sqlite"),
    postgres: &sqlx::migrate!("./migrations/postgres"),
};

type Result<T, E = DossierError> = std::result::Result<T, E>;

/// Largest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// The most dossiers one bulk action takes.
pub const BULK_MAX: usize = 100;
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
    /// Moving through the agency's steps.
    Processing,
    /// Approved: the result waits to be returned.
    Approved,
    /// Rejected with reasons: the answer waits to be returned.
    Rejected,
    /// The result (or the rejection) was handed back.
    Returned,
    /// Handling stopped by a notice, with reasons.
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Submitted => "submitted",
            Status::SupplementRequested => "supplement_requested",
            Status::Received => "received",
            Status::Refused => "refused",
            Status::Processing => "processing",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Returned => "returned",
            Status::Stopped => "stopped",
        }
    }
    /// Every status, in the order of the lifecycle.
    pub const ALL: [Status; 10] = [
        Status::Draft,
        Status::Submitted,
        Status::SupplementRequested,
        Status::Received,
        Status::Refused,
        Status::Processing,
        Status::Approved,
        Status::Rejected,
        Status::Returned,
        Status::Stopped,
    ];
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
    /// The status code local systems report to the national portal.
    pub fn national_code(self) -> Option<u8> {
        match self {
            Status::Draft => None,
            Status::Submitted => Some(1),
            Status::Received => Some(2),
            Status::Refused => Some(3),
            Status::SupplementRequested => Some(5),
            Status::Processing => Some(4),
            Status::Approved | Status::Rejected => Some(9),
            Status::Returned => Some(10),
            Status::Stopped => Some(8),
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
            (Status::Processing, true) => "Đang xử lý",
            (Status::Approved, true) => "Đã có kết quả, chờ trả",
            (Status::Rejected, true) => "Không giải quyết, chờ trả",
            (Status::Returned, true) => "Đã trả kết quả",
            (Status::Processing, false) => "Being processed",
            (Status::Approved, false) => "Result ready to return",
            (Status::Rejected, false) => "Rejected, answer ready to return",
            (Status::Returned, false) => "Result returned",
            (Status::Stopped, true) => "Dừng xử lý",
            (Status::Stopped, false) => "Handling stopped",
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
    /// The applicant's account (none for a walk-in applicant); not shown.
    #[serde(skip)]
    pub applicant_account: Option<String>,
    /// The workflow it follows once received; not shown.
    #[serde(skip)]
    pub workflow: Option<Workflow>,
    /// `<agency>-YYMMDD-NNNN`, given on submission.
    pub code: Option<String>,
    pub procedure_code: String,
    pub procedure_version: i64,
    pub procedure_name: String,
    /// The agency that received it: it keeps the code and returns the result.
    pub agency_code: String,
    /// The agency it was transferred to (liên thông), while that one handles it.
    pub handler_agency: Option<String>,
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
    /// The step it is at, and who acts there.
    pub step: Option<Step>,
    /// When the current step's time runs out.
    pub step_due_at: Option<DateTime<Utc>>,
    /// Set while the applicant is supplementing during processing (the clock is stopped).
    pub paused_at: Option<DateTime<Utc>>,
    pub returned_at: Option<DateTime<Utc>>,
    /// `desk`, `post` or `online`.
    pub return_method: Option<String>,
    /// `early`, `on_time` or `late`, decided at return.
    pub outcome: Option<String>,
    /// The appointment date before an apology moved it.
    pub extended_from: Option<NaiveDate>,
    /// The applicant's rating, once given.
    pub rating: Option<String>,
    /// The version of the one-stop rules it was received under (`rules::RuleSet::id`).
    pub rules: Option<String>,
    /// The signed result, once the deciding step approved.
    pub result: Option<signing::SignedResult>,
    /// Fees paid through the system: when they are due and when they were settled; none
    /// when the procedure collects none here.
    pub fee: Option<FeeState>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub documents: Vec<Document>,
    pub events: Vec<Event>,
}

/// When a dossier's fees are due.
pub use catalog::model::FeeDue as FeeStage;

/// A procedure version's name, and when its fees are paid through the system.
type ProcedureFacts = (String, Option<FeeStage>);

/// How a dossier's fees were settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Paid through an online gateway: the amount.
    Online(i64),
    /// Paid at the desk: the amount.
    Desk(i64),
    /// Nothing to pay (a waiver, or fees of nothing).
    Waived,
}

/// A dossier's fees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FeeState {
    /// `submission` (the desk receives it once paid) or `result` (paid before the result is
    /// handed over).
    #[schema(value_type = String)]
    pub stage: FeeStage,
    /// When they were paid, or waived for a beneficiary.
    pub settled_at: Option<DateTime<Utc>>,
}

/// What public tracking shows: progress, never the form or the documents.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Tracking {
    pub code: String,
    pub procedure_name: String,
    pub agency_code: String,
    pub status: Status,
    pub status_vi: String,
    pub status_en: String,
    pub national_status: Option<u8>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
    pub appointment_date: Option<NaiveDate>,
    /// The name of the step it is at.
    pub step: Option<String>,
    /// What is missing, or why it was refused or rejected.
    pub reasons: Vec<String>,
    pub returned_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
}

/// A dossier in a list.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DossierLine {
    pub id: String,
    pub code: Option<String>,
    pub procedure_code: String,
    pub agency_code: String,
    /// The agency it was transferred to, while that one handles it.
    pub handler_agency: Option<String>,
    pub applicant_name: String,
    pub status: Status,
    pub submitted_at: Option<DateTime<Utc>>,
    pub appointment_date: Option<NaiveDate>,
    /// When the current step's time runs out.
    pub step_due_at: Option<DateTime<Utc>>,
    /// When its fees, paid through the system and not settled yet, are due.
    #[schema(value_type = Option<String>)]
    pub fee_unpaid: Option<FeeStage>,
}

#[derive(Clone, sqlx::FromRow)]
struct Row {
    id: String,
    code: Option<String>,
    procedure_code: String,
    procedure_version: i64,
    agency_code: String,
    applicant_id: Option<String>,
    applicant_name: String,
    applicant_cccd: Option<String>,
    applicant_phone: Option<String>,
    applicant_email: Option<String>,
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
    workflow: Option<Json<Workflow>>,
    step: Option<String>,
    step_due_at: Option<DateTime<Utc>>,
    paused_at: Option<DateTime<Utc>>,
    returned_at: Option<DateTime<Utc>>,
    return_method: Option<String>,
    outcome: Option<String>,
    revision: i64,
    extended_from: Option<NaiveDate>,
    rating: Option<String>,
    rule_set: Option<String>,
    handler_agency: Option<String>,
    fee_settled_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    fee_online: Option<i64>,
    fee_desk: Option<i64>,
    rated_at: Option<DateTime<Utc>>,
}

/// What public tracking reads of a dossier.
#[derive(sqlx::FromRow)]
struct TrackRow {
    procedure_code: String,
    procedure_version: i64,
    agency_code: String,
    status: String,
    submitted_at: Option<DateTime<Utc>>,
    received_at: Option<DateTime<Utc>>,
    appointment_date: Option<NaiveDate>,
    workflow: Option<Json<StepNames>>,
    step: Option<String>,
    reasons: Json<Vec<String>>,
    returned_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    applicant_phone: Option<String>,
    applicant_cccd: Option<String>,
}

/// A workflow's steps, by id and name only.
#[derive(Deserialize)]
struct StepNames {
    steps: Vec<StepName>,
}

#[derive(Deserialize)]
struct StepName {
    id: String,
    name: String,
}

macro_rules! columns {
    () => {
        "id, code, procedure_code, procedure_version, agency_code, applicant_id, applicant_name, applicant_cccd, applicant_phone, applicant_email, on_behalf_of, channel, status, form, time_limit_days, supplement_count, reasons, submitted_at, received_at, appointment_date, created_at, updated_at, workflow, step, step_due_at, paused_at, returned_at, return_method, outcome, revision, extended_from, rating, rule_set, handler_agency, fee_settled_at, closed_at, fee_online, fee_desk, rated_at"
    };
}

mod acts;
use acts::Col;

impl Row {
    /// What the figures count of it.
    fn facts(&self) -> figures::FactRow {
        figures::FactRow {
            agency_code: self.agency_code.clone(),
            procedure_code: self.procedure_code.clone(),
            channel: self.channel.clone(),
            status: self.status.clone(),
            received_at: self.received_at,
            appointment_date: self.appointment_date,
            returned_at: self.returned_at,
            outcome: self.outcome.clone(),
            closed_at: self.closed_at,
            fee_settled_at: self.fee_settled_at,
            fee_online: self.fee_online,
            fee_desk: self.fee_desk,
            rating: self.rating.clone(),
            rated_at: self.rated_at,
        }
    }

    /// The rules it is judged by: those it was received under, or, before receipt, those in
    /// force at `now`.
    fn rules(&self, now: DateTime<Utc>) -> &'static rules::RuleSet {
        self.rule_set
            .as_deref()
            .and_then(rules::by_id)
            .unwrap_or_else(|| rules::in_force(to_local(self.received_at.unwrap_or(now)).date()))
    }

    fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Draft)
    }
    /// The row as a list shows it.
    fn line(self) -> DossierLine {
        DossierLine {
            status: self.status(),
            id: self.id,
            code: self.code,
            procedure_code: self.procedure_code,
            agency_code: self.agency_code,
            handler_agency: self.handler_agency,
            applicant_name: self.applicant_name,
            submitted_at: self.submitted_at,
            appointment_date: self.appointment_date,
            step_due_at: self.step_due_at,
            fee_unpaid: None,
        }
    }
    fn current_step(&self) -> Option<Step> {
        let w = self.workflow.as_ref()?;
        w.0.step(self.step.as_deref()?).cloned()
    }
    fn resource(&self) -> Resource<'_> {
        self.resource_at(&self.agency_code)
    }
    fn resource_at<'a>(&'a self, agency: &'a str) -> Resource<'a> {
        Resource::Dossier {
            agency,
            applicant: self.applicant_id.as_deref(),
            on_behalf_of: self.on_behalf_of.as_deref(),
        }
    }
    /// The agency whose officials act on `step`: the one it was transferred to, except for
    /// the returning step, which stays with the agency that received it.
    fn acting_agency(&self, step: Option<&Step>) -> &str {
        acting_agency(&self.agency_code, self.handler_agency.as_deref(), step)
    }
}

fn acting_agency<'a>(home: &'a str, handler: Option<&'a str>, step: Option<&Step>) -> &'a str {
    match (handler, step) {
        (Some(h), Some(s)) if !s.returns => h,
        _ => home,
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
    /// The current step's role: hand over to the next step (`to`, when there are several).
    Forward,
    /// The current step's role: send back to a step before (`to`, when there are several).
    SendBack,
    /// The deciding step: approve; the result document is made and signed with the agency's
    /// key, and goes to the returning step.
    Approve,
    /// The deciding step: reject, with reasons.
    Reject,
    /// The returning step: hand the result back (`method`: desk, post or online).
    Return,
    /// The current step's role, at least a working day before the appointment: apologise and
    /// set a new date (`new_date`), once. The dossier still counts as late.
    Apologize,
    /// The current step's role: stop handling, with reasons (a notice to the applicant).
    Stop,
    /// The applicant, once the result is returned: `rating` very_satisfied, satisfied or
    /// not_satisfied (with a reason in `comment`). Once.
    Rate,
    /// The current step's role, before the decision: hand the dossier to another agency
    /// (`agency`) for liên thông. It goes through that agency's steps; after its decision the
    /// result comes back to the receiving agency's returning step.
    Transfer,
}

impl ActionKind {
    pub fn parse(s: &str) -> Option<ActionKind> {
        match s {
            "submit" => Some(ActionKind::Submit),
            "transfer" => Some(ActionKind::Transfer),
            "receive" => Some(ActionKind::Receive),
            "request_supplement" => Some(ActionKind::RequestSupplement),
            "supplement" => Some(ActionKind::Supplement),
            "refuse" => Some(ActionKind::Refuse),
            "forward" => Some(ActionKind::Forward),
            "send_back" => Some(ActionKind::SendBack),
            "approve" => Some(ActionKind::Approve),
            "reject" => Some(ActionKind::Reject),
            "return" => Some(ActionKind::Return),
            "apologize" => Some(ActionKind::Apologize),
            "stop" => Some(ActionKind::Stop),
            "rate" => Some(ActionKind::Rate),
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
            ActionKind::Forward => "forward",
            ActionKind::SendBack => "send_back",
            ActionKind::Approve => "approve",
            ActionKind::Reject => "reject",
            ActionKind::Return => "return",
            ActionKind::Apologize => "apologize",
            ActionKind::Stop => "stop",
            ActionKind::Rate => "rate",
            ActionKind::Transfer => "transfer",
        }
    }
    /// The authorization an action needs, given the step the dossier is at.
    fn needs(self, step: Option<&Step>) -> Action {
        match (self, step) {
            (ActionKind::Submit | ActionKind::Supplement | ActionKind::Rate, _) => {
                Action::FileDossier
            }
            (ActionKind::Receive | ActionKind::Refuse, _) => Action::HandleDossier(Role::Reception),
            (_, Some(s)) => Action::HandleDossier(s.role),
            (_, None) => Action::HandleDossier(Role::Reception),
        }
    }
}

/// An action's details.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    #[serde(default)]
    pub comment: String,
    /// For a supplement request, a refusal or a rejection: each missing item or reason.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// For forward and send back: the step to go to, when there is a choice.
    #[serde(default)]
    pub to: Option<String>,
    /// For return: `desk`, `post` or `online`.
    #[serde(default)]
    pub method: Option<String>,
    /// For an apology: the new appointment date.
    #[serde(default)]
    pub new_date: Option<NaiveDate>,
    /// For a rating: very_satisfied, satisfied or not_satisfied.
    #[serde(default)]
    pub rating: Option<String>,
    /// For a transfer: the code of the agency that takes the dossier over.
    #[serde(default)]
    pub agency: Option<String>,
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

/// What an applicant is told of: the state reached, with its reasons, or an apology.
struct News<'a> {
    to: Status,
    reasons: &'a [String],
    apology: bool,
}

/// Failed tracking look-ups on a code, and until when it is locked.
type Strike = (u32, Option<DateTime<Utc>>);

/// The dossier service.
pub struct Dossiers {
    db: Db,
    clock: Arc<dyn Clock>,
    catalog: Arc<Catalog>,
    identity: Arc<identity::Identity>,
    calendar: Arc<RwLock<Calendar>>,
    blobs: BlobStore,
    cutoff: NaiveTime,
    /// The group commit every write of a dossier goes through.
    writer: Committer,
    /// New dossiers without an idempotency key, stored in bulk.
    submitter: bulk::Submitter,
    /// Actions on dossiers, stored in batches.
    actions: acts::Actions,
    /// Held while an agency's signing key is made.
    key_lock: tokio::sync::Mutex<()>,
    /// Names of procedure versions (a published version never changes).
    names: std::sync::RwLock<std::collections::HashMap<(String, i64), ProcedureFacts>>,
    /// Agencies' signing keys as read (a key is stored once and never replaced).
    keys: std::sync::RwLock<std::collections::HashMap<String, Arc<signing::AgencyKey>>>,
    /// Failed tracking look-ups per dossier code, with the lock they earned.
    tracking_strikes: std::sync::Mutex<std::collections::HashMap<String, Strike>>,
    /// PDFs rendered (and signed) at once: one per processor. A document takes a few
    /// milliseconds of processor alone, so more at once only share the processors, and every
    /// one of them, and the requests around them, finishes late.
    renders: Arc<tokio::sync::Semaphore>,
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
        let writer = Committer::with_group_work(db.clone(), figures::group_work());
        Dossiers {
            submitter: bulk::Submitter::start(writer.clone()),
            actions: acts::Actions::start(writer.clone()),
            key_lock: tokio::sync::Mutex::new(()),
            names: std::sync::RwLock::new(std::collections::HashMap::new()),
            keys: std::sync::RwLock::new(std::collections::HashMap::new()),
            writer,
            db,
            clock,
            catalog,
            identity,
            calendar,
            blobs,
            cutoff: NaiveTime::from_hms_opt(DEFAULT_CUTOFF.0, DEFAULT_CUTOFF.1, 0)
                .unwrap_or(NaiveTime::MIN),
            tracking_strikes: std::sync::Mutex::new(std::collections::HashMap::new()),
            renders: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, usize::from),
            )),
        }
    }

    /// Runs `work` (a PDF rendered, perhaps signed) on the blocking threads once a render
    /// permit is free.
    async fn rendering<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .renders
            .acquire()
            .await
            .map_err(|e| DossierError::Storage(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| DossierError::Storage(e.to_string()))?
    }

    /// The name of a procedure version, from memory after the first look-up.
    async fn procedure_name(&self, code: &str, version: i64) -> String {
        self.procedure_facts(code, version).await.0
    }

    /// A procedure version's name, and when its fees are paid through the system (none when
    /// they are not, or when every case costs nothing).
    async fn procedure_facts(&self, code: &str, version: i64) -> ProcedureFacts {
        let key = (code.to_string(), version);
        if let Ok(names) = self.names.read()
            && let Some(n) = names.get(&key)
        {
            return n.clone();
        }
        match self.catalog.procedure(code, Some(version)).await {
            Ok(s) => {
                let fee = s
                    .spec
                    .fee_due
                    .filter(|_| s.spec.fees.iter().any(|f| f.amount > 0));
                let facts = (s.spec.name.to_string(), fee);
                if let Ok(mut names) = self.names.write() {
                    names.insert(key, facts.clone());
                }
                facts
            }
            Err(_) => (String::new(), None),
        }
    }

    /// A row as a list shows it, with its unpaid fees.
    async fn line(&self, r: Row) -> DossierLine {
        let unpaid = if r.fee_settled_at.is_none() {
            self.procedure_facts(&r.procedure_code, r.procedure_version)
                .await
                .1
        } else {
            None
        };
        let mut l = r.line();
        l.fee_unpaid = unpaid;
        l
    }

    /// The group commit every write of a dossier goes through; other systems' writes that
    /// must be stored with a dossier's (a payment that settles its fees) join it.
    pub fn committer(&self) -> &Committer {
        &self.writer
    }

    /// Records that a dossier's fees are settled (paid, or waived for a beneficiary), in the
    /// caller's turn, with its event and audit entry. A dossier that owes nothing through the
    /// system, or whose fees are settled already, is a conflict: nothing is written.
    /// `how` says whether they were paid online, at the desk or waived (the figures count
    /// the first two apart).
    #[allow(clippy::too_many_arguments)]
    pub async fn settle_fee(
        &self,
        w: &mut kernel::batch::Write,
        dossier_id: &str,
        actor: &str,
        at: DateTime<Utc>,
        how: Settled,
        data: Value,
    ) -> Result<()> {
        let (online, desk) = match how {
            Settled::Online(a) => (Some(a), None),
            Settled::Desk(a) => (None, Some(a)),
            Settled::Waived => (None, None),
        };
        const SQL: &str = concat!(
            "UPDATE dossiers SET fee_settled_at = $1, fee_online = $3, fee_desk = $4, updated_at = $1, revision = revision + 1 WHERE id = $2 AND fee_settled_at IS NULL RETURNING ",
            "agency_code, procedure_code, channel, status, received_at, appointment_date, returned_at, outcome, closed_at, fee_settled_at, fee_online, fee_desk, rating, rated_at"
        );
        let after: Option<figures::FactRow> = on_tx!(w.tx()?, c => sqlx::query_as(SQL)
            .bind(at).bind(dossier_id).bind(online).bind(desk).fetch_optional(&mut *c).await)?;
        let Some(after) = after else {
            return Err(DossierError::Conflict);
        };
        let before = figures::FactRow {
            fee_settled_at: None,
            fee_online: None,
            fee_desk: None,
            ..after.clone()
        };
        figures::record_later(w, &before, &after, None);
        let status = Status::parse(&after.status).unwrap_or(Status::Draft);
        event_later(
            w,
            NewEvent {
                dossier: dossier_id,
                at,
                actor,
                action: "fee_paid",
                from: status,
                to: status,
                comment: "",
                data,
            },
        );
        Ok(())
    }

    /// Transactions committed by the group commit, and the writes they held, since the start.
    pub fn write_counts(&self) -> (u64, u64) {
        self.writer.counts()
    }

    /// Where the group commit's time went since the start: writers' turns and groups' ends.
    pub fn write_timings(&self) -> kernel::batch::Timings {
        self.writer.timings()
    }

    /// Groups of new dossiers stored together, and the dossiers they held, since the start.
    pub fn submission_counts(&self) -> (u64, u64) {
        self.submitter.counts()
    }

    /// Batches of actions stored together, and the actions they held, since the start.
    pub fn action_counts(&self) -> (u64, u64) {
        self.actions.counts()
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

    /// A bearer token reaches only what its scopes cover: a list of dossiers needs
    /// `dossiers:read` (a browser session carries no scopes and is not narrowed). A refusal is
    /// audited.
    async fn allow_listing(&self, p: &Principal) -> Result<()> {
        let action = Action::ReadDossier;
        if !p.token_allows(action) {
            self.identity
                .record_denial(&p.id, action, &Resource::Account(&p.id))
                .await?;
            return Err(DossierError::Forbidden);
        }
        Ok(())
    }

    /// Officials of the agency that received a dossier, and of the one it was transferred to,
    /// may read it (besides its applicant).
    async fn allow_read(&self, p: &Principal, row: &Row, reference: &str) -> Result<()> {
        if let Some(h) = row.handler_agency.as_deref() {
            let subject = identity::Subject::Account(p.clone());
            if identity::authorize(&subject, Action::ReadDossier, &row.resource_at(h))
                == identity::Decision::Allow
            {
                return Ok(());
            }
        }
        self.allow(p, Action::ReadDossier, &row.resource(), reference)
            .await
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
        // Online, without a phone or e-mail on the account, take the ones declared in the form:
        // the applicant is told of changes there, and tracks the dossier with the phone. (At
        // the desk, the official enters the applicant's contacts.)
        let declared = |kind: catalog::model::FieldType| {
            spec.form.iter().filter(|f| f.kind == kind).find_map(|f| {
                form.get(&f.name)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
        };
        let (phone, email) = if desk {
            (phone, email)
        } else {
            (
                phone.or_else(|| declared(catalog::model::FieldType::Phone)),
                email.or_else(|| declared(catalog::model::FieldType::Email)),
            )
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
        // Microseconds: what both databases keep.
        let now = chrono::SubsecRound::trunc_subsecs(self.clock.now(), 6);
        let id = uuid::Uuid::now_v7().to_string();
        let status = if submit {
            Status::Submitted
        } else {
            Status::Draft
        };
        // The writing joins the next group commit.
        let row = NewRow {
            id: id.clone(),
            procedure: spec.code.to_string(),
            version: stored.version,
            agency,
            applicant_id,
            name,
            cccd,
            phone,
            email,
            on_behalf_of,
            channel: if desk { "desk" } else { "online" },
            status,
            form: Value::Object(form),
            time_limit_days: i64::from(spec.time_limit_days),
            actor: actor_of(p),
            account: p.id.clone(),
            key: idempotency_key.map(str::to_string),
            issuer: self.identity.issuer().to_string(),
            sms: self.identity.sms_enabled(),
            now,
        };
        let procedure_name = spec.name.to_string();
        let mut shown = row.dossier(None, procedure_name);
        shown.fee = spec
            .fee_due
            .filter(|_| spec.fees.iter().any(|f| f.amount > 0))
            .map(|stage| FeeState {
                stage,
                settled_at: None,
            });
        let channel = row.channel;
        let stored = if row.key.is_none() {
            // Without a key, the submission joins the next bulk write.
            self.submitter.store(row).await
        } else {
            async {
                let mut w = self.writer.begin().await?;
                let n = row.store(w.tx()?).await?;
                w.commit().await?;
                Ok(n)
            }
            .await
        };
        let (notified, code) = match stored {
            Ok(n) => n,
            Err(DossierError::Conflict) if idempotency_key.is_some() => {
                // The same request won a race: answer with the first, once it is stored.
                self.writer.barrier().await?;
                let k = idempotency_key.unwrap_or_default();
                if let Some(first) = self.idempotent(&p.id, k).await? {
                    return Ok((self.load(&first, p, false).await?, false));
                }
                return Err(DossierError::Conflict);
            }
            Err(e) => return Err(e),
        };
        if notified {
            self.identity.wake_mailer();
        }
        // What was just stored, without reading it back.
        let mut d = shown;
        if let Some(e) = d.events.first_mut() {
            e.data = Json(json!({ "code": code, "channel": channel }));
        }
        d.code = code;
        Ok((d, true))
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
        self.allow_read(p, &row, reference).await?;
        let applicant = p.is_applicant(row.applicant_id.as_deref(), row.on_behalf_of.as_deref());
        if audit_read && !applicant {
            let now = self.clock.now();
            let mut w = self.writer.begin().await?;
            w.audit_later(
                now,
                &Entry {
                    actor: &actor_of(p),
                    action: "dossier.read",
                    subject: &format!("dossier/{}", row.id),
                    data: json!({ "code": row.code }),
                },
            );
            w.commit().await?;
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
        let (name, fee_stage) = self
            .procedure_facts(&row.procedure_code, row.procedure_version)
            .await;
        let status = row.status();
        let step = row.current_step();
        // Only the leader's approval makes a result, and an approved dossier can only be
        // returned after it: no other state has one to look for.
        let result = if matches!(status, Status::Approved | Status::Returned) {
            self.signed_result(&row.id).await?
        } else {
            None
        };
        let fee = fee_stage.map(|stage| FeeState {
            stage,
            settled_at: row.fee_settled_at,
        });
        Ok(Dossier {
            applicant_account: row.applicant_id.clone(),
            workflow: row.workflow.as_ref().map(|w| w.0.clone()),
            id: row.id,
            code: row.code,
            procedure_code: row.procedure_code,
            procedure_version: row.procedure_version,
            procedure_name: name,
            agency_code: row.agency_code,
            handler_agency: row.handler_agency,
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
            step,
            step_due_at: row.step_due_at,
            paused_at: row.paused_at,
            returned_at: row.returned_at,
            return_method: row.return_method,
            outcome: row.outcome,
            extended_from: row.extended_from,
            rating: row.rating.clone(),
            rules: row.rule_set.clone(),
            result,
            fee,
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
        search: &str,
        limit: i64,
    ) -> Result<Vec<DossierLine>> {
        self.allow_listing(p).await?;
        let limit = limit.clamp(1, 500);
        let search: String = search.trim().chars().take(100).collect();
        let folded = kernel::text::fold(&search);
        let like = |s: &str| {
            format!(
                "%{}%",
                s.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        };
        let (code_like, name_like) = (like(&search.to_lowercase()), like(&folded));
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
            " FROM dossiers WHERE (agency_code = $1 OR handler_agency = $1) AND status <> 'draft' AND ($2 = '' OR status = $2) \
             AND ($4 = '' OR applicant_cccd = $4 OR lower(code) LIKE $5 ESCAPE '\\' OR applicant_fold LIKE $6 ESCAPE '\\') \
             ORDER BY created_at DESC LIMIT $3"
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
            let more: Vec<Row> = on_db!(&self.db, c => sqlx::query_as(AGENCY).bind(a).bind(st).bind(limit).bind(&search).bind(&code_like).bind(&name_like).fetch_all(c).await)?;
            rows.extend(more);
        }
        if !search.is_empty() {
            let lower = search.to_lowercase();
            rows.retain(|r| {
                r.applicant_cccd.as_deref() == Some(search.as_str())
                    || r.code
                        .as_deref()
                        .is_some_and(|c| c.to_lowercase().contains(&lower))
                    || kernel::text::fold(&r.applicant_name).contains(&folded)
            });
        }
        rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        rows.dedup_by(|a, b| a.id == b.id);
        rows.truncate(usize::try_from(limit).unwrap_or(500));
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.line(r).await);
        }
        Ok(out)
    }

    /// For those who answer for an agency's timeliness (its leader, department heads and
    /// administrator): its open dossiers that are overdue, or due by the end of the next working
    /// day, most urgent first. Dossiers paused for a supplement are left out.
    pub async fn due_soon(&self, p: &Principal) -> Result<Vec<DossierLine>> {
        self.allow_listing(p).await?;
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM dossiers WHERE (agency_code = $1 OR handler_agency = $1) AND status IN ('received', 'processing', 'approved', 'rejected') \
             ORDER BY appointment_date, step_due_at LIMIT 1000"
        );
        let now = self.clock.now();
        let today = to_local(now).date();
        let horizon = {
            let cal = self
                .calendar
                .read()
                .map_err(|_| DossierError::Storage("calendar lock".into()))?;
            cal.add_working_days(today, 1)
        };
        let mut agencies: Vec<&str> = p
            .grants
            .iter()
            .filter(|g| {
                matches!(
                    g.role,
                    Role::AgencyLeader | Role::DepartmentHead | Role::AgencyAdmin
                )
            })
            .filter_map(|g| g.agency.as_deref())
            .collect();
        agencies.sort_unstable();
        agencies.dedup();
        let mut out = Vec::new();
        for a in agencies {
            let rows: Vec<Row> =
                on_db!(&self.db, c => sqlx::query_as(SQL).bind(a).fetch_all(c).await)?;
            out.extend(
                rows.into_iter()
                    .filter(|r| {
                        r.appointment_date.is_some_and(|d| d <= horizon)
                            || r.step_due_at.is_some_and(|d| d < now)
                    })
                    .map(Row::line),
            );
        }
        out.sort_by(|a, b| {
            a.appointment_date
                .cmp(&b.appointment_date)
                .then(a.step_due_at.cmp(&b.step_due_at))
        });
        Ok(out)
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
        self.allow_read(p, &row, reference).await?;
        let applicant = p.is_applicant(row.applicant_id.as_deref(), row.on_behalf_of.as_deref());
        // An applicant's upload files the dossier (or its supplement): its token needs
        // `dossiers:write`, not `dossiers:read` alone.
        if applicant && !p.token_allows(Action::FileDossier) {
            self.identity
                .record_denial(&p.id, Action::FileDossier, &row.resource())
                .await?;
            return Err(DossierError::Forbidden);
        }
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
        let mut w = self.writer.begin().await?;
        let mut tx = w.tx()?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO dossier_documents (id, dossier_id, name, filename, media_type, size, sha256, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ).bind(&doc.id).bind(&row.id).bind(&doc.name).bind(&doc.filename).bind(&doc.media_type).bind(doc.size)
        .bind(&doc.sha256).bind(actor_of(p)).bind(doc.uploaded_at).execute(c).await.map(|_| ()))?;
        audit::append(
            tx,
            doc.uploaded_at,
            &Entry {
                actor: &actor_of(p),
                action: "dossier.document.add",
                subject: &format!("dossier/{}", row.id),
                data: json!({ "document": doc.id, "name": doc.name, "sha256": doc.sha256, "size": doc.size }),
            },
        )
        .await?;
        w.commit().await?;
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
        self.allow_read(p, &row, reference).await?;
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
            let mut w = self.writer.begin().await?;
            let tx = w.tx()?;
            audit::append(
                tx,
                self.clock.now(),
                &Entry {
                    actor: &actor_of(p),
                    action: "dossier.document.read",
                    subject: &format!("dossier/{}", row.id),
                    data: json!({ "document": doc.id }),
                },
            )
            .await?;
            w.commit().await?;
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
        self.allow_read(p, &row, reference).await?;
        let step = row.current_step();
        let needs = action.needs(step.as_ref());
        let subject = identity::Subject::Account(p.clone());
        let acting = row.resource_at(row.acting_agency(step.as_ref()));
        if identity::authorize(&subject, needs, &acting) != identity::Decision::Allow {
            self.identity.record_denial(&p.id, needs, &acting).await?;
            return Err(DossierError::Forbidden);
        }
        // Submitting is the applicant's alone; a supplement may also be brought to the desk.
        if matches!(action, ActionKind::Submit | ActionKind::Rate)
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
        let in_workflow = matches!(from, Status::Received | Status::Processing);
        let to = match (action, from) {
            (ActionKind::Submit, Status::Draft) => Status::Submitted,
            (ActionKind::Submit, Status::Submitted) => return self.view(row).await,
            (ActionKind::Supplement, Status::SupplementRequested) => {
                if row.received_at.is_some() {
                    Status::Processing
                } else {
                    Status::Submitted
                }
            }
            (ActionKind::Receive, Status::Submitted) => Status::Received,
            (ActionKind::RequestSupplement, Status::Submitted) => {
                let allowed = row.rules(self.clock.now()).supplement_requests;
                if row.supplement_count >= allowed {
                    return Err(invalid(
                        "action",
                        format!("Chỉ được yêu cầu bổ sung {allowed} lần"),
                        format!("A supplement may be requested only {allowed} time(s)"),
                    ));
                }
                Status::SupplementRequested
            }
            (ActionKind::RequestSupplement, _) if in_workflow => Status::SupplementRequested,
            (ActionKind::Refuse, Status::Submitted) => Status::Refused,
            (ActionKind::Forward | ActionKind::SendBack, _) if in_workflow => Status::Processing,
            (ActionKind::Transfer, _)
                if in_workflow && step.as_ref().is_some_and(|s| !s.returns) =>
            {
                Status::Processing
            }
            (ActionKind::Approve, _) if in_workflow && step.as_ref().is_some_and(|s| s.decides) => {
                Status::Approved
            }
            (ActionKind::Reject, _) if in_workflow && step.as_ref().is_some_and(|s| s.decides) => {
                Status::Rejected
            }
            (ActionKind::Apologize, _) if in_workflow => from,
            (ActionKind::Stop, _) if in_workflow => {
                let r = row.rules(self.clock.now());
                if !r.stop_notice {
                    return Err(invalid(
                        "action",
                        format!(
                            "Hồ sơ tiếp nhận theo {} không có thông báo dừng giải quyết",
                            r.name
                        ),
                        format!(
                            "A dossier received under {} cannot be stopped by a notice",
                            r.name_en
                        ),
                    ));
                }
                Status::Stopped
            }
            (ActionKind::Rate, Status::Returned) => Status::Returned,
            (ActionKind::Return, Status::Approved | Status::Rejected)
                if step.as_ref().is_some_and(|s| s.returns) =>
            {
                Status::Returned
            }
            _ => return Err(wrong()),
        };
        // Fees paid through the system: the desk receives a dossier once its fees due with
        // it are settled, and hands a result over once every fee is.
        if row.fee_settled_at.is_none()
            && matches!(
                (action, to),
                (ActionKind::Receive, _) | (ActionKind::Return, _)
            )
        {
            let (_, stage) = self
                .procedure_facts(&row.procedure_code, row.procedure_version)
                .await;
            let due = match (stage, action) {
                (Some(FeeStage::Submission), ActionKind::Receive) => true,
                (Some(_), ActionKind::Return) => from == Status::Approved,
                _ => false,
            };
            if due {
                return Err(DossierError::FeeDue);
            }
        }
        if matches!(
            action,
            ActionKind::RequestSupplement
                | ActionKind::Refuse
                | ActionKind::Reject
                | ActionKind::Stop
        ) && reasons.is_empty()
        {
            return Err(invalid(
                "reasons",
                "Hãy liệt kê từng điểm cần bổ sung hoặc lý do",
                "List each missing item or reason",
            ));
        }
        if action == ActionKind::Submit {
            self.check_documents(&row).await?;
        }
        let now = self.clock.now();
        let local = to_local(now);
        let workflow = row.workflow.as_ref().map(|w| w.0.clone());
        // The step the dossier moves to, for actions that move it.
        let target: Option<Step> = match action {
            ActionKind::Forward | ActionKind::SendBack => {
                let (w, cur) = match (&workflow, &step) {
                    (Some(w), Some(c)) => (w, c),
                    _ => return Err(wrong()),
                };
                let choices: Vec<&Step> = if action == ActionKind::Forward {
                    cur.next.iter().filter_map(|n| w.step(n)).collect()
                } else {
                    w.predecessors(&cur.id)
                };
                let pick = match (&input.to, choices.len()) {
                    (Some(t), _) => choices.iter().find(|s| &s.id == t).copied(),
                    (None, 1) => choices.first().copied(),
                    _ => None,
                };
                match pick {
                    Some(s) => Some(s.clone()),
                    None => {
                        let ids: Vec<&str> = choices.iter().map(|s| s.id.as_str()).collect();
                        return Err(invalid(
                            "to",
                            format!("Chọn bước chuyển đến: {}", ids.join(", ")),
                            format!("Choose the step to go to: {}", ids.join(", ")),
                        ));
                    }
                }
            }
            ActionKind::Approve | ActionKind::Reject => {
                workflow.as_ref().and_then(|w| w.returning().cloned())
            }
            _ => None,
        };
        // A transfer: the other agency's steps up to its decision, then this dossier's
        // returning step, so that the result comes back to the desk that received it.
        let transfer = if action == ActionKind::Transfer {
            let from_agency = row.acting_agency(step.as_ref()).to_string();
            let Some(to_agency) = input
                .agency
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
            else {
                return Err(invalid(
                    "agency",
                    "Chọn cơ quan nhận hồ sơ liên thông",
                    "Choose the agency to transfer the dossier to",
                ));
            };
            if !self.catalog.lookup().agencies.contains_key(to_agency) {
                return Err(invalid(
                    "agency",
                    format!("Không có cơ quan mã {to_agency}"),
                    format!("There is no agency with code {to_agency}"),
                ));
            }
            if to_agency == from_agency {
                return Err(invalid(
                    "agency",
                    "Hồ sơ đang do chính cơ quan này xử lý",
                    "The dossier is already handled by this agency",
                ));
            }
            if comment.is_empty() {
                return Err(invalid(
                    "comment",
                    "Hãy ghi nội dung đề nghị cơ quan nhận xử lý",
                    "Say what the receiving agency is asked to do",
                ));
            }
            let returning = workflow
                .as_ref()
                .and_then(|w| w.returning().cloned())
                .ok_or_else(wrong)?;
            let days = u16::try_from(row.time_limit_days).unwrap_or(u16::MAX);
            let theirs = self
                .workflow_for(to_agency, &row.procedure_code, days)
                .await?;
            let mut steps: Vec<Step> = theirs.steps.into_iter().filter(|s| !s.returns).collect();
            steps.push(returning);
            let joined = Workflow { steps };
            if !joined.check().is_empty() {
                return Err(invalid(
                    "agency",
                    format!(
                        "Quy trình của {to_agency} không nối được với bước trả kết quả của hồ sơ"
                    ),
                    format!(
                        "The workflow of {to_agency} cannot be joined to this dossier's returning step"
                    ),
                ));
            }
            let first = joined.first().cloned().ok_or_else(wrong)?;
            let handler = (to_agency != row.agency_code).then(|| to_agency.to_string());
            Some((from_agency, handler, joined, first))
        } else {
            None
        };
        let method = if action == ActionKind::Return {
            match input.method.as_deref() {
                Some(m @ ("desk" | "post" | "online")) => Some(m.to_string()),
                _ => {
                    return Err(invalid(
                        "method",
                        "Cách trả kết quả: desk (tại quầy), post (bưu chính) hoặc online",
                        "How the result is returned: desk, post or online",
                    ));
                }
            }
        } else {
            None
        };
        // The leader's approval is the signature: the result document is made, signed with the
        // agency's key and stored before the transaction that records it with the event.
        let signed = if action == ActionKind::Approve {
            let current = self.view(row.clone()).await?;
            Some(self.prepare_result(&current, p, &comment, now).await?)
        } else {
            None
        };
        // The workflow a received dossier will follow, read before the turn.
        let received_under = match action {
            ActionKind::Receive => {
                let days = u16::try_from(row.time_limit_days).unwrap_or(u16::MAX);
                Some(
                    self.workflow_for(&row.agency_code, &row.procedure_code, days)
                        .await?,
                )
            }
            _ => None,
        };
        let mut data = json!({});
        let cal = self
            .calendar
            .read()
            .map_err(|_| DossierError::Storage("calendar lock".into()))?
            .clone();
        let due_of = |s: &Step| {
            let at = cal.add_working_hours(local, s.hours.saturating_mul(60));
            kernel::clock::from_local(at)
        };
        let mut change = acts::Change::new(&row.id, from, row.revision, to, now);
        // A draft's code is taken in the writer's own turn, below.
        let drafted = action == ActionKind::Submit && row.code.is_none();
        match (action, to) {
            (ActionKind::Submit, _) if drafted => {
                change.time(Col::SubmittedAt, Some(now));
            }
            (ActionKind::Receive, _) => {
                let days = u16::try_from(row.time_limit_days).unwrap_or(u16::MAX);
                let date = appointment(&cal, local, self.cutoff, days);
                let w = received_under
                    .as_ref()
                    .ok_or_else(|| DossierError::Storage("no workflow".into()))?;
                let first = w
                    .first()
                    .cloned()
                    .ok_or_else(|| DossierError::Storage("empty workflow".into()))?;
                let due = due_of(&first);
                let in_force = rules::in_force(local.date());
                data = json!({ "appointment_date": date, "step": first.id, "step_due_at": due, "rules": in_force.id });
                change
                    .time(Col::ReceivedAt, Some(now))
                    .date(Col::AppointmentDate, Some(date))
                    .json(Col::Workflow, json!(w))
                    .text(Col::Step, Some(&first.id))
                    .time(Col::StepStartedAt, Some(now))
                    .time(Col::StepDueAt, Some(due))
                    .text(Col::RuleSet, Some(&in_force.id));
            }
            (ActionKind::Rate, _) => {
                let rating = input.rating.as_deref().unwrap_or("");
                if !matches!(rating, "very_satisfied" | "satisfied" | "not_satisfied") {
                    return Err(invalid(
                        "rating",
                        "Đánh giá là: rất hài lòng, hài lòng hoặc không hài lòng",
                        "The rating is very_satisfied, satisfied or not_satisfied",
                    ));
                }
                if rating == "not_satisfied" && comment.is_empty() {
                    return Err(invalid(
                        "comment",
                        "Hãy cho biết vì sao bạn không hài lòng",
                        "Say why you are not satisfied",
                    ));
                }
                // The revision checked below makes sure nobody rated it since it was read.
                if row.rating.is_some() {
                    return Err(invalid(
                        "rating",
                        "Hồ sơ đã được đánh giá",
                        "The dossier was rated already",
                    ));
                }
                data = json!({ "rating": rating });
                let reason = (!comment.is_empty()).then_some(comment.as_str());
                change
                    .text(Col::Rating, Some(rating))
                    .text(Col::RatingReason, reason)
                    .time(Col::RatedAt, Some(now));
            }
            (ActionKind::Stop, _) => {
                data = json!({ "reasons": reasons, "step": row.step });
                change
                    .json(Col::Reasons, json!(reasons))
                    .time(Col::StepDueAt, None)
                    .time(Col::ClosedAt, Some(now));
            }
            (ActionKind::RequestSupplement | ActionKind::Refuse, _) => {
                data = json!({ "reasons": reasons });
                let desk_stage = row.received_at.is_none();
                // The count as read: the change is stored only at the revision read.
                let counted = i64::from(action == ActionKind::RequestSupplement && desk_stage);
                let paused = if desk_stage { None } else { Some(now) };
                let closed = (action == ActionKind::Refuse).then_some(now);
                change
                    .json(Col::Reasons, json!(reasons))
                    .int(Col::SupplementCount, row.supplement_count + counted)
                    .time(Col::PausedAt, paused)
                    .time(Col::ClosedAt, closed);
            }
            (ActionKind::Supplement, Status::Processing) => {
                // The clock stood still while the applicant supplemented: push the appointment
                // and the step's due time back by the office time that passed.
                let paused = row
                    .paused_at
                    .map(|p0| cal.working_time_between(to_local(p0), local))
                    .unwrap_or_default();
                let minutes = u32::try_from(paused.num_minutes().max(0)).unwrap_or(u32::MAX);
                let per_day = cal.hours().minutes_per_day().max(1);
                let days =
                    u16::try_from((i64::from(minutes) + per_day - 1) / per_day).unwrap_or(u16::MAX);
                let date = row.appointment_date.map(|d| cal.add_working_days(d, days));
                let due = row.step_due_at.map(|d| {
                    kernel::clock::from_local(cal.add_working_hours(to_local(d), minutes))
                });
                data = json!({ "paused_minutes": minutes, "appointment_date": date, "step_due_at": due });
                change
                    .time(Col::PausedAt, None)
                    .date(Col::AppointmentDate, date)
                    .time(Col::StepDueAt, due);
            }
            (
                ActionKind::Forward
                | ActionKind::SendBack
                | ActionKind::Approve
                | ActionKind::Reject,
                _,
            ) => {
                let on_time = row.step_due_at.is_none_or(|d| now <= d);
                let next = target.clone().ok_or_else(wrong)?;
                let due = due_of(&next);
                data = json!({ "from_step": row.step, "to_step": next.id, "on_time": on_time, "step_due_at": due });
                if action == ActionKind::Reject {
                    data["reasons"] = json!(reasons);
                }
                change
                    .text(Col::Step, Some(&next.id))
                    .time(Col::StepStartedAt, Some(now))
                    .time(Col::StepDueAt, Some(due));
                if matches!(action, ActionKind::Approve | ActionKind::Reject) {
                    change.time(Col::DecidedAt, Some(now));
                }
                if action == ActionKind::Reject {
                    change.json(Col::Reasons, json!(reasons));
                }
            }
            (ActionKind::Transfer, _) => {
                let (from_agency, handler, joined, first) = transfer.clone().ok_or_else(wrong)?;
                let on_time = row.step_due_at.is_none_or(|d| now <= d);
                let due = due_of(&first);
                let to_agency = handler.clone().unwrap_or_else(|| row.agency_code.clone());
                data = json!({
                    "from_agency": from_agency, "to_agency": to_agency,
                    "from_step": row.step, "to_step": first.id, "on_time": on_time, "step_due_at": due
                });
                change
                    .text(Col::HandlerAgency, handler.as_deref())
                    .json(Col::Workflow, json!(joined))
                    .text(Col::Step, Some(&first.id))
                    .time(Col::StepStartedAt, Some(now))
                    .time(Col::StepDueAt, Some(due));
            }
            (ActionKind::Apologize, _) => {
                let (Some(due), Some(new_date)) = (row.appointment_date, input.new_date) else {
                    return Err(invalid(
                        "new_date",
                        "Cần ngày hẹn mới",
                        "A new appointment date is needed",
                    ));
                };
                if row.extended_from.is_some() {
                    return Err(invalid(
                        "new_date",
                        "Ngày hẹn chỉ được gia hạn một lần",
                        "The appointment may be moved only once",
                    ));
                }
                let r = row.rules(now);
                let lead = r.apology_lead_working_days;
                if cal.working_days_between(local.date(), due) < lead {
                    let (vi_n, en_n) = if lead == 1 {
                        (
                            "một ngày làm việc".to_string(),
                            "one working day".to_string(),
                        )
                    } else {
                        (
                            format!("{lead} ngày làm việc"),
                            format!("{lead} working days"),
                        )
                    };
                    return Err(invalid(
                        "new_date",
                        format!(
                            "Văn bản xin lỗi phải gửi trước ngày hẹn ít nhất {vi_n} ({})",
                            r.name
                        ),
                        format!(
                            "The apology must come at least {en_n} before the appointment ({})",
                            r.name_en
                        ),
                    ));
                }
                if new_date <= due || !cal.is_working_day(new_date) {
                    return Err(invalid(
                        "new_date",
                        "Ngày hẹn mới phải là ngày làm việc sau ngày hẹn cũ",
                        "The new date must be a working day after the old one",
                    ));
                }
                if reasons.is_empty() {
                    return Err(invalid(
                        "reasons",
                        "Hãy nêu lý do chậm trễ",
                        "Give the reason for the delay",
                    ));
                }
                data = json!({ "from": due, "to": new_date, "reasons": reasons, "extension_requested": r.extension_request, "rules": r.id });
                change
                    .date(Col::AppointmentDate, Some(new_date))
                    .date(Col::ExtendedFrom, Some(due))
                    .json(Col::Reasons, json!(reasons));
            }
            (ActionKind::Return, _) => {
                let today = local.date();
                // A dossier whose date was moved by an apology counts as late.
                let outcome = match row.appointment_date {
                    _ if row.extended_from.is_some() => "late",
                    Some(d) if today < d => "early",
                    Some(d) if today == d => "on_time",
                    Some(_) => "late",
                    None => "on_time",
                };
                let on_time = row.step_due_at.is_none_or(|d| now <= d);
                data = json!({ "method": method, "outcome": outcome, "on_time": on_time });
                change
                    .time(Col::ReturnedAt, Some(now))
                    .text(Col::ReturnMethod, method.as_deref())
                    .text(Col::Outcome, Some(outcome))
                    .time(Col::StepDueAt, None);
            }
            // The status alone.
            _ => {}
        }
        if let Some(s) = &signed {
            data["result"] = s.summary();
        }
        let applicant = (
            row.applicant_name.as_str(),
            row.applicant_email.as_deref(),
            row.applicant_phone.as_deref(),
            row.applicant_id.as_deref(),
        );
        let news = News {
            to,
            reasons: &reasons,
            apology: action == ActionKind::Apologize,
        };
        let mut act = acts::Act {
            change,
            // The figures before the change are the row's as read: the change is stored only
            // at the revision read.
            before: row.facts(),
            supplement: (action == ActionKind::RequestSupplement).then(|| local.date()),
            actor: actor_of(p),
            action: action.as_str(),
            comment,
            data,
            signed,
            mail: None,
        };
        // Only one action wins on a dossier: its change is stored only if the status and the
        // revision are still the ones read.
        let (after, notified) = if drafted {
            // The code is counted in the same turn as the change, so that a change that does
            // not match gives its number back.
            let mut w = self.writer.begin().await?;
            let code = next_code(w.tx()?, &row.agency_code, now).await?;
            act.change.text(Col::Code, Some(&code));
            act.data = json!({ "code": code });
            act.mail = self.notice(now, applicant, Some(&code), news);
            let Some(after) = acts::store(&mut w, &[&act]).await?.pop().flatten() else {
                return Err(DossierError::Conflict);
            };
            w.commit().await?;
            (after, act.mail.is_some())
        } else {
            act.mail = self.notice(now, applicant, row.code.as_deref(), news);
            let notified = act.mail.is_some();
            let after = self.actions.store(act).await?;
            (after.ok_or(DossierError::Conflict)?, notified)
        };
        if notified {
            self.identity.wake_mailer();
        }
        // The row as the statement left it: no second read. Whether the caller may still see
        // it is asked again (a transfer may have taken it out of their hands).
        self.allow_read(p, &after, &row.id).await?;
        self.view(after).await
    }

    /// One action on many dossiers, as a desk or a leader does at the end of a queue: each
    /// dossier is its own action, checked and answered on its own, in the order given
    /// (repeats dropped). Only the actions that need nothing particular to one dossier may be
    /// taken in bulk: receive, forward, approve, return and transfer.
    pub async fn act_many(
        &self,
        references: &[String],
        p: &Principal,
        action: ActionKind,
        input: &ActionInput,
    ) -> Result<Vec<(String, Result<Dossier>)>> {
        if !matches!(
            action,
            ActionKind::Receive
                | ActionKind::Forward
                | ActionKind::Approve
                | ActionKind::Return
                | ActionKind::Transfer
        ) {
            return Err(invalid(
                "action",
                format!(
                    "Không thực hiện hàng loạt được thao tác {}; chỉ: receive, forward, approve, return, transfer",
                    action.as_str()
                ),
                format!(
                    "{} cannot be taken in bulk; only receive, forward, approve, return and transfer",
                    action.as_str()
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let refs: Vec<String> = references
            .iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty() && seen.insert(r.clone()))
            .collect();
        if refs.is_empty() || refs.len() > BULK_MAX {
            return Err(invalid(
                "dossiers",
                format!("Chọn từ 1 đến {BULK_MAX} hồ sơ"),
                format!("Choose 1 to {BULK_MAX} dossiers"),
            ));
        }
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            let done = self.act(&r, p, action, input).await;
            out.push((r, done));
        }
        Ok(out)
    }

    /// The account's identification number, phone and e-mail (to prefill a form).
    pub async fn contact_of(
        &self,
        account_id: &str,
    ) -> Result<(Option<String>, Option<String>, Option<String>)> {
        let row: Option<(Option<String>, Option<String>, Option<String>)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT cccd, phone, email FROM accounts WHERE id = $1"
        ).bind(account_id).fetch_optional(c).await)?;
        Ok(row.unwrap_or_default())
    }

    /// The actions `p` may take on a dossier now.
    pub fn possible_actions(&self, d: &Dossier, p: &Principal) -> Vec<ActionKind> {
        let applicant = p.is_applicant(d.applicant_account.as_deref(), d.on_behalf_of.as_deref());
        let step = d.step.as_ref();
        let resource = Resource::Dossier {
            agency: acting_agency(&d.agency_code, d.handler_agency.as_deref(), step),
            applicant: d.applicant_account.as_deref(),
            on_behalf_of: d.on_behalf_of.as_deref(),
        };
        let subject = identity::Subject::Account(p.clone());
        let may = |role: Role| {
            identity::authorize(&subject, Action::HandleDossier(role), &resource)
                == identity::Decision::Allow
        };
        let mut out = Vec::new();
        match d.status {
            Status::Draft if applicant => out.push(ActionKind::Submit),
            Status::SupplementRequested if applicant || may(Role::Reception) => {
                out.push(ActionKind::Supplement)
            }
            Status::Submitted if may(Role::Reception) => {
                out.push(ActionKind::Receive);
                if d.supplement_count == 0 {
                    out.push(ActionKind::RequestSupplement);
                }
                out.push(ActionKind::Refuse);
            }
            Status::Received | Status::Processing => {
                if let Some(s) = step
                    && may(s.role)
                {
                    if !s.next.is_empty() {
                        out.push(ActionKind::Forward);
                    }
                    if d.workflow
                        .as_ref()
                        .is_some_and(|w| !w.predecessors(&s.id).is_empty())
                    {
                        out.push(ActionKind::SendBack);
                    }
                    out.push(ActionKind::RequestSupplement);
                    if d.extended_from.is_none() && d.appointment_date.is_some() {
                        out.push(ActionKind::Apologize);
                    }
                    // Only rules that have a stop notice allow stopping.
                    if d.rules
                        .as_deref()
                        .and_then(rules::by_id)
                        .is_none_or(|r| r.stop_notice)
                    {
                        out.push(ActionKind::Stop);
                    }
                    if s.decides {
                        out.push(ActionKind::Approve);
                        out.push(ActionKind::Reject);
                    }
                    out.push(ActionKind::Transfer);
                }
            }
            Status::Returned if applicant && d.rating.is_none() => out.push(ActionKind::Rate),
            Status::Approved | Status::Rejected
                if step.is_some_and(|s| s.returns && may(s.role)) =>
            {
                out.push(ActionKind::Return);
            }
            _ => {}
        }
        out
    }

    /// The applicant's notice of a change ([`Mail::json`]), when they can be reached (by
    /// e-mail, or by SMS where it is on), to be written with the change.
    fn notice(
        &self,
        now: DateTime<Utc>,
        applicant: (&str, Option<&str>, Option<&str>, Option<&str>),
        code: Option<&str>,
        news: News<'_>,
    ) -> Option<Value> {
        let (name, email, phone, account) = applicant;
        let phone = phone.filter(|_| self.identity.sms_enabled());
        compose(self.identity.issuer(), (name, email, phone), code, news)
            .map(|m| m.json(now, account))
    }

    /// Public tracking: a dossier's progress by its code and the last four digits of the
    /// applicant's phone (or, without a phone, of their identification number). A wrong pair
    /// and an unknown code get the same answer; five wrong tries on a code lock it for a time
    /// that doubles, up to an hour.
    pub async fn track(&self, code: &str, tail: &str) -> Result<Tracking> {
        let now = self.clock.now();
        let code = code.trim();
        if let Ok(m) = self.tracking_strikes.lock()
            && let Some((_, Some(until))) = m.get(code)
            && *until > now
        {
            return Err(DossierError::Throttled {
                retry_after_secs: u64::try_from((*until - now).num_seconds().max(1)).unwrap_or(1),
            });
        }
        let row = if code.is_empty() || code.len() > 64 || !code.contains('-') {
            None
        } else {
            // Only what the answer shows and the second factor, by the code's own index.
            const SQL: &str = "SELECT procedure_code, procedure_version, agency_code, status, submitted_at, received_at, appointment_date, \
                 workflow, step, reasons, returned_at, outcome, applicant_phone, applicant_cccd FROM dossiers WHERE code = $1";
            let found: Option<TrackRow> =
                on_db!(&self.db, c => sqlx::query_as(SQL).bind(code).fetch_optional(c).await)?;
            found
        };
        let secret = row.as_ref().and_then(|r| {
            r.applicant_phone
                .as_deref()
                .or(r.applicant_cccd.as_deref())
                .map(|s| s.chars().filter(char::is_ascii_digit).collect::<String>())
        });
        let ok = match &secret {
            Some(s) if s.len() >= 4 && tail.len() == 4 => identity::same(&s[s.len() - 4..], tail),
            _ => false,
        };
        let Some(row) = row.filter(|_| ok) else {
            if let Ok(mut m) = self.tracking_strikes.lock() {
                if m.len() > 100_000 {
                    m.retain(|_, (_, u)| u.is_some_and(|u| u > now));
                }
                let e = m.entry(code.to_string()).or_insert((0, None));
                e.0 += 1;
                if e.0 >= 5 {
                    let secs = (30i64 << (e.0 - 5).min(7)).min(3600);
                    e.1 = Some(now + chrono::Duration::seconds(secs));
                }
            }
            return Err(DossierError::NotFound(code.to_string()));
        };
        if let Ok(mut m) = self.tracking_strikes.lock()
            && m.contains_key(code)
        {
            m.remove(code);
        }
        let status = Status::parse(&row.status).unwrap_or(Status::Draft);
        let step = match (&row.workflow, &row.step) {
            (Some(w), Some(id)) => {
                w.0.steps
                    .iter()
                    .find(|s| &s.id == id)
                    .map(|s| s.name.clone())
            }
            _ => None,
        };
        let name = self
            .procedure_name(&row.procedure_code, row.procedure_version)
            .await;
        Ok(Tracking {
            code: code.to_string(),
            procedure_name: name,
            agency_code: row.agency_code,
            status,
            status_vi: status.label(true).to_string(),
            status_en: status.label(false).to_string(),
            national_status: status.national_code(),
            submitted_at: row.submitted_at,
            received_at: row.received_at,
            appointment_date: row.appointment_date,
            step,
            reasons: if matches!(
                status,
                Status::SupplementRequested | Status::Refused | Status::Rejected | Status::Stopped
            ) {
                row.reasons.0
            } else {
                Vec::new()
            },
            returned_at: row.returned_at,
            outcome: row.outcome,
        })
    }

    async fn check_documents(&self, row: &Row) -> Result<()> {
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
        if missing.is_empty() {
            Ok(())
        } else {
            Err(DossierError::Invalid(missing))
        }
    }

    /// The workflow an agency uses for a procedure: its own, or the standard one.
    pub async fn workflow_for(&self, agency: &str, procedure: &str, days: u16) -> Result<Workflow> {
        let w: Option<Json<Workflow>> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT definition FROM dossier_workflows WHERE agency_code = $1 AND procedure_code = $2"
        ).bind(agency).bind(procedure).fetch_optional(c).await)?;
        Ok(w.map(|j| j.0).unwrap_or_else(|| Workflow::standard(days)))
    }

    /// The workflow an agency uses for a procedure, for its officials.
    pub async fn workflow_view(
        &self,
        p: &Principal,
        agency: &str,
        procedure: &str,
    ) -> Result<Workflow> {
        let r = Resource::Dossier {
            agency,
            applicant: None,
            on_behalf_of: None,
        };
        self.allow(p, Action::ReadDossier, &r, procedure).await?;
        let stored = self
            .catalog
            .procedure(procedure, None)
            .await
            .map_err(|_| DossierError::NotFound(procedure.to_string()))?;
        if !stored.spec.agencies.iter().any(|a| a.to_string() == agency) {
            return Err(DossierError::NotFound(procedure.to_string()));
        }
        self.workflow_for(agency, procedure, stored.spec.time_limit_days)
            .await
    }

    /// Saves an agency's workflow for a procedure, after checking it.
    pub async fn set_workflow(
        &self,
        p: &Principal,
        agency: &str,
        procedure: &str,
        w: &Workflow,
    ) -> Result<()> {
        let subject = identity::Subject::Account(p.clone());
        let resource = Resource::Agency(agency);
        if identity::authorize(
            &subject,
            Action::HandleDossier(Role::AgencyAdmin),
            &Resource::Dossier {
                agency,
                applicant: None,
                on_behalf_of: None,
            },
        ) != identity::Decision::Allow
        {
            self.identity
                .record_denial(&p.id, Action::HandleDossier(Role::AgencyAdmin), &resource)
                .await?;
            return Err(DossierError::Forbidden);
        }
        let problems = w.check();
        if !problems.is_empty() {
            return Err(DossierError::Invalid(problems));
        }
        let stored = self.catalog.procedure(procedure, None).await.map_err(|_| {
            invalid(
                "procedure",
                format!("Không có thủ tục mã {procedure}"),
                format!("No procedure has the code {procedure}"),
            )
        })?;
        if !stored.spec.agencies.iter().any(|a| a.to_string() == agency) {
            return Err(invalid(
                "agency",
                format!("Thủ tục này không do cơ quan {agency} giải quyết"),
                format!("Agency {agency} does not handle this procedure"),
            ));
        }
        let now = self.clock.now();
        let mut turn = self.writer.begin().await?;
        let mut tx = turn.tx()?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO dossier_workflows (agency_code, procedure_code, definition, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (agency_code, procedure_code) DO UPDATE SET definition = excluded.definition, updated_by = excluded.updated_by, updated_at = excluded.updated_at"
        ).bind(agency).bind(procedure).bind(Json(w)).bind(actor_of(p)).bind(now).execute(c).await.map(|_| ()))?;
        audit::append(
            tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "dossier.workflow.set",
                subject: &format!("agency/{agency}/workflow/{procedure}"),
                data: json!({ "steps": w.steps.len() }),
            },
        )
        .await?;
        turn.commit().await?;
        Ok(())
    }
}

/// The next dossier code of an agency for the local day of `now`, in the caller's transaction.
/// A dossier to be stored, with everything its first transaction writes.
struct NewRow {
    id: String,
    procedure: String,
    version: i64,
    agency: String,
    applicant_id: Option<String>,
    name: String,
    cccd: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    on_behalf_of: Option<String>,
    channel: &'static str,
    status: Status,
    form: Value,
    time_limit_days: i64,
    actor: String,
    account: String,
    key: Option<String>,
    issuer: String,
    /// Text messages are on.
    sms: bool,
    now: DateTime<Utc>,
}

impl NewRow {
    /// Writes the dossier, its code when submitted, the idempotency key, the event with its
    /// audit entry and the notice. A key already used answers `Conflict` (and writes nothing).
    /// Returns whether a notice was queued, and the code.
    async fn store(&self, tx: &mut Tx<'_>) -> Result<(bool, Option<String>)> {
        let submit = self.status == Status::Submitted;
        let now = self.now;
        let code = if submit {
            Some(next_code(tx, &self.agency, now).await?)
        } else {
            None
        };
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO dossiers (id, code, procedure_code, procedure_version, agency_code, applicant_id, applicant_name, applicant_cccd, applicant_phone, applicant_email, on_behalf_of, channel, status, form, time_limit_days, reasons, submitted_at, created_by, created_at, updated_at, applicant_fold) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20)"
        ).bind(&self.id).bind(&code).bind(&self.procedure).bind(self.version).bind(&self.agency).bind(&self.applicant_id)
        .bind(&self.name).bind(&self.cccd).bind(&self.phone).bind(&self.email).bind(&self.on_behalf_of)
        .bind(self.channel).bind(self.status.as_str()).bind(Json(&self.form))
        .bind(self.time_limit_days).bind(Json(Vec::<String>::new()))
        .bind(submit.then_some(now)).bind(&self.actor).bind(now)
        .bind(kernel::text::fold(&self.name)).execute(c).await.map(|_| ()))?;
        if let Some(k) = &self.key {
            let inserted = on_tx!(tx, c => sqlx::query(
                "INSERT INTO dossier_idempotency (account_id, key, dossier_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, key) DO NOTHING"
            ).bind(&self.account).bind(k).bind(&self.id).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
            if inserted == 0 {
                return Err(DossierError::Conflict);
            }
        }
        event(
            tx,
            NewEvent {
                dossier: &self.id,
                at: now,
                actor: &self.actor,
                action: if submit { "submit" } else { "create" },
                from: Status::Draft,
                to: self.status,
                comment: "",
                data: json!({ "code": code, "channel": self.channel }),
            },
        )
        .await?;
        let mail = compose(
            &self.issuer,
            (
                &self.name,
                self.email.as_deref(),
                self.phone.as_deref().filter(|_| self.sms),
            ),
            code.as_deref(),
            News {
                to: self.status,
                reasons: &[],
                apology: false,
            },
        );
        let notified = match mail {
            Some(m) => {
                bulk::insert_mails(tx, vec![m.json(now, self.applicant_id.as_deref())]).await?;
                true
            }
            None => false,
        };
        Ok((notified, code))
    }

    /// The dossier as it reads once stored with `code`: what a fresh load would show.
    fn dossier(&self, code: Option<String>, procedure_name: String) -> Dossier {
        let submitted = self.status == Status::Submitted;
        Dossier {
            id: self.id.clone(),
            applicant_account: self.applicant_id.clone(),
            workflow: None,
            handler_agency: None,
            code: code.clone(),
            procedure_code: self.procedure.clone(),
            procedure_version: self.version,
            procedure_name,
            agency_code: self.agency.clone(),
            applicant_name: self.name.clone(),
            applicant_cccd: self.cccd.clone(),
            on_behalf_of: self.on_behalf_of.clone(),
            channel: if self.channel == "desk" {
                Channel::Desk
            } else {
                Channel::Online
            },
            status: self.status,
            national_status: self.status.national_code(),
            form: self.form.clone(),
            time_limit_days: self.time_limit_days,
            supplement_count: 0,
            reasons: Vec::new(),
            submitted_at: submitted.then_some(self.now),
            received_at: None,
            appointment_date: None,
            step: None,
            step_due_at: None,
            paused_at: None,
            returned_at: None,
            return_method: None,
            outcome: None,
            extended_from: None,
            rating: None,
            rules: None,
            result: None,
            fee: None,
            created_at: self.now,
            updated_at: self.now,
            documents: Vec::new(),
            events: vec![Event {
                at: self.now,
                actor: self.actor.clone(),
                action: if submitted { "submit" } else { "create" }.to_string(),
                from_status: Status::Draft.as_str().to_string(),
                to_status: self.status.as_str().to_string(),
                comment: String::new(),
                data: Json(json!({ "code": code, "channel": self.channel })),
            }],
        }
    }
}

/// A notice to an applicant, ready to queue: an e-mail, or a text message to their phone.
struct Mail {
    channel: &'static str,
    to: String,
    subject: String,
    body: String,
}

impl Mail {
    /// The outbox row, as [`bulk::insert_mails`] writes it.
    fn json(&self, now: DateTime<Utc>, account: Option<&str>) -> Value {
        json!({
            "id": uuid::Uuid::now_v7().to_string(), "channel": self.channel, "recipient": self.to,
            "account": account, "subject": self.subject, "body": self.body, "at": bulk::ts(&now),
        })
    }
}

/// The notice of a status change, when the change is one the applicant is told of: by e-mail,
/// or, without an address, by a text message to their phone (given only when text messages
/// are on).
fn compose(
    issuer: &str,
    applicant: (&str, Option<&str>, Option<&str>),
    code: Option<&str>,
    news: News<'_>,
) -> Option<Mail> {
    let News {
        to,
        reasons,
        apology,
    } = news;
    let (name, email, phone) = applicant;
    let code = code?;
    if matches!(to, Status::Draft | Status::Processing) && !apology {
        return None;
    }
    let link = format!("{issuer}/tra-cuu-ho-so?ma={code}");
    let Some(email) = email.filter(|e| !e.is_empty()) else {
        // A text message: short, and without diacritics so that every handset shows it.
        let phone = phone.filter(|p| p.chars().filter(char::is_ascii_digit).count() >= 9)?;
        let what = if apology {
            "co ngay hen moi".to_string()
        } else {
            kernel::text::fold(to.label(true))
        };
        return Some(Mail {
            channel: "sms",
            to: phone.to_string(),
            subject: String::new(),
            body: format!("Ho so {code}: {what}. Tra cuu: {link}"),
        });
    };
    let why = if reasons.is_empty() {
        String::new()
    } else {
        format!("\n- {}\n", reasons.join("\n- "))
    };
    let (vi, en) = if apology {
        (
            "xin lỗi vì chậm trả kết quả; ngày hẹn mới ở liên kết dưới đây",
            "we apologise for the delay; the new date is at the link below",
        )
    } else {
        (to.label(true), to.label(false))
    };
    let subject = format!("Hồ sơ {code}: {vi} / Dossier {code}: {en}");
    let body = format!(
        "Xin chào {name},\n\nHồ sơ {code} của bạn: {vi}.{why}\nTra cứu (cần 4 số cuối điện thoại hoặc số định danh): {link}\n\n---\n\nHello {name},\n\nYour dossier {code}: {en}.{why}\nTrack it (with the last 4 digits of your phone or identification number): {link}\n",
    );
    Some(Mail {
        channel: "email",
        to: email.to_string(),
        subject,
        body,
    })
}

/// The `YYMMDD` of a dossier code: the day in Vietnam.
fn code_day(now: DateTime<Utc>) -> String {
    let local = to_local(now);
    format!(
        "{:02}{:02}{:02}",
        local.year() % 100,
        local.month(),
        local.day()
    )
}

async fn next_code(tx: &mut Tx<'_>, agency: &str, now: DateTime<Utc>) -> Result<String> {
    let day = code_day(now);
    let n: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO dossier_counters (agency_code, day, last) VALUES ($1, $2, 1) \
         ON CONFLICT (agency_code, day) DO UPDATE SET last = dossier_counters.last + 1 RETURNING last"
    ).bind(agency).bind(&day).fetch_one(c).await)?;
    Ok(format!("{agency}-{day}-{n:04}"))
}

/// One event of a dossier: who did what, from which status to which, with the details.
pub(crate) struct NewEvent<'a> {
    pub dossier: &'a str,
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub action: &'a str,
    pub from: Status,
    pub to: Status,
    pub comment: &'a str,
    pub data: Value,
}

impl NewEvent<'_> {
    /// The event as [`bulk::insert_events`] takes it, with a new id.
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": uuid::Uuid::now_v7().to_string(), "dossier": self.dossier, "at": bulk::ts(&self.at),
            "actor": self.actor, "action": self.action, "from": self.from.as_str(), "to": self.to.as_str(),
            "comment": self.comment, "data": self.data,
        })
    }

    /// The audit entry that records the event: action, subject and data.
    fn audit(self) -> (String, String, Value) {
        (
            format!("dossier.{}", self.action),
            format!("dossier/{}", self.dossier),
            json!({ "from": self.from.as_str(), "to": self.to.as_str(), "detail": self.data }),
        )
    }
}

/// Writes `e` and chains its audit entry, in `tx`.
async fn event(tx: &mut Tx<'_>, e: NewEvent<'_>) -> Result<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO dossier_events (id, dossier_id, at, actor, action, from_status, to_status, comment, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ).bind(uuid::Uuid::now_v7().to_string()).bind(e.dossier).bind(e.at).bind(e.actor).bind(e.action)
    .bind(e.from.as_str()).bind(e.to.as_str()).bind(e.comment).bind(Json(&e.data)).execute(c).await.map(|_| ()))?;
    let (at, actor) = (e.at, e.actor);
    let (action, subject, data) = e.audit();
    audit::append(
        tx,
        at,
        &Entry {
            actor,
            action: &action,
            subject: &subject,
            data,
        },
    )
    .await?;
    Ok(())
}

/// An event left for the writer's group ([`event_later`]), as [`NewEvent::json`] makes it.
pub(crate) struct LaterEvent(Value);

/// An applicant's notice left for the group's commit ([`Mail::json`]), written with the other
/// writers' notices in one statement.
pub(crate) struct LaterMail(Value);

/// The same in a writer's turn: the event is written with the events of the group's other
/// writers, and its audit entry chained with theirs, just before the group commits (and not
/// at all if the writer gives up). The dossier's outbox row, made when the event is written,
/// shows the dossier as the group leaves it, which is as the writer left it: an action checks
/// the revision it read, so no other action of the group changes the same dossier.
fn event_later(w: &mut kernel::batch::Write, e: NewEvent<'_>) {
    w.later(Box::new(LaterEvent(e.json())));
    let (at, actor) = (e.at, e.actor);
    let (action, subject, data) = e.audit();
    w.audit_later(
        at,
        &Entry {
            actor,
            action: &action,
            subject: &subject,
            data,
        },
    );
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
    fn tet_weekends_and_swapped_days_move_the_appointment() {
        let cal = Calendar::shipped().unwrap_or_else(|_| Calendar::weekdays_only());
        let cutoff = NaiveTime::from_hms_opt(15, 0, 0).unwrap_or(NaiveTime::MIN);
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        // Friday before Tết 2026, after the cut-off: the weekend, Tết (16–20 Feb) and the next
        // weekend pass; counting starts Monday 23 Feb.
        assert_eq!(
            appointment(&cal, at("2026-02-13 16:00"), cutoff, 3),
            d(2026, 2, 26)
        );
        // Saturday 10 January 2026 was worked in exchange for Friday 2 January.
        assert_eq!(
            appointment(&cal, at("2026-01-09 10:00"), cutoff, 1),
            d(2026, 1, 10)
        );
        // New Year's Day and the swapped Friday after it.
        assert_eq!(
            appointment(&cal, at("2025-12-31 10:00"), cutoff, 1),
            d(2026, 1, 5)
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
