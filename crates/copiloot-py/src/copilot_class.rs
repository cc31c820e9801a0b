//! The data of the Python `Copilot` class; its methods are in `copilot.rs`. Kept apart so that what those
//! methods use (`knowledge`, which also takes a copilot) does not import them back.

use copiloot::Copilot;
use pyo3::prelude::*;
use std::path::PathBuf;

#[pyclass(name = "Copilot", module = "copiloot._native", frozen)]
pub struct PyCopilot {
    pub inner: Copilot,
    /// Where its models came from (for the trainers and `churn` that load files next to them).
    pub(crate) models_dir: PathBuf,
}
