//! The reporting regime's pages: an official's list of reports to make, the form that makes
//! one (started from the one-stop figures), and the consolidation where the level above
//! approves or returns them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, FromRef, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;
use web::{Chrome, PageError, Site, render};

use identity::Principal;
use identity::web::Auth;

use crate::error::invalid;
use crate::pages::{login_first, session_of};
use crate::regime::{
    Consolidation, Decision, Field, Kind, NewSubmission, ReportPeriod, Submission, Template,
};
use crate::{ReportError, Reports, Scope};

/// The reporting regime's pages.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Reports>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
    Site: FromRef<S>,
{
    axum::Router::new()
        .route("/bao-cao", get(list_page))
        .route("/bao-cao/lap", get(form_page).post(form_post))
        .route("/bao-cao/tong-hop", get(consolidation_page))
        .route("/bao-cao/quyet-dinh", post(decision_post))
}

fn enc(s: &str) -> String {
    web::layout::encode_component(s)
}

fn status_label(s: Option<&Submission>, vi: bool) -> &'static str {
    match (s.map(|s| s.status.as_str()), vi) {
        (None, true) => "Chưa nộp",
        (None, false) => "Not submitted",
        (Some("submitted"), true) => "Chờ duyệt",
        (Some("submitted"), false) => "Awaiting approval",
        (Some("approved"), true) => "Đã duyệt",
        (Some("approved"), false) => "Approved",
        (Some("returned"), true) => "Bị trả lại",
        (Some("returned"), false) => "Returned",
        (Some(_), true) => "Đã thay thế",
        (Some(_), false) => "Superseded",
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => crate::pages::number(x as i64),
            Some(x) => format!("{x:.2}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .replace('.', ","),
            None => n.to_string(),
        },
        Some(other) => other.to_string(),
    }
}

/// The period an agency is asked for now: last period until its deadline has passed, then
/// the one running.
fn due_period(t: &Template, today: chrono::NaiveDate) -> Result<ReportPeriod, ReportError> {
    let (f, d) = (t.spec.frequency, t.spec.deadline_day);
    let current = ReportPeriod::containing(today, f, d)?;
    let previous = current.previous(f, d)?;
    Ok(if today <= previous.deadline {
        previous
    } else {
        current
    })
}

/// One line of an official's list.
struct Row {
    template: Template,
    agency: String,
    agency_name: String,
    period: ReportPeriod,
    latest: Option<Submission>,
}

#[derive(askama::Template)]
#[template(path = "regime_list.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<Row>,
    /// Consolidations the caller may open: (template, its name, the query).
    overviews: Vec<(String, String, String)>,
    today: chrono::NaiveDate,
}

impl ListPage {
    fn status(&self, s: &Option<Submission>) -> &'static str {
        status_label(s.as_ref(), self.c.lang.is_vi())
    }
    fn q(&self, r: &Row) -> String {
        format!(
            "template={}&agency={}&period={}",
            enc(&r.template.spec.code),
            enc(&r.agency),
            enc(&r.period.key)
        )
    }
}

async fn list_page(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    c: Chrome,
) -> Result<Response, PageError> {
    let Some((p, _)) = session_of(&auth) else {
        return Ok(login_first(&c));
    };
    let templates = match r.templates().await {
        Ok(t) => t,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let today = r.today();
    let mut rows = Vec::new();
    let mut overviews = Vec::new();
    // The agencies the caller makes reports for: those they lead or administer.
    let own: Vec<String> = p
        .grants
        .iter()
        .filter_map(|g| g.agency.clone())
        .filter(|a| r.may_write(&p, Some(a)))
        .collect();
    for t in templates {
        let period = match due_period(&t, today) {
            Ok(x) => x,
            Err(e) => return Err(PageError::new(e, c)),
        };
        for a in t.agencies.iter().filter(|a| own.contains(a)) {
            let latest = match r.versions_of(&t.spec.code, a, &period.key).await {
                Ok(v) => v.into_iter().next(),
                Err(e) => return Err(PageError::new(e, c)),
            };
            rows.push(Row {
                agency_name: r.agency_name(a),
                agency: a.clone(),
                template: t.clone(),
                period: period.clone(),
                latest,
            });
        }
        let scope = if r.may_read(&p, &Scope::National) {
            Some(String::new())
        } else {
            r.provinces(true)
                .keys()
                .find(|pr| {
                    r.may_read(
                        &p,
                        &Scope::Province {
                            code: pr.to_string(),
                        },
                    )
                })
                .map(|pr| format!("&province={}", enc(pr)))
        };
        if let Some(s) = scope {
            overviews.push((
                t.spec.code.clone(),
                t.spec.name.clone(),
                format!(
                    "template={}&period={}{s}",
                    enc(&t.spec.code),
                    enc(&period.key)
                ),
            ));
        }
    }
    Ok(render(&ListPage {
        c,
        rows,
        overviews,
        today,
    }))
}

#[derive(Debug, Default, Deserialize)]
struct FormQuery {
    template: Option<String>,
    agency: Option<String>,
    period: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "regime_form.html")]
struct FormPage {
    c: Chrome,
    csrf: String,
    t: Template,
    agency: String,
    agency_name: String,
    period: ReportPeriod,
    /// What the boxes hold: typed, the latest version's, or the one-stop figures.
    shown: HashMap<String, String>,
    /// Derived values, as last computed.
    derived: BTreeMap<String, Value>,
    versions: Vec<Submission>,
    errors: Vec<String>,
    saved: bool,
    /// Where the form started from: `latest`, `figures` or `typed`.
    origin: &'static str,
}

impl FormPage {
    fn box_value(&self, code: &str) -> String {
        self.shown.get(code).cloned().unwrap_or_default()
    }
    fn derived_value(&self, code: &str) -> String {
        show(self.derived.get(code))
    }
    fn status(&self, s: &Submission) -> &'static str {
        status_label(Some(s), self.c.lang.is_vi())
    }
    fn name<'a>(&self, f: &'a Field) -> &'a str {
        if self.c.lang.is_vi() || f.name_en.is_empty() {
            &f.name
        } else {
            &f.name_en
        }
    }
    fn input_mode(&self, f: &Field) -> &'static str {
        match f.kind {
            Kind::Integer => "numeric",
            _ => "decimal",
        }
    }
    fn is_text(&self, f: &Field) -> bool {
        f.kind == Kind::Text
    }
}

fn to_box(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string().replace('.', ","),
        other => other.to_string(),
    }
}

/// The form's template, agency and period, for a caller who may submit for the agency.
async fn target(
    r: &Reports,
    p: &Principal,
    template: Option<&str>,
    agency: Option<&str>,
    period: Option<&str>,
) -> Result<(Template, String, ReportPeriod), ReportError> {
    let t = r
        .template(template.map(str::trim).unwrap_or(""), None)
        .await?;
    let agency = agency
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| invalid("agency", "Hãy chọn cơ quan", "Choose the agency"))?
        .to_string();
    r.known(&Scope::Agency {
        code: agency.clone(),
    })?;
    if !r.may_submit(p, &agency).await? {
        r.refuse_write(p, &agency).await?;
    }
    let period = match period.map(str::trim).filter(|s| !s.is_empty()) {
        Some(k) => ReportPeriod::parse(k, t.spec.frequency, t.spec.deadline_day)?,
        None => due_period(&t, r.today())?,
    };
    Ok((t, agency, period))
}

async fn form_view(
    r: &Reports,
    c: Chrome,
    csrf: String,
    (t, agency, period): (Template, String, ReportPeriod),
) -> Result<FormPage, PageError> {
    let versions = match r.versions_of(&t.spec.code, &agency, &period.key).await {
        Ok(v) => v,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let (values, origin) = match versions.first() {
        Some(s) => (s.values.clone(), "latest"),
        None => match r.prefill(&t, &agency, &period).await {
            Ok(v) => (v, "figures"),
            Err(e) => return Err(PageError::new(e, c)),
        },
    };
    let shown = t
        .spec
        .fields
        .iter()
        .filter(|f| f.formula.is_none())
        .map(|f| {
            (
                f.code.clone(),
                values.get(&f.code).map(to_box).unwrap_or_default(),
            )
        })
        .collect();
    Ok(FormPage {
        agency_name: r.agency_name(&agency),
        c,
        csrf,
        t,
        agency,
        period,
        shown,
        derived: values,
        versions,
        errors: Vec::new(),
        saved: false,
        origin,
    })
}

async fn form_page(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<FormQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&c));
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let target = match target(
        &r,
        &p,
        q.template.as_deref(),
        q.agency.as_deref(),
        q.period.as_deref(),
    )
    .await
    {
        Ok(x) => x,
        Err(e) => return Err(PageError::new(e, c)),
    };
    Ok(render(&form_view(&r, c, csrf, target).await?))
}

async fn form_post(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&c));
    };
    let Ok(Form(f)) = form else {
        return Err(PageError::new(
            invalid("form", "Biểu mẫu không đọc được", "The form cannot be read"),
            c,
        ));
    };
    if !f.get("csrf").is_some_and(|t| identity::same(t, &csrf)) {
        return Err(PageError::new(identity::IdentityError::Csrf, c));
    }
    let get = |k: &str| f.get(k).map(String::as_str);
    let (t, agency, period) =
        match target(&r, &p, get("template"), get("agency"), get("period")).await {
            Ok(x) => x,
            Err(e) => return Err(PageError::new(e, c)),
        };
    let values: BTreeMap<String, Value> = t
        .spec
        .fields
        .iter()
        .filter(|x| x.formula.is_none())
        .map(|x| {
            let typed = f.get(&format!("v.{}", x.code)).cloned().unwrap_or_default();
            (x.code.clone(), Value::String(typed))
        })
        .collect();
    let submitted = r
        .submit(
            &p,
            NewSubmission {
                template: t.spec.code.clone(),
                agency: agency.clone(),
                period: period.key.clone(),
                values: values.clone(),
            },
        )
        .await;
    let vi = c.lang.is_vi();
    match submitted {
        Ok(_) => {
            let mut page = form_view(&r, c, csrf, (t, agency, period)).await?;
            page.saved = true;
            Ok(render(&page))
        }
        Err(ReportError::Invalid(list)) => {
            let mut page = form_view(&r, c, csrf, (t, agency, period)).await?;
            page.shown = values
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or("").to_string()))
                .collect();
            page.origin = "typed";
            page.errors = list
                .into_iter()
                .map(|d| if vi { d.vi } else { d.en })
                .collect();
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ConsolidationQuery {
    template: Option<String>,
    period: Option<String>,
    province: Option<String>,
    agency: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "regime_consolidation.html")]
struct ConsolidationPage {
    c: Chrome,
    csrf: String,
    x: Consolidation,
    title: String,
    /// The reports this caller may decide on, by id.
    decides: Vec<String>,
    here: String,
    previous: String,
}

impl ConsolidationPage {
    fn status(&self, s: &Option<Submission>) -> &'static str {
        status_label(s.as_ref(), self.c.lang.is_vi())
    }
    fn value(&self, code: &str) -> String {
        show(self.x.values.get(code))
    }
    fn may_decide(&self, s: &Submission) -> bool {
        s.status == "submitted" && self.decides.contains(&s.id)
    }
    fn name<'a>(&self, f: &'a Field) -> &'a str {
        if self.c.lang.is_vi() || f.name_en.is_empty() {
            &f.name
        } else {
            &f.name_en
        }
    }
}

async fn consolidation_page(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<ConsolidationQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&c));
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let scope = match Scope::from_query(q.province.as_deref(), q.agency.as_deref(), None) {
        Ok(s) => s,
        Err(e) => return Err(PageError::new(e, c)),
    };
    if let Err(e) = r.allow(&p, &scope).await {
        return Err(PageError::new(e, c));
    }
    let template = q.template.as_deref().unwrap_or("").trim().to_string();
    let t = match r.template(&template, None).await {
        Ok(t) => t,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let period = match q.period.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(k) => k.to_string(),
        None => match due_period(&t, r.today()) {
            Ok(x) => x.key,
            Err(e) => return Err(PageError::new(e, c)),
        },
    };
    let x = match r.consolidate(&template, &period, &scope).await {
        Ok(x) => x,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let decides = x
        .agencies
        .iter()
        .filter_map(|a| a.latest.as_ref())
        .filter(|s| r.may_decide(&p, &s.agency))
        .map(|s| s.id.clone())
        .collect();
    let vi = c.lang.is_vi();
    let title = match &scope {
        Scope::National => if vi { "Toàn quốc" } else { "Whole country" }.to_string(),
        Scope::Province { code } => r.provinces(vi).get(code).cloned().unwrap_or(code.clone()),
        Scope::Agency { code } | Scope::Procedure { agency: code, .. } => r.agency_name(code),
    };
    let scope_q = match &scope {
        Scope::National => String::new(),
        Scope::Province { code } => format!("&province={}", enc(code)),
        Scope::Agency { code } | Scope::Procedure { agency: code, .. } => {
            format!("&agency={}", enc(code))
        }
    };
    let previous = x
        .period
        .previous(t.spec.frequency, t.spec.deadline_day)
        .map(|pr| {
            format!(
                "template={}&period={}{scope_q}",
                enc(&template),
                enc(&pr.key)
            )
        })
        .unwrap_or_default();
    let here = format!(
        "template={}&period={}{scope_q}",
        enc(&template),
        enc(&x.period.key)
    );
    Ok(render(&ConsolidationPage {
        c,
        csrf,
        x,
        title,
        decides,
        here,
        previous,
    }))
}

async fn decision_post(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    c: Chrome,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&c));
    };
    let Ok(Form(f)) = form else {
        return Err(PageError::new(
            invalid("form", "Biểu mẫu không đọc được", "The form cannot be read"),
            c,
        ));
    };
    if !f.get("csrf").is_some_and(|t| identity::same(t, &csrf)) {
        return Err(PageError::new(identity::IdentityError::Csrf, c));
    }
    let id = f.get("id").cloned().unwrap_or_default();
    let d = Decision {
        decision: f.get("decision").cloned().unwrap_or_default(),
        comment: f.get("comment").cloned().unwrap_or_default(),
    };
    match r.decide(&p, &id, d).await {
        Ok(_) => {
            // Back to where the decision was taken, a path of this site only.
            let back = f
                .get("back")
                .filter(|b| b.starts_with("template=") && !b.contains("//"))
                .cloned()
                .unwrap_or_default();
            Ok(Redirect::to(&format!("/bao-cao/tong-hop?{back}")).into_response())
        }
        Err(e) => Err(PageError::new(e, c)),
    }
}
