//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of
//! skew), as authenticator apps expect. A code is accepted once: the step it matched is stored,
//! and a code for that step or an earlier one is refused.

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "motcua";

fn build(secret: Vec<u8>, account: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .ok()
}

/// A new random secret, base32 (160 bits, as RFC 4226 recommends).
pub fn new_secret() -> Option<String> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).ok()?;
    Some(Secret::from(bytes).to_base32())
}

fn totp(secret_b32: &str, account: &str) -> Option<Totp> {
    let s = Secret::try_from_base32(secret_b32).ok()?;
    build(s.as_ref().to_vec(), account)
}

/// The `otpauth://` URL an authenticator app reads.
pub fn url(secret_b32: &str, account: &str) -> Option<String> {
    totp(secret_b32, account)?.to_url().ok()
}

/// The step a code matches at `unix_time`, if it is right and newer than `last_step`.
pub fn check(
    secret_b32: &str,
    account: &str,
    code: &str,
    unix_time: u64,
    last_step: u64,
) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = totp(secret_b32, account)?.check(&code, unix_time)?;
    (step > last_step).then_some(step)
}

/// The code for `unix_time` (tests and the command line's check use it).
pub fn code_at(secret_b32: &str, account: &str, unix_time: u64) -> Option<String> {
    Some(totp(secret_b32, account)?.generate(unix_time).to_string())
}

/// The secret in groups of four, for typing by hand.
pub fn grouped(secret_b32: &str) -> String {
    secret_b32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_works_once_and_only_near_its_time() {
        let s = new_secret().unwrap_or_default();
        assert_eq!(s.len(), 32);
        let t = 1_800_000_000;
        let code = code_at(&s, "quantri", t).unwrap_or_default();
        let step = check(&s, "quantri", &code, t, 0);
        assert_eq!(step, Some(t / 30));
        assert_eq!(
            check(&s, "quantri", &code, t + 20, t / 30),
            None,
            "not twice"
        );
        assert_eq!(
            check(&s, "quantri", &code, t + 30, 0),
            Some(t / 30),
            "one step late is fine"
        );
        assert_eq!(
            check(&s, "quantri", &code, t + 120, 0),
            None,
            "four steps late is not"
        );
        assert_eq!(check(&s, "quantri", "12345", t, 0), None);
        assert_eq!(check(&s, "quantri", "abcdef", t, 0), None);
        let url = url(&s, "quantri").unwrap_or_default();
        assert!(url.starts_with("otpauth://totp/motcua:quantri?"), "{url}");
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
