//! The knowledge base on disk: one file, written to a temporary name and renamed into place, so a
//! half-written index never replaces a good one.
//!
//! Layout (little-endian): the magic `COPLTKB\n`, the format version (u32), the manifest as JSON
//! (u64 length + bytes: encoder, articles, passages, terms), then the flat arrays — int8 passage
//! vectors, their f32 scales, passage lengths in terms, posting offsets, postings, posting counts — and
//! the magic again as an end mark. Every array's length follows from the manifest, so a truncated or
//! padded file is caught before anything is used.

use super::lexical::LexicalIndex;
use crate::error::{Error, Location, Result};
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"COPLTKB\n";
/// Bumped whenever the layout or the passage splitting changes; older files must be rebuilt.
pub const FORMAT_VERSION: u32 = 1;

/// Which encoder made the vectors: a knowledge base only answers queries encoded by the same one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EncoderStamp {
    pub id: String,
    pub dim: usize,
}

/// One article in the index, with the range of its passages.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ArticleEntry {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub source: String,
    /// ISO 639-1 language its terms were stemmed for (`und` when neither Dutch nor English).
    pub language: String,
    /// Intent ids the article answers (absent in files from before tagging: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intents: Vec<String>,
    /// SHA-256 of what the passages are made of: an unchanged article keeps its vectors on re-indexing.
    pub hash: String,
    pub first_passage: u32,
    pub passage_count: u32,
}

/// One passage: its article (index into `articles`), heading path and text.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PassageEntry {
    pub article: u32,
    pub heading: Vec<String>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub encoder: EncoderStamp,
    pub articles: Vec<ArticleEntry>,
    pub passages: Vec<PassageEntry>,
    pub terms: Vec<String>,
    pub postings: usize,
}

/// Everything in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub manifest: Manifest,
    /// `passages × dim` int8 values; passage `i`'s vector is `vectors[i*dim..][..dim] * scales[i]`.
    pub vectors: Vec<i8>,
    pub scales: Vec<f32>,
    pub lexical: LexicalIndex,
}

/// Writes `stored` to `path` through a temporary file in the same folder and a rename.
pub fn save(stored: &Stored, path: &Path) -> Result<()> {
    let mut manifest = stored.manifest.clone();
    manifest.terms = stored.lexical.terms.clone();
    manifest.postings = stored.lexical.postings.len();
    let json =
        serde_json::to_vec(&manifest).map_err(|e| Error::Config(format!("knowledge base manifest: {e}")))?;
    let mut bytes =
        Vec::with_capacity(json.len() + stored.vectors.len() + 16 * stored.lexical.postings.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    bytes.extend(stored.vectors.iter().map(|v| *v as u8));
    put(&mut bytes, &stored.scales, |v| v.to_le_bytes());
    put(&mut bytes, &stored.lexical.doc_lens, |v| v.to_le_bytes());
    put(&mut bytes, &stored.lexical.offsets, |v| v.to_le_bytes());
    put(&mut bytes, &stored.lexical.postings, |v| v.to_le_bytes());
    put(&mut bytes, &stored.lexical.counts, |v| v.to_le_bytes());
    bytes.extend_from_slice(MAGIC);

    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "kb".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        // A missing folder is made rather than failing after all passages were embedded.
        std::fs::create_dir_all(dir)?;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

fn put<T: Copy, const N: usize>(bytes: &mut Vec<u8>, values: &[T], le: impl Fn(T) -> [u8; N]) {
    for v in values {
        bytes.extend_from_slice(&le(*v));
    }
}

/// Reads a file written by [`save`]; any other file, an older format or a damaged one is an error that
/// says to rebuild it.
pub fn load(path: &Path) -> Result<Stored> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |message: String| {
        Error::invalid(
            Location::default().with_source(path.display().to_string()),
            format!("{message}; rebuild it with `copiloot kb index SRC --out {}`", path.display()),
        )
    };
    if bytes.len() < 20 || &bytes[..8] != MAGIC {
        return Err(bad("not a copiloot knowledge base".into()));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if version != FORMAT_VERSION {
        return Err(bad(format!(
            "knowledge base format {version}, this copiloot reads format {FORMAT_VERSION}"
        )));
    }
    let mut reader = Reader { bytes: &bytes, at: 12 };
    let truncated = || bad("the file is truncated or damaged".into());
    let json_len = reader.array::<8, u64>(1, u64::from_le_bytes).ok_or_else(truncated)?[0] as usize;
    let json = reader.take(json_len).ok_or_else(truncated)?;
    let manifest: Manifest =
        serde_json::from_slice(json).map_err(|e| bad(format!("unreadable manifest: {e}")))?;
    let n = manifest.passages.len();
    let dim = manifest.encoder.dim;
    let vectors: Vec<i8> = reader.take(n * dim).ok_or_else(truncated)?.iter().map(|b| *b as i8).collect();
    let scales = reader.array(n, f32::from_le_bytes).ok_or_else(truncated)?;
    let doc_lens = reader.array(n, u32::from_le_bytes).ok_or_else(truncated)?;
    let offsets = reader.array(manifest.terms.len() + 1, u32::from_le_bytes).ok_or_else(truncated)?;
    let postings = reader.array(manifest.postings, u32::from_le_bytes).ok_or_else(truncated)?;
    let counts = reader.array(manifest.postings, u16::from_le_bytes).ok_or_else(truncated)?;
    if reader.take(8) != Some(MAGIC.as_slice()) || reader.at != bytes.len() {
        return Err(truncated());
    }
    let passages_fit = manifest.passages.iter().all(|p| (p.article as usize) < manifest.articles.len())
        && manifest.articles.iter().all(|a| (a.first_passage + a.passage_count) as usize <= n);
    let mut manifest = manifest;
    let terms = std::mem::take(&mut manifest.terms);
    let lexical = LexicalIndex::from_parts(terms, offsets, postings, counts, doc_lens)
        .filter(|_| passages_fit)
        .ok_or_else(|| bad("the index's tables do not agree with each other".into()))?;
    Ok(Stored { manifest, vectors, scales, lexical })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(len)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn array<const N: usize, T>(&mut self, count: usize, from: impl Fn([u8; N]) -> T) -> Option<Vec<T>> {
        let raw = self.take(count.checked_mul(N)?)?;
        Some(raw.chunks_exact(N).map(|c| from(c.try_into().unwrap_or([0; N]))).collect())
    }
}
