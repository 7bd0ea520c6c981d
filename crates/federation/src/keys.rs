//! The node's key: Ed25519, made at the first start and kept in the database, so that every
//! replica of a node signs as the node. Other nodes know it by its public half (base64).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use kernel::db::Db;
use kernel::on_db;

use crate::FederationError;

/// A node's signing key.
pub struct NodeKey {
    key: SigningKey,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

impl NodeKey {
    /// A new random key.
    pub fn generate() -> Result<NodeKey, FederationError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| FederationError::Remote(format!("no randomness: {e}")))?;
        Ok(NodeKey {
            key: SigningKey::from_bytes(&seed),
        })
    }

    fn from_secret(b64: &str) -> Option<NodeKey> {
        let bytes = B64.decode(b64).ok()?;
        let seed: [u8; 32] = bytes.try_into().ok()?;
        Some(NodeKey {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The public half, base64.
    pub fn public(&self) -> String {
        B64.encode(self.key.verifying_key().as_bytes())
    }

    /// A signature of `message`, base64.
    pub fn sign(&self, message: &[u8]) -> String {
        B64.encode(self.key.sign(message).to_bytes())
    }

    /// The node's key from the database, made and stored at the first call.
    pub async fn load_or_create(db: &Db, now: DateTime<Utc>) -> Result<NodeKey, FederationError> {
        let stored: Option<String> = on_db!(db, c => sqlx::query_scalar(
            "SELECT secret FROM federation_key WHERE id = 1"
        ).fetch_optional(c).await)?;
        if let Some(s) = stored {
            return NodeKey::from_secret(&s).ok_or_else(|| {
                FederationError::Remote("the stored node key is damaged".to_string())
            });
        }
        let key = NodeKey::generate()?;
        let secret = B64.encode(key.key.to_bytes());
        on_db!(db, c => sqlx::query(
            "INSERT INTO federation_key (id, secret, public_key, created_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING"
        ).bind(&secret).bind(key.public()).bind(now).execute(c).await.map(|_| ()))?;
        // Another replica may have been first: take the stored one.
        let stored: Option<String> = on_db!(db, c => sqlx::query_scalar(
            "SELECT secret FROM federation_key WHERE id = 1"
        ).fetch_optional(c).await)?;
        stored
            .as_deref()
            .and_then(NodeKey::from_secret)
            .ok_or_else(|| FederationError::Remote("the node key could not be stored".to_string()))
    }
}

/// Whether `signature` (base64) is `public`'s (base64) signature of `message`.
pub fn verify(public: &str, message: &[u8], signature: &str) -> bool {
    let Some(key) = B64
        .decode(public)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
    else {
        return false;
    };
    let Some(sig) = B64
        .decode(signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b))
    else {
        return false;
    };
    key.verify_strict(message, &sig).is_ok()
}

/// Whether `public` is a usable public key (base64 of 32 bytes on the curve).
pub fn valid_public(public: &str) -> bool {
    B64.decode(public)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_checks_only_with_its_key_and_message() {
        let (Ok(a), Ok(b)) = (NodeKey::generate(), NodeKey::generate()) else {
            panic!("no keys");
        };
        let sig = a.sign(b"message");
        assert!(verify(&a.public(), b"message", &sig));
        assert!(!verify(&a.public(), b"messagf", &sig));
        assert!(!verify(&b.public(), b"message", &sig));
        assert!(!verify(&a.public(), b"message", "not base64"));
        assert!(!verify("AAAA", b"message", &sig));
        assert!(valid_public(&a.public()));
        assert!(!valid_public("AAAA"));
    }
}
