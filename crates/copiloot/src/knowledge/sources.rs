//! Reading a company's articles: a folder of Markdown, HTML and plain-text files, or a JSONL file of
//! `{id, title, text, url?, intents?}` records. Everything becomes an [`Article`] whose text is
//! Markdown-like (`#` headings), so one splitter ([`super::passages`]) serves every format. An article may
//! name the taxonomy intents it answers (front matter `intents:`, `<meta name="intents">`, a JSONL
//! `intents` list); retrieval favours it when the conversation shows one of them.

use crate::error::{Error, Location, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Articles larger than this are skipped with a warning: a help article is a few kB, a file this big is
/// an export or a log that would drown the index.
pub const MAX_ARTICLE_BYTES: usize = 5 * 1024 * 1024;

/// File extensions read from a folder, and how.
const EXTENSIONS: [(&str, Format); 6] = [
    ("md", Format::Markdown),
    ("markdown", Format::Markdown),
    ("html", Format::Html),
    ("htm", Format::Html),
    ("txt", Format::Text),
    ("text", Format::Text),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Markdown,
    Html,
    Text,
}

/// One article, as read: its text keeps `#` headings for the splitter.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    /// Stable id: the JSONL `id`, or the file's path under the folder without extension (`/`-separated).
    pub id: String,
    pub title: String,
    pub url: Option<String>,
    pub text: String,
    /// Intent ids (of the intent taxonomy) this article answers; empty when not tagged.
    pub intents: Vec<String>,
    /// Where it came from (file path, or `file.jsonl:line`), for messages.
    pub source: String,
}

/// The articles of a source plus the files that were skipped and why.
#[derive(Debug, Default)]
pub struct Articles {
    pub articles: Vec<Article>,
    pub warnings: Vec<String>,
}

/// Reads `source`: a `.jsonl` file or a folder (searched recursively, hidden entries skipped).
pub fn read_articles(source: &Path) -> Result<Articles> {
    let meta = std::fs::metadata(source).map_err(|e| Error::io(source, e))?;
    let out = if meta.is_dir() { read_folder(source)? } else { read_jsonl(source)? };
    if out.articles.is_empty() {
        let skipped =
            if out.warnings.is_empty() { String::new() } else { format!(" ({})", out.warnings.join("; ")) };
        return Err(Error::invalid(
            Location::default().with_source(source.display().to_string()),
            format!(
                "no articles found: give a folder of .md, .html or .txt files, or a JSONL file of \
                 {{id, title, text, url?}} records{skipped}"
            ),
        ));
    }
    check_unique_ids(&out.articles)?;
    Ok(out)
}

fn check_unique_ids(articles: &[Article]) -> Result<()> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for a in articles {
        if let Some(first) = seen.insert(&a.id, &a.source) {
            return Err(Error::invalid(
                Location::default().with_source(a.source.clone()),
                format!("duplicate article id `{}` (also in {first}); ids must be unique", a.id),
            ));
        }
    }
    Ok(())
}

fn read_jsonl(path: &Path) -> Result<Articles> {
    // Other fields (tags, dates) are allowed and ignored.
    #[derive(serde::Deserialize)]
    struct Record {
        id: serde_json::Value,
        #[serde(default)]
        title: String,
        text: String,
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        intents: Vec<String>,
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::invalid(
            Location::default().with_source(path.display().to_string()),
            format!(
                "not UTF-8 text (byte {}); a corpus is a JSONL file or a folder",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let mut out = Articles::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || Location::line(i + 1).with_source(path.display().to_string());
        let record: Record = serde_json::from_str(line).map_err(|e| Error::invalid(at(), e.to_string()))?;
        let id = match record.id {
            serde_json::Value::String(s) if !s.trim().is_empty() => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => {
                return Err(Error::invalid(
                    at().with_field("id"),
                    "`id` must be a non-empty string or a number",
                ))
            }
        };
        let source = format!("{}:{}", path.display(), i + 1);
        if record.text.len() > MAX_ARTICLE_BYTES {
            out.warnings.push(too_big(&source, record.text.len()));
            continue;
        }
        if record.text.trim().is_empty() && record.title.trim().is_empty() {
            out.warnings.push(format!("{source}: article `{id}` has no text; skipped"));
            continue;
        }
        out.articles.push(Article {
            id,
            title: record.title.trim().to_string(),
            url: record.url,
            text: record.text,
            intents: clean_intents(record.intents.iter().map(String::as_str)),
            source,
        });
    }
    Ok(out)
}

fn too_big(source: &str, bytes: usize) -> String {
    format!("{source}: {bytes} bytes is over the {MAX_ARTICLE_BYTES}-byte article limit; skipped")
}

fn read_folder(root: &Path) -> Result<Articles> {
    let mut files = Vec::new();
    collect_files(root, &mut files)?;
    files.sort();
    let mut out = Articles::default();
    for path in files {
        let Some(format) = format_of(&path) else { continue };
        let source = path.display().to_string();
        let len = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        if len > MAX_ARTICLE_BYTES as u64 {
            out.warnings.push(too_big(&source, len as usize));
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let Ok(raw) = String::from_utf8(bytes) else {
            out.warnings.push(format!("{source}: not UTF-8 text (binary or another encoding); skipped"));
            continue;
        };
        if raw.contains('\0') {
            out.warnings.push(format!("{source}: contains NUL bytes (binary); skipped"));
            continue;
        }
        let id = id_of(root, &path);
        let article = match format {
            Format::Markdown => from_markdown(id, &raw, source),
            Format::Html => from_html(id, &raw, source)?,
            Format::Text => from_text(id, &raw, source),
        };
        if article.text.trim().is_empty() && article.title.is_empty() {
            out.warnings.push(format!("{}: no text; skipped", article.source));
            continue;
        }
        out.articles.push(article);
    }
    Ok(out)
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            collect_files(&path, files)?;
        } else if kind.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

fn format_of(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    EXTENSIONS.iter().find(|(e, _)| *e == ext).map(|(_, f)| *f)
}

/// `root/a/b.md` → `a/b`.
fn id_of(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path).with_extension("");
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Markdown with optional front matter (`---` lines holding `title:`, `url:` and `intents:` as
/// `a, b` or `[a, b]`); without a `title:`
/// the first `# ` heading is the title (and is taken out of the text, so it is not a section name).
fn from_markdown(id: String, raw: &str, source: String) -> Article {
    let (front, body) = split_front_matter(raw);
    let mut title = front.get("title").cloned().unwrap_or_default();
    let mut text = body.to_string();
    if title.is_empty() {
        if let Some((line, rest)) = first_h1(body) {
            title = line;
            text = rest;
        }
    }
    let intents = front.get("intents").map_or_else(Vec::new, |v| split_list(v));
    Article { id, title, url: front.get("url").cloned(), text, intents, source }
}

/// `a, b` or `[a, "b"]` → `["a", "b"]`.
fn split_list(value: &str) -> Vec<String> {
    let inner = value.trim().trim_start_matches('[').trim_end_matches(']');
    clean_intents(inner.split(','))
}

/// Trimmed, unquoted, non-empty and without repeats, in the order given.
fn clean_intents<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let v = v.trim().trim_matches('"').trim_matches('\'').trim();
        if !v.is_empty() && !out.iter().any(|o| o == v) {
            out.push(v.to_string());
        }
    }
    out
}

fn split_front_matter(raw: &str) -> (HashMap<String, String>, &str) {
    let mut fields = HashMap::new();
    let trimmed = raw.trim_start_matches('\u{feff}');
    let Some(rest) = trimmed.strip_prefix("---\n").or_else(|| trimmed.strip_prefix("---\r\n")) else {
        return (fields, trimmed);
    };
    let Some(end) = rest.find("\n---") else { return (fields, trimmed) };
    for line in rest[..end].lines() {
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim().trim_matches('"').trim_matches('\'');
            fields.insert(k.trim().to_ascii_lowercase(), v.to_string());
        }
    }
    let after = &rest[end + 4..];
    (fields, after.split_once('\n').map_or("", |(_, b)| b))
}

/// The first level-1 heading and the text without it.
fn first_h1(body: &str) -> Option<(String, String)> {
    let mut lines: Vec<&str> = body.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("# "))?;
    let title = lines[at][2..].trim().to_string();
    lines.remove(at);
    Some((title, lines.join("\n")))
}

/// Plain text: the first non-empty line is the title.
fn from_text(id: String, raw: &str, source: String) -> Article {
    let body = raw.trim_start_matches('\u{feff}').trim_start();
    let (title, text) = body.split_once('\n').unwrap_or((body, ""));
    Article {
        id,
        title: title.trim().to_string(),
        url: None,
        text: text.to_string(),
        intents: Vec::new(),
        source,
    }
}

/// HTML: page chrome (`nav`, `header`, `footer`, `script`, `style`, `aside`) is dropped, the rest is
/// rendered to text by `html2text` (headings come out as `#` lines). Title from `<title>` or the first
/// `<h1>`, URL from `<link rel="canonical">`, intents from `<meta name="intents" content="a, b">`.
fn from_html(id: String, raw: &str, source: String) -> Result<Article> {
    let (chrome, title_tag, canonical, intents_meta) = html_patterns();
    let cleaned = chrome.replace_all(raw, " ");
    let url = canonical.captures(raw).map(|c| c[1].to_string());
    let title = title_tag.captures(raw).map(|c| c[1].split_whitespace().collect::<Vec<_>>().join(" "));
    let text = html2text::from_read(cleaned.as_bytes(), 10_000).map_err(|e| {
        Error::invalid(Location::default().with_source(source.clone()), format!("unreadable HTML: {e}"))
    })?;
    let mut article = from_markdown(id, &text, source);
    // The rendered `<h1>` usually repeats `<title>`; prefer the page's own title when it has one.
    if let Some(t) = title.filter(|t| !t.is_empty()) {
        if article.title.is_empty() {
            article.title = t;
        }
    }
    article.url = url;
    article.intents = intents_meta.captures(raw).map_or_else(Vec::new, |c| split_list(&c[1]));
    Ok(article)
}

type HtmlPatterns = (regex::Regex, regex::Regex, regex::Regex, regex::Regex);

fn html_patterns() -> &'static HtmlPatterns {
    static PATTERNS: std::sync::OnceLock<HtmlPatterns> = std::sync::OnceLock::new();
    PATTERNS.get_or_init(|| {
        let compile = |p: &str| regex::Regex::new(p).unwrap_or_else(|_| unreachable!("constant pattern"));
        (
            compile(r"(?is)<(nav|header|footer|script|style|aside|noscript|title)\b.*?</(nav|header|footer|script|style|aside|noscript|title)\s*>"),
            compile(r"(?is)<title[^>]*>(.*?)</title\s*>"),
            compile(r#"(?is)<link[^>]*rel\s*=\s*["']canonical["'][^>]*href\s*=\s*["']([^"']+)["']"#),
            compile(r#"(?is)<meta[^>]*name\s*=\s*["']intents["'][^>]*content\s*=\s*["']([^"']*)["']"#),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_front_matter_and_title() {
        let a = from_markdown(
            "x".into(),
            "---\nurl: https://e.nl/x\nintents: [cancel, \"move\", cancel]\n---\n# Opzeggen\nIntro.\n## Termijn\nEen maand.\n",
            "x.md".into(),
        );
        assert_eq!(a.title, "Opzeggen");
        assert_eq!(a.intents, ["cancel", "move"]);
        assert_eq!(a.url.as_deref(), Some("https://e.nl/x"));
        assert!(a.text.contains("## Termijn") && !a.text.contains("# Opzeggen"));
    }

    #[test]
    fn html_drops_chrome_and_keeps_headings() {
        let html = r#"<html><head><title>Modem herstarten</title><link rel="canonical" href="https://e.nl/m">
            <meta name="intents" content="technical_issue, outage"></head>
            <body><nav>Home | Zakelijk</nav><h1>Modem herstarten</h1><p>Haal de stekker eruit.</p>
            <h2>Lampjes</h2><p>Het lampje knippert rood.</p><footer>© Polderlink</footer></body></html>"#;
        let a = from_html("m".into(), html, "m.html".into()).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(a.title, "Modem herstarten");
        assert_eq!(a.url.as_deref(), Some("https://e.nl/m"));
        assert_eq!(a.intents, ["technical_issue", "outage"]);
        assert!(a.text.contains("Haal de stekker eruit"), "{}", a.text);
        assert!(a.text.contains("## Lampjes"), "{}", a.text);
        assert!(!a.text.contains("Zakelijk") && !a.text.contains("©"), "{}", a.text);
    }

    #[test]
    fn folder_ids_and_skips() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let sub = dir.path().join("factuur");
        std::fs::create_dir_all(&sub).unwrap_or_else(|e| unreachable!("{e}"));
        std::fs::write(sub.join("uitleg.md"), "# Uw factuur\nZo leest u hem.")
            .unwrap_or_else(|e| unreachable!("{e}"));
        std::fs::write(dir.path().join("logo.txt"), [0xff, 0xfe, 0x00, 0x41])
            .unwrap_or_else(|e| unreachable!("{e}"));
        std::fs::write(dir.path().join("foto.png"), [1, 2, 3]).unwrap_or_else(|e| unreachable!("{e}"));
        let out = read_articles(dir.path()).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(out.articles.len(), 1);
        assert_eq!(out.articles[0].id, "factuur/uitleg");
        assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
        assert!(out.warnings[0].contains("not UTF-8"));
    }

    #[test]
    fn empty_folder_and_duplicate_ids_are_errors() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let err = read_articles(dir.path()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("no articles found"), "{err}");
        std::fs::write(dir.path().join("a.md"), "# A\ntekst").unwrap_or_else(|e| unreachable!("{e}"));
        std::fs::write(dir.path().join("a.txt"), "A\ntekst").unwrap_or_else(|e| unreachable!("{e}"));
        let err = read_articles(dir.path()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("duplicate article id `a`"), "{err}");
    }
}
