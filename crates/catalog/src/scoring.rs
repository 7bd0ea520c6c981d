//! What a search reads from memory, per segment of the index, to find and rank its matches.
//!
//! - Words that many procedures hold ("đăng ký", "giấy", "cấp": one document in 32 or more)
//!   are kept as one bit per document. A search needs every one of its words: walking the
//!   long postings lists of common words one against another costs time in proportion to the
//!   shortest list, thousands of documents, even when a handful hold all of them. With one bit
//!   per document the same test is an AND of 64 documents at a time ([`AllOf`]).
//! - Each document has a record ([`Records`]) of what ranking a match reads: the field
//!   lengths, the words of its name (folded, in order, and exact) and the counts of the common
//!   words in its text. The clauses that only rank (a common word's score, a word in the
//!   name, the exact spelling, the phrase) are computed from it, for the matches only
//!   ([`Ranked`]), instead of moving a postings list per clause to each match. A record is
//!   packed in `u16`s so that a match costs a cache miss or two.
//!
//! The scores are tantivy's BM25 (as its `Bm25Weight` computes it) for the same term counts and field lengths as
//! its own scorers read, so the ranking is the same as with term and phrase queries (a unit
//! test in `search` compares the two). With 100,000 procedures this takes about 19 MB.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tantivy::collector::sort_key::NaturalComparator;
use tantivy::collector::{SegmentSortKeyComputer, SortKeyComputer};
use tantivy::index::SegmentId;
use tantivy::postings::{Postings, TermInfo};
use tantivy::query::{
    Bm25StatisticsProvider, BoostQuery, ConstScorer, EmptyScorer, EnableScoring, Explanation,
    FuzzyTermQuery, PhraseQuery, Query, Scorer, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    DocId, DocSet, IndexReader, InvertedIndexReader, Score, Searcher, SegmentReader, TERMINATED,
    TantivyError, Term,
};

/// A word is common when at least one document in this many holds it.
const COMMON_SHARE: u64 = 32;

/// The most common words kept for one segment, the commonest first. With 100,000 documents,
/// each takes 12.5 KiB of bits, and two bytes in the record of each document that holds it.
const MAX_COMMON_PER_SEGMENT: usize = 1 << COMMON_INDEX_BITS;

/// Whether a word held by `docs` of `total` documents is common.
pub fn is_common(docs: u64, total: u64) -> bool {
    docs > 0 && docs.saturating_mul(COMMON_SHARE) >= total
}

/// The fields read into memory.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// The folded text, where every word of a query must be.
    pub all: Field,
    /// The name folded, with positions (for the phrase).
    pub name_fold: Field,
    /// The name with its diacritics.
    pub name_exact: Field,
}

/// The documents of one segment that hold a word, one bit each.
struct Held {
    docs: u32,
    bits: Box<[u64]>,
}

impl Held {
    fn holds(&self, block: usize) -> u64 {
        self.bits.get(block).copied().unwrap_or(0)
    }
}

/// Per document, what scoring a match reads, packed in one place so that a match costs few
/// cache misses: the three field lengths (tantivy's field norm ids), the folded name's words in
/// order, the exact name's words, and the common words of the folded text with their counts.
///
/// A record is `u16`s: `[all | name << 8, exact, names, exacts, commons, name.., exact..,
/// common..]`: the norm ids, the three list lengths, then the lists. Name words are term
/// ordinals of the segment. A common entry is the word's index in the segment's common words
/// (low 10 bits) and its count (high 6 bits; a count above 63 is kept as 63, which moves its
/// BM25 term by less than 0.1 %).
#[derive(Default)]
struct Records {
    /// Where each document's record starts in `data`; one more entry than documents.
    starts: Box<[u32]>,
    data: Box<[u16]>,
}

const COMMON_INDEX_BITS: u32 = 10;
const MAX_COUNT: u32 = (1 << (16 - COMMON_INDEX_BITS)) - 1;

/// One document's record, unpacked.
struct Record<'a> {
    all_norm: u8,
    name_norm: u8,
    exact_norm: u8,
    name: &'a [u16],
    exact: &'a [u16],
    common: &'a [u16],
}

impl Records {
    fn of(&self, doc: DocId) -> Option<Record<'_>> {
        let d = doc as usize;
        let (start, end) = (
            *self.starts.get(d)? as usize,
            *self.starts.get(d + 1)? as usize,
        );
        let rec = self.data.get(start..end)?;
        let (&[norms, exact_norm, names, exacts, commons], rest) = rec.split_first_chunk::<5>()?;
        let (name, rest) = rest.split_at_checked(usize::from(names))?;
        let (exact, rest) = rest.split_at_checked(usize::from(exacts))?;
        let common = rest.get(..usize::from(commons))?;
        Some(Record {
            all_norm: norms as u8,
            name_norm: (norms >> 8) as u8,
            exact_norm: exact_norm as u8,
            name,
            exact,
            common,
        })
    }
}

impl Record<'_> {
    /// The count of the segment's common word `index` in the folded text (entries are sorted).
    fn common_count(&self, index: u16) -> u32 {
        match self
            .common
            .binary_search_by_key(&index, |e| e & ((1 << COMMON_INDEX_BITS) - 1))
        {
            Ok(at) => self
                .common
                .get(at)
                .map_or(0, |e| u32::from(e >> COMMON_INDEX_BITS)),
            Err(_) => 0,
        }
    }
}

/// What is kept of one segment.
struct Segment {
    /// The common words of the folded text, with their index in the records.
    common: HashMap<Vec<u8>, (u16, Arc<Held>)>,
    records: Records,
    /// The words of the folded text, by what is left of them less one letter.
    near: Near,
    /// The folded words (every word of the names; those of the text without a digit) with
    /// their counts and name ordinals, and the exact names' words: a search's statistics and
    /// ordinals without a walk down the term dictionaries.
    words: HashMap<Box<str>, WordStat>,
    exacts: HashMap<Box<str>, (u32, u32)>,
    /// The tokens of each field (`all`, `name_fold`, `name_exact`), for their mean length.
    tokens: [u64; 3],
    max_doc: DocId,
    /// Whether the records hold the names: not when a name field has more terms than a `u16`
    /// counts, and then the name's clauses are scored from their postings.
    names: bool,
}

/// A folded word in one segment: how many documents hold it in the text, and its term
/// ordinal and count in the folded names.
#[derive(Default, Clone, Copy)]
struct WordStat {
    all: u32,
    name: Option<(u32, u32)>,
}

impl Segment {
    /// The documents of the segment whose `field` holds `word`; `None` when the tables do not
    /// say (a word with a digit in the text: ask the term dictionary).
    fn doc_freq(&self, fields: Fields, field: Field, word: &str) -> Option<u32> {
        if field == fields.all {
            if word.chars().any(|c| c.is_ascii_digit()) {
                return None;
            }
            Some(self.words.get(word).map_or(0, |w| w.all))
        } else if field == fields.name_fold {
            Some(self.words.get(word).and_then(|w| w.name).map_or(0, |n| n.1))
        } else if field == fields.name_exact {
            Some(self.exacts.get(word).map_or(0, |e| e.1))
        } else {
            None
        }
    }

    fn name_ord(&self, word: &str) -> Option<u16> {
        let (ord, _) = self.words.get(word)?.name?;
        u16::try_from(ord).ok()
    }

    fn exact_ord(&self, word: &str) -> Option<u16> {
        let (ord, _) = self.exacts.get(word)?;
        u16::try_from(*ord).ok()
    }
}

/// The segments' data, kept in step with the index reader.
pub struct Memory {
    fields: Fields,
    segments: RwLock<HashMap<SegmentId, Arc<Segment>>>,
    /// Taken by a refresh, so that an older searcher's refresh cannot land after a newer one.
    refreshing: Mutex<()>,
    /// BM25's length parts by (tokens, documents) of a field: see [`Memory::norms`].
    #[allow(clippy::type_complexity)]
    norms: Mutex<Vec<((u64, u64), Arc<[Score; 256]>)>>,
    /// The most distinct words a name field may have in a segment for the records to hold
    /// the names (`u16` ids); lowered by a test to try the other path.
    max_name_words: usize,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("segments", &self.all().len())
            .finish()
    }
}

impl Memory {
    pub fn new(fields: Fields) -> Memory {
        Memory {
            fields,
            segments: Default::default(),
            refreshing: Mutex::new(()),
            norms: Mutex::new(Vec::new()),
            max_name_words: usize::from(u16::MAX),
        }
    }

    /// Reads the segments of the reader's searcher that are not known yet, and forgets the
    /// segments it no longer has (merged away or emptied).
    pub fn refresh(&self, reader: &IndexReader) -> tantivy::Result<()> {
        let _one = match self.refreshing.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let searcher = reader.searcher();
        let known = self.all();
        let mut now = HashMap::with_capacity(searcher.segment_readers().len());
        for reader in searcher.segment_readers() {
            let id = reader.segment_id();
            let segment = match known.get(&id) {
                Some(s) => s.clone(),
                None => Arc::new(read_segment(reader, self.fields, self.max_name_words)?),
            };
            now.insert(id, segment);
        }
        match self.segments.write() {
            Ok(mut g) => *g = now,
            Err(p) => *p.into_inner() = now,
        }
        Ok(())
    }

    /// The number of common words kept, and the bytes all of it takes.
    pub fn size(&self) -> (usize, usize) {
        self.all().values().fold((0, 0), |(n, bytes), s| {
            let bits: usize = s.common.values().map(|(_, h)| h.bits.len() * 8).sum();
            let records = s.records.starts.len() * 4 + s.records.data.len() * 2;
            let words = s.words.keys().map(|k| k.len() + 40).sum::<usize>()
                + s.exacts.keys().map(|k| k.len() + 40).sum::<usize>();
            (
                n + s.common.len(),
                bytes + bits + records + s.near.bytes() + words,
            )
        })
    }

    /// Lowers the limit on a name's distinct words, so that the records leave the names out.
    #[cfg(test)]
    pub fn limit_name_words(mut self, max: usize) -> Memory {
        self.max_name_words = max;
        self
    }

    #[cfg(test)]
    pub fn segment_count(&self) -> usize {
        self.all().len()
    }

    fn all(&self) -> HashMap<SegmentId, Arc<Segment>> {
        match self.segments.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The data of a segment; read now when the segment is not known (a searcher older or
    /// newer than the last refresh).
    fn segment(&self, reader: &SegmentReader) -> tantivy::Result<Arc<Segment>> {
        let known = match self.segments.read() {
            Ok(g) => g.get(&reader.segment_id()).cloned(),
            Err(p) => p.into_inner().get(&reader.segment_id()).cloned(),
        };
        match known {
            Some(s) => Ok(s),
            None => Ok(Arc::new(read_segment(
                reader,
                self.fields,
                self.max_name_words,
            )?)),
        }
    }
}

fn read_segment(
    reader: &SegmentReader,
    fields: Fields,
    max_name_words: usize,
) -> tantivy::Result<Segment> {
    let max_doc = reader.max_doc();
    let index = reader.inverted_index(fields.all)?;
    let mut common: Vec<(Vec<u8>, TermInfo)> = Vec::new();
    let mut near = NearBuilder::default();
    let mut words: HashMap<Box<str>, WordStat> = HashMap::new();
    let mut terms = index.terms().stream()?;
    while terms.advance() {
        let info = terms.value();
        if is_common(u64::from(info.doc_freq), u64::from(max_doc)) {
            common.push((terms.key().to_vec(), info.clone()));
        }
        near.add(terms.term_ord(), terms.key());
        if let Ok(word) = std::str::from_utf8(terms.key())
            && !word.chars().any(|c| c.is_ascii_digit())
        {
            words.insert(
                word.into(),
                WordStat {
                    all: info.doc_freq,
                    name: None,
                },
            );
        }
    }
    let near = near.build();
    let name_index = reader.inverted_index(fields.name_fold)?;
    let exact_index = reader.inverted_index(fields.name_exact)?;
    let mut names = name_index.terms().stream()?;
    while names.advance() {
        if let Ok(word) = std::str::from_utf8(names.key()) {
            let ord = u32::try_from(names.term_ord()).unwrap_or(u32::MAX);
            words.entry(word.into()).or_default().name = Some((ord, names.value().doc_freq));
        }
    }
    let mut exacts = HashMap::new();
    let mut terms = exact_index.terms().stream()?;
    while terms.advance() {
        if let Ok(word) = std::str::from_utf8(terms.key()) {
            let ord = u32::try_from(terms.term_ord()).unwrap_or(u32::MAX);
            exacts.insert(Box::<str>::from(word), (ord, terms.value().doc_freq));
        }
    }
    let tokens = [
        index.total_num_tokens(),
        name_index.total_num_tokens(),
        exact_index.total_num_tokens(),
    ];
    common.sort_by(|a, b| b.1.doc_freq.cmp(&a.1.doc_freq).then_with(|| a.0.cmp(&b.0)));
    common.truncate(MAX_COMMON_PER_SEGMENT);
    // Common words in index order, so that each document's entries come out sorted.
    let mut counts: Vec<(DocId, u16)> = Vec::new();
    let mut held = HashMap::with_capacity(common.len());
    for (i, (key, info)) in (0u16..).zip(common) {
        let mut postings =
            index.read_postings_from_terminfo(&info, IndexRecordOption::WithFreqs)?;
        // One pass gives both the bits and the counts.
        let mut bits = vec![0u64; max_doc.div_ceil(64) as usize];
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if let Some(w) = bits.get_mut((doc / 64) as usize) {
                *w |= 1 << (doc % 64);
            }
            let n = postings.term_freq().min(MAX_COUNT) as u16;
            counts.push((doc, i | n << COMMON_INDEX_BITS));
            doc = postings.advance();
        }
        let bits = Held {
            docs: info.doc_freq,
            bits: bits.into(),
        };
        held.insert(key, (i, Arc::new(bits)));
    }
    let counts = ByDoc::group(max_doc, counts);
    let fits = |field: Field| -> tantivy::Result<bool> {
        Ok(reader.inverted_index(field)?.terms().num_terms() <= max_name_words)
    };
    let names = fits(fields.name_fold)? && fits(fields.name_exact)?;
    let (name, exact) = if names {
        (
            read_words(reader, fields.name_fold, true)?,
            read_words(reader, fields.name_exact, false)?,
        )
    } else {
        (ByDoc::default(), ByDoc::default())
    };
    let norms = [
        reader.get_fieldnorms_reader(fields.all)?,
        reader.get_fieldnorms_reader(fields.name_fold)?,
        reader.get_fieldnorms_reader(fields.name_exact)?,
    ];
    let too_large =
        || TantivyError::InvalidArgument("a segment too large to keep in memory".into());
    let mut starts = Vec::with_capacity(max_doc as usize + 1);
    let mut data: Vec<u16> = Vec::with_capacity(
        (max_doc as usize) * 5 + name.values.len() + exact.values.len() + counts.values.len(),
    );
    for doc in 0..max_doc {
        starts.push(u32::try_from(data.len()).map_err(|_| too_large())?);
        let (name, exact, common) = (name.of(doc), exact.of(doc), counts.of(doc));
        let len = |l: &[(u32, u16)]| l.len().min(usize::from(u16::MAX)) as u16;
        data.push(
            u16::from(norms[0].fieldnorm_id(doc)) | u16::from(norms[1].fieldnorm_id(doc)) << 8,
        );
        data.push(u16::from(norms[2].fieldnorm_id(doc)));
        data.extend([len(name), len(exact), len(common)]);
        for list in [name, exact, common] {
            data.extend(list.iter().take(usize::from(len(list))).map(|x| x.1));
        }
    }
    starts.push(u32::try_from(data.len()).map_err(|_| too_large())?);
    Ok(Segment {
        common: held,
        records: Records {
            starts: starts.into(),
            data: data.into(),
        },
        near,
        words,
        exacts,
        tokens,
        max_doc,
        names,
    })
}

/// Values grouped by document, each with a sort key (a position, or 0).
#[derive(Default)]
struct ByDoc {
    starts: Vec<u32>,
    values: Vec<(u32, u16)>,
}

impl ByDoc {
    /// Groups `(document, value)` pairs by document, keeping their order within a document
    /// (a counting sort: two passes, no comparison).
    fn group(max_doc: DocId, entries: Vec<(DocId, u16)>) -> ByDoc {
        ByDoc::group_keyed(max_doc, entries.into_iter().map(|(d, v)| (d, (0, v))))
    }

    fn group_keyed(max_doc: DocId, entries: impl Iterator<Item = (DocId, (u32, u16))>) -> ByDoc {
        let entries: Vec<(DocId, (u32, u16))> = entries.collect();
        let mut starts = vec![0u32; max_doc as usize + 1];
        for &(doc, _) in &entries {
            if let Some(n) = starts.get_mut(doc as usize + 1) {
                *n += 1;
            }
        }
        let mut total = 0;
        for n in &mut starts {
            total += *n;
            *n = total;
        }
        let mut next = starts.clone();
        let mut values = vec![(0u32, 0u16); entries.len()];
        for (doc, v) in entries {
            if let Some(at) = next.get_mut(doc as usize) {
                if let Some(slot) = values.get_mut(*at as usize) {
                    *slot = v;
                }
                *at += 1;
            }
        }
        ByDoc { starts, values }
    }

    fn of(&self, doc: DocId) -> &[(u32, u16)] {
        let d = doc as usize;
        match (self.starts.get(d), self.starts.get(d + 1)) {
            (Some(&s), Some(&e)) => self.values.get(s as usize..e as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// The documents holding a term, one bit each.
fn read_held(
    index: &InvertedIndexReader,
    info: &TermInfo,
    max_doc: DocId,
) -> tantivy::Result<Held> {
    let mut bits = vec![0u64; max_doc.div_ceil(64) as usize];
    set_bits(index, info, &mut bits)?;
    Ok(Held {
        docs: info.doc_freq,
        bits: bits.into(),
    })
}

/// Sets the bits of the documents that hold a term.
fn set_bits(index: &InvertedIndexReader, info: &TermInfo, bits: &mut [u64]) -> tantivy::Result<()> {
    let mut postings = index.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
    loop {
        let docs = postings.docs();
        if docs.is_empty() {
            break;
        }
        for &doc in docs {
            if let Some(w) = bits.get_mut((doc / 64) as usize) {
                *w |= 1 << (doc % 64);
            }
        }
        postings.advance();
    }
    Ok(())
}

/// Every document's words in a field, as term ordinals (which fit a `u16`): in position
/// order when `positions`, else each term as many times as the document holds it.
fn read_words(reader: &SegmentReader, field: Field, positions: bool) -> tantivy::Result<ByDoc> {
    let index = reader.inverted_index(field)?;
    let option = if positions {
        IndexRecordOption::WithFreqsAndPositions
    } else {
        IndexRecordOption::WithFreqs
    };
    let mut all: Vec<(DocId, (u32, u16))> = Vec::new();
    let mut at = Vec::new();
    let mut terms = index.terms().stream()?;
    while terms.advance() {
        let ord = u16::try_from(terms.term_ord())
            .map_err(|_| TantivyError::InvalidArgument("too many terms in a name".into()))?;
        let mut postings = index.read_postings_from_terminfo(terms.value(), option)?;
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if positions {
                postings.positions(&mut at);
                all.extend(at.iter().map(|&p| (doc, (p, ord))));
            } else {
                all.extend((0..postings.term_freq()).map(|_| (doc, (0, ord))));
            }
            doc = postings.advance();
        }
    }
    let mut words = ByDoc::group_keyed(reader.max_doc(), all.into_iter());
    if positions {
        for d in 0..reader.max_doc() as usize {
            if let (Some(&s), Some(&e)) = (words.starts.get(d), words.starts.get(d + 1))
                && let Some(list) = words.values.get_mut(s as usize..e as usize)
            {
                list.sort_unstable();
            }
        }
    }
    Ok(words)
}

/// The longest word, in letters, that [`Near`] keeps: longer ones are not words a citizen
/// types (codes, addresses run together), and each costs a key per letter.
const NEAR_MAX_CHARS: usize = 40;

/// The words of a segment's folded text, found from any word one edit away from them (a
/// letter added, dropped or changed, or two neighbours swapped) without walking the term
/// dictionary with an automaton. Words with a digit are left out: a number one digit off is
/// another number (a procedure code, a year), not a typo.
///
/// Every word is filed under a key of itself and a key of each way to drop one of its
/// letters. Two words are one edit apart only if the one equals the other less a letter, or
/// both less a letter are equal (a change, or a swap: "dnag" and "dang" both give "dag"), so
/// the words near a typed word are among those filed under its own keys. A key is a hash:
/// each word found is checked letter by letter.
#[derive(Default)]
struct Near {
    /// Every word, by term ordinal: `text[starts[o]..starts[o + 1]]`.
    text: String,
    starts: Vec<u32>,
    /// Keys, sorted, and beside each the term ordinal of the word filed under it.
    keys: Vec<u64>,
    ords: Vec<u32>,
}

#[derive(Default)]
struct NearBuilder {
    text: String,
    starts: Vec<u32>,
    filed: Vec<(u64, u32)>,
}

impl NearBuilder {
    /// Adds the term of ordinal `ord`; terms come in ordinal order.
    fn add(&mut self, ord: u64, term: &[u8]) {
        let (Ok(ord), Ok(start)) = (u32::try_from(ord), u32::try_from(self.text.len())) else {
            return;
        };
        // Ordinals without text (not UTF-8, or past the last kept) stay empty.
        while self.starts.len() <= ord as usize {
            self.starts.push(start);
        }
        let Ok(word) = std::str::from_utf8(term) else {
            return;
        };
        let chars: Vec<char> = word.chars().collect();
        // A number one digit off is another number (a code, a year), not a typo.
        if chars.is_empty()
            || chars.len() > NEAR_MAX_CHARS
            || chars.iter().any(char::is_ascii_digit)
        {
            return;
        }
        self.text.push_str(word);
        self.filed
            .extend(near_keys(&chars).into_iter().map(|k| (k, ord)));
    }

    fn build(mut self) -> Near {
        let end = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.starts.push(end);
        self.filed.sort_unstable();
        self.filed.dedup();
        let (keys, ords) = self.filed.into_iter().unzip();
        Near {
            text: self.text,
            starts: self.starts,
            keys,
            ords,
        }
    }
}

impl Near {
    fn word(&self, ord: u32) -> Option<&str> {
        let o = ord as usize;
        let (s, e) = (
            *self.starts.get(o)? as usize,
            *self.starts.get(o + 1)? as usize,
        );
        self.text.get(s..e).filter(|w| !w.is_empty())
    }

    /// The term ordinals, in order, of the words at most one edit from `word`.
    fn of(&self, word: &str) -> Vec<u32> {
        let chars: Vec<char> = word.chars().collect();
        let mut out = Vec::new();
        if chars.is_empty() || chars.len() > NEAR_MAX_CHARS + 1 {
            return out;
        }
        for key in near_keys(&chars) {
            let from = self.keys.partition_point(|&k| k < key);
            for (&k, &ord) in self.keys.iter().zip(&self.ords).skip(from) {
                if k != key {
                    break;
                }
                if self.word(ord).is_some_and(|w| within_one(&chars, w)) {
                    out.push(ord);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn bytes(&self) -> usize {
        self.text.len() + self.starts.len() * 4 + self.keys.len() * 12
    }
}

/// The keys a word is filed under: itself, and itself less each letter.
fn near_keys(chars: &[char]) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let key = |skip: Option<usize>| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for (i, c) in chars.iter().enumerate() {
            if Some(i) != skip {
                c.hash(&mut h);
            }
        }
        h.finish()
    };
    let mut keys = Vec::with_capacity(chars.len() + 1);
    keys.push(key(None));
    for i in 0..chars.len() {
        // Dropping either of two equal neighbours leaves the same word.
        if i > 0 && chars.get(i - 1) == chars.get(i) {
            continue;
        }
        keys.push(key(Some(i)));
    }
    keys
}

/// Whether `b` is at most one edit from `a`: equal, one letter added, dropped or changed, or
/// two neighbouring letters swapped (the optimal string alignment distance is at most 1).
fn within_one(a: &[char], b: &str) -> bool {
    let b: Vec<char> = b.chars().collect();
    let (a, b) = (a, b.as_slice());
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    match a.len().abs_diff(b.len()) {
        0 => {
            if same == a.len() {
                return true;
            }
            let (Some(ra), Some(rb)) = (a.get(same..), b.get(same..)) else {
                return false;
            };
            // One change, or one swap of neighbours.
            ra.get(1..) == rb.get(1..)
                || (ra.len() >= 2
                    && ra.first() == rb.get(1)
                    && ra.get(1) == rb.first()
                    && ra.get(2..) == rb.get(2..))
        }
        1 => {
            let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
            long.get(same + 1..) == short.get(same..)
        }
        _ => false,
    }
}

/// Matches the documents that hold a word one edit away from `word` (one the index does not
/// hold: a typo) in the folded text, each with the boost as score, as tantivy's fuzzy term
/// query of distance 1 with swaps does; the near words come from [`Near`].
#[derive(Clone, Debug)]
pub struct NearWord {
    pub word: String,
    pub memory: Arc<Memory>,
}

impl Query for NearWord {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl NearWord {
    fn docs(&self, reader: &SegmentReader) -> tantivy::Result<Option<AllOfDocs>> {
        let segment = self.memory.segment(reader)?;
        let ords = segment.near.of(&self.word);
        if ords.is_empty() {
            return Ok(None);
        }
        let max_doc = reader.max_doc();
        let index = reader.inverted_index(self.memory.fields.all)?;
        let mut bits = vec![0u64; max_doc.div_ceil(64) as usize];
        let mut docs = 0u32;
        for word in ords.into_iter().filter_map(|o| segment.near.word(o)) {
            if let Some((_, held)) = segment.common.get(word.as_bytes()) {
                for (b, h) in bits.iter_mut().zip(held.bits.iter()) {
                    *b |= h;
                }
                docs = docs.saturating_add(held.docs);
            } else if let Some(info) = index.terms().get(word)? {
                set_bits(&index, &info, &mut bits)?;
                docs = docs.saturating_add(info.doc_freq);
            }
        }
        let held = Held {
            docs: docs.min(max_doc),
            bits: bits.into(),
        };
        Ok(Some(AllOfDocs::new(vec![Arc::new(held)], max_doc)))
    }
}

impl Weight for NearWord {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(bits_scorer(self.docs(reader)?, boost))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_bits(
            self.docs(reader)?,
            doc,
            Explanation::new("holds a word one edit away", 1.0),
            || format!("document {doc} holds no word one edit from {}", self.word),
        )
    }
}

/// A scorer over documents kept as bits, each with the same score.
fn bits_scorer(docs: Option<AllOfDocs>, score: Score) -> Box<dyn Scorer> {
    match docs {
        Some(docs) => Box::new(ConstScorer::new(docs, score)),
        None => Box::new(EmptyScorer),
    }
}

/// The explanation of a document kept as a bit, or the error saying it is not.
fn explain_bits(
    docs: Option<AllOfDocs>,
    doc: DocId,
    held: Explanation,
    not_held: impl FnOnce() -> String,
) -> tantivy::Result<Explanation> {
    let found = docs.is_some_and(|mut d| d.seek(doc) == doc);
    if found {
        Ok(held)
    } else {
        Err(TantivyError::InvalidArgument(not_held()))
    }
}

/// Matches the documents that hold every one of `words` in the folded text, with a score of
/// zero: their scores are added per match by [`Ranked`].
#[derive(Clone, Debug)]
pub struct AllOf {
    pub words: Vec<String>,
    pub memory: Arc<Memory>,
}

impl Query for AllOf {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl AllOf {
    /// The documents of the segment, or `None` when a word is in none of them.
    fn docs(&self, reader: &SegmentReader) -> tantivy::Result<Option<AllOfDocs>> {
        let segment = self.memory.segment(reader)?;
        let field = self.memory.fields.all;
        let max_doc = reader.max_doc();
        let mut sets = Vec::with_capacity(self.words.len());
        let mut index = None;
        for word in &self.words {
            if let Some((_, held)) = segment.common.get(word.as_bytes()) {
                sets.push(held.clone());
                continue;
            }
            // Not common in this segment: read its postings.
            let index = match &index {
                Some(i) => i,
                None => index.insert(reader.inverted_index(field)?),
            };
            match index.get_term_info(&Term::from_field_text(field, word))? {
                Some(info) => sets.push(Arc::new(read_held(index, &info, max_doc)?)),
                None => return Ok(None),
            }
        }
        sets.sort_by_key(|h| h.docs);
        Ok(Some(AllOfDocs::new(sets, max_doc)))
    }
}

impl Weight for AllOf {
    fn scorer(&self, reader: &SegmentReader, _boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(bits_scorer(self.docs(reader)?, 0.0))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        explain_bits(
            self.docs(reader)?,
            doc,
            Explanation::new("holds every common word", 0.0),
            || format!("document {doc} does not hold every common word"),
        )
    }
}

/// The documents set in every one of `sets`, in order.
struct AllOfDocs {
    /// Rarest word first, so that most blocks of 64 are ruled out by the first AND.
    sets: Vec<Arc<Held>>,
    max_doc: DocId,
    doc: DocId,
}

impl AllOfDocs {
    fn new(sets: Vec<Arc<Held>>, max_doc: DocId) -> AllOfDocs {
        let mut docs = AllOfDocs {
            sets,
            max_doc,
            doc: 0,
        };
        docs.doc = docs.first_from(0);
        docs
    }

    /// The first document at or after `from` that every set holds.
    fn first_from(&self, from: DocId) -> DocId {
        if from >= self.max_doc {
            return TERMINATED;
        }
        let blocks = self.max_doc.div_ceil(64) as usize;
        let mut block = (from / 64) as usize;
        let mut mask = u64::MAX << (from % 64);
        while block < blocks {
            let mut bits = mask;
            for set in &self.sets {
                bits &= set.holds(block);
                if bits == 0 {
                    break;
                }
            }
            if bits != 0 {
                let doc = block as DocId * 64 + bits.trailing_zeros();
                return if doc < self.max_doc { doc } else { TERMINATED };
            }
            block += 1;
            mask = u64::MAX;
        }
        TERMINATED
    }
}

impl DocSet for AllOfDocs {
    fn advance(&mut self) -> DocId {
        if self.doc != TERMINATED {
            self.doc = self.first_from(self.doc + 1);
        }
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc < target {
            self.doc = self.first_from(target);
        }
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.sets.first().map_or(self.max_doc, |h| h.docs)
    }
}

/// tantivy's BM25 constants.
const K1: Score = 1.2;
const B: Score = 0.75;

/// A term's BM25 in one field, as tantivy computes it (`Bm25Weight`): the weight is the idf
/// times `1 + K1` times the boost, and a document's score is `weight * tf / (tf + norm)`, where
/// `norm` depends on the document's field length id and the field's mean length. The norms are
/// shared by every term of the field.
#[derive(Clone)]
pub struct Bm25 {
    weight: Score,
    norms: Arc<[Score; 256]>,
}

impl Bm25 {
    pub fn score(&self, fieldnorm_id: u8, term_freq: u32) -> Score {
        let tf = term_freq as Score;
        let norm = self
            .norms
            .get(usize::from(fieldnorm_id))
            .copied()
            .unwrap_or(K1);
        self.weight * (tf / (tf + norm))
    }
}

fn idf(doc_freq: u64, docs: u64) -> Score {
    let x = (docs.saturating_sub(doc_freq) as Score + 0.5) / (doc_freq as Score + 0.5);
    (1.0 + x).ln()
}

/// What one search reads of the segments of its searcher, taken once: the memory of each
/// segment, the document count and the fields' token counts. It answers BM25's statistics
/// from the segments' word tables, so that neither the query's weights nor the ranking walk
/// the term dictionaries.
pub struct View {
    searcher: Searcher,
    memory: Arc<Memory>,
    segments: Vec<(SegmentId, Arc<Segment>)>,
    docs: u64,
    tokens: [u64; 3],
}

impl Memory {
    /// The memory of every segment of `searcher`, for one search.
    pub fn view(self: &Arc<Self>, searcher: &Searcher) -> tantivy::Result<View> {
        let mut segments = Vec::with_capacity(searcher.segment_readers().len());
        let (mut docs, mut tokens) = (0u64, [0u64; 3]);
        for reader in searcher.segment_readers() {
            let segment = self.segment(reader)?;
            docs += u64::from(segment.max_doc);
            for (t, n) in tokens.iter_mut().zip(segment.tokens) {
                *t += n;
            }
            segments.push((reader.segment_id(), segment));
        }
        Ok(View {
            searcher: searcher.clone(),
            memory: self.clone(),
            segments,
            docs,
            tokens,
        })
    }
}

impl Memory {
    /// BM25's length part for each field length id, for a field of `tokens` tokens over
    /// `docs` documents; the last few are kept, as they change only with the segments.
    fn norms(&self, tokens: u64, docs: u64) -> Arc<[Score; 256]> {
        let mut kept = match self.norms.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some((_, n)) = kept.iter().find(|(k, _)| *k == (tokens, docs)) {
            return n.clone();
        }
        let average = tokens as Score / docs.max(1) as Score;
        let mut norms = [0.0; 256];
        for (id, n) in (0u8..=255).zip(norms.iter_mut()) {
            let length = tantivy::fieldnorm::FieldNormReader::id_to_fieldnorm(id) as Score;
            *n = K1 * (1.0 - B + B * length / average);
        }
        let norms = Arc::new(norms);
        if kept.len() >= 8 {
            kept.remove(0);
        }
        kept.push(((tokens, docs), norms.clone()));
        norms
    }
}

impl View {
    fn slot(&self, field: Field) -> Option<usize> {
        let f = self.memory.fields;
        [f.all, f.name_fold, f.name_exact]
            .iter()
            .position(|&x| x == field)
    }

    /// The documents whose `field` holds `word`.
    pub fn doc_freq(&self, field: Field, word: &str) -> tantivy::Result<u64> {
        let mut total = 0u64;
        for (_, segment) in &self.segments {
            match segment.doc_freq(self.memory.fields, field, word) {
                Some(n) => total += u64::from(n),
                None => return self.searcher.doc_freq(&Term::from_field_text(field, word)),
            }
        }
        Ok(total)
    }

    /// The BM25 of `words` (their idfs summed, for a phrase) in `field`, times `boost`.
    fn bm25(&self, field: Field, words: &[String], boost: Score) -> tantivy::Result<Bm25> {
        let slot = self
            .slot(field)
            .ok_or_else(|| TantivyError::InvalidArgument("a field not kept in memory".into()))?;
        let mut sum: Score = 0.0;
        for w in words {
            sum += idf(self.doc_freq(field, w)?, self.docs);
        }
        let tokens = self.tokens.get(slot).copied().unwrap_or(0);
        let norms = self.memory.norms(tokens, self.docs);
        Ok(Bm25 {
            weight: sum * (1.0 + K1) * boost,
            norms,
        })
    }

    fn segment(&self, reader: &SegmentReader) -> tantivy::Result<Arc<Segment>> {
        let id = reader.segment_id();
        match self.segments.iter().find(|(s, _)| *s == id) {
            Some((_, segment)) => Ok(segment.clone()),
            None => self.memory.segment(reader),
        }
    }

    pub fn searcher(&self) -> &Searcher {
        &self.searcher
    }
}

impl Bm25StatisticsProvider for View {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        match self.slot(field).and_then(|i| self.tokens.get(i)) {
            Some(&n) => Ok(n),
            None => self.searcher.total_num_tokens(field),
        }
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.docs)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        match term.value().as_str() {
            Some(word) if self.slot(term.field()).is_some() => {
                View::doc_freq(self, term.field(), word)
            }
            _ => self.searcher.doc_freq(term),
        }
    }
}

/// The clauses that add to the score of a match, with their boosts.
#[derive(Default)]
pub struct Boosts {
    /// Common words of the folded text (matched by [`AllOf`]), scored here.
    pub common: Vec<String>,
    /// Folded words whose matches in the name add to the score.
    pub name: Vec<(String, Score)>,
    /// Exact words (with diacritics) whose matches in the name add to the score.
    pub exact: Vec<(String, Score)>,
    /// The words as a phrase in the folded name.
    pub phrase: Option<(Vec<String>, Score)>,
    /// Typed words the index does not hold: a name holding a word one edit away from one
    /// adds its boost (once per typed word, as tantivy's fuzzy term query scores).
    pub name_near: Vec<(String, Score)>,
    /// Other clauses, looked up with their own scorers.
    pub queries: Vec<Box<dyn Query>>,
}

/// Ranks the matches by their score plus the boosts that hold for them.
///
/// The boosts are computed for each match only, in document order. As optional clauses of one
/// boolean query they would be read as a union over every document they hold, which costs most
/// when the words are common ("đăng ký") and the matches few.
pub struct Ranked {
    view: Arc<View>,
    common: Vec<(String, Bm25)>,
    name: Vec<Boost>,
    exact: Vec<Boost>,
    phrase: Option<(Vec<String>, Score, Bm25)>,
    name_near: Vec<(String, Score)>,
    others: Vec<Box<dyn Weight>>,
}

/// A word that adds to the score, its boost and its BM25 (boost included).
struct Boost {
    word: String,
    by: Score,
    weight: Bm25,
}

impl Ranked {
    pub fn new(view: Arc<View>, boosts: Boosts) -> tantivy::Result<Ranked> {
        let f = view.memory.fields;
        let one = |field: Field, list: Vec<(String, Score)>| {
            list.into_iter()
                .map(|(word, by)| {
                    let weight = view.bm25(field, std::slice::from_ref(&word), by)?;
                    Ok(Boost { word, by, weight })
                })
                .collect::<tantivy::Result<Vec<_>>>()
        };
        let common = boosts
            .common
            .into_iter()
            .map(|w| {
                let weight = view.bm25(f.all, std::slice::from_ref(&w), 1.0)?;
                Ok((w, weight))
            })
            .collect::<tantivy::Result<Vec<_>>>()?;
        let name = one(f.name_fold, boosts.name)?;
        let exact = one(f.name_exact, boosts.exact)?;
        let phrase = match boosts.phrase {
            Some((words, by)) if !words.is_empty() => {
                let w = view.bm25(f.name_fold, &words, by)?;
                Some((words, by, w))
            }
            _ => None,
        };
        let scoring =
            EnableScoring::enabled_from_statistics_provider(view.as_ref(), &view.searcher);
        let others = boosts
            .queries
            .iter()
            .map(|q| q.weight(scoring))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Ranked {
            common,
            name,
            exact,
            phrase,
            name_near: boosts.name_near,
            others,
            view,
        })
    }
}

/// A common word's score in one segment: from memory, or from its postings when the word is
/// not common there.
enum CommonScore {
    Held(u16, Bm25),
    Postings(Box<dyn Scorer>),
}

pub struct RankedSegment {
    segment: Arc<Segment>,
    common: Vec<CommonScore>,
    /// Term ordinals of the segment; `None` when the segment lacks the word.
    name: Vec<(Option<u16>, Bm25)>,
    exact: Vec<(Option<u16>, Bm25)>,
    phrase: Option<(Vec<u16>, Bm25)>,
    /// Per typed word the index lacks, the name words one edit away, and the boost.
    name_near: Vec<(Vec<u16>, Score)>,
    others: Vec<Box<dyn Scorer>>,
}

impl SortKeyComputer for Ranked {
    type SortKey = Score;
    type Child = RankedSegment;
    type Comparator = NaturalComparator;

    fn requires_scoring(&self) -> bool {
        true
    }

    fn segment_sort_key_computer(&self, reader: &SegmentReader) -> tantivy::Result<RankedSegment> {
        let f = self.view.memory.fields;
        let segment = self.view.segment(reader)?;
        let scoring = EnableScoring::enabled_from_statistics_provider(
            self.view.as_ref(),
            &self.view.searcher,
        );
        let mut common = Vec::with_capacity(self.common.len());
        for (word, weight) in &self.common {
            common.push(match segment.common.get(word.as_bytes()) {
                Some((i, _)) => CommonScore::Held(*i, weight.clone()),
                None => CommonScore::Postings(
                    TermQuery::new(
                        Term::from_field_text(f.all, word),
                        IndexRecordOption::WithFreqs,
                    )
                    .weight(scoring)?
                    .scorer(reader, 1.0)?,
                ),
            });
        }
        let mut others = self
            .others
            .iter()
            .map(|w| w.scorer(reader, 1.0))
            .collect::<tantivy::Result<Vec<_>>>()?;
        if !segment.names {
            // The records lack the names: score their clauses from the postings.
            let term = |field: Field, b: &Boost| -> tantivy::Result<Box<dyn Scorer>> {
                BoostQuery::new(
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, &b.word),
                        IndexRecordOption::WithFreqs,
                    )),
                    b.by,
                )
                .weight(scoring)?
                .scorer(reader, 1.0)
            };
            for b in &self.name {
                others.push(term(f.name_fold, b)?);
            }
            for b in &self.exact {
                others.push(term(f.name_exact, b)?);
            }
            for (word, by) in &self.name_near {
                others.push(
                    BoostQuery::new(
                        Box::new(FuzzyTermQuery::new(
                            Term::from_field_text(f.name_fold, word),
                            1,
                            true,
                        )),
                        *by,
                    )
                    .weight(scoring)?
                    .scorer(reader, 1.0)?,
                );
            }
            if let Some((words, by, _)) = &self.phrase {
                let terms = words
                    .iter()
                    .map(|w| Term::from_field_text(f.name_fold, w))
                    .collect::<Vec<_>>();
                if terms.len() >= 2 {
                    others.push(
                        BoostQuery::new(Box::new(PhraseQuery::new(terms)), *by)
                            .weight(scoring)?
                            .scorer(reader, 1.0)?,
                    );
                }
            }
            return Ok(RankedSegment {
                common,
                name: Vec::new(),
                exact: Vec::new(),
                phrase: None,
                name_near: Vec::new(),
                others,
                segment,
            });
        }
        let name = self
            .name
            .iter()
            .map(|b| (segment.name_ord(&b.word), b.weight.clone()))
            .collect();
        let exact = self
            .exact
            .iter()
            .map(|b| (segment.exact_ord(&b.word), b.weight.clone()))
            .collect();
        let phrase = match &self.phrase {
            Some((words, _, weight)) => words
                .iter()
                .map(|w| segment.name_ord(w))
                .collect::<Option<Vec<u16>>>()
                .map(|o| (o, weight.clone())),
            None => None,
        };
        let mut name_near = Vec::with_capacity(self.name_near.len());
        for (word, by) in &self.name_near {
            let mut ords = Vec::new();
            for ord in segment.near.of(word) {
                if let Some(o) = segment.near.word(ord).and_then(|w| segment.name_ord(w)) {
                    ords.push(o);
                }
            }
            if !ords.is_empty() {
                name_near.push((ords, *by));
            }
        }
        Ok(RankedSegment {
            common,
            name,
            exact,
            phrase,
            name_near,
            others,
            segment,
        })
    }
}

/// How many times `phrase` starts in `words`.
fn phrase_count(words: &[u16], phrase: &[u16]) -> u32 {
    let Some(&first) = phrase.first() else {
        return 0;
    };
    if phrase.len() > words.len() {
        return 0;
    }
    words
        .windows(phrase.len())
        .filter(|w| w.first() == Some(&first) && *w == phrase)
        .count() as u32
}

fn count(words: &[u16], ord: u16) -> u32 {
    words.iter().filter(|&&w| w == ord).count() as u32
}

impl SegmentSortKeyComputer for RankedSegment {
    type SortKey = Score;
    type SegmentSortKey = Score;
    type SegmentComparator = NaturalComparator;

    fn segment_sort_key(&mut self, doc: DocId, score: Score) -> Score {
        let mut total = score;
        let record = self.segment.records.of(doc);
        for c in &mut self.common {
            match c {
                CommonScore::Held(i, weight) => {
                    if let Some(r) = &record {
                        let tf = r.common_count(*i);
                        if tf > 0 {
                            total += weight.score(r.all_norm, tf);
                        }
                    }
                }
                CommonScore::Postings(s) => {
                    if s.doc() < doc {
                        s.seek(doc);
                    }
                    if s.doc() == doc {
                        total += s.score();
                    }
                }
            }
        }
        if let Some(r) = &record {
            for (ord, weight) in &self.name {
                if let Some(ord) = ord {
                    let tf = count(r.name, *ord);
                    if tf > 0 {
                        total += weight.score(r.name_norm, tf);
                    }
                }
            }
            if let Some((ords, weight)) = &self.phrase {
                let tf = phrase_count(r.name, ords);
                if tf > 0 {
                    total += weight.score(r.name_norm, tf);
                }
            }
            for (ord, weight) in &self.exact {
                if let Some(ord) = ord {
                    let tf = count(r.exact, *ord);
                    if tf > 0 {
                        total += weight.score(r.exact_norm, tf);
                    }
                }
            }
            for (ords, by) in &self.name_near {
                if r.name.iter().any(|w| ords.contains(w)) {
                    total += *by;
                }
            }
        }
        for s in &mut self.others {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn held(docs: &[DocId], max_doc: DocId) -> Arc<Held> {
        let blocks = max_doc.div_ceil(64) as usize;
        let mut bits = vec![0u64; blocks];
        for &d in docs {
            bits[(d / 64) as usize] |= 1 << (d % 64);
        }
        Arc::new(Held {
            docs: docs.len() as u32,
            bits: bits.into(),
        })
    }

    fn collect(mut d: AllOfDocs) -> Vec<DocId> {
        let mut out = Vec::new();
        let mut doc = d.doc();
        while doc != TERMINATED {
            out.push(doc);
            doc = d.advance();
        }
        out
    }

    #[test]
    fn yields_the_documents_every_set_holds_in_order() {
        let a = held(&[0, 3, 63, 64, 65, 127, 128, 199], 200);
        let b = held(&[3, 5, 64, 127, 128, 198, 199], 200);
        let c = held(&[1, 3, 64, 66, 127, 199], 200);
        let d = AllOfDocs::new(vec![a.clone(), b.clone(), c], 200);
        assert_eq!(collect(d), vec![3, 64, 127, 199]);
        assert_eq!(
            collect(AllOfDocs::new(vec![a, b], 200)),
            vec![3, 64, 127, 128, 199]
        );
    }

    #[test]
    fn seeks_to_the_first_match_at_or_after_the_target() {
        let mut d = AllOfDocs::new(vec![held(&[10, 70, 130, 131], 140)], 140);
        assert_eq!(d.doc(), 10);
        assert_eq!(d.seek(10), 10);
        assert_eq!(d.seek(11), 70);
        assert_eq!(d.seek(131), 131);
        assert_eq!(d.advance(), TERMINATED);
        assert_eq!(d.advance(), TERMINATED);
        assert_eq!(d.seek(139), TERMINATED);
    }

    #[test]
    fn no_common_document_is_terminated_at_once() {
        let d = AllOfDocs::new(vec![held(&[1, 2], 64), held(&[3], 64)], 64);
        assert_eq!(d.doc(), TERMINATED);
        assert_eq!(AllOfDocs::new(Vec::new(), 0).doc(), TERMINATED);
    }

    #[test]
    fn a_record_unpacks_what_was_packed() {
        let common = |i: u16, n: u16| i | n << COMMON_INDEX_BITS;
        let records = Records {
            starts: vec![0, 5, 15].into(),
            data: vec![
                0x0201,
                3,
                0,
                0,
                0, // an empty document
                0x0b0c,
                0x0a,
                2,
                1,
                2,
                7,
                8,
                9,
                common(4, 3),
                common(11, 1),
            ]
            .into(),
        };
        let empty = records.of(0).unwrap_or_else(|| panic!("record 0"));
        assert_eq!(
            (empty.all_norm, empty.name_norm, empty.exact_norm),
            (1, 2, 3)
        );
        assert!(empty.name.is_empty() && empty.exact.is_empty() && empty.common.is_empty());
        let r = records.of(1).unwrap_or_else(|| panic!("record 1"));
        assert_eq!((r.all_norm, r.name_norm, r.exact_norm), (0x0c, 0x0b, 0x0a));
        assert_eq!(r.name, &[7, 8]);
        assert_eq!(r.exact, &[9]);
        assert_eq!(r.common_count(4), 3);
        assert_eq!(r.common_count(11), 1);
        assert_eq!(r.common_count(5), 0);
        assert_eq!(r.common_count(12), 0);
        assert!(records.of(2).is_none());
    }

    #[test]
    fn a_phrase_is_counted_where_it_starts() {
        assert_eq!(phrase_count(&[1, 2, 3, 1, 2], &[1, 2]), 2);
        assert_eq!(phrase_count(&[1, 2, 3], &[2, 1]), 0);
        assert_eq!(phrase_count(&[1], &[1, 2]), 0);
        assert_eq!(count(&[4, 1, 4], 4), 2);
    }

    #[test]
    fn a_word_is_common_from_one_document_in_32() {
        assert!(is_common(32, 1024));
        assert!(!is_common(31, 1024));
        assert!(is_common(1, 10));
        assert!(!is_common(0, 10));
    }

    /// The optimal string alignment distance, by the textbook table.
    fn osa(a: &str, b: &str) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[i - 2][j - 2] + 1);
                }
                d[i][j] = v;
            }
        }
        d[a.len()][b.len()]
    }

    #[test]
    fn near_finds_every_word_one_edit_away_and_no_other() {
        let mut vocabulary = vec![
            "dang", "dag", "dangg", "dnag", "adng", "ky", "yk", "k", "kyy", "khai", "khia", "kha",
            "sinh", "sinhh", "snih", "aab", "ab", "aaab", "abab", "baba", "đăng", "đang", "ký",
            "xe", "xr", "x", "e", "ex", "hon", "hôn", "nhon", "honn", "ohn",
        ];
        let numbers = ["2024", "2025", "001193"];
        vocabulary.sort_unstable();
        vocabulary.dedup();
        let mut b = NearBuilder::default();
        // Ordinals with a gap, as when a term is not kept.
        for (i, w) in vocabulary.iter().enumerate() {
            b.add(i as u64 * 2, w.as_bytes());
        }
        // Numbers are not kept.
        let last = vocabulary.len() as u64 * 2;
        for (i, n) in numbers.iter().enumerate() {
            b.add(last + i as u64, n.as_bytes());
        }
        let near = b.build();
        for n in ["2024", "2026", "001194"] {
            assert!(near.of(n).is_empty(), "{n}");
        }
        let typed = [
            "dang", "dnag", "dangg", "dan", "kyy", "yk", "khia", "sinnh", "aab", "abba", "đnăg",
            "hon", "ho", "xe", "", "q", "zzzzzz",
        ];
        for t in typed {
            let mut want: Vec<u32> = vocabulary
                .iter()
                .enumerate()
                .filter(|(_, w)| !t.is_empty() && osa(t, w) <= 1)
                .map(|(i, _)| i as u32 * 2)
                .collect();
            want.sort_unstable();
            assert_eq!(near.of(t), want, "{t}");
            for (i, w) in vocabulary.iter().enumerate() {
                let chars: Vec<char> = t.chars().collect();
                assert_eq!(within_one(&chars, w), osa(t, w) <= 1, "{t} / {w}");
                assert_eq!(near.word(i as u32 * 2), Some(*w));
            }
        }
        assert_eq!(near.word(1), None);
    }
}
