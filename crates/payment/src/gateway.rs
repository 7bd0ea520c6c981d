//! The gateway protocol: the citizen is sent to the gateway with signed parameters, comes back
//! on a return URL, and the gateway confirms server to server with an IPN call.
//!
//! The message format is the one Vietnamese gateways share (VNPAY's version 2.1.0): `vnp_*`
//! query parameters, the amount in hundredths of a đồng, times as `yyyyMMddHHmmss` in
//! Vietnam's time, and `vnp_SecureHash`: HMAC-SHA512 under the merchant's secret over the
//! parameters sorted by name, each value form-URL-encoded, joined as a query string. The
//! merchant answers an IPN with `{"RspCode": …, "Message": …}`; the gateway retries until it
//! gets `00` or `02`.
//!
//! Two gateways speak it here: the built-in sandbox, served by motcua itself for testers and
//! the demo, and VNPAY, configured with its merchant code and secret.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;

use kernel::clock::to_local;

/// Which gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Sandbox,
    Vnpay,
    /// Cash or card at the agency's desk, recorded by its official.
    Desk,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Sandbox => "sandbox",
            Provider::Vnpay => "vnpay",
            Provider::Desk => "desk",
        }
    }
    pub fn parse(s: &str) -> Option<Provider> {
        [Provider::Sandbox, Provider::Vnpay, Provider::Desk]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (Provider::Sandbox, true) => "Cổng thanh toán thử nghiệm",
            (Provider::Sandbox, false) => "Sandbox gateway",
            (Provider::Vnpay, _) => "VNPAY",
            (Provider::Desk, true) => "Nộp tại bộ phận một cửa",
            (Provider::Desk, false) => "Paid at the desk",
        }
    }
}

/// A merchant's account with a gateway.
#[derive(Clone)]
pub struct Merchant {
    pub provider: Provider,
    /// Where the citizen is sent to pay.
    pub pay_url: String,
    /// `vnp_TmnCode`.
    pub terminal: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Merchant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Merchant")
            .field("provider", &self.provider)
            .field("pay_url", &self.pay_url)
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

/// A payment to ask the gateway for.
#[derive(Debug, Clone)]
pub struct PayRequest<'a> {
    pub txn_ref: &'a str,
    pub amount: i64,
    pub order_info: &'a str,
    pub return_url: &'a str,
    pub ip: &'a str,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub vi: bool,
}

/// How the gateway says a payment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Cancelled,
    Failed,
    TimedOut,
}

/// A gateway's message (IPN or return), read and its signature checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub terminal: String,
    pub txn_ref: String,
    /// Whole đồng.
    pub amount: i64,
    /// Present in the sandbox's messages; VNPAY's are always in đồng.
    pub currency: Option<String>,
    pub outcome: Outcome,
    pub response_code: String,
    pub gateway_txn: Option<String>,
    pub bank_code: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
}

/// Why a message was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unread {
    /// No signature, or one that does not match.
    BadSignature,
    /// Signed, but a field is missing or malformed.
    Malformed(String),
}

/// The answers a merchant gives an IPN call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Confirmed,
    NotFound,
    AlreadyConfirmed,
    InvalidAmount,
    BadSignature,
    Error,
}

impl Answer {
    pub fn code(self) -> &'static str {
        match self {
            Answer::Confirmed => "00",
            Answer::NotFound => "01",
            Answer::AlreadyConfirmed => "02",
            Answer::InvalidAmount => "04",
            Answer::BadSignature => "97",
            Answer::Error => "99",
        }
    }
    pub fn message(self) -> &'static str {
        match self {
            Answer::Confirmed => "Confirm Success",
            Answer::NotFound => "Order not found",
            Answer::AlreadyConfirmed => "Order already confirmed",
            Answer::InvalidAmount => "Invalid amount",
            Answer::BadSignature => "Invalid signature",
            Answer::Error => "Unknown error",
        }
    }
}

/// `yyyyMMddHHmmss` in Vietnam's time.
pub fn stamp(t: DateTime<Utc>) -> String {
    to_local(t).format("%Y%m%d%H%M%S").to_string()
}

/// The inverse of [`stamp`].
pub fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").ok()?;
    let offset = chrono::FixedOffset::east_opt(7 * 3600)?;
    offset
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The signed data: parameters other than the hash, non-empty, sorted by name, each
/// `name=value` with both form-URL-encoded, joined with `&`.
pub fn signing_string(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .filter(|(k, v)| {
            !v.is_empty() && k.as_str() != "vnp_SecureHash" && k.as_str() != "vnp_SecureHashType"
        })
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Merchant {
    pub fn new(provider: Provider, pay_url: &str, terminal: &str, secret: &[u8]) -> Merchant {
        Merchant {
            provider,
            pay_url: pay_url.to_string(),
            terminal: terminal.to_string(),
            secret: secret.to_vec(),
        }
    }

    fn mac(&self) -> Hmac<Sha512> {
        // HMAC takes a key of any length; an empty one is refused by configuration checks.
        match <Hmac<Sha512> as KeyInit>::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => unreachable_key(),
        }
    }

    /// `vnp_SecureHash` of `params`, lower-case hex.
    pub fn sign(&self, params: &BTreeMap<String, String>) -> String {
        let mut m = self.mac();
        m.update(signing_string(params).as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    /// Whether `params` carry a valid `vnp_SecureHash`, compared in constant time.
    pub fn verify(&self, params: &BTreeMap<String, String>) -> bool {
        let Some(sent) = params.get("vnp_SecureHash") else {
            return false;
        };
        let Ok(sent) = hex::decode(sent.trim()) else {
            return false;
        };
        let mut m = self.mac();
        m.update(signing_string(params).as_bytes());
        m.verify_slice(&sent).is_ok()
    }

    /// `params` with their signature added, as a query string.
    pub fn signed_query(&self, mut params: BTreeMap<String, String>) -> String {
        params.remove("vnp_SecureHash");
        let hash = self.sign(&params);
        params.insert("vnp_SecureHash".into(), hash);
        params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The parameters of a payment request.
    pub fn pay_params(&self, r: &PayRequest<'_>) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        for (k, v) in [
            ("vnp_Version", "2.1.0".to_string()),
            ("vnp_Command", "pay".into()),
            ("vnp_TmnCode", self.terminal.clone()),
            ("vnp_Amount", (r.amount.saturating_mul(100)).to_string()),
            ("vnp_CurrCode", "VND".into()),
            ("vnp_TxnRef", r.txn_ref.to_string()),
            ("vnp_OrderInfo", r.order_info.to_string()),
            ("vnp_OrderType", "other".into()),
            ("vnp_Locale", if r.vi { "vn" } else { "en" }.into()),
            ("vnp_ReturnUrl", r.return_url.to_string()),
            ("vnp_IpAddr", r.ip.to_string()),
            ("vnp_CreateDate", stamp(r.created)),
            ("vnp_ExpireDate", stamp(r.expires)),
        ] {
            p.insert(k.to_string(), v);
        }
        p
    }

    /// Where to send the citizen.
    pub fn pay_url_for(&self, r: &PayRequest<'_>) -> String {
        let sep = if self.pay_url.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}{}",
            self.pay_url,
            self.signed_query(self.pay_params(r))
        )
    }

    /// Reads a message the gateway signed (IPN or return).
    pub fn read(&self, params: &BTreeMap<String, String>) -> Result<Notice, Unread> {
        if !self.verify(params) {
            return Err(Unread::BadSignature);
        }
        let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let need = |k: &str| get(k).ok_or_else(|| Unread::Malformed(format!("{k} missing")));
        let terminal = need("vnp_TmnCode")?.to_string();
        let txn_ref = need("vnp_TxnRef")?.to_string();
        let hundredths: i64 = need("vnp_Amount")?
            .parse()
            .map_err(|_| Unread::Malformed("vnp_Amount is not a number".into()))?;
        if hundredths < 0 || hundredths % 100 != 0 {
            return Err(Unread::Malformed("vnp_Amount is not whole đồng".into()));
        }
        let response_code = need("vnp_ResponseCode")?.to_string();
        let status = get("vnp_TransactionStatus").unwrap_or(&response_code);
        let outcome = match (response_code.as_str(), status) {
            ("00", "00") => Outcome::Success,
            ("24", _) => Outcome::Cancelled,
            ("11", _) => Outcome::TimedOut,
            _ => Outcome::Failed,
        };
        let paid_at = match get("vnp_PayDate") {
            Some(s) => Some(parse_stamp(s).ok_or_else(|| Unread::Malformed("vnp_PayDate".into()))?),
            None => None,
        };
        Ok(Notice {
            terminal,
            txn_ref,
            amount: hundredths / 100,
            currency: get("vnp_CurrCode").map(str::to_string),
            outcome,
            response_code,
            gateway_txn: get("vnp_TransactionNo").map(str::to_string),
            bank_code: get("vnp_BankCode").map(str::to_string),
            paid_at,
        })
    }

    /// The gateway's side: the signed message that reports how a payment ended (what the
    /// sandbox sends, and what tests forge or replay).
    #[allow(clippy::too_many_arguments)]
    pub fn notice_params(
        &self,
        request: &BTreeMap<String, String>,
        outcome: Outcome,
        gateway_txn: &str,
        bank: &str,
        at: DateTime<Utc>,
    ) -> BTreeMap<String, String> {
        let code = match outcome {
            Outcome::Success => "00",
            Outcome::Cancelled => "24",
            Outcome::TimedOut => "11",
            Outcome::Failed => "51",
        };
        let mut p = BTreeMap::new();
        for k in [
            "vnp_TmnCode",
            "vnp_Amount",
            "vnp_TxnRef",
            "vnp_OrderInfo",
            "vnp_CurrCode",
        ] {
            if let Some(v) = request.get(k) {
                p.insert(k.to_string(), v.clone());
            }
        }
        p.insert("vnp_BankCode".into(), bank.to_string());
        p.insert("vnp_TransactionNo".into(), gateway_txn.to_string());
        p.insert("vnp_ResponseCode".into(), code.to_string());
        p.insert(
            "vnp_TransactionStatus".into(),
            if code == "00" { "00" } else { "02" }.to_string(),
        );
        p.insert("vnp_PayDate".into(), stamp(at));
        let hash = self.sign(&p);
        p.insert("vnp_SecureHash".into(), hash);
        p
    }
}

#[cold]
fn unreachable_key() -> ! {
    // Hmac accepts keys of every length (longer ones are hashed first), so this is never
    // reached; it stays a panic rather than a silent wrong signature.
    panic!("HMAC refused a key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merchant() -> Merchant {
        Merchant::new(
            Provider::Vnpay,
            "https://pay.example/vpcpay.html",
            "MOTCUA01",
            b"SECRETKEY123",
        )
    }

    fn request() -> BTreeMap<String, String> {
        let t = Utc
            .with_ymd_and_hms(2026, 12, 1, 3, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("a valid time"));
        merchant().pay_params(&PayRequest {
            txn_ref: "P1",
            amount: 15_000,
            order_info: "Le phi ho so 000.00.51.H26-261201-0001",
            return_url: "https://dvc.example/thanh-toan/ket-qua/vnpay",
            ip: "127.0.0.1",
            created: t,
            expires: t + chrono::Duration::minutes(15),
            vi: true,
        })
    }

    #[test]
    fn the_signed_string_is_sorted_encoded_and_leaves_out_the_hash() {
        let mut p = BTreeMap::new();
        p.insert("vnp_b".to_string(), "x y".to_string());
        p.insert("vnp_a".to_string(), "á&=".to_string());
        p.insert("vnp_SecureHash".to_string(), "ff".to_string());
        p.insert("vnp_empty".to_string(), String::new());
        assert_eq!(signing_string(&p), "vnp_a=%C3%A1%26%3D&vnp_b=x+y");
    }

    #[test]
    fn a_request_carries_hundredths_and_vietnam_time_and_verifies() {
        let m = merchant();
        let p = request();
        assert_eq!(p["vnp_Amount"], "1500000");
        assert_eq!(p["vnp_CreateDate"], "20261201100000");
        let url = m.pay_url_for(&PayRequest {
            txn_ref: "P1",
            amount: 15_000,
            order_info: "x",
            return_url: "r",
            ip: "127.0.0.1",
            created: Utc::now(),
            expires: Utc::now(),
            vi: false,
        });
        let q: BTreeMap<String, String> = url::Url::parse(&url)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .query_pairs()
            .into_owned()
            .collect();
        assert!(m.verify(&q));
    }

    #[test]
    fn a_notice_reads_back_and_any_change_breaks_its_signature() {
        let m = merchant();
        let at = Utc
            .with_ymd_and_hms(2026, 12, 1, 3, 5, 0)
            .single()
            .unwrap_or_else(|| panic!("a valid time"));
        let n = m.notice_params(&request(), Outcome::Success, "14000001", "NCB", at);
        let read = m.read(&n).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(read.amount, 15_000);
        assert_eq!(read.outcome, Outcome::Success);
        assert_eq!(read.paid_at, Some(at));
        assert_eq!(read.gateway_txn.as_deref(), Some("14000001"));
        let mut tampered = n.clone();
        tampered.insert("vnp_Amount".into(), "100".into());
        assert_eq!(m.read(&tampered), Err(Unread::BadSignature));
        let other = Merchant::new(Provider::Vnpay, "u", "MOTCUA01", b"another secret");
        assert_eq!(other.read(&n), Err(Unread::BadSignature));
        let mut unsigned = n.clone();
        unsigned.remove("vnp_SecureHash");
        assert_eq!(m.read(&unsigned), Err(Unread::BadSignature));
        let cancelled = m
            .read(&m.notice_params(&request(), Outcome::Cancelled, "", "", at))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(cancelled.outcome, Outcome::Cancelled);
    }

    #[test]
    fn a_message_from_the_published_example_verifies() {
        // A message made by hand the way the gateway's documentation describes it: the
        // parameters below, sorted and encoded, signed with HMAC-SHA512 under the secret.
        let m = Merchant::new(Provider::Vnpay, "u", "2QXUI4J4", b"SECRETSAMPLE");
        let mut p: BTreeMap<String, String> = [
            ("vnp_Amount", "1000000"),
            ("vnp_BankCode", "NCB"),
            ("vnp_BankTranNo", "VNP14226112"),
            ("vnp_CardType", "ATM"),
            (
                "vnp_OrderInfo",
                "Thanh toan don hang thoi gian: 2023-12-07 17:00:44",
            ),
            ("vnp_PayDate", "20231207170112"),
            ("vnp_ResponseCode", "00"),
            ("vnp_TmnCode", "2QXUI4J4"),
            ("vnp_TransactionNo", "14226112"),
            ("vnp_TransactionStatus", "00"),
            ("vnp_TxnRef", "166117"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            signing_string(&p),
            "vnp_Amount=1000000&vnp_BankCode=NCB&vnp_BankTranNo=VNP14226112&vnp_CardType=ATM&vnp_OrderInfo=Thanh+toan+don+hang+thoi+gian%3A+2023-12-07+17%3A00%3A44&vnp_PayDate=20231207170112&vnp_ResponseCode=00&vnp_TmnCode=2QXUI4J4&vnp_TransactionNo=14226112&vnp_TransactionStatus=00&vnp_TxnRef=166117"
        );
        let hash = m.sign(&p);
        assert_eq!(hash.len(), 128);
        p.insert("vnp_SecureHash".into(), hash.to_uppercase());
        p.insert("vnp_SecureHashType".into(), "HmacSHA512".into());
        let n = m.read(&p).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (n.amount, n.txn_ref.as_str(), n.bank_code.as_deref()),
            (10_000, "166117", Some("NCB"))
        );
    }
}
