//! The `copiloot._native` Python extension: a thin pyo3 layer over the `copiloot` crate (convert inputs,
//! release the GIL for the work, map `copiloot::Error` to Python exceptions). The Pythonic API
//! (`Analysis` objects, NumPy, pandas, `ChurnModel` on DataFrames) lives in `python/copiloot/`.

mod churn;
mod copilot;
mod copilot_class;
mod errors;
mod knowledge;
mod live;
mod train;

use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SCHEMA_VERSION", copiloot::SCHEMA_VERSION)?;
    m.add_class::<copilot_class::PyCopilot>()?;
    m.add_class::<copilot::PyConversation>()?;
    m.add_class::<live::PyLiveSession>()?;
    m.add_class::<knowledge::PyKnowledgeBase>()?;
    m.add_class::<train::PyIntentHead>()?;
    m.add_class::<churn::PyChurnModel>()?;
    m.add_function(wrap_pyfunction!(train::evaluate_json, m)?)?;
    errors::register(m)?;
    Ok(())
}
