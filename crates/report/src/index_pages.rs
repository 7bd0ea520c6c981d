//! The citizen-service index pages: the index of the country, a province or an agency with
//! its history; the form where an agency enters the shares nobody else measures; the
//! versions of the definition, and the form a national operator changes the points with.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, FromRef, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use web::{Chrome, PageError, Site, render};

use identity::Principal;
use identity::web::Auth;

use crate::api::FiguresQuery;
use crate::error::invalid;
use crate::index::{
    Definition, EnterValues, Entered, IndexFigures, Measure, NewVersion, Version, parse_month,
};
use crate::pages::{login_first, session_of};
use crate::{Period, ReportError, Reports, Scope, chart};

/// The index pages.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Reports>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
    Site: FromRef<S>,
{
    axum::Router::new()
        .route("/dieu-hanh/chi-so", get(index_page))
        .route("/dieu-hanh/chi-so/nhap", get(inputs_page).post(inputs_post))
        .route(
            "/dieu-hanh/chi-so/bo-chi-so",
            get(versions_page).post(versions_post),
        )
}

fn bad_query(e: QueryRejection) -> ReportError {
    invalid(
        "query",
        format!("Tham số không hợp lệ: {}", e.body_text()),
        format!("Invalid parameters: {}", e.body_text()),
    )
}

pub(crate) fn measure_label(m: Measure, vi: bool) -> &'static str {
    match (m, vi) {
        (Measure::OnTimeShare, true) => "Tự động: tỷ lệ giải quyết trước hạn, đúng hạn",
        (Measure::OnTimeShare, false) => "Measured: resolved early or on time",
        (Measure::OnlineShare, true) => "Tự động: tỷ lệ tiếp nhận trực tuyến",
        (Measure::OnlineShare, false) => "Measured: received online",
        (Measure::OnlinePaymentShare, true) => "Tự động: tỷ lệ thanh toán trực tuyến",
        (Measure::OnlinePaymentShare, false) => "Measured: fees paid online",
        (Measure::ServiceSatisfaction, true) => "Tự động: 1 − tỷ lệ trễ hạn − tỷ lệ không hài lòng",
        (Measure::ServiceSatisfaction, false) => "Measured: 1 − late share − dissatisfied share",
        (Measure::RatedSatisfiedShare, true) => "Tự động: tỷ lệ đánh giá hài lòng",
        (Measure::RatedSatisfiedShare, false) => "Measured: rated satisfied",
        (Measure::Manual, true) => "Cơ quan nhập theo tháng",
        (Measure::Manual, false) => "Entered by the agency each month",
    }
}

fn points(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.replace('.', ",")
}

fn href(scope: &Scope, period: &Period) -> String {
    let mut q = vec![
        format!("from={}", period.from.format("%Y-%m-%d")),
        format!("to={}", period.to.format("%Y-%m-%d")),
    ];
    match scope {
        Scope::Province { code } => {
            q.push(format!("province={}", web::layout::encode_component(code)))
        }
        Scope::Agency { code } | Scope::Procedure { agency: code, .. } => {
            q.push(format!("agency={}", web::layout::encode_component(code)))
        }
        Scope::National => {}
    }
    q.join("&")
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    c: Chrome,
    x: IndexFigures,
    crumbs: Vec<(String, String)>,
    links: Vec<Option<String>>,
    here: String,
    history_svg: String,
    /// The form to enter shares, for an agency's writer.
    enter: Option<String>,
}

impl IndexPage {
    fn pts(&self, x: &f64) -> String {
        points(*x)
    }
    fn opt(&self, x: &Option<f64>) -> String {
        x.map(points).unwrap_or_else(|| "—".into())
    }
    fn share(&self, x: &Option<f64>) -> String {
        x.map(|v| format!("{}%", points(v)))
            .unwrap_or_else(|| "—".into())
    }
    fn measure(&self, m: &Measure) -> &'static str {
        measure_label(*m, self.c.lang.is_vi())
    }
    fn link(&self, i: &usize) -> Option<String> {
        self.links.get(*i).cloned().flatten()
    }
    fn name<'a>(&self, vi: &'a str, en: &'a str) -> &'a str {
        if self.c.lang.is_vi() || en.is_empty() {
            vi
        } else {
            en
        }
    }
}

async fn index_page(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<FiguresQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(login_first(&c));
    };
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return Err(PageError::new(bad_query(e), c)),
    };
    let asked = match q.scope() {
        Ok(s) => s,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let scope = match asked {
        Scope::National if !r.may_read(&p, &Scope::National) => {
            let own = p
                .grants
                .iter()
                .filter_map(|g| g.agency.clone())
                .map(|code| Scope::Agency { code })
                .find(|s| r.may_read(&p, s));
            match own {
                Some(s) => s,
                None => {
                    let e = r
                        .refuse(&p, &Scope::National)
                        .await
                        .err()
                        .unwrap_or(ReportError::Forbidden);
                    return Err(PageError::new(e, c));
                }
            }
        }
        s => s,
    };
    let period = match q.period(&r) {
        Ok(x) => x,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let x = match r.index_for(Some(&p), &scope, period).await {
        Ok(x) => x,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let vi = c.lang.is_vi();
    let links = x
        .children
        .iter()
        .map(|l| {
            let s = match &scope {
                Scope::National => Scope::Province {
                    code: l.code.clone(),
                },
                _ => Scope::Agency {
                    code: l.code.clone(),
                },
            };
            r.may_read(&p, &s).then(|| href(&s, &period))
        })
        .collect();
    let mut crumbs = vec![(
        if vi { "Toàn quốc" } else { "Whole country" }.to_string(),
        href(&Scope::National, &period),
    )];
    if let Scope::Province { code } | Scope::Agency { code } = &scope {
        let province = match &scope {
            Scope::Agency { code } => r.province_of(code),
            _ => Some(code.clone()),
        };
        if let Some(pr) = province {
            crumbs.push((
                r.provinces(vi).get(&pr).cloned().unwrap_or(pr.clone()),
                href(&Scope::Province { code: pr }, &period),
            ));
        }
        if let Scope::Agency { .. } = &scope {
            crumbs.push((x.title.clone(), href(&scope, &period)));
        }
    }
    let enter = match &scope {
        Scope::Agency { code } if r.may_write(&p, Some(code)) => Some(format!(
            "agency={}&month={}",
            web::layout::encode_component(code),
            period.to.format("%Y-%m")
        )),
        _ => None,
    };
    let history_svg = chart::index_history(&x.history, x.definition.definition.max_points, vi)
        .unwrap_or_default();
    Ok(render(&IndexPage {
        here: href(&scope, &period),
        c,
        x,
        crumbs,
        links,
        history_svg,
        enter,
    }))
}

/// Which agency and month the form is for.
#[derive(Debug, Default, Deserialize)]
struct InputsQuery {
    agency: Option<String>,
    month: Option<String>,
}

#[derive(Template)]
#[template(path = "index_inputs.html")]
struct InputsPage {
    c: Chrome,
    csrf: String,
    agency_name: String,
    e: Entered,
    /// What was typed, when the form comes back with problems.
    kept: HashMap<String, String>,
    errors: Vec<String>,
    saved: bool,
}

impl InputsPage {
    fn value(&self, code: &str, rate: &Option<f64>) -> String {
        match self.kept.get(code) {
            Some(v) => v.clone(),
            None => rate.map(points).unwrap_or_default(),
        }
    }
    fn name<'a>(&self, vi: &'a str, en: &'a str) -> &'a str {
        if self.c.lang.is_vi() || en.is_empty() {
            vi
        } else {
            en
        }
    }
}

async fn inputs_target(
    r: &Reports,
    p: &Principal,
    agency: Option<&str>,
    month: Option<&str>,
) -> Result<(String, chrono::NaiveDate), ReportError> {
    let agency = agency
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| invalid("agency", "Hãy chọn cơ quan", "Choose the agency"))?;
    let month = match month.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => parse_month(m)?,
        None => crate::rollup::month_of(r.today()),
    };
    r.allow_write(p, Some(agency)).await?;
    Ok((agency.to_string(), month))
}

async fn inputs_page(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<InputsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some((p, csrf)) = session_of(&auth) else {
        return Ok(login_first(&c));
    };
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return Err(PageError::new(bad_query(e), c)),
    };
    let (agency, month) = match inputs_target(&r, &p, q.agency.as_deref(), q.month.as_deref()).await
    {
        Ok(x) => x,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let e = match r.entered(&agency, month).await {
        Ok(e) => e,
        Err(e) => return Err(PageError::new(e, c)),
    };
    Ok(render(&InputsPage {
        agency_name: r.agency_name(&agency),
        c,
        csrf,
        e,
        kept: HashMap::new(),
        errors: Vec::new(),
        saved: false,
    }))
}

async fn inputs_post(
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
    let (agency, month) = match inputs_target(
        &r,
        &p,
        f.get("agency").map(String::as_str),
        f.get("month").map(String::as_str),
    )
    .await
    {
        Ok(x) => x,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let current = match r.entered(&agency, month).await {
        Ok(e) => e,
        Err(e) => return Err(PageError::new(e, c)),
    };
    // Every manual indicator of the form: a number sets it, an empty box clears it.
    let mut values = BTreeMap::new();
    let mut errors = Vec::new();
    let mut kept = HashMap::new();
    let vi = c.lang.is_vi();
    for v in &current.values {
        let typed = f
            .get(&format!("v.{}", v.code))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        kept.insert(v.code.clone(), typed.clone());
        if typed.is_empty() {
            if v.rate.is_some() {
                values.insert(v.code.clone(), None);
            }
            continue;
        }
        match typed.replace(',', ".").parse::<f64>() {
            Ok(x) => {
                values.insert(v.code.clone(), Some(x));
            }
            Err(_) => errors.push(if vi {
                format!("{}: \u{201c}{typed}\u{201d} không phải là số", v.code)
            } else {
                format!("{}: \u{201c}{typed}\u{201d} is not a number", v.code)
            }),
        }
    }
    if errors.is_empty() && values.is_empty() {
        let e = current;
        return Ok(render(&InputsPage {
            agency_name: r.agency_name(&agency),
            c,
            csrf,
            e,
            kept: HashMap::new(),
            errors: Vec::new(),
            saved: true,
        }));
    }
    if errors.is_empty() {
        match r
            .enter(
                &p.id,
                EnterValues {
                    agency: agency.clone(),
                    month: month.format("%Y-%m").to_string(),
                    values,
                },
            )
            .await
        {
            Ok(e) => {
                return Ok(render(&InputsPage {
                    agency_name: r.agency_name(&agency),
                    c,
                    csrf,
                    e,
                    kept: HashMap::new(),
                    errors: Vec::new(),
                    saved: true,
                }));
            }
            Err(ReportError::Invalid(list)) => {
                errors.extend(list.into_iter().map(|d| if vi { d.vi } else { d.en }));
            }
            Err(e) => return Err(PageError::new(e, c)),
        }
    }
    let page = InputsPage {
        agency_name: r.agency_name(&agency),
        c,
        csrf,
        e: current,
        kept,
        errors,
        saved: false,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "index_versions.html")]
struct VersionsPage {
    c: Chrome,
    versions: Vec<Version>,
    /// The latest version, which the form starts from.
    latest: Option<Version>,
    /// The form, for those who may change the definition.
    csrf: Option<String>,
    kept: HashMap<String, String>,
    errors: Vec<String>,
    made: Option<i64>,
    today: String,
}

impl VersionsPage {
    fn pts(&self, x: &f64) -> String {
        points(*x)
    }
    fn value(&self, key: &str, default: String) -> String {
        self.kept.get(key).cloned().unwrap_or(default)
    }
    fn full(&self, x: &Option<f64>) -> String {
        x.map(|v| points(v * 100.0)).unwrap_or_else(|| "100".into())
    }
    fn measure(&self, m: &Measure) -> &'static str {
        measure_label(*m, self.c.lang.is_vi())
    }
    fn name<'a>(&self, vi: &'a str, en: &'a str) -> &'a str {
        if self.c.lang.is_vi() || en.is_empty() {
            vi
        } else {
            en
        }
    }
}

async fn versions_view(
    r: &Reports,
    p: Option<&Principal>,
    csrf: Option<String>,
    c: Chrome,
) -> Result<VersionsPage, PageError> {
    let versions = match r.index_versions().await {
        Ok(v) => v,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let latest = versions.iter().max_by_key(|v| v.version).cloned();
    Ok(VersionsPage {
        today: r.today().format("%Y-%m-%d").to_string(),
        csrf: csrf.filter(|_| p.is_some_and(|p| r.may_write(p, None))),
        versions,
        latest,
        c,
        kept: HashMap::new(),
        errors: Vec::new(),
        made: None,
    })
}

async fn versions_page(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    c: Chrome,
) -> Result<Response, PageError> {
    // The definition is public; the form is for those who may change it.
    let (p, csrf) = match session_of(&auth) {
        Some((p, csrf)) => (Some(p), Some(csrf)),
        None => (None, None),
    };
    Ok(render(&versions_view(&r, p.as_ref(), csrf, c).await?))
}

/// The definition the form describes: the latest version with the points and full shares
/// typed in; the problems with what could not be read.
fn definition_from_form(
    base: &Definition,
    f: &HashMap<String, String>,
    vi: bool,
) -> (Definition, Vec<String>) {
    let mut d = base.clone();
    let mut errors = Vec::new();
    let mut number = |key: &str, what: &str| -> Option<f64> {
        let typed = f.get(key).map(|s| s.trim()).unwrap_or("");
        match typed.replace(',', ".").parse::<f64>() {
            Ok(x) => Some(x),
            Err(_) => {
                errors.push(if vi {
                    format!("{what}: \u{201c}{typed}\u{201d} không phải là số")
                } else {
                    format!("{what}: \u{201c}{typed}\u{201d} is not a number")
                });
                None
            }
        }
    };
    let mut total = 0.0;
    for g in &mut d.groups {
        let mut sum = 0.0;
        for i in &mut g.indicators {
            if let Some(x) = number(&format!("p.{}", i.code), &i.code) {
                i.max_points = x;
            }
            if let Some(x) = number(&format!("f.{}", i.code), &i.code) {
                i.full_at = if (x - 100.0).abs() < 1e-9 {
                    None
                } else {
                    Some(x / 100.0)
                };
            }
            sum += i.max_points;
        }
        // A group is worth what its indicators are.
        g.max_points = (sum * 100.0).round() / 100.0;
        total += g.max_points;
    }
    d.max_points = (total * 100.0).round() / 100.0;
    (d, errors)
}

async fn versions_post(
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
    if let Err(e) = r.allow_write(&p, None).await {
        return Err(PageError::new(e, c));
    }
    let vi = c.lang.is_vi();
    let mut page = versions_view(&r, Some(&p), Some(csrf), c).await?;
    let Some(latest) = page.latest.clone() else {
        return Ok(render(&page));
    };
    let (definition, mut errors) = definition_from_form(&latest.definition, &f, vi);
    if errors.is_empty() {
        let new = NewVersion {
            effective_from: f.get("effective_from").cloned().unwrap_or_default(),
            note: f.get("note").cloned().unwrap_or_default(),
            definition,
        };
        match r.add_index_version(&p.id, new).await {
            Ok(v) => {
                page.made = Some(v.version);
                page.latest = Some(v.clone());
                page.versions.push(v);
                return Ok(render(&page));
            }
            Err(ReportError::Invalid(list)) => {
                errors.extend(list.into_iter().map(|d| if vi { d.vi } else { d.en }));
            }
            Err(e) => return Err(PageError::new(e, page.c)),
        }
    }
    page.kept = f.into_iter().filter(|(k, _)| k != "csrf").collect();
    page.errors = errors;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
}

impl Reports {
    /// An agency's name, or its code when unknown.
    pub fn agency_name(&self, code: &str) -> String {
        self.catalog
            .lookup()
            .agencies
            .get(code)
            .map(|a| a.spec.name.clone())
            .unwrap_or_else(|| code.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_read_the_vietnamese_way() {
        assert_eq!(points(20.0), "20");
        assert_eq!(points(4.5), "4,5");
        assert_eq!(points(67.11), "67,11");
    }

    #[test]
    fn the_form_makes_groups_worth_what_their_indicators_are() {
        let base = Definition::seed().unwrap_or_else(|e| panic!("{e}"));
        let mut f = HashMap::new();
        for i in base.indicators() {
            f.insert(format!("p.{}", i.code), format!("{}", i.max_points));
            f.insert(format!("f.{}", i.code), "100".to_string());
        }
        f.insert("p.2.1".into(), "25".into());
        f.insert("f.3.3".into(), "50".into());
        let (d, errors) = definition_from_form(&base, &f, true);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(d.groups[1].max_points, 25.0);
        assert_eq!(d.max_points, 105.0);
        assert_eq!(
            d.indicators()
                .find(|i| i.code == "3.3")
                .and_then(|i| i.full_at),
            Some(0.5)
        );
        f.insert("p.1.1".into(), "sáu".into());
        let (_, errors) = definition_from_form(&base, &f, true);
        assert_eq!(errors.len(), 1);
    }
}
