//! Passwords: Argon2id at the OWASP-recommended cost (19 MiB, 2 passes, 1 lane), hashed on a
//! blocking thread so that logins do not stall the server's other work, and a policy that
//! refuses the passwords people guess first.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost in KiB, passes and lanes: OWASP's Password Storage Cheat Sheet, first option.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash(password: &str) -> Result<String, String> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the stored `phc` string. Costs one Argon2id evaluation.
pub fn verify(password: &str, phc: &str) -> bool {
    hasher().verify_password(password.as_bytes(), phc).is_ok()
}

/// A hash of nothing anyone knows, verified against when the login does not exist, so that an
/// unknown login and a wrong password take the same time.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut seed = [0u8; 32];
        let _ = getrandom::fill(&mut seed);
        hash(&hex::encode(seed)).unwrap_or_default()
    })
}

/// Why a new password is refused, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weak {
    pub vi: &'static str,
    pub en: &'static str,
}

const COMMON: &[&str] = &[
    "12345678",
    "123456789",
    "1234567890",
    "password",
    "password1",
    "matkhau",
    "matkhau123",
    "qwertyui",
    "11111111",
    "88888888",
    "abc12345",
    "iloveyou",
    "vietnam1",
    "admin123",
    "motcua123",
];

/// Checks a new password: 10 to 128 characters, not a well-known one, not the login, not one
/// character repeated.
pub fn check_policy(password: &str, login: &str) -> Result<(), Weak> {
    let n = password.chars().count();
    if n < 10 {
        return Err(Weak {
            vi: "Mật khẩu cần ít nhất 10 ký tự",
            en: "A password needs at least 10 characters",
        });
    }
    if n > 128 {
        return Err(Weak {
            vi: "Mật khẩu dài quá 128 ký tự",
            en: "A password may have at most 128 characters",
        });
    }
    let lower = password.to_lowercase();
    if COMMON.iter().any(|c| lower.starts_with(c)) || lower.contains(&login.to_lowercase()) {
        return Err(Weak {
            vi: "Mật khẩu quá dễ đoán (phổ biến hoặc chứa tên đăng nhập)",
            en: "The password is too easy to guess (common, or contains the login)",
        });
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err(Weak {
            vi: "Mật khẩu không được là một ký tự lặp lại",
            en: "A password cannot be one character repeated",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("một mật khẩu dài").unwrap_or_default();
        let b = hash("một mật khẩu dài").unwrap_or_default();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b);
        assert!(verify("một mật khẩu dài", &a));
        assert!(!verify("một mật khẩu dàI", &a));
        assert!(!verify("x", "not a hash"));
        assert!(!verify("", decoy()));
    }

    #[test]
    fn policy_refuses_easy_passwords() {
        assert!(check_policy("short", "a").is_err());
        assert!(check_policy("1234567890abc", "a").is_err());
        assert!(check_policy("aaaaaaaaaaaa", "b").is_err());
        assert!(check_policy("xx001095012345yy", "001095012345").is_err());
        assert!(check_policy(&"x".repeat(129), "a").is_err());
        assert!(check_policy("Hoa sen nở giữa hồ", "001095012345").is_ok());
    }
}
