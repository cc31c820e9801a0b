//! The lexical half of retrieval: Snowball-stemmed terms (Dutch and English, `rust-stemmers`) in a
//! BM25 inverted index kept as flat arrays, so it is written to and read from the index file as is.
//!
//! Why not tantivy: its index is a directory of segments that would have to be kept in step with our
//! vectors and swapped atomically with them, and it roughly doubles this crate's build; a BM25 over
//! in-memory postings answers a 100k-passage query in a few milliseconds, which is what we need.

use rust_stemmers::{Algorithm, Stemmer};
use std::collections::HashMap;

/// BM25 term-frequency saturation and length normalisation (the usual Lucene/Anserini values).
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// Languages whose stemmer the index can apply, by ISO 639-1 code.
pub const STEMMED_LANGUAGES: [&str; 2] = ["nl", "en"];

fn stemmer(language: &str) -> Option<Stemmer> {
    match language {
        "nl" => Some(Stemmer::create(Algorithm::Dutch)),
        "en" => Some(Stemmer::create(Algorithm::English)),
        _ => None,
    }
}

/// Function words left out of the index and the queries (after the Snowball stop lists, shortened to
/// the words that turn up in customer turns): "ik heb al drie weken elke avond" should match on
/// "weken" and "avond" only, not on every article that says "u" and "al".
const STOPWORDS: [(&str, &[&str]); 2] = [
    (
        "nl",
        &[
            "aan", "al", "alle", "alles", "als", "ben", "bij", "dan", "dat", "de", "deze", "die", "dit",
            "doe", "doen", "door", "dus", "echt", "een", "eens", "elke", "en", "er", "ga", "gaat", "had",
            "heb", "hebben", "heeft", "het", "hier", "hij", "hoe", "hun", "iets", "ik", "in", "is", "ja",
            "je", "jij", "jullie", "kan", "kun", "kunt", "maar", "me", "mij", "mijn", "moet", "na", "naar",
            "nee", "niet", "nog", "nu", "of", "om", "ons", "ook", "op", "over", "te", "toch", "tot", "u",
            "uit", "uw", "van", "veel", "voor", "want", "was", "wat", "we", "wel", "wij", "wil", "wordt",
            "zal", "ze", "zich", "zijn", "zo", "zou", "eh", "hoor", "nou", "oke", "ok",
        ],
    ),
    (
        "en",
        &[
            "a", "about", "all", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by",
            "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "how",
            "i", "if", "in", "into", "is", "it", "its", "just", "me", "my", "no", "not", "of", "on", "or",
            "our", "please", "really", "so", "that", "the", "their", "them", "then", "there", "these",
            "they", "this", "to", "us", "was", "we", "were", "what", "when", "which", "will", "with",
            "would", "yes", "you", "your", "um", "uh",
        ],
    ),
];

fn is_stopword(word: &str, language: &str) -> bool {
    STOPWORDS.iter().any(|(l, list)| *l == language && list.contains(&word))
}

/// Lower-cased alphanumeric words of `text` without function words, stemmed for `language` (unstemmed,
/// with no stop list, for other languages).
pub fn terms(text: &str, language: &str) -> Vec<String> {
    let stem = stemmer(language);
    words(text)
        .filter(|w| !is_stopword(w, language))
        .map(|w| stem.as_ref().map_or_else(|| w.clone(), |s| s.stem(&w).into_owned()))
        .collect()
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.chars().count() <= 40)
        .map(str::to_lowercase)
        // One-letter words ("u", "a") carry nothing but cost posting lists.
        .filter(|w| w.chars().count() > 1 || w.chars().all(|c| c.is_ascii_digit()))
}

/// An inverted index over passages: `postings[offsets[t]..offsets[t + 1]]` are the passages holding term
/// `t`, with their counts in `counts`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LexicalIndex {
    pub terms: Vec<String>,
    pub offsets: Vec<u32>,
    pub postings: Vec<u32>,
    pub counts: Vec<u16>,
    pub doc_lens: Vec<u32>,
    lookup: HashMap<String, u32>,
}

impl LexicalIndex {
    /// Builds the index from each passage's terms.
    pub fn build(docs: &[Vec<String>]) -> LexicalIndex {
        let mut by_term: HashMap<&str, Vec<(u32, u16)>> = HashMap::new();
        for (d, terms) in docs.iter().enumerate() {
            let mut tf: HashMap<&str, u16> = HashMap::new();
            for t in terms {
                let c = tf.entry(t.as_str()).or_default();
                *c = c.saturating_add(1);
            }
            for (t, c) in tf {
                by_term.entry(t).or_default().push((d as u32, c));
            }
        }
        let mut terms: Vec<&str> = by_term.keys().copied().collect();
        terms.sort_unstable();
        let mut index =
            LexicalIndex { doc_lens: docs.iter().map(|d| d.len() as u32).collect(), ..Default::default() };
        index.offsets.push(0);
        for t in &terms {
            let mut list = by_term.remove(t).unwrap_or_default();
            list.sort_unstable();
            index.postings.extend(list.iter().map(|(d, _)| *d));
            index.counts.extend(list.iter().map(|(_, c)| *c));
            index.offsets.push(index.postings.len() as u32);
        }
        index.terms = terms.into_iter().map(str::to_string).collect();
        index.rebuild_lookup();
        index
    }

    /// Checks the arrays agree with each other (a file read from disk) and builds the term lookup.
    pub fn from_parts(
        terms: Vec<String>,
        offsets: Vec<u32>,
        postings: Vec<u32>,
        counts: Vec<u16>,
        doc_lens: Vec<u32>,
    ) -> Option<LexicalIndex> {
        let consistent = offsets.len() == terms.len() + 1
            && offsets.first() == Some(&0)
            && offsets.windows(2).all(|w| w[0] <= w[1])
            && offsets.last().is_some_and(|l| *l as usize == postings.len())
            && postings.len() == counts.len()
            && postings.iter().all(|d| (*d as usize) < doc_lens.len());
        if !consistent {
            return None;
        }
        let mut index = LexicalIndex { terms, offsets, postings, counts, doc_lens, lookup: HashMap::new() };
        index.rebuild_lookup();
        Some(index)
    }

    fn rebuild_lookup(&mut self) {
        self.lookup = self.terms.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    }

    /// Inverse document frequency of a term, `None` when no passage holds it.
    pub fn idf(&self, term: &str) -> Option<f32> {
        let t = *self.lookup.get(term)? as usize;
        let df = (self.offsets[t + 1] - self.offsets[t]) as f32;
        let n = self.doc_lens.len() as f32;
        Some((1.0 + (n - df + 0.5) / (df + 0.5)).ln())
    }

    /// BM25 of every passage for weighted query terms (weights multiply each term's contribution).
    pub fn scores(&self, query: &[(String, f32)]) -> Vec<f32> {
        let n = self.doc_lens.len();
        let mut scores = vec![0f32; n];
        if n == 0 {
            return scores;
        }
        let avg = self.doc_lens.iter().map(|l| *l as f64).sum::<f64>() as f32 / n as f32;
        let avg = avg.max(1.0);
        for (term, weight) in query {
            let Some(&t) = self.lookup.get(term) else { continue };
            let idf = self.idf(term).unwrap_or(0.0) * weight;
            let range = self.offsets[t as usize] as usize..self.offsets[t as usize + 1] as usize;
            for (d, c) in self.postings[range.clone()].iter().zip(&self.counts[range]) {
                let tf = *c as f32;
                let norm = K1 * (1.0 - B + B * self.doc_lens[*d as usize] as f32 / avg);
                scores[*d as usize] += idf * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        scores
    }
}

/// Query terms with weights: each text's terms under every stemmer the index uses, a term keeping the
/// highest weight of the texts it occurs in.
pub fn weighted_terms(texts: &[(&str, f32)], languages: &[String]) -> Vec<(String, f32)> {
    let mut weights: HashMap<String, f32> = HashMap::new();
    for (text, weight) in texts {
        for language in languages {
            for t in terms(text, language) {
                let w = weights.entry(t).or_insert(0.0);
                *w = w.max(*weight);
            }
        }
    }
    let mut out: Vec<(String, f32)> = weights.into_iter().collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dutch_stemming_joins_word_forms() {
        assert_eq!(terms("Opzeggen opgezegd", "nl")[0], terms("opzeggen", "nl")[0]);
        assert_eq!(terms("abonnementen", "nl"), terms("abonnement", "nl"));
        assert_eq!(terms("Invoices invoice", "en"), vec!["invoic", "invoic"]);
    }

    #[test]
    fn bm25_prefers_the_passage_with_the_rare_term() {
        let docs: Vec<Vec<String>> =
            ["de factuur is hoog", "de modem knippert", "de factuur, de modem en de router"]
                .iter()
                .map(|t| terms(t, "nl"))
                .collect();
        let index = LexicalIndex::build(&docs);
        let q = weighted_terms(&[("mijn modem", 1.0)], &["nl".to_string()]);
        let s = index.scores(&q);
        assert!(s[1] > s[2] && s[2] > 0.0 && s[0] == 0.0, "{s:?}");
        let again = LexicalIndex::from_parts(
            index.terms.clone(),
            index.offsets.clone(),
            index.postings.clone(),
            index.counts.clone(),
            index.doc_lens.clone(),
        );
        assert_eq!(again.as_ref(), Some(&index));
        assert!(LexicalIndex::from_parts(vec!["x".into()], vec![0, 5], vec![0], vec![1], vec![1]).is_none());
    }
}
