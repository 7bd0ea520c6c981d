//! The federation's rules, without I/O: what a signed call between nodes signs, how long a
//! signature is good for, which agencies a node answers for, how far a dossier's events can be
//! applied, and how long to wait before trying again.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// How far a signed call's time may be from the receiver's, either way, in seconds. A nonce
/// is remembered for twice as long, so a replay is refused whether it is early or late.
pub const WINDOW_SECS: i64 = 300;

/// The headers of a signed call between nodes.
pub const H_NODE: &str = "motcua-node";
pub const H_DATE: &str = "motcua-date";
pub const H_NONCE: &str = "motcua-nonce";
pub const H_SIGNATURE: &str = "motcua-signature";

/// The bytes a node signs for a call: a fixed label, the method, the path with its query,
/// the node, the time (Unix seconds), the nonce and the body's SHA-256, one per line.
pub fn canonical(
    method: &str,
    path_and_query: &str,
    node: &str,
    date: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let digest = hex::encode(Sha256::digest(body));
    format!(
        "motcua-node-call-v1\n{}\n{path_and_query}\n{node}\n{date}\n{nonce}\n{digest}",
        method.to_ascii_uppercase()
    )
    .into_bytes()
}

/// Whether a call made at `date` may be taken at `now` (both Unix seconds).
pub fn in_window(now: i64, date: i64) -> bool {
    (now - date).abs() <= WINDOW_SECS
}

/// A nonce: 16 to 64 letters, digits, `-` or `_`.
pub fn valid_nonce(n: &str) -> bool {
    (16..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A node's name among the nodes: 1 to 40 lower-case letters, digits or `-`.
pub fn valid_node_id(n: &str) -> bool {
    (1..=40).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether `code` is among the agencies `patterns` name: a code itself, or `*.H26` for every
/// code ending in `.H26`.
pub fn agency_matches(patterns: &[String], code: &str) -> bool {
    patterns.iter().any(|p| match p.strip_prefix('*') {
        Some(tail) => !tail.is_empty() && code.ends_with(tail) && code.len() > tail.len(),
        None => p == code,
    })
}

/// A pattern is a code (letters, digits, `.`, `-`) or `*` followed by one.
pub fn valid_pattern(p: &str) -> bool {
    let body = p.strip_prefix('*').unwrap_or(p);
    (1..=60).contains(&body.len())
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// How far a dossier's events are applied after these arrive: from `applied` (the last one
/// applied, 0 for none), the longest run `applied + 1, applied + 2, …` found in `seqs` (the
/// numbers stored and not applied yet, in any order, repeats allowed). Events after a gap wait.
pub fn advance(applied: i64, seqs: &[i64]) -> i64 {
    let mut sorted: Vec<i64> = seqs.iter().copied().filter(|s| *s > applied).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut at = applied;
    for s in sorted {
        if s == at + 1 {
            at = s;
        } else {
            break;
        }
    }
    at
}

/// The pause before attempt `failures + 1` after `failures` failed ones in a row: half a
/// second, doubling, at most `max`.
pub fn backoff(failures: u32, max: Duration) -> Duration {
    let ms = 500u64.saturating_mul(1u64 << failures.min(20));
    Duration::from_millis(ms).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_part_of_a_call_is_signed() {
        let base = canonical(
            "post",
            "/api/v1/federation/events",
            "hanoi",
            100,
            "n",
            b"{}",
        );
        assert!(base.starts_with(b"motcua-node-call-v1\nPOST\n"));
        for other in [
            canonical("GET", "/api/v1/federation/events", "hanoi", 100, "n", b"{}"),
            canonical("POST", "/api/v1/federation/event", "hanoi", 100, "n", b"{}"),
            canonical(
                "POST",
                "/api/v1/federation/events",
                "hanoj",
                100,
                "n",
                b"{}",
            ),
            canonical(
                "POST",
                "/api/v1/federation/events",
                "hanoi",
                101,
                "n",
                b"{}",
            ),
            canonical(
                "POST",
                "/api/v1/federation/events",
                "hanoi",
                100,
                "m",
                b"{}",
            ),
            canonical(
                "POST",
                "/api/v1/federation/events",
                "hanoi",
                100,
                "n",
                b"{ }",
            ),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn the_window_is_five_minutes_either_way() {
        assert!(in_window(1000, 1000 - 300));
        assert!(in_window(1000, 1000 + 300));
        assert!(!in_window(1000, 1000 - 301));
        assert!(!in_window(1000, 1000 + 301));
    }

    #[test]
    fn names_and_nonces() {
        assert!(valid_node_id("ha-noi-2"));
        assert!(!valid_node_id("Hà Nội"));
        assert!(!valid_node_id(""));
        assert!(valid_nonce("0123456789abcdef"));
        assert!(!valid_nonce("short"));
        assert!(!valid_nonce("0123456789abcdef\n"));
    }

    #[test]
    fn patterns_name_codes_or_their_ends() {
        let p = vec!["*.H26".to_string(), "000.00.00.G01".to_string()];
        assert!(agency_matches(&p, "000.00.12.H26"));
        assert!(agency_matches(&p, "000.00.00.G01"));
        assert!(!agency_matches(&p, "000.00.12.H29"));
        assert!(!agency_matches(&p, ".H26"));
        assert!(!agency_matches(&["*".to_string()], "000.00.12.H26"));
        assert!(valid_pattern("*.H26"));
        assert!(!valid_pattern("*"));
        assert!(!valid_pattern("a b"));
    }

    #[test]
    fn a_gap_holds_what_follows() {
        assert_eq!(advance(0, &[1, 2, 3]), 3);
        assert_eq!(advance(0, &[2, 3]), 0);
        assert_eq!(advance(1, &[3, 2, 2, 5]), 3);
        assert_eq!(advance(4, &[1, 2, 3]), 4);
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let max = Duration::from_secs(30);
        assert_eq!(backoff(0, max), Duration::from_millis(500));
        assert_eq!(backoff(1, max), Duration::from_secs(1));
        assert_eq!(backoff(3, max), Duration::from_secs(4));
        assert_eq!(backoff(10, max), max);
        assert_eq!(backoff(u32::MAX, max), max);
    }

    proptest! {
        /// However a dossier's events are split, shuffled and repeated in delivery, applying
        /// each delivery in turn applies every event once, in order, and ends at the last.
        #[test]
        fn any_delivery_applies_each_event_once_in_order(
            n in 1i64..40,
            order in proptest::collection::vec(any::<u32>(), 1..120),
            cuts in proptest::collection::vec(1usize..10, 1..40),
        ) {
            // A delivery: every seq at least once, then repeats, in a shuffled order.
            let mut delivered: Vec<i64> = (1..=n).collect();
            delivered.extend(order.iter().map(|o| 1 + i64::from(*o) % n));
            let mut keyed: Vec<(u32, i64)> = delivered
                .iter()
                .enumerate()
                .map(|(i, s)| (order.get(i % order.len()).copied().unwrap_or(0).rotate_left(i as u32), *s))
                .collect();
            keyed.sort();
            let delivered: Vec<i64> = keyed.into_iter().map(|(_, s)| s).collect();
            let mut stored: std::collections::BTreeSet<i64> = Default::default();
            let mut applied = 0;
            let mut applied_in_order = Vec::new();
            let mut rest = &delivered[..];
            let mut c = 0;
            while !rest.is_empty() {
                let k = cuts[c % cuts.len()].min(rest.len());
                c += 1;
                let (batch, tail) = rest.split_at(k);
                rest = tail;
                stored.extend(batch.iter().copied());
                let waiting: Vec<i64> = stored.iter().copied().filter(|s| *s > applied).collect();
                let next = advance(applied, &waiting);
                applied_in_order.extend(applied + 1..=next);
                applied = next;
            }
            prop_assert_eq!(applied, n);
            prop_assert_eq!(applied_in_order, (1..=n).collect::<Vec<_>>());
        }
    }
}
