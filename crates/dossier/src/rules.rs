//! The rules of the one-stop mechanism, as versioned data (`data/rules.json`).
//!
//! The rules change by decree: Decree 61/2018 with the forms of Circular 01/2018 until
//! 30 June 2025, Decree 118/2025 with the seven forms of Circular 03/2025 since 1 July 2025.
//! Dossiers received under the old rules are still open, so each dossier keeps the version in
//! force on the day it was received, and is judged by it: how many supplement requests the desk
//! may make, how early an apology must come and whether it asks for an extension, whether
//! handling may be stopped by a notice, and which form each printed slip is.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One version of the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// Stable identifier, kept on each dossier received under it, e.g. `nd118-2025`.
    pub id: String,
    pub name: String,
    pub name_en: String,
    /// The circular whose appendix has the forms.
    pub forms_circular: String,
    /// The first day it applies to (in Vietnam).
    pub effective_from: NaiveDate,
    /// Supplement requests the desk may make before receiving a dossier.
    pub supplement_requests: i64,
    /// Working days before the appointment date by which an apology must come.
    pub apology_lead_working_days: i64,
    /// Whether the apology also asks the applicant to agree to an extension.
    pub extension_request: bool,
    /// Whether handling may be stopped by a notice.
    pub stop_notice: bool,
    /// Form number of each printed slip, by slip kind (`receipt`, `supplement`, …).
    pub forms: BTreeMap<String, String>,
}

impl RuleSet {
    /// "Mẫu số 01, Thông tư 03/2025/TT-VPCP" for a slip kind, if these rules have that form.
    pub fn form_label(&self, kind: &str) -> Option<String> {
        self.forms
            .get(kind)
            .map(|n| format!("Mẫu số {n}, {}", self.forms_circular))
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(rename = "_about")]
    _about: String,
    rule_sets: Vec<RuleSet>,
}

const RULES_JSON: &str = include_str!("../data/rules.json");

/// Every version, oldest first. The file is part of the binary and checked by the tests, so
/// a broken one cannot ship; should it be unreadable all the same, the list is empty and
/// [`in_force`] falls back to the built-in current rules.
pub fn all() -> &'static [RuleSet] {
    static ALL: OnceLock<Vec<RuleSet>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut v = serde_json::from_str::<File>(RULES_JSON)
            .map(|f| f.rule_sets)
            .unwrap_or_default();
        v.sort_by_key(|r| r.effective_from);
        v
    })
}

/// The current rules as the code knows them, should the data be missing.
fn fallback() -> &'static RuleSet {
    static ONE: OnceLock<RuleSet> = OnceLock::new();
    ONE.get_or_init(|| RuleSet {
        id: "nd118-2025".into(),
        name: "Nghị định 118/2025/NĐ-CP".into(),
        name_en: "Decree 118/2025/ND-CP".into(),
        forms_circular: "Thông tư 03/2025/TT-VPCP".into(),
        effective_from: NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or_default(),
        supplement_requests: 1,
        apology_lead_working_days: 1,
        extension_request: true,
        stop_notice: true,
        forms: BTreeMap::new(),
    })
}

/// The version in force on `day`: the latest that took effect on or before it (the oldest one
/// for days before any).
pub fn in_force(day: NaiveDate) -> &'static RuleSet {
    let all = all();
    all.iter()
        .rev()
        .find(|r| r.effective_from <= day)
        .or_else(|| all.first())
        .unwrap_or_else(fallback)
}

/// A version by its identifier.
pub fn by_id(id: &str) -> Option<&'static RuleSet> {
    all().iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn the_shipped_rules_parse_and_are_distinct() {
        let f: File = serde_json::from_str(RULES_JSON).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.rule_sets.len(), all().len());
        let mut ids: Vec<&str> = all().iter().map(|r| r.id.as_str()).collect();
        ids.dedup();
        assert_eq!(ids.len(), all().len());
        for r in all() {
            for kind in ["receipt", "supplement", "refusal", "apology", "control"] {
                assert!(
                    r.form_label(kind).is_some(),
                    "{} has no form for {kind}",
                    r.id
                );
            }
            assert_eq!(r.stop_notice, r.forms.contains_key("stop"), "{}", r.id);
        }
    }

    #[test]
    fn a_day_gets_the_rules_in_force_on_it() {
        assert_eq!(in_force(day(2025, 6, 30)).id, "nd61-2018");
        assert_eq!(in_force(day(2025, 7, 1)).id, "nd118-2025");
        assert_eq!(in_force(day(2026, 3, 2)).id, "nd118-2025");
        // Before the oldest version: the oldest.
        assert_eq!(in_force(day(2010, 1, 1)).id, "nd61-2018");
        assert!(!in_force(day(2025, 6, 30)).stop_notice);
        assert_eq!(
            in_force(day(2025, 7, 1)).form_label("stop").as_deref(),
            Some("Mẫu số 05, Thông tư 03/2025/TT-VPCP")
        );
        assert_eq!(
            by_id("nd61-2018").map(|r| r.forms_circular.as_str()),
            Some("Thông tư 01/2018/TT-VPCP")
        );
    }
}
