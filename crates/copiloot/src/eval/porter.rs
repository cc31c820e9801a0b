//! The Porter stemmer exactly as NLTK's `PorterStemmer()` (its default `NLTK_EXTENSIONS` mode), which is
//! what the `rouge-score` package uses: ROUGE numbers are only comparable with the same stems.
//!
//! A line-by-line port of `nltk/stem/porter.py` (NLTK 3.10); inputs are lower-case ASCII `[a-z0-9]` tokens
//! (what the ROUGE tokeniser produces), so the code works on bytes.

/// Irregular forms NLTK maps directly (its `pool`).
const POOL: [(&str, &str); 16] = [
    ("sky", "sky"),
    ("skies", "sky"),
    ("dying", "die"),
    ("lying", "lie"),
    ("tying", "tie"),
    ("news", "news"),
    ("innings", "inning"),
    ("inning", "inning"),
    ("outings", "outing"),
    ("outing", "outing"),
    ("cannings", "canning"),
    ("canning", "canning"),
    ("howe", "howe"),
    ("proceed", "proceed"),
    ("exceed", "exceed"),
    ("succeed", "succeed"),
];

/// Stem one lower-case ASCII word.
pub fn stem(word: &str) -> String {
    if !word.is_ascii() {
        return word.to_string();
    }
    if let Some((_, s)) = POOL.iter().find(|(w, _)| *w == word) {
        return (*s).to_string();
    }
    if word.len() <= 2 {
        return word.to_string();
    }
    let mut w = word.as_bytes().to_vec();
    w = step1a(w);
    w = step1b(w);
    w = step1c(w);
    w = step2(w);
    w = step3(w);
    w = step4(w);
    w = step5a(w);
    w = step5b(w);
    String::from_utf8(w).unwrap_or_else(|_| word.to_string())
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u')
}

fn is_consonant(word: &[u8], mut i: usize) -> bool {
    let Some(&c) = word.get(i) else { return false };
    if is_vowel(c) {
        return false;
    }
    if c == b'y' {
        let mut negate = false;
        while i > 0 && word[i] == b'y' {
            negate = !negate;
            i -= 1;
        }
        return is_vowel(word[i]) == negate;
    }
    true
}

fn consonant_flags(word: &[u8]) -> Vec<bool> {
    let mut flags: Vec<bool> = Vec::with_capacity(word.len());
    for (i, &c) in word.iter().enumerate() {
        let f = if is_vowel(c) {
            false
        } else if c == b'y' {
            i == 0 || !flags[i - 1]
        } else {
            true
        };
        flags.push(f);
    }
    flags
}

fn measure(stem: &[u8]) -> usize {
    let flags = consonant_flags(stem);
    flags.windows(2).filter(|w| !w[0] && w[1]).count()
}

fn positive_measure(stem: &[u8]) -> bool {
    measure(stem) > 0
}

fn measure_gt_1(stem: &[u8]) -> bool {
    measure(stem) > 1
}

fn contains_vowel(stem: &[u8]) -> bool {
    !consonant_flags(stem).iter().all(|&c| c)
}

fn ends_double_consonant(word: &[u8]) -> bool {
    let n = word.len();
    n >= 2 && word[n - 1] == word[n - 2] && is_consonant(word, n - 1)
}

fn ends_cvc(word: &[u8]) -> bool {
    let n = word.len();
    (n >= 3
        && is_consonant(word, n - 3)
        && !is_consonant(word, n - 2)
        && is_consonant(word, n - 1)
        && !matches!(word[n - 1], b'w' | b'x' | b'y'))
        || (n == 2 && !is_consonant(word, 0) && is_consonant(word, 1))
}

/// A rule: suffix, replacement, condition on the stem (the word without the suffix).
type Rule<'a> = (&'a [u8], &'a [u8], &'a dyn Fn(&[u8]) -> bool);

/// The first rule whose suffix matches decides: its replacement if the condition holds, else no change.
fn apply_rules(word: Vec<u8>, rules: &[Rule<'_>]) -> Vec<u8> {
    for (suffix, replacement, condition) in rules {
        if word.ends_with(suffix) {
            let stem = &word[..word.len() - suffix.len()];
            if condition(stem) {
                let mut out = stem.to_vec();
                out.extend_from_slice(replacement);
                return out;
            }
            return word;
        }
    }
    word
}

fn always(_: &[u8]) -> bool {
    true
}

fn replace_suffix(word: &[u8], suffix_len: usize, replacement: &[u8]) -> Vec<u8> {
    let mut out = word[..word.len() - suffix_len].to_vec();
    out.extend_from_slice(replacement);
    out
}

fn step1a(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"ies") && word.len() == 4 {
        return replace_suffix(&word, 3, b"ie");
    }
    apply_rules(
        word,
        &[(b"sses", b"ss", &always), (b"ies", b"i", &always), (b"ss", b"ss", &always), (b"s", b"", &always)],
    )
}

fn step1b(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"ied") {
        return if word.len() == 4 {
            replace_suffix(&word, 3, b"ie")
        } else {
            replace_suffix(&word, 3, b"i")
        };
    }
    if word.ends_with(b"eed") {
        let stem = &word[..word.len() - 3];
        return if measure(stem) > 0 { replace_suffix(&word, 1, b"") } else { word };
    }
    let mut intermediate = None;
    for suffix in [&b"ed"[..], &b"ing"[..]] {
        if word.ends_with(suffix) {
            let stem = &word[..word.len() - suffix.len()];
            if contains_vowel(stem) {
                intermediate = Some(stem.to_vec());
                break;
            }
        }
    }
    let Some(stem) = intermediate else { return word };
    let Some(&last) = stem.last() else { return stem };
    for (suffix, replacement) in [(&b"at"[..], &b"ate"[..]), (b"bl", b"ble"), (b"iz", b"ize")] {
        if stem.ends_with(suffix) {
            return replace_suffix(&stem, suffix.len(), replacement);
        }
    }
    if ends_double_consonant(&stem) {
        return if matches!(last, b'l' | b's' | b'z') { stem } else { stem[..stem.len() - 1].to_vec() };
    }
    if measure(&stem) == 1 && ends_cvc(&stem) {
        let mut out = stem;
        out.push(b'e');
        return out;
    }
    stem
}

fn step1c(word: Vec<u8>) -> Vec<u8> {
    let cond = |stem: &[u8]| stem.len() > 1 && is_consonant(stem, stem.len() - 1);
    apply_rules(word, &[(b"y", b"i", &cond)])
}

fn step2(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"alli") && positive_measure(&word[..word.len() - 4]) {
        return step2(replace_suffix(&word, 4, b"al"));
    }
    let whole = word.clone();
    let logi = move |_: &[u8]| positive_measure(&whole[..whole.len().saturating_sub(3)]);
    let p: &dyn Fn(&[u8]) -> bool = &positive_measure;
    let rules: [Rule<'_>; 22] = [
        (b"ational", b"ate", p),
        (b"tional", b"tion", p),
        (b"enci", b"ence", p),
        (b"anci", b"ance", p),
        (b"izer", b"ize", p),
        (b"bli", b"ble", p),
        (b"alli", b"al", p),
        (b"entli", b"ent", p),
        (b"eli", b"e", p),
        (b"ousli", b"ous", p),
        (b"ization", b"ize", p),
        (b"ation", b"ate", p),
        (b"ator", b"ate", p),
        (b"alism", b"al", p),
        (b"iveness", b"ive", p),
        (b"fulness", b"ful", p),
        (b"ousness", b"ous", p),
        (b"aliti", b"al", p),
        (b"iviti", b"ive", p),
        (b"biliti", b"ble", p),
        (b"fulli", b"ful", p),
        (b"logi", b"log", &logi),
    ];
    apply_rules(word, &rules)
}

fn step3(word: Vec<u8>) -> Vec<u8> {
    let p: &dyn Fn(&[u8]) -> bool = &positive_measure;
    apply_rules(
        word,
        &[
            (b"icate", b"ic", p),
            (b"ative", b"", p),
            (b"alize", b"al", p),
            (b"iciti", b"ic", p),
            (b"ical", b"ic", p),
            (b"ful", b"", p),
            (b"ness", b"", p),
        ],
    )
}

fn step4(word: Vec<u8>) -> Vec<u8> {
    let m: &dyn Fn(&[u8]) -> bool = &measure_gt_1;
    let ion = |stem: &[u8]| measure(stem) > 1 && matches!(stem.last(), Some(b's' | b't'));
    apply_rules(
        word,
        &[
            (b"al", b"", m),
            (b"ance", b"", m),
            (b"ence", b"", m),
            (b"er", b"", m),
            (b"ic", b"", m),
            (b"able", b"", m),
            (b"ible", b"", m),
            (b"ant", b"", m),
            (b"ement", b"", m),
            (b"ment", b"", m),
            (b"ent", b"", m),
            (b"ion", b"", &ion),
            (b"ou", b"", m),
            (b"ism", b"", m),
            (b"ate", b"", m),
            (b"iti", b"", m),
            (b"ous", b"", m),
            (b"ive", b"", m),
            (b"ize", b"", m),
        ],
    )
}

fn step5a(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"e") {
        let stem = &word[..word.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            return stem.to_vec();
        }
    }
    word
}

fn step5b(word: Vec<u8>) -> Vec<u8> {
    if word.ends_with(b"ll") && measure(&word[..word.len() - 1]) > 1 {
        return word[..word.len() - 1].to_vec();
    }
    word
}

#[cfg(test)]
mod tests {
    use super::stem;

    /// Stems printed by NLTK 3.10 `PorterStemmer().stem(w)` for these words.
    #[test]
    fn agrees_with_nltk_on_known_words() {
        for (w, s) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "tie"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("hopping", "hop"),
            ("falling", "fall"),
            ("filing", "file"),
            ("happy", "happi"),
            ("relational", "relat"),
            ("generalization", "gener"),
            ("electrical", "electr"),
            ("adjustment", "adjust"),
            ("controlling", "control"),
            ("customer", "custom"),
            ("enquired", "enquir"),
            ("dying", "die"),
            ("analogies", "analog"),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
    }
}
