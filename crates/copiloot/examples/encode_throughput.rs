//! Encoder throughput for benches/compare_encoders.py: load once, warm up, time N full passes.
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo run -p copiloot --example encode_throughput --profile dev -- \
//!     --model models/all-minilm-l6-v2 --texts benches/data/utterances.txt --batch-size 32 --runs 7 \
//!     --out benches/out/vectors.npy [--precision f32|q8]
//! ```
//! Prints one JSON line `{"texts_per_sec_median": .., "runs": [seconds per pass, ..], "load_secs": ..,
//! "peak_rss_mb": .., ..}` and writes the vectors of the last pass as `.npy` (float32, n × dim) or `.json`.

use copiloot::models::{Encoder, EncoderOptions, Precision, TextRole};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Args {
    model: PathBuf,
    texts: PathBuf,
    batch_size: usize,
    runs: usize,
    out: Option<PathBuf>,
    precision: Precision,
}

const USAGE: &str = "usage: encode_throughput --model DIR --texts FILE [--batch-size 32] [--runs 7] \
                     [--out vectors.npy|json] [--precision f32|q8]";

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        model: PathBuf::new(),
        texts: PathBuf::new(),
        batch_size: 32,
        runs: 7,
        out: None,
        precision: Precision::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--model" => args.model = value()?.into(),
            "--texts" => args.texts = value()?.into(),
            "--batch-size" => args.batch_size = value()?.parse()?,
            "--runs" => args.runs = value()?.parse()?,
            "--out" => args.out = Some(value()?.into()),
            "--precision" => args.precision = value()?.parse()?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}").into()),
        }
    }
    if args.model.as_os_str().is_empty() || args.texts.as_os_str().is_empty() {
        return Err(USAGE.into());
    }
    if args.batch_size == 0 || args.runs == 0 {
        return Err("--batch-size and --runs must be at least 1".into());
    }
    Ok(args)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// NumPy `.npy` version 1.0: magic, header dict padded to a multiple of 64 bytes, raw little-endian f32.
fn write_npy(path: &Path, rows: &[Vec<f32>], dim: usize) -> Result<(), Box<dyn Error>> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", rows.len(), dim);
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let header_len = u16::try_from(header.len())?;
    let mut bytes = Vec::with_capacity(10 + header.len() + rows.len() * dim * 4);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&header_len.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for row in rows {
        if row.len() != dim {
            return Err(format!("vector of length {} where {dim} was expected", row.len()).into());
        }
        for x in row {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let raw = std::fs::read_to_string(&args.texts).map_err(|e| format!("{}: {e}", args.texts.display()))?;
    let texts: Vec<&str> = raw.lines().map(str::trim).filter(|l| !l.is_empty()).collect();

    let t0 = Instant::now();
    let encoder = Encoder::from_dir_with(&args.model, &EncoderOptions { precision: args.precision })?;
    let load_secs = t0.elapsed().as_secs_f64();

    let mut vectors = encoder.embed_with(&texts, TextRole::Query, args.batch_size)?; // warm-up
    let mut runs = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let t = Instant::now();
        vectors = encoder.embed_with(&texts, TextRole::Query, args.batch_size)?;
        runs.push(t.elapsed().as_secs_f64());
    }

    if let Some(out) = &args.out {
        if out.extension().is_some_and(|e| e == "json") {
            std::fs::write(out, serde_json::to_string(&vectors)?)?;
        } else {
            write_npy(out, &vectors, encoder.dim())?;
        }
    }
    let med = median(&runs);
    let report = serde_json::json!({
        "model": args.model.display().to_string(),
        "n_texts": texts.len(),
        "dim": encoder.dim(),
        "batch_size": args.batch_size,
        "prompt": encoder.prompt(TextRole::Query),
        "precision": encoder.precision().as_str(),
        "rayon_threads": std::env::var("RAYON_NUM_THREADS").ok(),
        "peak_rss_mb": peak_rss_mb(),
        "load_secs": load_secs,
        "texts_per_sec_median": texts.len() as f64 / med,
        "runs": runs,
    });
    println!("{report}");
    Ok(())
}
