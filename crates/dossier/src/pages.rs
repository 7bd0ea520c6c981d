//! The public tracking page.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRef, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use web::{Chrome, Site, render_status};

use crate::{DossierError, Dossiers, Tracking};

/// The dossier pages.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Dossiers>: FromRef<S>,
    Site: FromRef<S>,
{
    axum::Router::new().route("/tra-cuu-ho-so", get(track_page))
}

#[derive(Template)]
#[template(path = "track.html")]
struct TrackPage {
    c: Chrome,
    code: String,
    found: Option<Tracking>,
    error: Option<String>,
}

async fn track_page(
    State(d): State<Arc<Dossiers>>,
    c: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let code = q
        .get("ma")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let digits = q
        .get("so")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if code.is_empty() || digits.is_empty() {
        return render_status(
            StatusCode::OK,
            &TrackPage {
                c,
                code,
                found: None,
                error: None,
            },
        );
    }
    let (status, found, error) = match d.track(&code, &digits).await {
        Ok(t) => (StatusCode::OK, Some(t), None),
        Err(e) => {
            let msg = if c.lang.is_vi() {
                match &e {
                    DossierError::NotFound(_) => {
                        "Không tìm thấy hồ sơ với mã và 4 chữ số này".to_string()
                    }
                    other => kernel::Problem::message_vi(other),
                }
            } else {
                match &e {
                    DossierError::NotFound(_) => {
                        "No dossier matches this code and these 4 digits".to_string()
                    }
                    other => kernel::Problem::message_en(other),
                }
            };
            (web::error::status_of(&e), None, Some(msg))
        }
    };
    render_status(
        status,
        &TrackPage {
            c,
            code,
            found,
            error,
        },
    )
}
