//! Single sign-on: a standard OpenID Connect relying party (the `openidconnect` crate) logs a
//! citizen in through motcua, on SQLite and PostgreSQL.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use identity::demo::PASSWORD;
use identity::oidc::ClientSpec;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::http;
use openidconnect::{
    AccessToken, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope,
    TokenResponse,
};
use testkit::{Backend, Spawn, TestApp, both, hidden, location, spawn_app};

const CB: &str = "http://127.0.0.1:9/cb";
const BYE: &str = "http://127.0.0.1:9/bye";

/// The relying party's HTTP client: the test's reqwest client behind the crate's interface.
#[derive(Debug)]
struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for HttpError {}

type HttpFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<http::Response<Vec<u8>>, HttpError>> + Send>,
>;

fn http_client(app: &TestApp) -> impl Fn(http::Request<Vec<u8>>) -> HttpFuture + use<> {
    let client = app.client.clone();
    move |req: http::Request<Vec<u8>>| {
        let client = client.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let mut rb = client.request(
                parts
                    .method
                    .as_str()
                    .parse()
                    .map_err(|_| HttpError("method".into()))?,
                parts.uri.to_string(),
            );
            for (k, v) in &parts.headers {
                rb = rb.header(k.as_str(), v.as_bytes());
            }
            let r = rb
                .body(body)
                .send()
                .await
                .map_err(|e| HttpError(e.to_string()))?;
            let mut out = http::Response::builder().status(r.status().as_u16());
            for (k, v) in r.headers() {
                out = out.header(k.as_str(), v.as_bytes());
            }
            let bytes = r.bytes().await.map_err(|e| HttpError(e.to_string()))?;
            out.body(bytes.to_vec())
                .map_err(|e| HttpError(e.to_string()))
        })
    }
}

type Rp = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Discovers the provider and builds a relying party for a registered client.
async fn relying_party(app: &TestApp, client_id: &str, secret: Option<&str>) -> Rp {
    let http = http_client(app);
    let meta = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.base.clone()).unwrap_or_else(|e| panic!("{e}")),
        &http,
    )
    .await
    .unwrap_or_else(|e| panic!("discovery: {e:?}"));
    CoreClient::from_provider_metadata(
        meta,
        ClientId::new(client_id.into()),
        secret.map(|s| ClientSecret::new(s.into())),
    )
    .set_redirect_uri(RedirectUrl::new(CB.into()).unwrap_or_else(|e| panic!("{e}")))
}

struct Started {
    url: String,
    csrf: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

fn start(rp: &Rp, scopes: &[&str]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = rp.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for s in scopes {
        req = req.add_scope(Scope::new((*s).into()));
    }
    let (url, csrf, nonce) = req.set_pkce_challenge(challenge).url();
    Started {
        url: url.to_string(),
        csrf,
        nonce,
        verifier,
    }
}

/// Path and query of an absolute URL on the node.
fn local(app: &TestApp, url: &str) -> String {
    url.strip_prefix(&app.base).unwrap_or(url).to_string()
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

/// Follows an authorization request with a session; agrees on the consent page if shown.
/// Returns the redirect back to the application.
async fn authorize(app: &TestApp, cookie: &str, url: &str) -> String {
    let r = app
        .get_with(&local(app, url), cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    if r.status() == 303 {
        return location(&r);
    }
    assert_eq!(r.status(), 200, "the consent page");
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9"),
        "the consent form may end at the application: {csp}"
    );
    let html = r.text().await.unwrap_or_default();
    assert!(html.contains("Cổng thử nghiệm"), "names the application");
    if url.contains("cccd") {
        assert!(
            html.contains("Số định danh cá nhân"),
            "names the CCCD claim"
        );
    }
    let mut form: Vec<(String, String)> = [
        "csrf",
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
    ]
    .iter()
    .map(|k| (k.to_string(), hidden(&html, k)))
    .collect();
    form.push(("decision".into(), "allow".into()));
    let r = app
        .client
        .post(app.url("/oidc/authorize"))
        .header("cookie", cookie)
        .form(&form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 303);
    location(&r)
}

/// Runs the browser part of the flow; returns the code.
async fn code_for(app: &TestApp, cookie: &str, s: &Started) -> String {
    let back = authorize(app, cookie, &s.url).await;
    assert!(back.starts_with(CB), "{back}");
    let q = query_of(&back);
    assert_eq!(
        q.get("state").map(String::as_str),
        Some(s.csrf.secret().as_str())
    );
    assert_eq!(q.get("iss").map(String::as_str), Some(app.base.as_str()));
    q.get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code in {back}"))
}

async fn raw_token(app: &TestApp, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let r = app
        .client
        .post(app.url("/oidc/token"))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

async fn userinfo_status(app: &TestApp, access: &str) -> u16 {
    app.client
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .status()
        .as_u16()
}

fn at(t: DateTime<Utc>) -> impl Fn() -> DateTime<Utc> + Send + Sync {
    move || t
}

async fn register(app: &TestApp, public: bool) -> (String, Option<String>) {
    let (c, secret) = app
        .state
        .identity
        .register_client(
            &ClientSpec {
                name: "Cổng thử nghiệm".into(),
                redirect_uris: vec![CB.into()],
                post_logout_uris: vec![BYE.into()],
                scopes: ["openid", "profile", "email", "phone", "cccd"]
                    .map(String::from)
                    .to_vec(),
                confidential: !public,
                machine: false,
                agency: None,
            },
            "test",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (c.client_id, secret)
}

async fn a_relying_party_logs_a_citizen_in(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (client_id, secret) = register(&app, false).await;
    let rp = relying_party(&app, &client_id, secret.as_deref()).await;
    let http = http_client(&app);
    let cookie = app
        .session("001095012345", PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));

    // Anonymous: sent to the login page, which comes back to the request.
    let s = start(&rp, &["openid", "profile", "email", "cccd"]);
    let r = app
        .get(&local(&app, &s.url))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.starts_with("/dang-nhap?next="), "{to}");
    assert!(to.contains("oidc") && to.contains("authorize"), "{to}");
    // The login page lets its form end at the application, and comes back to the request.
    let login_page = app.get(&to).await.unwrap_or_else(|e| panic!("{e:#}"));
    let csp = login_page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.ends_with("form-action 'self' http://127.0.0.1:9"),
        "{csp}"
    );
    let next = local(&app, &s.url);
    let r = app
        .post_login("001095012345", PASSWORD, &next)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(location(&r), next);

    // Code + PKCE, ID token checked by the library against the JWKS.
    let code = code_for(&app, &cookie, &s).await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap_or_else(|e| panic!("{e:?}"))
        .set_pkce_verifier(PkceCodeVerifier::new(s.verifier.secret().clone()))
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("exchange: {e:?}"));
    let now = app.clock_now();
    let verifier = rp.id_token_verifier().set_time_fn(at(now));
    let id_token: &CoreIdToken = tokens.id_token().unwrap_or_else(|| panic!("no ID token"));
    let claims = id_token
        .claims(&verifier, &s.nonce)
        .unwrap_or_else(|e| panic!("ID token: {e:?}"));
    let sub = claims.subject().as_str().to_string();
    assert_eq!(
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Nguyễn Văn An")
    );
    assert_eq!(claims.issuer().as_str(), app.base);
    // A different nonce is refused.
    assert!(
        id_token
            .claims(&verifier, &Nonce::new("other".into()))
            .is_err()
    );

    // Userinfo, with the CCCD the scope released.
    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), None)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("userinfo: {e:?}"));
    assert_eq!(info.subject().as_str(), sub);
    let raw: serde_json::Value = app
        .client
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(raw["cccd"], "001095012345");
    assert!(raw.get("phone_number").is_none(), "phone was not asked for");
    // The access token also opens the JSON API as that citizen, within its scopes.
    let me: serde_json::Value = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(me["login"], "001095012345");

    // Refresh: a new pair; the old refresh token comes back → the family is revoked.
    let r1 = tokens
        .refresh_token()
        .unwrap_or_else(|| panic!("no refresh token"))
        .clone();
    let refreshed = rp
        .exchange_refresh_token(&r1)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("refresh: {e:?}"));
    let r2 = refreshed
        .refresh_token()
        .unwrap_or_else(|| panic!("no new refresh token"))
        .clone();
    assert_ne!(r1.secret(), r2.secret());
    assert_eq!(
        userinfo_status(&app, refreshed.access_token().secret()).await,
        200
    );
    let reuse = rp
        .exchange_refresh_token(&r1)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .request_async(&http)
        .await;
    assert!(reuse.is_err(), "a used refresh token is refused");
    let (st, body) = raw_token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r2.secret()),
            ("client_id", &client_id),
            ("client_secret", secret.as_deref().unwrap_or("")),
        ],
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(body["error"], "invalid_grant", "the whole family went");
    assert!(body["error_description_vi"].as_str().is_some());
    assert_eq!(
        userinfo_status(&app, refreshed.access_token().secret()).await,
        401
    );

    // A wrong redirect URI: an error page, never a redirect.
    let bad = s.url.replace(
        &url::form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>(),
        &url::form_urlencoded::byte_serialize(b"http://127.0.0.1:9/evil").collect::<String>(),
    );
    assert_ne!(bad, s.url);
    let r = app
        .get_with(&local(&app, &bad), &cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert!(
        r.text()
            .await
            .unwrap_or_default()
            .contains("Địa chỉ chuyển hướng không nằm trong danh sách")
    );

    // A code works once; its second use also revokes what the first produced. Consent is
    // remembered, so the browser goes straight back.
    let s2 = start(&rp, &["openid", "profile"]);
    let code2 = code_for(&app, &cookie, &s2).await;
    let first = rp
        .exchange_code(AuthorizationCode::new(code2.clone()))
        .unwrap_or_else(|e| panic!("{e:?}"))
        .set_pkce_verifier(PkceCodeVerifier::new(s2.verifier.secret().clone()))
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        userinfo_status(&app, first.access_token().secret()).await,
        200
    );
    let again = rp
        .exchange_code(AuthorizationCode::new(code2))
        .unwrap_or_else(|e| panic!("{e:?}"))
        .set_pkce_verifier(PkceCodeVerifier::new(s2.verifier.secret().clone()))
        .request_async(&http)
        .await;
    assert!(again.is_err(), "a reused code is refused");
    assert_eq!(
        userinfo_status(&app, first.access_token().secret()).await,
        401
    );

    // A wrong PKCE verifier.
    let s3 = start(&rp, &["openid"]);
    let code3 = code_for(&app, &cookie, &s3).await;
    let wrong = rp
        .exchange_code(AuthorizationCode::new(code3))
        .unwrap_or_else(|e| panic!("{e:?}"))
        .set_pkce_verifier(PkceCodeVerifier::new("x".repeat(50)))
        .request_async(&http)
        .await;
    assert!(wrong.is_err(), "a wrong verifier is refused");

    // A wrong client secret.
    let (st, body) = raw_token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", "whatever"),
            ("client_id", &client_id),
            ("client_secret", "mcs_wrong"),
        ],
    )
    .await;
    assert_eq!((st, body["error"].as_str()), (401, Some("invalid_client")));

    // Expiry: a code unused for three minutes, an access token after eleven, an ID token.
    let s4 = start(&rp, &["openid", "profile"]);
    let code4 = code_for(&app, &cookie, &s4).await;
    let fresh = rp
        .exchange_code(AuthorizationCode::new(
            code_for(&app, &cookie, &start(&rp, &["openid"])).await,
        ))
        .unwrap_or_else(|e| panic!("{e:?}"))
        .set_pkce_verifier(PkceCodeVerifier::new("y".repeat(43)))
        .request_async(&http)
        .await;
    assert!(fresh.is_err());
    app.clock.advance(Duration::minutes(3));
    let late = rp
        .exchange_code(AuthorizationCode::new(code4))
        .unwrap_or_else(|e| panic!("{e:?}"))
        .set_pkce_verifier(PkceCodeVerifier::new(s4.verifier.secret().clone()))
        .request_async(&http)
        .await;
    assert!(late.is_err(), "an expired code is refused");
    app.clock.advance(Duration::minutes(8));
    let expired = AccessToken::new(tokens.access_token().secret().clone());
    assert_eq!(userinfo_status(&app, expired.secret()).await, 401);
    let later = rp.id_token_verifier().set_time_fn(at(app.clock_now()));
    assert!(
        id_token.claims(&later, &s.nonce).is_err(),
        "an expired ID token is refused"
    );
    let _ = RefreshToken::new(String::new());
}

async fn keys_rotate_without_breaking_tokens_and_logout_ends_the_session(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // A public client: no secret, PKCE alone.
    let (client_id, secret) = register(&app, true).await;
    assert!(secret.is_none());
    let rp = relying_party(&app, &client_id, None).await;
    let http = http_client(&app);
    let cookie = app
        .session("001095012345", PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let s = start(&rp, &["openid", "profile"]);
    let code = code_for(&app, &cookie, &s).await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap_or_else(|e| panic!("{e:?}"))
        .set_pkce_verifier(PkceCodeVerifier::new(s.verifier.secret().clone()))
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("exchange: {e:?}"));
    let old = tokens
        .id_token()
        .unwrap_or_else(|| panic!("no ID token"))
        .clone();

    let kid = app
        .state
        .identity
        .rotate_signing_key("test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A relying party that fetches the keys again still accepts the old token…
    let rp2 = relying_party(&app, &client_id, None).await;
    let now = app.clock_now();
    assert!(
        old.claims(&rp2.id_token_verifier().set_time_fn(at(now)), &s.nonce)
            .is_ok(),
        "a token signed by the retired key still verifies"
    );
    let jwks = app
        .get_json("/oidc/jwks")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2));
    // …and new tokens carry the new key id.
    let s2 = start(&rp2, &["openid"]);
    let code2 = code_for(&app, &cookie, &s2).await;
    let t2 = rp2
        .exchange_code(AuthorizationCode::new(code2))
        .unwrap_or_else(|e| panic!("{e:?}"))
        .set_pkce_verifier(PkceCodeVerifier::new(s2.verifier.secret().clone()))
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let new_id = t2.id_token().unwrap_or_else(|| panic!("no ID token"));
    let header = new_id.to_string();
    let head: serde_json::Value = header
        .split('.')
        .next()
        .and_then(|h| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    assert_eq!(head["kid"], kid.as_str());
    // Two days later the retired key is gone from the set.
    app.clock.advance(Duration::hours(49));
    let jwks = app
        .get_json("/oidc/jwks")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));
    app.clock.advance(-Duration::hours(49));

    // RP-initiated logout with the ID token as hint: the session ends, the browser goes
    // back with its state, and the session's tokens stop working.
    let access = t2.access_token().secret().clone();
    assert_eq!(userinfo_status(&app, &access).await, 200);
    let q = format!(
        "/oidc/logout?id_token_hint={}&post_logout_redirect_uri={}&state=hen-gap-lai",
        new_id,
        testkit::enc(BYE)
    );
    // An unregistered place to go after logout is refused.
    let r = app
        .get_with(&q.replace("bye", "evil"), &cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 400);
    let r = app
        .get_with(&q, &cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{BYE}?state=hen-gap-lai"));
    assert_eq!(
        app.get_with("/api/v1/me", &cookie)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
            .status(),
        401
    );
    assert_eq!(userinfo_status(&app, &access).await, 401);
    // Without a hint, a logged-in user is asked first.
    let cookie = app
        .session("001095012345", PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let r = app
        .get_with("/oidc/logout", &cookie)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap_or_default();
    assert!(html.contains("Đăng xuất?"));
    assert_eq!(
        app.get_with("/api/v1/me", &cookie)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
            .status(),
        200,
        "not logged out by a bare GET"
    );
}

async fn machine_clients_use_client_credentials_within_their_scopes(b: Backend) {
    let app = spawn_app(b, Spawn::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (c, secret) = app
        .state
        .identity
        .register_client(
            &ClientSpec {
                name: "Hệ thống quản lý văn bản tỉnh".into(),
                scopes: vec!["catalog:read".into()],
                machine: true,
                confidential: true,
                ..ClientSpec::default()
            },
            "test",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = secret.unwrap_or_default();
    let (st, body) = raw_token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &c.client_id),
            ("client_secret", &secret),
            ("scope", "catalog:write"),
        ],
    )
    .await;
    assert_eq!((st, body["error"].as_str()), (400, Some("invalid_scope")));
    // With HTTP Basic, as the library sends it.
    let http = http_client(&app);
    let meta = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.base.clone()).unwrap_or_else(|e| panic!("{e}")),
        &http,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(c.client_id.clone()),
        Some(ClientSecret::new(secret.clone())),
    );
    let t = rp
        .exchange_client_credentials()
        .unwrap_or_else(|e| panic!("{e:?}"))
        .add_scope(Scope::new("catalog:read".into()))
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("client credentials: {e:?}"));
    assert!(t.refresh_token().is_none());
    let access = t.access_token().secret().clone();
    // The machine is not a person: no userinfo, no account of its own; the refusal is audited.
    assert_eq!(userinfo_status(&app, &access).await, 403);
    let r = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 403);
    let denials: i64 = kernel::on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'identity.access.deny' AND actor = $1"
    ).bind(format!("oidc-client/{}", c.client_id)).fetch_one(p).await)
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(denials, 1, "the denial is in the audit chain");
    // Turning the client off revokes its tokens at once.
    app.state
        .identity
        .set_client_disabled(&c.client_id, true, "test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(r.status(), 401);
}

both!(
    a_relying_party_logs_a_citizen_in,
    keys_rotate_without_breaking_tokens_and_logout_ends_the_session,
    machine_clients_use_client_credentials_within_their_scopes
);
