//! The node's e-Cabinet signing authority and the members' keys.
//!
//! The authority (`C=VN, O=motcua e-Cabinet CA`) is made at first use and kept in
//! `cabinet_keys`; it certifies one RSA-2048 key for each member, made at the member's first
//! signature and kept in `cabinet_member_keys` (the node signs for the member once the member
//! is logged in, as a remote-signing service does). Every vote, conclusion notice and ballot
//! summary is a detached CMS signature (DER) carrying the signer's and the authority's
//! certificates, so that
//!
//! ```text
//! openssl cms -verify -binary -inform DER -in vote.p7s -content vote.json \
//!     -CAfile cabinet-ca.pem -purpose any -out /dev/null
//! ```
//!
//! checks it outside motcua.

use std::sync::Arc;

use chrono::Duration;

use identity::Principal;
use kernel::on_db;
use kernel::pki::{self, Certificate, KeyPair};

use crate::{Cabinet, CabinetError, Result};

/// How long the authority's certificate lasts, in years.
const CA_YEARS: u64 = 20;
/// How long a member's certificate lasts, in years.
const MEMBER_YEARS: u64 = 5;
/// The authority's name.
const CA_NAME: &str = "motcua e-Cabinet CA";

/// A signature that was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Valid,
    /// The signature does not match the bytes (or is not a signature).
    BadSignature(String),
    /// It verifies, but with a certificate that is not the signer's own from this node.
    WrongSigner(String),
}

impl Check {
    pub fn is_valid(&self) -> bool {
        matches!(self, Check::Valid)
    }

    /// What went wrong, in Vietnamese and English.
    pub fn problem(&self) -> Option<(String, String)> {
        match self {
            Check::Valid => None,
            Check::BadSignature(e) => Some((
                format!("Chữ ký không khớp với nội dung ({e})"),
                format!("The signature does not match the content ({e})"),
            )),
            Check::WrongSigner(e) => Some((
                format!("Chữ ký không phải của người bỏ phiếu ({e})"),
                format!("The signature is not the voter's ({e})"),
            )),
        }
    }
}

impl Cabinet {
    fn cached(&self, name: &str) -> Option<Arc<KeyPair>> {
        self.keys.read().ok().and_then(|m| m.get(name).cloned())
    }

    fn remember(&self, name: &str, k: KeyPair) -> Arc<KeyPair> {
        let k = Arc::new(k);
        if let Ok(mut m) = self.keys.write() {
            m.insert(name.to_string(), k.clone());
        }
        k
    }

    /// The node's e-Cabinet authority, made at first use.
    pub async fn authority(&self) -> Result<Arc<KeyPair>> {
        if let Some(k) = self.cached("ca") {
            return Ok(k);
        }
        let stored = |db: &kernel::db::Db| {
            let db = db.clone();
            async move {
                let row: Option<(String, String)> = on_db!(&db, p => sqlx::query_as(
                    "SELECT key_pem, certificate_pem FROM cabinet_keys WHERE name = 'ca'"
                ).fetch_optional(p).await)?;
                Ok::<_, CabinetError>(row)
            }
        };
        if let Some((k, c)) = stored(&self.db).await? {
            return Ok(self.remember("ca", KeyPair::from_pem(&k, &c)?));
        }
        let now = self.now();
        let made = pki::new_ca(CA_NAME, now, CA_YEARS)?;
        on_db!(&self.db, p => sqlx::query(
            "INSERT INTO cabinet_keys (name, key_pem, certificate_pem, serial, created_at) VALUES ('ca', $1, $2, $3, $4) ON CONFLICT (name) DO NOTHING"
        ).bind(made.key_pem()?).bind(made.certificate_pem()?).bind(made.serial_hex()).bind(now)
        .execute(p).await.map(|_| ()))?;
        // Another replica may have made one first: the stored one wins.
        let (k, c) = stored(&self.db)
            .await?
            .ok_or_else(|| CabinetError::Signing("the authority was not stored".into()))?;
        Ok(self.remember("ca", KeyPair::from_pem(&k, &c)?))
    }

    /// The authority's certificate, PEM: what checks every signature of e-Cabinet.
    pub async fn authority_pem(&self) -> Result<String> {
        Ok(self.authority().await?.certificate_pem()?)
    }

    /// The member's key, made and certified at their first signature.
    pub(crate) async fn member_key(&self, p: &Principal) -> Result<Arc<KeyPair>> {
        if let Some(k) = self.cached(&p.id) {
            return Ok(k);
        }
        let read = || async {
            let row: Option<(String, String)> = on_db!(&self.db, c => sqlx::query_as(
                "SELECT key_pem, certificate_pem FROM cabinet_member_keys WHERE account_id = $1"
            ).bind(&p.id).fetch_optional(c).await)?;
            Ok::<_, CabinetError>(row)
        };
        if let Some((k, c)) = read().await? {
            return Ok(self.remember(&p.id, KeyPair::from_pem(&k, &c)?));
        }
        let ca = self.authority().await?;
        let now = self.now();
        let cn: String = p.full_name.chars().take(64).collect();
        let (pair, _) = pki::issue(&ca, &cn, "motcua e-Cabinet", None, now, MEMBER_YEARS)?;
        let pair = pair.ok_or_else(|| CabinetError::Signing("no key made".into()))?;
        on_db!(&self.db, c => sqlx::query(
            "INSERT INTO cabinet_member_keys (account_id, key_pem, certificate_pem, serial, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO NOTHING"
        ).bind(&p.id).bind(pair.key_pem()?).bind(pair.certificate_pem()?).bind(pair.serial_hex()).bind(now)
        .execute(c).await.map(|_| ()))?;
        let (k, c) = read()
            .await?
            .ok_or_else(|| CabinetError::Signing("the member's key was not stored".into()))?;
        Ok(self.remember(&p.id, KeyPair::from_pem(&k, &c)?))
    }

    /// A member's certificate, when they have signed before.
    pub async fn member_certificate(&self, account_id: &str) -> Result<Option<Certificate>> {
        let row: Option<(String,)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT certificate_pem FROM cabinet_member_keys WHERE account_id = $1"
        ).bind(account_id).fetch_optional(c).await)?;
        match row {
            Some((pem,)) => Ok(Some(pki::parse_certificate_pem(&pem)?)),
            None => Ok(None),
        }
    }

    /// Signs `content` as `p`: a detached CMS signature (DER) and the certificate's serial.
    pub(crate) async fn sign_as(&self, p: &Principal, content: &[u8]) -> Result<(Vec<u8>, String)> {
        let key = self.member_key(p).await?;
        let ca = self.authority().await?;
        // Signing time a second back, so a certificate made this very second is already valid.
        let at = self.now() - Duration::seconds(1);
        let sig =
            pki::sign_detached_with(&key, content, at, std::slice::from_ref(ca.certificate()))?;
        Ok((sig, key.serial_hex()))
    }

    /// Checks a signature over `content` made by `account_id` with the certificate `serial`:
    /// the CMS signature verifies, its certificate is the one this node issued to that
    /// account, and the authority issued it.
    pub(crate) async fn check_signature(
        &self,
        account_id: &str,
        serial: &str,
        content: &[u8],
        signature: &[u8],
    ) -> Result<Check> {
        let verified = match pki::verify_detached(signature, content, &[]) {
            Ok(v) => v,
            Err(e) => return Ok(Check::BadSignature(e.to_string())),
        };
        let ca = self.authority().await?;
        if !pki::issued_by(&verified.certificate, ca.certificate()) {
            return Ok(Check::WrongSigner(
                "not issued by the e-Cabinet authority".into(),
            ));
        }
        let Some(own) = self.member_certificate(account_id).await? else {
            return Ok(Check::WrongSigner("the voter has no certificate".into()));
        };
        let got = pki::cert_info(&verified.certificate)?.serial_hex;
        if own != verified.certificate || got != serial {
            return Ok(Check::WrongSigner(format!("certificate {got}")));
        }
        Ok(Check::Valid)
    }
}
