//! The results of a search benchmark run: a Markdown section printed to standard output and
//! written between markers into `docs/BENCHMARKS.md`, so that a rerun replaces its section.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::measure::{CategoryScore, Load, Relevance, fmt_duration};
use crate::queries::Category;

pub const START: &str = "<!-- bench:search:start -->";
pub const END: &str = "<!-- bench:search:end -->";

/// The file's opening, written when it does not exist yet.
pub const INTRO: &str = "# Benchmarks

Benchmarks of motcua, run by the `motcua-bench` package (`bench/`). Each writes its own section
below, between markers, and a rerun replaces it; the numbers are those of the last run on the
machine it names.

## How to run

```sh
cargo build --release -p motcua -p motcua-bench
cargo run --release -p motcua-bench -- search            # 100,000 generated procedures, 10 s per load
cargo run --release -p motcua-bench -- search --procedures 5000 --seconds 2   # a quick check
```

PostgreSQL comes from `DATABASE_URL` when it is set (an administrative URL; the benchmark creates
its own database), otherwise from the throwaway cluster `testkit` starts with the machine's
`initdb` (PostgreSQL 15 or later, with the `unaccent` extension).

## What `search` measures

- **Data.** A fresh SQLite data folder with the demo catalogue (51 real procedures) and N
  generated ones, imported through the catalogue's own import. The same procedures are loaded
  into a fresh PostgreSQL database as `bench_procedures(code, name, body, tsv)`: the name with
  weight A and the field name, result, description and document names with weight B, folded with
  `unaccent`, under a GIN index. PostgreSQL answers with
  `tsv @@ plainto_tsquery('simple', f_unaccent($1))` ordered by `ts_rank_cd`, top 10.
- **Relevance.** A labelled set of queries (`bench/src/queries.rs`), each with the demo procedures
  that answer it, in four categories: typed with diacritics (`exact`), without (`unaccented`),
  with i and y swapped as the spelling reform allows (`i/y`, \"đăng kí\" for \"đăng ký\"), and with
  one typo in a word of four letters or more (`typo`). Recall@10 is the share of queries with a
  relevant procedure in the top ten; MRR is the mean of 1/rank of the first relevant one.
- **Latency and throughput.** The labelled queries in a loop for a fixed time: motcua's
  `Catalog::search` called directly (page of 10), motcua's HTTP API
  (`GET /api/v1/procedures?q=…&page_size=10&facets=false`) on a server in the benchmark's
  process and on the `motcua` binary, and PostgreSQL through a sqlx pool; with one client, then with many concurrent
  clients. motcua counts no facets here, as PostgreSQL's query counts none (the diagnostic shows
  the cost of facet counts). Latencies are per request, sorted; p50 and p99 are nearest-rank.
  Clients and servers share the machine's cores.
- **Diagnostic.** motcua with facet counts; the same catalogue with fuzzy matching turned off
  (an in-memory index built from the same database); and the median number of documents each
  system matches per query, to show where motcua's time goes and what the typo tolerance buys.
- **Startup and memory.** Time from spawning `motcua serve` to its first `200` on `/healthz`
  (polled every 10 ms), on a fresh data folder with `--demo` and on the folder holding the whole
  benchmark catalogue; resident memory (`VmRSS`) of that server idle, and its peak while it serves
  the concurrent HTTP load (sampled every 100 ms).
";

/// Everything one run found.
#[derive(Debug, Clone)]
pub struct Results {
    pub command: String,
    pub date: DateTime<Utc>,
    pub cores: usize,
    pub cpu: String,
    /// `/proc/loadavg` before and after the run (other work on the machine skews the figures).
    pub loadavg: String,
    pub pg_version: String,
    pub generated: usize,
    pub total: usize,
    pub queries: usize,
    pub clients: usize,
    pub seconds: u64,
    /// Setup steps and their time.
    pub setup: Vec<(String, Duration)>,
    pub catalog_1: Load,
    pub catalog_n: Load,
    pub pg_1: Load,
    pub pg_n: Load,
    pub http_1: Load,
    pub http_n: Load,
    pub binary_n: Load,
    pub motcua: Relevance,
    pub pg: Relevance,
    /// Diagnostic: motcua with fuzzy matching off.
    pub no_fuzzy_1: Load,
    /// Diagnostic: motcua in process with facet counts.
    pub facets_1: Load,
    pub no_fuzzy: Relevance,
    /// Median matched documents per query, by category (`None`: all queries).
    pub matched_motcua: BTreeMap<Option<Category>, u64>,
    pub matched_no_fuzzy: BTreeMap<Option<Category>, u64>,
    pub matched_pg: BTreeMap<Option<Category>, u64>,
    /// Queries whose HTTP top ten differed from the in-process one.
    pub http_differs: usize,
    pub motcua_misses: Vec<String>,
    pub pg_misses: Vec<String>,
    pub startup_fresh: Vec<Duration>,
    /// Startups on the benchmark's folder, and whether each rebuilt the search index.
    pub startup_full: Vec<(Duration, bool)>,
    pub rss_idle_kib: u64,
    pub rss_peak_kib: u64,
    pub rss_after_kib: u64,
    pub hwm_kib: u64,
    pub wall: Duration,
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort_unstable();
    s.get(s.len() / 2).copied().unwrap_or(Duration::ZERO)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.1}×", a / b)
    } else {
        "n/a".into()
    }
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

impl Results {
    /// The section, markers included.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let mut line = |l: &str| {
            s.push_str(l);
            s.push('\n');
        };
        line(START);
        line("## Search: motcua against PostgreSQL full-text search");
        line("");
        line(&format!("- Command: `{}`", self.command));
        line(&format!(
            "- Date: {} UTC; the whole run took {:.0} s",
            self.date.format("%Y-%m-%d %H:%M"),
            self.wall.as_secs_f64()
        ));
        line(&format!(
            "- Machine: {} cores, {}; load average {}; PostgreSQL {} (throwaway cluster, fsync off); motcua on SQLite",
            self.cores, self.cpu, self.loadavg, self.pg_version
        ));
        line(&format!(
            "- Catalogue: {} procedures ({} demo + {} generated); {} labelled queries; page of 10; {} s per load, {} concurrent clients",
            thousands(self.total),
            thousands(self.total.saturating_sub(self.generated)),
            thousands(self.generated),
            self.queries,
            self.seconds,
            self.clients
        ));
        let setup: Vec<String> = self
            .setup
            .iter()
            .map(|(what, d)| format!("{what} {:.1} s", d.as_secs_f64()))
            .collect();
        line(&format!("- Setup: {}", setup.join("; ")));
        line("");
        line("### Latency and throughput");
        line("");
        line("| system | clients | requests | req/s | p50 | p99 |");
        line("| --- | ---: | ---: | ---: | ---: | ---: |");
        let rows: [(&str, &Load); 7] = [
            ("motcua in process (`Catalog::search`)", &self.catalog_1),
            ("PostgreSQL (sqlx, 1 connection in use)", &self.pg_1),
            (
                "motcua HTTP API (server in the bench process)",
                &self.http_1,
            ),
            ("motcua in process (threads)", &self.catalog_n),
            ("PostgreSQL (sqlx, pool of clients connections)", &self.pg_n),
            (
                "motcua HTTP API (server in the bench process)",
                &self.http_n,
            ),
            (
                "motcua HTTP API (`motcua` binary on the benchmark's data folder)",
                &self.binary_n,
            ),
        ];
        for (name, l) in rows {
            let errors = if l.errors > 0 {
                format!(" ({} errors)", l.errors)
            } else {
                String::new()
            };
            line(&format!(
                "| {} | {} | {}{} | {:.0} | {} | {} |",
                name.replace("clients", &self.clients.to_string()),
                l.clients,
                thousands(l.requests),
                errors,
                l.throughput(),
                fmt_duration(l.p50),
                fmt_duration(l.p99)
            ));
        }
        line("");
        let p = |d: Duration| d.as_secs_f64();
        line(&format!(
            "- **PostgreSQL p50 / motcua p50, one client: {} in process** (target: at least 10×); {} over HTTP, \
             where motcua's figure includes HTTP, JSON and the client, and PostgreSQL's includes its wire protocol.",
            ratio(p(self.pg_1.p50), p(self.catalog_1.p50)),
            ratio(p(self.pg_1.p50), p(self.http_1.p50)),
        ));
        let by_cat: Vec<String> = Category::ALL
            .iter()
            .map(|c| {
                let of = |l: &Load| l.by_category.get(c).map(|(p50, _)| p(*p50)).unwrap_or(0.0);
                format!(
                    "{} {}",
                    c.label(),
                    ratio(of(&self.pg_1), of(&self.catalog_1))
                )
            })
            .collect();
        line(&format!(
            "- The same ratio by category, in process: {} (PostgreSQL matches nothing for the i/y and typo \
             queries, so its figure there is the cost of finding nothing).",
            by_cat.join(", ")
        ));
        line(&format!(
            "- Throughput with {} concurrent clients: motcua in process / PostgreSQL = {}; motcua over HTTP / PostgreSQL = {} \
             (in-process server), {} (binary). Like for like at the query level: on both sides {} clients each run whole \
             top-10 queries back to back, PostgreSQL on a pool of {} connections; motcua's HTTP figure also pays for \
             HTTP and JSON (neither side counts facets), and all clients run on the same {} cores as the servers.",
            self.clients,
            ratio(self.catalog_n.throughput(), self.pg_n.throughput()),
            ratio(self.http_n.throughput(), self.pg_n.throughput()),
            ratio(self.binary_n.throughput(), self.pg_n.throughput()),
            self.clients,
            self.clients,
            self.cores,
        ));
        line(&format!(
            "- p50 with {} clients: PostgreSQL / motcua over HTTP = {} (the in-process threads' p50 is left out: with \
             {} threads on {} cores it measures the calls that were not preempted, not queueing).",
            self.clients,
            ratio(p(self.pg_n.p50), p(self.http_n.p50)),
            self.clients,
            self.cores,
        ));
        line("");
        line("### Relevance in the top ten");
        line("");
        line(
            "Recall@10 is the share of a query's relevant procedures (one to three demo procedures per query) that are in its top ten, averaged over the queries; \"answered\" is the share of queries with at least one of them there; MRR is the mean reciprocal rank of the first.",
        );
        line("");
        line(
            "| category | queries | motcua recall@10 | answered | MRR | PostgreSQL recall@10 | answered | MRR |",
        );
        line("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for cat in Category::ALL {
            let m = self
                .motcua
                .by_category
                .get(&cat)
                .cloned()
                .unwrap_or_default();
            let g = self.pg.by_category.get(&cat).cloned().unwrap_or_default();
            line(&relevance_row(cat.label(), "", &m, &g));
        }
        line(&relevance_row(
            "**all**",
            "**",
            &self.motcua.all,
            &self.pg.all,
        ));
        line("");
        line(&format!(
            "- Over HTTP, motcua's top ten {}.",
            if self.http_differs == 0 {
                "was the same as in process for every query".to_string()
            } else {
                format!(
                    "differed from the in-process one for {} queries",
                    self.http_differs
                )
            }
        ));
        for (who, rel, misses) in [
            ("motcua", &self.motcua, &self.motcua_misses),
            ("PostgreSQL", &self.pg, &self.pg_misses),
        ] {
            if misses.is_empty() {
                line(&format!("- Missed by {who}: none."));
            } else {
                line(&format!(
                    "- Missed by {who} ({}): {}.",
                    rel.misses.len(),
                    misses.join("; ")
                ));
            }
        }
        line("");
        line("### Where motcua's time goes (diagnostic)");
        line("");
        line(
            "When every word as typed finds nothing, motcua matches the words the index does not hold (of `search.fuzzy_min_chars` letters or more) with one edit, then needs only three quarters of the words. Below, per category: \
             how many documents each system matches per query (median; motcua's figure is the `total` it reports), \
             motcua's p50 without and with facet counts, and the same catalogue with fuzzy matching off \
             (`fuzzy_min_chars` above any word; an in-memory index built from the same database), which shows \
             what the typo tolerance costs and what it buys.",
        );
        line("");
        line(
            "| category | matched docs, motcua (median) | matched, fuzzy off | matched, PostgreSQL | p50 motcua | p50 with facets | p50 fuzzy off | p50 PostgreSQL | recall@10 fuzzy off |",
        );
        line("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        let count = |m: &BTreeMap<Option<Category>, u64>, k: Option<Category>| {
            thousands(m.get(&k).copied().unwrap_or(0) as usize)
        };
        let p50 = |l: &Load, c: Category| {
            l.by_category
                .get(&c)
                .map(|(p, _)| fmt_duration(*p))
                .unwrap_or_else(|| "–".into())
        };
        for cat in Category::ALL {
            let k = Some(cat);
            line(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cat.label(),
                count(&self.matched_motcua, k),
                count(&self.matched_no_fuzzy, k),
                count(&self.matched_pg, k),
                p50(&self.catalog_1, cat),
                p50(&self.facets_1, cat),
                p50(&self.no_fuzzy_1, cat),
                p50(&self.pg_1, cat),
                pct(self
                    .no_fuzzy
                    .by_category
                    .get(&cat)
                    .map(|s| s.recall())
                    .unwrap_or(0.0)),
            ));
        }
        line(&format!(
            "| **all** | {} | {} | {} | {} | {} | {} | {} | {} |",
            count(&self.matched_motcua, None),
            count(&self.matched_no_fuzzy, None),
            count(&self.matched_pg, None),
            fmt_duration(self.catalog_1.p50),
            fmt_duration(self.facets_1.p50),
            fmt_duration(self.no_fuzzy_1.p50),
            fmt_duration(self.pg_1.p50),
            pct(self.no_fuzzy.all.recall()),
        ));
        line("");
        line("### Startup and memory (`motcua` binary)");
        line("");
        line("| what | median | runs |");
        line("| --- | ---: | --- |");
        let runs = |v: &[Duration]| v.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", ");
        line(&format!(
            "| fresh data folder, `serve --demo`: spawn → first 200 on `/healthz` | {} | {} |",
            ms(median(&self.startup_fresh)),
            runs(&self.startup_fresh)
        ));
        line(&format!(
            "| data folder holding {} procedures, `serve`: spawn → first 200 | {} | {} |",
            thousands(self.total),
            ms(median(
                &self
                    .startup_full
                    .iter()
                    .map(|(d, _)| *d)
                    .collect::<Vec<_>>()
            )),
            self.startup_full
                .iter()
                .map(|(d, rebuilt)| if *rebuilt {
                    format!("{} (index rebuilt)", ms(*d))
                } else {
                    ms(*d)
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
        line(&format!(
            "| RSS idle after start ({} procedures) | {} | |",
            thousands(self.total),
            mib(self.rss_idle_kib)
        ));
        line(&format!(
            "| RSS peak during the {}-client HTTP load (sampled every 100 ms) | {} | VmHWM {} |",
            self.clients,
            mib(self.rss_peak_kib),
            mib(self.hwm_kib)
        ));
        line(&format!(
            "| RSS after the load | {} | |",
            mib(self.rss_after_kib)
        ));
        line(END);
        s
    }
}

/// Writes `section` into `path`: in place of an earlier section between the markers, else at
/// the end; the file is created with [`INTRO`] when missing.
pub fn write_section(path: &Path, section: &str) -> anyhow::Result<()> {
    write_between(path, section, START, END)
}

/// Writes `section` into `path` between the given markers (which `section` carries).
pub fn write_between(path: &Path, section: &str, start: &str, end: &str) -> anyhow::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => INTRO.to_string(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let new = splice_between(&old, section, start, end);
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, new).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
fn splice(old: &str, section: &str) -> String {
    splice_between(old, section, START, END)
}

fn splice_between(old: &str, section: &str, start: &str, end_marker: &str) -> String {
    let section = section.trim_end();
    if let Some(a) = old.find(start)
        && let Some(b) = old[a..].find(end_marker)
    {
        let end = a + b + end_marker.len();
        return format!("{}{}{}", &old[..a], section, &old[end..]);
    }
    let mut out = old.trim_end().to_string();
    out.push_str("\n\n");
    out.push_str(section);
    out.push('\n');
    out
}

/// One row of the relevance table: recall@10 (in `bold`), answered share and MRR, for motcua
/// and PostgreSQL.
fn relevance_row(label: &str, bold: &str, m: &CategoryScore, g: &CategoryScore) -> String {
    format!(
        "| {label} | {} | {bold}{}{bold} | {} | {:.2} | {bold}{}{bold} | {} | {:.2} |",
        m.queries,
        pct(m.recall()),
        pct(m.answered_share()),
        m.mrr(),
        pct(g.recall()),
        pct(g.answered_share()),
        g.mrr()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rerun_replaces_its_section() {
        let first = splice(INTRO, &format!("{START}\nFIRST-RUN\n{END}\n"));
        assert!(first.starts_with("# Benchmarks"));
        let second = splice(
            &format!("{first}\n## Other\n"),
            &format!("{START}\nSECOND-RUN\n{END}\n"),
        );
        assert!(!second.contains("FIRST-RUN"));
        assert!(second.contains("SECOND-RUN"));
        assert!(second.contains("## Other"));
        assert_eq!(second.matches(START).count(), 1);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(100051), "100,051");
        assert_eq!(thousands(51), "51");
        assert_eq!(thousands(1000), "1,000");
    }
}
