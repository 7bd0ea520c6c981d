//! The agency registry: each agency on the hub with its electronic identifier code (the edXML
//! OrganId), its name and endpoint, and its X.509 certificates.
//!
//! A node runs its own certificate authority for a self-contained installation: its root key
//! and certificate are made at first use and kept in `exchange_keys`, with the hub's own key
//! (issued by that root) that signs delivery receipts. An agency's certificate is either
//! issued here (for a public key the agency sends, or with a key the node keeps so that its
//! clerks can sign from the pages) or imported from an outside CA, in which case the registry
//! entry itself is what vouches for it. A revoked certificate signs nothing more; those issued
//! here are listed in the CRL the node publishes.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use kernel::audit::{self, Entry, Tx};
use kernel::pki::{self, KeyPair};
use kernel::{ProblemDetail, on_db, on_tx};

use crate::error::{invalid, refused};
use crate::{Exchange, ExchangeError, Result};

/// How long the node's root certificate lasts.
const CA_YEARS: u64 = 20;
/// How long a certificate issued to an agency, or the hub's own, lasts.
const AGENCY_YEARS: u64 = 3;
/// A CRL is made again after this long even when nothing was revoked.
const CRL_REFRESH_HOURS: i64 = 24;
/// How long a CRL is good for.
const CRL_VALID_DAYS: i64 = 7;

/// An agency on the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Agency {
    /// The electronic identifier code (mã định danh điện tử), the edXML OrganId.
    pub organ_id: String,
    pub name: String,
    /// Where the hub pushes documents and statuses; without one the agency fetches them.
    pub endpoint: Option<String>,
    pub active: bool,
    pub certificates: Vec<CertificateEntry>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A certificate of an agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CertificateEntry {
    /// Serial number, in hex.
    pub serial: String,
    pub organ_id: String,
    /// `issued` by this node's authority, or `imported` from an outside one.
    pub source: String,
    pub subject: String,
    pub issuer: String,
    /// SHA-256 of the DER certificate, in hex.
    pub fingerprint: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// Whether the node keeps the private key (so that the agency's clerks sign from the pages).
    pub key_held: bool,
    pub revoked_at: Option<DateTime<Utc>>,
    /// RFC 5280 CRLReason code.
    pub revocation_reason: Option<i64>,
    /// The certificate, PEM.
    pub certificate_pem: String,
}

/// An agency joining the hub, or a change of its entry.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AgencySpec {
    pub organ_id: String,
    pub name: String,
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The key the hub signs its pushes with (HMAC-SHA256 in `X-Motcua-Push-Signature`).
    #[serde(default)]
    pub push_secret: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// What certificate to give an agency: one issued here for the agency's public key, one
/// imported, or (neither given) a new key that the node keeps.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CertificateRequest {
    /// The agency's public key (PEM `PUBLIC KEY`), to be certified by this node.
    #[serde(default)]
    pub public_key_pem: Option<String>,
    /// A certificate from an outside CA (PEM), to be trusted as the agency's.
    #[serde(default)]
    pub certificate_pem: Option<String>,
}

/// Why a certificate is revoked (RFC 5280 CRLReason).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Revocation {
    /// 0 unspecified, 1 key compromise, 3 affiliation changed, 4 superseded, 5 cessation of
    /// operation.
    #[serde(default)]
    pub reason: Option<i64>,
}

type CertRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<i64>,
);

type AgencyRow = (
    String,
    String,
    Option<String>,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
);

const CERT_COLUMNS: &str = "serial, organ_id, certificate_pem, key_pem, source, subject, issuer, fingerprint, not_before, not_after, revoked_at, revocation_reason";

fn entry_of(r: CertRow) -> CertificateEntry {
    CertificateEntry {
        serial: r.0,
        organ_id: r.1,
        certificate_pem: r.2,
        key_held: r.3.is_some(),
        source: r.4,
        subject: r.5,
        issuer: r.6,
        fingerprint: r.7,
        not_before: r.8,
        not_after: r.9,
        revoked_at: r.10,
        revocation_reason: r.11,
    }
}

/// An organ id as edXML and the registry take it: 1 to 64 characters of letters, digits and
/// `.-_`.
pub fn valid_organ_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

impl Exchange {
    /// One of the node's own keys (`ca`, the root; `hub`, the receipt signer), made at first
    /// use.
    pub(crate) async fn own_key(&self, name: &str) -> Result<Arc<KeyPair>> {
        if let Some(k) = self.keys.read().ok().and_then(|m| m.get(name).cloned()) {
            return Ok(k);
        }
        if let Some(k) = self.stored_key(name).await? {
            return Ok(self.remember(name, k));
        }
        let now = self.clock.now();
        let made = if name == "ca" {
            pki::new_ca("motcua: tổ chức chứng thực của nút", now, CA_YEARS)?
        } else {
            let ca = Box::pin(self.own_key("ca")).await?;
            let (pair, _) = pki::issue(
                &ca,
                "motcua-hub",
                "Trục liên thông văn bản motcua",
                None,
                now,
                AGENCY_YEARS,
            )?;
            pair.ok_or_else(|| ExchangeError::Signing("no key made".into()))?
        };
        let key_pem = made.key_pem()?;
        let cert_pem = made.certificate_pem()?;
        on_db!(&self.db, p => sqlx::query(
            "INSERT INTO exchange_keys (name, key_pem, certificate_pem, serial, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING"
        ).bind(name).bind(&key_pem).bind(&cert_pem).bind(made.serial_hex()).bind(now).execute(p).await.map(|_| ()))?;
        // Another request may have made it first: the stored one wins.
        let k = self
            .stored_key(name)
            .await?
            .ok_or_else(|| ExchangeError::Signing(format!("key {name} not stored")))?;
        Ok(self.remember(name, k))
    }

    fn remember(&self, name: &str, k: KeyPair) -> Arc<KeyPair> {
        let k = Arc::new(k);
        if let Ok(mut m) = self.keys.write() {
            m.insert(name.to_string(), k.clone());
        }
        k
    }

    async fn stored_key(&self, name: &str) -> Result<Option<KeyPair>> {
        let row: Option<(String, String)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT key_pem, certificate_pem FROM exchange_keys WHERE name = $1"
        ).bind(name).fetch_optional(p).await)?;
        match row {
            Some((k, c)) => Ok(Some(KeyPair::from_pem(&k, &c)?)),
            None => Ok(None),
        }
    }

    /// The node's root certificate, PEM.
    pub async fn ca_pem(&self) -> Result<String> {
        Ok(self.own_key("ca").await?.certificate_pem()?)
    }

    /// The hub's receipt-signing certificate, PEM.
    pub async fn hub_pem(&self) -> Result<String> {
        Ok(self.own_key("hub").await?.certificate_pem()?)
    }

    /// The current CRL (DER) of the certificates this node issued and revoked; made again
    /// after a revocation, and every day.
    pub async fn crl(&self) -> Result<Vec<u8>> {
        let now = self.clock.now();
        let row: Option<(i64, DateTime<Utc>, Vec<u8>)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT number, issued_at, der FROM exchange_crl WHERE id = 1"
        ).fetch_optional(p).await)?;
        if let Some((_, at, der)) = &row
            && now - *at < Duration::hours(CRL_REFRESH_HOURS)
        {
            return Ok(der.clone());
        }
        self.make_crl(row.map(|r| r.0).unwrap_or(0) + 1).await
    }

    async fn make_crl(&self, number: i64) -> Result<Vec<u8>> {
        let ca = self.own_key("ca").await?;
        let now = self.clock.now();
        let rows: Vec<(String, DateTime<Utc>, Option<i64>)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT serial, revoked_at, revocation_reason FROM exchange_certificates WHERE source = 'issued' AND revoked_at IS NOT NULL ORDER BY serial"
        ).fetch_all(p).await)?;
        let revoked: Vec<pki::Revoked> = rows
            .into_iter()
            .map(|(serial, at, reason)| pki::Revoked {
                serial_hex: serial,
                at,
                reason: reason.and_then(|r| u8::try_from(r).ok()),
            })
            .collect();
        let der = pki::crl(
            &ca,
            &revoked,
            u64::try_from(number).unwrap_or(1),
            now,
            now + Duration::days(CRL_VALID_DAYS),
        )?;
        on_db!(&self.db, p => sqlx::query(
            "INSERT INTO exchange_crl (id, number, issued_at, der) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET number = excluded.number, issued_at = excluded.issued_at, der = excluded.der"
        ).bind(number).bind(now).bind(&der).execute(p).await.map(|_| ()))?;
        Ok(der)
    }

    /// Every agency on the hub, with its certificates.
    pub async fn agencies(&self) -> Result<Vec<Agency>> {
        let rows: Vec<AgencyRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT organ_id, name, endpoint, active, created_at, updated_at FROM exchange_agencies ORDER BY organ_id"
        ).fetch_all(p).await)?;
        let certs: Vec<CertRow> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {CERT_COLUMNS} FROM exchange_certificates ORDER BY organ_id, not_before"
        ))).fetch_all(p).await)?;
        let mut certs: Vec<CertificateEntry> = certs.into_iter().map(entry_of).collect();
        Ok(rows
            .into_iter()
            .map(|r| {
                let mine: Vec<CertificateEntry> =
                    certs.extract_if(.., |c| c.organ_id == r.0).collect();
                Agency {
                    organ_id: r.0,
                    name: r.1,
                    endpoint: r.2,
                    active: r.3,
                    certificates: mine,
                    created_at: r.4,
                    updated_at: r.5,
                }
            })
            .collect())
    }

    /// One agency on the hub.
    pub async fn agency(&self, organ_id: &str) -> Result<Agency> {
        let row: Option<AgencyRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT organ_id, name, endpoint, active, created_at, updated_at FROM exchange_agencies WHERE organ_id = $1"
        ).bind(organ_id).fetch_optional(p).await)?;
        let Some(r) = row else {
            return Err(ExchangeError::NotFound(format!(
                "cơ quan/agency {organ_id}"
            )));
        };
        Ok(Agency {
            certificates: self.certificates_of(organ_id).await?,
            organ_id: r.0,
            name: r.1,
            endpoint: r.2,
            active: r.3,
            created_at: r.4,
            updated_at: r.5,
        })
    }

    /// An agency's certificates, oldest first.
    pub async fn certificates_of(&self, organ_id: &str) -> Result<Vec<CertificateEntry>> {
        let rows: Vec<CertRow> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {CERT_COLUMNS} FROM exchange_certificates WHERE organ_id = $1 ORDER BY not_before, serial"
        ))).bind(organ_id).fetch_all(p).await)?;
        Ok(rows.into_iter().map(entry_of).collect())
    }

    /// One certificate.
    pub async fn certificate(&self, serial: &str) -> Result<CertificateEntry> {
        let row: Option<CertRow> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {CERT_COLUMNS} FROM exchange_certificates WHERE serial = $1"
        ))).bind(serial.to_ascii_lowercase()).fetch_optional(p).await)?;
        row.map(entry_of)
            .ok_or_else(|| ExchangeError::NotFound(format!("chứng thư số/certificate {serial}")))
    }

    /// Adds an agency to the hub, or changes its entry.
    pub async fn put_agency(&self, actor: &str, spec: AgencySpec) -> Result<Agency> {
        let organ = spec.organ_id.trim().to_string();
        let name = spec.name.trim().to_string();
        let mut problems = Vec::new();
        if !valid_organ_id(&organ) {
            problems.push(ProblemDetail::new(
                "organ_id",
                "Mã định danh cơ quan gồm 1 đến 64 chữ cái, chữ số và dấu . - _",
                "An agency identifier is 1 to 64 letters, digits and . - _",
            ));
        }
        if name.is_empty() || name.chars().count() > 300 {
            problems.push(ProblemDetail::new(
                "name",
                "Tên cơ quan không được để trống và dài tối đa 300 ký tự",
                "The agency's name must be given, at most 300 characters",
            ));
        }
        let endpoint = spec
            .endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_string);
        if let Some(e) = &endpoint {
            match url::Url::parse(e) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && e.len() <= 500 => {}
                _ => problems.push(ProblemDetail::new(
                    "endpoint",
                    "Địa chỉ nhận văn bản phải là một URL http(s)",
                    "The endpoint must be an http(s) URL",
                )),
            }
        }
        let secret = spec
            .push_secret
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if secret
            .as_ref()
            .is_some_and(|s| s.len() < 16 || s.len() > 200)
        {
            problems.push(ProblemDetail::new(
                "push_secret",
                "Khóa ký gói đẩy dài từ 16 đến 200 ký tự",
                "The push secret is 16 to 200 characters",
            ));
        }
        if !problems.is_empty() {
            return Err(ExchangeError::Invalid(problems));
        }
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let before: Option<(String, Option<String>, bool)> = on_tx!(&mut tx, c => sqlx::query_as(
            "SELECT name, endpoint, active FROM exchange_agencies WHERE organ_id = $1"
        ).bind(&organ).fetch_optional(&mut *c).await)?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO exchange_agencies (organ_id, name, endpoint, push_secret, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (organ_id) DO UPDATE SET name = excluded.name, endpoint = excluded.endpoint, push_secret = excluded.push_secret, active = excluded.active, updated_at = excluded.updated_at"
        ).bind(&organ).bind(&name).bind(&endpoint).bind(&secret).bind(spec.active).bind(now).execute(&mut *c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: if before.is_some() {
                    "exchange.agency.update"
                } else {
                    "exchange.agency.register"
                },
                subject: &format!("exchange/agency/{organ}"),
                data: json!({
                    "name": name, "endpoint": endpoint, "active": spec.active,
                    "push_secret": secret.is_some(),
                    "before": before.map(|b| json!({"name": b.0, "endpoint": b.1, "active": b.2})),
                }),
            },
        )
        .await?;
        tx.commit().await?;
        self.agency(&organ).await
    }

    /// Gives an agency a certificate: issued here for its public key, imported from an
    /// outside CA, or issued with a new key the node keeps.
    pub async fn add_certificate(
        &self,
        actor: &str,
        organ_id: &str,
        req: CertificateRequest,
    ) -> Result<CertificateEntry> {
        let agency = self.agency(organ_id).await?;
        let now = self.clock.now();
        let pem_of = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let (cert, key_pem, source) = match (
            pem_of(&req.public_key_pem),
            pem_of(&req.certificate_pem),
        ) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "certificate_pem",
                    "Gửi khóa công khai để cấp chứng thư, hoặc chứng thư để nhập, không gửi cả hai",
                    "Send a public key to certify or a certificate to import, not both",
                ));
            }
            (Some(pk), None) => {
                let ca = self.own_key("ca").await?;
                let spki = <pki::SubjectPublicKeyInfoOwned as x509_cert::der::DecodePem>::from_pem(
                    pk.as_str(),
                )
                .map_err(|e| {
                    invalid(
                        "public_key_pem",
                        format!("Khóa công khai không đọc được: {e}"),
                        format!("The public key cannot be read: {e}"),
                    )
                })?;
                let (_, cert) =
                    pki::issue(&ca, organ_id, &agency.name, Some(spki), now, AGENCY_YEARS)?;
                (cert, None, "issued")
            }
            (None, Some(pem)) => {
                let cert = pki::parse_certificate_pem(&pem).map_err(|e| {
                    invalid(
                        "certificate_pem",
                        format!("Chứng thư số không đọc được: {e}"),
                        format!("The certificate cannot be read: {e}"),
                    )
                })?;
                let info = pki::cert_info(&cert)?;
                if info.not_after <= now {
                    return Err(invalid(
                        "certificate_pem",
                        "Chứng thư số đã hết hạn",
                        "The certificate has expired",
                    ));
                }
                (cert, None, "imported")
            }
            (None, None) => {
                let ca = self.own_key("ca").await?;
                let (pair, cert) =
                    pki::issue(&ca, organ_id, &agency.name, None, now, AGENCY_YEARS)?;
                let key = pair
                    .ok_or_else(|| ExchangeError::Signing("no key made".into()))?
                    .key_pem()?;
                (cert, Some(key), "issued")
            }
        };
        let info = pki::cert_info(&cert)?;
        let pem = pki::certificate_pem(&cert)?;
        let subject = cert.tbs_certificate.subject.to_string();
        let issuer = cert.tbs_certificate.issuer.to_string();
        let mut tx = Tx::begin(&self.db).await?;
        let taken: Option<String> = on_tx!(&mut tx, c => sqlx::query_scalar(
            "SELECT organ_id FROM exchange_certificates WHERE fingerprint = $1 OR serial = $2"
        ).bind(&info.sha256_fingerprint).bind(&info.serial_hex).fetch_optional(&mut *c).await)?;
        if let Some(owner) = taken {
            return Err(refused(
                409,
                "certificate_exists",
                format!("Chứng thư số này đã có trong danh bạ (của {owner})"),
                format!("This certificate is already in the registry (for {owner})"),
            ));
        }
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO exchange_certificates (serial, organ_id, certificate_pem, key_pem, source, subject, issuer, fingerprint, not_before, not_after, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ).bind(&info.serial_hex).bind(organ_id).bind(&pem).bind(&key_pem).bind(source).bind(&subject).bind(&issuer)
        .bind(&info.sha256_fingerprint).bind(info.not_before).bind(info.not_after).bind(now).execute(&mut *c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "exchange.certificate.add",
                subject: &format!("exchange/agency/{organ_id}"),
                data: json!({"serial": info.serial_hex, "source": source, "fingerprint": info.sha256_fingerprint, "key_held": key_pem.is_some()}),
            },
        )
        .await?;
        tx.commit().await?;
        self.certificate(&info.serial_hex).await
    }

    /// Revokes a certificate: it signs nothing from now on, and the CRL lists it when it was
    /// issued here.
    pub async fn revoke(
        &self,
        actor: &str,
        serial: &str,
        reason: Option<i64>,
    ) -> Result<CertificateEntry> {
        if reason.is_some_and(|r| !matches!(r, 0..=6 | 8..=10)) {
            return Err(invalid(
                "reason",
                "Lý do thu hồi theo RFC 5280 là 0–6 hoặc 8–10",
                "An RFC 5280 revocation reason is 0–6 or 8–10",
            ));
        }
        let c = self.certificate(serial).await?;
        if c.revoked_at.is_some() {
            return Err(refused(
                409,
                "already_revoked",
                "Chứng thư số đã bị thu hồi trước đó",
                "The certificate was already revoked",
            ));
        }
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, x => sqlx::query(
            "UPDATE exchange_certificates SET revoked_at = $1, revocation_reason = $2 WHERE serial = $3 AND revoked_at IS NULL"
        ).bind(now).bind(reason).bind(&c.serial).execute(&mut *x).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "exchange.certificate.revoke",
                subject: &format!("exchange/agency/{}", c.organ_id),
                data: json!({"serial": c.serial, "reason": reason}),
            },
        )
        .await?;
        tx.commit().await?;
        let number: Option<i64> = on_db!(&self.db, p => sqlx::query_scalar(
            "SELECT number FROM exchange_crl WHERE id = 1"
        ).fetch_optional(p).await)?;
        self.make_crl(number.unwrap_or(0) + 1).await?;
        self.certificate(&c.serial).await
    }

    /// The certificate of `organ_id` that signed, if it is registered for that agency, not
    /// revoked and valid now; otherwise why not.
    pub(crate) async fn check_signer(
        &self,
        organ_id: &str,
        cert: &pki::Certificate,
    ) -> Result<CertificateEntry> {
        let info = pki::cert_info(cert)?;
        let found = self
            .certificates_of(organ_id)
            .await?
            .into_iter()
            .find(|c| c.fingerprint == info.sha256_fingerprint);
        let Some(entry) = found else {
            return Err(refused(
                422,
                "certificate_unknown",
                format!("Chứng thư số ký gói tin không có trong danh bạ của cơ quan {organ_id}"),
                format!("The signing certificate is not registered for agency {organ_id}"),
            ));
        };
        if entry.revoked_at.is_some() {
            return Err(refused(
                422,
                "certificate_revoked",
                format!("Chứng thư số {} đã bị thu hồi", entry.serial),
                format!("Certificate {} has been revoked", entry.serial),
            ));
        }
        let now = self.clock.now();
        if now < entry.not_before || now > entry.not_after {
            return Err(refused(
                422,
                "certificate_expired",
                format!("Chứng thư số {} không còn hiệu lực", entry.serial),
                format!("Certificate {} is not valid now", entry.serial),
            ));
        }
        if entry.source == "issued" {
            let ca = self.own_key("ca").await?;
            if !pki::issued_by(cert, ca.certificate()) {
                return Err(refused(
                    422,
                    "certificate_unknown",
                    "Chứng thư số không do tổ chức chứng thực của nút cấp",
                    "The certificate was not issued by this node's authority",
                ));
            }
        }
        Ok(entry)
    }

    /// The key an agency's clerks sign with from the pages: its newest valid certificate
    /// whose key the node keeps.
    pub(crate) async fn signing_key(&self, organ_id: &str) -> Result<KeyPair> {
        let now = self.clock.now();
        let rows: Vec<(String, String)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT key_pem, certificate_pem FROM exchange_certificates WHERE organ_id = $1 AND key_pem IS NOT NULL AND revoked_at IS NULL AND not_before <= $2 AND not_after > $2 ORDER BY not_before DESC"
        ).bind(organ_id).bind(now).fetch_all(p).await)?;
        match rows.first() {
            Some((k, c)) => Ok(KeyPair::from_pem(k, c)?),
            None => Err(refused(
                409,
                "no_signing_key",
                format!(
                    "Nút không giữ khóa ký còn hiệu lực của cơ quan {organ_id}: hãy cấp chứng thư số trước"
                ),
                format!(
                    "The node holds no valid signing key for agency {organ_id}: issue a certificate first"
                ),
            )),
        }
    }
}
