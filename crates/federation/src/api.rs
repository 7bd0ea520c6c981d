//! The federation's routes: the signed calls of local nodes to the national node (register,
//! push events), the national operators' register of nodes, and a local node's sync status
//! and replay.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRef, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, Method};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use web::ApiError;
use web::extract::{json as body, path, query};

use identity::web::Auth;

use crate::error::invalid;
use crate::national::FederatedDossier;
use crate::publication::{CatalogPage, CatalogPull};
use crate::{
    Federation, FederationError, NodeMove, NodeView, Registration, SsoClient, SsoRequest,
    SyncAnswer, SyncBatch, SyncStatus,
};

/// The federation's routes.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Federation>: FromRef<S>,
    Arc<identity::Identity>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(sso))
        .routes(routes!(list_nodes))
        .routes(routes!(decide))
        .routes(routes!(node_dossiers))
        .routes(routes!(sync_status))
        .routes(routes!(my_dossiers))
        .routes(routes!(replay))
        .routes(routes!(catalog_changes))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(events))
                .routes(routes!(catalog_publish))
                .layer(axum::extract::DefaultBodyLimit::max(crate::MAX_BATCH_BYTES)),
        )
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, FederationError> {
    serde_json::from_slice(bytes).map_err(|e| {
        invalid(
            "body",
            format!("nội dung JSON không đọc được: {e}"),
            format!("the JSON body cannot be read: {e}"),
        )
    })
}

fn path_of(uri: &OriginalUri) -> String {
    uri.0
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.0.path().to_string())
}

/// A local node registers (or says again who it is), signed with the key it names. A new
/// node waits for a national operator.
#[utoipa::path(post, path = "/api/v1/federation/register", tag = "federation",
    request_body = Registration,
    params(
        ("Motcua-Node" = String, Header, description = "The calling node"),
        ("Motcua-Date" = i64, Header, description = "Unix seconds when signed"),
        ("Motcua-Nonce" = String, Header, description = "16 to 64 letters, digits, - or _; never used twice"),
        ("Motcua-Signature" = String, Header, description = "Ed25519 signature (base64) of the call's canonical form"),
    ),
    responses(
        (status = 200, body = NodeView),
        (status = 401, description = "Unsigned, badly signed, out of its time window, or a replay", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Not the national node", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Registered with another key", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn register(
    State(f): State<Arc<Federation>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<NodeView>, ApiError> {
    f.need_role(kernel::config::NodeRole::National)?;
    let r: Registration = parse(&bytes)?;
    if !crate::keys::valid_public(&r.public_key) {
        return Err(invalid(
            "public_key",
            "khoá công khai phải là khoá Ed25519 (32 byte, base64)",
            "the public key must be an Ed25519 key (32 bytes, base64)",
        )
        .into());
    }
    let caller = f
        .check_call(
            method.as_str(),
            &path_of(&uri),
            &headers,
            &bytes,
            Some(&r.public_key),
        )
        .await?;
    Ok(Json(f.register(&caller, &r).await?))
}

/// An approved local node asks for its single sign-on client at the national node's OpenID
/// Connect provider (made at the first request), signed.
#[utoipa::path(post, path = "/api/v1/federation/sso", tag = "federation",
    request_body = SsoRequest,
    params(
        ("Motcua-Node" = String, Header, description = "The calling node"),
        ("Motcua-Date" = i64, Header, description = "Unix seconds when signed"),
        ("Motcua-Nonce" = String, Header, description = "Never used twice"),
        ("Motcua-Signature" = String, Header, description = "Ed25519 signature (base64)"),
    ),
    responses(
        (status = 200, body = SsoClient),
        (status = 401, description = "Unsigned, badly signed, out of its time window, or a replay", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The node is not approved, or suspended", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Not the national node", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn sso(
    State(f): State<Arc<Federation>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<SsoClient>, ApiError> {
    let caller = f
        .check_call(method.as_str(), &path_of(&uri), &headers, &bytes, None)
        .await?;
    let r: SsoRequest = parse(&bytes)?;
    Ok(Json(f.sso_client(&caller, &r).await?))
}

/// A local node pushes dossier events, signed. Each is applied once, in order per dossier;
/// an event after a gap waits for the ones before it.
#[utoipa::path(post, path = "/api/v1/federation/events", tag = "federation",
    request_body = SyncBatch,
    params(
        ("Motcua-Node" = String, Header, description = "The calling node"),
        ("Motcua-Date" = i64, Header, description = "Unix seconds when signed"),
        ("Motcua-Nonce" = String, Header, description = "Never used twice"),
        ("Motcua-Signature" = String, Header, description = "Ed25519 signature (base64)"),
    ),
    responses(
        (status = 200, body = SyncAnswer),
        (status = 401, description = "Unsigned, badly signed, out of its time window, or a replay", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The node is not approved, or suspended", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Not the national node", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 16 MiB"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn events(
    State(f): State<Arc<Federation>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<SyncAnswer>, ApiError> {
    let caller = f
        .verify_call(method.as_str(), &path_of(&uri), &headers, &bytes, None)
        .await?;
    let batch: SyncBatch = match parse(&bytes) {
        Ok(b) => b,
        Err(e) => {
            f.spend_alone(&caller).await?;
            return Err(e.into());
        }
    };
    Ok(Json(f.receive(&caller, batch).await?))
}

/// An approved local node pulls the national catalogue's changes after the last number it
/// has, signed: a page whole in itself (changed procedure versions, with the fields and the
/// agencies they name).
#[utoipa::path(post, path = "/api/v1/federation/catalog/changes", tag = "federation",
    request_body = CatalogPull,
    params(
        ("Motcua-Node" = String, Header, description = "The calling node"),
        ("Motcua-Date" = i64, Header, description = "Unix seconds when signed"),
        ("Motcua-Nonce" = String, Header, description = "Never used twice"),
        ("Motcua-Signature" = String, Header, description = "Ed25519 signature (base64)"),
    ),
    responses(
        (status = 200, body = CatalogPage),
        (status = 401, description = "Unsigned, badly signed, out of its time window, or a replay", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The node is not approved, or suspended", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Not the national node", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn catalog_changes(
    State(f): State<Arc<Federation>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<CatalogPage>, ApiError> {
    f.need_role(kernel::config::NodeRole::National)?;
    let caller = f
        .check_call(method.as_str(), &path_of(&uri), &headers, &bytes, None)
        .await?;
    let pull: CatalogPull = parse(&bytes)?;
    Ok(Json(f.catalog_changes(&caller, &pull).await?))
}

/// An approved local node publishes upward the procedures it makes for its own agencies,
/// signed. Each version is taken once; one that another node publishes, or that differs
/// from the one held under its number, is left and reported.
#[utoipa::path(post, path = "/api/v1/federation/catalog/publish", tag = "federation",
    request_body = CatalogPage,
    params(
        ("Motcua-Node" = String, Header, description = "The calling node"),
        ("Motcua-Date" = i64, Header, description = "Unix seconds when signed"),
        ("Motcua-Nonce" = String, Header, description = "Never used twice"),
        ("Motcua-Signature" = String, Header, description = "Ed25519 signature (base64)"),
    ),
    responses(
        (status = 200, body = catalog::feed::Received),
        (status = 401, description = "Unsigned, badly signed, out of its time window, or a replay", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The node is not approved or suspended, or a procedure belongs to an agency it does not answer for", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Not the national node", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 16 MiB"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ))]
async fn catalog_publish(
    State(f): State<Arc<Federation>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<catalog::feed::Received>, ApiError> {
    f.need_role(kernel::config::NodeRole::National)?;
    let caller = f
        .check_call(method.as_str(), &path_of(&uri), &headers, &bytes, None)
        .await?;
    let page: CatalogPage = parse(&bytes)?;
    Ok(Json(f.catalog_receive(&caller, &page).await?))
}

/// The local nodes, with their status and lag (national operators).
#[utoipa::path(get, path = "/api/v1/federation/nodes", tag = "federation",
    responses(
        (status = 200, body = Vec<NodeView>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn list_nodes(
    State(f): State<Arc<Federation>>,
    auth: Auth,
) -> Result<Json<Vec<NodeView>>, ApiError> {
    let p = auth.caller()?;
    Ok(Json(f.nodes(&p).await?))
}

/// What an operator decides of a node.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Decision {
    pub action: NodeMove,
}

/// Approves, suspends or resumes a node (national operators).
#[utoipa::path(post, path = "/api/v1/federation/nodes/{node}/decision", tag = "federation",
    params(("node" = String, Path)),
    request_body = Decision,
    responses(
        (status = 200, body = NodeView),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn decide(
    State(f): State<Arc<Federation>>,
    auth: Auth,
    headers: HeaderMap,
    n: Result<Path<String>, PathRejection>,
    b: Result<Json<Decision>, JsonRejection>,
) -> Result<Json<NodeView>, ApiError> {
    let p = auth.writer(&headers)?;
    let n = path(n)?;
    let b = body(b)?;
    Ok(Json(f.decide(&p, &n, b.action).await?))
}

/// Paging through a node's dossiers.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// The last dossier id of the page before.
    #[serde(default)]
    pub after: String,
    /// At most this many (1 to 1000; 200 when not said).
    pub limit: Option<i64>,
}

/// The dossiers known from a node, with the status their events leave them in (national
/// operators).
#[utoipa::path(get, path = "/api/v1/federation/nodes/{node}/dossiers", tag = "federation",
    params(("node" = String, Path), Page),
    responses(
        (status = 200, body = Vec<FederatedDossier>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn node_dossiers(
    State(f): State<Arc<Federation>>,
    auth: Auth,
    n: Result<Path<String>, PathRejection>,
    q: Result<Query<Page>, QueryRejection>,
) -> Result<Json<Vec<FederatedDossier>>, ApiError> {
    let p = auth.caller()?;
    let n = path(n)?;
    let q = query(q)?;
    Ok(Json(
        f.node_dossiers(&p, &n, &q.after, q.limit.unwrap_or(200))
            .await?,
    ))
}

/// On the national node: the logged-in citizen's dossiers from every local node, with their
/// status as last synchronised (newest change first, at most 500).
#[utoipa::path(get, path = "/api/v1/federation/my-dossiers", tag = "federation",
    responses(
        (status = 200, body = Vec<FederatedDossier>),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Not the national node", body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn my_dossiers(
    State(f): State<Arc<Federation>>,
    auth: Auth,
) -> Result<Json<Vec<FederatedDossier>>, ApiError> {
    let p = auth.caller()?;
    let subject = identity::Subject::Account(p.clone());
    if identity::authorize(
        &subject,
        identity::Action::OwnAccount,
        &identity::Resource::Account(&p.id),
    ) != identity::Decision::Allow
    {
        return Err(crate::error::refused(
            403,
            "forbidden",
            "Cần quyền xem hồ sơ của chính mình (profile)",
            "The token needs the profile scope",
        )
        .into());
    }
    Ok(Json(f.dossiers_of_citizen(&p).await?))
}

/// This node's sync to the national node: its registration, backlog and lag (operators).
#[utoipa::path(get, path = "/api/v1/federation/sync", tag = "federation",
    responses(
        (status = 200, body = SyncStatus),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn sync_status(
    State(f): State<Arc<Federation>>,
    auth: Auth,
) -> Result<Json<SyncStatus>, ApiError> {
    let p = auth.caller()?;
    Ok(Json(f.sync_status(&p).await?))
}

/// From when to send again.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplaySpec {
    /// Every event written to the outbox at or after this time is sent again.
    pub since: DateTime<Utc>,
}

/// How many events will be sent again.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    pub events: u64,
}

/// Sends the outbox again from a point (operators of a local node); the national node
/// ignores what it has.
#[utoipa::path(post, path = "/api/v1/federation/replay", tag = "federation",
    request_body = ReplaySpec,
    responses(
        (status = 200, body = Replayed),
        (status = 401, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Not a local node", body = web::error::ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = web::error::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn replay(
    State(f): State<Arc<Federation>>,
    auth: Auth,
    headers: HeaderMap,
    b: Result<Json<ReplaySpec>, JsonRejection>,
) -> Result<Json<Replayed>, ApiError> {
    let p = auth.writer(&headers)?;
    let b = body(b)?;
    Ok(Json(Replayed {
        events: f.replay(&p, b.since).await?,
    }))
}
