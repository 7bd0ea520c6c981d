//! Bodies and their members; meetings with their participants, agenda, documents, attendance,
//! notes and conclusions; the signed conclusion notice. Documents serve ballots too.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use identity::Principal;
use kernel::audit::{self, Entry, Tx};
use kernel::blob::BlobId;
use kernel::{on_db, on_tx};

use crate::error::{invalid, refused};
use crate::isolate::{Job, Output};
use crate::rules::{
    self, Access, MAX_ITEMS, MAX_TEXT_CHARS, MAX_TITLE_CHARS, MeetingMove, MeetingStatus,
    ParticipantRole,
};
use crate::watermark::Stamp;
use crate::{Cabinet, CabinetError, MAX_DOCUMENT_BYTES, Result, actor_of, new_id};

/// A member of a body (the Government, a People's Committee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Member {
    pub account_id: String,
    pub login: String,
    pub name: String,
    /// `chair` or `member`.
    pub position: ParticipantRole,
    /// The member's office, e.g. "Phó Chủ tịch UBND Thành phố".
    pub title: String,
}

/// A member to add or change.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MemberSpec {
    /// `chair` or `member`.
    pub position: ParticipantRole,
    #[serde(default)]
    pub title: String,
}

/// A meeting as the secretariat writes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MeetingSpec {
    /// The agency whose leadership meets (its code).
    pub body: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Where, for those in the room; empty when online only.
    #[serde(default)]
    pub place: String,
    /// The video link, for an online or mixed meeting.
    #[serde(default)]
    pub online_url: String,
}

/// A meeting.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Meeting {
    pub id: String,
    pub body: String,
    #[sqlx(skip)]
    pub body_name: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub place: String,
    pub online_url: String,
    #[sqlx(try_from = "String")]
    pub status: MeetingStatus,
    /// The meeting's overall conclusion, as the secretariat writes it.
    pub conclusion: String,
    /// The conclusion notice, once issued (a document of the meeting).
    pub notice_document: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Someone called to a meeting.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Participant {
    pub account_id: String,
    pub login: String,
    pub name: String,
    pub role: ParticipantRole,
    /// `present`, `absent` or `excused`, once recorded.
    pub attendance: Option<String>,
    pub attendance_note: String,
}

/// An agenda item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Item {
    pub position: i64,
    pub title: String,
    pub presenter: String,
    pub conclusion: String,
    /// The item's documents the viewer may read.
    pub documents: Vec<DocumentLine>,
}

/// A document, as listed.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct DocumentLine {
    pub id: String,
    pub meeting_id: Option<String>,
    pub ballot_id: Option<String>,
    pub item_position: Option<i64>,
    pub title: String,
    #[sqlx(try_from = "String")]
    pub access: Access,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub file_name: String,
    pub pages: Option<i64>,
    /// `upload`, `exchange:<hub id>`, `notice` or `summary`.
    pub source: String,
    pub added_at: DateTime<Utc>,
    /// When the viewer first opened it.
    #[sqlx(skip)]
    pub read_at: Option<DateTime<Utc>>,
}

/// A note of the secretariat (the minutes), on the meeting or one item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Note {
    pub id: String,
    pub item_position: Option<i64>,
    pub author: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A meeting as one viewer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeetingView {
    pub meeting: Meeting,
    /// The viewer's role (the secretariat of the body counts as `secretariat`).
    pub my_role: ParticipantRole,
    /// Whether the viewer prepares it.
    pub runs: bool,
    pub participants: Vec<Participant>,
    pub items: Vec<Item>,
    /// Documents of the meeting as a whole the viewer may read.
    pub documents: Vec<DocumentLine>,
    /// The minutes: members only.
    pub notes: Vec<Note>,
}

/// A line of a list of meetings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeetingLine {
    pub meeting: Meeting,
    pub my_role: ParticipantRole,
    /// Documents the viewer may read and has not opened yet.
    pub unread: i64,
}

/// A document to add.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub title: String,
    pub access: Access,
    pub item_position: Option<i64>,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// What a viewer gets when opening a document.
#[derive(Debug, Clone)]
pub struct Opened {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// Whether this copy carries the reader's name.
    pub stamped: bool,
}

/// A participant's attendance.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AttendanceSpec {
    pub login: String,
    /// `present`, `absent` or `excused`.
    pub attendance: String,
    #[serde(default)]
    pub note: String,
}

/// A note as stored: id, item, author's account, text, when.
type NoteRow = (String, Option<i64>, String, String, DateTime<Utc>);

#[derive(sqlx::FromRow)]
struct PartRow {
    account_id: String,
    role: String,
    attendance: Option<String>,
    attendance_note: String,
}

/// What a file is, from its first bytes and its name: the media type, or a refusal.
pub fn sniff(file_name: &str, bytes: &[u8]) -> Result<&'static str> {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let t = if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"PK\x03\x04") {
        match ext.as_str() {
            "docx" => {
                Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
            }
            "xlsx" => Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            "pptx" => {
                Some("application/vnd.openxmlformats-officedocument.presentationml.presentation")
            }
            "odt" => Some("application/vnd.oasis.opendocument.text"),
            "ods" => Some("application/vnd.oasis.opendocument.spreadsheet"),
            _ => None,
        }
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if ext == "txt" && std::str::from_utf8(bytes).is_ok() {
        Some("text/plain; charset=utf-8")
    } else {
        None
    };
    t.ok_or_else(|| {
        refused(
            415,
            "document_type",
            "Chỉ nhận tài liệu PDF, Word, Excel, PowerPoint, OpenDocument, ảnh PNG/JPEG hoặc văn bản .txt (UTF-8)",
            "Only PDF, Word, Excel, PowerPoint, OpenDocument, PNG/JPEG images or UTF-8 .txt files are taken",
        )
    })
}

/// A file name as kept: its last path part, without control characters, at most 200 chars.
fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() {
        "tai-lieu".into()
    } else {
        cleaned
    }
}

impl Cabinet {
    // ----- bodies and members -----

    fn check_body(&self, body: &str) -> Result<()> {
        if self.is_agency(body) {
            Ok(())
        } else {
            Err(invalid(
                "body",
                format!("Không có cơ quan mã {body}"),
                format!("There is no agency {body}"),
            ))
        }
    }

    /// The members of `body`, the chair first.
    pub async fn members(&self, body: &str) -> Result<Vec<Member>> {
        let rows: Vec<(String, String, String)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT account_id, position, title FROM cabinet_members WHERE body = $1 ORDER BY CASE position WHEN 'chair' THEN 0 ELSE 1 END, added_at, account_id"
        ).bind(body).fetch_all(c).await)?;
        let mut out = Vec::with_capacity(rows.len());
        for (account_id, position, title) in rows {
            let (login, name) = self.login_and_name(&account_id).await;
            out.push(Member {
                account_id,
                login,
                name,
                position: ParticipantRole::parse(&position).unwrap_or(ParticipantRole::Member),
                title,
            });
        }
        Ok(out)
    }

    pub(crate) async fn login_and_name(&self, account_id: &str) -> (String, String) {
        match self.identity.principal(account_id, None).await {
            Ok(p) => (p.login, p.full_name),
            Err(_) => (account_id.to_string(), account_id.to_string()),
        }
    }

    /// An official's account by login, or a clear refusal.
    async fn official(&self, field: &str, login: &str) -> Result<Principal> {
        match self.identity.principal_by_login(login).await? {
            Some(p) if p.kind == identity::AccountKind::Official => Ok(p),
            _ => Err(invalid(
                field,
                format!(
                    "Không có cán bộ đăng nhập bằng \u{201c}{}\u{201d}",
                    login.trim()
                ),
                format!("No official logs in as \u{201c}{}\u{201d}", login.trim()),
            )),
        }
    }

    /// Adds a member to `body` or changes their position (the body's secretariat).
    pub async fn set_member(
        &self,
        p: &Principal,
        body: &str,
        login: &str,
        spec: &MemberSpec,
    ) -> Result<Member> {
        self.allow_run(p, body).await?;
        self.check_body(body)?;
        if !matches!(
            spec.position,
            ParticipantRole::Chair | ParticipantRole::Member
        ) {
            return Err(invalid(
                "position",
                "Thành viên là chủ trì (chair) hoặc thành viên (member)",
                "A member is a chair or a member",
            ));
        }
        let title = rules::text("title", &spec.title, MAX_TITLE_CHARS)?;
        let who = self.official("login", login).await?;
        let now = self.now();
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO cabinet_members (body, account_id, position, title, added_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (body, account_id) DO UPDATE SET position = excluded.position, title = excluded.title"
        ).bind(body).bind(&who.id).bind(spec.position.as_str()).bind(&title).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.member.set",
                subject: &format!("cabinet/body/{body}/member/{}", who.id),
                data: json!({"position": spec.position.as_str(), "title": title}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Member {
            account_id: who.id,
            login: who.login,
            name: who.full_name,
            position: spec.position,
            title,
        })
    }

    /// Removes a member from `body` (the body's secretariat). Meetings and ballots already
    /// made keep their lists.
    pub async fn remove_member(&self, p: &Principal, body: &str, login: &str) -> Result<()> {
        self.allow_run(p, body).await?;
        let who = self.official("login", login).await?;
        let now = self.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "DELETE FROM cabinet_members WHERE body = $1 AND account_id = $2"
        ).bind(body).bind(&who.id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(CabinetError::NotFound(format!("thành viên/member {login}")));
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.member.remove",
                subject: &format!("cabinet/body/{body}/member/{}", who.id),
                data: json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- meetings -----

    fn check_spec(&self, s: &MeetingSpec) -> Result<MeetingSpec> {
        self.check_body(&s.body)?;
        let title = rules::line(
            "title",
            &s.title,
            MAX_TITLE_CHARS,
            "tên phiên họp",
            "meeting's title",
        )?;
        let place = rules::text("place", &s.place, MAX_TITLE_CHARS)?;
        let online_url = s.online_url.trim().to_string();
        let link_ok = online_url.starts_with("https://") && online_url.len() <= 500;
        if !online_url.is_empty() && !link_ok {
            return Err(invalid(
                "online_url",
                "Đường dẫn họp trực tuyến phải bắt đầu bằng https://",
                "The online meeting link must start with https://",
            ));
        }
        if place.is_empty() && online_url.is_empty() {
            return Err(invalid(
                "place",
                "Hãy ghi địa điểm họp hoặc đường dẫn họp trực tuyến",
                "Give the place or the online meeting link",
            ));
        }
        if s.ends_at <= s.starts_at || s.ends_at - s.starts_at > chrono::Duration::days(7) {
            return Err(invalid(
                "ends_at",
                "Giờ kết thúc phải sau giờ bắt đầu, trong vòng 7 ngày",
                "The end must come after the start, within 7 days",
            ));
        }
        Ok(MeetingSpec {
            body: s.body.clone(),
            title,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            place,
            online_url,
        })
    }

    /// Prepares a meeting (the body's secretariat): the body's members are called as chair
    /// and members, the one preparing it as secretariat.
    pub async fn create_meeting(&self, p: &Principal, spec: &MeetingSpec) -> Result<Meeting> {
        self.allow_run(p, &spec.body).await?;
        let s = self.check_spec(spec)?;
        let now = self.now();
        let id = new_id("PH");
        let members = self.members(&s.body).await?;
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO cabinet_meetings (id, body, title, starts_at, ends_at, place, online_url, status, conclusion, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', '', $8, $9, $9)"
        ).bind(&id).bind(&s.body).bind(&s.title).bind(s.starts_at).bind(s.ends_at).bind(&s.place)
        .bind(&s.online_url).bind(&p.id).bind(now).execute(&mut *c).await.map(|_| ()))?;
        let mut called = vec![(p.id.clone(), ParticipantRole::Secretariat)];
        for m in members {
            if m.account_id != p.id {
                called.push((m.account_id, m.position));
            }
        }
        for (account, role) in &called {
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO cabinet_participants (meeting_id, account_id, role, attendance_note) VALUES ($1, $2, $3, '')"
            ).bind(&id).bind(account).bind(role.as_str()).execute(&mut *c).await.map(|_| ()))?;
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.meeting.create",
                subject: &format!("cabinet/meeting/{id}"),
                data: json!({"body": s.body, "title": s.title, "starts_at": s.starts_at, "participants": called.len()}),
            },
        )
        .await?;
        tx.commit().await?;
        self.meeting_row(&id).await
    }

    /// Changes a meeting's title, time and place while it is prepared or called.
    pub async fn edit_meeting(
        &self,
        p: &Principal,
        id: &str,
        spec: &MeetingSpec,
    ) -> Result<Meeting> {
        let m = self.meeting_row(id).await?;
        self.allow_run(p, &m.body).await?;
        let s = self.check_spec(&MeetingSpec {
            body: m.body.clone(),
            ..spec.clone()
        })?;
        editable(&m)?;
        let now = self.now();
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE cabinet_meetings SET title = $1, starts_at = $2, ends_at = $3, place = $4, online_url = $5, updated_at = $6 WHERE id = $7"
        ).bind(&s.title).bind(s.starts_at).bind(s.ends_at).bind(&s.place).bind(&s.online_url).bind(now).bind(id)
        .execute(&mut *c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.meeting.edit",
                subject: &format!("cabinet/meeting/{id}"),
                data: json!({"title": s.title, "starts_at": s.starts_at, "ends_at": s.ends_at, "place": s.place}),
            },
        )
        .await?;
        if m.status == MeetingStatus::Scheduled {
            let people = self.participant_ids(id).await?;
            let (subject, body) = self.invitation_text(&s.title, &s, id, true);
            self.tell(&mut tx, &people, &subject, &body).await?;
        }
        tx.commit().await?;
        self.wake();
        self.meeting_row(id).await
    }

    pub(crate) async fn meeting_row(&self, id: &str) -> Result<Meeting> {
        let row: Option<Meeting> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, body, title, starts_at, ends_at, place, online_url, status, conclusion, notice_document, created_at, updated_at FROM cabinet_meetings WHERE id = $1"
        ).bind(id).fetch_optional(c).await)?;
        let mut m = row.ok_or_else(|| CabinetError::NotFound(format!("phiên họp/meeting {id}")))?;
        m.body_name = self.agency_name(&m.body);
        Ok(m)
    }

    async fn participant_ids(&self, id: &str) -> Result<Vec<String>> {
        Ok(on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT account_id FROM cabinet_participants WHERE meeting_id = $1 ORDER BY account_id"
        ).bind(id).fetch_all(c).await)?)
    }

    async fn participants(&self, id: &str) -> Result<Vec<Participant>> {
        let rows: Vec<PartRow> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT account_id, role, attendance, attendance_note FROM cabinet_participants WHERE meeting_id = $1 \
             ORDER BY CASE role WHEN 'chair' THEN 0 WHEN 'member' THEN 1 WHEN 'secretariat' THEN 2 ELSE 3 END, account_id"
        ).bind(id).fetch_all(c).await)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let (login, name) = self.login_and_name(&r.account_id).await;
            out.push(Participant {
                account_id: r.account_id,
                login,
                name,
                role: ParticipantRole::parse(&r.role).unwrap_or(ParticipantRole::Guest),
                attendance: r.attendance,
                attendance_note: r.attendance_note,
            });
        }
        Ok(out)
    }

    /// The viewer's role in a meeting: the body's secretariat always; a participant once the
    /// meeting is called. Anyone else is refused (and the refusal recorded).
    async fn role_in(&self, p: &Principal, m: &Meeting) -> Result<ParticipantRole> {
        self.allow_attend(p)?;
        if self.may_run(p, &m.body) {
            return Ok(ParticipantRole::Secretariat);
        }
        if m.status.is_visible() {
            let role: Option<String> = on_db!(&self.db, c => sqlx::query_scalar(
                "SELECT role FROM cabinet_participants WHERE meeting_id = $1 AND account_id = $2"
            ).bind(&m.id).bind(&p.id).fetch_optional(c).await)?;
            if let Some(r) = role.as_deref().and_then(ParticipantRole::parse) {
                return Ok(r);
            }
        }
        self.identity
            .record_denial(
                &p.id,
                identity::Action::AttendCabinet,
                &identity::Resource::Agency(&m.body),
            )
            .await?;
        Err(CabinetError::Forbidden)
    }

    /// A meeting as `p` sees it: documents they may read, the minutes if a member.
    pub async fn meeting(&self, p: &Principal, id: &str) -> Result<MeetingView> {
        let m = self.meeting_row(id).await?;
        let role = self.role_in(p, &m).await?;
        let docs = self.documents_of("meeting_id", id, p, role).await?;
        let items: Vec<(i64, String, String, String)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT position, title, presenter, conclusion FROM cabinet_items WHERE meeting_id = $1 ORDER BY position"
        ).bind(id).fetch_all(c).await)?;
        let items = items
            .into_iter()
            .map(|(position, title, presenter, conclusion)| Item {
                position,
                title,
                presenter,
                conclusion,
                documents: docs
                    .iter()
                    .filter(|d| d.item_position == Some(position))
                    .cloned()
                    .collect(),
            })
            .collect();
        let notes = if role.is_member() {
            let rows: Vec<NoteRow> = on_db!(&self.db, c => sqlx::query_as(
                "SELECT id, item_position, author, text, at FROM cabinet_notes WHERE meeting_id = $1 ORDER BY at, id"
            ).bind(id).fetch_all(c).await)?;
            let mut out = Vec::with_capacity(rows.len());
            for (id, item_position, author, text, at) in rows {
                out.push(Note {
                    id,
                    item_position,
                    author: self.login_and_name(&author).await.1,
                    text,
                    at,
                });
            }
            out
        } else {
            Vec::new()
        };
        Ok(MeetingView {
            runs: self.may_run(p, &m.body),
            participants: self.participants(id).await?,
            documents: docs
                .into_iter()
                .filter(|d| d.item_position.is_none())
                .collect(),
            meeting: m,
            my_role: role,
            items,
            notes,
        })
    }

    /// The documents of a meeting or ballot (`column` = `meeting_id` or `ballot_id`) that
    /// someone in `role` may read, with when `p` first opened each.
    pub(crate) async fn documents_of(
        &self,
        column: &str,
        id: &str,
        p: &Principal,
        role: ParticipantRole,
    ) -> Result<Vec<DocumentLine>> {
        let column = if column == "ballot_id" {
            "ballot_id"
        } else {
            "meeting_id"
        };
        let sql = format!(
            "SELECT id, meeting_id, ballot_id, item_position, title, access, sha256, size, content_type, file_name, pages, source, added_at \
             FROM cabinet_documents WHERE {column} = $1 ORDER BY item_position, added_at, id"
        );
        let rows: Vec<DocumentLine> = on_db!(&self.db, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id).fetch_all(c).await)?;
        let reads: Vec<(String, DateTime<Utc>)> = on_db!(&self.db, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT r.document_id, r.first_at FROM cabinet_reads r JOIN cabinet_documents d ON d.id = r.document_id WHERE d.{column} = $1 AND r.account_id = $2"
        ))).bind(id).bind(&p.id).fetch_all(c).await)?;
        Ok(rows
            .into_iter()
            .filter(|d| d.access.readable_by(role))
            .map(|mut d| {
                d.read_at = reads.iter().find(|r| r.0 == d.id).map(|r| r.1);
                d
            })
            .collect())
    }

    /// The meetings `p` is called to or prepares, from `from` on (the nearest first), with
    /// how many of their documents `p` has not opened.
    pub async fn my_meetings(
        &self,
        p: &Principal,
        from: DateTime<Utc>,
    ) -> Result<Vec<MeetingLine>> {
        self.allow_attend(p)?;
        let mut ids: Vec<String> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT m.id FROM cabinet_meetings m JOIN cabinet_participants x ON x.meeting_id = m.id \
             WHERE x.account_id = $1 AND m.status <> 'draft' AND m.ends_at >= $2 ORDER BY m.starts_at LIMIT 200"
        ).bind(&p.id).bind(from).fetch_all(c).await)?;
        for body in self.bodies_run_by(p) {
            let more: Vec<String> = on_db!(&self.db, c => sqlx::query_scalar(
                "SELECT id FROM cabinet_meetings WHERE body = $1 AND (ends_at >= $2 OR status IN ('draft', 'ended')) ORDER BY starts_at LIMIT 200"
            ).bind(&body).bind(from).fetch_all(c).await)?;
            for id in more {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let m = self.meeting_row(&id).await?;
            let role = self.role_in(p, &m).await?;
            let unread = self
                .documents_of("meeting_id", &id, p, role)
                .await?
                .iter()
                .filter(|d| d.read_at.is_none())
                .count();
            out.push(MeetingLine {
                meeting: m,
                my_role: role,
                unread: i64::try_from(unread).unwrap_or(i64::MAX),
            });
        }
        out.sort_by_key(|l| l.meeting.starts_at);
        Ok(out)
    }

    /// Every meeting of a body, newest first (its secretariat).
    pub async fn body_meetings(&self, p: &Principal, body: &str) -> Result<Vec<Meeting>> {
        self.allow_run(p, body).await?;
        let ids: Vec<String> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT id FROM cabinet_meetings WHERE body = $1 ORDER BY starts_at DESC LIMIT 500"
        ).bind(body).fetch_all(c).await)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.meeting_row(&id).await?);
        }
        Ok(out)
    }

    /// Calls someone to a meeting, or changes their role (the secretariat).
    pub async fn set_participant(
        &self,
        p: &Principal,
        id: &str,
        login: &str,
        role: ParticipantRole,
    ) -> Result<Participant> {
        let m = self.meeting_row(id).await?;
        self.allow_run(p, &m.body).await?;
        editable(&m)?;
        let who = self.official("login", login).await?;
        let now = self.now();
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO cabinet_participants (meeting_id, account_id, role, attendance_note) VALUES ($1, $2, $3, '') \
             ON CONFLICT (meeting_id, account_id) DO UPDATE SET role = excluded.role"
        ).bind(id).bind(&who.id).bind(role.as_str()).execute(&mut *c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.participant.set",
                subject: &format!("cabinet/meeting/{id}"),
                data: json!({"account": who.id, "role": role.as_str()}),
            },
        )
        .await?;
        if m.status == MeetingStatus::Scheduled {
            let spec = spec_of(&m);
            let (subject, body) = self.invitation_text(&m.title, &spec, id, false);
            self.tell(&mut tx, std::slice::from_ref(&who.id), &subject, &body)
                .await?;
        }
        tx.commit().await?;
        self.wake();
        Ok(Participant {
            account_id: who.id,
            login: who.login,
            name: who.full_name,
            role,
            attendance: None,
            attendance_note: String::new(),
        })
    }

    /// Takes someone off a meeting's list (the secretariat).
    pub async fn remove_participant(&self, p: &Principal, id: &str, login: &str) -> Result<()> {
        let m = self.meeting_row(id).await?;
        self.allow_run(p, &m.body).await?;
        editable(&m)?;
        let who = self.official("login", login).await?;
        let now = self.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "DELETE FROM cabinet_participants WHERE meeting_id = $1 AND account_id = $2"
        ).bind(id).bind(&who.id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(CabinetError::NotFound(format!(
                "người dự họp/participant {login}"
            )));
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.participant.remove",
                subject: &format!("cabinet/meeting/{id}"),
                data: json!({"account": who.id}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds an agenda item at the end (the secretariat); answers its position.
    pub async fn add_item(
        &self,
        p: &Principal,
        id: &str,
        title: &str,
        presenter: &str,
    ) -> Result<i64> {
        let m = self.meeting_row(id).await?;
        self.allow_run(p, &m.body).await?;
        editable(&m)?;
        let title = rules::line(
            "title",
            title,
            MAX_TITLE_CHARS,
            "nội dung họp",
            "item's title",
        )?;
        let presenter = rules::text("presenter", presenter, MAX_TITLE_CHARS)?;
        let now = self.now();
        let mut tx = Tx::begin(&self.db).await?;
        let last: Option<i64> = on_tx!(&mut tx, c => sqlx::query_scalar(
            "SELECT MAX(position) FROM cabinet_items WHERE meeting_id = $1"
        ).bind(id).fetch_one(&mut *c).await)?;
        let position = last.unwrap_or(0) + 1;
        if position > i64::try_from(MAX_ITEMS).unwrap_or(i64::MAX) {
            return Err(refused(
                422,
                "too_many_items",
                format!("Một phiên họp có tối đa {MAX_ITEMS} nội dung"),
                format!("A meeting has at most {MAX_ITEMS} items"),
            ));
        }
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO cabinet_items (meeting_id, position, title, presenter, conclusion) VALUES ($1, $2, $3, $4, '')"
        ).bind(id).bind(position).bind(&title).bind(&presenter).execute(&mut *c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.item.add",
                subject: &format!("cabinet/meeting/{id}"),
                data: json!({"position": position, "title": title, "presenter": presenter}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(position)
    }

    /// Writes the conclusion of an item, or (with no item) of the whole meeting (the
    /// secretariat, until the notice is issued).
    pub async fn conclude(
        &self,
        p: &Principal,
        id: &str,
        item: Option<i64>,
        conclusion: &str,
    ) -> Result<()> {
        let m = self.meeting_row(id).await?;
        self.allow_run(p, &m.body).await?;
        if matches!(
            m.status,
            MeetingStatus::Concluded | MeetingStatus::Cancelled
        ) {
            return Err(status_refusal(&m));
        }
        let text = rules::text("conclusion", conclusion, MAX_TEXT_CHARS)?;
        let now = self.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = match item {
            Some(pos) => on_tx!(&mut tx, c => sqlx::query(
                "UPDATE cabinet_items SET conclusion = $1 WHERE meeting_id = $2 AND position = $3"
            ).bind(&text).bind(id).bind(pos).execute(&mut *c).await.map(|r| r.rows_affected()))?,
            None => on_tx!(&mut tx, c => sqlx::query(
                "UPDATE cabinet_meetings SET conclusion = $1, updated_at = $2 WHERE id = $3"
            ).bind(&text).bind(now).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?,
        };
        if n == 0 {
            return Err(CabinetError::NotFound(format!(
                "nội dung/item {}",
                item.unwrap_or_default()
            )));
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.conclusion",
                subject: &format!("cabinet/meeting/{id}"),
                data: json!({"item": item, "conclusion": text}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a note to the minutes (the secretariat), on an item or the whole meeting.
    pub async fn add_note(
        &self,
        p: &Principal,
        id: &str,
        item: Option<i64>,
        text: &str,
    ) -> Result<Note> {
        let m = self.meeting_row(id).await?;
        self.allow_run(p, &m.body).await?;
        if matches!(m.status, MeetingStatus::Draft | MeetingStatus::Cancelled) {
            return Err(status_refusal(&m));
        }
        let t = rules::text("text", text, MAX_TEXT_CHARS)?;
        if t.is_empty() {
            return Err(invalid(
                "text",
                "Hãy nhập nội dung ghi chép",
                "Write the note",
            ));
        }
        if let Some(pos) = item {
            self.check_item(id, pos).await?;
        }
        let now = self.now();
        let note_id = new_id("GC");
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO cabinet_notes (id, meeting_id, item_position, author, text, at) VALUES ($1, $2, $3, $4, $5, $6)"
        ).bind(&note_id).bind(id).bind(item).bind(&p.id).bind(&t).bind(now).execute(&mut *c).await.map(|_| ()))?;
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.note.add",
                subject: &format!("cabinet/meeting/{id}"),
                data: json!({"note": note_id, "item": item}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Note {
            id: note_id,
            item_position: item,
            author: p.full_name.clone(),
            text: t,
            at: now,
        })
    }

    async fn check_item(&self, id: &str, pos: i64) -> Result<()> {
        let found: Option<i64> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT position FROM cabinet_items WHERE meeting_id = $1 AND position = $2"
        ).bind(id).bind(pos).fetch_optional(c).await)?;
        match found {
            Some(_) => Ok(()),
            None => Err(invalid(
                "item",
                format!("Phiên họp không có nội dung số {pos}"),
                format!("The meeting has no item {pos}"),
            )),
        }
    }

    /// Records whether a participant came (the secretariat, once the meeting is called).
    pub async fn set_attendance(&self, p: &Principal, id: &str, a: &AttendanceSpec) -> Result<()> {
        let m = self.meeting_row(id).await?;
        self.allow_run(p, &m.body).await?;
        if !matches!(m.status, MeetingStatus::Scheduled | MeetingStatus::Ended) {
            return Err(status_refusal(&m));
        }
        if !matches!(a.attendance.as_str(), "present" | "absent" | "excused") {
            return Err(invalid(
                "attendance",
                "Điểm danh là có mặt (present), vắng (absent) hoặc vắng có lý do (excused)",
                "Attendance is present, absent or excused",
            ));
        }
        let note = rules::text("note", &a.note, MAX_TITLE_CHARS)?;
        let who = self.official("login", &a.login).await?;
        let now = self.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "UPDATE cabinet_participants SET attendance = $1, attendance_note = $2 WHERE meeting_id = $3 AND account_id = $4"
        ).bind(&a.attendance).bind(&note).bind(id).bind(&who.id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(CabinetError::NotFound(format!(
                "người dự họp/participant {}",
                a.login
            )));
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.attendance",
                subject: &format!("cabinet/meeting/{id}"),
                data: json!({"account": who.id, "attendance": a.attendance, "note": note}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Calls, ends or cancels a meeting (the secretariat). Calling and cancelling tell every
    /// participant.
    pub async fn move_meeting(&self, p: &Principal, id: &str, mv: MeetingMove) -> Result<Meeting> {
        let m = self.meeting_row(id).await?;
        self.allow_run(p, &m.body).await?;
        let to = rules::meeting_move(m.status, mv)?;
        let now = self.now();
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "UPDATE cabinet_meetings SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4"
        ).bind(to.as_str()).bind(now).bind(id).bind(m.status.as_str()).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(refused(
                409,
                "meeting_changed",
                "Phiên họp vừa được người khác thay đổi; hãy tải lại trang",
                "Someone else just changed the meeting; reload the page",
            ));
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.meeting.status",
                subject: &format!("cabinet/meeting/{id}"),
                data: json!({"from": m.status.as_str(), "to": to.as_str()}),
            },
        )
        .await?;
        let people = self.participant_ids(id).await?;
        match to {
            MeetingStatus::Scheduled => {
                let (subject, body) = self.invitation_text(&m.title, &spec_of(&m), id, false);
                self.tell(&mut tx, &people, &subject, &body).await?;
            }
            MeetingStatus::Cancelled if m.status == MeetingStatus::Scheduled => {
                let when = kernel::clock::to_local(m.starts_at).format("%H:%M %d/%m/%Y");
                let subject = format!("Hủy phiên họp: {}", m.title);
                let body = format!(
                    "Phiên họp \u{201c}{}\u{201d} dự kiến lúc {when} đã được hủy.\n\nThe meeting \u{201c}{}\u{201d} planned for {when} is cancelled.",
                    m.title, m.title
                );
                self.tell(&mut tx, &people, &subject, &body).await?;
            }
            _ => {}
        }
        tx.commit().await?;
        self.wake();
        self.meeting_row(id).await
    }

    fn invitation_text(
        &self,
        title: &str,
        s: &MeetingSpec,
        id: &str,
        changed: bool,
    ) -> (String, String) {
        let when = kernel::clock::to_local(s.starts_at).format("%H:%M %d/%m/%Y");
        let place = if s.online_url.is_empty() {
            s.place.clone()
        } else if s.place.is_empty() {
            s.online_url.clone()
        } else {
            format!("{} / {}", s.place, s.online_url)
        };
        let (lead_vi, lead_en) = if changed {
            ("Thay đổi thông tin phiên họp", "Meeting changed")
        } else {
            ("Giấy mời họp", "Invitation to a meeting")
        };
        (
            format!("{lead_vi}: {title}"),
            format!(
                "{lead_vi}: \u{201c}{title}\u{201d}\nThời gian: {when}\nĐịa điểm: {place}\nTài liệu: {}/noi-cac/hop/{id}\n\n\
                 {lead_en}: \u{201c}{title}\u{201d}, {when}, {place}. Papers: {}/noi-cac/hop/{id}",
                self.public_url, self.public_url
            ),
        )
    }

    // ----- documents -----

    /// Checks a document and keeps its bytes: the type from its bytes, a PDF readable and
    /// not encrypted, confidential ones PDF only. Answers (sha256, content type, pages).
    async fn keep_document(&self, d: &NewDocument) -> Result<(String, &'static str, Option<i64>)> {
        if d.bytes.is_empty() {
            return Err(invalid("file", "Tệp rỗng", "The file is empty"));
        }
        if d.bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(refused(
                413,
                "document_too_large",
                format!("Tài liệu lớn quá {} MB", MAX_DOCUMENT_BYTES / 1024 / 1024),
                format!(
                    "The document is over {} MB",
                    MAX_DOCUMENT_BYTES / 1024 / 1024
                ),
            ));
        }
        let content_type = sniff(&d.file_name, &d.bytes)?;
        let pages = if content_type == "application/pdf" {
            match self.pdf_job(Job::Count, d.bytes.clone()).await? {
                Output::Pages(n) => Some(i64::try_from(n).unwrap_or(i64::MAX)),
                Output::Pdf(_) => None,
            }
        } else {
            None
        };
        if d.access == Access::Confidential && pages.is_none() {
            return Err(refused(
                422,
                "confidential_not_pdf",
                "Tài liệu mật phải là tệp PDF để đóng dấu tên người đọc trên từng trang",
                "A confidential document must be a PDF, so that every page carries its reader's name",
            ));
        }
        let blob = self.blobs.put(&d.bytes)?;
        Ok((blob.as_str().to_string(), content_type, pages))
    }

    /// Adds a document to a meeting (the secretariat, while the meeting may change).
    pub async fn add_meeting_document(
        &self,
        p: &Principal,
        id: &str,
        d: &NewDocument,
    ) -> Result<DocumentLine> {
        let m = self.meeting_row(id).await?;
        self.allow_run(p, &m.body).await?;
        editable(&m)?;
        if let Some(pos) = d.item_position {
            self.check_item(id, pos).await?;
        }
        self.insert_document(p, Some(id), None, d, "upload").await
    }

    /// Takes a document received through the exchange hub into a meeting: one attachment of
    /// it (`attachment`, from 0), under the document's summary as title. The secretariat
    /// must also be able to read it on the hub.
    pub async fn import_from_exchange(
        &self,
        p: &Principal,
        id: &str,
        hub_id: &str,
        attachment: usize,
        access: Access,
        item_position: Option<i64>,
    ) -> Result<DocumentLine> {
        let m = self.meeting_row(id).await?;
        self.allow_run(p, &m.body).await?;
        editable(&m)?;
        if let Some(pos) = item_position {
            self.check_item(id, pos).await?;
        }
        let doc = self.exchange.document(hub_id).await?;
        let (name, _, bytes) = self.exchange.attachment(p, hub_id, attachment).await?;
        let title: String = format!("{} ({})", doc.subject, name)
            .chars()
            .take(MAX_TITLE_CHARS)
            .collect();
        let d = NewDocument {
            title,
            access,
            item_position,
            file_name: name,
            bytes,
        };
        self.insert_document(p, Some(id), None, &d, &format!("exchange:{hub_id}"))
            .await
    }

    /// The documents `body` sent and received through the exchange hub this year, newest
    /// first, when `p` may read them there (its clerks and leaders); otherwise none.
    pub async fn hub_documents(
        &self,
        p: &Principal,
        body: &str,
    ) -> Result<Vec<exchange::hub::RegisterLine>> {
        if !self
            .identity
            .acts_for(p, identity::Action::ExchangeDocuments, body)
            .await?
        {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for direction in ["in", "out"] {
            let q = exchange::hub::RegisterQuery {
                agency: body.to_string(),
                direction: direction.into(),
                year: None,
                q: None,
            };
            out.extend(self.exchange.register(&q, 50).await?);
        }
        out.sort_by_key(|l| std::cmp::Reverse(l.registered_at));
        Ok(out)
    }

    pub(crate) async fn insert_document(
        &self,
        p: &Principal,
        meeting: Option<&str>,
        ballot: Option<&str>,
        d: &NewDocument,
        source: &str,
    ) -> Result<DocumentLine> {
        let title = rules::line(
            "title",
            &d.title,
            MAX_TITLE_CHARS,
            "tên tài liệu",
            "document's title",
        )?;
        let file_name = clean_file_name(&d.file_name);
        let (sha, content_type, pages) = self.keep_document(d).await?;
        let now = self.now();
        let doc_id = new_id("TL");
        let size = i64::try_from(d.bytes.len()).unwrap_or(i64::MAX);
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO cabinet_documents (id, meeting_id, ballot_id, item_position, title, access, sha256, size, content_type, file_name, pages, source, added_by, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ).bind(&doc_id).bind(meeting).bind(ballot).bind(d.item_position).bind(&title).bind(d.access.as_str())
        .bind(&sha).bind(size).bind(content_type).bind(&file_name).bind(pages).bind(source).bind(&p.id).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
        let subject = match (meeting, ballot) {
            (Some(m), _) => format!("cabinet/meeting/{m}"),
            (None, Some(b)) => format!("cabinet/ballot/{b}"),
            _ => "cabinet".to_string(),
        };
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.document.add",
                subject: &subject,
                data: json!({"document": doc_id, "title": title, "access": d.access.as_str(), "sha256": sha, "source": source}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(DocumentLine {
            id: doc_id,
            meeting_id: meeting.map(str::to_string),
            ballot_id: ballot.map(str::to_string),
            item_position: d.item_position,
            title,
            access: d.access,
            sha256: sha,
            size,
            content_type: content_type.to_string(),
            file_name,
            pages,
            source: source.to_string(),
            added_at: now,
            read_at: None,
        })
    }

    async fn document_row(&self, doc_id: &str) -> Result<DocumentLine> {
        let row: Option<DocumentLine> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, meeting_id, ballot_id, item_position, title, access, sha256, size, content_type, file_name, pages, source, added_at \
             FROM cabinet_documents WHERE id = $1"
        ).bind(doc_id).fetch_optional(c).await)?;
        row.ok_or_else(|| CabinetError::NotFound(format!("tài liệu/document {doc_id}")))
    }

    /// Opens a document for `p`, if their role in its meeting or ballot lets them. A
    /// confidential one comes stamped with their name on every page, and the opening joins
    /// the audit chain (so does every refusal). Every opening is counted.
    pub async fn open_document(&self, p: &Principal, doc_id: &str) -> Result<Opened> {
        let d = self.document_row(doc_id).await?;
        let (role, subject, context) = match (&d.meeting_id, &d.ballot_id) {
            (Some(m), _) => {
                let meeting = self.meeting_row(m).await?;
                (
                    self.role_in(p, &meeting).await?,
                    format!("cabinet/meeting/{m}"),
                    meeting.title,
                )
            }
            (None, Some(b)) => {
                let ballot = self.ballot_row(b).await?;
                (
                    self.role_in_ballot(p, &ballot).await?,
                    format!("cabinet/ballot/{b}"),
                    ballot.title,
                )
            }
            _ => {
                return Err(CabinetError::NotFound(format!(
                    "tài liệu/document {doc_id}"
                )));
            }
        };
        let now = self.now();
        if !d.access.readable_by(role) {
            let mut tx = Tx::begin(&self.db).await?;
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: &actor_of(p),
                    action: "cabinet.document.denied",
                    subject: &subject,
                    data: json!({"document": d.id, "access": d.access.as_str(), "role": role.as_str()}),
                },
            )
            .await?;
            tx.commit().await?;
            return Err(refused(
                403,
                "document_members_only",
                "Tài liệu này chỉ dành cho thành viên",
                "This document is for members only",
            ));
        }
        let bytes = self.blobs.get(&BlobId::parse(&d.sha256)?)?;
        let confidential = d.access == Access::Confidential;
        let bytes = if confidential {
            let at = kernel::clock::to_local(now).format("%H:%M %d/%m/%Y");
            let stamp = Stamp {
                lines: vec![
                    format!("MẬT · {} ({})", p.full_name, p.login),
                    format!("Mở lúc {at} · {context}"),
                ],
            };
            match self.pdf_job(Job::Stamp(stamp), bytes).await? {
                Output::Pdf(b) => b,
                Output::Pages(_) => {
                    return Err(CabinetError::Signing("the stamped copy is missing".into()));
                }
            }
        } else {
            bytes
        };
        let mut tx = Tx::begin(&self.db).await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO cabinet_reads (document_id, account_id, first_at, last_at, times) VALUES ($1, $2, $3, $3, 1) \
             ON CONFLICT (document_id, account_id) DO UPDATE SET last_at = excluded.last_at, times = cabinet_reads.times + 1"
        ).bind(&d.id).bind(&p.id).bind(now).execute(&mut *c).await.map(|_| ()))?;
        if confidential {
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: &actor_of(p),
                    action: "cabinet.document.view",
                    subject: &subject,
                    data: json!({"document": d.id, "title": d.title, "sha256": d.sha256, "stamped_sha256": BlobId::of(&bytes).as_str()}),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Opened {
            file_name: d.file_name,
            content_type: d.content_type,
            bytes,
            stamped: confidential,
        })
    }

    // ----- the conclusion notice -----

    /// Issues the conclusion notice of a meeting that was held (the secretariat): a PDF with
    /// the conclusions of the meeting and of each item, signed with the issuing secretary's
    /// key, added to the meeting's documents for every participant, who are told.
    pub async fn issue_notice(&self, p: &Principal, id: &str) -> Result<Meeting> {
        let m = self.meeting_row(id).await?;
        self.allow_run(p, &m.body).await?;
        if m.status != MeetingStatus::Ended {
            return Err(refused(
                409,
                "meeting_not_ended",
                "Chỉ ban hành thông báo kết luận sau khi phiên họp đã kết thúc",
                "The conclusion notice is issued once the meeting has ended",
            ));
        }
        let items: Vec<(i64, String, String, String)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT position, title, presenter, conclusion FROM cabinet_items WHERE meeting_id = $1 ORDER BY position"
        ).bind(id).fetch_all(c).await)?;
        if m.conclusion.trim().is_empty() && items.iter().all(|i| i.3.trim().is_empty()) {
            return Err(refused(
                422,
                "no_conclusion",
                "Chưa có kết luận nào để ban hành",
                "There is no conclusion to issue yet",
            ));
        }
        let participants = self.participants(id).await?;
        let chair = participants
            .iter()
            .find(|x| x.role == ParticipantRole::Chair)
            .map(|x| x.name.clone())
            .unwrap_or_default();
        let now = self.now();
        let pdf = crate::ballots::render_sheet(notice_sheet(
            &m,
            &items,
            &participants,
            &chair,
            &p.full_name,
            now,
        ))?;
        let (signature, serial) = self.sign_as(p, &pdf).await?;
        let doc = NewDocument {
            title: format!("Thông báo kết luận: {}", m.title)
                .chars()
                .take(MAX_TITLE_CHARS)
                .collect(),
            access: Access::Participants,
            item_position: None,
            file_name: "thong-bao-ket-luan.pdf".into(),
            bytes: pdf,
        };
        let line = self
            .insert_document(p, Some(id), None, &doc, "notice")
            .await?;
        let mut tx = Tx::begin(&self.db).await?;
        let n = on_tx!(&mut tx, c => sqlx::query(
            "UPDATE cabinet_meetings SET status = 'concluded', notice_document = $1, notice_signature = $2, updated_at = $3 WHERE id = $4 AND status = 'ended'"
        ).bind(&line.id).bind(&signature).bind(now).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(refused(
                409,
                "meeting_changed",
                "Phiên họp vừa được người khác thay đổi; hãy tải lại trang",
                "Someone else just changed the meeting; reload the page",
            ));
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &actor_of(p),
                action: "cabinet.meeting.notice",
                subject: &format!("cabinet/meeting/{id}"),
                data: json!({"document": line.id, "sha256": line.sha256, "certificate": serial,
                    "signature_sha256": BlobId::of(&signature).as_str()}),
            },
        )
        .await?;
        let people: Vec<String> = participants.iter().map(|x| x.account_id.clone()).collect();
        self.tell(
            &mut tx,
            &people,
            &format!("Thông báo kết luận: {}", m.title),
            &format!(
                "Thông báo kết luận phiên họp \u{201c}{}\u{201d} đã được ban hành: {}/noi-cac/hop/{id}\n\n\
                 The conclusions of \u{201c}{}\u{201d} are issued: {}/noi-cac/hop/{id}",
                m.title, self.public_url, m.title, self.public_url
            ),
        )
        .await?;
        tx.commit().await?;
        self.wake();
        self.meeting_row(id).await
    }

    /// The conclusion notice's signature (DER), for someone who may read the meeting.
    pub async fn notice_signature(&self, p: &Principal, id: &str) -> Result<Vec<u8>> {
        let m = self.meeting_row(id).await?;
        self.role_in(p, &m).await?;
        let sig: Option<Option<Vec<u8>>> = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT notice_signature FROM cabinet_meetings WHERE id = $1"
        ).bind(id).fetch_optional(c).await)?;
        sig.flatten()
            .ok_or_else(|| CabinetError::NotFound(format!("thông báo kết luận/notice {id}")))
    }
}

fn spec_of(m: &Meeting) -> MeetingSpec {
    MeetingSpec {
        body: m.body.clone(),
        title: m.title.clone(),
        starts_at: m.starts_at,
        ends_at: m.ends_at,
        place: m.place.clone(),
        online_url: m.online_url.clone(),
    }
}

fn status_refusal(m: &Meeting) -> CabinetError {
    refused(
        409,
        "meeting_status",
        format!(
            "Phiên họp đang ở trạng thái \u{201c}{}\u{201d}, không thực hiện được thao tác này",
            m.status.label(true)
        ),
        format!(
            "The meeting is {}; this cannot be done now",
            m.status.label(false).to_lowercase()
        ),
    )
}

fn editable(m: &Meeting) -> Result<()> {
    if m.status.is_editable() {
        Ok(())
    } else {
        Err(status_refusal(m))
    }
}

fn notice_sheet(
    m: &Meeting,
    items: &[(i64, String, String, String)],
    participants: &[Participant],
    chair: &str,
    secretary: &str,
    now: DateTime<Utc>,
) -> dossier::slips::Sheet {
    use dossier::slips::Block;
    let when = kernel::clock::to_local(m.starts_at).format("%H:%M ngày %d/%m/%Y");
    let mut blocks = vec![Block::Para(format!(
        "Vào lúc {when}, tại {}, {} đã họp. Tham dự có {} người được triệu tập.",
        if m.place.is_empty() {
            "phòng họp trực tuyến"
        } else {
            &m.place
        },
        m.body_name,
        participants.len()
    ))];
    if !chair.is_empty() {
        blocks.push(Block::Field("Chủ trì".into(), chair.to_string()));
    }
    let present = participants
        .iter()
        .filter(|x| x.attendance.as_deref() == Some("present"))
        .count();
    blocks.push(Block::Field(
        "Có mặt".into(),
        format!("{present}/{} người", participants.len()),
    ));
    blocks.push(Block::Gap);
    for (pos, title, presenter, conclusion) in items {
        blocks.push(Block::Heading(format!("{pos}. {title}")));
        if !presenter.is_empty() {
            blocks.push(Block::Field("Cơ quan trình".into(), presenter.clone()));
        }
        blocks.push(Block::Para(if conclusion.trim().is_empty() {
            "Không có kết luận riêng.".into()
        } else {
            conclusion.clone()
        }));
    }
    if !m.conclusion.trim().is_empty() {
        blocks.push(Block::Heading("Kết luận chung".into()));
        blocks.push(Block::Para(m.conclusion.clone()));
    }
    dossier::slips::Sheet {
        parent: None,
        agency: m.body_name.clone(),
        date: kernel::clock::to_local(now).date(),
        title: "THÔNG BÁO KẾT LUẬN".into(),
        subtitle: Some(m.title.clone()),
        blocks,
        signatures: vec![(
            "TL. CHỦ TRÌ PHIÊN HỌP".into(),
            "(Ký số)".into(),
            secretary.to_string(),
        )],
        footer: format!("Phiên họp {}", m.id),
        meta_title: format!("Thông báo kết luận: {}", m.title),
        keywords: vec!["thông báo kết luận".into(), m.id.clone()],
        created: now,
    }
}
