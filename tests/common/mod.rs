//! What the integration tests in `tests/` share: the repository root, the models folder, the fixtures, the
//! skips for absent models and data, and the one command builder for the `copiloot` binary with the
//! environment every CLI test runs it in.
//!
//! `server` starts `copiloot serve` for the HTTP tests and speaks HTTP and server-sent events to it.
//!
//! Every test target includes this module (`mod common;`) and uses a part of it, hence `dead_code` is
//! allowed. The binary exists only for the test targets of `copiloot-cli` (`CARGO_BIN_EXE_copiloot`), so
//! it is looked up with `option_env!`: in the core crate's targets [`copiloot_bin`] is never called.

#![allow(dead_code, clippy::panic)]

pub mod server;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The repository root (both crates are two folders below it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The installed models (`models/`, filled by `scripts/setup.sh` / `copiloot models install`).
pub fn models_dir() -> PathBuf {
    root().join("models")
}

/// `tests/fixtures/`, or a file or folder in it (`fixtures().join("classifiers/bert")`).
pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

/// One example conversation: `tests/fixtures/conversations/<name>`.
pub fn conversation(name: &str) -> PathBuf {
    fixtures().join("conversations").join(name)
}

/// Whether the default encoder is installed; says `SKIPPED` on stderr when not.
pub fn encoder_installed() -> bool {
    let ok = models_dir().join("multilingual-e5-small/config.json").is_file();
    if !ok {
        eprintln!("SKIPPED: the default encoder is not installed; run `copiloot models install`");
    }
    ok
}

/// The IBM Telco churn table (`shared/data/churn/telco/telco_churn_train.csv` next to the repository, as in
/// CI, or in /work/shared), if there; says `SKIPPED` on stderr when not.
pub fn telco() -> Option<PathBuf> {
    let candidates = [root().join("../shared/data"), PathBuf::from("/work/shared/data")];
    let found = candidates.iter().map(|d| d.join("churn/telco/telco_churn_train.csv")).find(|p| p.is_file());
    if found.is_none() {
        eprintln!("SKIPPED: the Telco table is not in ../shared/data/churn/telco/");
    }
    found
}

/// The `copiloot` binary cargo built for this test target (only `copiloot-cli`'s targets have one).
pub fn copiloot_bin() -> &'static str {
    match option_env!("CARGO_BIN_EXE_copiloot") {
        Some(path) => path,
        None => panic!("only the test targets of copiloot-cli run the binary"),
    }
}

/// The binary with `args`, on the project's installed models and the default encoder: `COPILOOT_MODELS`
/// is the project's `models/`; `COPILOOT_ENCODER` and `COPILOOT_EMBED_CACHE` of the caller are removed.
pub fn copiloot_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(copiloot_bin());
    cmd.args(args).env("COPILOOT_MODELS", models_dir());
    cmd.env_remove("COPILOOT_ENCODER").env_remove("COPILOOT_EMBED_CACHE");
    cmd
}

/// Runs `cmd` to the end with stdout and stderr captured; stdin is `stdin` (then closed) or empty.
pub fn output(cmd: &mut Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn copiloot: {e}"));
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        pipe.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

/// `copiloot ARGS` ([`copiloot_command`]) with an empty stdin, run to the end.
pub fn copiloot(args: &[&str]) -> Output {
    output(&mut copiloot_command(args), None)
}

/// The stdout of a run that must have succeeded (else fails with its status, stdout and stderr).
pub fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The stderr of a run, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}
