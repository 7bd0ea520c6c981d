//! Static assets, compiled into the binary: a node works inside a closed network with nothing
//! fetched from elsewhere. Served with a content hash in the query so they can be cached long.

use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const CSS: &str = include_str!("../assets/app.css");

fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        // FNV-1a over the stylesheet: a short, stable cache-busting tag.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in CSS.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}")
    })
}

/// The stylesheet's URL, for templates.
pub fn css_href() -> String {
    format!("/assets/app.css?v={}", version())
}

/// `GET /assets/app.css`
pub async fn css() -> Response {
    let mut r = (StatusCode::OK, CSS).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    r
}
