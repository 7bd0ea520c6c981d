//! The hub: accepting documents, delivering them, the statuses recipients answer, the hub's
//! signed receipts, and the registers of documents sent and received.
//!
//! A package is accepted only when everything holds: it parses under the limits (no DOCTYPE,
//! so no external entity and no entity expansion), the caller acts for the sending agency, the
//! detached signature verifies over the exact bytes with a certificate registered for that
//! agency and not revoked, every recipient is on the hub, and the same bytes were never
//! accepted before (a replay) nor the same document sent as new twice. The package and its
//! signature go to the blob store first; the document, its deliveries, its number in the
//! sender's register of documents sent, the receipt and the audit entry are written in one
//! transaction, so a refusal or a crash leaves nothing half-written.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use kernel::audit::{self, Entry, Tx};
use kernel::blob::BlobId;
use kernel::pki;
use kernel::{on_db, on_tx};

use crate::edxml::{self, BusinessType, Package, StatusCode, StatusPackage};
use crate::error::refused;
use crate::{Exchange, ExchangeError, MAX_PACKAGE_BYTES, MAX_SIGNATURE_BYTES, Result};

/// A document on the hub, as its sender and recipients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Document {
    /// The hub's id of this package.
    pub id: String,
    /// The edXML DocumentId: `<OrganId>,<YYYY/MM/DD>,<CodeNumber/CodeNotation>`.
    pub document_id: String,
    pub sender: String,
    /// `new`, `revoke`, `update` or `replace`.
    pub business: String,
    /// The earlier package this one revokes, updates or replaces.
    pub refers_to: Option<String>,
    pub subject: String,
    pub code_number: String,
    pub code_notation: String,
    pub document_type: String,
    pub promulgation_date: String,
    pub priority: i64,
    pub signer_name: String,
    pub package_sha256: String,
    pub signature_sha256: String,
    /// The serial of the certificate that signed.
    pub certificate_serial: String,
    pub size: i64,
    pub attachments: i64,
    pub received_at: DateTime<Utc>,
    pub deliveries: Vec<Delivery>,
    pub receipts: Vec<Receipt>,
    /// Later packages that revoke, update or replace this one: (id, business).
    pub followed_by: Vec<(String, String)>,
}

/// A document's way to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Delivery {
    pub recipient: String,
    pub recipient_name: Option<String>,
    /// `sent` until the recipient answers, then the edXML status code it last sent (`01`
    /// arrived, `02` refused, `03` accepted, `04` assigned, `05` in progress, `06` completed…).
    pub status: String,
    pub status_label_vi: String,
    pub status_label_en: String,
    pub status_at: DateTime<Utc>,
    /// When the recipient took it (fetched, or a push was answered 2xx).
    pub fetched_at: Option<DateTime<Utc>>,
    /// Its number in the recipient's register of documents received, once registered.
    pub register_number: Option<i64>,
    pub history: Vec<StatusEntry>,
}

/// A status a recipient answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusEntry {
    pub code: String,
    pub label_vi: String,
    pub label_en: String,
    pub description: String,
    /// Who handled it at the recipient (department, name, phone, e-mail), as stated.
    pub staff: serde_json::Value,
    /// When the recipient says it happened.
    pub stated_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// Whether it came as a signed status package (otherwise recorded from the pages).
    pub signed: bool,
}

/// The hub's signed receipt of a hand-over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Receipt {
    pub id: String,
    /// `accepted` (from the sender), `delivered` (to a recipient) or `status` (an answer).
    pub kind: String,
    /// The agency that handed over or took.
    pub agency: String,
    pub issued_at: DateTime<Utc>,
}

/// A line of a register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RegisterLine {
    pub year: i64,
    pub number: i64,
    pub document: String,
    pub document_id: String,
    pub subject: String,
    pub code: String,
    pub document_type: String,
    /// The other side: the sender of a document received; the recipients of one sent.
    pub counterpart: String,
    pub registered_at: DateTime<Utc>,
    /// For a document received, its status here; for one sent, how many recipients
    /// completed it of how many.
    pub status: String,
}

/// Which register and what to look for.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegisterQuery {
    pub agency: String,
    /// `in` (sổ văn bản đến) or `out` (sổ văn bản đi).
    pub direction: String,
    pub year: Option<i32>,
    /// Words of the subject, the code or the other agency, with or without diacritics.
    pub q: Option<String>,
}

/// A document waiting for a recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InboxLine {
    pub id: String,
    pub document_id: String,
    pub sender: String,
    pub subject: String,
    pub business: String,
    pub priority: i64,
    pub received_at: DateTime<Utc>,
    pub status: String,
    pub fetched_at: Option<DateTime<Utc>>,
}

fn hex(b: &[u8]) -> String {
    ::hex::encode(b)
}

fn business_name(b: i64) -> &'static str {
    match b {
        1 => "revoke",
        2 => "update",
        3 => "replace",
        _ => "new",
    }
}

/// The labels of a delivery status.
pub fn status_labels(code: &str) -> (String, String) {
    if code == "sent" {
        return (
            "Đã gửi, chờ nơi nhận".into(),
            "Sent, awaiting the recipient".into(),
        );
    }
    match StatusCode::parse(code) {
        Some(s) => (s.label_vi().to_string(), s.label_en().to_string()),
        None => (code.to_string(), code.to_string()),
    }
}

/// Where a status stands in a document's handling: a status may only move forward, and
/// nothing follows a refusal (`02`) or completion (`06`). The answers to a recall or update
/// (`13`, `15`, `16`) are kept in the history without moving it.
fn rank(code: &str) -> u8 {
    match code {
        "sent" => 0,
        "01" => 1,
        "03" => 2,
        "04" => 3,
        "05" => 4,
        _ => 9,
    }
}

/// Words folded for search (no diacritics, lower case).
fn folded(parts: &[&str]) -> String {
    kernel::text::fold(&parts.join(" "))
}

fn too_large(what: &str, max: usize) -> ExchangeError {
    refused(
        413,
        "too_large",
        format!("{what} vượt quá {} byte", max),
        format!("The {what} is over {} bytes", max),
    )
}

impl Exchange {
    fn check_sizes(&self, package: &[u8], signature: &[u8]) -> Result<()> {
        if package.len() > MAX_PACKAGE_BYTES {
            return Err(too_large("gói tin/package", MAX_PACKAGE_BYTES));
        }
        if signature.len() > MAX_SIGNATURE_BYTES {
            return Err(too_large("chữ ký/signature", MAX_SIGNATURE_BYTES));
        }
        if package.is_empty() || signature.is_empty() {
            return Err(refused(
                400,
                "missing_part",
                "Cần gửi cả gói tin edXML và chữ ký số tách rời của nó",
                "Both the edXML package and its detached signature are needed",
            ));
        }
        Ok(())
    }

    /// Checks the sizes of a package and its signature, and that the hub has not taken these
    /// bytes before (a replay) into `table`; answers their SHA-256.
    async fn fresh(&self, package: &[u8], signature: &[u8], table: &str) -> Result<String> {
        self.check_sizes(package, signature)?;
        let package_sha = hex(&Sha256::digest(package));
        let seen: Option<String> = on_db!(&self.db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {table} WHERE package_sha256 = $1"
        ))).bind(&package_sha).fetch_optional(p).await)?;
        if seen.is_some() {
            return Err(refused(
                409,
                "replayed",
                "Gói tin này đã được trục nhận trước đó",
                "This package was already accepted by the hub",
            ));
        }
        Ok(package_sha)
    }

    /// Verifies a detached signature over `bytes` as `organ_id`'s.
    async fn verify_as(
        &self,
        organ_id: &str,
        bytes: &[u8],
        signature: &[u8],
    ) -> Result<crate::registry::CertificateEntry> {
        let verified = pki::verify_detached(signature, bytes, &[]).map_err(|e| {
            refused(
                422,
                "signature_invalid",
                format!("Chữ ký số không hợp lệ: {e}"),
                format!("The signature does not verify: {e}"),
            )
        })?;
        self.check_signer(organ_id, &verified.certificate).await
    }

    async fn active_agency(&self, organ_id: &str) -> Result<Option<String>> {
        let row: Option<(String, bool)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT name, active FROM exchange_agencies WHERE organ_id = $1"
        ).bind(organ_id).fetch_optional(p).await)?;
        Ok(row.filter(|r| r.1).map(|r| r.0))
    }

    /// Stores blobs on a blocking thread: each write is flushed to disk.
    pub(crate) async fn store(&self, items: Vec<Vec<u8>>) -> Result<Vec<BlobId>> {
        let blobs = self.blobs.clone();
        tokio::task::spawn_blocking(move || {
            items
                .iter()
                .map(|b| blobs.put(b))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| ExchangeError::Signing(format!("blob task: {e}")))?
        .map_err(Into::into)
    }

    /// Makes, signs and stores the hub's receipt (on a blocking thread: signing and flushing
    /// take milliseconds); returns its id and the SHA-256 of its body and signature.
    async fn make_receipt(
        &self,
        kind: &str,
        document: &str,
        agency: &str,
        facts: serde_json::Value,
        hub: std::sync::Arc<pki::KeyPair>,
        at: DateTime<Utc>,
    ) -> Result<(String, String, String)> {
        let id = uuid::Uuid::now_v7().to_string();
        let body = json!({
            "receipt": id,
            "kind": kind,
            "document": document,
            "agency": agency,
            "issued_at": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "hub_certificate": hub.serial_hex(),
            "facts": facts,
        });
        let bytes =
            serde_json::to_vec_pretty(&body).map_err(|e| ExchangeError::Signing(e.to_string()))?;
        let blobs = self.blobs.clone();
        let (b, s) = tokio::task::spawn_blocking(move || -> Result<(BlobId, BlobId)> {
            let sig = pki::sign_detached(&hub, &bytes, at)?;
            Ok((blobs.put(&bytes)?, blobs.put(&sig)?))
        })
        .await
        .map_err(|e| ExchangeError::Signing(format!("receipt task: {e}")))??;
        Ok((id, b.as_str().to_string(), s.as_str().to_string()))
    }

    /// Accepts a signed package from a sender, for all its recipients; the caller must act
    /// for the sending agency.
    pub async fn accept(
        &self,
        caller: &identity::Principal,
        package: &[u8],
        signature: &[u8],
    ) -> Result<Document> {
        self.accept_as(Some(caller), &caller.id, package, signature)
            .await
    }

    /// Accepts a signed package for `actor`: checked to act for the sender when `caller` is
    /// given; without one, from the node's own command line or demo, where the signature
    /// alone vouches for the sender.
    pub async fn accept_as(
        &self,
        caller: Option<&identity::Principal>,
        actor: &str,
        package: &[u8],
        signature: &[u8],
    ) -> Result<Document> {
        let package_sha = self.fresh(package, signature, "exchange_documents").await?;
        let doc: Package = edxml::parse(package, &self.profile, &self.limits)?;
        let sender = doc.header.from.organ_id.clone();
        if let Some(c) = caller {
            self.allow_act(c, &sender).await?;
        }
        if self.active_agency(&sender).await?.is_none() {
            return Err(refused(
                422,
                "unknown_sender",
                format!("Cơ quan gửi {sender} chưa có trong danh bạ của trục"),
                format!("The sending agency {sender} is not on the hub"),
            ));
        }
        let signer = self.verify_as(&sender, package, signature).await?;
        let mut recipients: Vec<String> = Vec::new();
        let mut unknown = Vec::new();
        for to in &doc.header.to {
            let id = to.organ_id.trim().to_string();
            if recipients.contains(&id) {
                continue;
            }
            if id == sender || self.active_agency(&id).await?.is_none() {
                unknown.push(kernel::ProblemDetail::new(
                    "To.OrganId",
                    format!("Nơi nhận {id} không có trong danh bạ của trục"),
                    format!("Recipient {id} is not on the hub"),
                ));
            }
            recipients.push(id);
        }
        if !unknown.is_empty() {
            return Err(ExchangeError::Refused {
                status: 422,
                kind: "unknown_recipient",
                vi: "Có nơi nhận không có trong danh bạ của trục".into(),
                en: "A recipient is not on the hub".into(),
                details: unknown,
            });
        }
        let document_id = doc.document_id();
        let business = doc.business.business_doc_type;
        let business_code = business.code();
        let refers_to: Option<String> = if business == BusinessType::New {
            let dup: Option<String> = on_db!(&self.db, p => sqlx::query_scalar(
                "SELECT id FROM exchange_documents WHERE sender = $1 AND document_id = $2 AND business = 0"
            ).bind(&sender).bind(&document_id).fetch_optional(p).await)?;
            if let Some(id) = dup {
                return Err(refused(
                    409,
                    "document_exists",
                    format!(
                        "Văn bản {document_id} đã được gửi (mã {id}); hãy gửi gói thay thế hoặc cập nhật"
                    ),
                    format!(
                        "Document {document_id} was already sent (id {id}); send a replacement or update"
                    ),
                ));
            }
            None
        } else {
            let original = doc
                .business
                .document_id
                .clone()
                .unwrap_or_else(|| document_id.clone());
            let orig: Option<String> = on_db!(&self.db, p => sqlx::query_scalar(
                "SELECT id FROM exchange_documents WHERE sender = $1 AND document_id = $2 AND business = 0"
            ).bind(&sender).bind(&original).fetch_optional(p).await)?;
            if orig.is_none() {
                return Err(refused(
                    422,
                    "unknown_document",
                    format!("Không có văn bản {original} để thu hồi, cập nhật hay thay thế"),
                    format!("There is no document {original} to revoke, update or replace"),
                ));
            }
            orig
        };
        let h = &doc.header;
        let now = self.clock.now();
        let id = uuid::Uuid::now_v7().to_string();
        let signature_sha = hex(&Sha256::digest(signature));
        self.store(vec![package.to_vec(), signature.to_vec()])
            .await?;
        let hub = self.own_key("hub").await?;
        let (receipt, body_sha, receipt_sig_sha) = self.make_receipt(
            "accepted",
            &id,
            &sender,
            json!({"document_id": document_id, "package_sha256": package_sha, "signature_sha256": signature_sha, "to": recipients}),
            hub,
            now,
        )
        .await?;
        let search = folded(&[
            &h.subject,
            &h.code.code_number,
            &h.code.code_notation,
            &sender,
            &recipients.join(" "),
            &h.document_type.type_name,
        ]);
        let year = i64::from(kernel::clock::to_local(now).year());
        let mut tx = Tx::begin(&self.db).await?;
        let inserted = on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO exchange_documents (id, document_id, sender, business, refers_to, subject, code_number, code_notation, document_type, promulgation_date, priority, signer_name, package_sha256, signature_sha256, certificate_serial, size, attachments, received_at, sent_by, search) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        ).bind(&id).bind(&document_id).bind(&sender).bind(i64::from(business_code)).bind(&refers_to)
        .bind(&h.subject).bind(&h.code.code_number).bind(&h.code.code_notation).bind(&h.document_type.type_name)
        .bind(h.promulgation_info.promulgation_date).bind(i64::from(h.other_info.priority)).bind(&h.signer_info.full_name)
        .bind(&package_sha).bind(&signature_sha).bind(&signer.serial)
        .bind(i64::try_from(package.len()).unwrap_or(i64::MAX)).bind(i64::try_from(doc.attachments.len()).unwrap_or(0))
        .bind(now).bind(actor).bind(&search)
        .execute(&mut *c).await.map(|_| ()));
        if let Err(e) = inserted {
            // Two sends of the same bytes or the same new document at once: one wins.
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation())
            {
                return Err(refused(
                    409,
                    "replayed",
                    "Gói tin hoặc văn bản này đã được trục nhận",
                    "This package or document was already accepted by the hub",
                ));
            }
            return Err(e.into());
        }
        for r in &recipients {
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO exchange_deliveries (id, document, recipient, status, status_at) VALUES ($1, $2, $3, 'sent', $4)"
            ).bind(uuid::Uuid::now_v7().to_string()).bind(&id).bind(r).bind(now).execute(&mut *c).await.map(|_| ()))?;
            let endpoint: Option<Option<String>> = on_tx!(&mut tx, c => sqlx::query_scalar(
                "SELECT endpoint FROM exchange_agencies WHERE organ_id = $1"
            ).bind(r).fetch_optional(&mut *c).await)?;
            if endpoint.flatten().is_some() {
                on_tx!(&mut tx, c => sqlx::query(
                    "INSERT INTO exchange_pushes (id, agency, kind, ref, next_at, created_at) VALUES ($1, $2, 'document', $3, $4, $4)"
                ).bind(uuid::Uuid::now_v7().to_string()).bind(r).bind(&id).bind(now).execute(&mut *c).await.map(|_| ()))?;
            }
        }
        let number = next_number(&mut tx, &sender, "out", year).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO exchange_register (agency, direction, year, number, document, registered_by, registered_at) VALUES ($1, 'out', $2, $3, $4, $5, $6)"
        ).bind(&sender).bind(year).bind(number).bind(&id).bind(actor).bind(now).execute(&mut *c).await.map(|_| ()))?;
        insert_receipt(
            &mut tx,
            &receipt,
            &id,
            "accepted",
            &sender,
            &body_sha,
            &receipt_sig_sha,
            now,
        )
        .await?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "exchange.document.accept",
                subject: &format!("exchange/document/{id}"),
                data: json!({
                    "document_id": document_id, "sender": sender, "to": recipients,
                    "business": business_name(i64::from(business_code)), "refers_to": refers_to,
                    "package_sha256": package_sha, "signature_sha256": signature_sha,
                    "certificate": signer.serial, "register_number": number, "receipt": receipt,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        self.document(&id).await
    }

    /// A document with its deliveries and receipts.
    pub async fn document(&self, id: &str) -> Result<Document> {
        let row: Option<DocRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT id, document_id, sender, business, refers_to, subject, code_number, code_notation, document_type, promulgation_date, priority, signer_name, package_sha256, signature_sha256, certificate_serial, size, attachments, received_at \
             FROM exchange_documents WHERE id = $1"
        ).bind(id).fetch_optional(p).await)?;
        let Some(r) = row else {
            return Err(ExchangeError::NotFound(format!("văn bản/document {id}")));
        };
        type DRow = (
            String,
            String,
            String,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            Option<String>,
            Option<i64>,
        );
        let ds: Vec<DRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT d.id, d.recipient, d.status, d.status_at, d.fetched_at, a.name, g.number FROM exchange_deliveries d \
             LEFT JOIN exchange_agencies a ON a.organ_id = d.recipient \
             LEFT JOIN exchange_register g ON g.document = d.document AND g.agency = d.recipient AND g.direction = 'in' \
             WHERE d.document = $1 ORDER BY d.recipient"
        ).bind(id).fetch_all(p).await)?;
        type SRow = (
            String,
            String,
            String,
            String,
            DateTime<Utc>,
            DateTime<Utc>,
            Option<String>,
        );
        let ss: Vec<SRow> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT s.delivery, s.code, s.description, s.staff, s.stated_at, s.recorded_at, s.package_sha256 FROM exchange_statuses s \
             JOIN exchange_deliveries d ON d.id = s.delivery WHERE d.document = $1 ORDER BY s.recorded_at, s.id"
        ).bind(id).fetch_all(p).await)?;
        let rs: Vec<(String, String, String, DateTime<Utc>)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT id, kind, agency, issued_at FROM exchange_receipts WHERE document = $1 ORDER BY issued_at, id"
        ).bind(id).fetch_all(p).await)?;
        let followed: Vec<(String, i64)> = on_db!(&self.db, p => sqlx::query_as(
            "SELECT id, business FROM exchange_documents WHERE refers_to = $1 ORDER BY received_at, id"
        ).bind(id).fetch_all(p).await)?;
        let deliveries = ds
            .into_iter()
            .map(|d| {
                let (vi, en) = status_labels(&d.2);
                Delivery {
                    history: ss
                        .iter()
                        .filter(|s| s.0 == d.0)
                        .map(|s| {
                            let (lvi, len) = status_labels(&s.1);
                            StatusEntry {
                                code: s.1.clone(),
                                label_vi: lvi,
                                label_en: len,
                                description: s.2.clone(),
                                staff: serde_json::from_str(&s.3)
                                    .unwrap_or(serde_json::Value::Null),
                                stated_at: s.4,
                                recorded_at: s.5,
                                signed: s.6.is_some(),
                            }
                        })
                        .collect(),
                    recipient: d.1,
                    recipient_name: d.5,
                    status: d.2,
                    status_label_vi: vi,
                    status_label_en: en,
                    status_at: d.3,
                    fetched_at: d.4,
                    register_number: d.6,
                }
            })
            .collect();
        Ok(Document {
            id: r.id,
            document_id: r.document_id,
            sender: r.sender,
            business: business_name(r.business).to_string(),
            refers_to: r.refers_to,
            subject: r.subject,
            code_number: r.code_number,
            code_notation: r.code_notation,
            document_type: r.document_type,
            promulgation_date: r.promulgation_date.to_string(),
            priority: r.priority,
            signer_name: r.signer_name,
            package_sha256: r.package_sha256,
            signature_sha256: r.signature_sha256,
            certificate_serial: r.certificate_serial,
            size: r.size,
            attachments: r.attachments,
            received_at: r.received_at,
            deliveries,
            followed_by: followed
                .into_iter()
                .map(|(i, b)| (i, business_name(b).to_string()))
                .collect(),
            receipts: rs
                .into_iter()
                .map(|x| Receipt {
                    id: x.0,
                    kind: x.1,
                    agency: x.2,
                    issued_at: x.3,
                })
                .collect(),
        })
    }

    /// Lets `p` see a document: its sender's or a recipient's clerks and leaders, and those
    /// who run the hub. A refusal joins the audit chain.
    pub async fn allow_read(&self, p: &identity::Principal, d: &Document) -> Result<()> {
        if self.may_manage(p) || self.may_act(p, &d.sender).await? {
            return Ok(());
        }
        for x in &d.deliveries {
            if self.may_act(p, &x.recipient).await? {
                return Ok(());
            }
        }
        self.allow_act(p, &d.sender).await
    }

    /// The package and its signature, as the sender signed them. A recipient's first fetch is
    /// the hand-over: the hub signs a `delivered` receipt.
    pub async fn package(&self, p: &identity::Principal, id: &str) -> Result<(Vec<u8>, Vec<u8>)> {
        let d = self.document(id).await?;
        self.allow_read(p, &d).await?;
        let package = self.blobs.get(&BlobId::parse(&d.package_sha256)?)?;
        let signature = self.blobs.get(&BlobId::parse(&d.signature_sha256)?)?;
        for x in &d.deliveries {
            if x.fetched_at.is_none() && self.may_act(p, &x.recipient).await? {
                self.hand_over(&p.id, &d, &x.recipient).await?;
            }
        }
        Ok((package, signature))
    }

    /// Records that `recipient` took document `d`, with the hub's `delivered` receipt, once.
    pub(crate) async fn hand_over(&self, actor: &str, d: &Document, recipient: &str) -> Result<()> {
        let now = self.clock.now();
        let hub = self.own_key("hub").await?;
        let (receipt, body_sha, sig_sha) = self.make_receipt(
            "delivered",
            &d.id,
            recipient,
            json!({"document_id": d.document_id, "package_sha256": d.package_sha256, "from": d.sender, "to": recipient}),
            hub,
            now,
        )
        .await?;
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "UPDATE exchange_deliveries SET fetched_at = $1 WHERE document = $2 AND recipient = $3 AND fetched_at IS NULL"
        ).bind(now).bind(&d.id).bind(recipient).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Ok(());
        }
        insert_receipt(
            &mut tx,
            &receipt,
            &d.id,
            "delivered",
            recipient,
            &body_sha,
            &sig_sha,
            now,
        )
        .await?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "exchange.document.deliver",
                subject: &format!("exchange/document/{}", d.id),
                data: json!({"recipient": recipient, "receipt": receipt}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// What waits for `agency`: documents not yet taken, and (with `all`) those taken but not
    /// finished.
    pub async fn inbox(&self, agency: &str, all: bool, limit: i64) -> Result<Vec<InboxLine>> {
        let filter = if all {
            "d.status NOT IN ('02', '06')"
        } else {
            "d.fetched_at IS NULL"
        };
        type Row = (
            String,
            String,
            String,
            String,
            i64,
            i64,
            DateTime<Utc>,
            String,
            Option<DateTime<Utc>>,
        );
        let rows: Vec<Row> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT x.id, x.document_id, x.sender, x.subject, x.business, x.priority, x.received_at, d.status, d.fetched_at \
             FROM exchange_deliveries d JOIN exchange_documents x ON x.id = d.document \
             WHERE d.recipient = $1 AND {filter} ORDER BY x.received_at, x.id LIMIT $2"
        ))).bind(agency).bind(limit.clamp(1, 500)).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(|r| InboxLine {
                id: r.0,
                document_id: r.1,
                sender: r.2,
                subject: r.3,
                business: business_name(r.4).to_string(),
                priority: r.5,
                received_at: r.6,
                status: r.7,
                fetched_at: r.8,
            })
            .collect())
    }

    /// Records a recipient's signed status package about a document; the caller must act for
    /// the answering agency.
    pub async fn answer(
        &self,
        caller: &identity::Principal,
        package: &[u8],
        signature: &[u8],
    ) -> Result<Document> {
        self.answer_from(Some(caller), &caller.id, package, signature)
            .await
    }

    /// Records a signed status package for `actor` (see [`Exchange::accept_as`]).
    pub async fn answer_from(
        &self,
        caller: Option<&identity::Principal>,
        actor: &str,
        package: &[u8],
        signature: &[u8],
    ) -> Result<Document> {
        let package_sha = self.fresh(package, signature, "exchange_statuses").await?;
        let status: StatusPackage = edxml::parse_status(package, &self.profile, &self.limits)?;
        let from = status.from.organ_id.clone();
        if let Some(c) = caller {
            self.allow_act(c, &from).await?;
        }
        let signer = self.verify_as(&from, package, signature).await?;
        self.store(vec![package.to_vec(), signature.to_vec()])
            .await?;
        let signed = Signed {
            package_sha256: package_sha,
            signature_sha256: hex(&Sha256::digest(signature)),
            certificate: signer.serial,
        };
        self.record_status(actor, &status, Some(signed)).await
    }

    /// Records a status for `status.from`'s delivery of the document it answers; checks the
    /// step is forward, registers the document as received at `03` (accepted), and queues a
    /// push of it to the sender.
    pub(crate) async fn record_status(
        &self,
        actor: &str,
        status: &StatusPackage,
        signed: Option<Signed>,
    ) -> Result<Document> {
        let from = &status.from.organ_id;
        let sender = &status.response_for.organ_id;
        let doc: Option<String> = on_db!(&self.db, p => sqlx::query_scalar(
            "SELECT x.id FROM exchange_documents x JOIN exchange_deliveries d ON d.document = x.id \
             WHERE x.sender = $1 AND x.document_id = $2 AND d.recipient = $3 ORDER BY x.received_at DESC LIMIT 1"
        ).bind(sender).bind(&status.response_for.document_id).bind(from).fetch_optional(p).await)?;
        let Some(doc_id) = doc else {
            return Err(refused(
                404,
                "unknown_document",
                format!(
                    "Không có văn bản {} gửi tới {from}",
                    status.response_for.document_id
                ),
                format!(
                    "No document {} was sent to {from}",
                    status.response_for.document_id
                ),
            ));
        };
        let d = self.document(&doc_id).await?;
        let Some(delivery) = d.deliveries.iter().find(|x| &x.recipient == from) else {
            return Err(ExchangeError::NotFound(format!(
                "văn bản/document {doc_id}"
            )));
        };
        let code = status.status_code.code().to_string();
        let recall = status.status_code.is_recall();
        let last_recall = delivery.history.last().map(|h| h.code.as_str());
        let (now_rank, new_rank) = (rank(&delivery.status), rank(&code));
        if (recall && last_recall == Some(code.as_str())) || (!recall && new_rank <= now_rank) {
            let (vi, en) = status_labels(&delivery.status);
            return Err(refused(
                409,
                "status_out_of_order",
                format!(
                    "Văn bản đang ở trạng thái \u{201c}{vi}\u{201d}: không thể chuyển sang {code}"
                ),
                format!("The document is at \u{201c}{en}\u{201d}: it cannot move to {code}"),
            ));
        }
        let now = self.clock.now();
        let stated = status.timestamp.with_timezone(&Utc);
        let staff = serde_json::to_string(&status.staff_info).unwrap_or_else(|_| "{}".into());
        let delivery_id: String = on_db!(&self.db, p => sqlx::query_scalar(
            "SELECT id FROM exchange_deliveries WHERE document = $1 AND recipient = $2"
        ).bind(&doc_id).bind(from).fetch_one(p).await)?;
        let hub = self.own_key("hub").await?;
        let (receipt, body_sha, sig_sha) = self.make_receipt(
            "status",
            &doc_id,
            from,
            json!({"document_id": d.document_id, "status": code, "stated_at": stated, "package_sha256": signed.as_ref().map(|s| s.package_sha256.clone())}),
            hub,
            now,
        )
        .await?;
        let year = i64::from(kernel::clock::to_local(now).year());
        let mut tx = Tx::begin(&self.db).await?;
        let shown = if recall {
            delivery.status.clone()
        } else {
            code.clone()
        };
        let moved = on_tx!(&mut tx, c => sqlx::query(
            "UPDATE exchange_deliveries SET status = $1, status_at = $2, fetched_at = COALESCE(fetched_at, $2) WHERE id = $3 AND status = $4"
        ).bind(&shown).bind(now).bind(&delivery_id).bind(&delivery.status).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if moved == 0 {
            return Err(refused(
                409,
                "status_changed",
                "Trạng thái văn bản vừa thay đổi: hãy tải lại",
                "The document's status just changed: reload it",
            ));
        }
        let inserted = on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO exchange_statuses (id, delivery, code, description, staff, stated_at, recorded_at, package_sha256, signature_sha256, certificate_serial, recorded_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ).bind(uuid::Uuid::now_v7().to_string()).bind(&delivery_id).bind(&code).bind(&status.description).bind(&staff)
        .bind(stated).bind(now).bind(signed.as_ref().map(|s| &s.package_sha256)).bind(signed.as_ref().map(|s| &s.signature_sha256))
        .bind(signed.as_ref().map(|s| &s.certificate)).bind(actor).execute(&mut *c).await.map(|_| ()));
        if let Err(e) = inserted {
            if e.as_database_error()
                .is_some_and(|x| x.is_unique_violation())
            {
                return Err(refused(
                    409,
                    "replayed",
                    "Gói trạng thái này đã được trục nhận trước đó",
                    "This status package was already accepted by the hub",
                ));
            }
            return Err(e.into());
        }
        let mut number = None;
        if code == "03" {
            let n = next_number(&mut tx, from, "in", year).await?;
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO exchange_register (agency, direction, year, number, document, registered_by, registered_at) VALUES ($1, 'in', $2, $3, $4, $5, $6)"
            ).bind(from).bind(year).bind(n).bind(&doc_id).bind(actor).bind(now).execute(&mut *c).await.map(|_| ()))?;
            number = Some(n);
        }
        let endpoint: Option<Option<String>> = on_tx!(&mut tx, c => sqlx::query_scalar(
            "SELECT endpoint FROM exchange_agencies WHERE organ_id = $1"
        ).bind(&d.sender).fetch_optional(&mut *c).await)?;
        if endpoint.flatten().is_some() && signed.is_some() {
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO exchange_pushes (id, agency, kind, ref, next_at, created_at) VALUES ($1, $2, 'status', $3, $4, $4)"
            ).bind(uuid::Uuid::now_v7().to_string()).bind(&d.sender).bind(signed.as_ref().map(|s| s.package_sha256.clone())).bind(now).execute(&mut *c).await.map(|_| ()))?;
        }
        insert_receipt(
            &mut tx, &receipt, &doc_id, "status", from, &body_sha, &sig_sha, now,
        )
        .await?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "exchange.document.status",
                subject: &format!("exchange/document/{doc_id}"),
                data: json!({"recipient": from, "from": delivery.status, "to": code, "description": status.description,
                    "signed": signed.as_ref().map(|s| json!({"package_sha256": s.package_sha256, "certificate": s.certificate})),
                    "register_number": number, "receipt": receipt}),
            },
        )
        .await?;
        tx.commit().await?;
        self.document(&doc_id).await
    }

    /// A receipt's body (JSON) and the hub's detached signature over it.
    pub async fn receipt(&self, p: &identity::Principal, id: &str) -> Result<(Vec<u8>, Vec<u8>)> {
        let row: Option<(String, String, String)> = on_db!(&self.db, x => sqlx::query_as(
            "SELECT document, body_sha256, signature_sha256 FROM exchange_receipts WHERE id = $1"
        ).bind(id).fetch_optional(x).await)?;
        let Some((doc, body, sig)) = row else {
            return Err(ExchangeError::NotFound(format!("biên nhận/receipt {id}")));
        };
        let d = self.document(&doc).await?;
        self.allow_read(p, &d).await?;
        Ok((
            self.blobs.get(&BlobId::parse(&body)?)?,
            self.blobs.get(&BlobId::parse(&sig)?)?,
        ))
    }

    /// A register of documents sent or received, newest first.
    pub async fn register(&self, q: &RegisterQuery, limit: i64) -> Result<Vec<RegisterLine>> {
        let direction = match q.direction.as_str() {
            "in" | "out" => q.direction.as_str(),
            _ => {
                return Err(crate::error::invalid(
                    "direction",
                    "Sổ văn bản là \u{201c}in\u{201d} (đến) hoặc \u{201c}out\u{201d} (đi)",
                    "The register is \u{201c}in\u{201d} or \u{201c}out\u{201d}",
                ));
            }
        };
        let year = q
            .year
            .map(i64::from)
            .unwrap_or_else(|| i64::from(kernel::clock::to_local(self.clock.now()).year()));
        let words: Vec<String> =
            q.q.as_deref()
                .map(|s| {
                    kernel::text::fold(s)
                        .split_whitespace()
                        .take(8)
                        .map(|w| format!("%{w}%"))
                        .collect()
                })
                .unwrap_or_default();
        let mut sql = String::from(
            "SELECT g.year, g.number, x.id, x.document_id, x.subject, x.code_number, x.code_notation, x.document_type, x.sender, g.registered_at \
             FROM exchange_register g JOIN exchange_documents x ON x.id = g.document \
             WHERE g.agency = $1 AND g.direction = $2 AND g.year = $3",
        );
        for i in 0..words.len() {
            sql.push_str(&format!(" AND x.search LIKE ${}", i + 4));
        }
        sql.push_str(&format!(
            " ORDER BY g.number DESC LIMIT ${}",
            words.len() + 4
        ));
        type Row = (
            i64,
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            DateTime<Utc>,
        );
        let rows: Vec<Row> = on_db!(&self.db, p => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(&q.agency).bind(direction).bind(year);
            for w in &words {
                query = query.bind(w);
            }
            query.bind(limit.clamp(1, 1000)).fetch_all(p).await
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let ds: Vec<(String, String)> = on_db!(&self.db, p => sqlx::query_as(
                "SELECT recipient, status FROM exchange_deliveries WHERE document = $1 ORDER BY recipient"
            ).bind(&r.2).fetch_all(p).await)?;
            let (counterpart, status) = if direction == "in" {
                let mine = ds
                    .iter()
                    .find(|d| d.0 == q.agency)
                    .map(|d| d.1.clone())
                    .unwrap_or_default();
                (r.8.clone(), mine)
            } else {
                let done = ds.iter().filter(|d| d.1 == "06").count();
                (
                    ds.iter()
                        .map(|d| d.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    format!("{done}/{}", ds.len()),
                )
            };
            out.push(RegisterLine {
                year: r.0,
                number: r.1,
                document: r.2,
                document_id: r.3,
                subject: r.4,
                code: if r.6.is_empty() {
                    r.5
                } else {
                    format!("{}/{}", r.5, r.6)
                },
                document_type: r.7,
                counterpart,
                registered_at: r.9,
                status,
            });
        }
        Ok(out)
    }
}

/// A row of `exchange_documents`.
#[derive(sqlx::FromRow)]
struct DocRow {
    id: String,
    document_id: String,
    sender: String,
    business: i64,
    refers_to: Option<String>,
    subject: String,
    code_number: String,
    code_notation: String,
    document_type: String,
    promulgation_date: chrono::NaiveDate,
    priority: i64,
    signer_name: String,
    package_sha256: String,
    signature_sha256: String,
    certificate_serial: String,
    size: i64,
    attachments: i64,
    received_at: DateTime<Utc>,
}

/// A status package's proof: the hashes of its bytes and signature, and the signer.
pub(crate) struct Signed {
    pub package_sha256: String,
    pub signature_sha256: String,
    pub certificate: String,
}

/// The next number of an agency's register for a year.
async fn next_number(tx: &mut Tx<'_>, agency: &str, direction: &str, year: i64) -> Result<i64> {
    let n: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO exchange_register_counters (agency, direction, year, last) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (agency, direction, year) DO UPDATE SET last = exchange_register_counters.last + 1 RETURNING last"
    ).bind(agency).bind(direction).bind(year).fetch_one(&mut *c).await)?;
    Ok(n)
}

#[allow(clippy::too_many_arguments)]
async fn insert_receipt(
    tx: &mut Tx<'_>,
    id: &str,
    document: &str,
    kind: &str,
    agency: &str,
    body_sha: &str,
    sig_sha: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO exchange_receipts (id, document, kind, agency, body_sha256, signature_sha256, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ).bind(id).bind(document).bind(kind).bind(agency).bind(body_sha).bind(sig_sha).bind(at).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
