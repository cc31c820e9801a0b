//! The Python exception hierarchy: `CopilootError` and one subclass per `copiloot::Error` family, each
//! carrying the core's message (the same text the CLI prints) and a `.code` attribute (`Error::code()`).

use copiloot::ErrorKind;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use std::panic::AssertUnwindSafe;

pyo3::create_exception!(
    copiloot,
    CopilootError,
    PyException,
    "Base class of every copiloot error; `.code` is the stable family name (as in the CLI and the server)."
);
pyo3::create_exception!(
    copiloot,
    InvalidInputError,
    CopilootError,
    "The input could not be understood (malformed JSON, empty conversation, unknown speaker, bad label ...)."
);
pyo3::create_exception!(
    copiloot,
    InputTooLargeError,
    InvalidInputError,
    "The input is larger than a documented limit."
);
pyo3::create_exception!(
    copiloot,
    ModelNotFoundError,
    CopilootError,
    "A model is not installed or not in the hub cache."
);
pyo3::create_exception!(
    copiloot,
    ModelLoadError,
    CopilootError,
    "A model was found but could not be loaded (bad files, or a head trained for another encoder)."
);
pyo3::create_exception!(
    copiloot,
    ChecksumError,
    ModelLoadError,
    "An installed model file does not match its pinned checksum."
);
pyo3::create_exception!(copiloot, InstallError, CopilootError, "Installing the default models failed.");
pyo3::create_exception!(copiloot, InferenceError, CopilootError, "Tensor maths failed inside a model.");
pyo3::create_exception!(copiloot, ConfigError, CopilootError, "An option or configuration value is wrong.");
pyo3::create_exception!(copiloot, IoError, CopilootError, "A file could not be read or written.");

/// Why a call failed: a typed core error, or a panic caught at the boundary (a bug, never bad input).
#[derive(Debug)]
pub enum Failure {
    Core(copiloot::Error),
    Panic(String),
}

impl From<copiloot::Error> for Failure {
    fn from(e: copiloot::Error) -> Self {
        Failure::Core(e)
    }
}

/// Runs `f`, catching panics so no `PanicException` ever reaches Python.
pub fn guarded<T>(f: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Failure::Panic(message))
        }
    }
}

impl Failure {
    /// The Python exception, with `.code` set.
    pub fn into_py(self, py: Python<'_>) -> PyErr {
        let (err, code) = match self {
            Failure::Core(e) => {
                let code = e.code();
                let message = e.to_string();
                let err = match e.kind() {
                    ErrorKind::InvalidInput => InvalidInputError::new_err(message),
                    ErrorKind::InputTooLarge => InputTooLargeError::new_err(message),
                    ErrorKind::ModelNotFound => ModelNotFoundError::new_err(message),
                    ErrorKind::ModelLoad => ModelLoadError::new_err(message),
                    ErrorKind::Checksum => ChecksumError::new_err(message),
                    ErrorKind::Install => InstallError::new_err(message),
                    ErrorKind::Inference => InferenceError::new_err(message),
                    ErrorKind::Config => ConfigError::new_err(message),
                    ErrorKind::Io => IoError::new_err(message),
                    _ => CopilootError::new_err(message),
                };
                (err, code)
            }
            Failure::Panic(message) => (
                CopilootError::new_err(format!(
                    "internal error (a bug in copiloot, please report it with the input): {message}"
                )),
                "internal",
            ),
        };
        // Best effort: an exception without `.code` is still the right class with the right message.
        let _ = err.value(py).setattr("code", code);
        err
    }
}

/// Registers the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CopilootError", py.get_type::<CopilootError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("InputTooLargeError", py.get_type::<InputTooLargeError>())?;
    m.add("ModelNotFoundError", py.get_type::<ModelNotFoundError>())?;
    m.add("ModelLoadError", py.get_type::<ModelLoadError>())?;
    m.add("ChecksumError", py.get_type::<ChecksumError>())?;
    m.add("InstallError", py.get_type::<InstallError>())?;
    m.add("InferenceError", py.get_type::<InferenceError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("IoError", py.get_type::<IoError>())?;
    Ok(())
}

/// An input error from the binding itself (e.g. a value Python cannot turn into JSON).
pub fn invalid(field: &str, message: impl Into<String>) -> Failure {
    Failure::Core(copiloot::Error::invalid(copiloot::Location::field(field), message))
}
