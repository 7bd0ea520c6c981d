//! e-Cabinet's JSON API: bodies and members, meetings (participants, agenda, documents,
//! attendance, notes, conclusions, the signed notice), ballots (draft, open, vote, remind,
//! verify, close, publish, archive) and the authority's certificate that checks every
//! signature.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRef, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use web::ApiError;
use web::extract::{json as body, path, query};

use identity::web::Auth;

use crate::ballots::{Archive, Ballot, BallotLine, BallotSpec, BallotView, SignedVote, VoteCheck};
use crate::error::invalid;
use crate::meetings::{
    AttendanceSpec, DocumentLine, Meeting, MeetingLine, MeetingSpec, MeetingView, Member,
    MemberSpec, NewDocument, Note, Participant,
};
use crate::rules::{Access, Answer, MeetingMove, ParticipantRole};
use crate::{Cabinet, CabinetError};

/// e-Cabinet's API routes.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Cabinet>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(authority))
        .routes(routes!(list_members))
        .routes(routes!(put_member, delete_member))
        .routes(routes!(list_meetings, create_meeting))
        .routes(routes!(get_meeting, edit_meeting))
        .routes(routes!(move_meeting))
        .routes(routes!(put_participant, delete_participant))
        .routes(routes!(add_item))
        .routes(routes!(conclude))
        .routes(routes!(add_note))
        .routes(routes!(attendance))
        .routes(routes!(import_document))
        .routes(routes!(issue_notice))
        .routes(routes!(notice_signature))
        .routes(routes!(get_document))
        .routes(routes!(list_ballots, create_ballot))
        .routes(routes!(get_ballot, edit_ballot))
        .routes(routes!(move_ballot))
        .routes(routes!(vote))
        .routes(routes!(remind))
        .routes(routes!(verification))
        .routes(routes!(vote_document))
        .routes(routes!(vote_signature))
        .routes(routes!(archive))
        .routes(routes!(summary_signature))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(upload_meeting_document))
                .routes(routes!(upload_ballot_document))
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::MAX_DOCUMENT_BYTES + 256 * 1024,
                )),
        )
}

fn bytes_answer(content_type: &str, file_name: &str, bytes: Vec<u8>) -> Response {
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        web::layout::encode_component(file_name)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    r
}

/// The e-Cabinet authority's certificate (PEM): checks every vote, notice and summary.
#[utoipa::path(get, path = "/api/v1/cabinet/authority.pem", tag = "cabinet",
    responses((status = 200, description = "PEM certificate", content_type = "application/x-pem-file", body = String)))]
async fn authority(State(c): State<Arc<Cabinet>>) -> Result<Response, ApiError> {
    let pem = c.authority_pem().await?;
    Ok(bytes_answer(
        "application/x-pem-file",
        "cabinet-ca.pem",
        pem.into_bytes(),
    ))
}

/// The members of a body (its secretariat).
#[utoipa::path(get, path = "/api/v1/cabinet/bodies/{body}/members", tag = "cabinet",
    params(("body" = String, Path, description = "The agency's code")),
    responses(
        (status = 200, body = Vec<Member>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn list_members(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    b: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<Member>>, ApiError> {
    let p = auth.caller()?;
    let b = path(b)?;
    c.allow_run(&p, &b).await?;
    Ok(Json(c.members(&b).await?))
}

/// Adds a member to a body or changes their position (its secretariat).
#[utoipa::path(put, path = "/api/v1/cabinet/bodies/{body}/members/{login}", tag = "cabinet",
    params(("body" = String, Path), ("login" = String, Path)),
    request_body = MemberSpec,
    responses(
        (status = 200, body = Member),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn put_member(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    x: Result<Path<(String, String)>, PathRejection>,
    b: Result<Json<MemberSpec>, JsonRejection>,
) -> Result<Json<Member>, ApiError> {
    let p = auth.writer(&headers)?;
    let (body_code, login) = path(x)?;
    let spec = body(b)?;
    Ok(Json(c.set_member(&p, &body_code, &login, &spec).await?))
}

/// Takes a member off a body (its secretariat).
#[utoipa::path(delete, path = "/api/v1/cabinet/bodies/{body}/members/{login}", tag = "cabinet",
    params(("body" = String, Path), ("login" = String, Path)),
    responses(
        (status = 204),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn delete_member(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    x: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let p = auth.writer(&headers)?;
    let (body_code, login) = path(x)?;
    c.remove_member(&p, &body_code, &login).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
struct FromQuery {
    /// Meetings ending from this moment on (default: now).
    from: Option<DateTime<Utc>>,
}

/// The caller's meetings: those they are called to, and those they prepare.
#[utoipa::path(get, path = "/api/v1/cabinet/meetings", tag = "cabinet",
    params(FromQuery),
    responses(
        (status = 200, body = Vec<MeetingLine>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn list_meetings(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    q: Result<Query<FromQuery>, QueryRejection>,
) -> Result<Json<Vec<MeetingLine>>, ApiError> {
    let p = auth.caller()?;
    let q = query(q)?;
    let from = q.from.unwrap_or_else(|| c.now());
    Ok(Json(c.my_meetings(&p, from).await?))
}

/// Prepares a meeting (the body's secretariat); the body's members are called.
#[utoipa::path(post, path = "/api/v1/cabinet/meetings", tag = "cabinet",
    request_body = MeetingSpec,
    responses(
        (status = 201, body = Meeting),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn create_meeting(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    b: Result<Json<MeetingSpec>, JsonRejection>,
) -> Result<(StatusCode, Json<Meeting>), ApiError> {
    let p = auth.writer(&headers)?;
    let spec = body(b)?;
    Ok((
        StatusCode::CREATED,
        Json(c.create_meeting(&p, &spec).await?),
    ))
}

/// A meeting as the caller sees it.
#[utoipa::path(get, path = "/api/v1/cabinet/meetings/{id}", tag = "cabinet",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = MeetingView),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_meeting(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<MeetingView>, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    Ok(Json(c.meeting(&p, &id).await?))
}

/// Changes a meeting's title, time and place (the secretariat; participants are told once
/// it is called).
#[utoipa::path(put, path = "/api/v1/cabinet/meetings/{id}", tag = "cabinet",
    params(("id" = String, Path)),
    request_body = MeetingSpec,
    responses(
        (status = 200, body = Meeting),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn edit_meeting(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<MeetingSpec>, JsonRejection>,
) -> Result<Json<Meeting>, ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let spec = body(b)?;
    Ok(Json(c.edit_meeting(&p, &id, &spec).await?))
}

/// A change of a meeting's status.
#[derive(Debug, Deserialize, ToSchema)]
struct MoveBody {
    /// `call`, `end` or `cancel`.
    #[serde(rename = "move")]
    mv: MeetingMove,
}

/// Calls, ends or cancels a meeting (the secretariat).
#[utoipa::path(post, path = "/api/v1/cabinet/meetings/{id}/status", tag = "cabinet",
    params(("id" = String, Path)),
    request_body = MoveBody,
    responses(
        (status = 200, body = Meeting),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn move_meeting(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<MoveBody>, JsonRejection>,
) -> Result<Json<Meeting>, ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let m = body(b)?;
    Ok(Json(c.move_meeting(&p, &id, m.mv).await?))
}

/// A participant's role.
#[derive(Debug, Deserialize, ToSchema)]
struct RoleBody {
    role: ParticipantRole,
}

/// Calls someone to a meeting or changes their role (the secretariat).
#[utoipa::path(put, path = "/api/v1/cabinet/meetings/{id}/participants/{login}", tag = "cabinet",
    params(("id" = String, Path), ("login" = String, Path)),
    request_body = RoleBody,
    responses(
        (status = 200, body = Participant),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn put_participant(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    x: Result<Path<(String, String)>, PathRejection>,
    b: Result<Json<RoleBody>, JsonRejection>,
) -> Result<Json<Participant>, ApiError> {
    let p = auth.writer(&headers)?;
    let (id, login) = path(x)?;
    let r = body(b)?;
    Ok(Json(c.set_participant(&p, &id, &login, r.role).await?))
}

/// Takes someone off a meeting's list (the secretariat).
#[utoipa::path(delete, path = "/api/v1/cabinet/meetings/{id}/participants/{login}", tag = "cabinet",
    params(("id" = String, Path), ("login" = String, Path)),
    responses(
        (status = 204),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn delete_participant(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    x: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let p = auth.writer(&headers)?;
    let (id, login) = path(x)?;
    c.remove_participant(&p, &id, &login).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An agenda item to add.
#[derive(Debug, Deserialize, ToSchema)]
struct ItemBody {
    title: String,
    /// Who presents it (an agency, a person).
    #[serde(default)]
    presenter: String,
}

/// An agenda item's place.
#[derive(Debug, Serialize, ToSchema)]
struct ItemAdded {
    position: i64,
}

/// Adds an agenda item at the end (the secretariat).
#[utoipa::path(post, path = "/api/v1/cabinet/meetings/{id}/items", tag = "cabinet",
    params(("id" = String, Path)),
    request_body = ItemBody,
    responses(
        (status = 201, body = ItemAdded),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn add_item(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<ItemBody>, JsonRejection>,
) -> Result<(StatusCode, Json<ItemAdded>), ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let i = body(b)?;
    let position = c.add_item(&p, &id, &i.title, &i.presenter).await?;
    Ok((StatusCode::CREATED, Json(ItemAdded { position })))
}

/// A conclusion, of one item or (without `item`) of the meeting.
#[derive(Debug, Deserialize, ToSchema)]
struct ConclusionBody {
    #[serde(default)]
    item: Option<i64>,
    conclusion: String,
}

/// Writes a conclusion (the secretariat, until the notice is issued).
#[utoipa::path(put, path = "/api/v1/cabinet/meetings/{id}/conclusion", tag = "cabinet",
    params(("id" = String, Path)),
    request_body = ConclusionBody,
    responses(
        (status = 204),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn conclude(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<ConclusionBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let x = body(b)?;
    c.conclude(&p, &id, x.item, &x.conclusion).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A note of the minutes.
#[derive(Debug, Deserialize, ToSchema)]
struct NoteBody {
    #[serde(default)]
    item: Option<i64>,
    text: String,
}

/// Adds a note to the minutes (the secretariat; members read them).
#[utoipa::path(post, path = "/api/v1/cabinet/meetings/{id}/notes", tag = "cabinet",
    params(("id" = String, Path)),
    request_body = NoteBody,
    responses(
        (status = 201, body = Note),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn add_note(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<NoteBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let x = body(b)?;
    Ok((
        StatusCode::CREATED,
        Json(c.add_note(&p, &id, x.item, &x.text).await?),
    ))
}

/// Records a participant's attendance (the secretariat).
#[utoipa::path(put, path = "/api/v1/cabinet/meetings/{id}/attendance", tag = "cabinet",
    params(("id" = String, Path)),
    request_body = AttendanceSpec,
    responses(
        (status = 204),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn attendance(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<AttendanceSpec>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let a = body(b)?;
    c.set_attendance(&p, &id, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The fields of a document upload (multipart/form-data).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
struct DocumentUpload {
    title: String,
    /// `participants`, `members` or `confidential` (PDF only).
    access: String,
    /// The agenda item it belongs to (meetings).
    item: Option<i64>,
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Reads a document upload.
pub(crate) async fn read_upload(
    mut mp: Multipart,
) -> Result<(HashMap<String, String>, Option<(String, Vec<u8>)>), CabinetError> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        crate::error::refused(
            e.status().as_u16(),
            "form_unreadable",
            format!("Không đọc được biểu mẫu gửi lên: {}", e.body_text()),
            format!("The form cannot be read: {}", e.body_text()),
        )
    };
    let mut fields = HashMap::new();
    let mut file = None;
    while let Some(f) = mp.next_field().await.map_err(unreadable)? {
        let name = f.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name = f.file_name().unwrap_or("tai-lieu").to_string();
            let bytes = f.bytes().await.map_err(unreadable)?;
            file = Some((file_name, bytes.to_vec()));
        } else {
            let v = f.text().await.map_err(unreadable)?;
            fields.insert(name, v);
        }
    }
    Ok((fields, file))
}

/// The document an upload describes.
pub(crate) fn document_of(
    fields: &HashMap<String, String>,
    file: Option<(String, Vec<u8>)>,
) -> Result<NewDocument, CabinetError> {
    let Some((file_name, bytes)) = file else {
        return Err(invalid(
            "file",
            "Hãy chọn tệp tài liệu",
            "Choose the document's file",
        ));
    };
    let access = fields
        .get("access")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .unwrap_or("participants");
    let access = Access::parse(access).ok_or_else(|| {
        invalid(
            "access",
            "Quyền đọc là participants, members hoặc confidential",
            "Access is participants, members or confidential",
        )
    })?;
    let item_position = match fields
        .get("item")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            invalid(
                "item",
                "Số thứ tự nội dung không hợp lệ",
                "The item number is not a number",
            )
        })?),
        None => None,
    };
    let title = fields
        .get("title")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| file_name.clone());
    Ok(NewDocument {
        title,
        access,
        item_position,
        file_name,
        bytes,
    })
}

/// The document a multipart request uploads.
async fn upload_of(
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<NewDocument, CabinetError> {
    let mp = mp.map_err(|e| {
        crate::error::refused(
            400,
            "form_unreadable",
            "Hãy gửi biểu mẫu multipart/form-data",
            format!("Send multipart/form-data: {e}"),
        )
    })?;
    let (fields, file) = read_upload(mp).await?;
    document_of(&fields, file)
}

/// Adds a document to a meeting (the secretariat): multipart with `title`, `access`,
/// `item` and `file`. A confidential document must be a PDF.
#[utoipa::path(post, path = "/api/v1/cabinet/meetings/{id}/documents", tag = "cabinet",
    params(("id" = String, Path)),
    request_body(content = DocumentUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = DocumentLine),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 413, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 415, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn upload_meeting_document(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<DocumentLine>), ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let d = upload_of(mp).await?;
    Ok((
        StatusCode::CREATED,
        Json(c.add_meeting_document(&p, &id, &d).await?),
    ))
}

/// A document to take from the exchange hub.
#[derive(Debug, Deserialize, ToSchema)]
struct ImportBody {
    /// The hub's id of the received document.
    hub_id: String,
    /// Which attachment, from 0.
    #[serde(default)]
    attachment: usize,
    access: Access,
    #[serde(default)]
    item: Option<i64>,
}

/// Takes an attachment of a document received through the exchange hub into a meeting (the
/// secretariat, who must be able to read it on the hub).
#[utoipa::path(post, path = "/api/v1/cabinet/meetings/{id}/documents/from-exchange", tag = "cabinet",
    params(("id" = String, Path)),
    request_body = ImportBody,
    responses(
        (status = 201, body = DocumentLine),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn import_document(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<ImportBody>, JsonRejection>,
) -> Result<(StatusCode, Json<DocumentLine>), ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let x = body(b)?;
    let d = c
        .import_from_exchange(&p, &id, &x.hub_id, x.attachment, x.access, x.item)
        .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// Issues the signed conclusion notice of a meeting that has ended (the secretariat).
#[utoipa::path(post, path = "/api/v1/cabinet/meetings/{id}/notice", tag = "cabinet",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Meeting),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn issue_notice(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Meeting>, ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    Ok(Json(c.issue_notice(&p, &id).await?))
}

/// The conclusion notice's detached CMS signature (DER).
#[utoipa::path(get, path = "/api/v1/cabinet/meetings/{id}/notice.p7s", tag = "cabinet",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "DER", content_type = "application/pkcs7-signature", body = Vec<u8>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn notice_signature(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    let sig = c.notice_signature(&p, &id).await?;
    Ok(bytes_answer(
        "application/pkcs7-signature",
        "thong-bao-ket-luan.pdf.p7s",
        sig,
    ))
}

/// Opens a document, if the caller's role lets them: a confidential one comes stamped with
/// their name on every page, and the opening joins the audit chain.
#[utoipa::path(get, path = "/api/v1/cabinet/documents/{id}", tag = "cabinet",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The document's bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_document(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    let o = c.open_document(&p, &id).await?;
    let mut r = bytes_answer(&o.content_type, &o.file_name, o.bytes);
    if o.stamped {
        r.headers_mut()
            .insert("x-motcua-stamped", HeaderValue::from_static("reader"));
    }
    Ok(r)
}

/// The caller's ballots: those they vote on, and those they prepare; open ones first.
#[utoipa::path(get, path = "/api/v1/cabinet/ballots", tag = "cabinet",
    responses(
        (status = 200, body = Vec<BallotLine>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn list_ballots(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
) -> Result<Json<Vec<BallotLine>>, ApiError> {
    let p = auth.caller()?;
    Ok(Json(c.my_ballots(&p).await?))
}

/// Writes a draft ballot (the body's secretariat).
#[utoipa::path(post, path = "/api/v1/cabinet/ballots", tag = "cabinet",
    request_body = BallotSpec,
    responses(
        (status = 201, body = Ballot),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn create_ballot(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    b: Result<Json<BallotSpec>, JsonRejection>,
) -> Result<(StatusCode, Json<Ballot>), ApiError> {
    let p = auth.writer(&headers)?;
    let spec = body(b)?;
    Ok((StatusCode::CREATED, Json(c.create_ballot(&p, &spec).await?)))
}

/// A ballot as the caller sees it: their own vote; who voted (the secretariat, and everyone
/// once closed); the tally once closed (the secretariat sees it running when not secret).
#[utoipa::path(get, path = "/api/v1/cabinet/ballots/{id}", tag = "cabinet",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = BallotView),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn get_ballot(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<BallotView>, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    Ok(Json(c.ballot(&p, &id).await?))
}

/// Rewrites a draft ballot (the secretariat).
#[utoipa::path(put, path = "/api/v1/cabinet/ballots/{id}", tag = "cabinet",
    params(("id" = String, Path)),
    request_body = BallotSpec,
    responses(
        (status = 200, body = Ballot),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn edit_ballot(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<BallotSpec>, JsonRejection>,
) -> Result<Json<Ballot>, ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let spec = body(b)?;
    Ok(Json(c.edit_ballot(&p, &id, &spec).await?))
}

/// Adds a paper to a draft ballot (the secretariat): multipart with `title`, `access` and
/// `file`.
#[utoipa::path(post, path = "/api/v1/cabinet/ballots/{id}/documents", tag = "cabinet",
    params(("id" = String, Path)),
    request_body(content = DocumentUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = DocumentLine),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 413, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 415, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn upload_ballot_document(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<DocumentLine>), ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let d = upload_of(mp).await?;
    Ok((
        StatusCode::CREATED,
        Json(c.add_ballot_document(&p, &id, &d).await?),
    ))
}

/// A step of a ballot.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BallotMove {
    Open,
    Close,
    Publish,
}

#[derive(Debug, Deserialize, ToSchema)]
struct BallotMoveBody {
    /// `open`, `close` or `publish`.
    #[serde(rename = "move")]
    mv: BallotMove,
}

/// Opens, closes or publishes a ballot (the secretariat). Closing checks every vote's
/// signature and counts; publishing issues the signed summary.
#[utoipa::path(post, path = "/api/v1/cabinet/ballots/{id}/status", tag = "cabinet",
    params(("id" = String, Path)),
    request_body = BallotMoveBody,
    responses(
        (status = 200, body = Ballot),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn move_ballot(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<BallotMoveBody>, JsonRejection>,
) -> Result<Json<Ballot>, ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let m = body(b)?;
    Ok(Json(match m.mv {
        BallotMove::Open => c.open_ballot(&p, &id).await?,
        BallotMove::Close => c.close_ballot(&p, &id).await?,
        BallotMove::Publish => c.publish_ballot(&p, &id).await?,
    }))
}

/// A vote.
#[derive(Debug, Deserialize, ToSchema)]
struct VoteBody {
    answers: Vec<Answer>,
}

/// Casts or changes the caller's vote, signed with their key (voters, while the ballot is
/// open and before its deadline).
#[utoipa::path(put, path = "/api/v1/cabinet/ballots/{id}/vote", tag = "cabinet",
    params(("id" = String, Path)),
    request_body = VoteBody,
    responses(
        (status = 200, body = SignedVote),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn vote(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    b: Result<Json<VoteBody>, JsonRejection>,
) -> Result<Json<SignedVote>, ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    let v = body(b)?;
    Ok(Json(c.vote(&p, &id, &v.answers).await?))
}

/// How many were reminded.
#[derive(Debug, Serialize, ToSchema)]
struct Reminded {
    sent: usize,
}

/// Reminds the voters who have not voted (the secretariat).
#[utoipa::path(post, path = "/api/v1/cabinet/ballots/{id}/reminders", tag = "cabinet",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Reminded),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn remind(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Reminded>, ApiError> {
    let p = auth.writer(&headers)?;
    let id = path(id)?;
    Ok(Json(Reminded {
        sent: c.remind(&p, &id).await?,
    }))
}

/// Checks every voter's latest vote: signature, signer, ballot (the secretariat; never says
/// how anyone voted).
#[utoipa::path(get, path = "/api/v1/cabinet/ballots/{id}/verification", tag = "cabinet",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Vec<VoteCheck>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn verification(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<VoteCheck>>, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    Ok(Json(c.verify_ballot(&p, &id).await?))
}

/// A vote's signed document (the exact bytes): the voter's own at any time, anyone's once
/// the ballot is closed.
#[utoipa::path(get, path = "/api/v1/cabinet/ballots/{id}/votes/{login}/document", tag = "cabinet",
    params(("id" = String, Path), ("login" = String, Path)),
    responses(
        (status = 200, description = "The vote as signed (JSON)", content_type = "application/json", body = Object),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn vote_document(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    x: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = auth.caller()?;
    let (id, login) = path(x)?;
    let (doc, _) = c.vote_files(&p, &id, &login).await?;
    Ok(bytes_answer(
        "application/json",
        &format!("{login}.json"),
        doc.into_bytes(),
    ))
}

/// A vote's detached CMS signature (DER).
#[utoipa::path(get, path = "/api/v1/cabinet/ballots/{id}/votes/{login}/signature", tag = "cabinet",
    params(("id" = String, Path), ("login" = String, Path)),
    responses(
        (status = 200, description = "DER", content_type = "application/pkcs7-signature", body = Vec<u8>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn vote_signature(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    x: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = auth.caller()?;
    let (id, login) = path(x)?;
    let (_, sig) = c.vote_files(&p, &id, &login).await?;
    Ok(bytes_answer(
        "application/pkcs7-signature",
        &format!("{login}.json.p7s"),
        sig,
    ))
}

/// Everything that checks a published ballot outside motcua: the tally, every vote with its
/// signature, the summary's signature and the authority's certificate.
#[utoipa::path(get, path = "/api/v1/cabinet/ballots/{id}/archive", tag = "cabinet",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Archive),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn archive(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Archive>, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    Ok(Json(c.archive(&p, &id).await?))
}

/// The summary's detached CMS signature by the secretariat (DER).
#[utoipa::path(get, path = "/api/v1/cabinet/ballots/{id}/summary.p7s", tag = "cabinet",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "DER", content_type = "application/pkcs7-signature", body = Vec<u8>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn summary_signature(
    State(c): State<Arc<Cabinet>>,
    auth: Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let p = auth.caller()?;
    let id = path(id)?;
    let sig = c.summary_signature(&p, &id).await?;
    Ok(bytes_answer(
        "application/pkcs7-signature",
        "tong-hop-y-kien.pdf.p7s",
        sig,
    ))
}
