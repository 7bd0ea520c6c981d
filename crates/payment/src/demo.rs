//! The demo's payments: the demo citizen's residence registration at Công an phường Hoàn Kiếm,
//! paid online through the sandbox gateway (its signed confirmation applied as any other),
//! with its receipt; and a second one filed and waiting to be paid.

use serde_json::{Map, Value, json};

use dossier::{ActionInput, ActionKind, NewDossier};
use kernel::on_db;

use crate::gateway::Outcome;
use crate::{Answer, PaymentError, Payments, Provider, StartInput};

const PROCEDURE: &str = "1.004222";
/// The agency of the demo's payments (its accountant's).
pub const AGENCY: &str = "000.01.01.G01";
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn form(address: &str) -> Map<String, Value> {
    json!({
        "ho_ten": "Nguyễn Văn An", "so_dinh_danh": "001095012345", "ngay_sinh": "1995-01-15",
        "dia_chi_thuong_tru_moi": address, "can_cu_cho_o": "Nhà thuộc sở hữu của mình",
        "dien_thoai": "0912345678"
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

impl Payments {
    /// Seeds the demo's payments once (nothing when any payment exists); how many dossiers
    /// it filed.
    pub async fn seed_demo(&self) -> Result<usize, PaymentError> {
        let any: i64 = on_db!(&self.db, c => sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM payments").fetch_one(c).await)?;
        if any > 0 {
            return Ok(0);
        }
        let Some(m) = self.merchants.get(&Provider::Sandbox).cloned() else {
            return Ok(0);
        };
        let id: Option<String> = on_db!(&self.db, c => sqlx::query_scalar("SELECT id FROM accounts WHERE login = '001095012345'").fetch_optional(c).await)?;
        let Some(id) = id else {
            return Ok(0);
        };
        let citizen = self.identity.principal(&id, None).await?;
        let spec = self
            .catalog
            .procedure(PROCEDURE, None)
            .await
            .map_err(|_| PaymentError::NotFound(format!("thủ tục {PROCEDURE}")))?;
        let mut codes = Vec::new();
        for address in [
            "Số 5 phố Tràng Tiền, phường Hoàn Kiếm, Hà Nội",
            "Số 12 phố Hàng Bài, phường Hoàn Kiếm, Hà Nội",
        ] {
            let new = NewDossier {
                procedure: PROCEDURE.into(),
                agency: Some(AGENCY.into()),
                form: form(address),
                ..NewDossier::default()
            };
            let (d, _) = self.dossiers.create(&citizen, &new, None).await?;
            for doc in &spec.spec.documents {
                self.dossiers
                    .upload(&d.id, &citizen, &doc.name, "giay-to.pdf", PDF)
                    .await?;
            }
            let d = self
                .dossiers
                .act(&d.id, &citizen, ActionKind::Submit, &ActionInput::default())
                .await?;
            codes.push(d.code.unwrap_or(d.id));
        }
        if let Some(code) = codes.first() {
            // Paid online at the filing rate, confirmed by the sandbox's signed message.
            let input = StartInput {
                provider: Provider::Sandbox.as_str().into(),
                choice: crate::fees::Choice {
                    cases: vec![1],
                    copies: None,
                },
            };
            let started = self
                .start(code, &citizen, &input, "127.0.0.1", true)
                .await?;
            let request = started
                .pay_url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
                .map(|u| u.query_pairs().into_owned().collect())
                .unwrap_or_default();
            let notice = m.notice_params(&request, Outcome::Success, "13900001", "NCB", self.now());
            if self.notify(Provider::Sandbox.as_str(), &notice).await != Answer::Confirmed {
                return Err(crate::error::conflict(
                    "Không ghi nhận được thanh toán mẫu",
                    "The demo payment was not applied",
                ));
            }
        }
        Ok(codes.len())
    }
}
