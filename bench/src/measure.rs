//! Measuring: latency percentiles, load loops bounded by time and count, and recall of the
//! labelled queries.
//!
//! A [`Target`] is anything that answers a query with procedure codes (PostgreSQL, the HTTP
//! API). The in-process catalogue has its own loops on plain threads, so that no async hop is
//! counted in its latency.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog::Catalog;
use catalog::search::SearchRequest;

use crate::queries::{Category, Query};

/// Most samples one load loop keeps (the loops also stop at their deadline).
const MAX_SAMPLES: usize = 20_000_000;

/// What a load loop saw.
#[derive(Debug, Clone)]
pub struct Load {
    pub clients: usize,
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    /// p50 and p99 of the queries of each category.
    pub by_category: BTreeMap<Category, (Duration, Duration)>,
}

impl Load {
    fn from_samples(
        clients: usize,
        samples: Vec<(Category, Duration)>,
        errors: usize,
        elapsed: Duration,
    ) -> Load {
        let mut split: BTreeMap<Category, Vec<Duration>> = BTreeMap::new();
        for (c, d) in &samples {
            split.entry(*c).or_default().push(*d);
        }
        let by_category = split
            .into_iter()
            .map(|(c, mut v)| {
                v.sort_unstable();
                (c, (percentile(&v, 50.0), percentile(&v, 99.0)))
            })
            .collect();
        let mut all: Vec<Duration> = samples.into_iter().map(|(_, d)| d).collect();
        all.sort_unstable();
        Load {
            clients,
            requests: all.len(),
            errors,
            elapsed,
            p50: percentile(&all, 50.0),
            p99: percentile(&all, 99.0),
            by_category,
        }
    }

    /// Completed requests per second.
    pub fn throughput(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.requests as f64 / s
        } else {
            0.0
        }
    }
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
        .unwrap_or(Duration::ZERO)
}

/// The request the benchmark sends: the first page of ten, with or without facet counts.
pub fn request(q: &str, facets: bool) -> SearchRequest {
    SearchRequest {
        q: q.to_string(),
        page: 1,
        page_size: 10,
        facets,
        ..Default::default()
    }
}

/// Codes of the top ten of the in-process catalogue, and how many documents matched.
pub fn catalog_codes(catalog: &Catalog, q: &str) -> anyhow::Result<(Vec<String>, u64)> {
    let res = catalog
        .search(&request(q, false))
        .map_err(|e| anyhow::anyhow!("search {q:?}: {e}"))?;
    Ok((
        res.items.into_iter().map(|c| c.code).collect(),
        res.total as u64,
    ))
}

/// The top tens of every labelled query on the in-process catalogue, and the matched counts.
pub fn catalog_answers(
    catalog: &Catalog,
    queries: &[Query],
) -> anyhow::Result<(Vec<Vec<String>>, Vec<u64>)> {
    let mut answers = Vec::with_capacity(queries.len());
    let mut matched = Vec::with_capacity(queries.len());
    for q in queries {
        let (codes, n) = catalog_codes(catalog, q.text)?;
        answers.push(codes);
        matched.push(n);
    }
    Ok((answers, matched))
}

/// Median of counts per category (and over all queries, under `None`).
pub fn median_counts(queries: &[Query], counts: &[u64]) -> BTreeMap<Option<Category>, u64> {
    let mut split: BTreeMap<Option<Category>, Vec<u64>> = BTreeMap::new();
    for (q, n) in queries.iter().zip(counts) {
        split.entry(Some(q.category)).or_default().push(*n);
        split.entry(None).or_default().push(*n);
    }
    split
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_unstable();
            (k, v.get(v.len() / 2).copied().unwrap_or(0))
        })
        .collect()
}

/// Runs the catalogue's search from `threads` plain threads for `duration`.
pub async fn catalog_load(
    catalog: Arc<Catalog>,
    queries: &[Query],
    threads: usize,
    duration: Duration,
    facets: bool,
) -> anyhow::Result<Load> {
    let texts: Arc<Vec<Query>> = Arc::new(queries.to_vec());
    let started = Instant::now();
    let deadline = started + duration;
    let per_thread = MAX_SAMPLES / threads.max(1);
    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads.max(1) {
        let catalog = catalog.clone();
        let texts = texts.clone();
        handles.push(tokio::task::spawn_blocking(move || {
            let mut samples = Vec::with_capacity(per_thread.min(1 << 20));
            let mut errors = 0usize;
            let mut i = t * 7;
            while samples.len() < per_thread && Instant::now() < deadline {
                let Some(q) = texts.get(i % texts.len().max(1)) else {
                    break;
                };
                i += 1;
                let t0 = Instant::now();
                let ok = catalog.search(&request(q.text, facets)).is_ok();
                let dt = t0.elapsed();
                if ok {
                    samples.push((q.category, dt))
                } else {
                    errors += 1
                }
            }
            (samples, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (s, e) = h.await?;
        all.extend(s);
        errors += e;
    }
    Ok(Load::from_samples(threads, all, errors, started.elapsed()))
}

/// Something that answers queries over the network.
pub trait Target: Clone + Send + Sync + 'static {
    /// The top ten codes, in order.
    fn codes(&self, q: &str) -> impl Future<Output = anyhow::Result<Vec<String>>> + Send;
    /// One request as a client makes it under load (the answer read, not necessarily parsed).
    fn hit(&self, q: &str) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Runs `clients` concurrent loops against `target` for `duration`.
pub async fn load<T: Target>(
    target: &T,
    queries: &[Query],
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    let texts: Arc<Vec<Query>> = Arc::new(queries.to_vec());
    let started = Instant::now();
    let deadline = started + duration;
    let per_client = MAX_SAMPLES / clients.max(1);
    let mut handles = Vec::with_capacity(clients);
    for c in 0..clients.max(1) {
        let target = target.clone();
        let texts = texts.clone();
        handles.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(per_client.min(1 << 18));
            let mut errors = 0usize;
            let mut first_error = None;
            let mut i = c * 7;
            while samples.len() < per_client && Instant::now() < deadline {
                let Some(q) = texts.get(i % texts.len().max(1)) else {
                    break;
                };
                i += 1;
                let t0 = Instant::now();
                let r = target.hit(q.text).await;
                let dt = t0.elapsed();
                match r {
                    Ok(()) => samples.push((q.category, dt)),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        // An error loop must not spin: give the target a moment.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (samples, errors, first_error)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first = None;
    for h in handles {
        let (s, e, f) = h.await?;
        all.extend(s);
        errors += e;
        if first.is_none() {
            first = f;
        }
    }
    if all.is_empty()
        && let Some(e) = first
    {
        return Err(e.context("every request failed"));
    }
    if let Some(e) = first {
        eprintln!("  warning: {errors} failed requests, the first: {e:#}");
    }
    Ok(Load::from_samples(clients, all, errors, started.elapsed()))
}

/// How one system did on one category.
#[derive(Debug, Clone, Default)]
pub struct CategoryScore {
    pub queries: usize,
    /// Queries with at least one relevant procedure in the top ten.
    pub answered: usize,
    /// Per query, the share of its relevant procedures found in the top ten, summed.
    pub found_share_sum: f64,
    pub reciprocal_rank_sum: f64,
}

impl CategoryScore {
    /// Recall@10: the share of a query's relevant procedures that are in its top ten,
    /// averaged over the queries.
    pub fn recall(&self) -> f64 {
        if self.queries == 0 {
            0.0
        } else {
            self.found_share_sum / self.queries as f64
        }
    }
    /// The share of queries with at least one relevant procedure in the top ten.
    pub fn answered_share(&self) -> f64 {
        if self.queries == 0 {
            0.0
        } else {
            self.answered as f64 / self.queries as f64
        }
    }
    pub fn mrr(&self) -> f64 {
        if self.queries == 0 {
            0.0
        } else {
            self.reciprocal_rank_sum / self.queries as f64
        }
    }
}

/// Recall@10 and mean reciprocal rank per category, and the queries left unanswered.
#[derive(Debug, Clone, Default)]
pub struct Relevance {
    pub by_category: BTreeMap<Category, CategoryScore>,
    pub all: CategoryScore,
    /// Unanswered queries, with what came first instead (if anything).
    pub misses: Vec<(Query, Option<String>)>,
}

/// Scores the top tens of the labelled queries (`answers[i]` answers `queries[i]`).
pub fn relevance(queries: &[Query], answers: &[Vec<String>]) -> Relevance {
    let mut r = Relevance::default();
    for (q, codes) in queries.iter().zip(answers) {
        let rank = codes
            .iter()
            .take(10)
            .position(|c| q.relevant.contains(&c.as_str()));
        let found = q
            .relevant
            .iter()
            .filter(|c| codes.iter().take(10).any(|x| x == *c))
            .count();
        let share = if q.relevant.is_empty() {
            0.0
        } else {
            found as f64 / q.relevant.len().min(10) as f64
        };
        for s in [r.by_category.entry(q.category).or_default(), &mut r.all] {
            s.queries += 1;
            s.found_share_sum += share;
            if let Some(k) = rank {
                s.answered += 1;
                s.reciprocal_rank_sum += 1.0 / (k + 1) as f64;
            }
        }
        if rank.is_none() {
            r.misses.push((*q, codes.first().cloned()));
        }
    }
    r
}

/// Runs every labelled query once against a target and returns the top tens.
pub async fn answers<T: Target>(target: &T, queries: &[Query]) -> anyhow::Result<Vec<Vec<String>>> {
    let mut out = Vec::with_capacity(queries.len());
    for q in queries {
        out.push(target.codes(q.text).await?);
    }
    Ok(out)
}

/// Formats a duration as microseconds below a millisecond, milliseconds above, 2 decimals.
pub fn fmt_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.2} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
        assert_eq!(percentile(&v[..1], 99.0), Duration::from_millis(1));
    }

    #[test]
    fn recall_counts_a_relevant_code_in_the_top_ten() {
        let qs = [
            Query {
                text: "a",
                category: Category::Exact,
                relevant: &["1"],
            },
            Query {
                text: "b",
                category: Category::Exact,
                relevant: &["2", "3"],
            },
            Query {
                text: "c",
                category: Category::Typo,
                relevant: &["4"],
            },
        ];
        let answers = vec![
            vec!["9".to_string(), "1".to_string()],
            vec!["3".to_string()],
            vec![],
        ];
        let r = relevance(&qs, &answers);
        let exact = &r.by_category[&Category::Exact];
        assert_eq!((exact.queries, exact.answered), (2, 2));
        assert!((exact.answered_share() - 1.0).abs() < 1e-9);
        // "b" found one of its two relevant procedures: (1 + 0.5) / 2.
        assert!((exact.recall() - 0.75).abs() < 1e-9);
        assert!((exact.mrr() - 0.75).abs() < 1e-9);
        assert!((r.all.recall() - 0.5).abs() < 1e-9);
        assert_eq!(r.by_category[&Category::Typo].answered, 0);
        assert_eq!(r.misses.len(), 1);
    }
}
