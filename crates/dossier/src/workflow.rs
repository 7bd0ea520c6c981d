//! Workflows: the steps a received dossier goes through in an agency, kept as data.
//!
//! A workflow is a list of steps. Each has a role that acts on it, a time budget in working
//! hours, and the steps it may forward to. One step *decides* (approve or reject) and one
//! *returns* the result; after a decision the dossier goes to the returning step. A dossier
//! takes a copy of its agency's workflow when it is received, so later edits do not change
//! dossiers already running.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use identity::Role;
use kernel::ProblemDetail;

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Short identifier, unique in the workflow.
    pub id: String,
    /// What happens here, as officials read it.
    pub name: String,
    /// Who acts on this step (within the dossier's agency).
    pub role: Role,
    /// Time budget in working hours.
    pub hours: u32,
    /// Steps this one may forward to.
    #[serde(default)]
    pub next: Vec<String>,
    /// Approve or reject happens here.
    #[serde(default)]
    pub decides: bool,
    /// The result is returned here (the last step).
    #[serde(default)]
    pub returns: bool,
}

/// A workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    pub steps: Vec<Step>,
}

fn problem(at: &str, vi: impl Into<String>, en: impl Into<String>) -> ProblemDetail {
    ProblemDetail::new(at, vi, en)
}

impl Workflow {
    /// The usual path, for a procedure with `days` working days: a specialist examines, the
    /// department head reviews, the leader decides and signs, the desk returns the result.
    /// The time is shared 50/20/20/10.
    pub fn standard(days: u16) -> Workflow {
        let total = u32::from(days.max(1)) * 8;
        let part = |pct: u32| (total * pct / 100).max(1);
        let step = |id: &str, name: &str, role: Role, hours: u32, next: &[&str]| Step {
            id: id.into(),
            name: name.into(),
            role,
            hours,
            next: next.iter().map(|s| s.to_string()).collect(),
            decides: false,
            returns: false,
        };
        let mut sign = step(
            "ky",
            "Lãnh đạo phê duyệt, ký kết quả",
            Role::AgencyLeader,
            part(20),
            &[],
        );
        sign.decides = true;
        let mut back = step("tra", "Trả kết quả", Role::Reception, part(10), &[]);
        back.returns = true;
        Workflow {
            steps: vec![
                step(
                    "xu-ly",
                    "Chuyên viên thẩm định, xử lý",
                    Role::Specialist,
                    part(50),
                    &["duyet"],
                ),
                step(
                    "duyet",
                    "Trưởng phòng xem xét",
                    Role::DepartmentHead,
                    part(20),
                    &["ky"],
                ),
                sign,
                back,
            ],
        }
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    pub fn first(&self) -> Option<&Step> {
        self.steps.first()
    }

    /// The step that returns the result.
    pub fn returning(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.returns)
    }

    /// The steps that forward to `id` (where "send back" may go).
    pub fn predecessors(&self, id: &str) -> Vec<&Step> {
        self.steps
            .iter()
            .filter(|s| s.next.iter().any(|n| n == id))
            .collect()
    }

    /// Every problem: duplicate or unknown steps, national roles, a step nobody reaches, a
    /// path that never ends, no deciding or returning step.
    pub fn check(&self) -> Vec<ProblemDetail> {
        let mut out = Vec::new();
        if self.steps.is_empty() || self.steps.len() > 30 {
            out.push(problem(
                "steps",
                "Cần 1 đến 30 bước",
                "A workflow has 1 to 30 steps",
            ));
            return out;
        }
        let mut ids = HashSet::new();
        for (i, s) in self.steps.iter().enumerate() {
            let at = format!("steps[{i}]");
            let id_ok = (1..=40).contains(&s.id.len())
                && s.id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                out.push(problem(
                    &at,
                    "Mã bước gồm 1 đến 40 chữ, số, gạch",
                    "A step id has 1 to 40 letters, digits or dashes",
                ));
            }
            if !ids.insert(s.id.as_str()) {
                out.push(problem(
                    &at,
                    format!("Trùng mã bước {}", s.id),
                    format!("Step id {} is used twice", s.id),
                ));
            }
            if s.name.trim().is_empty() || s.name.chars().count() > 200 {
                out.push(problem(
                    &at,
                    "Tên bước cần 1 đến 200 ký tự",
                    "A step name needs 1 to 200 characters",
                ));
            }
            if s.role.is_national() {
                out.push(problem(
                    &at,
                    "Bước phải do vai trò trong cơ quan thực hiện",
                    "A step is done by a role within the agency",
                ));
            }
            if s.hours == 0 || s.hours > 24 * 365 {
                out.push(problem(
                    &at,
                    "Thời gian của bước từ 1 giờ đến 1 năm",
                    "A step's time is 1 hour to 1 year",
                ));
            }
            if s.returns && (!s.next.is_empty() || s.decides) {
                out.push(problem(
                    &at,
                    "Bước trả kết quả là bước cuối",
                    "The returning step is the last one",
                ));
            }
        }
        for (i, s) in self.steps.iter().enumerate() {
            for n in &s.next {
                if !ids.contains(n.as_str()) {
                    out.push(problem(
                        &format!("steps[{i}].next"),
                        format!("Không có bước {n}"),
                        format!("No step {n}"),
                    ));
                }
            }
        }
        let deciding = self.steps.iter().filter(|s| s.decides).count();
        let returning = self.steps.iter().filter(|s| s.returns).count();
        if deciding != 1 {
            out.push(problem(
                "steps",
                "Cần đúng một bước phê duyệt",
                "Exactly one step decides",
            ));
        }
        if returning != 1 {
            out.push(problem(
                "steps",
                "Cần đúng một bước trả kết quả",
                "Exactly one step returns the result",
            ));
        }
        if !out.is_empty() {
            return out;
        }
        // Reachable from the first step (a decision leads to the returning step).
        let by: HashMap<&str, &Step> = self.steps.iter().map(|s| (s.id.as_str(), s)).collect();
        let edges = |s: &Step| -> Vec<String> {
            let mut e = s.next.clone();
            if s.decides
                && let Some(r) = self.returning()
            {
                e.push(r.id.clone());
            }
            e
        };
        let mut seen = HashSet::new();
        let mut stack = vec![self.steps[0].id.clone()];
        while let Some(id) = stack.pop() {
            if seen.insert(id.clone())
                && let Some(s) = by.get(id.as_str())
            {
                stack.extend(edges(s));
            }
        }
        for s in &self.steps {
            if !seen.contains(&s.id) {
                out.push(problem(
                    "steps",
                    format!("Không bước nào dẫn tới bước {}", s.id),
                    format!("No path reaches step {}", s.id),
                ));
            }
        }
        // Every step can reach the end (the returning step).
        let mut ends: HashSet<String> =
            self.returning().map(|r| r.id.clone()).into_iter().collect();
        loop {
            let before = ends.len();
            for s in &self.steps {
                if edges(s).iter().any(|n| ends.contains(n)) {
                    ends.insert(s.id.clone());
                }
            }
            if ends.len() == before {
                break;
            }
        }
        for s in &self.steps {
            if !ends.contains(&s.id) {
                out.push(problem(
                    "steps",
                    format!("Từ bước {} không đi tới kết thúc", s.id),
                    format!("From step {} no path ends", s.id),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_workflow_is_valid_and_shares_the_time() {
        let w = Workflow::standard(5);
        assert!(w.check().is_empty(), "{:?}", w.check());
        let hours: Vec<u32> = w.steps.iter().map(|s| s.hours).collect();
        assert_eq!(hours, [20, 8, 8, 4]);
        assert_eq!(Workflow::standard(0).steps[0].hours, 4);
        assert_eq!(w.predecessors("duyet")[0].id, "xu-ly");
    }

    #[test]
    fn broken_workflows_are_refused_with_the_reason() {
        let mut w = Workflow::standard(5);
        w.steps[1].next = vec![];
        let p = w.check();
        assert!(
            p.iter().any(|x| x.en.contains("No path reaches step ky")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|x| x.en.contains("From step duyet no path ends")),
            "{p:?}"
        );
        let mut w = Workflow::standard(5);
        w.steps[0].next = vec!["nowhere".into()];
        w.steps[2].role = Role::SystemAdmin;
        let p = w.check();
        assert!(p.iter().any(|x| x.en == "No step nowhere"));
        assert!(p.iter().any(|x| x.en.contains("within the agency")));
        let mut w = Workflow::standard(5);
        w.steps[2].decides = false;
        assert!(w.check().iter().any(|x| x.en == "Exactly one step decides"));
    }
}
