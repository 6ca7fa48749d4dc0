"""The GPU path (engine.device) with NumPy standing in for CuPy: the same code, checked against
the CPU path on random data and partitionings; and the real thing where CUDA is present."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.device import ArrayDevice, NoGpu, choose_devices, gpu_name
from engine.expr import Column
from engine.nodes import aggregate as agg
from engine.nodes.kernels import compute_rows
from tests.runner import run_nodes, write_source

STAND_IN = ArrayDevice("numpy", "numpy stand-in")


@dataclass(frozen=True)
class CountingDevice(ArrayDevice):
    """The stand-in, counting the arrays moved to the device (tests run in this process)."""

    moved: ClassVar[list[int]] = []

    def to_device(self, array: Any) -> Any:
        CountingDevice.moved.append(len(array))
        return super().to_device(array)


def _no_gpu() -> None:
    return None


def test_choose_devices_cpu_never_probes() -> None:
    def probe() -> str:
        raise AssertionError("probed for a GPU although none was asked for")

    devices, summary = choose_devices("cpu", {"a": None, "b": "cpu"}, probe)
    assert devices == {"a": None, "b": None} and summary == "cpu"


def test_choose_devices_gpu_without_one_names_what_is_missing() -> None:
    with pytest.raises(NoGpu, match="asked for by the run, but there is no usable GPU: CuPy") as info:
        choose_devices("gpu", {"a": None}, _no_gpu)
    assert info.value.node is None


def test_choose_devices_node_gpu_without_one_names_the_node() -> None:
    with pytest.raises(NoGpu, match="asked for by node 'stats'") as info:
        choose_devices("cpu", {"src": None, "stats": "gpu"}, _no_gpu)
    assert info.value.node == "stats"


def test_choose_devices_auto_without_gpu_runs_on_cpu_and_says_so() -> None:
    devices, summary = choose_devices("auto", {"a": None, "b": "cpu"}, _no_gpu)
    assert devices == {"a": None, "b": None} and summary == "cpu (auto: no GPU found)"


def test_choose_devices_auto_with_gpu_reports_which_and_where() -> None:
    devices, summary = choose_devices("cpu", {"a": None, "b": "auto"}, lambda: "gpu 0: Test GPU")
    assert devices["a"] is None and devices["b"] == ArrayDevice("cupy", "gpu 0: Test GPU")
    assert summary == "gpu 0: Test GPU for b; cpu for the rest"
    devices, summary = choose_devices("auto", {"a": None}, lambda: "gpu 0: Test GPU")
    assert devices["a"] is not None and summary == "gpu 0: Test GPU"


def test_array_device_unknown_library_refused() -> None:
    with pytest.raises(ValueError, match="unknown array library 'torch'"):
        ArrayDevice("torch")


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    price = rng.uniform(-5, 50, n)
    price[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "region": pd.Series(rng.choice(["north", "south", "east", None], n), dtype="str"),
            "quantity": rng.integers(0, 9, n),
            "price": price,
            "flag": rng.random(n) < 0.5,
        }
    )


def test_compute_rows_stand_in_moves_each_numeric_column_once_and_matches_cpu() -> None:
    frame = _frame(500, 1)
    columns = {
        "revenue": "quantity * price",
        "score": "sin(revenue) + cos(revenue * 2) + quantity",  # revenue stays on the device
        "label": "region == 'north'",  # reads text: on the CPU
        "twice": "score * 2",
    }
    CountingDevice.moved.clear()
    got = compute_rows(frame, "flag & (quantity > 2)", columns, CountingDevice("numpy"))
    # flag, quantity, price: moved once each although read by several expressions
    assert len(CountingDevice.moved) == 3
    expected = compute_rows(frame, "flag & (quantity > 2)", columns)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12)
    assert len(got) < len(frame)


def test_compute_rows_stand_in_column_replaced_on_cpu_is_not_reused_stale() -> None:
    frame = _frame(50, 2)
    columns = {"q2": "quantity * 2", "quantity": "region == 'north'", "both": "quantity & flag"}
    got = compute_rows(frame, None, columns, STAND_IN)
    pd.testing.assert_frame_equal(got, compute_rows(frame, None, columns))


def test_aggregate_partial_stand_in_matches_cpu() -> None:
    frame = _frame(400, 3)
    spec = agg.AggSpec(
        by=("region",),
        values=(
            ("n", "count", None),
            ("total", "sum", "price"),
            ("avg", "mean", "price"),
            ("sd", "std", "price"),
            ("q", "sum", "quantity"),
            ("lo", "min", "price"),
        ),
    )
    cpu = agg.partial(frame, spec)
    gpu = agg.partial(frame, spec, STAND_IN)
    pd.testing.assert_frame_equal(gpu.stats, cpu.stats, rtol=1e-12)


@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(0, 300),
    seed=st.integers(0, 2**16),
    row_group=st.integers(1, 120),
    by=st.sampled_from([[], ["region"], ["region", "flag"]]),
)
def test_compute_node_on_stand_in_device_equals_cpu_any_partitioning(
    tmp_path_factory: pytest.TempPathFactory, n: int, seed: int, row_group: int, by: list[str]
) -> None:
    tmp = tmp_path_factory.mktemp("device")
    write_source(_frame(n, seed), tmp / "in.parquet", row_group)
    nodes = [
        {"id": "src", "type": "source.parquet", "params": {"path": "in.parquet"}},
        {
            "id": "stats",
            "type": "compute",
            "params": {
                "filter": "quantity > 0",
                "columns": {
                    "revenue": "quantity * price",
                    "score": "sin(revenue) / 2 + sin(revenue * 2) / 3",
                },
                "aggregate": {
                    "by": by,
                    "values": {
                        "orders": "count()",
                        "revenue": "sum(revenue)",
                        "score": "mean(score)",
                        "top": "max(price)",
                    },
                },
            },
        },
    ]
    edges = [("src.out", "stats.in")]
    cpu = run_nodes(tmp, nodes, edges, sink="cpu")
    gpu = run_nodes(tmp, nodes, edges, sink="gpu", devices={"stats": STAND_IN})
    pd.testing.assert_frame_equal(gpu, cpu, rtol=1e-9)


@pytest.mark.skipif(gpu_name() is None, reason="needs CuPy and a CUDA GPU")
def test_compute_node_on_cuda_gpu_equals_cpu(tmp_path: Path) -> None:
    frame = _frame(200_000, 4)
    write_source(frame, tmp_path / "in.parquet", 50_000)
    nodes = [
        {"id": "src", "type": "source.parquet", "params": {"path": "in.parquet"}},
        {
            "id": "stats",
            "type": "compute",
            "params": {
                "columns": {"revenue": "quantity * price", "score": "sin(revenue) + sin(revenue * 2) / 2"},
                "aggregate": {
                    "by": ["region"],
                    "values": {"n": "count()", "s": "sum(score)", "m": "mean(revenue)"},
                },
            },
        },
    ]
    edges = [("src.out", "stats.in")]
    cpu = run_nodes(tmp_path, nodes, edges, sink="cpu")
    gpu = run_nodes(
        tmp_path, nodes, edges, sink="gpu", devices={"stats": ArrayDevice("cupy", str(gpu_name()))}
    )
    pd.testing.assert_frame_equal(gpu, cpu, rtol=1e-9)


def test_on_device_column_values_come_back_as_numpy() -> None:
    column = Column(np.arange(3.0), np.array([False, True, False]))
    back = STAND_IN.to_host(column.data)
    assert isinstance(back, np.ndarray) and STAND_IN.to_host(None) is None
