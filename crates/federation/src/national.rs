//! The national node's side: the register of local nodes, the check of each signed call, and
//! the events received, each applied once and in order per dossier.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderMap;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use identity::Principal;
use kernel::audit::{self, Entry, Tx};
use kernel::config::NodeRole;
use kernel::{on_db, on_tx};

use crate::error::{bad_signature, invalid, refused};
use crate::rules::{self, H_DATE, H_NODE, H_NONCE, H_SIGNATURE};
use report::rollup::Cube;

use crate::{
    Federation, FederationError, NodeMove, NodeView, RefusedEvent, Registration, Result,
    SyncAnswer, SyncBatch, SyncEvent,
};

/// Signed calls checked since the start; every so many, old nonces are forgotten.
static CALLS: AtomicU64 = AtomicU64::new(0);

/// The node a signed call comes from, as the national node knows it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub node: String,
    /// Its status here, none for a node not registered yet.
    pub status: Option<String>,
    pub agencies: Vec<String>,
    /// The call's nonce, and when it was checked: spent once, with what the call changes.
    nonce: String,
    checked_at: DateTime<Utc>,
}

/// A dossier as the national node holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct FederatedDossier {
    pub node_id: String,
    pub dossier_id: String,
    /// The number of the last event applied.
    pub applied_seq: i64,
    pub code: Option<String>,
    pub agency_code: String,
    pub procedure_code: String,
    pub applicant_name: String,
    pub status: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub appointment_date: Option<NaiveDate>,
    pub last_event_at: DateTime<Utc>,
    pub synced_at: DateTime<Utc>,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn clean(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

impl Federation {
    /// Checks a call from another node: named node, time within the window, a fresh nonce,
    /// and the signature of the node's registered key (or, for a node registering, of the key
    /// `offered`). A replay is refused: the nonce is spent here, in a transaction of its own.
    pub async fn check_call(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        offered: Option<&str>,
    ) -> Result<Caller> {
        let caller = self
            .verify_call(method, path_and_query, headers, body, offered)
            .await?;
        self.spend_alone(&caller).await?;
        Ok(caller)
    }

    /// Spends a verified call's nonce in a transaction of its own.
    pub(crate) async fn spend_alone(&self, caller: &Caller) -> Result<()> {
        let mut tx = Tx::begin(&self.db).await?;
        self.spend(&mut tx, caller).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spends a verified call's nonce in `tx`, so that the call's changes and the nonce are
    /// kept together or not at all; a nonce spent before is a replay. Every so many calls,
    /// nonces older than twice the time window are forgotten.
    pub(crate) async fn spend(&self, tx: &mut Tx<'_>, caller: &Caller) -> Result<()> {
        let fresh = on_tx!(tx, c => sqlx::query(
            "INSERT INTO federation_nonces (node_id, nonce, seen_at) VALUES ($1, $2, $3) ON CONFLICT (node_id, nonce) DO NOTHING"
        ).bind(&caller.node).bind(&caller.nonce).bind(caller.checked_at).execute(c).await.map(|r| r.rows_affected()))?;
        if fresh == 0 {
            return Err(bad_signature(
                "lời gọi này đã được gửi trước đó (phát lại)",
                "this call was made before (a replay)",
            ));
        }
        if CALLS.fetch_add(1, Ordering::Relaxed).is_multiple_of(200) {
            let before = caller.checked_at - Duration::seconds(rules::WINDOW_SECS * 2);
            on_tx!(tx, c => sqlx::query("DELETE FROM federation_nonces WHERE seen_at < $1")
                .bind(before).execute(c).await.map(|_| ()))?;
        }
        Ok(())
    }

    /// Checks a call's name, time window and signature, without spending its nonce: the
    /// caller spends it with [`Federation::spend`] in the transaction of what the call does.
    pub(crate) async fn verify_call(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        offered: Option<&str>,
    ) -> Result<Caller> {
        self.need_role(NodeRole::National)?;
        let node = header(headers, H_NODE);
        if !rules::valid_node_id(node) {
            return Err(bad_signature(
                "thiếu hoặc sai tên hệ thống gọi (Motcua-Node)",
                "the calling node is not named rightly (Motcua-Node)",
            ));
        }
        let Ok(date) = header(headers, H_DATE).parse::<i64>() else {
            return Err(bad_signature(
                "thiếu thời điểm ký (Motcua-Date)",
                "the signing time is missing (Motcua-Date)",
            ));
        };
        let nonce = header(headers, H_NONCE);
        if !rules::valid_nonce(nonce) {
            return Err(bad_signature(
                "thiếu hoặc sai số dùng một lần (Motcua-Nonce)",
                "the nonce is missing or malformed (Motcua-Nonce)",
            ));
        }
        let now = self.clock.now();
        if !rules::in_window(now.timestamp(), date) {
            return Err(bad_signature(
                "thời điểm ký lệch quá 5 phút so với hệ thống quốc gia",
                "the signing time is more than five minutes from the national node's",
            ));
        }
        let known: Option<(String, String, String)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT public_key, status, agencies FROM federation_nodes WHERE id = $1"
        ).bind(node).fetch_optional(c).await)?;
        let key = match (&known, offered) {
            (Some((k, _, _)), _) => k.clone(),
            (None, Some(o)) => o.to_string(),
            (None, None) => {
                return Err(bad_signature(
                    "hệ thống này chưa đăng ký với hệ thống quốc gia",
                    "this node has not registered with the national node",
                ));
            }
        };
        let message = rules::canonical(method, path_and_query, node, date, nonce, body);
        if !crate::keys::verify(&key, &message, header(headers, H_SIGNATURE)) {
            return Err(bad_signature(
                "chữ ký không khớp với khoá của hệ thống",
                "the signature does not match the node's key",
            ));
        }
        let (status, agencies) = match known {
            Some((_, s, a)) => (Some(s), serde_json::from_str(&a).unwrap_or_default()),
            None => (None, Vec::new()),
        };
        Ok(Caller {
            node: node.to_string(),
            status,
            agencies,
            nonce: nonce.to_string(),
            checked_at: now,
        })
    }

    /// A local node asks to join, or says again who it is. A new node waits for a national
    /// operator; a known one may change its name and address, and its agencies while it
    /// waits, never its key.
    pub async fn register(&self, caller: &Caller, r: &Registration) -> Result<NodeView> {
        if r.node != caller.node {
            return Err(invalid(
                "node",
                "tên hệ thống khác với tên đã ký",
                "the node differs from the one that signed",
            ));
        }
        if !clean(&r.name, 200) {
            return Err(invalid(
                "name",
                "tên hệ thống trống hoặc quá dài",
                "the name is empty or too long",
            ));
        }
        if !(r.url.starts_with("http://") || r.url.starts_with("https://")) || !clean(&r.url, 300) {
            return Err(invalid(
                "url",
                "địa chỉ phải bắt đầu bằng http:// hoặc https://",
                "the address must start with http:// or https://",
            ));
        }
        if r.agencies.is_empty()
            || r.agencies.len() > 1000
            || !r.agencies.iter().all(|a| rules::valid_pattern(a))
        {
            return Err(invalid(
                "agencies",
                "danh sách cơ quan trống hoặc có mã sai (mã, hoặc *.H26)",
                "the agencies are empty or malformed (codes, or *.H26)",
            ));
        }
        let now = self.clock.now();
        let agencies = serde_json::to_string(&r.agencies).unwrap_or_else(|_| "[]".into());
        let mut tx = Tx::begin(&self.db).await?;
        let known: Option<(String, String)> = on_tx!(&mut tx, c => sqlx::query_as(
            "SELECT public_key, status FROM federation_nodes WHERE id = $1"
        ).bind(&r.node).fetch_optional(&mut *c).await)?;
        match known {
            None => {
                on_tx!(&mut tx, c => sqlx::query(
                    "INSERT INTO federation_nodes (id, name, url, public_key, agencies, status, registered_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)"
                ).bind(&r.node).bind(r.name.trim()).bind(r.url.trim()).bind(&r.public_key).bind(&agencies).bind(now)
                .execute(&mut *c).await.map(|_| ()))?;
                audit::append(
                    &mut tx,
                    now,
                    &Entry {
                        actor: &format!("node/{}", r.node),
                        action: "federation.node.register",
                        subject: &format!("node/{}", r.node),
                        data: json!({ "name": r.name, "url": r.url, "public_key": r.public_key, "agencies": r.agencies }),
                    },
                )
                .await?;
            }
            Some((key, _)) if key != r.public_key => {
                return Err(refused(
                    409,
                    "node_key_changed",
                    "hệ thống đã đăng ký với khoá khác; hãy nhờ vận hành quốc gia xoá đăng ký cũ",
                    "the node is registered with another key; ask a national operator to remove the old registration",
                ));
            }
            Some((_, status)) => {
                on_tx!(&mut tx, c => sqlx::query(
                    "UPDATE federation_nodes SET name = $2, url = $3, last_seen_at = $4, \
                     agencies = CASE WHEN status = 'pending' THEN $5 ELSE agencies END WHERE id = $1"
                ).bind(&r.node).bind(r.name.trim()).bind(r.url.trim()).bind(now).bind(&agencies)
                .execute(&mut *c).await.map(|_| ()))?;
                let _ = status;
            }
        }
        tx.commit().await?;
        self.node(&r.node).await
    }

    /// A local node's single sign-on client at this node's identity provider, made at its
    /// first request: public, with PKCE, first-party (no consent asked), for one redirect URI
    /// under the node's registered address.
    pub async fn sso_client(
        &self,
        caller: &Caller,
        r: &crate::SsoRequest,
    ) -> Result<crate::SsoClient> {
        if caller.status.as_deref() != Some("active") {
            return Err(refused(
                403,
                "node_not_active",
                "hệ thống chưa được chấp nhận hoặc đang bị đình chỉ",
                "the node is not approved, or is suspended",
            ));
        }
        let node = self.node(&caller.node).await?;
        let base = format!("{}/", node.url.trim_end_matches('/'));
        if !r.redirect_uri.starts_with(&base) || !clean(&r.redirect_uri, 300) {
            return Err(invalid(
                "redirect_uri",
                "địa chỉ quay về phải nằm dưới địa chỉ đã đăng ký của hệ thống",
                "the redirect URI must be under the node's registered address",
            ));
        }
        let issuer = self.identity.issuer().to_string();
        if let Some(id) = &node.sso_client_id
            && let Some(c) = self.identity.client(id).await?
            && c.redirect_uris.contains(&r.redirect_uri)
        {
            return Ok(crate::SsoClient {
                issuer,
                client_id: c.client_id,
                redirect_uri: r.redirect_uri.clone(),
            });
        }
        let c = self
            .identity
            .register_first_party(&node.name, &r.redirect_uri, &format!("node/{}", node.id))
            .await?;
        on_db!(&self.db, c2 => sqlx::query("UPDATE federation_nodes SET sso_client_id = $2 WHERE id = $1")
            .bind(&node.id).bind(&c.client_id).execute(c2).await.map(|_| ()))?;
        Ok(crate::SsoClient {
            issuer,
            client_id: c.client_id,
            redirect_uri: r.redirect_uri.clone(),
        })
    }

    /// One node.
    pub async fn node(&self, id: &str) -> Result<NodeView> {
        let mut v: NodeView = on_db!(&self.db, c => sqlx::query_as(
            "SELECT * FROM federation_nodes WHERE id = $1"
        ).bind(id).fetch_optional(c).await)?
        .ok_or_else(|| FederationError::NotFound(id.to_string()))?;
        v.events_held = v.events_received - v.events_applied;
        v.dossiers = on_db!(&self.db, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM federation_dossiers WHERE node_id = $1"
        ).bind(id).fetch_one(c).await)?;
        Ok(v)
    }

    /// Every local node, with its lag (operators).
    pub async fn nodes(&self, p: &Principal) -> Result<Vec<NodeView>> {
        self.allow_manage(p).await?;
        self.need_role(NodeRole::National)?;
        list_nodes(&self.db).await
    }

    /// Approves, suspends or resumes a node (operators), in the audit chain.
    pub async fn decide(&self, p: &Principal, id: &str, m: NodeMove) -> Result<NodeView> {
        self.allow_manage(p).await?;
        self.need_role(NodeRole::National)?;
        set_status(
            &self.db,
            self.clock.now(),
            &format!("account/{}", p.id),
            id,
            m,
        )
        .await?;
        self.node(id).await
    }

    /// A citizen's dossiers from every local node (by their identification number), newest
    /// change first, with the status their events leave them in.
    pub async fn dossiers_of_citizen(&self, p: &Principal) -> Result<Vec<FederatedDossier>> {
        self.need_role(NodeRole::National)?;
        if p.kind != identity::AccountKind::Citizen {
            return Ok(Vec::new());
        }
        let rows = on_db!(&self.db, c => sqlx::query_as(
            "SELECT node_id, dossier_id, applied_seq, code, agency_code, procedure_code, applicant_name, status, submitted_at, appointment_date, last_event_at, synced_at \
             FROM federation_dossiers WHERE applicant_cccd = $1 ORDER BY last_event_at DESC LIMIT 500"
        ).bind(&p.login).fetch_all(c).await)?;
        Ok(rows)
    }

    /// The registered nodes' names and addresses, by id (for pages that link to them).
    pub async fn node_addresses(&self) -> Result<HashMap<String, (String, String)>> {
        let rows: Vec<(String, String, String)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, name, url FROM federation_nodes"
        ).fetch_all(c).await)?;
        Ok(rows.into_iter().map(|(id, n, u)| (id, (n, u))).collect())
    }

    /// The dossiers known from one node, by id after `after` (operators).
    pub async fn node_dossiers(
        &self,
        p: &Principal,
        node: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<FederatedDossier>> {
        self.allow_manage(p).await?;
        self.need_role(NodeRole::National)?;
        let rows = on_db!(&self.db, c => sqlx::query_as(
            "SELECT node_id, dossier_id, applied_seq, code, agency_code, procedure_code, applicant_name, status, submitted_at, appointment_date, last_event_at, synced_at \
             FROM federation_dossiers WHERE node_id = $1 AND dossier_id > $2 ORDER BY dossier_id LIMIT $3"
        ).bind(node).bind(after).bind(limit.clamp(1, 1000)).fetch_all(c).await)?;
        Ok(rows)
    }

    /// Takes a request of events from an active node: each new one stored, each known one
    /// ignored, each dossier's events applied in order as far as they run without a gap.
    /// The call's nonce is spent in the same transaction, so a request is kept with its nonce
    /// or not at all (and one durable commit serves both).
    pub async fn receive(&self, caller: &Caller, batch: SyncBatch) -> Result<SyncAnswer> {
        let _turn = match self.db.backend() {
            kernel::db::Backend::Sqlite => Some(self.receiving.lock().await),
            kernel::db::Backend::Postgres => None,
        };
        let mut tx = Tx::begin(&self.db).await?;
        self.spend(&mut tx, caller).await?;
        if let Err(e) = Self::admissible(caller, &batch) {
            tx.commit().await?;
            return Err(e);
        }
        self.receive_in(tx, caller, batch).await
    }

    /// Whether an active node sent a request of an allowed size.
    fn admissible(caller: &Caller, batch: &SyncBatch) -> Result<()> {
        match caller.status.as_deref() {
            Some("active") => {}
            Some(s) => {
                return Err(refused(
                    403,
                    "node_not_active",
                    format!("hệ thống chưa được chấp nhận hoặc đang bị đình chỉ ({s})"),
                    format!("the node is not approved, or is suspended ({s})"),
                ));
            }
            None => {
                return Err(bad_signature(
                    "hệ thống này chưa đăng ký",
                    "this node has not registered",
                ));
            }
        }
        if batch.events.len() > crate::MAX_BATCH_EVENTS {
            return Err(invalid(
                "events",
                format!("tối đa {} sự kiện mỗi lần gửi", crate::MAX_BATCH_EVENTS),
                format!("at most {} events a request", crate::MAX_BATCH_EVENTS),
            ));
        }
        Ok(())
    }

    async fn receive_in(
        &self,
        mut tx: Tx<'static>,
        caller: &Caller,
        batch: SyncBatch,
    ) -> Result<SyncAnswer> {
        let mut answer = SyncAnswer::default();
        let mut accepted: Vec<&SyncEvent> = Vec::with_capacity(batch.events.len());
        let mut seen: HashSet<(&str, i64)> = HashSet::new();
        for e in &batch.events {
            let reason = if !clean(&e.dossier_id, 64)
                || !clean(&e.event_id, 64)
                || e.seq < 1
                || !clean(&e.to_status, 40)
                || !clean(&e.agency_code, 60)
                || !clean(&e.applicant_name, 300)
            {
                Some("invalid")
            } else if !rules::agency_matches(&caller.agencies, &e.agency_code) {
                Some("agency_not_yours")
            } else {
                None
            };
            match reason {
                Some(r) => answer.refused.push(RefusedEvent {
                    dossier_id: e.dossier_id.clone(),
                    seq: e.seq,
                    reason: r.to_string(),
                }),
                None => {
                    if seen.insert((e.dossier_id.as_str(), e.seq)) {
                        accepted.push(e);
                    } else {
                        answer.duplicates += 1;
                    }
                }
            }
        }
        let now = self.clock.now();
        if !accepted.is_empty() {
            let stored = match &mut tx {
                Tx::Sqlite(t) => {
                    // Rows as bound values: SQLite stores each body as it comes, unparsed.
                    let mut stored = 0;
                    for chunk in accepted.chunks(sqlite_rows(6)) {
                        let sql = format!(
                            "INSERT INTO federation_events (node_id, dossier_id, seq, event_id, received_at, body) VALUES {} \
                             ON CONFLICT (node_id, dossier_id, seq) DO NOTHING",
                            values(chunk.len(), "(?, ?, ?, ?, ?, ?)")
                        );
                        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                        for e in chunk {
                            q = q
                                .bind(&caller.node)
                                .bind(&e.dossier_id)
                                .bind(e.seq)
                                .bind(&e.event_id)
                                .bind(now)
                                .bind(serde_json::to_string(e).unwrap_or_else(|_| "null".into()));
                        }
                        stored += q.execute(&mut **t).await?.rows_affected();
                    }
                    stored
                }
                Tx::Postgres(t) => {
                    // Columns bound as arrays: PostgreSQL reads each body once, as it stores it.
                    let ids: Vec<&str> = accepted.iter().map(|e| e.dossier_id.as_str()).collect();
                    let seqs: Vec<i64> = accepted.iter().map(|e| e.seq).collect();
                    let event_ids: Vec<&str> =
                        accepted.iter().map(|e| e.event_id.as_str()).collect();
                    let bodies: Vec<String> = accepted
                        .iter()
                        .map(|e| serde_json::to_string(e).unwrap_or_else(|_| "null".into()))
                        .collect();
                    sqlx::query(
                        "INSERT INTO federation_events (node_id, dossier_id, seq, event_id, received_at, body) \
                         SELECT $1, d, s, i, $2, b FROM UNNEST($3::text[], $4::bigint[], $5::text[], $6::text[]) AS t(d, s, i, b) \
                         ON CONFLICT (node_id, dossier_id, seq) DO NOTHING",
                    )
                    .bind(&caller.node)
                    .bind(now)
                    .bind(&ids)
                    .bind(&seqs)
                    .bind(&event_ids)
                    .bind(&bodies)
                    .execute(&mut **t)
                    .await?
                    .rows_affected()
                }
            };
            answer.stored = stored;
            if (stored as usize) < accepted.len() {
                // Some were known: a repeat, or another event under the same number.
                let keys = Value::Array(
                    accepted
                        .iter()
                        .map(|e| json!({ "d": e.dossier_id, "s": e.seq, "e": e.event_id }))
                        .collect(),
                )
                .to_string();
                let clashes: Vec<(String, i64)> = on_tx!(&mut tx, c => sqlx::query_as(match tx_backend(c) {
                    Backend::Sqlite => "SELECT f.dossier_id, f.seq FROM federation_events f JOIN json_each($2) j \
                         ON f.node_id = $1 AND f.dossier_id = j.value->>'d' AND f.seq = j.value->>'s' \
                         WHERE f.event_id <> j.value->>'e'",
                    Backend::Postgres => "SELECT f.dossier_id, f.seq FROM federation_events f \
                         JOIN jsonb_to_recordset($2::jsonb) AS j(d text, s bigint, e text) \
                         ON f.node_id = $1 AND f.dossier_id = j.d AND f.seq = j.s WHERE f.event_id <> j.e",
                }).bind(&caller.node).bind(&keys).fetch_all(&mut *c).await)?;
                answer.duplicates += accepted.len() as u64 - stored - clashes.len() as u64;
                for (d, s) in clashes {
                    answer.refused.push(RefusedEvent {
                        dossier_id: d,
                        seq: s,
                        reason: "conflict".into(),
                    });
                }
            }
            let lag_ms = accepted
                .iter()
                .map(|e| e.written_at)
                .min()
                .map(|w| (now - w).num_milliseconds().max(0));
            // Unless some were known already (and so may differ from what is stored), the
            // events of this request are read from it rather than from the database.
            let fresh = stored as usize == accepted.len();
            let (applied, held) = self
                .apply(&mut tx, &caller.node, &accepted, fresh, now)
                .await?;
            answer.applied = applied;
            answer.held = held;
            on_tx!(&mut tx, c => sqlx::query(
                "UPDATE federation_nodes SET last_seen_at = $2, last_batch_at = $2, last_lag_ms = COALESCE($3, last_lag_ms), \
                 events_received = events_received + $4, events_applied = events_applied + $5, events_refused = events_refused + $6 WHERE id = $1"
            ).bind(&caller.node).bind(now).bind(lag_ms).bind(stored as i64).bind(applied as i64)
            .bind(answer.refused.len() as i64).execute(&mut *c).await.map(|_| ()))?;
        } else {
            on_tx!(&mut tx, c => sqlx::query(
                "UPDATE federation_nodes SET last_seen_at = $2, events_refused = events_refused + $3 WHERE id = $1"
            ).bind(&caller.node).bind(now).bind(answer.refused.len() as i64).execute(&mut *c).await.map(|_| ()))?;
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: &format!("node/{}", caller.node),
                action: "federation.events",
                subject: &format!("node/{}", caller.node),
                data: json!({
                    "received": batch.events.len(), "stored": answer.stored, "duplicates": answer.duplicates,
                    "applied": answer.applied, "held": answer.held, "refused": answer.refused.len(),
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(answer)
    }

    /// Applies the dossiers of `events` as far as their stored events run without a gap;
    /// answers the events applied and those still waiting. When `fresh`, every event of the
    /// request was stored just now, so the database is asked only for the others.
    async fn apply(
        &self,
        tx: &mut Tx<'static>,
        node: &str,
        events: &[&SyncEvent],
        fresh: bool,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64)> {
        // Per dossier, the numbers this request holds, when they run without a gap: the
        // stored events in that range are these ones.
        let mut ranges: BTreeMap<&str, (i64, i64, usize)> = BTreeMap::new();
        let mut mine: HashMap<(&str, i64), &SyncEvent> = HashMap::with_capacity(events.len());
        for e in events {
            let r = ranges
                .entry(e.dossier_id.as_str())
                .or_insert((e.seq, e.seq, 0));
            r.0 = r.0.min(e.seq);
            r.1 = r.1.max(e.seq);
            r.2 += 1;
            mine.insert((e.dossier_id.as_str(), e.seq), e);
        }
        // Per dossier, its range when all of it came fresh in this request.
        let asked: Vec<(&str, Option<i64>, Option<i64>)> = ranges
            .iter()
            .map(|(d, (lo, hi, n))| {
                if fresh && (hi - lo + 1) as usize == *n {
                    (*d, Some(*lo), Some(*hi))
                } else {
                    (*d, None, None)
                }
            })
            .collect();
        // The dossiers are looked up one by one by key, however many the node has (in SQLite,
        // CROSS JOIN keeps the list of dossiers as the outer loop).
        let mut waiting: Vec<(String, i64, i64, Option<String>)> = Vec::new();
        match &mut *tx {
            Tx::Sqlite(t) => {
                for chunk in asked.chunks(sqlite_rows(3)) {
                    let sql = format!(
                        "WITH i(d, lo, hi) AS (VALUES {}) \
                         SELECT e.dossier_id, e.seq, COALESCE(d.applied_seq, 0), \
                         CASE WHEN e.seq BETWEEN i.lo AND i.hi AND e.seq <> COALESCE(d.applied_seq, 0) THEN NULL ELSE e.body END \
                         FROM i CROSS JOIN federation_events e ON e.node_id = ? AND e.dossier_id = i.d \
                         LEFT JOIN federation_dossiers d ON d.node_id = ? AND d.dossier_id = i.d \
                         WHERE e.seq >= COALESCE(d.applied_seq, 0)",
                        values(chunk.len(), "(?, ?, ?)")
                    );
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                    for (d, lo, hi) in chunk {
                        q = q.bind(*d).bind(*lo).bind(*hi);
                    }
                    q = q.bind(node).bind(node);
                    waiting.extend(q.fetch_all(&mut **t).await?);
                }
            }
            Tx::Postgres(t) => {
                let asked = Value::Array(
                    asked
                        .iter()
                        .map(|(d, lo, hi)| json!({ "d": d, "lo": lo, "hi": hi }))
                        .collect(),
                )
                .to_string();
                waiting = sqlx::query_as(
                    "SELECT i.d, e.seq, a.applied, \
                     CASE WHEN e.seq BETWEEN i.lo AND i.hi AND e.seq <> a.applied THEN NULL ELSE e.body END \
                     FROM jsonb_to_recordset($2::jsonb) AS i(d text, lo bigint, hi bigint) \
                     CROSS JOIN LATERAL (SELECT COALESCE((SELECT applied_seq FROM federation_dossiers WHERE node_id = $1 AND dossier_id = i.d), 0) AS applied) a \
                     JOIN LATERAL (SELECT seq, body FROM federation_events WHERE node_id = $1 AND dossier_id = i.d AND seq >= a.applied) e ON true",
                )
                .bind(node)
                .bind(&asked)
                .fetch_all(&mut **t)
                .await?;
            }
        }
        // Per dossier: the number applied, the event applied last (for what it counted in
        // the figures), and the events after it.
        type Waiting<'a> = (i64, Option<SyncEvent>, Vec<(i64, Cow<'a, SyncEvent>)>);
        let mut per: BTreeMap<String, Waiting> = BTreeMap::new();
        for (d, s, a, body) in waiting {
            let event = match body {
                Some(b) => serde_json::from_str::<SyncEvent>(&b).ok().map(Cow::Owned),
                None => mine.get(&(d.as_str(), s)).map(|e| Cow::Borrowed(*e)),
            };
            let w = per.entry(d).or_insert_with(|| (a, None, Vec::new()));
            if s == a {
                w.1 = event.map(Cow::into_owned);
            } else if let Some(e) = event {
                w.2.push((s, e));
            }
        }
        let mut applied = 0u64;
        let mut held = 0u64;
        let mut rows: Vec<Applied> = Vec::new();
        let mut figures = Cube::default();
        for (d, (from, before, evs)) in per {
            let seqs: Vec<i64> = evs.iter().map(|(s, _)| *s).collect();
            let to = rules::advance(from, &seqs);
            held += seqs.iter().filter(|s| **s > to).count() as u64;
            if to == from {
                continue;
            }
            let Some(last) = evs.iter().find(|(s, _)| *s == to).map(|(_, e)| e) else {
                continue;
            };
            applied += (to - from) as u64;
            // The report figures move by what the dossier counts now less what it counted,
            // and by each supplement asked for in between, in this same transaction.
            if let Some(b) = before.as_ref().and_then(SyncEvent::facts) {
                figures.add(&b, -1);
            }
            if let Some(a) = last.facts() {
                figures.add(&a, 1);
            }
            for e in evs
                .iter()
                .filter(|(s, _)| *s > from && *s <= to)
                .map(|(_, e)| e)
                .filter(|e| e.action == "request_supplement")
            {
                figures.supplement(
                    &e.agency_code,
                    &e.procedure_code,
                    kernel::clock::to_local(e.at).date(),
                );
            }
            rows.push(Applied {
                dossier_id: d,
                seq: to,
                event: last.as_ref().clone(),
            });
        }
        if rows.is_empty() {
            return Ok((applied, held));
        }
        report::rollup::apply(tx, &figures).await?;
        match tx {
            Tx::Sqlite(t) => {
                for chunk in rows.chunks(sqlite_rows(13)) {
                    let sql = UPSERT_DOSSIERS_SQLITE.replace(
                        "{values}",
                        &values(chunk.len(), "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for r in chunk {
                        let e = &r.event;
                        q = q
                            .bind(node)
                            .bind(&r.dossier_id)
                            .bind(r.seq)
                            .bind(&e.code)
                            .bind(&e.agency_code)
                            .bind(&e.procedure_code)
                            .bind(&e.applicant_cccd)
                            .bind(&e.applicant_name)
                            .bind(&e.to_status)
                            .bind(e.submitted_at)
                            .bind(e.appointment_date)
                            .bind(e.at)
                            .bind(now);
                    }
                    q.execute(&mut **t).await?;
                }
            }
            Tx::Postgres(t) => {
                // Columns bound as arrays, as the events are.
                let col = |f: fn(&Applied) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
                let opt = |f: fn(&Applied) -> Option<&str>| {
                    rows.iter().map(f).collect::<Vec<Option<&str>>>()
                };
                sqlx::query(UPSERT_DOSSIERS_POSTGRES)
                    .bind(node)
                    .bind(now)
                    .bind(col(|r| &r.dossier_id))
                    .bind(rows.iter().map(|r| r.seq).collect::<Vec<i64>>())
                    .bind(opt(|r| r.event.code.as_deref()))
                    .bind(col(|r| &r.event.agency_code))
                    .bind(col(|r| &r.event.procedure_code))
                    .bind(opt(|r| r.event.applicant_cccd.as_deref()))
                    .bind(col(|r| &r.event.applicant_name))
                    .bind(col(|r| &r.event.to_status))
                    .bind(
                        rows.iter()
                            .map(|r| r.event.submitted_at)
                            .collect::<Vec<_>>(),
                    )
                    .bind(
                        rows.iter()
                            .map(|r| r.event.appointment_date)
                            .collect::<Vec<_>>(),
                    )
                    .bind(rows.iter().map(|r| r.event.at).collect::<Vec<_>>())
                    .execute(&mut **t)
                    .await?;
            }
        }
        Ok((applied, held))
    }
}

/// A dossier moved forward by a request: its id, the number of its last event applied, and
/// that event.
struct Applied {
    dossier_id: String,
    seq: i64,
    event: SyncEvent,
}

const UPSERT_DOSSIERS_SQLITE: &str = "INSERT INTO federation_dossiers (node_id, dossier_id, applied_seq, code, agency_code, procedure_code, applicant_cccd, applicant_name, status, submitted_at, appointment_date, last_event_at, synced_at) \
                 VALUES {values} \
                 ON CONFLICT (node_id, dossier_id) DO UPDATE SET applied_seq = excluded.applied_seq, code = excluded.code, agency_code = excluded.agency_code, \
                 procedure_code = excluded.procedure_code, applicant_cccd = excluded.applicant_cccd, applicant_name = excluded.applicant_name, status = excluded.status, \
                 submitted_at = excluded.submitted_at, appointment_date = excluded.appointment_date, last_event_at = excluded.last_event_at, synced_at = excluded.synced_at \
                 WHERE excluded.applied_seq > federation_dossiers.applied_seq";

const UPSERT_DOSSIERS_POSTGRES: &str = "INSERT INTO federation_dossiers (node_id, dossier_id, applied_seq, code, agency_code, procedure_code, applicant_cccd, applicant_name, status, submitted_at, appointment_date, last_event_at, synced_at) \
                 SELECT $1, r.d, r.a, r.code, r.agency_code, r.procedure_code, r.applicant_cccd, r.applicant_name, r.status, r.submitted_at, r.appointment_date, r.at, $2 \
                 FROM UNNEST($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::date[], $13::timestamptz[]) \
                 AS r(d, a, code, agency_code, procedure_code, applicant_cccd, applicant_name, status, submitted_at, appointment_date, at) \
                 ON CONFLICT (node_id, dossier_id) DO UPDATE SET applied_seq = excluded.applied_seq, code = excluded.code, agency_code = excluded.agency_code, \
                 procedure_code = excluded.procedure_code, applicant_cccd = excluded.applicant_cccd, applicant_name = excluded.applicant_name, status = excluded.status, \
                 submitted_at = excluded.submitted_at, appointment_date = excluded.appointment_date, last_event_at = excluded.last_event_at, synced_at = excluded.synced_at \
                 WHERE excluded.applied_seq > federation_dossiers.applied_seq";

/// How many rows of `cols` bound values one SQLite statement takes (it allows 32,766 values).
fn sqlite_rows(cols: usize) -> usize {
    (32_000 / cols).max(1)
}

/// `rows` copies of `row`, for a VALUES list. Its parameters are anonymous (`?`), bound in
/// order: SQLite finds a numbered parameter by a scan of all of them, for each one bound.
fn values(rows: usize, row: &str) -> String {
    vec![row; rows].join(", ")
}

/// Which database a connection of a transaction talks to (for the SQL that differs).
enum Backend {
    Sqlite,
    Postgres,
}

trait Which {
    fn which(&self) -> Backend;
}

impl Which for sqlx::SqliteConnection {
    fn which(&self) -> Backend {
        Backend::Sqlite
    }
}

impl Which for sqlx::PgConnection {
    fn which(&self) -> Backend {
        Backend::Postgres
    }
}

fn tx_backend<C: Which + ?Sized>(c: &C) -> Backend {
    c.which()
}

/// Approves, suspends or resumes a node on the national node's database, as `actor` (an
/// operator's account, or `cli` at the console), in the audit chain.
pub async fn set_status(
    db: &kernel::db::Db,
    now: DateTime<Utc>,
    actor: &str,
    id: &str,
    m: NodeMove,
) -> Result<()> {
    let (from, to, action): (&[&str], &str, &str) = match m {
        NodeMove::Approve => (&["pending"], "active", "federation.node.approve"),
        NodeMove::Suspend => (
            &["pending", "active"],
            "suspended",
            "federation.node.suspend",
        ),
        NodeMove::Resume => (&["suspended"], "active", "federation.node.resume"),
    };
    let mut tx = Tx::begin(db).await?;
    let status: Option<String> = on_tx!(&mut tx, c => sqlx::query_scalar(
        "SELECT status FROM federation_nodes WHERE id = $1"
    ).bind(id).fetch_optional(&mut *c).await)?;
    let Some(status) = status else {
        return Err(FederationError::NotFound(id.to_string()));
    };
    if !from.contains(&status.as_str()) {
        return Err(refused(
            409,
            "node_status_conflict",
            format!("hệ thống đang ở trạng thái {status}, không thực hiện được việc này"),
            format!("the node is {status}: this cannot be done now"),
        ));
    }
    let by = actor.strip_prefix("account/").unwrap_or(actor);
    on_tx!(&mut tx, c => sqlx::query(
        "UPDATE federation_nodes SET status = $2, decided_at = $3, decided_by = $4 WHERE id = $1"
    ).bind(id).bind(to).bind(now).bind(by).execute(&mut *c).await.map(|_| ()))?;
    audit::append(
        &mut tx,
        now,
        &Entry {
            actor,
            action,
            subject: &format!("node/{id}"),
            data: json!({ "from": status, "to": to }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every local node known to a national node's database, with its lag.
pub async fn list_nodes(db: &kernel::db::Db) -> Result<Vec<NodeView>> {
    let mut all: Vec<NodeView> = on_db!(db, c => sqlx::query_as(
        "SELECT * FROM federation_nodes ORDER BY id"
    ).fetch_all(c).await)?;
    let counts: Vec<(String, i64)> = on_db!(db, c => sqlx::query_as(
        "SELECT node_id, COUNT(*) FROM federation_dossiers GROUP BY node_id"
    ).fetch_all(c).await)?;
    let counts: BTreeMap<String, i64> = counts.into_iter().collect();
    for v in &mut all {
        v.events_held = v.events_received - v.events_applied;
        v.dossiers = counts.get(&v.id).copied().unwrap_or(0);
    }
    Ok(all)
}

/// Rows read at a time when the figures are recomputed.
const FIGURES_PAGE: i64 = 2000;

fn unreadable(e: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

impl Federation {
    /// What the federated dossiers add to the report figures, recomputed from the events
    /// held: each dossier as its last applied event describes it, and each supplement asked
    /// for up to that event. It is what [`Federation::receive`] has added to the roll-ups,
    /// one difference at a time.
    async fn federated_figures(
        &self,
        tx: &mut Tx<'static>,
    ) -> std::result::Result<Cube, sqlx::Error> {
        let mut cube = Cube::default();
        if self.role() != NodeRole::National {
            return Ok(cube);
        }
        let mut after = (String::new(), String::new());
        loop {
            let rows: Vec<(String, String, String)> = on_tx!(&mut *tx, c => sqlx::query_as(
                "SELECT d.node_id, d.dossier_id, e.body FROM federation_dossiers d \
                 JOIN federation_events e ON e.node_id = d.node_id AND e.dossier_id = d.dossier_id AND e.seq = d.applied_seq \
                 WHERE (d.node_id, d.dossier_id) > ($1, $2) ORDER BY d.node_id, d.dossier_id LIMIT $3"
            ).bind(&after.0).bind(&after.1).bind(FIGURES_PAGE).fetch_all(&mut *c).await)?;
            let full = rows.len() as i64 == FIGURES_PAGE;
            for (node, dossier, body) in rows {
                let e: SyncEvent = serde_json::from_str(&body).map_err(unreadable)?;
                if let Some(f) = e.facts() {
                    cube.add(&f, 1);
                }
                after = (node, dossier);
            }
            if !full {
                break;
            }
        }
        let mut after = (String::new(), String::new(), 0i64);
        loop {
            let rows: Vec<(String, String, i64, String)> = on_tx!(&mut *tx, c => sqlx::query_as(
                "SELECT e.node_id, e.dossier_id, e.seq, e.body FROM federation_events e \
                 JOIN federation_dossiers d ON d.node_id = e.node_id AND d.dossier_id = e.dossier_id \
                 WHERE e.seq <= d.applied_seq AND e.body LIKE '%request_supplement%' \
                 AND (e.node_id, e.dossier_id, e.seq) > ($1, $2, $3) \
                 ORDER BY e.node_id, e.dossier_id, e.seq LIMIT $4"
            ).bind(&after.0).bind(&after.1).bind(after.2).bind(FIGURES_PAGE).fetch_all(&mut *c).await)?;
            let full = rows.len() as i64 == FIGURES_PAGE;
            for (node, dossier, seq, body) in rows {
                let e: SyncEvent = serde_json::from_str(&body).map_err(unreadable)?;
                if e.action == "request_supplement" {
                    cube.supplement(
                        &e.agency_code,
                        &e.procedure_code,
                        kernel::clock::to_local(e.at).date(),
                    );
                }
                after = (node, dossier, seq);
            }
            if !full {
                break;
            }
        }
        cube.prune();
        Ok(cube)
    }
}

impl report::Remote for Federation {
    fn cube<'a>(
        &'a self,
        tx: &'a mut Tx<'static>,
    ) -> report::BoxFuture<'a, std::result::Result<Cube, sqlx::Error>> {
        Box::pin(self.federated_figures(tx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_repeat_the_row() {
        assert_eq!(values(2, "(?, ?)"), "(?, ?), (?, ?)");
        assert_eq!(values(0, "(?)"), "");
        assert!(sqlite_rows(13) * 13 <= 32_766);
    }
}
