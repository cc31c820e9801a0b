"""Churn models on customer tables: train from a pandas DataFrame (or a dict of columns, or a list of row
dicts), save and load ``churn.json``, predict, explain and evaluate with the numbers of the CLI.

    >>> from copiloot import ChurnModel
    >>> model = ChurnModel.train(df)                  # label column: churn, churned, label, ... or label=
    >>> model.report["held_out"]["roc_auc"], model.save("my-churn")
    >>> ChurnModel.load("my-churn").evaluate(test)["roc_auc"]   # = copiloot eval churn --model my-churn

Numbers stay numbers and strings stay categories, exactly as in a CSV file: a DataFrame read from a CSV
and the CSV itself give the same model. Missing values (``None``, NaN, ``pd.NA``) count as average.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from copiloot import _native
from copiloot._native import InvalidInputError

__all__ = ["ChurnModel", "TableLike"]

#: What the methods accept: a pandas DataFrame, a dict ``{column: values}`` or a list of row dicts.
TableLike = Union[Any, Mapping[str, Sequence[Any]], Sequence[Mapping[str, Any]]]

PathLike = Union[str, "os.PathLike[str]"]

Columns = Tuple[List[str], List[List[Any]]]


def _invalid(field: str, message: str) -> InvalidInputError:
    """An input error raised on the Python side, shaped like the core's (message and ``.code``)."""
    err = InvalidInputError(f"invalid input at field `{field}`: {message}")
    err.code = "invalid_input"
    return err


def _plain(value: Any) -> Any:
    """NumPy scalars as Python values (the extension reads str, int, float, bool and None)."""
    return value.item() if isinstance(value, np.generic) else value


def _series(series: Any) -> List[Any]:
    """A pandas Series as Python values, every kind of missing (NaN, None, pd.NA, NaT) as None."""
    missing = series.isna().tolist()
    values = series.astype(object).tolist()
    return [None if m else _plain(v) for v, m in zip(values, missing)]


def _values(values: Any) -> List[Any]:
    if hasattr(values, "isna") and hasattr(values, "astype"):
        return _series(values)
    if isinstance(values, np.ndarray):
        return [_plain(v) for v in values.tolist()]
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise _invalid("data", f"a column must be a sequence of values, got {type(values).__name__}")
    return [_plain(v) for v in values]


def _columns(data: TableLike) -> Columns:
    """Column names and one list of values per column, from any :data:`TableLike`."""
    if hasattr(data, "iloc") and hasattr(data, "columns"):  # a pandas DataFrame (pandas is optional)
        names = [str(c) for c in data.columns]
        return names, [_series(data.iloc[:, j]) for j in range(len(names))]
    if isinstance(data, Mapping):
        return [str(k) for k in data.keys()], [_values(v) for v in data.values()]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        # Row dicts: columns in order of first appearance, a key absent from a row is a missing value.
        keys: Dict[str, None] = {}  # insertion-ordered set
        for i, row in enumerate(data):
            if not isinstance(row, Mapping):
                raise _invalid(f"rows[{i}]", f"the row is a {type(row).__name__}, not a dict of column values")
            keys.update((str(k), None) for k in row)
        columns: List[List[Any]] = [[] for _ in keys]
        for row in data:
            present = {str(k): v for k, v in row.items()}
            for key, column in zip(keys, columns):
                column.append(_plain(present.get(key)))
        return list(keys), columns
    raise _invalid("data", f"expected a pandas DataFrame, a dict of columns or a list of row dicts, got {type(data).__name__}")


class ChurnModel:
    """A churn model on a customer table (what ``copiloot train churn`` fits): L2 logistic regression over
    standardised numbers and one-hot text columns, calibrated, with each column's exact part of the score
    as the reasons. Training takes about a second on a few thousand rows; the work runs with the GIL
    released."""

    __slots__ = ("_native",)

    def __init__(self, native: _native.ChurnModel) -> None:
        self._native = native

    @classmethod
    def train(
        cls,
        data: TableLike,
        label: Optional[str] = None,
        *,
        seed: int = 42,
        test_fraction: float = 0.2,
        l2: Optional[float] = None,
        max_iter: int = 1000,
        categorical: Iterable[str] = (),
        numeric: Iterable[str] = (),
        ignore: Iterable[str] = (),
        name: Optional[str] = None,
    ) -> "ChurnModel":
        """Fit on every column but ``label`` (default: the first of ``churn``, ``churned``, ``label``,
        ``outcome``, ``left``, ``exited``), with the CLI's defaults: ``test_fraction`` of the rows held out
        (stratified, by ``seed``) and scored in :attr:`report`, L2 = 1/rows (sklearn's C = 1).
        ``categorical`` / ``numeric`` / ``ignore`` override the column types."""
        names, columns = _columns(data)
        native = _native.ChurnModel.train(
            names,
            columns,
            label,
            seed=seed,
            test_fraction=test_fraction,
            l2=l2,
            max_iter=max_iter,
            categorical=[str(c) for c in categorical],
            numeric=[str(c) for c in numeric],
            ignore=[str(c) for c in ignore],
            name=name,
        )
        return cls(native)

    @classmethod
    def load(cls, path: PathLike) -> "ChurnModel":
        """Load ``churn.json`` from a folder written by :meth:`save` or ``copiloot train churn --out DIR``."""
        return cls(_native.ChurnModel.load(os.fspath(path)))

    def save(self, path: PathLike) -> None:
        """Write ``churn.json`` into the folder ``path`` (the CLI's format: ``copiloot churn --table``,
        ``copiloot eval churn --model`` read it)."""
        self._native.save(os.fspath(path))

    @property
    def name(self) -> str:
        return self._native.name

    @property
    def label(self) -> Optional[str]:
        """The label column it was trained on."""
        return self._native.label

    @property
    def kind(self) -> str:
        """``"tabular"`` or ``"conversation"`` (a model trained on conversation signals by the CLI)."""
        return self._native.kind

    @property
    def features(self) -> List[str]:
        """The columns the model reads."""
        return self._native.features

    @property
    def baseline(self) -> float:
        """The probability of an average customer (every column at its training mean)."""
        return self._native.baseline

    @property
    def bands(self) -> Tuple[float, float]:
        """``(medium, high)`` thresholds of the ``low`` / ``medium`` / ``high`` bands."""
        return self._native.bands

    @property
    def report(self) -> Optional[Dict[str, Any]]:
        """After :meth:`train`: rows, column types, ignored columns, held-out metrics (``held_out``: the
        :meth:`evaluate` keys) and coefficients. ``None`` for a loaded model."""
        text = self._native.report_json()
        return json.loads(text) if text else None

    @property
    def training(self) -> Dict[str, Any]:
        """What ``churn.json`` records about training (rows, churn rate, L2, held-out ROC AUC, source)."""
        result: Dict[str, Any] = json.loads(self._native.to_json()).get("training") or {}
        return result

    def to_dict(self) -> Dict[str, Any]:
        """The model as ``churn.json`` holds it (intercept, features with centers, scales, coefficients)."""
        result: Dict[str, Any] = json.loads(self._native.to_json())
        return result

    def predict_proba(self, data: TableLike) -> "np.ndarray[Any, np.dtype[np.float64]]":
        """The churn probability of each row, shape ``(rows,)``. Columns the model does not know are
        ignored; a missing model column or an unseen category counts as average."""
        names, columns = _columns(data)
        return np.asarray(self._native.predict_proba(names, columns), dtype=np.float64)

    def explain(self, data: TableLike, language: str = "en", top: Optional[int] = None) -> List[Dict[str, Any]]:
        """Per row a dict with ``score``, ``band``, ``reasons`` (``feature``, ``contribution`` in logit
        units, ``value``, ``text`` in ``language`` ``"en"`` or ``"nl"``; largest first, at most ``top``),
        ``baseline``, ``model`` and ``warnings`` — the objects of ``copiloot churn --table``.
        ``pd.DataFrame(model.explain(df))`` gives one column each."""
        names, columns = _columns(data)
        result: List[Dict[str, Any]] = json.loads(self._native.explain_json(names, columns, language, top))
        return result

    def evaluate(self, data: TableLike, label: Optional[str] = None) -> Dict[str, Any]:
        """ROC AUC, PR AUC (average precision), Brier, log-loss, the calibration table per decile, ECE and
        the observed churn per band against the yes/no labels in ``label`` (default: the model's label
        column) — the report of ``copiloot eval churn --model DIR --report FILE``, same numbers."""
        names, columns = _columns(data)
        result: Dict[str, Any] = json.loads(self._native.evaluate_json(names, columns, label))
        return result

    def __repr__(self) -> str:
        return f"ChurnModel(name={self.name!r}, kind={self.kind!r}, features={len(self.features)})"
