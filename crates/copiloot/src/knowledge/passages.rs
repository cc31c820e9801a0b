//! Cutting articles into passages along their headings: each passage is one section (or a piece of a
//! long one) and keeps its heading path, so a suggestion can say "Opzeggen › Opzegtermijn".

use super::sources::Article;

/// Sections longer than this many words are cut at paragraph, then sentence, boundaries: the encoder
/// reads at most 512 tokens (about 250 Dutch words), and a shorter passage points the agent closer to
/// the answer.
pub const MAX_PASSAGE_WORDS: usize = 200;

/// One piece of an article, as stored in the index.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PassageText {
    /// Headings from the article's top section down to this one (the article title is not included).
    pub heading: Vec<String>,
    pub text: String,
}

/// The article's passages, in reading order. An article whose text is empty gets one passage of its title.
pub fn split_article(article: &Article) -> Vec<PassageText> {
    let mut out = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut body: Vec<&str> = Vec::new();
    let flush = |path: &[(usize, String)], body: &mut Vec<&str>, out: &mut Vec<PassageText>| {
        let heading: Vec<String> = path.iter().map(|(_, h)| h.clone()).collect();
        for text in chunk(&body.join("\n")) {
            out.push(PassageText { heading: heading.clone(), text });
        }
        body.clear();
    };
    for line in article.text.lines() {
        if let Some((level, title)) = heading_line(line) {
            flush(&path, &mut body, &mut out);
            path.retain(|(l, _)| *l < level);
            path.push((level, title));
        } else {
            body.push(line);
        }
    }
    flush(&path, &mut body, &mut out);
    if out.is_empty() {
        out.push(PassageText { heading: Vec::new(), text: article.title.clone() });
    }
    out
}

/// `## Opzegtermijn` → (2, "Opzegtermijn").
fn heading_line(line: &str) -> Option<(usize, String)> {
    let trimmed = line.trim_end();
    let level = trimmed.bytes().take_while(|b| *b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = trimmed[level..].strip_prefix(' ')?;
    let title = rest.trim().trim_end_matches('#').trim();
    (!title.is_empty()).then(|| (level, title.to_string()))
}

/// A section's text as passages of at most [`MAX_PASSAGE_WORDS`] words: paragraphs are kept whole
/// when they fit, long paragraphs are cut between sentences. Whitespace inside a paragraph is collapsed.
fn chunk(section: &str) -> Vec<String> {
    let paragraphs: Vec<String> = section
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut words = 0;
    let mut push = |piece: String, n: usize, current: &mut Vec<String>, words: &mut usize| {
        if *words > 0 && *words + n > MAX_PASSAGE_WORDS {
            out.push(current.join("\n\n"));
            current.clear();
            *words = 0;
        }
        current.push(piece);
        *words += n;
    };
    for paragraph in paragraphs {
        let n = paragraph.split(' ').count();
        if n <= MAX_PASSAGE_WORDS {
            push(paragraph, n, &mut current, &mut words);
            continue;
        }
        for sentence in sentences(&paragraph) {
            let n = sentence.split(' ').count();
            push(sentence.to_string(), n, &mut current, &mut words);
        }
    }
    if !current.is_empty() {
        out.push(current.join("\n\n"));
    }
    // A sentence longer than the limit on its own stays one passage; the encoder reads its start.
    out
}

/// Sentence spans of a text: ends at `.`, `!`, `?` (or a newline) followed by whitespace. Returns
/// slices of `text`, trimmed; used for cutting passages and for the highlighted sentence.
pub fn sentences(text: &str) -> Vec<&str> {
    sentence_spans(text).into_iter().map(|(s, e)| &text[s..e]).collect()
}

/// Byte ranges of [`sentences`].
pub fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        let end_mark =
            matches!(c, '.' | '!' | '?') && bytes.get(i + 1).is_some_and(|b| b.is_ascii_whitespace());
        if end_mark || c == '\n' {
            push_trimmed(text, start, i + c.len_utf8(), &mut spans);
            start = i + c.len_utf8();
        }
    }
    push_trimmed(text, start, text.len(), &mut spans);
    spans
}

fn push_trimmed(text: &str, start: usize, end: usize, spans: &mut Vec<(usize, usize)>) {
    let piece = &text[start..end];
    let lead = piece.len() - piece.trim_start().len();
    let trail = piece.len() - piece.trim_end().len();
    if lead + trail < piece.len() {
        spans.push((start + lead, end - trail));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(text: &str) -> Article {
        Article {
            id: "a".into(),
            title: "Titel".into(),
            url: None,
            text: text.into(),
            intents: Vec::new(),
            source: "a.md".into(),
        }
    }

    #[test]
    fn sections_keep_their_heading_path() {
        let p = split_article(&article(
            "Intro.\n## Opzeggen\nZo zegt u op.\n### Termijn\nEen maand.\n## Kosten\nGeen.",
        ));
        let got: Vec<(Vec<&str>, &str)> =
            p.iter().map(|p| (p.heading.iter().map(String::as_str).collect(), p.text.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (vec![], "Intro."),
                (vec!["Opzeggen"], "Zo zegt u op."),
                (vec!["Opzeggen", "Termijn"], "Een maand."),
                (vec!["Kosten"], "Geen."),
            ]
        );
    }

    #[test]
    fn long_sections_are_cut_between_sentences() {
        let long =
            (0..120).map(|i| format!("Zin nummer {i} gaat over de factuur.")).collect::<Vec<_>>().join(" ");
        let p = split_article(&article(&long));
        assert!(p.len() >= 4, "{}", p.len());
        assert!(p.iter().all(|p| p.text.split(' ').count() <= MAX_PASSAGE_WORDS));
        assert!(p.iter().all(|p| p.text.ends_with("factuur.")));
    }

    #[test]
    fn sentence_spans_split_on_end_marks() {
        assert_eq!(
            sentences("Hallo. Hoe gaat het? Goed!\nDag"),
            vec!["Hallo.", "Hoe gaat het?", "Goed!", "Dag"]
        );
        assert_eq!(sentences("Versie 2.5 is uit."), vec!["Versie 2.5 is uit."]);
    }
}
