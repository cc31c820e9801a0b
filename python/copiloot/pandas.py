"""pandas: one row per turn in (the shape contact-center exports have), one row per conversation out.

    >>> from copiloot.pandas import analyze_frame
    >>> out = analyze_frame(turns, conversation_id="call_id", speaker="role", text="utterance")

Per process the models are loaded once (cached by options), so the same function runs per partition on
Dask or Spark workers: ``ddf.map_partitions(analyze_frame, meta=output_meta())`` with each conversation's
turns in one partition (e.g. ``ddf.set_index("conversation_id")`` or ``ddf.shuffle("conversation_id")``).
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any, Dict, List, Optional, Tuple

import pandas as pd

from copiloot import Analysis, Copilot, InvalidInputError, _with_context

__all__ = ["OUTPUT_COLUMNS", "analyze_frame", "output_meta", "row_of"]

#: The output columns after the conversation id column, in order.
OUTPUT_COLUMNS: Tuple[str, ...] = (
    "language",
    "turns",
    "summary",
    "top_intent",
    "top_intent_score",
    "customer_sentiment_start",
    "customer_sentiment_end",
    "customer_sentiment_trend",
    "churn_score",
    "churn_band",
    "alerts",
    "knowledge",
    "analysis",
    "error",
)

_FLOAT_COLUMNS = {"top_intent_score", "customer_sentiment_start", "customer_sentiment_end", "churn_score"}


# One Copilot per process and options: a Dask/Spark worker loads the models on its first partition.
_COPILOTS: Dict[Tuple[Optional[str], Optional[str], Optional[str], Optional[str]], Copilot] = {}
_COPILOTS_LOCK = threading.Lock()


def _cached_copilot(
    models: Optional[str], encoder: Optional[str], taxonomy: Optional[str], kb: Optional[str]
) -> Copilot:
    key = (models, encoder, taxonomy, kb)
    with _COPILOTS_LOCK:
        if key not in _COPILOTS:
            _COPILOTS[key] = Copilot(models=models, encoder=encoder, taxonomy=taxonomy, kb=kb)
        return _COPILOTS[key]


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def row_of(analysis: Dict[str, Any]) -> Dict[str, Any]:
    """The flat columns of one Analysis dict (``None``/NaN where a task has not run)."""
    intents = analysis.get("intents") or {}
    primary = intents.get("primary")
    score = next((i.get("score") for i in intents.get("intents") or [] if i.get("intent") == primary), None)
    trajectory = (analysis.get("sentiment") or {}).get("customer_trajectory") or {}
    summary = analysis.get("summary")
    summary_text = summary.get("text") if isinstance(summary, dict) else None
    churn = analysis.get("churn")
    churn = churn if isinstance(churn, dict) else {}
    alerts = analysis.get("alerts")
    knowledge = analysis.get("knowledge")
    return {
        "language": analysis.get("language"),
        "turns": (analysis.get("metrics") or {}).get("turns"),
        "summary": summary_text,
        "top_intent": primary,
        "top_intent_score": _float(score),
        "customer_sentiment_start": _float(trajectory.get("start")),
        "customer_sentiment_end": _float(trajectory.get("end")),
        "customer_sentiment_trend": trajectory.get("trend"),
        "churn_score": _float(churn.get("score")),
        "churn_band": churn.get("band"),
        "alerts": [a.get("id") for a in alerts] if isinstance(alerts, list) else None,
        "knowledge": [k.get("article_id") for k in knowledge] if isinstance(knowledge, list) else None,
        "analysis": analysis,
        "error": None,
    }


def output_meta(conversation_id: str = "conversation_id") -> pd.DataFrame:
    """An empty frame with the output's columns and dtypes (Dask's ``meta=``)."""
    return _frame([], [], conversation_id)


def _frame(ids: List[Any], rows: List[Dict[str, Any]], conversation_id: str) -> pd.DataFrame:
    # Explicit dtypes so every partition (and an empty one) has the same schema: floats for scores,
    # object for text and the analysis dicts, Int64 for the turn count (missing on errors).
    data: Dict[str, pd.Series] = {conversation_id: pd.Series(ids, dtype=object)}
    for col in OUTPUT_COLUMNS:
        values = [r[col] for r in rows]
        if col in _FLOAT_COLUMNS:
            data[col] = pd.Series(values, dtype="float64")
        elif col == "turns":
            data[col] = pd.Series(values, dtype="Int64")
        else:
            data[col] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


def _seconds(values: pd.Series) -> List[Optional[Any]]:
    """Turn timestamps as the core reads them: seconds since the conversation's first turn for
    datetimes and timedeltas, numbers as they are, strings (``"01:02"``) for the core to parse."""
    if pd.api.types.is_datetime64_any_dtype(values):
        start = values.min()
        return [None if pd.isna(v) else (v - start).total_seconds() for v in values]
    if pd.api.types.is_timedelta64_dtype(values):
        return [None if pd.isna(v) else v.total_seconds() for v in values]
    out: List[Optional[Any]] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        elif isinstance(v, (int, float)):
            out.append(float(v))
        else:
            out.append(str(v))
    return out


def _conversations(
    df: pd.DataFrame,
    conversation_id: str,
    speaker: str,
    text: str,
    timestamp: Optional[str],
    language: Optional[str],
) -> Tuple[List[Any], List[Dict[str, Any]]]:
    missing = [c for c in (conversation_id, speaker, text, timestamp, language) if c and c not in df.columns]
    if missing:
        raise InvalidInputError(
            f"the frame has no column(s) {missing}; it has {list(df.columns)}; pass the column names "
            "with conversation_id=, speaker=, text= (and timestamp=)"
        )
    ids: List[Any] = []
    convs: List[Dict[str, Any]] = []
    for cid, group in df.groupby(conversation_id, sort=False, dropna=False):
        if timestamp is not None:
            group = group.sort_values(timestamp, kind="mergesort")  # stable: equal times keep row order
            times = _seconds(group[timestamp])
        else:
            times = [None] * len(group)
        turns = []
        for who, said, t in zip(group[speaker], group[text], times):
            turn: Dict[str, Any] = {
                "speaker": None if pd.isna(who) else str(who),
                "text": "" if pd.isna(said) else str(said),
            }
            if t is not None:
                turn["timestamp"] = t
            turns.append(turn)
        conv: Dict[str, Any] = {"id": str(cid), "turns": turns}
        if language is not None:
            lang = group[language].dropna()
            if len(lang):
                conv["language"] = str(lang.iloc[0])
        ids.append(cid)
        convs.append(conv)
    return ids, convs


def analyze_frame(
    df: pd.DataFrame,
    conversation_id: str = "conversation_id",
    speaker: str = "speaker",
    text: str = "text",
    timestamp: Optional[str] = None,
    *,
    language: Optional[str] = None,
    copilot: Optional[Copilot] = None,
    models: Optional[str] = None,
    encoder: Optional[str] = None,
    taxonomy: Optional[str] = None,
    kb: Optional[str] = None,
    batch_size: int = 256,
    errors: str = "raise",
) -> pd.DataFrame:
    """Analyse a frame with one row per turn; returns one row per conversation, in order of first
    appearance, with the id column, then :data:`OUTPUT_COLUMNS` (summary text, top intent and its score,
    customer sentiment start/end/trend, churn score and band, alert ids, the suggested knowledge article
    ids (``None`` without a knowledge base), the full Analysis dict, and ``error``).

    Turns are ordered by ``timestamp`` when given (datetimes, timedeltas, seconds or ``"mm:ss"``
    strings), else by row order. Speakers as in transcripts (``customer``/``Klant``, ``agent``/
    ``Medewerker``, ``bot`` ...). ``language`` optionally names a column with the ISO code.

    :param copilot: a loaded :class:`copiloot.Copilot`; by default one is loaded (once per process) from
        ``models``/``encoder``/``taxonomy``/``kb``.
    :param kb: a knowledge base index (``copiloot kb index``) for the ``knowledge`` column.
    :param errors: ``"raise"`` (default) or ``"coerce"``: a bad conversation gets its message in
        ``error`` and empty results, the others still run.
    """
    if errors not in ("raise", "coerce"):
        raise ValueError(f'errors must be "raise" or "coerce", got {errors!r}')
    ids, convs = _conversations(df, conversation_id, speaker, text, timestamp, language)
    if not convs:
        return output_meta(conversation_id)
    if copilot is None:
        copilot = _cached_copilot(
            os.fspath(models) if models is not None else None,
            encoder,
            os.fspath(taxonomy) if taxonomy is not None else None,
            os.fspath(kb) if kb is not None else None,
        )
    results = copilot.analyze_many(convs, batch_size=batch_size, errors="return")
    rows: List[Dict[str, Any]] = []
    for cid, r in zip(ids, results):
        if isinstance(r, Analysis):
            rows.append(row_of(r._data))
        elif errors == "raise":
            raise _with_context(r, f"conversation {cid!r}") from r
        else:
            row: Dict[str, Any] = {c: None for c in OUTPUT_COLUMNS}
            row.update({c: math.nan for c in _FLOAT_COLUMNS})
            row["error"] = str(r)
            rows.append(row)
    return _frame(ids, rows, conversation_id)

