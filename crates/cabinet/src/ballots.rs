//! Opinion ballots (phiếu lấy ý kiến): a draft with its questions and papers, opened to the
//! body's members with a deadline; each member's vote signed with their key and changeable
//! until the deadline; secret until the close when the secretariat says so; reminders; the
//! close, which checks every signature and counts; the summary signed by the secretariat;
//! the archive.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use identity::Principal;
use kernel::audit::{self, Entry, Tx};
use kernel::blob::BlobId;
use kernel::{on_db, on_tx};

use crate::error::{invalid, refused};
use crate::keys::Check;
use crate::meetings::{DocumentLine, NewDocument};
use crate::rules::{
    self, Answer, BallotStatus, BallotText, Choice, MAX_QUESTIONS, MAX_TEXT_CHARS, MAX_TITLE_CHARS,
    ParticipantRole, Tally, VOTE_KIND, VoteDocument,
};
use crate::{Cabinet, CabinetError, Result, actor_of, new_id};

/// Hours before the deadline at which members who have not voted are reminded.
pub const REMIND_HOURS: [i64; 2] = [24, 2];

/// A ballot as the secretariat writes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct BallotSpec {
    /// The agency whose members vote (its code).
    pub body: String,
    pub title: String,
    /// What is asked and why: the draft's summary.
    #[serde(default)]
    pub description: String,
    /// The questions, in order; each is answered agree, disagree or with another opinion.
    pub questions: Vec<String>,
    pub deadline: DateTime<Utc>,
    /// Whether how each member voted stays hidden from everyone until the close.
    #[serde(default)]
    pub secret: bool,
    /// The meeting it follows up, if any.
    #[serde(default)]
    pub meeting_id: Option<String>,
}

/// A ballot.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Ballot {
    pub id: String,
    pub body: String,
    #[sqlx(skip)]
    pub body_name: String,
    pub meeting_id: Option<String>,
    pub title: String,
    pub description: String,
    #[sqlx(try_from = "String")]
    pub status: BallotStatus,
    pub secret: bool,
    pub deadline: DateTime<Utc>,
    /// SHA-256 of the ballot as opened; every vote names it.
    pub digest: Option<String>,
    /// The signed summary, once published (a document of the ballot).
    pub summary_document: Option<String>,
    pub created_at: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    #[sqlx(skip)]
    pub questions: Vec<String>,
}

/// A voter and whether they voted (how, only when it may be seen).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VoterLine {
    pub account_id: String,
    pub login: String,
    pub name: String,
    /// The latest revision cast, if any.
    pub revision: Option<i64>,
    pub voted_at: Option<DateTime<Utc>>,
}

/// A vote as kept: its document, as signed, and the signature.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignedVote {
    pub document: VoteDocument,
    /// The exact signed bytes (UTF-8 JSON).
    pub document_text: String,
    /// The detached CMS signature (DER), base64.
    pub signature: String,
    pub certificate_serial: String,
}

/// A ballot as one viewer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BallotView {
    pub ballot: Ballot,
    /// Whether the viewer votes on it.
    pub votes: bool,
    /// Whether the viewer prepares it.
    pub runs: bool,
    pub documents: Vec<DocumentLine>,
    /// The viewer's latest vote.
    pub my_vote: Option<SignedVote>,
    /// Who voted (secretariat; and everyone once closed).
    pub voters: Vec<VoterLine>,
    /// The count: once closed; before, for the secretariat of a ballot that is not secret.
    pub tally: Option<Tally>,
}

/// A line of the list of ballots.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BallotLine {
    pub ballot: Ballot,
    pub votes: bool,
    pub voted: bool,
}

/// One vote's check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VoteCheck {
    pub account_id: String,
    pub name: String,
    pub revision: i64,
    pub valid: bool,
    pub problem_vi: Option<String>,
    pub problem_en: Option<String>,
}

/// Everything needed to check a ballot outside motcua.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Archive {
    pub ballot: Ballot,
    pub tally: Option<Tally>,
    /// Every voter's latest vote.
    pub votes: Vec<SignedVote>,
    /// The e-Cabinet authority's certificate, PEM.
    pub authority_pem: String,
    /// The summary PDF's SHA-256 and its signature by the secretariat (DER, base64).
    pub summary_sha256: Option<String>,
    pub summary_signature: Option<String>,
}

#[derive(sqlx::FromRow)]
struct VoteRow {
    account_id: String,
    revision: i64,
    document: String,
    signature: Vec<u8>,
    certificate_serial: String,
    cast_at: DateTime<Utc>,
}

const BALLOT_COLUMNS: &str = "id, body, meeting_id, title, description, status, secret, deadline, digest, summary_document, created_at, opened_at, closed_at, published_at";

/// A sheet as a PDF.
pub(crate) fn render_sheet(sheet: dossier::slips::Sheet) -> Result<Vec<u8>> {
    dossier::slips::render(&sheet).map_err(|e| CabinetError::Signing(format!("PDF: {e}")))
}

impl Cabinet {
    pub(crate) async fn ballot_row(&self, id: &str) -> Result<Ballot> {
        let row: Option<Ballot> = on_db!(&self.db, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {BALLOT_COLUMNS} FROM cabinet_ballots WHERE id = $1"
        ))).bind(id).fetch_optional(c).await)?;
        let mut b =
            row.ok_or_else(|| CabinetError::NotFound(format!("phiếu lấy ý kiến/ballot {id}")))?;
        b.body_name = self.agency_name(&b.body);
        b.questions = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT text FROM cabinet_questions WHERE ballot_id = $1 ORDER BY position"
        ).bind(id).fetch_all(c).await)?;
        Ok(b)
    }

    async fn is_voter(&self, ballot: &str, account: &str) -> Result<bool> {
        let n: Option<String> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT account_id FROM cabinet_voters WHERE ballot_id = $1 AND account_id = $2"
        ).bind(ballot).bind(account).fetch_optional(c).await)?;
        Ok(n.is_some())
    }

    /// The viewer's role in a ballot: the body's secretariat always; a voter once it is open.
    pub(crate) async fn role_in_ballot(
        &self,
        p: &Principal,
        b: &Ballot,
    ) -> Result<ParticipantRole> {
        self.allow_attend(p)?;
        if self.may_run(p, &b.body) {
            return Ok(ParticipantRole::Secretariat);
        }
        if b.status != BallotStatus::Draft && self.is_voter(&b.id, &p.id).await? {
            return Ok(ParticipantRole::Member);
        }
        self.identity
            .record_denial(
                &p.id,
                identity::Action::AttendCabinet,
                &identity::Resource::Agency(&b.body),
            )
            .await?;
        Err(CabinetError::Forbidden)
    }

    fn check_ballot_spec(&self, s: &BallotSpec) -> Result<BallotSpec> {
        if !self.is_agency(&s.body) {
            return Err(invalid(
                "body",
                format!("Không có cơ quan mã {}", s.body),
                format!("There is no agency {}", s.body),
            ));
        }
        let title = rules::line(
            "title",
            &s.title,
            MAX_TITLE_CHARS,
            "tên phiếu",
            "ballot's title",
        )?;
        let description = rules::text("description", &s.description, MAX_TEXT_CHARS)?;
        let questions: Vec<String> = s
            .questions
            .iter()
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty())
            .collect();
        if questions.is_empty() || questions.len() > MAX_QUESTIONS {
            return Err(invalid(
                "questions",
                format!("Phiếu cần từ 1 đến {MAX_QUESTIONS} câu hỏi"),
                format!("A ballot needs 1 to {MAX_QUESTIONS} questions"),
            ));
        }
        for (i, q) in questions.iter().enumerate() {
            if q.chars().count() > MAX_TEXT_CHARS {
                return Err(invalid(
                    &format!("questions.{}", i + 1),
                    format!("Câu hỏi {} dài quá {MAX_TEXT_CHARS} ký tự", i + 1),
                    format!("Question {} is over {MAX_TEXT_CHARS} characters", i + 1),
                ));
            }
        }
        if s.deadline <= self.now() {
            return Err(invalid(
                "deadline",
                "Hạn trả lời phải ở sau thời điểm hiện tại",
                "The deadline must be in the future",
            ));
        }
        Ok(BallotSpec {
            body: s.body.clone(),
            title,
            description,
            questions,
            deadline: s.deadline,
            secret: s.secret,
            meeting_id: s.meeting_id.clone().filter(|m| !m.trim().is_empty()),
        })
    }

    /// Writes a draft ballot (the body's secretariat).
    pub async fn create_ballot(&self, p: &Principal, spec: &BallotSpec) -> Result<Ballot> {
        self.allow_run(p, &spec.body).await?;
        let s = self.check_ballot_spec(spec)?;
        if let Some(m) = &s.meeting_id {
            let meeting = self.meeting_row(m).await?;
            if meeting.body != s.body {
                return Err(invalid(
                    "meeting_id",
                    "Phiên họp thuộc cơ quan khác",
                    "The meeting belongs to another agency",
                ));
            }
        }
        let id = new_id("PL");
        let now = self.now();
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO cabinet_ballots (id, body, meeting_id, title, description, status, secret, deadline, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'draft', $6, $7, $8, $9)"
        ).bind(&id).bind(&s.body).bind(&s.meeting_id).bind(&s.title).bind(&s.description).bind(s.secret)
        .bind(s.deadline).bind(&p.id).bind(now).execute(&mut *c).await.map(|_| ()))?;
        write_questions(&mut tx, &id, &s.questions).await?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.ballot.create",
                subject: &format!("cabinet/ballot/{id}"),
                data: json!({"body": s.body, "title": s.title, "questions": s.questions.len(), "deadline": s.deadline, "secret": s.secret}),
            },
        )
        .await?;
        tx.commit().await?;
        self.ballot_row(&id).await
    }

    /// Rewrites a draft ballot (the secretariat).
    pub async fn edit_ballot(&self, p: &Principal, id: &str, spec: &BallotSpec) -> Result<Ballot> {
        let b = self.ballot_row(id).await?;
        self.allow_run(p, &b.body).await?;
        let s = self.check_ballot_spec(&BallotSpec {
            body: b.body.clone(),
            ..spec.clone()
        })?;
        if b.status != BallotStatus::Draft {
            return Err(status_refusal(&b));
        }
        let now = self.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "UPDATE cabinet_ballots SET title = $1, description = $2, secret = $3, deadline = $4 WHERE id = $5 AND status = 'draft'"
        ).bind(&s.title).bind(&s.description).bind(s.secret).bind(s.deadline).bind(id)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(changed());
        }
        on_tx!(&mut tx, c => sqlx::query("DELETE FROM cabinet_questions WHERE ballot_id = $1")
            .bind(id).execute(&mut *c).await.map(|_| ()))?;
        write_questions(&mut tx, id, &s.questions).await?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.ballot.edit",
                subject: &format!("cabinet/ballot/{id}"),
                data: json!({"title": s.title, "questions": s.questions.len(), "deadline": s.deadline, "secret": s.secret}),
            },
        )
        .await?;
        tx.commit().await?;
        self.ballot_row(id).await
    }

    /// Adds a paper to a draft ballot (the secretariat).
    pub async fn add_ballot_document(
        &self,
        p: &Principal,
        id: &str,
        d: &NewDocument,
    ) -> Result<DocumentLine> {
        let b = self.ballot_row(id).await?;
        self.allow_run(p, &b.body).await?;
        if b.status != BallotStatus::Draft {
            return Err(status_refusal(&b));
        }
        let d = NewDocument {
            item_position: None,
            ..d.clone()
        };
        self.insert_document(p, None, Some(id), &d, "upload").await
    }

    /// Opens a draft ballot to the body's members (the secretariat): the list of voters is
    /// fixed, the ballot's digest taken, every voter told.
    pub async fn open_ballot(&self, p: &Principal, id: &str) -> Result<Ballot> {
        let b = self.ballot_row(id).await?;
        self.allow_run(p, &b.body).await?;
        if b.status != BallotStatus::Draft {
            return Err(status_refusal(&b));
        }
        let now = self.now();
        if b.deadline <= now {
            return Err(invalid(
                "deadline",
                "Hạn trả lời đã qua; hãy sửa hạn trước khi gửi phiếu",
                "The deadline has passed; change it before opening the ballot",
            ));
        }
        let members = self.members(&b.body).await?;
        if members.is_empty() {
            return Err(refused(
                422,
                "no_members",
                "Cơ quan chưa có thành viên nào để lấy ý kiến",
                "The agency has no members to ask",
            ));
        }
        let digest = BallotText {
            id: &b.id,
            body: &b.body,
            title: &b.title,
            description: &b.description,
            questions: &b.questions,
            deadline: b.deadline,
        }
        .digest();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "UPDATE cabinet_ballots SET status = 'open', digest = $1, opened_at = $2 WHERE id = $3 AND status = 'draft'"
        ).bind(&digest).bind(now).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(changed());
        }
        let voters: Vec<String> = members.iter().map(|m| m.account_id.clone()).collect();
        for v in &voters {
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO cabinet_voters (ballot_id, account_id) VALUES ($1, $2)"
            ).bind(id).bind(v).execute(&mut *c).await.map(|_| ()))?;
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.ballot.open",
                subject: &format!("cabinet/ballot/{id}"),
                data: json!({"digest": digest, "voters": voters}),
            },
        )
        .await?;
        let due = kernel::clock::to_local(b.deadline).format("%H:%M %d/%m/%Y");
        self.tell(
            &mut tx,
            &voters,
            &format!("Phiếu lấy ý kiến: {}", b.title),
            &format!(
                "Đề nghị đồng chí cho ý kiến về \u{201c}{}\u{201d} trước {due}: {}/noi-cac/phieu/{id}\n\n\
                 Your opinion on \u{201c}{}\u{201d} is asked before {due}: {}/noi-cac/phieu/{id}",
                b.title, self.public_url, b.title, self.public_url
            ),
        )
        .await?;
        tx.commit().await?;
        self.wake();
        self.ballot_row(id).await
    }

    /// Casts or changes `p`'s vote: checked against the questions, signed with `p`'s key,
    /// kept with every earlier revision. Only voters, only while open and before the deadline.
    pub async fn vote(&self, p: &Principal, id: &str, answers: &[Answer]) -> Result<SignedVote> {
        let b = self.ballot_row(id).await?;
        let role = self.role_in_ballot(p, &b).await?;
        if role != ParticipantRole::Member && !self.is_voter(id, &p.id).await? {
            return Err(refused(
                403,
                "not_a_voter",
                "Đồng chí không có tên trong danh sách lấy ý kiến của phiếu này",
                "You are not among the members asked on this ballot",
            ));
        }
        let now = self.now();
        if b.status != BallotStatus::Open {
            return Err(status_refusal(&b));
        }
        if now >= b.deadline {
            return Err(refused(
                409,
                "ballot_deadline_passed",
                "Đã hết hạn trả lời phiếu lấy ý kiến",
                "The ballot's deadline has passed",
            ));
        }
        let answers = rules::check_answers(b.questions.len(), answers)?;
        let last: Option<i64> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT MAX(revision) FROM cabinet_votes WHERE ballot_id = $1 AND account_id = $2"
        ).bind(id).bind(&p.id).fetch_one(c).await)?;
        let revision = last.unwrap_or(0) + 1;
        let doc = VoteDocument {
            kind: VOTE_KIND.into(),
            ballot: b.id.clone(),
            ballot_title: b.title.clone(),
            ballot_digest: b.digest.clone().unwrap_or_default(),
            body: b.body.clone(),
            voter_account: p.id.clone(),
            voter_login: p.login.clone(),
            voter_name: p.full_name.clone(),
            revision: u32::try_from(revision).unwrap_or(u32::MAX),
            answers,
            cast_at: now,
        };
        let bytes = doc.to_bytes();
        let (signature, serial) = self.sign_as(p, &bytes).await?;
        let mut tx = Tx::begin(&self.db).await?;
        // The unique (ballot, account, revision) refuses a second vote racing this one.
        let stored = on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO cabinet_votes (id, ballot_id, account_id, revision, document, signature, certificate_serial, cast_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ).bind(new_id("YK")).bind(id).bind(&p.id).bind(revision).bind(String::from_utf8_lossy(&bytes).as_ref())
        .bind(&signature).bind(&serial).bind(now).execute(&mut *c).await.map(|_| ()));
        if stored.is_err() {
            return Err(changed());
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.vote",
                subject: &format!("cabinet/ballot/{id}"),
                // Not the answers: a secret ballot's votes stay secret in the chain too.
                data: json!({"revision": revision, "document_sha256": hex::encode(Sha256::digest(&bytes)),
                    "signature_sha256": BlobId::of(&signature).as_str(), "certificate": serial}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(SignedVote {
            document: doc,
            document_text: String::from_utf8_lossy(&bytes).into_owned(),
            signature: base64::engine::general_purpose::STANDARD.encode(&signature),
            certificate_serial: serial,
        })
    }

    async fn latest_votes(&self, id: &str) -> Result<Vec<VoteRow>> {
        let rows: Vec<VoteRow> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT v.account_id, v.revision, v.document, v.signature, v.certificate_serial, v.cast_at FROM cabinet_votes v \
             WHERE v.ballot_id = $1 AND v.revision = (SELECT MAX(w.revision) FROM cabinet_votes w WHERE w.ballot_id = v.ballot_id AND w.account_id = v.account_id) \
             ORDER BY v.account_id"
        ).bind(id).fetch_all(c).await)?;
        Ok(rows)
    }

    async fn voter_ids(&self, id: &str) -> Result<Vec<String>> {
        Ok(on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT account_id FROM cabinet_voters WHERE ballot_id = $1 ORDER BY account_id"
        ).bind(id).fetch_all(c).await)?)
    }

    fn signed(r: &VoteRow) -> Option<SignedVote> {
        Some(SignedVote {
            document: VoteDocument::from_bytes(r.document.as_bytes())?,
            document_text: r.document.clone(),
            signature: base64::engine::general_purpose::STANDARD.encode(&r.signature),
            certificate_serial: r.certificate_serial.clone(),
        })
    }

    /// A ballot as `p` sees it.
    pub async fn ballot(&self, p: &Principal, id: &str) -> Result<BallotView> {
        let b = self.ballot_row(id).await?;
        let role = self.role_in_ballot(p, &b).await?;
        let runs = self.may_run(p, &b.body);
        let votes = b.status != BallotStatus::Draft && self.is_voter(id, &p.id).await?;
        let documents = self.documents_of("ballot_id", id, p, role).await?;
        let latest = self.latest_votes(id).await?;
        let my_vote = latest
            .iter()
            .find(|r| r.account_id == p.id)
            .and_then(Cabinet::signed);
        let closed = matches!(b.status, BallotStatus::Closed | BallotStatus::Published);
        let voters = if runs || closed {
            let mut out = Vec::new();
            for v in self.voter_ids(id).await? {
                let (login, name) = self.login_and_name(&v).await;
                let last = latest.iter().find(|r| r.account_id == v);
                out.push(VoterLine {
                    account_id: v,
                    login,
                    name,
                    revision: last.map(|r| r.revision),
                    voted_at: last.map(|r| r.cast_at),
                });
            }
            out
        } else {
            Vec::new()
        };
        let tally = if closed {
            self.stored_tally(id).await?
        } else if runs && !b.secret && b.status == BallotStatus::Open {
            Some(self.count(&b, &latest).await?.0)
        } else {
            None
        };
        Ok(BallotView {
            ballot: b,
            votes,
            runs,
            documents,
            my_vote,
            voters,
            tally,
        })
    }

    async fn stored_tally(&self, id: &str) -> Result<Option<Tally>> {
        let t: Option<Option<String>> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT tally FROM cabinet_ballots WHERE id = $1"
        ).bind(id).fetch_optional(c).await)?;
        Ok(t.flatten().and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Checks the latest vote of each voter, then counts those that hold.
    async fn count(&self, b: &Ballot, latest: &[VoteRow]) -> Result<(Tally, Vec<VoteCheck>)> {
        let mut checks = Vec::new();
        let mut good = Vec::new();
        let mut voters = Vec::new();
        for v in self.voter_ids(&b.id).await? {
            let name = self.login_and_name(&v).await.1;
            voters.push((v, name));
        }
        for r in latest {
            let name = voters
                .iter()
                .find(|v| v.0 == r.account_id)
                .map(|v| v.1.clone())
                .unwrap_or_else(|| r.account_id.clone());
            let check = self.check_vote(b, r).await?;
            checks.push(VoteCheck {
                account_id: r.account_id.clone(),
                name,
                revision: r.revision,
                valid: check.is_valid(),
                problem_vi: check.problem().map(|x| x.0),
                problem_en: check.problem().map(|x| x.1),
            });
            if check.is_valid()
                && let Some(d) = VoteDocument::from_bytes(r.document.as_bytes())
            {
                good.push(d);
            }
        }
        Ok((rules::tally(&b.questions, &voters, &good), checks))
    }

    /// One vote's check: the document reads as a vote of this ballot, this voter and this
    /// revision, against the ballot as opened; the signature is the voter's own.
    async fn check_vote(&self, b: &Ballot, r: &VoteRow) -> Result<Check> {
        let Some(d) = VoteDocument::from_bytes(r.document.as_bytes()) else {
            return Ok(Check::BadSignature("the vote does not read".into()));
        };
        if d.ballot != b.id
            || d.voter_account != r.account_id
            || i64::from(d.revision) != r.revision
            || Some(&d.ballot_digest) != b.digest.as_ref()
        {
            return Ok(Check::WrongSigner(
                "the vote names another ballot, voter or revision".into(),
            ));
        }
        if rules::check_answers(b.questions.len(), &d.answers).is_err() {
            return Ok(Check::BadSignature(
                "the answers do not fit the questions".into(),
            ));
        }
        self.check_signature(
            &r.account_id,
            &r.certificate_serial,
            r.document.as_bytes(),
            &r.signature,
        )
        .await
    }

    /// Checks every voter's latest vote (the secretariat, at any time: it tells whether
    /// each vote holds, never how anyone voted).
    pub async fn verify_ballot(&self, p: &Principal, id: &str) -> Result<Vec<VoteCheck>> {
        let b = self.ballot_row(id).await?;
        self.allow_run(p, &b.body).await?;
        let latest = self.latest_votes(id).await?;
        Ok(self.count(&b, &latest).await?.1)
    }

    /// Closes a ballot (the secretariat): after its deadline, or before once every voter has
    /// voted. Every vote is checked first; a vote that does not hold stops the close.
    pub async fn close_ballot(&self, p: &Principal, id: &str) -> Result<Ballot> {
        let b = self.ballot_row(id).await?;
        self.allow_run(p, &b.body).await?;
        if b.status != BallotStatus::Open {
            return Err(status_refusal(&b));
        }
        let now = self.now();
        let latest = self.latest_votes(id).await?;
        let voters = self.voter_ids(id).await?;
        let all_voted = voters
            .iter()
            .all(|v| latest.iter().any(|r| &r.account_id == v));
        if now < b.deadline && !all_voted {
            return Err(refused(
                409,
                "ballot_not_due",
                "Chưa đến hạn và còn thành viên chưa cho ý kiến",
                "The deadline has not come and some members have not voted",
            ));
        }
        let (tally, checks) = self.count(&b, &latest).await?;
        if let Some(bad) = checks.iter().find(|c| !c.valid) {
            return Err(refused(
                409,
                "vote_tampered",
                format!(
                    "Phiếu của {} (lần {}) không còn nguyên vẹn: {}",
                    bad.name,
                    bad.revision,
                    bad.problem_vi.clone().unwrap_or_default()
                ),
                format!(
                    "The vote of {} (revision {}) is not intact: {}",
                    bad.name,
                    bad.revision,
                    bad.problem_en.clone().unwrap_or_default()
                ),
            ));
        }
        let tally_json = serde_json::to_string(&tally).unwrap_or_default();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "UPDATE cabinet_ballots SET status = 'closed', closed_at = $1, tally = $2 WHERE id = $3 AND status = 'open'"
        ).bind(now).bind(&tally_json).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(changed());
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.ballot.close",
                subject: &format!("cabinet/ballot/{id}"),
                data: json!({"tally_sha256": hex::encode(Sha256::digest(tally_json.as_bytes())), "voted": tally.voted, "voters": tally.voters}),
            },
        )
        .await?;
        tx.commit().await?;
        self.ballot_row(id).await
    }

    /// Publishes a closed ballot (the secretariat): the summary PDF (the questions, the
    /// counts, every opinion with its author, who did not vote) signed with the secretary's
    /// key, added to the ballot's papers; every voter is told.
    pub async fn publish_ballot(&self, p: &Principal, id: &str) -> Result<Ballot> {
        let b = self.ballot_row(id).await?;
        self.allow_run(p, &b.body).await?;
        if b.status != BallotStatus::Closed {
            return Err(status_refusal(&b));
        }
        let tally = self
            .stored_tally(id)
            .await?
            .ok_or_else(|| CabinetError::Signing("the tally is missing".into()))?;
        let now = self.now();
        let pdf = render_sheet(summary_sheet(&b, &tally, &p.full_name, now))?;
        let (signature, serial) = self.sign_as(p, &pdf).await?;
        let doc = NewDocument {
            title: format!("Tổng hợp ý kiến: {}", b.title)
                .chars()
                .take(MAX_TITLE_CHARS)
                .collect(),
            access: rules::Access::Participants,
            item_position: None,
            file_name: "tong-hop-y-kien.pdf".into(),
            bytes: pdf,
        };
        let line = self
            .insert_document(p, None, Some(id), &doc, "summary")
            .await?;
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "UPDATE cabinet_ballots SET status = 'published', published_at = $1, summary_document = $2, summary_signature = $3 WHERE id = $4 AND status = 'closed'"
        ).bind(now).bind(&line.id).bind(&signature).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(changed());
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.ballot.publish",
                subject: &format!("cabinet/ballot/{id}"),
                data: json!({"document": line.id, "sha256": line.sha256, "certificate": serial,
                    "signature_sha256": BlobId::of(&signature).as_str()}),
            },
        )
        .await?;
        let voters = self.voter_ids(id).await?;
        self.tell(
            &mut tx,
            &voters,
            &format!("Kết quả lấy ý kiến: {}", b.title),
            &format!(
                "Kết quả lấy ý kiến về \u{201c}{}\u{201d} đã được công bố: {}/noi-cac/phieu/{id}\n\n\
                 The result of the ballot \u{201c}{}\u{201d} is published: {}/noi-cac/phieu/{id}",
                b.title, self.public_url, b.title, self.public_url
            ),
        )
        .await?;
        tx.commit().await?;
        self.wake();
        self.ballot_row(id).await
    }

    /// A vote's signed document and signature: the voter's own at any time; anyone's, for
    /// those who see the ballot, once it is closed.
    pub async fn vote_files(
        &self,
        p: &Principal,
        id: &str,
        login: &str,
    ) -> Result<(String, Vec<u8>)> {
        let b = self.ballot_row(id).await?;
        self.role_in_ballot(p, &b).await?;
        let closed = matches!(b.status, BallotStatus::Closed | BallotStatus::Published);
        let who = if login == p.login {
            p.id.clone()
        } else if closed {
            self.identity
                .principal_by_login(login)
                .await?
                .map(|x| x.id)
                .ok_or_else(|| CabinetError::NotFound(format!("phiếu của/vote of {login}")))?
        } else {
            return Err(refused(
                403,
                "votes_secret",
                "Ý kiến của từng thành viên chỉ được xem sau khi kết thúc lấy ý kiến",
                "Each member's vote may be seen only once the ballot is closed",
            ));
        };
        let r = self
            .latest_votes(id)
            .await?
            .into_iter()
            .find(|r| r.account_id == who)
            .ok_or_else(|| CabinetError::NotFound(format!("phiếu của/vote of {login}")))?;
        Ok((r.document, r.signature))
    }

    /// The ballots `p` votes on or prepares: open ones first, then the rest, newest first.
    pub async fn my_ballots(&self, p: &Principal) -> Result<Vec<BallotLine>> {
        self.allow_attend(p)?;
        let mut ids: Vec<String> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT b.id FROM cabinet_ballots b JOIN cabinet_voters v ON v.ballot_id = b.id WHERE v.account_id = $1 \
             ORDER BY b.deadline DESC LIMIT 200"
        ).bind(&p.id).fetch_all(c).await)?;
        for body in self.bodies_run_by(p) {
            let more: Vec<String> = on_db!(&self.db, c => sqlx::query_scalar(
                "SELECT id FROM cabinet_ballots WHERE body = $1 ORDER BY created_at DESC LIMIT 200"
            ).bind(&body).fetch_all(c).await)?;
            for id in more {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let b = self.ballot_row(&id).await?;
            let votes = b.status != BallotStatus::Draft && self.is_voter(&id, &p.id).await?;
            let voted: Option<i64> = on_db!(&self.db, c => sqlx::query_scalar(
                "SELECT MAX(revision) FROM cabinet_votes WHERE ballot_id = $1 AND account_id = $2"
            ).bind(&id).bind(&p.id).fetch_one(c).await)?;
            out.push(BallotLine {
                ballot: b,
                votes,
                voted: voted.is_some(),
            });
        }
        out.sort_by_key(|l| {
            (
                l.ballot.status != BallotStatus::Open,
                std::cmp::Reverse(l.ballot.deadline),
            )
        });
        Ok(out)
    }

    /// Reminds the voters who have not voted on an open ballot (the secretariat); answers how
    /// many were written to.
    pub async fn remind(&self, p: &Principal, id: &str) -> Result<usize> {
        let b = self.ballot_row(id).await?;
        self.allow_run(p, &b.body).await?;
        if b.status != BallotStatus::Open {
            return Err(status_refusal(&b));
        }
        let kind = format!("manual-{}", self.now().timestamp());
        self.remind_kind(&b, &kind, &actor_of(p)).await
    }

    async fn remind_kind(&self, b: &Ballot, kind: &str, actor: &str) -> Result<usize> {
        let now = self.now();
        let latest = self.latest_votes(&b.id).await?;
        let waiting: Vec<String> = self
            .voter_ids(&b.id)
            .await?
            .into_iter()
            .filter(|v| !latest.iter().any(|r| &r.account_id == v))
            .collect();
        let mut tx = Tx::begin(&self.db).await?;
        let mut fresh = Vec::new();
        for v in &waiting {
            let n = on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO cabinet_reminders (ballot_id, account_id, kind, sent_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (ballot_id, account_id, kind) DO NOTHING"
            ).bind(&b.id).bind(v).bind(kind).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
            if n > 0 {
                fresh.push(v.clone());
            }
        }
        if fresh.is_empty() {
            return Ok(0);
        }
        let due = kernel::clock::to_local(b.deadline).format("%H:%M %d/%m/%Y");
        let sent = self
            .tell(
                &mut tx,
                &fresh,
                &format!("Nhắc cho ý kiến: {}", b.title),
                &format!(
                    "Đồng chí chưa cho ý kiến về \u{201c}{}\u{201d}; hạn trả lời là {due}: {}/noi-cac/phieu/{}\n\n\
                     You have not yet voted on \u{201c}{}\u{201d}; the deadline is {due}: {}/noi-cac/phieu/{}",
                    b.title, self.public_url, b.id, b.title, self.public_url, b.id
                ),
            )
            .await?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "cabinet.ballot.remind",
                subject: &format!("cabinet/ballot/{}", b.id),
                data: json!({"kind": kind, "to": fresh}),
            },
        )
        .await?;
        tx.commit().await?;
        self.wake();
        Ok(sent)
    }

    /// Sends the reminders due: [`REMIND_HOURS`] before each open ballot's deadline, once
    /// each, to the voters who have not voted. Answers how many messages went.
    pub async fn remind_due(&self) -> Result<usize> {
        let now = self.now();
        let ids: Vec<String> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT id FROM cabinet_ballots WHERE status = 'open' AND deadline > $1 AND deadline <= $2 ORDER BY deadline"
        ).bind(now).bind(now + Duration::hours(REMIND_HOURS[0])).fetch_all(c).await)?;
        let mut sent = 0;
        for id in ids {
            let b = self.ballot_row(&id).await?;
            let left = b.deadline - now;
            for h in REMIND_HOURS {
                if left <= Duration::hours(h) {
                    sent += self.remind_kind(&b, &format!("{h}h"), "system").await?;
                    break;
                }
            }
        }
        Ok(sent)
    }

    /// Sends due reminders every five minutes while the node runs.
    pub async fn remind_loop(this: std::sync::Weak<Self>) {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(300)).await;
            let Some(c) = this.upgrade() else { break };
            if on_db!(&c.db, pool => pool.is_closed()) {
                break;
            }
            match c.remind_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(messages = n, "ballot reminders sent"),
                Err(e) => tracing::warn!(error = %e, "ballot reminders failed"),
            }
        }
    }

    /// Everything needed to check a published ballot outside motcua (those who see it).
    pub async fn archive(&self, p: &Principal, id: &str) -> Result<Archive> {
        let b = self.ballot_row(id).await?;
        self.role_in_ballot(p, &b).await?;
        if b.status != BallotStatus::Published {
            return Err(refused(
                409,
                "ballot_not_published",
                "Phiếu chưa công bố kết quả",
                "The ballot's result is not published yet",
            ));
        }
        let votes = self
            .latest_votes(id)
            .await?
            .iter()
            .filter_map(Cabinet::signed)
            .collect();
        let sig: Option<Option<Vec<u8>>> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT summary_signature FROM cabinet_ballots WHERE id = $1"
        ).bind(id).fetch_optional(c).await)?;
        let summary_sha256 = match &b.summary_document {
            Some(d) => on_db!(&self.db, c => sqlx::query_scalar(
                "SELECT sha256 FROM cabinet_documents WHERE id = $1"
            ).bind(d).fetch_optional(c).await)?,
            None => None,
        };
        Ok(Archive {
            tally: self.stored_tally(id).await?,
            votes,
            authority_pem: self.authority_pem().await?,
            summary_sha256,
            summary_signature: sig
                .flatten()
                .map(|s| base64::engine::general_purpose::STANDARD.encode(s)),
            ballot: b,
        })
    }

    /// The summary's signature (DER), for those who see a published ballot.
    pub async fn summary_signature(&self, p: &Principal, id: &str) -> Result<Vec<u8>> {
        let b = self.ballot_row(id).await?;
        self.role_in_ballot(p, &b).await?;
        let sig: Option<Option<Vec<u8>>> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT summary_signature FROM cabinet_ballots WHERE id = $1"
        ).bind(id).fetch_optional(c).await)?;
        sig.flatten()
            .ok_or_else(|| CabinetError::NotFound(format!("bản tổng hợp/summary {id}")))
    }
}

async fn write_questions(tx: &mut Tx<'_>, id: &str, questions: &[String]) -> Result<()> {
    for (i, q) in questions.iter().enumerate() {
        let pos = i64::try_from(i + 1).unwrap_or(i64::MAX);
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO cabinet_questions (ballot_id, position, text) VALUES ($1, $2, $3)"
        ).bind(id).bind(pos).bind(q).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

fn changed() -> CabinetError {
    refused(
        409,
        "ballot_changed",
        "Phiếu vừa được thay đổi; hãy tải lại trang",
        "The ballot just changed; reload the page",
    )
}

fn status_refusal(b: &Ballot) -> CabinetError {
    refused(
        409,
        "ballot_status",
        format!(
            "Phiếu đang ở trạng thái \u{201c}{}\u{201d}, không thực hiện được thao tác này",
            b.status.label(true)
        ),
        format!(
            "The ballot is {}; this cannot be done now",
            b.status.label(false).to_lowercase()
        ),
    )
}

fn summary_sheet(
    b: &Ballot,
    t: &Tally,
    secretary: &str,
    now: DateTime<Utc>,
) -> dossier::slips::Sheet {
    use dossier::slips::Block;
    let mut blocks = vec![
        Block::Field(
            "Hạn trả lời".into(),
            kernel::clock::to_local(b.deadline)
                .format("%H:%M %d/%m/%Y")
                .to_string(),
        ),
        Block::Field("Số thành viên được lấy ý kiến".into(), t.voters.to_string()),
        Block::Field("Số thành viên cho ý kiến".into(), t.voted.to_string()),
    ];
    if !b.description.is_empty() {
        blocks.push(Block::Para(b.description.clone()));
    }
    blocks.push(Block::Table {
        widths: vec![0.52, 0.16, 0.16, 0.16],
        header: vec![
            "Câu hỏi".into(),
            Choice::Agree.label(true).into(),
            Choice::Disagree.label(true).into(),
            Choice::Other.label(true).into(),
        ],
        rows: t
            .questions
            .iter()
            .map(|q| {
                vec![
                    format!("{}. {}", q.question, q.text),
                    q.agree.to_string(),
                    q.disagree.to_string(),
                    q.other.to_string(),
                ]
            })
            .collect(),
    });
    for q in &t.questions {
        if q.opinions.is_empty() {
            continue;
        }
        blocks.push(Block::Heading(format!("Ý kiến về câu {}", q.question)));
        for o in &q.opinions {
            blocks.push(Block::Item(format!(
                "{} ({}): {}",
                o.name,
                o.choice.label(true),
                o.text
            )));
        }
    }
    if !t.not_voted.is_empty() {
        blocks.push(Block::Field(
            "Chưa cho ý kiến".into(),
            t.not_voted.join(", "),
        ));
    }
    dossier::slips::Sheet {
        parent: None,
        agency: b.body_name.clone(),
        date: kernel::clock::to_local(now).date(),
        title: "BÁO CÁO TỔNG HỢP Ý KIẾN".into(),
        subtitle: Some(b.title.clone()),
        blocks,
        signatures: vec![("VĂN PHÒNG".into(), "(Ký số)".into(), secretary.to_string())],
        footer: format!("Phiếu lấy ý kiến {}", b.id),
        meta_title: format!("Tổng hợp ý kiến: {}", b.title),
        keywords: vec!["phiếu lấy ý kiến".into(), b.id.clone()],
        created: now,
    }
}
