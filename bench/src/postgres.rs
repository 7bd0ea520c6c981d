//! The peer motcua's search is measured against: PostgreSQL full-text search as a careful
//! team would set it up for Vietnamese, without extra extensions beyond `unaccent`.
//!
//! One table `bench_procedures(code, name, body, tsv)`: the name weighted A, and under B what
//! a fair peer indexes besides (field name, result, description, document names); both folded
//! with `unaccent` through an immutable wrapper so that a GIN index can hold the vector. The
//! query is `plainto_tsquery` over the same folding, ranked by `ts_rank_cd`.

use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use catalog::model::CatalogFile;

use crate::measure::Target;

/// The query the peer runs for a search (the top ten).
pub const QUERY: &str = "SELECT code FROM bench_procedures \
    WHERE tsv @@ plainto_tsquery('simple', f_unaccent($1)) \
    ORDER BY ts_rank_cd(tsv, plainto_tsquery('simple', f_unaccent($1))) DESC LIMIT 10";

/// How many rows the query matches (before the top ten), for the report.
pub const COUNT: &str =
    "SELECT count(*) FROM bench_procedures WHERE tsv @@ plainto_tsquery('simple', f_unaccent($1))";

const SCHEMA: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    // unaccent() is only STABLE (it reads its dictionary by name); naming the dictionary and the
    // schema makes the wrapper safe to declare IMMUTABLE, which an index expression needs.
    "CREATE OR REPLACE FUNCTION f_unaccent(text) RETURNS text \
     LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT \
     AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$",
    "DROP TABLE IF EXISTS bench_procedures",
    "CREATE TABLE bench_procedures (code text PRIMARY KEY, name text NOT NULL, body text NOT NULL, tsv tsvector NOT NULL)",
];

const INSERT: &str = "INSERT INTO bench_procedures (code, name, body, tsv) \
    SELECT c, n, b, setweight(to_tsvector('simple', f_unaccent(n)), 'A') || setweight(to_tsvector('simple', f_unaccent(b)), 'B') \
    FROM UNNEST($1::text[], $2::text[], $3::text[]) AS t(c, n, b)";

const ROWS_PER_INSERT: usize = 2000;

/// Opens a pool of `connections` on the benchmark's database.
pub async fn connect(url: &str, connections: u32) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(connections.max(1))
        .min_connections(connections.max(1))
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .context("cannot connect to the benchmark's PostgreSQL database")
}

/// Creates the table and loads every procedure of `file`; returns the rows loaded and the
/// time taken (inserts, index build and ANALYZE).
pub async fn load(pool: &PgPool, file: &CatalogFile) -> anyhow::Result<(usize, Duration)> {
    let started = Instant::now();
    for stmt in SCHEMA {
        sqlx::query(*stmt)
            .execute(pool)
            .await
            .with_context(|| format!("PostgreSQL setup failed: {stmt}"))?;
    }
    let field_names: std::collections::HashMap<&str, &str> = file
        .fields
        .iter()
        .map(|f| (f.code.as_str(), f.name.as_str()))
        .collect();
    let mut rows = 0;
    for chunk in file.procedures.chunks(ROWS_PER_INSERT) {
        let mut codes = Vec::with_capacity(chunk.len());
        let mut names = Vec::with_capacity(chunk.len());
        let mut bodies = Vec::with_capacity(chunk.len());
        for p in chunk {
            let mut body = String::new();
            for part in [
                field_names.get(p.field.as_str()).copied().unwrap_or(""),
                p.result.as_str(),
                p.description.as_str(),
            ] {
                body.push_str(part);
                body.push('\n');
            }
            for d in &p.documents {
                body.push_str(&d.name);
                body.push('\n');
            }
            codes.push(p.code.clone());
            names.push(p.name.clone());
            bodies.push(body);
        }
        sqlx::query(INSERT)
            .bind(&codes)
            .bind(&names)
            .bind(&bodies)
            .execute(pool)
            .await
            .context("bulk insert into bench_procedures failed")?;
        rows += chunk.len();
    }
    sqlx::query("CREATE INDEX bench_procedures_tsv ON bench_procedures USING gin (tsv)")
        .execute(pool)
        .await
        .context("creating the GIN index failed")?;
    sqlx::query("ANALYZE bench_procedures")
        .execute(pool)
        .await
        .context("ANALYZE failed")?;
    Ok((rows, started.elapsed()))
}

/// The server's version string, for the report.
pub async fn version(pool: &PgPool) -> anyhow::Result<String> {
    let v: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(pool)
        .await?;
    Ok(v)
}

/// PostgreSQL as a search target.
#[derive(Clone)]
pub struct Pg(pub PgPool);

impl Target for Pg {
    async fn codes(&self, q: &str) -> anyhow::Result<Vec<String>> {
        let codes: Vec<String> = sqlx::query_scalar(QUERY).bind(q).fetch_all(&self.0).await?;
        Ok(codes)
    }

    async fn hit(&self, q: &str) -> anyhow::Result<()> {
        self.codes(q).await.map(|_| ())
    }
}

impl Pg {
    /// Rows matched by a query.
    pub async fn matched(&self, q: &str) -> anyhow::Result<u64> {
        let n: i64 = sqlx::query_scalar(COUNT).bind(q).fetch_one(&self.0).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Drops the benchmark's database (best effort: it lives in a throwaway cluster anyway).
pub async fn drop_database(admin_url: &str, url: &str) {
    use sqlx::Connection;
    let Some((_, name)) = url.rsplit_once('/') else {
        return;
    };
    // The name comes from testkit (a prefix and a UUID); refuse anything else.
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return;
    }
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            eprintln!("  note: could not drop the benchmark database {name}: {e}");
        }
        let _ = conn.close().await;
    }
}
