"""Beyond one machine: analyze_frame per partition on a real Dask cluster (two worker processes on
loopback), equal to the single-process result; each worker loads the models once."""

from __future__ import annotations

import sys
from typing import Any, Dict, List

import cloudpickle
import dask.dataframe as dd
import pandas as pd
import pytest
from distributed import Client, LocalCluster

import copiloot.pandas
from copiloot.pandas import analyze_frame, output_meta

from conftest import MODELS
from test_pandas import turns_frame

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def models_loaded() -> int:
    """Copilots loaded in this worker process."""
    return len(copiloot.pandas._COPILOTS)


@pytest.fixture(scope="module")
def client() -> Any:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster, Client(cluster) as c:
        yield c


def test_map_partitions_on_a_local_cluster(client: Any, fixture_dicts: List[Dict[str, Any]]) -> None:
    turns = turns_frame(fixture_dicts)
    kwargs = dict(conversation_id="call_id", speaker="role", text="utterance", timestamp="at", models=str(MODELS))

    # Every conversation's turns in one partition: shuffle on the id (rows may move, `at` orders them).
    ddf = dd.from_pandas(turns, npartitions=4).shuffle(on="call_id", npartitions=2)
    result = ddf.map_partitions(analyze_frame, meta=output_meta("call_id"), **kwargs).compute()

    expected = analyze_frame(turns, **kwargs)
    assert len(result) == len(expected) == 8
    result = result.sort_values("call_id").reset_index(drop=True)
    expected = expected.sort_values("call_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(result, expected)
    loaded = client.run(models_loaded)
    # The partitions ran in the worker processes, each loading the models at most once.
    assert len(loaded) == 2 and all(n <= 1 for n in loaded.values()) and sum(loaded.values()) >= 1, loaded
