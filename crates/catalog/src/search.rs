//! The procedure search index (tantivy), searched the way Vietnamese people type.
//!
//! Two analyzers share [`kernel::text::words`]: `vn_fold` drops every diacritic and makes i/y
//! one letter where spelling allows both, so "dang ki" meets "Đăng ký"; `vn_exact` keeps the
//! marks, and a match there ranks higher, so a query typed with the right diacritics puts the
//! exact procedure first. Words of at least `fuzzy_min_chars` letters also match with one typo.
//! A query needs most of its words to match (all of up to two words, three quarters of more),
//! and a phrase match on the name adds to the score.
//!
//! The index is a cache of the database: it is rebuilt when missing or out of step, and
//! updated after every catalogue change. Each node keeps its own; there is one writer.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::index::SegmentId;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument,
    Term,
};
use utoipa::ToSchema;

use kernel::config::SearchConfig;
use kernel::text::Word;

use crate::model::{Audience, OnlineMode, ProcedureSpec};
use crate::scoring::{AllOf, Boosts, Memory, NearWord, Ranked, View, is_common};

/// Bump when the schema or analyzers change: the index is then rebuilt from the database.
pub const SCHEMA_VERSION: u32 = 5;

/// Most parsed cards kept in memory (about 0.5 KiB each).
const CARD_CACHE: usize = 20_000;

/// Tokenizer over [`kernel::text::words`]: folded or exact forms.
#[derive(Clone, Copy, Debug)]
pub struct VnTokenizer {
    exact: bool,
}

pub struct VecTokenStream {
    tokens: Vec<Token>,
    cursor: Option<usize>,
    none: Token,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        let next = self.cursor.map_or(0, |c| c + 1);
        if next < self.tokens.len() {
            self.cursor = Some(next);
            true
        } else {
            false
        }
    }
    fn token(&self) -> &Token {
        self.cursor
            .and_then(|c| self.tokens.get(c))
            .unwrap_or(&self.none)
    }
    fn token_mut(&mut self) -> &mut Token {
        match self.cursor {
            Some(c) if c < self.tokens.len() => &mut self.tokens[c],
            _ => &mut self.none,
        }
    }
}

impl Tokenizer for VnTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let tokens = kernel::text::words(text)
            .into_iter()
            .enumerate()
            .map(|(i, w)| Token {
                offset_from: w.start,
                offset_to: w.end,
                position: i,
                text: if self.exact { w.exact } else { w.folded },
                position_length: 1,
            })
            .collect();
        VecTokenStream {
            tokens,
            cursor: None,
            none: Token::default(),
        }
    }
}

/// What a result shows; stored in the index so a search needs no database round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProcedureCard {
    pub code: String,
    pub name: String,
    pub field: String,
    pub field_name: String,
    pub level: u8,
    pub online: OnlineMode,
    pub audience: Vec<Audience>,
    pub time_limit_days: u16,
    /// Lowest and highest fee in đồng (0 when free).
    pub fee_min: i64,
    pub fee_max: i64,
    /// The first handling agencies (code, name).
    pub agencies: Vec<AgencyRef>,
    pub agency_count: usize,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgencyRef {
    pub code: String,
    pub name: String,
}

/// What the index needs to know beyond the procedure itself.
pub trait IndexContext {
    fn field_name(&self, code: &str) -> Option<&str>;
    fn agency_name(&self, code: &str) -> Option<&str>;
    fn agency_province(&self, code: &str) -> Option<&str>;
}

#[derive(Clone, Copy)]
struct Fields {
    code: Field,
    name_fold: Field,
    name_exact: Field,
    all: Field,
    facets: Field,
    card: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |tok: &str, positions: bool| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tok)
                .set_index_option(if positions {
                    IndexRecordOption::WithFreqsAndPositions
                } else {
                    IndexRecordOption::WithFreqs
                }),
        )
    };
    let f = Fields {
        code: b.add_text_field("code", STRING | STORED),
        name_fold: b.add_text_field("name_fold", text("vn_fold", true)),
        name_exact: b.add_text_field("name_exact", text("vn_exact", false)),
        all: b.add_text_field("all", text("vn_fold", false)),
        facets: b.add_facet_field("facets", FacetOptions::default()),
        card: b.add_text_field("card", STORED),
    };
    (b.build(), f)
}

/// The stored cards are small and read ten at a time on every search: keep them
/// uncompressed, in small blocks, so that reading one does not decompress its neighbours.
fn settings() -> tantivy::IndexSettings {
    tantivy::IndexSettings {
        docstore_compression: tantivy::store::Compressor::None,
        docstore_blocksize: 4096,
        ..Default::default()
    }
}

fn register(index: &Index) {
    index
        .tokenizers()
        .register("vn_fold", VnTokenizer { exact: false });
    index
        .tokenizers()
        .register("vn_exact", VnTokenizer { exact: true });
}

/// A search: free text and filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    pub q: String,
    pub agency: Option<String>,
    pub province: Option<String>,
    pub field: Option<String>,
    pub audience: Option<Audience>,
    pub level: Option<u8>,
    /// 1-based.
    pub page: usize,
    pub page_size: usize,
    /// Count facets (costs time on broad queries).
    pub facets: bool,
}

/// A facet value and how many results have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct FacetCounts {
    pub agency: Vec<FacetCount>,
    pub province: Vec<FacetCount>,
    pub field: Vec<FacetCount>,
    pub audience: Vec<FacetCount>,
    pub level: Vec<FacetCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SearchResults {
    pub total: usize,
    pub page: usize,
    pub page_size: usize,
    pub items: Vec<ProcedureCard>,
    pub facets: FacetCounts,
}

/// The index, its reader and its single writer.
pub struct SearchIndex {
    /// Parsed cards by segment and document: a segment never changes, so neither do they.
    cards: std::sync::RwLock<std::collections::HashMap<(SegmentId, DocId), ProcedureCard>>,
    /// What scoring reads from memory, per segment.
    memory: std::sync::Arc<Memory>,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    f: Fields,
    cfg: SearchConfig,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("docs", &self.doc_count())
            .finish()
    }
}

impl SearchIndex {
    /// Opens the index under `dir`, creating it when missing. Returns the index and whether it
    /// was created (and so must be filled from the database).
    pub fn open(dir: &Path, cfg: &SearchConfig) -> tantivy::Result<(SearchIndex, bool)> {
        let (schema, f) = schema();
        let path = dir.join(format!("procedures-v{SCHEMA_VERSION}"));
        std::fs::create_dir_all(&path)?;
        let existed = path.join("meta.json").exists();
        let index = if existed {
            Index::open_in_dir(&path)?
        } else {
            Index::builder()
                .schema(schema)
                .settings(settings())
                .create_in_dir(&path)?
        };
        Ok((Self::from_index(index, f, cfg)?, !existed))
    }

    /// An index in memory, for tests and benchmarks.
    pub fn in_memory(cfg: &SearchConfig) -> tantivy::Result<SearchIndex> {
        let (schema, f) = schema();
        Self::from_index(
            Index::builder()
                .schema(schema)
                .settings(settings())
                .create_in_ram()?,
            f,
            cfg,
        )
    }

    fn from_index(index: Index, f: Fields, cfg: &SearchConfig) -> tantivy::Result<SearchIndex> {
        register(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let mem = cfg.writer_memory_mib.clamp(16, 2048) * 1024 * 1024;
        let writer = index.writer_with_num_threads(1, mem)?;
        let index = SearchIndex {
            cards: Default::default(),
            memory: std::sync::Arc::new(Memory::new(crate::scoring::Fields {
                all: f.all,
                name_fold: f.name_fold,
                name_exact: f.name_exact,
            })),
            reader,
            writer: Mutex::new(writer),
            f,
            cfg: cfg.clone(),
        };
        index.memory.refresh(&index.reader)?;
        Ok(index)
    }

    /// Makes the last commit visible to searches.
    fn reload(&self) -> tantivy::Result<()> {
        self.reader.reload()?;
        self.memory.refresh(&self.reader)
    }

    /// How many common words the index keeps in memory, and the bytes its scoring data takes.
    pub fn memory_size(&self) -> (usize, usize) {
        self.memory.size()
    }

    /// The card of a hit, from the cache or the document store.
    fn card(
        &self,
        searcher: &Searcher,
        addr: DocAddress,
    ) -> tantivy::Result<Option<ProcedureCard>> {
        let key = (
            searcher.segment_reader(addr.segment_ord).segment_id(),
            addr.doc_id,
        );
        if let Ok(cache) = self.cards.read()
            && let Some(c) = cache.get(&key)
        {
            return Ok(Some(c.clone()));
        }
        let doc: TantivyDocument = searcher.doc(addr)?;
        let card = doc
            .get_first(self.f.card)
            .and_then(|v| v.as_str())
            .and_then(|c| serde_json::from_str::<ProcedureCard>(c).ok());
        if let (Some(c), Ok(mut cache)) = (&card, self.cards.write()) {
            if cache.len() >= CARD_CACHE {
                cache.clear();
            }
            cache.insert(key, c.clone());
        }
        Ok(card)
    }

    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn document(
        &self,
        spec: &ProcedureSpec,
        version: i64,
        ctx: &dyn IndexContext,
    ) -> TantivyDocument {
        let f = self.f;
        let field_name = ctx
            .field_name(&spec.field)
            .unwrap_or(&spec.field)
            .to_string();
        let agencies: Vec<AgencyRef> = spec
            .agencies
            .iter()
            .map(|a| AgencyRef {
                code: a.to_string(),
                name: ctx
                    .agency_name(a.as_str())
                    .unwrap_or(a.as_str())
                    .to_string(),
            })
            .collect();
        let card = ProcedureCard {
            code: spec.code.clone(),
            name: spec.name.clone(),
            field: spec.field.clone(),
            field_name: field_name.clone(),
            level: spec.level,
            online: spec.online,
            audience: spec.audience.clone(),
            time_limit_days: spec.time_limit_days,
            fee_min: spec.fees.iter().map(|x| x.amount).min().unwrap_or(0),
            fee_max: spec.fees.iter().map(|x| x.amount).max().unwrap_or(0),
            agencies: agencies.iter().take(3).cloned().collect(),
            agency_count: agencies.len(),
            version,
        };
        let mut doc = TantivyDocument::new();
        doc.add_text(f.code, &spec.code);
        doc.add_text(f.name_fold, &spec.name);
        doc.add_text(f.name_exact, &spec.name);
        let mut body = String::new();
        // The name twice: its words weigh more than the rest of the text.
        for part in [
            spec.name.as_str(),
            spec.name.as_str(),
            &spec.code,
            &field_name,
            &spec.result,
            &spec.description,
        ] {
            body.push_str(part);
            body.push('\n');
        }
        for a in &agencies {
            body.push_str(&a.name);
            body.push('\n');
        }
        for d in &spec.documents {
            body.push_str(&d.name);
            body.push('\n');
        }
        doc.add_text(f.all, &body);
        let mut provinces = HashSet::new();
        for a in &spec.agencies {
            doc.add_facet(f.facets, Facet::from_path(["agency", a.as_str()]));
            if let Some(p) = ctx.agency_province(a.as_str())
                && provinces.insert(p.to_string())
            {
                doc.add_facet(f.facets, Facet::from_path(["province", p]));
            }
        }
        doc.add_facet(f.facets, Facet::from_path(["field", spec.field.as_str()]));
        for a in &spec.audience {
            doc.add_facet(f.facets, Facet::from_path(["audience", a.as_str()]));
        }
        doc.add_facet(
            f.facets,
            Facet::from_path(["level", &spec.level.to_string()]),
        );
        doc.add_text(f.card, serde_json::to_string(&card).unwrap_or_default());
        doc
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        match self.writer.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Adds or replaces procedures, then commits and makes them visible.
    pub fn upsert<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a ProcedureSpec, i64)>,
        ctx: &dyn IndexContext,
    ) -> tantivy::Result<()> {
        let mut w = self.lock();
        let mut n = 0usize;
        for (spec, version) in items {
            w.delete_term(Term::from_field_text(self.f.code, &spec.code));
            w.add_document(self.document(spec, version, ctx))?;
            n += 1;
        }
        w.commit()?;
        if n >= 1000 {
            merge_all(&mut w)?;
        }
        drop(w);
        self.reload()
    }

    /// Empties the index (before a rebuild).
    pub fn clear(&self) -> tantivy::Result<()> {
        let mut w = self.lock();
        w.delete_all_documents()?;
        w.commit()?;
        drop(w);
        self.reload()
    }

    /// Adds procedures without deleting first (for a rebuild after [`clear`](Self::clear));
    /// call [`commit`](Self::commit) at the end.
    pub fn add_batch<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a ProcedureSpec, i64)>,
        ctx: &dyn IndexContext,
    ) -> tantivy::Result<()> {
        let w = self.lock();
        for (spec, version) in items {
            w.add_document(self.document(spec, version, ctx))?;
        }
        Ok(())
    }

    pub fn commit(&self) -> tantivy::Result<()> {
        let mut w = self.lock();
        w.commit()?;
        merge_all(&mut w)?;
        drop(w);
        self.reload()
    }

    /// Builds the query of a request (without paging).
    ///
    /// Strict: every word must be in the procedure's text (`all`, folded). Relaxed, for when
    /// strict finds nothing: a word may also match one edit away, and a query of three or more
    /// words needs three quarters of them. Either way, the score adds matches in the name, the
    /// exact spelling with diacritics, a phrase match on the name and a match of the code; those
    /// clauses are returned apart ([`Planned::boosts`]) and scored only on the matches.
    ///
    /// Words in `common` (held by many procedures) are matched together from their bits per
    /// document ([`AllOf`]) and their scores moved to the boosts: the same sum, found faster.
    fn query(
        &self,
        req: &SearchRequest,
        words: &[Word],
        mode: Mode,
        unknown: &HashSet<String>,
        common: &HashSet<String>,
    ) -> Planned {
        let relaxed = mode == Mode::Relaxed;
        let f = self.f;
        let mut top: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut boosts = Boosts::default();
        let code = req.q.trim();
        if words.is_empty() {
            if looks_like_code(code) {
                top.push((Occur::Must, term_query(f.code, code)));
            } else {
                top.push((Occur::Must, Box::new(AllQuery)));
            }
        } else {
            let mut per_word: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(words.len());
            let mut all_of = Vec::new();
            for w in words {
                // A word the index does not hold is taken as a typo: one edit away counts.
                let clause: Box<dyn Query> = if mode != Mode::Strict && unknown.contains(&w.folded)
                {
                    boost(
                        NearWord {
                            word: w.folded.clone(),
                            memory: self.memory.clone(),
                        },
                        0.5,
                    )
                } else if !relaxed && common.contains(&w.folded) {
                    all_of.push(w.folded.clone());
                    boosts.common.push(w.folded.clone());
                    continue;
                } else {
                    term_query(f.all, &w.folded)
                };
                per_word.push((if relaxed { Occur::Should } else { Occur::Must }, clause));
            }
            if relaxed {
                let n = per_word.len();
                let need = if n <= 2 { n } else { (n * 3).div_ceil(4) };
                top.push((
                    Occur::Must,
                    Box::new(BooleanQuery::with_minimum_required_clauses(per_word, need)),
                ));
            } else {
                top.extend(per_word);
            }
            if !all_of.is_empty() {
                top.push((
                    Occur::Must,
                    Box::new(AllOf {
                        words: all_of,
                        memory: self.memory.clone(),
                    }),
                ));
            }
            for w in words {
                // Past the strict pass, a corrected word cannot help the phrase below: give
                // name matches their weight word by word.
                if mode != Mode::Strict {
                    if unknown.contains(&w.folded) {
                        boosts.name_near.push((w.folded.clone(), 2.0));
                    } else {
                        boosts.name.push((w.folded.clone(), 2.0));
                    }
                }
                if w.exact != w.folded {
                    boosts.exact.push((w.exact.clone(), 1.5));
                }
            }
            if words.len() >= 2 {
                boosts.phrase = Some((words.iter().map(|w| w.folded.clone()).collect(), 4.0));
            }
            if looks_like_code(code) {
                boosts.queries.push(boost(
                    TermQuery::new(
                        Term::from_field_text(f.code, code),
                        IndexRecordOption::Basic,
                    ),
                    20.0,
                ));
            }
        }
        let mut filter = |path: [&str; 2]| {
            top.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_facet(f.facets, &Facet::from_path(path)),
                    IndexRecordOption::Basic,
                )),
            ));
        };
        if let Some(a) = &req.agency {
            filter(["agency", a]);
        }
        if let Some(p) = &req.province {
            filter(["province", p]);
        }
        if let Some(x) = &req.field {
            filter(["field", x]);
        }
        if let Some(a) = req.audience {
            filter(["audience", a.as_str()]);
        }
        let level = req.level.map(|l| l.to_string());
        if let Some(l) = &level {
            filter(["level", l]);
        }
        Planned {
            filter: Box::new(BooleanQuery::new(top)),
            boosts,
        }
    }

    /// Runs a search: a page of cards, the total and (when asked) facet counts. Every word must
    /// match; when that finds nothing, the search runs again relaxed (typos, three quarters of
    /// the words), so a typo or an extra word does not empty the page.
    pub fn search(&self, req: &SearchRequest) -> tantivy::Result<SearchResults> {
        let searcher = self.reader.searcher();
        let view = Arc::new(self.memory.view(&searcher)?);
        let none = HashSet::new();
        let words = query_words(&req.q);
        let words = words.as_slice();
        if words.is_empty() {
            return self.run(&view, req, words, Mode::Strict, &none, &none);
        }
        // A word the index does not hold at all would make the strict pass find nothing:
        // look each word up first, and go straight to correcting it.
        let mut absent = false;
        let mut unknown = HashSet::new();
        let mut common = HashSet::new();
        let total = searcher.num_docs();
        for w in words {
            let docs = view.doc_freq(self.f.all, &w.folded)?;
            if docs == 0 {
                absent = true;
                if w.folded.chars().count() >= self.cfg.fuzzy_min_chars {
                    unknown.insert(w.folded.clone());
                }
            } else if is_common(docs, total) {
                common.insert(w.folded.clone());
            }
        }
        if !absent {
            let strict = self.run(&view, req, words, Mode::Strict, &none, &common)?;
            if strict.total > 0 {
                return Ok(strict);
            }
        }
        if !unknown.is_empty() {
            let corrected = self.run(&view, req, words, Mode::Corrected, &unknown, &common)?;
            if corrected.total > 0 || words.len() < 3 {
                return Ok(corrected);
            }
        }
        if words.len() < 3 {
            return self.run(&view, req, words, Mode::Strict, &none, &common);
        }
        self.run(&view, req, words, Mode::Relaxed, &unknown, &common)
    }

    fn run(
        &self,
        view: &Arc<View>,
        req: &SearchRequest,
        words: &[Word],
        mode: Mode,
        unknown: &HashSet<String>,
        common: &HashSet<String>,
    ) -> tantivy::Result<SearchResults> {
        let plan = self.query(req, words, mode, unknown, common);
        let page = req.page.max(1);
        let size = req.page_size.clamp(1, 100);
        let offset = (page - 1).saturating_mul(size).min(10_000);
        let searcher = view.searcher();
        let ranked = Ranked::new(view.clone(), plan.boosts)?;
        let top = TopDocs::with_limit(size)
            .and_offset(offset)
            .order_by(ranked);
        let facet_collector = req.facets.then(|| {
            let mut c = FacetCollector::for_field("facets");
            for root in ["/agency", "/province", "/field", "/audience", "/level"] {
                c.add_facet(root);
            }
            c
        });
        let (hits, total, counts) = searcher.search_with_statistics_provider(
            plan.filter.as_ref(),
            &(top, Count, facet_collector),
            view.as_ref(),
        )?;
        let mut items = Vec::with_capacity(hits.len());
        for (_, addr) in hits {
            if let Some(card) = self.card(searcher, addr)? {
                items.push(card);
            }
        }
        let list = |root: &str| -> Vec<FacetCount> {
            let Some(counts) = &counts else {
                return Vec::new();
            };
            let mut v: Vec<FacetCount> = counts
                .get(root)
                .map(|(facet, count)| FacetCount {
                    value: facet
                        .to_path()
                        .last()
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    count,
                })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            v
        };
        Ok(SearchResults {
            total,
            page,
            page_size: size,
            items,
            facets: FacetCounts {
                agency: list("/agency"),
                province: list("/province"),
                field: list("/field"),
                audience: list("/audience"),
                level: list("/level"),
            },
        })
    }
}

/// The words of a query, each once (by its folded form), at most 16.
fn query_words(q: &str) -> Vec<Word> {
    let mut seen = HashSet::new();
    kernel::text::words(q)
        .into_iter()
        .filter(|w| seen.insert(w.folded.clone()))
        .take(16)
        .collect()
}

/// A search's query in two parts: the one that decides what matches, and clauses that only add
/// to the score of a match (the name, the exact spelling, the phrase, the code).
struct Planned {
    filter: Box<dyn Query>,
    boosts: Boosts,
}

/// Merges every segment into one: after a bulk change, a search then looks each word up once.
fn merge_all(w: &mut IndexWriter) -> tantivy::Result<()> {
    let ids = w.index().searchable_segment_ids()?;
    if ids.len() > 1 {
        w.merge(&ids).wait()?;
    }
    Ok(())
}

/// How hard a search tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every word, as typed (folded).
    Strict,
    /// Every word; words the index does not hold may be one edit away.
    Corrected,
    /// Three quarters of the words; unknown ones may be one edit away.
    Relaxed,
}

fn term_query(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn boost(q: impl Query, by: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(Box::new(q), by))
}

/// A procedure code such as `1.001193` or `2.000635.000.00.00.H26`.
fn looks_like_code(q: &str) -> bool {
    q.contains('.')
        && q.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && crate::model::valid_code(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::ids::AgencyCode;
    use tantivy::Score;
    use tantivy::query::FuzzyTermQuery;

    struct Ctx;
    impl IndexContext for Ctx {
        fn field_name(&self, _: &str) -> Option<&str> {
            Some("Hộ tịch")
        }
        fn agency_name(&self, _: &str) -> Option<&str> {
            Some("Ủy ban nhân dân xã")
        }
        fn agency_province(&self, _: &str) -> Option<&str> {
            Some("01")
        }
    }

    /// Generated procedures, plus a few whose names share words with them, committed in
    /// `parts` segments (left unmerged, so that a word can be common in one and not another).
    /// Without `names`, the records leave the names out (as for a name field with too many
    /// distinct words) and the name's clauses are scored from their postings.
    fn index(parts: usize, names: bool) -> SearchIndex {
        let cfg = SearchConfig::default();
        let mut idx = SearchIndex::in_memory(&cfg).unwrap_or_else(|e| panic!("{e}"));
        if !names {
            let f = idx.f;
            let memory = Memory::new(crate::scoring::Fields {
                all: f.all,
                name_fold: f.name_fold,
                name_exact: f.name_exact,
            });
            idx.memory = std::sync::Arc::new(memory.limit_name_words(10));
        }
        let agencies = vec![AgencyCode::parse("000.00.00.H26").unwrap_or_else(|e| panic!("{e}"))];
        let mut all = crate::generate::procedures(3000, 11, &["HT".to_string()], &agencies);
        let extra = [
            "Đăng ký khai sinh",
            "Đăng ký kết hôn",
            "Cấp lại giấy phép lái xe",
            "Cấp giấy phép lái xe quốc tế",
            "Giấy phép lái xe hạng A1",
        ];
        for (i, name) in extra.iter().enumerate() {
            let mut p = all[i].clone();
            p.code = format!("8.{:06}", i + 1);
            p.name = name.to_string();
            all.push(p);
        }
        let per = all.len().div_ceil(parts);
        for chunk in all.chunks(per) {
            let mut w = idx.lock();
            for p in chunk {
                w.add_document(idx.document(p, 1, &Ctx))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            w.commit().unwrap_or_else(|e| panic!("{e}"));
            drop(w);
            idx.reload().unwrap_or_else(|e| panic!("{e}"));
        }
        idx
    }

    /// The same ranking with tantivy's own queries: the words required in the folded text,
    /// the ranking clauses as optional clauses.
    fn reference(idx: &SearchIndex, q: &str, unknown: &HashSet<String>) -> Vec<(Score, String)> {
        let f = idx.f;
        let words = query_words(q);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for w in &words {
            if unknown.contains(&w.folded) {
                clauses.push((
                    Occur::Must,
                    boost(
                        FuzzyTermQuery::new(Term::from_field_text(f.all, &w.folded), 1, true),
                        0.5,
                    ),
                ));
                clauses.push((
                    Occur::Should,
                    boost(
                        FuzzyTermQuery::new(Term::from_field_text(f.name_fold, &w.folded), 1, true),
                        2.0,
                    ),
                ));
            } else {
                clauses.push((Occur::Must, term_query(f.all, &w.folded)));
                if !unknown.is_empty() {
                    clauses.push((
                        Occur::Should,
                        boost(
                            TermQuery::new(
                                Term::from_field_text(f.name_fold, &w.folded),
                                IndexRecordOption::WithFreqs,
                            ),
                            2.0,
                        ),
                    ));
                }
            }
            if w.exact != w.folded {
                clauses.push((
                    Occur::Should,
                    boost(
                        TermQuery::new(
                            Term::from_field_text(f.name_exact, &w.exact),
                            IndexRecordOption::WithFreqs,
                        ),
                        1.5,
                    ),
                ));
            }
        }
        if words.len() >= 2 {
            let terms = words
                .iter()
                .map(|w| Term::from_field_text(f.name_fold, &w.folded))
                .collect();
            clauses.push((
                Occur::Should,
                boost(tantivy::query::PhraseQuery::new(terms), 4.0),
            ));
        }
        let searcher = idx.reader.searcher();
        let hits = searcher
            .search(
                &BooleanQuery::new(clauses),
                &TopDocs::with_limit(10).order_by_score(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        codes(idx, &searcher, hits)
    }

    fn codes(
        idx: &SearchIndex,
        searcher: &Searcher,
        hits: Vec<(Score, DocAddress)>,
    ) -> Vec<(Score, String)> {
        hits.into_iter()
            .map(|(score, addr)| {
                let card = idx
                    .card(searcher, addr)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .unwrap_or_else(|| panic!("a card"));
                (score, card.code)
            })
            .collect()
    }

    fn ours(idx: &SearchIndex, q: &str, unknown: &HashSet<String>) -> Vec<(Score, String)> {
        let searcher = idx.reader.searcher();
        let words = query_words(q);
        let total = searcher.num_docs();
        let mut common = HashSet::new();
        for w in &words {
            let docs = searcher
                .doc_freq(&Term::from_field_text(idx.f.all, &w.folded))
                .unwrap_or_else(|e| panic!("{e}"));
            if is_common(docs, total) {
                common.insert(w.folded.clone());
            }
        }
        let mode = if unknown.is_empty() {
            Mode::Strict
        } else {
            Mode::Corrected
        };
        let req = SearchRequest {
            q: q.to_string(),
            page: 1,
            page_size: 10,
            ..Default::default()
        };
        let plan = idx.query(&req, &words, mode, unknown, &common);
        let view = Arc::new(idx.memory.view(&searcher).unwrap_or_else(|e| panic!("{e}")));
        let ranked = Ranked::new(view, plan.boosts).unwrap_or_else(|e| panic!("{e}"));
        let hits = searcher
            .search(
                plan.filter.as_ref(),
                &TopDocs::with_limit(10).order_by(ranked),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        codes(idx, &searcher, hits)
    }

    /// Scores equal to float rounding, rank by rank; codes equal except among tied scores.
    fn same(a: &[(Score, String)], b: &[(Score, String)], q: &str) {
        assert_eq!(a.len(), b.len(), "{q}: {a:?} / {b:?}");
        assert!(!a.is_empty(), "{q} finds nothing");
        let close = |x: Score, y: Score| (x - y).abs() <= 1e-4 * x.abs().max(1.0);
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(close(x.0, y.0), "{q}, rank {i}: {a:?} / {b:?}");
            let tied = a.iter().filter(|z| close(z.0, x.0)).count() > 1;
            if !tied {
                assert_eq!(x.1, y.1, "{q}, rank {i}: {a:?} / {b:?}");
            }
        }
    }

    #[test]
    fn ranking_from_memory_matches_tantivys_queries() {
        for (parts, names) in [(1, true), (3, true), (1, false)] {
            let idx = index(parts, names);
            for q in [
                "đăng ký khai sinh",
                "dang ky ket hon",
                "đăng kí kết hôn",
                "giấy phép lái xe",
                "cap lai giay phep lai xe",
                "giấy phép hoạt động cơ sở in",
                "chứng chỉ hành nghề",
                "Thu hồi giấy chứng nhận lưu hành",
                "cảng cá",
                "tàu cá quy mô nhỏ",
            ] {
                same(
                    &ours(&idx, q, &HashSet::new()),
                    &reference(&idx, q, &HashSet::new()),
                    &format!("{q} ({parts} segments, names in memory: {names})"),
                );
            }
            // A letter added, swapped, changed, dropped; two typos in one query.
            for (q, typos) in [
                ("giấy phepp lái xe", &["phepp"][..]),
                ("giấy pehp lái xe", &["pehp"]),
                ("gaiy phep lai xe", &["gaiy"]),
                ("giấy phép lái xr", &["xr"]),
                ("giấy phé lái xe", &["phé"]),
                ("gaiy phepp lai xe", &["gaiy", "phepp"]),
            ] {
                let typos: HashSet<String> = typos.iter().map(|t| kernel::text::fold(t)).collect();
                same(&ours(&idx, q, &typos), &reference(&idx, q, &typos), q);
            }
        }
    }

    #[test]
    fn memory_follows_the_segments() {
        let idx = index(3, true);
        let (common, bytes) = idx.memory_size();
        assert!(common > 0 && bytes > 0);
        idx.commit().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(idx.memory.segment_count(), 1);
        let req = SearchRequest {
            q: "giấy phép lái xe".into(),
            page: 1,
            page_size: 10,
            ..Default::default()
        };
        let r = idx.search(&req).unwrap_or_else(|e| panic!("{e}"));
        // The three names that hold the phrase come first, in whatever order.
        let mut top: Vec<&str> = r.items.iter().take(3).map(|c| c.name.as_str()).collect();
        top.sort();
        assert_eq!(
            top,
            [
                "Cấp giấy phép lái xe quốc tế",
                "Cấp lại giấy phép lái xe",
                "Giấy phép lái xe hạng A1"
            ]
        );
    }
}
