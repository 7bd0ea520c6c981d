//! The test harness: a real motcua server per test, on SQLite or PostgreSQL.
//!
//! [`spawn_app`] builds the same [`motcua::Application`] the binary runs, on a fresh data
//! folder and a fresh database, bound to a free port, and returns a handle with an HTTP client.
//! PostgreSQL comes from `DATABASE_URL` (an administrative connection; each test creates its
//! own database) or, when that is unset, from a throwaway cluster that [`pg`] starts with the
//! machine's `initdb` and `pg_ctl` and reuses across test processes.

pub mod pg;

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use kernel::clock::ManualClock;
use kernel::config::Config;
use motcua::{AppState, Application, BuildOptions};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server for one test.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: ManualClock,
    pub config: Config,
    data: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// How to start.
#[derive(Debug, Clone)]
pub struct Spawn {
    pub demo: bool,
    /// Deliver e-mail through this SMTP server.
    pub smtp_url: Option<String>,
    /// Send text messages to this HTTP gateway (with the token `test-sms-token`).
    pub sms_url: Option<String>,
    /// Take payments through VNPAY with this merchant code and secret.
    pub vnpay: Option<(String, String)>,
    /// Read and stamp PDFs with this binary's `pdf-worker` (none: a thread of the server's).
    pub pdf_worker: Option<std::path::PathBuf>,
    /// The node's place in a federation (none: all-in-one).
    pub federation: Option<kernel::config::FederationConfig>,
}

impl Default for Spawn {
    fn default() -> Self {
        Spawn {
            demo: true,
            smtp_url: None,
            sms_url: None,
            vnpay: None,
            pdf_worker: None,
            federation: None,
        }
    }
}

/// A fresh database URL for a backend (`None` for SQLite: the file in the data folder).
pub async fn fresh_database(backend: Backend) -> anyhow::Result<Option<String>> {
    match backend {
        Backend::Sqlite => Ok(None),
        Backend::Postgres => Ok(Some(pg::fresh_database().await?)),
    }
}

/// Starts a server with its own data folder and database. The clock is set to
/// 2026-03-02 09:00 in Vietnam (a Monday) and can be moved.
pub async fn spawn_app(backend: Backend, opts: Spawn) -> anyhow::Result<TestApp> {
    let data = tempfile::tempdir()?;
    let database_url = fresh_database(backend).await?;
    spawn_on(data, database_url, opts).await
}

/// Starts a server on an existing data folder and database (to test restarts).
pub async fn spawn_on(
    data: tempfile::TempDir,
    database_url: Option<String>,
    opts: Spawn,
) -> anyhow::Result<TestApp> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let bound = listener.local_addr()?;
    let config = Config {
        data_dir: data.path().to_path_buf(),
        database_url,
        listen: bound,
        public_url: format!("http://{bound}"),
        smtp: kernel::config::SmtpConfig {
            url: opts.smtp_url.clone().unwrap_or_default(),
            from: "Một cửa thử nghiệm <no-reply@motcua.test>".into(),
        },
        sms: kernel::config::SmsConfig {
            url: opts.sms_url.clone().unwrap_or_default(),
            token: "test-sms-token".into(),
        },
        database_max_connections: 8,
        payment: kernel::config::PaymentConfig {
            vnpay_terminal: opts.vnpay.as_ref().map(|v| v.0.clone()).unwrap_or_default(),
            vnpay_secret: opts.vnpay.as_ref().map(|v| v.1.clone()).unwrap_or_default(),
            ..kernel::config::PaymentConfig::default()
        },
        federation: opts.federation.clone().unwrap_or_default(),
        ..Config::default()
    };
    let start = Utc
        .with_ymd_and_hms(2026, 3, 2, 2, 0, 0)
        .single()
        .ok_or_else(|| anyhow::anyhow!("bad test start time"))?;
    let clock = ManualClock::new(start);
    let app = Application::build_on(
        config.clone(),
        BuildOptions {
            demo: opts.demo,
            clock: Arc::new(clock.clone()),
            index_in_memory: false,
            pdf_worker: opts.pdf_worker.clone(),
        },
        listener,
    )
    .await?;
    if opts.demo {
        // The demo's periodic reports (its history is left out: tests make their own).
        motcua::app::seed_demo_history(app.state(), 0).await?;
    }
    let addr = app.local_addr()?;
    let state = app.state().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = rx.await;
            })
            .await;
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    Ok(TestApp {
        addr,
        base: format!("http://{addr}"),
        client,
        state,
        clock,
        config,
        data: Some(data),
        shutdown: Some(tx),
        task: Some(task),
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The test clock's time.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use kernel::clock::Clock;
        self.clock.now()
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self.client.get(self.url(path)).send().await?)
    }

    /// GET and parse JSON, failing on a non-2xx status with the body in the message.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let r = self.get(path).await?;
        let status = r.status();
        let body = r.text().await?;
        if !status.is_success() {
            anyhow::bail!("GET {path}: {status}: {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// Codes of the search results for a query string (`q=...&...`), in order.
    pub async fn search_codes(&self, query: &str) -> anyhow::Result<Vec<String>> {
        let v = self
            .get_json(&format!("/api/v1/procedures?{query}"))
            .await?;
        Ok(v["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["code"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A bearer token of `login` for `scopes`, valid for a year of the test clock.
    pub async fn token(&self, login: &str, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        match self
            .state
            .identity
            .issue_token(login, &scopes, 366, "test", "test")
            .await
        {
            Ok(t) => t,
            Err(e) => panic!("token for {login}: {e}"),
        }
    }

    /// Calls the API with a bearer token and an optional JSON body: the status and the JSON
    /// answer (`null` when it is not JSON). A request that cannot be sent fails the test.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut rb = self
            .client
            .request(method.parse().unwrap_or_default(), self.url(path))
            .bearer_auth(bearer);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap_or_else(|e| panic!("{e:#}"));
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// GET with a cookie header.
    pub async fn get_with(&self, path: &str, cookie: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await?)
    }

    /// The anonymous CSRF cookie (`name=value`) and token a form page hands out.
    pub async fn form_csrf(&self, path: &str) -> anyhow::Result<(String, String)> {
        let r = self.get(path).await?;
        let cookie = set_cookie(&r, "motcua_csrf")
            .ok_or_else(|| anyhow::anyhow!("no CSRF cookie on {path}"))?;
        let token = cookie
            .split_once('=')
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        Ok((cookie, token))
    }

    /// Logs in through the login form, following `next`; returns the response (a redirect
    /// with the session cookie when the password is right).
    pub async fn post_login(
        &self,
        login: &str,
        password: &str,
        next: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let (cookie, token) = self.form_csrf("/dang-nhap").await?;
        Ok(self
            .client
            .post(self.url("/dang-nhap"))
            .header("cookie", cookie)
            .form(&[
                ("csrf", token.as_str()),
                ("login", login),
                ("password", password),
                ("next", next),
            ])
            .send()
            .await?)
    }

    /// A session cookie (`motcua_session=...`) of an account without two-factor.
    pub async fn session(&self, login: &str, password: &str) -> anyhow::Result<String> {
        let r = self.post_login(login, password, "/tai-khoan").await?;
        if r.status() != 303 {
            anyhow::bail!("login of {login}: {}", r.status());
        }
        set_cookie(&r, "motcua_session").ok_or_else(|| anyhow::anyhow!("no session cookie"))
    }

    /// Logs an administrator in, setting up two-factor when the login asks for it, and
    /// returns the session cookie.
    pub async fn admin_session(&self, login: &str, password: &str) -> anyhow::Result<String> {
        let r = self.post_login(login, password, "/tai-khoan").await?;
        let to = location(&r);
        let cookie = set_cookie(&r, "motcua_session")
            .ok_or_else(|| anyhow::anyhow!("no session cookie for {login}"))?;
        if to != "/tai-khoan/xac-thuc-hai-buoc" {
            anyhow::bail!("{login} was not asked to set up two-factor: {to}");
        }
        let page = self.get_with(&to, &cookie).await?.text().await?;
        let secret: String = page
            .split("data-testid=\"totp-secret\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let now = u64::try_from(self.clock_now().timestamp()).unwrap_or(0);
        let code = identity::totp::code_at(&secret, login, now).unwrap_or_default();
        let r = self
            .client
            .post(self.url(&to))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", hidden(&page, "csrf").as_str()),
                ("code", code.as_str()),
            ])
            .send()
            .await?;
        if r.status() != 303 {
            anyhow::bail!("two-factor set-up of {login}: {}", r.status());
        }
        Ok(cookie)
    }

    /// A bearer token, by client credentials, of a new machine client registered for
    /// `agency` with `scopes` (another agency's software).
    pub async fn machine_token(&self, name: &str, agency: &str, scopes: &[&str]) -> String {
        let (c, secret) = self
            .state
            .identity
            .register_client(
                &identity::oidc::ClientSpec {
                    name: name.to_string(),
                    scopes: scopes.iter().map(|s| s.to_string()).collect(),
                    machine: true,
                    confidential: true,
                    agency: Some(agency.into()),
                    ..identity::oidc::ClientSpec::default()
                },
                "test",
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let scope = scopes.join(" ");
        let r = self
            .client
            .post(self.url("/oidc/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", c.client_id.as_str()),
                ("client_secret", secret.unwrap_or_default().as_str()),
                ("scope", scope.as_str()),
            ])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        v["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {v}"))
            .to_string()
    }

    /// Creates an official (password: the demo one) holding `role` in `agency`.
    pub async fn add_official(
        &self,
        login: &str,
        role: identity::Role,
        agency: &str,
    ) -> anyhow::Result<()> {
        let new = identity::NewAccount {
            kind: identity::AccountKind::Official,
            username: Some(login.into()),
            full_name: format!("Cán bộ {login}"),
            cccd: None,
            tax_code: None,
            birth_date: None,
            sex: None,
            phone: None,
            email: None,
            password: identity::demo::PASSWORD.into(),
            assurance: 1,
        };
        let id = &self.state.identity;
        id.create_account(&new, "test").await?;
        id.grant(login, role, Some(agency), "test").await?;
        Ok(())
    }

    /// The data folder.
    pub fn data_dir(&self) -> &std::path::Path {
        self.config.data_dir.as_path()
    }

    /// Stops the server, keeping the data folder and database; returns what a restart needs.
    pub async fn stop(mut self) -> anyhow::Result<(tempfile::TempDir, Option<String>)> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await?;
        }
        let data = self
            .data
            .take()
            .ok_or_else(|| anyhow::anyhow!("data folder already taken"))?;
        Ok((data, self.config.database_url.clone()))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A cookie a response sets, as `name=value`.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

/// The value of a page's hidden form field `name`.
pub fn hidden(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|v| {
            v.replace("&amp;", "&")
                .replace("&#x2f;", "/")
                .replace("&#47;", "/")
                .replace("&quot;", "\"")
                .replace("&#34;", "\"")
                .replace("&#x27;", "'")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
        })
        .unwrap_or_default()
}

/// The `Location` header of a redirect.
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Declares a test that runs once on each backend: `both!(name);` for `async fn name(b: Backend)`.
#[macro_export]
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )+
    };
}
