//! The signed result: when the deciding step approves, the leader's approval is also the
//! signature. The result document (a PDF, "Kết quả giải quyết thủ tục hành chính") is made and
//! signed with the agency's key as a detached CMS SignedData (RFC 5652, DER, a `.p7s`): SHA-256
//! with RSA PKCS #1 v1.5, the agency's certificate included, and the signed attributes
//! content-type, message-digest and signing-time. Anyone can check it with the agency's
//! certificate, e.g. `openssl cms -verify -binary -inform DER -in result.p7s -content result.pdf
//! -CAfile agency.pem -purpose any`. Keys, certificates and signatures are made by
//! [`kernel::pki`].
//!
//! Each agency gets an RSA-2048 key and a self-signed certificate (CN the agency's code, O its
//! name, C=VN, ten years) the first time it signs; both are kept in `agency_signing_keys`, as
//! the OpenID Connect keys are. A certificate issued by the Government's specialised CA, with
//! the key in a hardware module, is where this is meant to go.
//!
//! The PDF and the signature go to the blob store before the approving transaction; the
//! `dossier_results` row that names them is written in that transaction, with the event and its
//! audit entry. The agency's officials may download both once signed; the applicant once the
//! result was returned (at the desk, by post or online), and each such download is an event and
//! an audit entry.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use identity::Principal;
use kernel::audit::{self, Entry, Tx};
use kernel::blob::BlobId;
use kernel::pki::{self, KeyPair, PkiError};
use kernel::{on_db, on_tx};

use crate::slips::{Block, Context, day, file_stem, render, when};
use crate::{Dossier, DossierError, Dossiers, NewEvent, Status, actor_of, event_later};

type Result<T, E = DossierError> = std::result::Result<T, E>;

/// How long an agency's certificate is valid.
const CERTIFICATE_YEARS: u64 = 10;

/// A dossier's signed result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct SignedResult {
    /// The agency whose key signed it.
    pub agency_code: String,
    /// SHA-256 of the PDF (as downloaded from `/result`).
    pub pdf_sha256: String,
    /// SHA-256 of the detached CMS signature (as downloaded from `/result/signature`).
    pub signature_sha256: String,
    /// Serial number of the agency certificate that signed, in hex.
    pub certificate_serial: String,
    /// Who approved and signed.
    pub signer_name: String,
    pub signed_at: DateTime<Utc>,
}

/// Which file of the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFile {
    /// The PDF.
    Document,
    /// The detached CMS signature over it (`.p7s`).
    Signature,
}

/// An agency's signing key and certificate, with the certificate's serial as stored.
pub(crate) struct AgencyKey {
    pair: KeyPair,
    serial: String,
}

fn pki_error(what: &str) -> impl Fn(PkiError) -> DossierError + '_ {
    move |e| DossierError::Storage(format!("{what}: {e}"))
}

/// A new key and self-signed certificate for an agency (CN its code, O its name, C=VN): the
/// key as PKCS #8 PEM, the certificate as PEM, its serial in hex.
fn new_key(agency: &str, name: &str, now: DateTime<Utc>) -> Result<(String, String, String)> {
    let pair = pki::new_self_signed(agency, name, now, CERTIFICATE_YEARS)
        .map_err(pki_error("signing key"))?;
    Ok((
        pair.key_pem().map_err(pki_error("key"))?,
        pair.certificate_pem().map_err(pki_error("certificate"))?,
        pair.serial_hex(),
    ))
}

/// A detached CMS SignedData over `content`, signed by `k` at `at`, as DER.
fn sign_detached(k: &AgencyKey, content: &[u8], at: DateTime<Utc>) -> Result<Vec<u8>> {
    pki::sign_detached(&k.pair, content, at).map_err(pki_error("signature"))
}

/// A form value as printed.
fn shown(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(true) => "Có".into(),
        serde_json::Value::Bool(false) => "Không".into(),
        other => other.to_string(),
    }
}

/// The result document's sheet; `form` is the declared values under their labels.
fn result_sheet(
    cx: &Context<'_>,
    form: &[(String, String)],
    signer: &str,
    comment: &str,
    serial: &str,
) -> crate::slips::Sheet {
    let d = cx.d;
    let mut blocks = vec![
        Block::Field(
            "Thủ tục hành chính".into(),
            format!("{} (mã {})", d.procedure_name, d.procedure_code),
        ),
        Block::Field(
            "Người nộp hồ sơ".into(),
            match &d.on_behalf_of {
                Some(t) => format!("{} (cho doanh nghiệp mã số thuế {t})", d.applicant_name),
                None => d.applicant_name.clone(),
            },
        ),
    ];
    if let Some(c) = &d.applicant_cccd {
        blocks.push(Block::Field("Số định danh cá nhân".into(), c.clone()));
    }
    if let Some(t) = d.received_at {
        blocks.push(Block::Field("Ngày tiếp nhận".into(), when(t)));
    }
    if let Some(a) = d.appointment_date {
        blocks.push(Block::Field("Ngày hẹn trả kết quả".into(), day(a)));
    }
    if !form.is_empty() {
        blocks.push(Block::Heading("Thông tin đã khai:".into()));
        for (label, value) in form {
            blocks.push(Block::Field(label.clone(), value.clone()));
        }
    }
    blocks.push(Block::Heading("Quyết định:".into()));
    blocks.push(Block::Para(format!(
        "{} chấp thuận (phê duyệt) yêu cầu giải quyết thủ tục hành chính nêu trên của Ông/Bà {}.",
        cx.agency, d.applicant_name
    )));
    if !comment.is_empty() {
        blocks.push(Block::Field(
            "Ý kiến của người ký".into(),
            comment.to_string(),
        ));
    }
    blocks.push(Block::Field("Ngày quyết định".into(), when(cx.now)));
    blocks.push(Block::Field(
        "Cơ quan ký".into(),
        format!("{} (mã định danh {})", cx.agency, cx.agency_code),
    ));
    blocks.push(Block::Gap);
    blocks.push(Block::Para(format!(
        "Văn bản điện tử này được ký số bởi {}; chữ ký số tách rời (CMS, tệp .p7s) đi kèm. Chứng thư số của cơ quan (số sê-ri {serial}): {}/api/v1/agencies/{}/certificate",
        cx.agency, cx.public_url, cx.agency_code
    )));
    let mut sheet = cx.sheet("Kết quả giải quyết thủ tục hành chính", blocks);
    sheet.signatures = vec![(
        "THỦ TRƯỞNG CƠ QUAN".into(),
        "(Đã ký số)".into(),
        signer.to_string(),
    )];
    sheet
}

/// A result made and stored, waiting for the approving transaction to record it.
pub(crate) struct Prepared {
    result: SignedResult,
}

impl Prepared {
    pub(crate) fn summary(&self) -> serde_json::Value {
        json!({
            "pdf_sha256": self.result.pdf_sha256,
            "signature_sha256": self.result.signature_sha256,
            "certificate_serial": self.result.certificate_serial,
        })
    }

    /// Records the result on its dossier, in the approving transaction.
    pub(crate) async fn record(&self, tx: &mut Tx<'_>, dossier: &str, actor: &str) -> Result<()> {
        let r = &self.result;
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO dossier_results (dossier_id, agency_code, pdf_sha256, signature_sha256, certificate_serial, signed_by, signer_name, signed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ).bind(dossier).bind(&r.agency_code).bind(&r.pdf_sha256).bind(&r.signature_sha256)
        .bind(&r.certificate_serial).bind(actor).bind(&r.signer_name).bind(r.signed_at)
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }
}

impl Dossiers {
    async fn stored_key(&self, agency: &str) -> Result<Option<Arc<AgencyKey>>> {
        if let Some(k) = self.keys.read().ok().and_then(|m| m.get(agency).cloned()) {
            return Ok(Some(k));
        }
        let row: Option<(String, String, String)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT private_key_pem, certificate_pem, serial FROM agency_signing_keys WHERE agency_code = $1"
        ).bind(agency).fetch_optional(c).await)?;
        let Some((key_pem, cert_pem, serial)) = row else {
            return Ok(None);
        };
        let pair = tokio::task::spawn_blocking(move || KeyPair::from_pem(&key_pem, &cert_pem))
            .await
            .map_err(|e| DossierError::Storage(e.to_string()))?
            .map_err(pki_error("signing key"))?;
        let key = Arc::new(AgencyKey { pair, serial });
        if let Ok(mut m) = self.keys.write() {
            m.insert(agency.to_string(), key.clone());
        }
        Ok(Some(key))
    }

    /// The agency's key, made (and audited) the first time it is needed. Two made at once
    /// settle on the first stored.
    async fn agency_key(&self, agency: &str, actor: &str) -> Result<Arc<AgencyKey>> {
        if let Some(k) = self.stored_key(agency).await? {
            return Ok(k);
        }
        // One key is made at a time: approvals waiting here use the one just made.
        let _making = self.key_lock.lock().await;
        if let Some(k) = self.stored_key(agency).await? {
            return Ok(k);
        }
        let now = self.clock.now();
        let (name, _, _) = self.agency_names(agency);
        let code = agency.to_string();
        let (key_pem, cert_pem, serial) =
            tokio::task::spawn_blocking(move || new_key(&code, &name, now))
                .await
                .map_err(|e| DossierError::Storage(e.to_string()))??;
        let mut turn = self.writer.begin().await?;
        let tx = turn.tx()?;
        let n = on_tx!(tx, c => sqlx::query(
            "INSERT INTO agency_signing_keys (agency_code, private_key_pem, certificate_pem, serial, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (agency_code) DO NOTHING"
        ).bind(agency).bind(&key_pem).bind(&cert_pem).bind(&serial).bind(now)
        .execute(c).await.map(|r| r.rows_affected()))?;
        if n == 1 {
            audit::append(
                tx,
                now,
                &Entry {
                    actor,
                    action: "dossier.signing_key.create",
                    subject: &format!("agency/{agency}"),
                    data: json!({ "serial": serial, "algorithm": "RSA-2048", "years": CERTIFICATE_YEARS }),
                },
            )
            .await?;
        }
        turn.commit().await?;
        self.stored_key(agency)
            .await?
            .ok_or_else(|| DossierError::Storage("the signing key was not stored".into()))
    }

    /// Makes the result of dossier `d`, approved by `p` at `now`, signs it and stores both
    /// files. The caller records it in its transaction.
    pub(crate) async fn prepare_result(
        &self,
        d: &Dossier,
        p: &Principal,
        comment: &str,
        now: DateTime<Utc>,
    ) -> Result<Prepared> {
        // The agency that decides signs: the one a transferred dossier went to.
        let signer = d.handler_agency.as_deref().unwrap_or(&d.agency_code);
        let key = self.agency_key(signer, &actor_of(p)).await?;
        let mut cx = self.context(d).await?;
        cx.now = now;
        if signer != d.agency_code {
            let (agency, parent, address) = self.agency_names(signer);
            (cx.agency_code, cx.agency, cx.parent, cx.address) = (signer, agency, parent, address);
        }
        // The declared values under the labels of the procedure version filed.
        let form: Vec<(String, String)> = match self
            .catalog
            .procedure(&d.procedure_code, Some(d.procedure_version))
            .await
        {
            Ok(stored) => stored
                .spec
                .form
                .iter()
                .filter_map(|f| Some((f.label.clone(), shown(d.form.get(&f.name)?))))
                .collect(),
            Err(_) => d
                .form
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), shown(v))).collect())
                .unwrap_or_default(),
        };
        let sheet = result_sheet(&cx, &form, &p.full_name, comment, &key.serial);
        let serial = key.serial.clone();
        let blobs = self.blobs.clone();
        let (pdf, sig) = self
            .rendering(move || {
                let pdf = render(&sheet)?;
                let sig = sign_detached(&key, &pdf, now)?;
                Ok((pdf, sig))
            })
            .await?;
        // Stored after the render permit is given back: writing the files waits on the disk.
        let (pdf, sig) = tokio::task::spawn_blocking(move || -> Result<(BlobId, BlobId)> {
            let put = |b: &[u8]| {
                blobs
                    .put(b)
                    .map_err(|e| DossierError::Storage(e.to_string()))
            };
            Ok((put(&pdf)?, put(&sig)?))
        })
        .await
        .map_err(|e| DossierError::Storage(e.to_string()))??;
        Ok(Prepared {
            result: SignedResult {
                agency_code: signer.to_string(),
                pdf_sha256: pdf.to_string(),
                signature_sha256: sig.to_string(),
                certificate_serial: serial,
                signer_name: p.full_name.clone(),
                signed_at: now,
            },
        })
    }

    /// The signed result of a dossier, if it has one.
    pub(crate) async fn signed_result(&self, dossier_id: &str) -> Result<Option<SignedResult>> {
        Ok(on_db!(&self.db, c => sqlx::query_as(
            "SELECT agency_code, pdf_sha256, signature_sha256, certificate_serial, signer_name, signed_at FROM dossier_results WHERE dossier_id = $1"
        ).bind(dossier_id).fetch_optional(c).await)?)
    }

    /// A file of a dossier's signed result: its name, media type and bytes. The agency's
    /// officials may have it once signed, the applicant once the result was returned; the
    /// applicant's download is an event of the dossier, an official's an audit entry.
    pub async fn result_file(
        &self,
        reference: &str,
        p: &Principal,
        which: ResultFile,
    ) -> Result<(String, &'static str, Vec<u8>)> {
        let row = self
            .row(reference)
            .await?
            .ok_or_else(|| DossierError::NotFound(reference.to_string()))?;
        self.allow_read(p, &row, reference).await?;
        let code = row.code.clone().unwrap_or_else(|| row.id.clone());
        let applicant = p.is_applicant(row.applicant_id.as_deref(), row.on_behalf_of.as_deref());
        let status = row.status();
        let result = self.signed_result(&row.id).await?;
        let result = match result {
            Some(r) if !applicant || status == Status::Returned => r,
            Some(_) => {
                return Err(DossierError::NotIssued {
                    vi: format!("Kết quả của hồ sơ {code} tải được sau khi cơ quan trả kết quả"),
                    en: format!(
                        "The result of dossier {code} can be downloaded once the agency has returned it"
                    ),
                });
            }
            None => {
                return Err(DossierError::NotIssued {
                    vi: format!("Hồ sơ {code} không có kết quả điện tử được ký số"),
                    en: format!("Dossier {code} has no digitally signed result"),
                });
            }
        };
        let (sha, name, media, kind) = match which {
            ResultFile::Document => (
                &result.pdf_sha256,
                format!("{}-ket-qua.pdf", file_stem(&code)),
                "application/pdf",
                "pdf",
            ),
            ResultFile::Signature => (
                &result.signature_sha256,
                format!("{}-ket-qua.p7s", file_stem(&code)),
                "application/pkcs7-signature",
                "signature",
            ),
        };
        let id = BlobId::parse(sha).map_err(|e| DossierError::Storage(e.to_string()))?;
        let blobs = self.blobs.clone();
        let bytes = tokio::task::spawn_blocking(move || blobs.get(&id))
            .await
            .map_err(|e| DossierError::Storage(e.to_string()))?
            .map_err(|e| DossierError::Storage(e.to_string()))?;
        let now = self.clock.now();
        let mut turn = self.writer.begin().await?;
        if applicant {
            event_later(
                &mut turn,
                NewEvent {
                    dossier: &row.id,
                    at: now,
                    actor: &actor_of(p),
                    action: "download_result",
                    from: status,
                    to: status,
                    comment: "",
                    data: json!({ "file": kind, "sha256": sha }),
                },
            );
        } else {
            turn.audit_later(
                now,
                &Entry {
                    actor: &actor_of(p),
                    action: "dossier.result.read",
                    subject: &format!("dossier/{}", row.id),
                    data: json!({ "file": kind, "sha256": sha }),
                },
            );
        }
        turn.commit().await?;
        Ok((name, media, bytes))
    }

    /// An agency's signing certificate, as PEM (public: it is how a result is checked).
    pub async fn certificate_pem(&self, agency: &str) -> Result<String> {
        let pem: Option<String> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT certificate_pem FROM agency_signing_keys WHERE agency_code = $1"
        ).bind(agency).fetch_optional(c).await)?;
        pem.ok_or_else(|| DossierError::NotIssued {
            vi: format!("Cơ quan {agency} chưa có chứng thư số"),
            en: format!("Agency {agency} has no signing certificate yet"),
        })
    }
}

#[cfg(test)]
mod tests {
    use cms::cert::x509::der::Decode;

    use super::*;

    #[test]
    fn a_signature_covers_the_content_and_carries_the_certificate() {
        let now = Utc::now();
        let Ok((key_pem, cert_pem, serial)) =
            new_key("000.00.02.H26", "Trung tâm Phục vụ hành chính công", now)
        else {
            panic!("key")
        };
        let k = AgencyKey {
            pair: KeyPair::from_pem(&key_pem, &cert_pem).unwrap_or_else(|e| panic!("{e}")),
            serial,
        };
        assert_eq!(k.serial, k.pair.serial_hex());
        let info = pki::cert_info(k.pair.certificate()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.subject_cn.as_deref(), Some("000.00.02.H26"));
        assert_eq!(info.issuer_cn, info.subject_cn, "self-signed");
        assert_eq!((info.not_after - info.not_before).num_days(), 3650);
        let sig = sign_detached(&k, b"%PDF-1.7 ...", now).unwrap_or_else(|e| panic!("{e}"));
        let v = pki::verify_detached(&sig, b"%PDF-1.7 ...", &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.certificate, *k.pair.certificate());
        assert!(pki::verify_detached(&sig, b"%PDF-1.7 ,,,", &[]).is_err());
        let ci = cms::content_info::ContentInfo::from_der(&sig).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ci.content_type.to_string(), "1.2.840.113549.1.7.2");
        let sd: cms::signed_data::SignedData =
            ci.content.decode_as().unwrap_or_else(|e| panic!("{e}"));
        assert!(sd.encap_content_info.econtent.is_none(), "detached");
        assert_eq!(sd.certificates.map(|c| c.0.len()), Some(1));
        let attrs: Vec<String> = sd
            .signer_infos
            .0
            .iter()
            .flat_map(|s| s.signed_attrs.iter().flat_map(|a| a.iter()))
            .map(|a| a.oid.to_string())
            .collect();
        for oid in [
            "1.2.840.113549.1.9.3",
            "1.2.840.113549.1.9.4",
            "1.2.840.113549.1.9.5",
        ] {
            assert!(attrs.iter().any(|a| a == oid), "{oid} in {attrs:?}");
        }
    }
}
