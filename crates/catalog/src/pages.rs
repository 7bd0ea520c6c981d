//! The catalogue's pages: home, search results with facets, a procedure, the agency
//! directory and an agency. Rendered on the server, in Vietnamese or English, usable on a
//! phone and without JavaScript.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRef, Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use web::{Chrome, PageError, Site, render};

use crate::api::{ProcedureView, filter_agencies, path_code, procedure_view, search_request};
use crate::model::{AgencyLevel, Audience, OnlineMode};
use crate::search::{FacetCount, SearchRequest, SearchResults};
use crate::store::AgencyRecord;
use crate::{Catalog, CatalogError};

/// The catalogue's page routes.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Catalog>: FromRef<S>,
    Site: FromRef<S>,
{
    Router::new()
        .route("/", get(home))
        .route("/thu-tuc", get(results))
        .route("/thu-tuc/{code}", get(procedure))
        .route("/co-quan", get(agencies))
        .route("/co-quan/{code}", get(agency))
}

/// Texts of the catalogue's pages.
pub struct Texts {
    pub home_title: &'static str,
    pub home_lead: &'static str,
    pub search_label: &'static str,
    pub search_example: &'static str,
    pub search_button: &'static str,
    pub popular: &'static str,
    pub by_field: &'static str,
    pub stats: &'static str,
    pub procedures: &'static str,
    pub agencies: &'static str,
    pub provinces: &'static str,
    pub results_title: &'static str,
    pub results_for: &'static str,
    pub no_results: &'static str,
    pub no_results_hint: &'static str,
    pub filter_field: &'static str,
    pub filter_province: &'static str,
    pub filter_level: &'static str,
    pub filter_audience: &'static str,
    pub filter_agency: &'static str,
    pub clear_filters: &'static str,
    pub prev: &'static str,
    pub next: &'static str,
    pub page: &'static str,
    pub code: &'static str,
    pub field: &'static str,
    pub audience: &'static str,
    pub level: &'static str,
    pub time_limit: &'static str,
    pub same_day: &'static str,
    pub working_days: &'static str,
    pub fees: &'static str,
    pub free: &'static str,
    pub handling_agencies: &'static str,
    pub where_to_submit: &'static str,
    pub documents: &'static str,
    pub doc_name: &'static str,
    pub copies: &'static str,
    pub original: &'static str,
    pub copy: &'static str,
    pub template: &'static str,
    pub steps: &'static str,
    pub legal_basis: &'static str,
    pub result: &'static str,
    pub assurance: &'static str,
    pub version: &'static str,
    pub old_version: &'static str,
    pub see_current: &'static str,
    pub address: &'static str,
    pub hours: &'static str,
    pub phone: &'static str,
    pub email: &'static str,
    pub directory_title: &'static str,
    pub all: &'static str,
    pub agency_level: &'static str,
    pub name_words: &'static str,
    pub filter: &'static str,
    pub handled_here: &'static str,
    pub parent: &'static str,
    pub as_json: &'static str,
    pub amount: &'static str,
    pub case: &'static str,
    pub found: &'static str,
}

pub const VI: Texts = Texts {
    home_title: "Tra cứu thủ tục hành chính",
    home_lead: "Tìm thủ tục, xem giấy tờ cần chuẩn bị, lệ phí, thời hạn giải quyết và nơi nộp hồ sơ. Có thể gõ không dấu.",
    search_label: "Tên thủ tục hoặc mã thủ tục",
    search_example: "Ví dụ: đăng ký khai sinh, cap ho chieu, 1.001193",
    search_button: "Tìm kiếm",
    popular: "Thủ tục được quan tâm nhiều",
    by_field: "Theo lĩnh vực",
    stats: "Số liệu danh mục",
    procedures: "thủ tục",
    agencies: "cơ quan",
    provinces: "tỉnh, thành phố",
    results_title: "Kết quả tìm kiếm",
    results_for: "cho",
    no_results: "Không tìm thấy thủ tục phù hợp.",
    no_results_hint: "Hãy thử ít từ hơn, hoặc bỏ bớt bộ lọc.",
    filter_field: "Lĩnh vực",
    filter_province: "Tỉnh, thành phố",
    filter_level: "Mức độ dịch vụ công",
    filter_audience: "Đối tượng",
    filter_agency: "Cơ quan giải quyết",
    clear_filters: "Bỏ tất cả bộ lọc",
    prev: "Trang trước",
    next: "Trang sau",
    page: "Trang",
    code: "Mã thủ tục",
    field: "Lĩnh vực",
    audience: "Đối tượng thực hiện",
    level: "Mức độ",
    time_limit: "Thời hạn giải quyết",
    same_day: "Trong ngày",
    working_days: "ngày làm việc",
    fees: "Phí, lệ phí",
    free: "Không mất phí",
    handling_agencies: "Cơ quan giải quyết",
    where_to_submit: "Nơi nộp hồ sơ",
    documents: "Thành phần hồ sơ",
    doc_name: "Giấy tờ",
    copies: "Số bản",
    original: "Bản chính",
    copy: "Bản sao",
    template: "Mẫu đơn, tờ khai",
    steps: "Trình tự thực hiện",
    legal_basis: "Căn cứ pháp lý",
    result: "Kết quả",
    assurance: "Mức định danh điện tử yêu cầu khi nộp trực tuyến",
    version: "Phiên bản",
    old_version: "Bạn đang xem một phiên bản cũ của thủ tục này.",
    see_current: "Xem phiên bản hiện hành",
    address: "Địa chỉ",
    hours: "Giờ làm việc",
    phone: "Điện thoại",
    email: "Thư điện tử",
    directory_title: "Danh bạ cơ quan",
    all: "Tất cả",
    agency_level: "Cấp",
    name_words: "Tên cơ quan",
    filter: "Lọc",
    handled_here: "Thủ tục do cơ quan giải quyết",
    parent: "Cơ quan cấp trên",
    as_json: "Dữ liệu JSON",
    amount: "Mức thu",
    case: "Trường hợp",
    found: "thủ tục",
};

pub const EN: Texts = Texts {
    home_title: "Find an administrative procedure",
    home_lead: "Find a procedure and see the papers to bring, the fees, the time limit and where to submit. Typing without diacritics works.",
    search_label: "Procedure name or code",
    search_example: "For example: birth registration (đăng ký khai sinh), cap ho chieu, 1.001193",
    search_button: "Search",
    popular: "Most consulted procedures",
    by_field: "By field",
    stats: "The catalogue in numbers",
    procedures: "procedures",
    agencies: "agencies",
    provinces: "provinces and cities",
    results_title: "Search results",
    results_for: "for",
    no_results: "No procedure matches.",
    no_results_hint: "Try fewer words, or remove a filter.",
    filter_field: "Field",
    filter_province: "Province or city",
    filter_level: "Online service level",
    filter_audience: "Audience",
    filter_agency: "Handling agency",
    clear_filters: "Remove all filters",
    prev: "Previous page",
    next: "Next page",
    page: "Page",
    code: "Procedure code",
    field: "Field",
    audience: "Who applies",
    level: "Level",
    time_limit: "Time limit",
    same_day: "The same day",
    working_days: "working days",
    fees: "Fees and charges",
    free: "Free of charge",
    handling_agencies: "Handling agencies",
    where_to_submit: "Where to submit",
    documents: "Documents to bring",
    doc_name: "Document",
    copies: "Copies",
    original: "Original",
    copy: "Copy",
    template: "Form template",
    steps: "Steps",
    legal_basis: "Legal basis",
    result: "Result",
    assurance: "Electronic identity level required to apply online",
    version: "Version",
    old_version: "You are looking at an old version of this procedure.",
    see_current: "See the version in force",
    address: "Address",
    hours: "Office hours",
    phone: "Phone",
    email: "E-mail",
    directory_title: "Agency directory",
    all: "All",
    agency_level: "Level",
    name_words: "Agency name",
    filter: "Filter",
    handled_here: "Procedures this agency handles",
    parent: "Parent agency",
    as_json: "JSON data",
    amount: "Amount",
    case: "Case",
    found: "procedures",
};

fn texts(c: &Chrome) -> &'static Texts {
    if c.lang.is_vi() { &VI } else { &EN }
}

/// Formats đồng with dot separators: 200000 → "200.000 đ".
pub fn vnd(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(ch);
    }
    if amount < 0 {
        out.insert(0, '-');
    }
    format!("{out} đ")
}

fn page_err(c: &Chrome) -> impl Fn(CatalogError) -> PageError + '_ {
    move |e| PageError::new(e, c.clone())
}

fn blocking_search(
    cat: &Arc<Catalog>,
    req: SearchRequest,
    c: &Chrome,
) -> Result<SearchResults, PageError> {
    cat.search(&req).map_err(page_err(c))
}

/// A facet value with its label and the link that toggles it.
pub struct FacetLink {
    pub label: String,
    pub count: u64,
    pub href: String,
    pub active: bool,
}

fn query_string(params: &[(&str, String)]) -> String {
    let parts: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", web::layout::encode_component(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn params_of(req: &SearchRequest) -> Vec<(&'static str, String)> {
    vec![
        ("q", req.q.clone()),
        ("field", req.field.clone().unwrap_or_default()),
        ("province", req.province.clone().unwrap_or_default()),
        (
            "level",
            req.level.map(|l| l.to_string()).unwrap_or_default(),
        ),
        (
            "audience",
            req.audience
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
        ),
        ("agency", req.agency.clone().unwrap_or_default()),
    ]
}

fn facet_links(
    req: &SearchRequest,
    key: &str,
    counts: &[FacetCount],
    label: &dyn Fn(&str) -> String,
    limit: usize,
) -> Vec<FacetLink> {
    counts
        .iter()
        .take(limit)
        .map(|fc| {
            let mut params = params_of(req);
            let mut active = false;
            for (k, v) in params.iter_mut() {
                if *k == key {
                    active = *v == fc.value;
                    *v = if active {
                        String::new()
                    } else {
                        fc.value.clone()
                    };
                }
            }
            FacetLink {
                label: label(&fc.value),
                count: fc.count,
                href: format!("/thu-tuc{}", query_string(&params)),
                active,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Chrome,
    t: &'static Texts,
    popular: Vec<(String, String)>,
    fields: Vec<FacetLink>,
    procedure_count: usize,
    agency_count: usize,
    province_count: usize,
}

async fn home(State(cat): State<Arc<Catalog>>, c: Chrome) -> Result<Response, PageError> {
    let popular = cat.most_viewed(8).await.map_err(page_err(&c))?;
    let all = blocking_search(
        &cat,
        SearchRequest {
            page: 1,
            page_size: 1,
            facets: true,
            ..Default::default()
        },
        &c,
    )?;
    let lookup = cat.lookup();
    let field_label = |code: &str| {
        lookup
            .fields
            .get(code)
            .map(|f| f.name.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let req = SearchRequest::default();
    let page = HomePage {
        t: texts(&c),
        popular: popular
            .into_iter()
            .map(|(code, name, _)| (code, name))
            .collect(),
        fields: facet_links(&req, "field", &all.facets.field, &field_label, 50),
        procedure_count: all.total,
        agency_count: lookup.agencies.len(),
        province_count: all.facets.province.len(),
        c,
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "results.html")]
struct ResultsPage {
    c: Chrome,
    t: &'static Texts,
    q: String,
    res: SearchResults,
    field_facets: Vec<FacetLink>,
    province_facets: Vec<FacetLink>,
    level_facets: Vec<FacetLink>,
    audience_facets: Vec<FacetLink>,
    agency_facets: Vec<FacetLink>,
    filtered: bool,
    prev_href: Option<String>,
    next_href: Option<String>,
    page_count: usize,
}

impl ResultsPage {
    fn facet_groups(&self) -> Vec<(&'static str, &Vec<FacetLink>)> {
        vec![
            (self.t.filter_field, &self.field_facets),
            (self.t.filter_province, &self.province_facets),
            (self.t.filter_level, &self.level_facets),
            (self.t.filter_audience, &self.audience_facets),
            (self.t.filter_agency, &self.agency_facets),
        ]
    }
    fn online_label(&self, o: &OnlineMode) -> &'static str {
        o.label(self.c.lang.is_vi())
    }
    fn fee(&self, min: &i64, max: &i64) -> String {
        match (*min, *max) {
            (0, 0) => self.t.free.to_string(),
            (a, b) if a == b => vnd(a),
            (a, b) => format!("{} – {}", vnd(a), vnd(b)),
        }
    }
}

async fn results(
    State(cat): State<Arc<Catalog>>,
    c: Chrome,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let req = search_request(&p, cat.search_config().page_size).map_err(page_err(&c))?;
    let res = blocking_search(&cat, req.clone(), &c)?;
    let lookup = cat.lookup();
    let vi = c.lang.is_vi();
    let today = cat.today();
    let units = cat.units();
    let field_label = |code: &str| {
        lookup
            .fields
            .get(code)
            .map(|f| f.name.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let province_label = |code: &str| {
        units
            .resolve(code, 1, today)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let agency_label = |code: &str| {
        lookup
            .agencies
            .get(code)
            .map(|a| a.spec.name.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let level_label = |l: &str| {
        if vi {
            format!("Mức {l}")
        } else {
            format!("Level {l}")
        }
    };
    let audience_label = |a: &str| {
        Audience::parse(a)
            .map(|x| x.label(vi).to_string())
            .unwrap_or_else(|| a.to_string())
    };
    let page_count = res.total.div_ceil(res.page_size.max(1)).min(500);
    let mut params = params_of(&req);
    let href_for = |params: &mut Vec<(&'static str, String)>, page: usize| {
        params.retain(|(k, _)| *k != "page");
        params.push(("page", page.to_string()));
        format!("/thu-tuc{}", query_string(params))
    };
    let prev_href = (res.page > 1).then(|| href_for(&mut params, res.page - 1));
    let next_href = (res.page < page_count).then(|| href_for(&mut params, res.page + 1));
    let page = ResultsPage {
        t: texts(&c),
        q: req.q.clone(),
        field_facets: facet_links(&req, "field", &res.facets.field, &field_label, 20),
        province_facets: facet_links(&req, "province", &res.facets.province, &province_label, 34),
        level_facets: facet_links(&req, "level", &res.facets.level, &level_label, 4),
        audience_facets: facet_links(&req, "audience", &res.facets.audience, &audience_label, 2),
        agency_facets: {
            // With a province chosen, offer that province's agencies (and central ones).
            let counts: Vec<FacetCount> = res
                .facets
                .agency
                .iter()
                .filter(|f| {
                    req.province.as_ref().is_none_or(|p| {
                        lookup
                            .agencies
                            .get(&f.value)
                            .is_none_or(|a| a.province.as_ref().is_none_or(|ap| ap == p))
                    })
                })
                .cloned()
                .collect();
            facet_links(&req, "agency", &counts, &agency_label, 10)
        },
        filtered: req.field.is_some()
            || req.province.is_some()
            || req.level.is_some()
            || req.audience.is_some()
            || req.agency.is_some(),
        prev_href,
        next_href,
        page_count,
        res,
        c,
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "procedure.html")]
struct ProcedurePage {
    c: Chrome,
    t: &'static Texts,
    v: ProcedureView,
    audience: String,
    online: &'static str,
}

async fn procedure(
    State(cat): State<Arc<Catalog>>,
    c: Chrome,
    code: Result<Path<String>, PathRejection>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let code = path_code(code).map_err(page_err(&c))?;
    let version = match p.get("version").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            PageError::new(
                CatalogError::BadParameter {
                    name: "version",
                    vi: "cần một số nguyên".into(),
                    en: "expected a whole number".into(),
                },
                c.clone(),
            )
        })?),
    };
    let v = procedure_view(&cat, &code, version)
        .await
        .map_err(page_err(&c))?;
    if version.is_none() {
        // A page view counts towards "most consulted"; failing to count does not fail the page.
        if let Err(e) = cat.count_view(&code).await {
            tracing::warn!(error = %e, "could not count a procedure view");
        }
    }
    let vi = c.lang.is_vi();
    let page = ProcedurePage {
        t: texts(&c),
        audience: v
            .procedure
            .spec
            .audience
            .iter()
            .map(|a| a.label(vi))
            .collect::<Vec<_>>()
            .join(", "),
        online: v.procedure.spec.online.label(vi),
        v,
        c,
    };
    Ok(render(&page))
}

impl ProcedurePage {
    fn vnd(&self, a: &i64) -> String {
        vnd(*a)
    }
    fn level_label(&self, l: &AgencyLevel) -> &'static str {
        l.label(self.c.lang.is_vi())
    }
}

#[derive(Template)]
#[template(path = "agencies.html")]
struct AgenciesPage {
    c: Chrome,
    t: &'static Texts,
    list: Vec<AgencyRecord>,
    provinces: Vec<(String, String)>,
    province: String,
    level: String,
    q: String,
}

impl AgenciesPage {
    fn level_label(&self, l: &AgencyLevel) -> &'static str {
        l.label(self.c.lang.is_vi())
    }
    fn province_name(&self, code: &Option<String>) -> String {
        match code {
            Some(code) => self
                .provinces
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| code.clone()),
            None => self.c.pick("Trung ương", "Central").to_string(),
        }
    }
}

async fn agencies(
    State(cat): State<Arc<Catalog>>,
    c: Chrome,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let list = filter_agencies(&cat, &p).map_err(page_err(&c))?;
    let today = cat.today();
    let page = AgenciesPage {
        t: texts(&c),
        list,
        provinces: cat
            .units()
            .provinces(today)
            .into_iter()
            .map(|u| (u.code.clone(), u.name.clone()))
            .collect(),
        province: p.get("province").cloned().unwrap_or_default(),
        level: p.get("level").cloned().unwrap_or_default(),
        q: p.get("q").cloned().unwrap_or_default(),
        c,
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "agency.html")]
struct AgencyPage {
    c: Chrome,
    t: &'static Texts,
    a: AgencyRecord,
    parent: Option<(String, String)>,
    unit: String,
    handled: SearchResults,
}

async fn agency(
    State(cat): State<Arc<Catalog>>,
    c: Chrome,
    code: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let code = path_code(code).map_err(page_err(&c))?;
    let lookup = cat.lookup();
    let a = lookup
        .agencies
        .get(&code)
        .cloned()
        .ok_or_else(|| PageError::new(CatalogError::AgencyNotFound(code.clone()), c.clone()))?;
    let handled = blocking_search(
        &cat,
        SearchRequest {
            agency: Some(code.clone()),
            page: 1,
            page_size: 100,
            ..Default::default()
        },
        &c,
    )?;
    let today = cat.today();
    let unit = match &a.spec.unit {
        Some(u) => {
            let level = if a.spec.level == AgencyLevel::Provincial {
                1
            } else {
                2
            };
            cat.units()
                .resolve(u, level, today)
                .map(|x| x.name.clone())
                .unwrap_or_else(|| u.clone())
        }
        None => c.pick("Trung ương", "Central").to_string(),
    };
    let parent = a
        .spec
        .parent
        .as_ref()
        .and_then(|p| lookup.agencies.get(p.as_str()))
        .map(|p| (p.spec.code.to_string(), p.spec.name.clone()));
    let page = AgencyPage {
        t: texts(&c),
        a,
        parent,
        unit,
        handled,
        c,
    };
    Ok(render(&page))
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_reads_the_vietnamese_way() {
        assert_eq!(super::vnd(0), "0 đ");
        assert_eq!(super::vnd(200_000), "200.000 đ");
        assert_eq!(super::vnd(1_500_000), "1.500.000 đ");
        assert_eq!(super::vnd(50), "50 đ");
    }
}
