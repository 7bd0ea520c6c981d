//! The page layout: what every page carries around its content (language, node name, the
//! language switch link), and rendering of askama templates into responses.

use askama::Template;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};

use crate::lang::{CHROME_EN, CHROME_VI, ChromeTexts, Lang};

/// Facts about this node that pages show.
#[derive(Debug, Clone)]
pub struct Site {
    pub node_name: String,
    /// Mark cookies `Secure` (the node is reached over HTTPS).
    pub secure_cookies: bool,
    /// A demo instance: its login page lists the demo accounts.
    pub demo: bool,
    /// The national node: a citizen's dossiers are those of every node.
    pub national: bool,
}

/// Everything the base template needs; extracted from the request.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub lang: Lang,
    pub node_name: String,
    /// Path and query of this page, for the switch link to come back to.
    pub here: String,
    pub t: &'static ChromeTexts,
    /// Where "my dossiers" is: every node's on the national node, this node's elsewhere.
    pub dossiers_href: &'static str,
}

impl Chrome {
    pub fn new(lang: Lang, node_name: &str, here: &str) -> Chrome {
        Chrome {
            lang,
            node_name: node_name.to_string(),
            here: here.to_string(),
            t: match lang {
                Lang::Vi => &CHROME_VI,
                Lang::En => &CHROME_EN,
            },
            dossiers_href: "/ho-so",
        }
    }

    /// The link that switches language and comes back here.
    pub fn switch_href(&self) -> String {
        let mut here = self.here.clone();
        // Drop a lang= parameter so the cookie decides after the switch.
        if let Some((path, q)) = here.split_once('?') {
            let rest: Vec<&str> = q.split('&').filter(|p| !p.starts_with("lang=")).collect();
            here = if rest.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", rest.join("&"))
            };
        }
        format!(
            "/lang/{}?next={}",
            self.lang.other().code(),
            encode_component(&here)
        )
    }

    /// The stylesheet's URL.
    pub fn css_href(&self) -> String {
        crate::assets::css_href()
    }

    pub fn pick<'a>(&self, vi: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(vi, en)
    }
}

impl<S> FromRequestParts<S> for Chrome
where
    S: Send + Sync,
    Site: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let site = Site::from_ref(state);
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut c = Chrome::new(Lang::of_request(parts), &site.node_name, here);
        if site.national {
            c.dossiers_href = "/ho-so-toan-quoc";
        }
        Ok(c)
    }
}

/// Percent-encodes a URL component (everything but unreserved characters).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Renders a template as a 200 page.
pub fn render<T: Template>(t: &T) -> Response {
    render_status(StatusCode::OK, t)
}

/// Renders a template with a status.
pub fn render_status<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "template error / lỗi giao diện",
            )
                .into_response()
        }
    }
}
