//! Vietnamese text as people type it.
//!
//! Vietnamese is written with tone marks and vowel hats and horns, but many people type without
//! them ("dang ky khai sinh"), some type decomposed (NFD) Unicode, and the spelling reform left
//! i and y interchangeable after a consonant ("đăng kí" and "đăng ký"). These functions turn text
//! into comparable words; the search index and the query parser both use them, so that what is
//! indexed and what is asked always meet.

use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization;

use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_normalization::{IsNormalized, is_nfc_quick};

/// One word of a text, with its byte span in the NFC form of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word as it was written, lower-cased (diacritics kept).
    pub exact: String,
    /// The word folded: no diacritics, đ→d, and final y after a consonant made i.
    pub folded: String,
    pub start: usize,
    pub end: usize,
}

/// Lower-cases and removes every diacritic (tones, hats, horns, breve) and maps đ to d.
///
/// Each letter is decomposed alone (its canonical decomposition) and its marks dropped: the
/// same letters as decomposing the whole text, whose only difference is the order of the
/// marks, without its buffer. ASCII letters need no table at all.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        decompose_canonical(c, |d| {
            if is_combining_mark(d) {
                return;
            }
            match d {
                'đ' | 'Đ' => out.push('d'),
                d => out.extend(d.to_lowercase()),
            }
        });
    }
    out
}

/// Consonant onsets after which a lone i or y is the same syllable (kí/ký, lí/lý, qui/quy).
const ONSETS: &[&str] = &[
    "b", "c", "d", "g", "h", "k", "l", "m", "n", "p", "q", "r", "s", "t", "v", "x", "ch", "gh",
    "kh", "nh", "ng", "ngh", "ph", "th", "tr", "qu", "gi",
];

/// Makes i and y one letter where Vietnamese spelling allows both: a folded syllable made of a
/// consonant onset and a final `y` becomes the same with `i` ("ky" → "ki", "quy" → "qui").
/// A lone "y" (as in "ý kiến") and y inside other vowels ("tuy", "nguyen") stay as they are.
pub fn unify_i_y(folded: &str) -> String {
    if let Some(onset) = folded.strip_suffix('y')
        && ONSETS.contains(&onset)
    {
        let mut s = String::with_capacity(folded.len());
        s.push_str(onset);
        s.push('i');
        return s;
    }
    folded.to_string()
}

/// The canonical search form of one word: folded, then i/y unified.
pub fn search_form(word: &str) -> String {
    unify_i_y(&fold(word))
}

/// Splits a text into words (letters and digits), after NFC normalisation, so that text typed
/// in decomposed Unicode gives the same words as precomposed text.
pub fn words(text: &str) -> Vec<Word> {
    // Most text is already composed (all of ASCII is): normalise only when it is not.
    let nfc: Cow<'_, str> = match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => Cow::Borrowed(text),
        _ => Cow::Owned(text.nfc().collect()),
    };
    let nfc = nfc.as_ref();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in nfc.char_indices() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            push_word(nfc, s, i, &mut out);
        }
    }
    if let Some(s) = start {
        push_word(nfc, s, nfc.len(), &mut out);
    }
    out
}

fn push_word(nfc: &str, start: usize, end: usize, out: &mut Vec<Word>) {
    let raw = &nfc[start..end];
    let folded = search_form(raw);
    // A run of nothing but combining marks folds to nothing: not a word.
    if folded.is_empty() {
        return;
    }
    out.push(Word {
        exact: raw.to_lowercase(),
        folded,
        start,
        end,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_every_vietnamese_mark() {
        assert_eq!(fold("Đăng ký khai sinh"), "dang ky khai sinh");
        assert_eq!(fold("Giấy phép lái xe"), "giay phep lai xe");
        assert_eq!(fold("Ưu đãi Ơn Ấn Ổ Ữ Ỹ"), "uu dai on an o u y");
        assert_eq!(fold("THỦ TỤC HÀNH CHÍNH"), "thu tuc hanh chinh");
    }

    #[test]
    fn decomposed_input_gives_the_same_words() {
        let nfd: String = "Đăng ký kết hôn".nfd().collect();
        let a: Vec<String> = words(&nfd).into_iter().map(|w| w.folded).collect();
        let b: Vec<String> = words("Đăng ký kết hôn")
            .into_iter()
            .map(|w| w.folded)
            .collect();
        assert_eq!(a, b);
        assert_eq!(a, vec!["dang", "ki", "ket", "hon"]);
        let exact: Vec<String> = words(&nfd).into_iter().map(|w| w.exact).collect();
        assert_eq!(exact, vec!["đăng", "ký", "kết", "hôn"]);
    }

    #[test]
    fn i_and_y_meet_only_after_a_consonant() {
        assert_eq!(search_form("ký"), "ki");
        assert_eq!(search_form("kí"), "ki");
        assert_eq!(search_form("lý"), "li");
        assert_eq!(search_form("quy"), "qui");
        assert_eq!(search_form("ý"), "y");
        assert_eq!(search_form("tuy"), "tuy");
        assert_eq!(search_form("Nguyễn"), "nguyen");
        assert_eq!(search_form("tay"), "tay");
    }

    proptest::proptest! {
        #[test]
        fn words_are_slices_of_the_nfc_text(s in "\\PC{0,40}") {
            let nfc: String = s.nfc().collect();
            for w in words(&s) {
                proptest::prop_assert!(w.start < w.end && w.end <= nfc.len());
                proptest::prop_assert_eq!(nfc[w.start..w.end].to_lowercase(), w.exact.clone());
                proptest::prop_assert!(!w.folded.is_empty());
            }
        }

        #[test]
        fn folding_letter_by_letter_equals_folding_the_decomposed_text(s in "\\PC{0,40}") {
            let mut whole = String::new();
            for c in s.nfd() {
                match c {
                    c if is_combining_mark(c) => {}
                    'đ' | 'Đ' => whole.push('d'),
                    c => whole.extend(c.to_lowercase()),
                }
            }
            proptest::prop_assert_eq!(fold(&s), whole);
            let nfd: String = s.nfd().collect();
            let words_of = |t: &str| words(t).into_iter().map(|w| w.folded).collect::<Vec<_>>();
            proptest::prop_assert_eq!(words_of(&s), words_of(&nfd));
        }

        #[test]
        fn folding_vietnamese_letters_gives_ascii(s in "[a-zA-ZàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđĐ ]{0,30}") {
            proptest::prop_assert!(fold(&s).is_ascii());
        }
    }

    #[test]
    fn splits_on_punctuation_and_keeps_numbers() {
        let w: Vec<String> = words("Nghị định 61/2018/NĐ-CP")
            .into_iter()
            .map(|w| w.folded)
            .collect();
        assert_eq!(w, vec!["nghi", "dinh", "61", "2018", "nd", "cp"]);
    }
}
