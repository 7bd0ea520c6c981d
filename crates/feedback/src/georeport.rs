//! The Open311 GeoReport v2 server, under `/open311/v2/`, with its discovery document at
//! `/open311/discovery.json`: the kinds of report as services and their questions as service
//! definitions, filing with an API key, public requests with the standard's filters, tokens,
//! and the `servicerequestupdates` extension (reading public updates; a client posting its
//! reporter's comment). Every answer in `.json` or `.xml`, errors as the standard writes
//! them (`[{"code": 400, "description": "..."}]`).
//!
//! A filed report waiting for a moderator answers with a `token` rather than its id: the
//! token resolves to the id at `tokens/{token}` once the report is public.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

use ::open311 as o3;
use o3::Format;

use crate::reports::{NewReport, Report, Reporter, Wanted};
use crate::rules::{Point, Status};
use crate::services::Service;
use crate::{Feedback, FeedbackError, MAX_PHOTO_BYTES, MAX_PHOTOS};

/// The largest POST a client may send (photos as the `media` extension included).
const MAX_BODY: usize = MAX_PHOTOS * MAX_PHOTO_BYTES + 256 * 1024;

/// The Open311 routes.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Feedback>: FromRef<S>,
{
    axum::Router::new()
        .route("/open311/{file}", get(discovery))
        .route(
            "/open311/v2/{file}",
            get(collection)
                .post(create)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)),
        )
        .route("/open311/v2/services/{file}", get(definition))
        .route("/open311/v2/requests/{file}", get(one_request))
        .route("/open311/v2/tokens/{file}", get(token))
}

fn answer(status: StatusCode, format: Format, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

fn errors(format: Format, list: Vec<o3::Error>) -> Response {
    let code = list.first().map(|e| e.code).unwrap_or(400);
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    answer(status, format, o3::render_errors(&list, format))
}

fn not_found(format: Format, what: &str) -> Response {
    errors(
        format,
        vec![
            o3::Error::new(404, format!("{what} not found."))
                .with_vi(format!("Không tìm thấy {what}.")),
        ],
    )
}

/// A path segment without a known suffix: the standard's 404, in JSON.
fn no_format() -> Response {
    not_found(Format::Json, "Resource (use a .json or .xml suffix)")
}

/// A server-side failure as an Open311 error.
fn failed(format: Format, e: FeedbackError) -> Response {
    use kernel::Problem;
    let status = e.status();
    let list = match &e {
        FeedbackError::Invalid(details) => details
            .iter()
            .map(|d| {
                o3::Error::new(400, format!("{}: {}", d.at, d.en))
                    .with_vi(format!("{}: {}", d.at, d.vi))
            })
            .collect(),
        _ => {
            // Validation answers are 400 in the standard; others keep their status.
            let code = if status == 422 { 400 } else { status };
            vec![o3::Error::new(code, e.message_en()).with_vi(e.message_vi())]
        }
    };
    if status >= 500 {
        tracing::error!(error = %e, "open311 request failed");
    }
    errors(format, list)
}

/// `GET /open311/discovery.{json,xml}`.
async fn discovery(State(f): State<Arc<Feedback>>, Path(file): Path<String>) -> Response {
    let Some(("discovery", format)) = Format::split(&file) else {
        return no_format();
    };
    let changeset = DateTime::parse_from_rfc3339("2026-12-02T00:00:00Z")
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|_| f.now());
    let d = o3::Discovery {
        changeset,
        contact: format!("{}/phan-anh", f.public_url()),
        key_service: format!("{}/api/v1/feedback/keys", f.public_url()),
        endpoints: vec![o3::Endpoint {
            specification: o3::GEOREPORT_V2.to_string(),
            url: format!("{}/open311/v2", f.public_url()),
            changeset,
            kind: o3::EndpointType::Production,
            formats: vec![Format::Xml, Format::Json],
        }],
    };
    answer(StatusCode::OK, format, o3::render_discovery(&d, format))
}

fn o3_service(s: &Service) -> o3::Service {
    o3::Service {
        service_code: s.code.clone(),
        service_name: s.name_vi.clone(),
        description: Some(s.description.clone()).filter(|d| !d.is_empty()),
        metadata: !s.attributes.is_empty(),
        kind: o3::ServiceType::Realtime,
        keywords: s.keywords.clone(),
        group: Some(s.group.clone()).filter(|g| !g.is_empty()),
    }
}

fn o3_definition(s: &Service) -> o3::ServiceDefinition {
    o3::ServiceDefinition {
        service_code: s.code.clone(),
        attributes: s
            .attributes
            .iter()
            .enumerate()
            .map(|(i, q)| o3::Attribute {
                variable: true,
                code: q.code.clone(),
                datatype: o3::Datatype::parse(&q.datatype).unwrap_or(o3::Datatype::String),
                required: q.required,
                datatype_description: None,
                order: u32::try_from(i + 1).unwrap_or(1),
                description: q.description.clone(),
                values: q
                    .values
                    .iter()
                    .map(|c| o3::AttributeValue {
                        key: c.key.clone(),
                        name: c.name.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn o3_request(f: &Feedback, r: &Report) -> o3::ServiceRequest {
    let media = r
        .photos
        .first()
        .map(|p| format!("{}/phan-anh/{}/anh/{}", f.public_url(), r.id, p.n))
        .or_else(|| r.media_url.clone());
    o3::ServiceRequest {
        service_request_id: r.id.clone(),
        status: r.status.open311(),
        status_notes: r
            .answer
            .clone()
            .or_else(|| r.updates.last().map(|u| u.note.clone()))
            .filter(|n| !n.is_empty()),
        service_name: r.service_name.clone(),
        service_code: r.service_code.clone(),
        description: Some(r.description.clone()),
        agency_responsible: Some(r.agency_name.clone()),
        service_notice: None,
        requested_datetime: r.requested_at,
        updated_datetime: r.updated_at,
        expected_datetime: Some(r.due_at),
        address: Some(r.address.clone()).filter(|a| !a.is_empty()),
        address_id: r.unit_code.clone(),
        zipcode: None,
        lat: r.lat,
        long: r.lon,
        media_url: media,
    }
}

/// `GET /open311/v2/{services,requests,servicerequestupdates}.{json,xml}`.
async fn collection(
    State(f): State<Arc<Feedback>>,
    Path(file): Path<String>,
    raw: axum::extract::RawQuery,
) -> Response {
    let Some((stem, format)) = Format::split(&file) else {
        return no_format();
    };
    let pairs = match pairs_of(raw.0.as_deref().unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(e) => return errors(format, vec![e]),
    };
    match stem {
        "services" => match f.services(false).await {
            Ok(list) => {
                let list: Vec<o3::Service> = list.iter().map(o3_service).collect();
                answer(StatusCode::OK, format, o3::render_services(&list, format))
            }
            Err(e) => failed(format, e),
        },
        "requests" => list_requests(&f, format, &pairs).await,
        "servicerequestupdates" => list_updates(&f, format, &pairs).await,
        _ => not_found(format, "Resource"),
    }
}

/// The parameters of a query string or form body. Percent-escapes that do not decode to UTF-8
/// are refused rather than read with replacement characters.
fn pairs_of(bytes: &[u8]) -> Result<Vec<(String, String)>, o3::Error> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    match pairs
        .iter()
        .find(|(k, v)| k.contains('\u{FFFD}') || v.contains('\u{FFFD}'))
    {
        Some((k, _)) => Err(
            o3::Error::new(400, format!("The parameter {k} is not UTF-8 text."))
                .with_vi(format!("Tham số {k} không phải văn bản UTF-8.")),
        ),
        None => Ok(pairs),
    }
}

async fn list_requests(f: &Feedback, format: Format, pairs: &[(String, String)]) -> Response {
    let q = match o3::parse_request_query(pairs) {
        Ok(q) => q,
        Err(list) => return errors(format, list),
    };
    let statuses: Vec<Status> = q
        .statuses
        .iter()
        .map(|s| match s {
            o3::Status::Open => Status::Received,
            o3::Status::Closed => Status::Answered,
        })
        .collect();
    let (from, to) = if q.by_id() {
        (None, None)
    } else {
        let (a, b) = q.window(f.now());
        (Some(a), Some(b))
    };
    // Ids asked for override every other filter, as the standard has it.
    let (codes, statuses): (&[String], Vec<Status>) = if q.by_id() {
        (&[], Vec::new())
    } else {
        (&q.service_codes, statuses)
    };
    let limit = i64::from(q.limit().min(o3::MAX_RESULTS));
    let found = f
        .open311_requests(&Wanted {
            ids: &q.service_request_ids,
            services: codes,
            from,
            to,
            statuses: &statuses,
            limit,
            offset: i64::try_from(q.offset()).unwrap_or(0),
        })
        .await;
    match found {
        Ok(list) => {
            let list: Vec<o3::ServiceRequest> = list.iter().map(|r| o3_request(f, r)).collect();
            answer(StatusCode::OK, format, o3::render_requests(&list, format))
        }
        Err(e) => failed(format, e),
    }
}

async fn list_updates(f: &Feedback, format: Format, pairs: &[(String, String)]) -> Response {
    let q = match o3::parse_update_query(pairs) {
        Ok(q) => q,
        Err(list) => return errors(format, list),
    };
    let now = f.now();
    let span = chrono::Duration::days(o3::DEFAULT_WINDOW_DAYS);
    let (from, to) = match (q.start_date, q.end_date) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => (a, a + span),
        (None, Some(b)) => (b - span, b),
        (None, None) => (now - span, now),
    };
    match f
        .public_updates(from, to, None, i64::from(o3::MAX_RESULTS))
        .await
    {
        Ok(list) => {
            let list: Vec<o3::RequestUpdate> = list
                .into_iter()
                .map(|(u, report, media)| o3::RequestUpdate {
                    update_id: u.id.to_string(),
                    service_request_id: report,
                    status: Status::parse(&u.status)
                        .unwrap_or(Status::Received)
                        .open311(),
                    updated_datetime: u.at,
                    description: Some(u.note).filter(|n| !n.is_empty()),
                    media_url: media,
                })
                .collect();
            answer(StatusCode::OK, format, o3::render_updates(&list, format))
        }
        Err(e) => failed(format, e),
    }
}

/// `GET /open311/v2/services/{code}.{json,xml}`: a kind's questions.
async fn definition(State(f): State<Arc<Feedback>>, Path(file): Path<String>) -> Response {
    let Some((code, format)) = Format::split(&file) else {
        return no_format();
    };
    match f.service(code).await {
        Ok(Some(s)) if s.active => answer(
            StatusCode::OK,
            format,
            o3::render_service_definition(&o3_definition(&s), format),
        ),
        Ok(_) => not_found(format, &format!("Service {code}")),
        Err(e) => failed(format, e),
    }
}

/// `GET /open311/v2/requests/{id}.{json,xml}`: one public request, in a list of one.
async fn one_request(State(f): State<Arc<Feedback>>, Path(file): Path<String>) -> Response {
    let Some((id, format)) = Format::split(&file) else {
        return no_format();
    };
    match f.public_report(id).await {
        Ok(Some(r)) => answer(
            StatusCode::OK,
            format,
            o3::render_requests(&[o3_request(&f, &r)], format),
        ),
        Ok(None) => not_found(format, &format!("Service request {id}")),
        Err(e) => failed(format, e),
    }
}

/// `GET /open311/v2/tokens/{token}.{json,xml}`: the id a token stands for, once public.
async fn token(State(f): State<Arc<Feedback>>, Path(file): Path<String>) -> Response {
    let Some((token, format)) = Format::split(&file) else {
        return no_format();
    };
    match f.by_token(token).await {
        Ok(Some((id, public))) => answer(
            StatusCode::OK,
            format,
            o3::render_tokens(
                &[o3::TokenAnswer {
                    service_request_id: public.then_some(id),
                    token: token.to_string(),
                }],
                format,
            ),
        ),
        Ok(None) => not_found(format, "Token"),
        Err(e) => failed(format, e),
    }
}

/// The parameters and photos of a POST: form-encoded (the standard), or multipart with photos
/// as `media` files (an extension; `media_url` stays the standard's way).
async fn read_post(req: Request) -> Result<(Vec<(String, String)>, Vec<Vec<u8>>), o3::Error> {
    let mut pairs = pairs_of(req.uri().query().unwrap_or("").as_bytes())?;
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut photos = Vec::new();
    if multipart {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| o3::Error::new(400, format!("The form cannot be read: {e}")))?;
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    return Err(o3::Error::new(400, format!("The form cannot be read: {e}")));
                }
            };
            let name = field.name().unwrap_or("").to_string();
            if name == "media" {
                let b = field
                    .bytes()
                    .await
                    .map_err(|e| o3::Error::new(413, format!("The photo cannot be read: {e}")))?;
                photos.push(b.to_vec());
            } else {
                let v = field
                    .text()
                    .await
                    .map_err(|e| o3::Error::new(400, format!("The form cannot be read: {e}")))?;
                pairs.push((name, v));
            }
        }
    } else {
        let body = Bytes::from_request(req, &())
            .await
            .map_err(|e| o3::Error::new(413, format!("The body cannot be read: {e}")))?;
        if std::str::from_utf8(&body).is_err() {
            return Err(o3::Error::new(400, "The body is not UTF-8.")
                .with_vi("Nội dung gửi lên không phải UTF-8."));
        }
        pairs.extend(pairs_of(&body)?);
    }
    Ok((pairs, photos))
}

/// `POST /open311/v2/requests.{json,xml}` (files a report, with an API key) and
/// `POST /open311/v2/servicerequestupdates.{json,xml}` (a client's comment on a report it
/// filed).
async fn create(
    State(f): State<Arc<Feedback>>,
    Path(file): Path<String>,
    req: Request,
) -> Response {
    let Some((stem, format)) = Format::split(&file) else {
        return no_format();
    };
    if stem != "requests" && stem != "servicerequestupdates" {
        return not_found(format, "Resource");
    }
    let (pairs, photos) = match read_post(req).await {
        Ok(x) => x,
        Err(e) => return errors(format, vec![e]),
    };
    // The key first: nothing else is looked at without one.
    let key = pairs
        .iter()
        .find(|(k, _)| k == "api_key")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let key_id = match f.key_id(&key).await {
        Ok(Some(id)) => id,
        Ok(None) => return errors(format, vec![o3::Error::api_key()]),
        Err(e) => return failed(format, e),
    };
    if stem == "servicerequestupdates" {
        return post_update(&f, format, &pairs, &key_id).await;
    }
    let new = match o3::parse_new_request(&pairs) {
        Ok(n) => n,
        Err(list) => return errors(format, list),
    };
    match f.service(&new.service_code).await {
        Ok(Some(s)) if s.active => {}
        Ok(_) => {
            return errors(
                format,
                vec![
                    o3::Error::new(
                        404,
                        format!("service_code {} is not a known service.", new.service_code),
                    )
                    .with_vi(format!("Không có loại phản ánh mã {}.", new.service_code)),
                ],
            );
        }
        Err(e) => return failed(format, e),
    }
    // A Vietnamese name is written family name first: last_name, then first_name.
    let name = [new.last_name.as_deref(), new.first_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let report = NewReport {
        service_code: new.service_code.clone(),
        title: String::new(),
        description: new.description.clone().unwrap_or_default(),
        point: new.lat_long.and_then(|p| Point::new(p.lat, p.long)),
        address: new.address_string.clone().unwrap_or_default(),
        unit_code: new.address_id.clone(),
        agency: None,
        procedure_code: None,
        attributes: new.attributes.clone().into_iter().collect(),
        reporter: Reporter {
            account: None,
            name,
            email: new.email.clone(),
            phone: new.phone.clone(),
            device_id: new.device_id.clone(),
        },
        channel: "open311".into(),
        api_key_id: Some(key_id),
        photos,
        media_url: new.media_url.clone(),
    };
    match f.file(report).await {
        Ok(filed) => {
            let receipt = if filed.held {
                o3::Receipt::Token(filed.token.clone())
            } else {
                o3::Receipt::ServiceRequestId(filed.id.clone())
            };
            let notice = format!(
                "{} sẽ xử lý, hạn {}.",
                filed.agency_name,
                kernel::clock::to_local(filed.due_at).format("%d/%m/%Y")
            );
            let created = o3::Created {
                receipt,
                service_notice: Some(notice),
                account_id: new.account_id.clone(),
            };
            answer(
                StatusCode::CREATED,
                format,
                o3::render_created(&[created], format),
            )
        }
        Err(e) => failed(format, e),
    }
}

async fn post_update(
    f: &Feedback,
    format: Format,
    pairs: &[(String, String)],
    key_id: &str,
) -> Response {
    let u = match o3::parse_new_update(pairs) {
        Ok(u) => u,
        Err(list) => return errors(format, list),
    };
    match f
        .client_comment(
            &u.service_request_id,
            key_id,
            &u.description,
            u.status == o3::Status::Closed,
        )
        .await
    {
        Ok(Some(id)) => answer(
            StatusCode::CREATED,
            format,
            o3::render_update_created(
                &[o3::UpdateCreated {
                    update_id: id.to_string(),
                    account_id: u.account_id.clone(),
                }],
                format,
            ),
        ),
        Ok(None) => not_found(format, &format!("Service request {}", u.service_request_id)),
        Err(e) => failed(format, e),
    }
}

/// The Open311 endpoints as the API document lists them. They are served by the handlers
/// above; these functions only carry their description.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    doc_discovery,
    doc_services,
    doc_definition,
    doc_post_request,
    doc_requests,
    doc_request,
    doc_token,
    doc_updates,
    doc_post_update
))]
pub struct Open311Doc;

/// The discovery document: where the GeoReport v2 endpoint is, in which formats.
#[utoipa::path(get, path = "/open311/discovery.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml")),
    responses((status = 200, description = "discovery"), (status = 404, description = "errors")))]
#[allow(dead_code)]
async fn doc_discovery() {}

/// The kinds of report (services).
#[utoipa::path(get, path = "/open311/v2/services.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml"), ("jurisdiction_id" = Option<String>, Query)),
    responses((status = 200, description = "services")))]
#[allow(dead_code)]
async fn doc_services() {}

/// A kind's questions (service definition).
#[utoipa::path(get, path = "/open311/v2/services/{service_code}.{format}", tag = "open311",
    params(("service_code" = String, Path), ("format" = String, Path, description = "json or xml")),
    responses((status = 200, description = "service_definition"), (status = 404, description = "errors")))]
#[allow(dead_code)]
async fn doc_definition() {}

/// Files a report: `api_key`, `service_code`, `lat` and `long` (or `address_string`, or
/// `address_id` as a commune's code), `description`, `email`, `first_name`, `last_name`,
/// `phone`, `device_id`, `media_url`, `attribute[CODE]`; form-encoded, or multipart with
/// photos as `media` files. A report held for review answers with a token.
#[utoipa::path(post, path = "/open311/v2/requests.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 201, description = "service_requests"), (status = 400, description = "errors"), (status = 403, description = "errors: api_key")))]
#[allow(dead_code)]
async fn doc_post_request() {}

/// Public reports: `service_request_id`, `service_code`, `start_date`, `end_date`, `status`
/// (the last 90 days and at most 1,000 by default).
#[utoipa::path(get, path = "/open311/v2/requests.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml"), ("service_request_id" = Option<String>, Query),
        ("service_code" = Option<String>, Query), ("start_date" = Option<String>, Query), ("end_date" = Option<String>, Query),
        ("status" = Option<String>, Query)),
    responses((status = 200, description = "service_requests"), (status = 400, description = "errors")))]
#[allow(dead_code)]
async fn doc_requests() {}

/// One public report.
#[utoipa::path(get, path = "/open311/v2/requests/{service_request_id}.{format}", tag = "open311",
    params(("service_request_id" = String, Path), ("format" = String, Path, description = "json or xml")),
    responses((status = 200, description = "service_requests"), (status = 404, description = "errors")))]
#[allow(dead_code)]
async fn doc_request() {}

/// The report a token stands for, once public.
#[utoipa::path(get, path = "/open311/v2/tokens/{token}.{format}", tag = "open311",
    params(("token" = String, Path), ("format" = String, Path, description = "json or xml")),
    responses((status = 200, description = "service_requests"), (status = 404, description = "errors")))]
#[allow(dead_code)]
async fn doc_token() {}

/// Public updates of reports (extension): `start_date`, `end_date`.
#[utoipa::path(get, path = "/open311/v2/servicerequestupdates.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml"), ("start_date" = Option<String>, Query), ("end_date" = Option<String>, Query)),
    responses((status = 200, description = "service_request_updates"), (status = 400, description = "errors")))]
#[allow(dead_code)]
async fn doc_updates() {}

/// A client's comment on a report it filed (extension): `api_key`, `service_request_id`,
/// `update_id`, `status`, `updated_datetime`, `description`.
#[utoipa::path(post, path = "/open311/v2/servicerequestupdates.{format}", tag = "open311",
    params(("format" = String, Path, description = "json or xml")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 201, description = "service_request_updates"), (status = 400, description = "errors"), (status = 403, description = "errors: api_key"), (status = 404, description = "errors")))]
#[allow(dead_code)]
async fn doc_post_update() {}
