//! The rules of meetings and opinion ballots, without I/O: statuses and their moves, who may
//! read which document, what a vote says and the exact bytes that are signed, and the tally.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::{invalid, refused};
use crate::{CabinetError, Result};

/// The longest title of a meeting, item, document or ballot.
pub const MAX_TITLE_CHARS: usize = 300;
/// The longest text: a ballot's description, a question, a note, a conclusion.
pub const MAX_TEXT_CHARS: usize = 20_000;
/// The longest opinion written with a vote.
pub const MAX_OPINION_CHARS: usize = 4_000;
/// Questions one ballot may ask.
pub const MAX_QUESTIONS: usize = 50;
/// Items one agenda may have.
pub const MAX_ITEMS: usize = 100;

/// A meeting's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeetingStatus {
    /// Being prepared by the secretariat; participants do not see it yet.
    Draft,
    /// Sent to its participants.
    Scheduled,
    /// Held; notes and conclusions may still be written.
    Ended,
    /// Its conclusion notice is issued.
    Concluded,
    Cancelled,
}

impl MeetingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingStatus::Draft => "draft",
            MeetingStatus::Scheduled => "scheduled",
            MeetingStatus::Ended => "ended",
            MeetingStatus::Concluded => "concluded",
            MeetingStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<MeetingStatus> {
        [
            MeetingStatus::Draft,
            MeetingStatus::Scheduled,
            MeetingStatus::Ended,
            MeetingStatus::Concluded,
            MeetingStatus::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (MeetingStatus::Draft, true) => "Đang chuẩn bị",
            (MeetingStatus::Draft, false) => "Being prepared",
            (MeetingStatus::Scheduled, true) => "Đã triệu tập",
            (MeetingStatus::Scheduled, false) => "Called",
            (MeetingStatus::Ended, true) => "Đã họp",
            (MeetingStatus::Ended, false) => "Held",
            (MeetingStatus::Concluded, true) => "Đã ban hành kết luận",
            (MeetingStatus::Concluded, false) => "Conclusions issued",
            (MeetingStatus::Cancelled, true) => "Đã hủy",
            (MeetingStatus::Cancelled, false) => "Cancelled",
        }
    }

    /// Whether its participants see it.
    pub fn is_visible(self) -> bool {
        !matches!(self, MeetingStatus::Draft)
    }

    /// Whether its agenda, participants and documents may still change.
    pub fn is_editable(self) -> bool {
        matches!(self, MeetingStatus::Draft | MeetingStatus::Scheduled)
    }
}

/// What the secretariat does to a meeting's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeetingMove {
    /// Send the invitation: draft → scheduled.
    Call,
    /// Record that it was held: scheduled → ended.
    End,
    /// draft or scheduled → cancelled.
    Cancel,
}

impl MeetingMove {
    pub fn parse(s: &str) -> Option<MeetingMove> {
        match s {
            "call" => Some(MeetingMove::Call),
            "end" => Some(MeetingMove::End),
            "cancel" => Some(MeetingMove::Cancel),
            _ => None,
        }
    }
}

/// The status `m` leads to from `from`, or why not.
pub fn meeting_move(from: MeetingStatus, m: MeetingMove) -> Result<MeetingStatus> {
    let to = match (from, m) {
        (MeetingStatus::Draft, MeetingMove::Call) => MeetingStatus::Scheduled,
        (MeetingStatus::Scheduled, MeetingMove::End) => MeetingStatus::Ended,
        (MeetingStatus::Draft | MeetingStatus::Scheduled, MeetingMove::Cancel) => {
            MeetingStatus::Cancelled
        }
        _ => {
            return Err(refused(
                409,
                "meeting_status",
                format!(
                    "Phiên họp đang ở trạng thái \u{201c}{}\u{201d}, không thực hiện được thao tác này",
                    from.label(true)
                ),
                format!(
                    "The meeting is {}; this cannot be done now",
                    from.label(false).to_lowercase()
                ),
            ));
        }
    };
    Ok(to)
}

/// A participant's role in a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    /// Chủ trì.
    Chair,
    /// Thành viên.
    Member,
    /// Thư ký, văn phòng.
    Secretariat,
    /// Khách mời.
    Guest,
}

impl ParticipantRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantRole::Chair => "chair",
            ParticipantRole::Member => "member",
            ParticipantRole::Secretariat => "secretariat",
            ParticipantRole::Guest => "guest",
        }
    }

    pub fn parse(s: &str) -> Option<ParticipantRole> {
        [
            ParticipantRole::Chair,
            ParticipantRole::Member,
            ParticipantRole::Secretariat,
            ParticipantRole::Guest,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (ParticipantRole::Chair, true) => "Chủ trì",
            (ParticipantRole::Chair, false) => "Chair",
            (ParticipantRole::Member, true) => "Thành viên",
            (ParticipantRole::Member, false) => "Member",
            (ParticipantRole::Secretariat, true) => "Thư ký",
            (ParticipantRole::Secretariat, false) => "Secretariat",
            (ParticipantRole::Guest, true) => "Khách mời",
            (ParticipantRole::Guest, false) => "Guest",
        }
    }

    /// Whether the role counts as a member's: everyone but guests.
    pub fn is_member(self) -> bool {
        !matches!(self, ParticipantRole::Guest)
    }
}

/// Who may read a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Every participant, guests too.
    Participants,
    /// Members, the chair and the secretariat; not guests.
    Members,
    /// Members only, each copy stamped with its reader's name, each opening in the audit
    /// chain. PDF only.
    Confidential,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Participants => "participants",
            Access::Members => "members",
            Access::Confidential => "confidential",
        }
    }

    pub fn parse(s: &str) -> Option<Access> {
        [Access::Participants, Access::Members, Access::Confidential]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (Access::Participants, true) => "Mọi người dự họp",
            (Access::Participants, false) => "All participants",
            (Access::Members, true) => "Chỉ thành viên",
            (Access::Members, false) => "Members only",
            (Access::Confidential, true) => "Mật",
            (Access::Confidential, false) => "Confidential",
        }
    }

    /// Whether someone in `role` reads a document with this access.
    pub fn readable_by(self, role: ParticipantRole) -> bool {
        match self {
            Access::Participants => true,
            Access::Members | Access::Confidential => role.is_member(),
        }
    }
}

/// A ballot's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BallotStatus {
    /// Being written; voters do not see it.
    Draft,
    /// Voting.
    Open,
    /// Voting over; the tally is made.
    Closed,
    /// The signed summary is issued and the ballot archived.
    Published,
}

impl BallotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BallotStatus::Draft => "draft",
            BallotStatus::Open => "open",
            BallotStatus::Closed => "closed",
            BallotStatus::Published => "published",
        }
    }

    pub fn parse(s: &str) -> Option<BallotStatus> {
        [
            BallotStatus::Draft,
            BallotStatus::Open,
            BallotStatus::Closed,
            BallotStatus::Published,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (BallotStatus::Draft, true) => "Dự thảo",
            (BallotStatus::Draft, false) => "Draft",
            (BallotStatus::Open, true) => "Đang lấy ý kiến",
            (BallotStatus::Open, false) => "Open for votes",
            (BallotStatus::Closed, true) => "Đã kết thúc",
            (BallotStatus::Closed, false) => "Closed",
            (BallotStatus::Published, true) => "Đã công bố kết quả",
            (BallotStatus::Published, false) => "Results published",
        }
    }
}

macro_rules! from_text {
    ($($t:ty),+) => {
        $(impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> std::result::Result<Self, String> {
                <$t>::parse(&s).ok_or_else(|| format!("unknown value {s}"))
            }
        })+
    };
}

from_text!(MeetingStatus, Access, BallotStatus, ParticipantRole);

/// A member's answer to one question.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Đồng ý.
    Agree,
    /// Không đồng ý.
    Disagree,
    /// Ý kiến khác, with its text.
    Other,
}

impl Choice {
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Agree => "agree",
            Choice::Disagree => "disagree",
            Choice::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Choice> {
        match s {
            "agree" => Some(Choice::Agree),
            "disagree" => Some(Choice::Disagree),
            "other" => Some(Choice::Other),
            _ => None,
        }
    }

    pub fn label(self, vi: bool) -> &'static str {
        match (self, vi) {
            (Choice::Agree, true) => "Đồng ý",
            (Choice::Agree, false) => "Agree",
            (Choice::Disagree, true) => "Không đồng ý",
            (Choice::Disagree, false) => "Disagree",
            (Choice::Other, true) => "Ý kiến khác",
            (Choice::Other, false) => "Other opinion",
        }
    }
}

/// One answer of a vote: the question's number (from 1), the choice, and the opinion (its
/// text for [`Choice::Other`]; an optional remark otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Answer {
    pub question: u32,
    pub choice: Choice,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub opinion: String,
}

/// Checks a vote's answers against a ballot of `questions` questions: each question answered
/// once, an opinion written for "other", none too long. Answers come back in question order,
/// opinions trimmed.
pub fn check_answers(questions: usize, answers: &[Answer]) -> Result<Vec<Answer>> {
    let mut by_q: BTreeMap<u32, Answer> = BTreeMap::new();
    let mut problems = Vec::new();
    for a in answers {
        let n = a.question as usize;
        if n == 0 || n > questions {
            problems.push(kernel::ProblemDetail::new(
                "answers",
                format!("Phiếu không có câu hỏi số {}", a.question),
                format!("The ballot has no question {}", a.question),
            ));
            continue;
        }
        let opinion = a.opinion.trim().to_string();
        if a.choice == Choice::Other && opinion.is_empty() {
            problems.push(kernel::ProblemDetail::new(
                format!("answers.{n}.opinion"),
                format!("Câu {n}: hãy ghi ý kiến khác"),
                format!("Question {n}: write the other opinion"),
            ));
        }
        if opinion.chars().count() > MAX_OPINION_CHARS {
            problems.push(kernel::ProblemDetail::new(
                format!("answers.{n}.opinion"),
                format!("Câu {n}: ý kiến dài quá {MAX_OPINION_CHARS} ký tự"),
                format!("Question {n}: the opinion is over {MAX_OPINION_CHARS} characters"),
            ));
        }
        if by_q
            .insert(
                a.question,
                Answer {
                    question: a.question,
                    choice: a.choice,
                    opinion,
                },
            )
            .is_some()
        {
            problems.push(kernel::ProblemDetail::new(
                "answers",
                format!("Câu {n} được trả lời hai lần"),
                format!("Question {n} is answered twice"),
            ));
        }
    }
    for n in 1..=questions {
        let n32 = u32::try_from(n).unwrap_or(u32::MAX);
        if !by_q.contains_key(&n32) {
            problems.push(kernel::ProblemDetail::new(
                format!("answers.{n}"),
                format!("Câu {n} chưa được trả lời"),
                format!("Question {n} is not answered"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(by_q.into_values().collect())
    } else {
        Err(CabinetError::Invalid(problems))
    }
}

/// What a ballot asks, as opened: the part of it a vote refers to by its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BallotText<'a> {
    pub id: &'a str,
    pub body: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub questions: &'a [String],
    pub deadline: DateTime<Utc>,
}

impl BallotText<'_> {
    /// SHA-256 (hex) of the ballot's canonical JSON.
    pub fn digest(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }
}

/// The kind every vote document names.
pub const VOTE_KIND: &str = "motcua.cabinet.vote/1";

/// A vote as signed: its bytes are the JSON of this structure in this field order, and the
/// detached CMS signature is over exactly those bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VoteDocument {
    /// Always [`VOTE_KIND`].
    pub kind: String,
    pub ballot: String,
    pub ballot_title: String,
    /// [`BallotText::digest`] of the ballot as opened.
    pub ballot_digest: String,
    pub body: String,
    pub voter_account: String,
    pub voter_login: String,
    pub voter_name: String,
    /// 1 for the first vote, then one more for each change.
    pub revision: u32,
    pub answers: Vec<Answer>,
    pub cast_at: DateTime<Utc>,
}

impl VoteDocument {
    /// The exact bytes that are signed and kept.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads kept bytes back; what does not read is a broken vote.
    pub fn from_bytes(b: &[u8]) -> Option<VoteDocument> {
        let d: VoteDocument = serde_json::from_slice(b).ok()?;
        (d.kind == VOTE_KIND && d.to_bytes() == b).then_some(d)
    }
}

/// One question's count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuestionTally {
    pub question: u32,
    pub text: String,
    pub agree: u32,
    pub disagree: u32,
    pub other: u32,
    /// Every opinion written, with its author's name: other opinions, and remarks with an
    /// agree or disagree.
    pub opinions: Vec<Opinion>,
}

/// An opinion with who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Opinion {
    pub name: String,
    pub choice: Choice,
    pub text: String,
}

/// A ballot's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tally {
    /// Members asked.
    pub voters: u32,
    /// Members who voted.
    pub voted: u32,
    /// Names of those who did not vote.
    pub not_voted: Vec<String>,
    pub questions: Vec<QuestionTally>,
}

/// Counts the latest vote of each voter. `voters` are (account id, name) of everyone asked;
/// `votes` the votes that verified (a voter's latest only); a vote from someone not asked is
/// not counted.
pub fn tally(questions: &[String], voters: &[(String, String)], votes: &[VoteDocument]) -> Tally {
    let mut t = Tally {
        voters: u32::try_from(voters.len()).unwrap_or(u32::MAX),
        questions: questions
            .iter()
            .enumerate()
            .map(|(i, q)| QuestionTally {
                question: u32::try_from(i + 1).unwrap_or(u32::MAX),
                text: q.clone(),
                ..QuestionTally::default()
            })
            .collect(),
        ..Tally::default()
    };
    for (account, name) in voters {
        let Some(v) = votes.iter().find(|v| &v.voter_account == account) else {
            t.not_voted.push(name.clone());
            continue;
        };
        t.voted += 1;
        for a in &v.answers {
            let Some(q) = t.questions.get_mut((a.question as usize).wrapping_sub(1)) else {
                continue;
            };
            match a.choice {
                Choice::Agree => q.agree += 1,
                Choice::Disagree => q.disagree += 1,
                Choice::Other => q.other += 1,
            }
            if !a.opinion.is_empty() {
                q.opinions.push(Opinion {
                    name: v.voter_name.clone(),
                    choice: a.choice,
                    text: a.opinion.clone(),
                });
            }
        }
    }
    t
}

/// A required one-line text: trimmed, not empty, not longer than `max` characters.
pub fn line(field: &str, value: &str, max: usize, what_vi: &str, what_en: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(
            field,
            format!("Hãy nhập {what_vi}"),
            format!("Enter the {what_en}"),
        ));
    }
    if v.chars().count() > max || v.contains(['\n', '\r']) {
        return Err(invalid(
            field,
            format!("{what_vi} phải trên một dòng, không quá {max} ký tự"),
            format!("The {what_en} must be one line of at most {max} characters"),
        ));
    }
    Ok(v.to_string())
}

/// An optional longer text: trimmed, not longer than `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(invalid(
            field,
            format!("Nội dung dài quá {max} ký tự"),
            format!("The text is over {max} characters"),
        ));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(q: u32, c: Choice, o: &str) -> Answer {
        Answer {
            question: q,
            choice: c,
            opinion: o.into(),
        }
    }

    fn doc(account: &str, name: &str, answers: Vec<Answer>) -> VoteDocument {
        VoteDocument {
            kind: VOTE_KIND.into(),
            ballot: "b1".into(),
            ballot_title: "Dự thảo".into(),
            ballot_digest: "00".into(),
            body: "000.00.00.H26".into(),
            voter_account: account.into(),
            voter_login: account.into(),
            voter_name: name.into(),
            revision: 1,
            answers,
            cast_at: DateTime::<Utc>::from_timestamp(1_772_416_800, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn answers_must_cover_every_question_once_with_text_for_other() {
        let ok = check_answers(
            2,
            &[
                a(2, Choice::Other, "  sửa điều 3 "),
                a(1, Choice::Agree, ""),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok[0].question, 1);
        assert_eq!(ok[1].opinion, "sửa điều 3");
        for bad in [
            vec![a(1, Choice::Agree, "")],
            vec![
                a(1, Choice::Agree, ""),
                a(1, Choice::Disagree, ""),
                a(2, Choice::Agree, ""),
            ],
            vec![a(1, Choice::Agree, ""), a(2, Choice::Other, "   ")],
            vec![
                a(1, Choice::Agree, ""),
                a(2, Choice::Agree, ""),
                a(3, Choice::Agree, ""),
            ],
            vec![
                a(0, Choice::Agree, ""),
                a(1, Choice::Agree, ""),
                a(2, Choice::Agree, ""),
            ],
            vec![
                a(1, Choice::Agree, &"x".repeat(MAX_OPINION_CHARS + 1)),
                a(2, Choice::Agree, ""),
            ],
        ] {
            assert!(check_answers(2, &bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_tally_counts_each_voter_once_and_names_who_did_not_vote() {
        let questions = vec!["Q1".to_string(), "Q2".to_string()];
        let voters = vec![
            ("a".to_string(), "An".to_string()),
            ("b".to_string(), "Bình".to_string()),
            ("c".to_string(), "Chi".to_string()),
        ];
        let votes = vec![
            doc(
                "a",
                "An",
                vec![a(1, Choice::Agree, ""), a(2, Choice::Other, "hoãn")],
            ),
            doc(
                "b",
                "Bình",
                vec![a(1, Choice::Disagree, "trái luật"), a(2, Choice::Agree, "")],
            ),
            doc(
                "x",
                "Người lạ",
                vec![a(1, Choice::Disagree, ""), a(2, Choice::Disagree, "")],
            ),
        ];
        let t = tally(&questions, &voters, &votes);
        assert_eq!((t.voters, t.voted), (3, 2));
        assert_eq!(t.not_voted, vec!["Chi".to_string()]);
        assert_eq!(
            (
                t.questions[0].agree,
                t.questions[0].disagree,
                t.questions[0].other
            ),
            (1, 1, 0)
        );
        assert_eq!(
            (
                t.questions[1].agree,
                t.questions[1].disagree,
                t.questions[1].other
            ),
            (1, 0, 1)
        );
        assert_eq!(t.questions[1].opinions[0].text, "hoãn");
        assert_eq!(t.questions[0].opinions[0].name, "Bình");
    }

    #[test]
    fn moves_follow_the_lifecycle() {
        assert_eq!(
            meeting_move(MeetingStatus::Draft, MeetingMove::Call).ok(),
            Some(MeetingStatus::Scheduled)
        );
        assert!(meeting_move(MeetingStatus::Draft, MeetingMove::End).is_err());
        assert!(meeting_move(MeetingStatus::Ended, MeetingMove::Cancel).is_err());
        assert!(meeting_move(MeetingStatus::Concluded, MeetingMove::Call).is_err());
    }

    #[test]
    fn guests_read_only_what_is_for_every_participant() {
        assert!(Access::Participants.readable_by(ParticipantRole::Guest));
        assert!(!Access::Members.readable_by(ParticipantRole::Guest));
        assert!(!Access::Confidential.readable_by(ParticipantRole::Guest));
        assert!(Access::Confidential.readable_by(ParticipantRole::Member));
        assert!(Access::Members.readable_by(ParticipantRole::Secretariat));
    }

    #[test]
    fn a_ballot_digest_changes_with_any_word() {
        let q = vec!["Đồng ý thông qua?".to_string()];
        let t = BallotText {
            id: "b1",
            body: "H26",
            title: "Dự thảo",
            description: "",
            questions: &q,
            deadline: DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default(),
        };
        let q2 = vec!["Đồng ý thông qua!".to_string()];
        let t2 = BallotText {
            questions: &q2,
            ..t.clone()
        };
        assert_eq!(t.digest().len(), 64);
        assert_ne!(t.digest(), t2.digest());
    }

    proptest! {
        #[test]
        fn vote_documents_read_back_exactly(name in "\\PC{0,40}", opinion in "\\PC{0,80}", rev in 1u32..100) {
            let mut d = doc("acc", &name, vec![a(1, Choice::Other, &opinion)]);
            d.revision = rev;
            let bytes = d.to_bytes();
            prop_assert_eq!(VoteDocument::from_bytes(&bytes), Some(d));
        }

        #[test]
        fn altered_vote_bytes_do_not_read_as_the_same_vote(i in 0usize..400, b in any::<u8>()) {
            let d = doc("acc", "An", vec![a(1, Choice::Agree, "")]);
            let mut bytes = d.to_bytes();
            let i = i % bytes.len();
            prop_assume!(bytes[i] != b);
            bytes[i] = b;
            prop_assert_ne!(VoteDocument::from_bytes(&bytes), Some(d));
        }
    }
}
