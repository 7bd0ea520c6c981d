//! Typed configuration.
//!
//! Layered, last wins: built-in defaults, then a TOML file (`--config FILE`, or `motcua.toml`
//! in the data folder when it exists), then `MOTCUA_*` environment variables (nested keys joined
//! with `__`, e.g. `MOTCUA_SEARCH__FUZZY_MIN_CHARS=5`), then command-line flags.
//! `motcua config show` prints the result with secrets masked, so an operator sees what is set.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::problem::Error;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Everything a motcua node needs to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Folder for the SQLite database, blobs and the search index.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; empty means `sqlite://<data_dir>/motcua.db`.
    pub database_url: Option<String>,
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Public base URL, used in links that leave the node.
    pub public_url: String,
    pub log_format: LogFormat,
    /// Which logs to write, as a tracing filter (e.g. `info,sqlx=warn`).
    pub log_filter: String,
    /// Largest number of database connections.
    pub database_max_connections: u32,
    /// Name of this node, shown in pages and reports.
    pub node_name: String,
    pub search: SearchConfig,
    pub smtp: SmtpConfig,
    pub sms: SmsConfig,
    pub payment: PaymentConfig,
    pub federation: FederationConfig,
    /// Past dossiers generated into a demo node (`--demo`) once, so that its dashboards and
    /// rankings have a year to show; 0 for none.
    pub demo_history: u64,
}

/// Online payment of fees. The built-in sandbox gateway (for testers; on in the demo) and
/// VNPAY, on when its merchant code and secret are set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentConfig {
    /// Serve the sandbox gateway and take payments through it. No real money moves.
    pub sandbox: bool,
    /// The sandbox's signing secret; empty: a random one each start.
    pub sandbox_secret: String,
    /// VNPAY's payment page.
    pub vnpay_url: String,
    /// The merchant code VNPAY gave the agency (`vnp_TmnCode`).
    pub vnpay_terminal: String,
    /// The secret VNPAY gave with it (`vnp_HashSecret`).
    pub vnpay_secret: String,
    /// Minutes a payment may wait at the gateway before it expires.
    pub window_minutes: u32,
}

impl Default for PaymentConfig {
    fn default() -> Self {
        PaymentConfig {
            sandbox: false,
            sandbox_secret: String::new(),
            vnpay_url: "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html".into(),
            vnpay_terminal: String::new(),
            vnpay_secret: String::new(),
            window_minutes: 15,
        }
    }
}

/// What a node is in the federation of one-stop systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Everything on one node, talking to no other (the default).
    #[default]
    All,
    /// The national portal: local nodes register with it and push their dossiers' statuses.
    National,
    /// A ministry's or a province's system, owning a set of agencies, reporting to the
    /// national node.
    Local,
}

/// The federation: the national portal and the ministries' and provinces' nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    pub role: NodeRole,
    /// This node's name among the nodes (`hanoi`, `bo-tu-phap`): lower-case letters, digits
    /// and `-`. Needed on a local node.
    pub node_id: String,
    /// The national node's public address, for a local node.
    pub national_url: String,
    /// The agencies a local node answers for: codes, or `*.H26` for every code that ends
    /// with `.H26`. A local node needs at least one.
    pub agencies: Vec<String>,
    /// Events sent to the national node in one request.
    pub batch_size: usize,
    /// The longest pause between attempts while the national node cannot be reached, in
    /// seconds.
    pub retry_max_seconds: u64,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            role: NodeRole::All,
            node_id: String::new(),
            national_url: String::new(),
            agencies: Vec::new(),
            batch_size: 500,
            retry_max_seconds: 30,
        }
    }
}

/// Outgoing text messages, through an HTTP gateway: each message is `POST`ed to `url` as JSON
/// `{"to": phone, "text": message}` with `Authorization: Bearer <token>`, and a 2xx answer
/// means it was taken. With no URL, messages wait in the outbox for an administrator.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    pub url: String,
    pub token: String,
}

/// Outgoing e-mail. With no URL, messages wait in the outbox for an administrator.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// `smtps://user:password@host:465`, `smtp://user:password@host:587?tls=required`, or
    /// `smtp://host:25` (plain, inside a closed network); empty turns e-mail off.
    pub url: String,
    /// The sender, e.g. `Một cửa điện tử <no-reply@hanoi.gov.vn>`.
    pub from: String,
}

/// Search tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// Words shorter than this (in letters) must be typed without typos.
    pub fuzzy_min_chars: usize,
    /// Results per page of the API and pages.
    pub page_size: usize,
    /// Memory for the index writer, in MiB.
    pub writer_memory_mib: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".to_string(),
            log_format: LogFormat::Human,
            log_filter: "info,sqlx=warn,tantivy=warn".to_string(),
            database_max_connections: 16,
            node_name: "motcua".to_string(),
            search: SearchConfig::default(),
            smtp: SmtpConfig::default(),
            sms: SmsConfig::default(),
            payment: PaymentConfig::default(),
            federation: FederationConfig::default(),
            demo_history: 30_000,
        }
    }
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            fuzzy_min_chars: 4,
            page_size: 20,
            writer_memory_mib: 64,
        }
    }
}

/// Overrides given on the command line; `None` leaves the layer below as it is.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

impl Config {
    /// Loads the layers. `file` is an explicit `--config`; otherwise `<data_dir>/motcua.toml`
    /// is read when present. The environment is passed in so tests need not touch the process's.
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Config, Error> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        let data_dir_hint = overrides
            .data_dir
            .clone()
            .or_else(|| {
                env.iter()
                    .find(|(k, _)| k == "MOTCUA_DATA_DIR")
                    .map(|(_, v)| PathBuf::from(v))
            })
            .unwrap_or_else(|| PathBuf::from("data"));
        match file {
            Some(f) => {
                if !f.exists() {
                    return Err(Error::Config(format!(
                        "configuration file {} does not exist",
                        f.display()
                    )));
                }
                fig = fig.merge(Toml::file(f));
            }
            None => {
                let implicit = data_dir_hint.join("motcua.toml");
                if implicit.exists() {
                    fig = fig.merge(Toml::file(implicit));
                }
            }
        }
        let vars: Vec<(String, String)> = env
            .iter()
            .filter(|(k, _)| k.starts_with("MOTCUA_"))
            .cloned()
            .collect();
        let env_toml = env_as_toml(&vars)?;
        fig = fig.merge(Toml::string(&env_toml));
        fig = fig.merge(Serialized::defaults(overrides));
        let cfg: Config = fig.extract().map_err(|e| Error::Config(e.to_string()))?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), Error> {
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(Error::UnsupportedDatabase(mask_url(url)));
        }
        if self.database_max_connections == 0 {
            return Err(Error::Config(
                "database_max_connections must be at least 1".into(),
            ));
        }
        if self.search.page_size == 0 || self.search.page_size > 100 {
            return Err(Error::Config(
                "search.page_size must be between 1 and 100".into(),
            ));
        }
        let f = &self.federation;
        if f.role == NodeRole::Local {
            let id_ok = !f.node_id.is_empty()
                && f.node_id.len() <= 40
                && f.node_id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !id_ok {
                return Err(Error::Config(
                    "a local node needs federation.node_id: 1 to 40 lower-case letters, digits or '-'".into(),
                ));
            }
            if !(f.national_url.starts_with("http://") || f.national_url.starts_with("https://")) {
                return Err(Error::Config(
                    "a local node needs federation.national_url (http:// or https://)".into(),
                ));
            }
            if f.agencies.is_empty() {
                return Err(Error::Config(
                    "a local node needs federation.agencies: the codes it answers for, or *.H26"
                        .into(),
                ));
            }
        }
        if f.batch_size == 0 || f.batch_size > 5000 {
            return Err(Error::Config(
                "federation.batch_size must be between 1 and 5000".into(),
            ));
        }
        if f.retry_max_seconds == 0 {
            return Err(Error::Config(
                "federation.retry_max_seconds must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The database URL in force: the configured one, or the SQLite file in the data folder.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(u) if !u.is_empty() => u.clone(),
            _ => format!("sqlite://{}", self.data_dir.join("motcua.db").display()),
        }
    }

    /// The configuration as TOML with every secret masked.
    pub fn to_masked_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = Some(mask_url(&self.effective_database_url()));
        if !shown.smtp.url.is_empty() {
            shown.smtp.url = mask_url(&shown.smtp.url);
        }
        if !shown.sms.url.is_empty() {
            shown.sms.url = mask_url(&shown.sms.url);
        }
        if !shown.sms.token.is_empty() {
            shown.sms.token = "********".into();
        }
        for secret in [
            &mut shown.payment.sandbox_secret,
            &mut shown.payment.vnpay_secret,
        ] {
            if !secret.is_empty() {
                *secret = "********".into();
            }
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

/// Replaces the password of a URL (`scheme://user:password@host`) with `********`.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
        None => url.to_string(),
    }
}

/// Turns `MOTCUA_A__B=v` pairs into a TOML document `[a] b = v`, reading each value as TOML
/// when it parses (numbers, booleans) and as a string otherwise.
fn env_as_toml(vars: &[(String, String)]) -> Result<String, Error> {
    let mut root = toml::Table::new();
    for (k, v) in vars {
        let Some(path) = k.strip_prefix("MOTCUA_") else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(|p| p.to_ascii_lowercase()).collect();
        let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.clone()));
        let mut table = &mut root;
        for (i, key) in keys.iter().enumerate() {
            if i + 1 == keys.len() {
                table.insert(key.clone(), value.clone());
            } else {
                let entry = table
                    .entry(key.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                match entry {
                    toml::Value::Table(t) => table = t,
                    _ => {
                        return Err(Error::Config(format!(
                            "environment variable {k} nests under a key that is not a table"
                        )));
                    }
                }
            }
        }
    }
    toml::to_string(&root).map_err(|e| Error::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_defaults_and_flags_override_environment() {
        let e = env(&[
            ("MOTCUA_LISTEN", "0.0.0.0:9000"),
            ("MOTCUA_SEARCH__PAGE_SIZE", "50"),
            ("MOTCUA_NODE_NAME", "Sở Tư pháp"),
            ("HOME", "/root"),
        ]);
        let cfg = Config::load(None, &e, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.listen.port(), 9000);
        assert_eq!(cfg.search.page_size, 50);
        assert_eq!(cfg.node_name, "Sở Tư pháp");
        let o = Overrides {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 7000))),
            ..Default::default()
        };
        let cfg = Config::load(None, &e, &o).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.listen.port(), 7000);
    }

    #[test]
    fn file_layer_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let f = dir.path().join("m.toml");
        std::fs::write(&f, "node_name = \"Huế\"\n[search]\nfuzzy_min_chars = 6\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let cfg =
            Config::load(Some(&f), &[], &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.node_name, "Huế");
        assert_eq!(cfg.search.fuzzy_min_chars, 6);
        std::fs::write(&f, "nod_name = \"typo\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(Config::load(Some(&f), &[], &Overrides::default()).is_err());
        assert!(
            Config::load(
                Some(&dir.path().join("missing.toml")),
                &[],
                &Overrides::default()
            )
            .is_err()
        );
    }

    #[test]
    fn secrets_are_masked_and_bad_urls_refused() {
        assert_eq!(
            mask_url("postgres://motcua:s3cret@db:5432/motcua"),
            "postgres://motcua:********@db:5432/motcua"
        );
        let e = env(&[("MOTCUA_DATABASE_URL", "postgres://u:hunter2@h/d")]);
        let cfg = Config::load(None, &e, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
        let shown = cfg.to_masked_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("********"));
        let e = env(&[("MOTCUA_DATABASE_URL", "mysql://u@h/d")]);
        assert!(Config::load(None, &e, &Overrides::default()).is_err());
    }
}
