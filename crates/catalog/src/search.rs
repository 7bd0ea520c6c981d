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
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tantivy::collector::sort_key::NaturalComparator;
use tantivy::collector::{Count, FacetCollector, SegmentSortKeyComputer, SortKeyComputer, TopDocs};
use tantivy::index::SegmentId;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EnableScoring, FuzzyTermQuery, Occur, PhraseQuery, Query,
    Scorer, TermQuery, Weight,
};
use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{
    DocAddress, DocId, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Score, Searcher,
    SegmentReader, TantivyDocument, Term,
};
use utoipa::ToSchema;

use kernel::config::SearchConfig;
use kernel::text::Word;

use crate::model::{Audience, OnlineMode, ProcedureSpec};

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
        Ok(SearchIndex {
            cards: Default::default(),
            reader,
            writer: Mutex::new(writer),
            f,
            cfg: cfg.clone(),
        })
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
        self.reader.reload()
    }

    /// Empties the index (before a rebuild).
    pub fn clear(&self) -> tantivy::Result<()> {
        let mut w = self.lock();
        w.delete_all_documents()?;
        w.commit()?;
        drop(w);
        self.reader.reload()
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
        self.reader.reload()
    }

    /// Builds the query of a request (without paging).
    ///
    /// Strict: every word must be in the procedure's text (`all`, folded). Relaxed, for when
    /// strict finds nothing: a word may also match one edit away, and a query of three or more
    /// words needs three quarters of them. Either way, the score adds matches in the name, the
    /// exact spelling with diacritics, a phrase match on the name and a match of the code; those
    /// clauses are returned apart ([`Planned::boosts`]) and scored only on the matches.
    pub fn query(
        &self,
        req: &SearchRequest,
        words: &[Word],
        mode: Mode,
        unknown: &HashSet<String>,
    ) -> Planned {
        let relaxed = mode == Mode::Relaxed;
        let f = self.f;
        let mut top: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut boosts: Vec<Box<dyn Query>> = Vec::new();
        let code = req.q.trim();
        if words.is_empty() {
            if looks_like_code(code) {
                top.push((Occur::Must, term_query(f.code, code)));
            } else {
                top.push((Occur::Must, Box::new(AllQuery)));
            }
        } else {
            let mut per_word: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(words.len());
            for w in words {
                // A word the index does not hold is taken as a typo: one edit away counts.
                let clause: Box<dyn Query> = if mode != Mode::Strict && unknown.contains(&w.folded)
                {
                    boost(
                        FuzzyTermQuery::new(Term::from_field_text(f.all, &w.folded), 1, true),
                        0.5,
                    )
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
            for w in words {
                // Past the strict pass, a corrected word cannot help the phrase below: give
                // name matches their weight word by word.
                if mode != Mode::Strict {
                    boosts.push(if unknown.contains(&w.folded) {
                        boost(
                            FuzzyTermQuery::new(
                                Term::from_field_text(f.name_fold, &w.folded),
                                1,
                                true,
                            ),
                            2.0,
                        )
                    } else {
                        boost_term(f.name_fold, &w.folded, 2.0)
                    });
                }
                if w.exact != w.folded {
                    boosts.push(boost_term(f.name_exact, &w.exact, 1.5));
                }
            }
            if words.len() >= 2 {
                let terms: Vec<Term> = words
                    .iter()
                    .map(|w| Term::from_field_text(f.name_fold, &w.folded))
                    .collect();
                boosts.push(boost(PhraseQuery::new(terms), 4.0));
            }
            if looks_like_code(code) {
                boosts.push(boost(
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
        let none = HashSet::new();
        let words = query_words(&req.q);
        let words = words.as_slice();
        if words.is_empty() {
            return self.run(&searcher, req, words, Mode::Strict, &none);
        }
        // A word the index does not hold at all would make the strict pass find nothing:
        // look each word up first, and go straight to correcting it.
        let mut absent = false;
        let mut unknown = HashSet::new();
        for w in words {
            if searcher.doc_freq(&Term::from_field_text(self.f.all, &w.folded))? == 0 {
                absent = true;
                if w.folded.chars().count() >= self.cfg.fuzzy_min_chars {
                    unknown.insert(w.folded.clone());
                }
            }
        }
        if !absent {
            let strict = self.run(&searcher, req, words, Mode::Strict, &none)?;
            if strict.total > 0 {
                return Ok(strict);
            }
        }
        if !unknown.is_empty() {
            let corrected = self.run(&searcher, req, words, Mode::Corrected, &unknown)?;
            if corrected.total > 0 || words.len() < 3 {
                return Ok(corrected);
            }
        }
        if words.len() < 3 {
            return self.run(&searcher, req, words, Mode::Strict, &none);
        }
        self.run(&searcher, req, words, Mode::Relaxed, &unknown)
    }

    fn run(
        &self,
        searcher: &Searcher,
        req: &SearchRequest,
        words: &[Word],
        mode: Mode,
        unknown: &HashSet<String>,
    ) -> tantivy::Result<SearchResults> {
        let plan = self.query(req, words, mode, unknown);
        let page = req.page.max(1);
        let size = req.page_size.clamp(1, 100);
        let offset = (page - 1).saturating_mul(size).min(10_000);
        let scoring = EnableScoring::enabled_from_searcher(searcher);
        let boosts = plan
            .boosts
            .iter()
            .map(|q| q.weight(scoring))
            .collect::<tantivy::Result<Vec<_>>>()?;
        let top = TopDocs::with_limit(size)
            .and_offset(offset)
            .order_by(Boosted(boosts));
        let facet_collector = req.facets.then(|| {
            let mut c = FacetCollector::for_field("facets");
            for root in ["/agency", "/province", "/field", "/audience", "/level"] {
                c.add_facet(root);
            }
            c
        });
        let (hits, total, counts) =
            searcher.search(plan.filter.as_ref(), &(top, Count, facet_collector))?;
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
pub struct Planned {
    pub filter: Box<dyn Query>,
    pub boosts: Vec<Box<dyn Query>>,
}

/// Ranks the matches by their score plus the boosts that also match them.
///
/// The boosts are looked up for each match only, in document order. As optional clauses of one
/// boolean query they would be read as a union over every document they hold, which costs most
/// when the words are common ("đăng ký") and the matches few.
struct Boosted(Vec<Box<dyn Weight>>);

impl SortKeyComputer for Boosted {
    type SortKey = Score;
    type Child = BoostedSegment;
    type Comparator = NaturalComparator;

    fn requires_scoring(&self) -> bool {
        true
    }

    fn segment_sort_key_computer(&self, reader: &SegmentReader) -> tantivy::Result<BoostedSegment> {
        let scorers = self
            .0
            .iter()
            .map(|w| w.scorer(reader, 1.0))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(BoostedSegment(scorers))
    }
}

struct BoostedSegment(Vec<Box<dyn Scorer>>);

impl SegmentSortKeyComputer for BoostedSegment {
    type SortKey = Score;
    type SegmentSortKey = Score;
    type SegmentComparator = NaturalComparator;

    fn segment_sort_key(&mut self, doc: DocId, score: Score) -> Score {
        let mut total = score;
        for s in &mut self.0 {
            if s.doc() < doc {
                s.seek(doc);
            }
            if s.doc() == doc {
                total += s.score();
            }
        }
        total
    }

    fn convert_segment_sort_key(&self, score: Score) -> Score {
        score
    }
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

fn boost_term(field: Field, text: &str, by: f32) -> Box<dyn Query> {
    boost(
        TermQuery::new(
            Term::from_field_text(field, text),
            IndexRecordOption::WithFreqs,
        ),
        by,
    )
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
