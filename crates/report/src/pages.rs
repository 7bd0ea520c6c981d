//! Report pages: the command centre's dashboard (country → province → agency → procedure,
//! any period) and the public transparency page with the rankings.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRef, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{Datelike, Duration, NaiveDate};
use web::{Chrome, PageError, Site, render};

use identity::web::Auth;

use crate::api::FiguresQuery;
use crate::{Figures, Line, OverdueLine, Period, ReportError, Reports, Scope, chart};

/// The report pages.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Reports>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
    Site: FromRef<S>,
{
    axum::Router::new()
        .route("/dieu-hanh", get(dashboard))
        .route("/cong-khai", get(transparency))
        .merge(crate::index_pages::routes())
        .merge(crate::regime_pages::routes())
}

/// Sends a caller without a session to log in, and back here after.
pub(crate) fn login_first(c: &Chrome) -> Response {
    Redirect::to(&format!(
        "/dang-nhap?next={}",
        web::layout::encode_component(&c.here)
    ))
    .into_response()
}

/// The caller of a page with a browser session, and the session's CSRF token.
pub(crate) fn session_of(auth: &Auth) -> Option<(identity::Principal, String)> {
    match (auth.principal(), &auth.session) {
        (Some(p), Some(s)) => Some((p.clone(), s.csrf.clone())),
        _ => None,
    }
}

/// A link to the dashboard at a scope, keeping the period.
fn href(scope: &Scope, period: &Period) -> String {
    let mut q = vec![
        format!("from={}", period.from.format("%Y-%m-%d")),
        format!("to={}", period.to.format("%Y-%m-%d")),
    ];
    match scope {
        Scope::National => {}
        Scope::Province { code } => {
            q.push(format!("province={}", web::layout::encode_component(code)))
        }
        Scope::Agency { code } => q.push(format!("agency={}", web::layout::encode_component(code))),
        Scope::Procedure { agency, code } => {
            q.push(format!("agency={}", web::layout::encode_component(agency)));
            q.push(format!("procedure={}", web::layout::encode_component(code)));
        }
    }
    q.join("&")
}

/// Ready-made periods ending today.
fn presets(today: NaiveDate, vi: bool) -> Vec<(String, Period)> {
    let month = crate::rollup::month_of(today);
    let quarter =
        NaiveDate::from_ymd_opt(today.year(), (today.month0() / 3) * 3 + 1, 1).unwrap_or(month);
    let year = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(month);
    let pick = |a: &str, b: &str| if vi { a.to_string() } else { b.to_string() };
    vec![
        (
            pick("Tháng này", "This month"),
            Period {
                from: month,
                to: today,
            },
        ),
        (
            pick("Quý này", "This quarter"),
            Period {
                from: quarter,
                to: today,
            },
        ),
        (
            pick("Năm nay", "This year"),
            Period {
                from: year,
                to: today,
            },
        ),
        (
            pick("12 tháng qua", "Last 12 months"),
            Period {
                from: today - Duration::days(364),
                to: today,
            },
        ),
    ]
}

fn pct(r: Option<f64>) -> String {
    r.map(|x| format!("{x:.2}%")).unwrap_or_else(|| "—".into())
}

pub(crate) fn number(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    c: Chrome,
    f: Figures,
    crumbs: Vec<(String, String)>,
    /// Each line's link one level down, in the order of `f.children`.
    links: Vec<Option<String>>,
    presets: Vec<(String, String)>,
    here: String,
    series_svg: String,
    ranking_svg: String,
    overdue: Vec<OverdueLine>,
}

impl DashboardPage {
    fn pct(&self, r: &Option<f64>) -> String {
        pct(*r)
    }
    fn num(&self, n: impl std::borrow::Borrow<i64>) -> String {
        number(*n.borrow())
    }
    fn child_heading(&self) -> &'static str {
        match (self.f.children_kind.as_deref(), self.c.lang.is_vi()) {
            (Some("province"), true) => "Xếp hạng tỉnh, thành phố theo tỷ lệ giải quyết đúng hạn",
            (Some("province"), false) => "Provinces ranked by on-time share",
            (Some("agency"), true) => "Xếp hạng cơ quan theo tỷ lệ giải quyết đúng hạn",
            (Some("agency"), false) => "Agencies ranked by on-time share",
            (_, true) => "Thủ tục hành chính",
            (_, false) => "Procedures",
        }
    }
    fn link(&self, i: &usize) -> Option<String> {
        self.links.get(*i).cloned().flatten()
    }
}

fn crumbs(r: &Reports, scope: &Scope, period: &Period, vi: bool) -> Vec<(String, String)> {
    let mut out = vec![(
        if vi { "Toàn quốc" } else { "Whole country" }.to_string(),
        href(&Scope::National, period),
    )];
    let lookup_name = |a: &str| {
        r.catalog
            .lookup()
            .agencies
            .get(a)
            .map(|x| x.spec.name.clone())
            .unwrap_or_else(|| a.to_string())
    };
    let province = |code: &str| {
        (
            r.provinces(vi)
                .get(code)
                .cloned()
                .unwrap_or_else(|| code.to_string()),
            href(
                &Scope::Province {
                    code: code.to_string(),
                },
                period,
            ),
        )
    };
    match scope {
        Scope::National => {}
        Scope::Province { code } => out.push(province(code)),
        Scope::Agency { code } | Scope::Procedure { agency: code, .. } => {
            if let Some(p) = r.province_of(code) {
                out.push(province(&p));
            }
            out.push((
                lookup_name(code),
                href(&Scope::Agency { code: code.clone() }, period),
            ));
            if let Scope::Procedure { agency, code } = scope {
                out.push((
                    code.clone(),
                    href(
                        &Scope::Procedure {
                            agency: agency.clone(),
                            code: code.clone(),
                        },
                        period,
                    ),
                ));
            }
        }
    }
    out
}

/// The scope a caller lands on when none is asked for: the country if they may see it, else
/// the first agency they lead.
fn landing(r: &Reports, p: &identity::Principal) -> Option<Scope> {
    if r.may_read(p, &Scope::National) {
        return Some(Scope::National);
    }
    p.grants
        .iter()
        .filter_map(|g| g.agency.clone())
        .map(|code| Scope::Agency { code })
        .find(|s| r.may_read(p, s))
}

async fn dashboard(
    State(r): State<Arc<Reports>>,
    auth: Auth,
    c: Chrome,
    q: Result<Query<FiguresQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some(p) = auth.principal().cloned() else {
        return Ok(Redirect::to(&format!(
            "/dang-nhap?next={}",
            web::layout::encode_component(&c.here)
        ))
        .into_response());
    };
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => {
            return Err(PageError::new(
                crate::error::invalid(
                    "query",
                    format!("Tham số không hợp lệ: {}", e.body_text()),
                    format!("Invalid parameters: {}", e.body_text()),
                ),
                c,
            ));
        }
    };
    let scope = match q.scope() {
        Ok(Scope::National)
            if q.province.is_none() && q.agency.is_none() && !r.may_read(&p, &Scope::National) =>
        {
            match landing(&r, &p) {
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
        Ok(s) => s,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let period = match q.period(&r) {
        Ok(x) => x,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let f = match r.figures_for(Some(&p), &scope, period).await {
        Ok(f) => f,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let overdue = match r.overdue_for(Some(&p), &scope, 20).await {
        Ok(o) => o,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let vi = c.lang.is_vi();
    let links = f
        .children
        .iter()
        .map(|l| {
            let s = match &scope {
                Scope::National => Some(Scope::Province {
                    code: l.code.clone(),
                }),
                Scope::Province { .. } => Some(Scope::Agency {
                    code: l.code.clone(),
                }),
                Scope::Agency { code } => Some(Scope::Procedure {
                    agency: code.clone(),
                    code: l.code.clone(),
                }),
                Scope::Procedure { .. } => None,
            };
            s.filter(|s| r.may_read(&p, s)).map(|s| href(&s, &period))
        })
        .collect();
    let series_svg = chart::series(&f.series, f.granularity == "day", vi).unwrap_or_default();
    let ranking_svg = if f.children_kind.as_deref() == Some("procedure") {
        String::new()
    } else {
        chart::ranking(&f.children).unwrap_or_default()
    };
    let presets = presets(r.today(), vi)
        .into_iter()
        .map(|(name, per)| (name, href(&scope, &per)))
        .collect();
    let here = href(&scope, &period);
    Ok(render(&DashboardPage {
        crumbs: crumbs(&r, &scope, &period, vi),
        c,
        f,
        links,
        presets,
        here,
        series_svg,
        ranking_svg,
        overdue,
    }))
}

#[derive(Template)]
#[template(path = "transparency.html")]
struct TransparencyPage {
    c: Chrome,
    f: Figures,
    index: crate::index::IndexFigures,
    agencies: Vec<Line>,
    presets: Vec<(String, String)>,
    ranking_svg: String,
}

impl TransparencyPage {
    fn pct(&self, r: &Option<f64>) -> String {
        pct(*r)
    }
    fn pts(&self, x: &Option<f64>) -> String {
        x.map(|v| format!("{v:.2}").replace('.', ","))
            .unwrap_or_else(|| "—".into())
    }
    fn num(&self, n: impl std::borrow::Borrow<i64>) -> String {
        number(*n.borrow())
    }
}

async fn transparency(
    State(r): State<Arc<Reports>>,
    c: Chrome,
    q: Result<Query<FiguresQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let period = match q.period(&r) {
        Ok(x) => x,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let public = match r.public(period).await {
        Ok(x) => x,
        Err(e) => return Err(PageError::new(e, c)),
    };
    let crate::Public {
        national: f,
        mut agencies,
        index,
    } = crate::Public::clone(&public);
    agencies.truncate(200);
    let vi = c.lang.is_vi();
    let ranking_svg = chart::ranking(&f.children).unwrap_or_default();
    let presets = presets(r.today(), vi)
        .into_iter()
        .map(|(name, per)| {
            (
                name,
                format!(
                    "from={}&to={}",
                    per.from.format("%Y-%m-%d"),
                    per.to.format("%Y-%m-%d")
                ),
            )
        })
        .collect();
    Ok(render(&TransparencyPage {
        c,
        f,
        index,
        agencies,
        presets,
        ranking_svg,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_the_vietnamese_way() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1000), "1.000");
        assert_eq!(number(-1234567), "-1.234.567");
    }
}
