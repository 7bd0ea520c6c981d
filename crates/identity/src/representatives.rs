//! Citizens who act for a business. A business account names them by their personal
//! identification number; each then sees the business on their own account and can act for it
//! where a procedure allows.

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use kernel::ProblemDetail;
use kernel::audit::{self, Entry, Tx};
use kernel::{on_db, on_tx};

use crate::{Identity, IdentityError};

type Result<T, E = IdentityError> = std::result::Result<T, E>;

/// One side of a representation: the other account's login and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Party {
    pub login: String,
    pub full_name: String,
}

impl Identity {
    async fn kind_and_id(&self, login: &str) -> Result<Option<(String, String)>> {
        Ok(on_db!(&self.db, p => sqlx::query_as(
            "SELECT id, kind FROM accounts WHERE login = $1 AND disabled = $2"
        ).bind(login.trim().to_lowercase()).bind(false).fetch_optional(p).await)?)
    }

    /// Lets a citizen act for a business (`add`), or stops it. Returns whether anything changed.
    pub async fn set_representative(
        &self,
        business_login: &str,
        citizen_login: &str,
        add: bool,
        actor: &str,
    ) -> Result<bool> {
        let business = self.kind_and_id(business_login).await?;
        let Some((business_id, "business")) =
            business.as_ref().map(|(i, k)| (i.clone(), k.as_str()))
        else {
            return Err(IdentityError::Invalid(vec![ProblemDetail::new(
                "business",
                format!("Không có doanh nghiệp có mã số thuế {business_login}"),
                format!("No business has the tax code {business_login}"),
            )]));
        };
        let citizen = self.kind_and_id(citizen_login).await?;
        let Some((citizen_id, "citizen")) = citizen.as_ref().map(|(i, k)| (i.clone(), k.as_str()))
        else {
            return Err(IdentityError::Invalid(vec![ProblemDetail::new(
                "cccd",
                format!("Không có công dân có số định danh {citizen_login} đã đăng ký tài khoản"),
                format!("No registered citizen has the number {citizen_login}"),
            )]));
        };
        let now = self.clock.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = if add {
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO business_representatives (business_id, citizen_id, granted_by, granted_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (business_id, citizen_id) DO NOTHING"
            ).bind(&business_id).bind(&citizen_id).bind(actor).bind(now).execute(c).await.map(|r| r.rows_affected()))?
        } else {
            on_tx!(&mut tx, c => sqlx::query(
                "DELETE FROM business_representatives WHERE business_id = $1 AND citizen_id = $2"
            ).bind(&business_id).bind(&citizen_id).execute(c).await.map(|r| r.rows_affected()))?
        };
        if n > 0 {
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor,
                    action: if add {
                        "identity.representative.add"
                    } else {
                        "identity.representative.remove"
                    },
                    subject: &format!("account/{business_id}"),
                    data: json!({ "citizen": format!("account/{citizen_id}") }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// The citizens who act for a business.
    pub async fn representatives(&self, business_id: &str) -> Result<Vec<Party>> {
        Ok(on_db!(&self.db, p => sqlx::query_as(
            "SELECT a.login, a.full_name FROM business_representatives r JOIN accounts a ON a.id = r.citizen_id \
             WHERE r.business_id = $1 ORDER BY a.full_name"
        ).bind(business_id).fetch_all(p).await)?)
    }

    /// The businesses a citizen acts for.
    pub async fn represented(&self, citizen_id: &str) -> Result<Vec<Party>> {
        Ok(on_db!(&self.db, p => sqlx::query_as(
            "SELECT a.login, a.full_name FROM business_representatives r JOIN accounts a ON a.id = r.business_id \
             WHERE r.citizen_id = $1 ORDER BY a.full_name"
        ).bind(citizen_id).fetch_all(p).await)?)
    }
}
