"""Where a node's numeric kernels run: the CPU (plain NumPy and pandas) or a GPU (CuPy).

`resources.device` is `cpu`, `gpu` or `auto` on the project, a node, or the command line.
`choose_devices` turns those into one `ArrayDevice` per node before any data is read (None is the
CPU): `gpu` where CuPy sees no CUDA device is a project error (exit 2), `auto` takes a GPU when
there is one and says which. An ArrayDevice is only a library name, so it pickles into worker
processes and onto Dask workers and imports its library there.

On a device, a compute node evaluates expressions whose columns are all numbers, booleans or
dates through the same evaluator (engine.expr) with the device's array namespace: each such
column moves to the device once per partition and node, derived columns stay there for later
expressions, and only results come back. Expressions that read text run on the CPU, as do
aggregates other than count/sum/mean of float columns (engine.nodes.aggregate). NumPy stands in
for CuPy in tests: the code path is the same.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ArrayDevice", "NoGpu", "choose_devices", "gpu_name"]

LIBRARIES = ("cupy", "numpy")


class NoGpu(Exception):
    """`device: gpu` was asked for where there is no usable GPU; the message says what is missing
    and `node` which node asked (None: the project or the command line)."""

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__(message)
        self.node = node


@dataclass(frozen=True)
class ArrayDevice:
    """An array library with NumPy's API; `numpy` only to test the GPU path on a CPU."""

    library: str = "cupy"
    label: str = "gpu"  # what run events report, e.g. "gpu 0: NVIDIA H100"

    def __post_init__(self) -> None:
        if self.library not in LIBRARIES:
            raise ValueError(f"unknown array library '{self.library}' (expected one of {LIBRARIES})")

    @property
    def xp(self) -> Any:
        return importlib.import_module(self.library)

    def to_device(self, array: Any) -> Any:
        return self.xp.asarray(array)

    def to_host(self, array: Any) -> Any:
        """A NumPy array (a copy from a GPU); NumPy arrays pass through unchanged."""
        if array is None or self.library == "numpy":
            return array
        return self.xp.asnumpy(array)


def gpu_name() -> str | None:
    """'gpu 0: <name>' of the first CUDA device CuPy can use, or None (no CuPy, no driver, no GPU)."""
    from .machine import cupy_gpus

    gpus = cupy_gpus()
    return f"gpu {gpus[0].index}: {gpus[0].name}" if gpus else None


def _missing() -> str:
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed (pip install 'graphmill[gpu]', with a CUDA driver and GPU)"
    return "CuPy is installed but finds no CUDA device (no NVIDIA GPU or driver here)"


def choose_devices(
    run_device: str, node_devices: Mapping[str, str | None], probe: Any = gpu_name
) -> tuple[dict[str, ArrayDevice | None], str]:
    """Each node's device and a one-line summary for the run events ("cpu", "gpu 0: ...").

    Raises NoGpu when `gpu` is asked for (by the run or a node) and `probe` finds none."""
    wanted = {node: device or run_device for node, device in node_devices.items()}
    needs_probe = run_device != "cpu" or any(d != "cpu" for d in wanted.values())
    name = probe() if needs_probe else None
    if name is None:
        asking = [n for n, d in wanted.items() if d == "gpu"]
        if run_device == "gpu" or asking:
            node = None if run_device == "gpu" else asking[0]
            who = "the run" if node is None else f"node '{node}'"
            raise NoGpu(
                f"device 'gpu' was asked for by {who}, but there is no usable GPU: {_missing()}", node
            )
    gpu = ArrayDevice("cupy", name) if name else None
    devices = {node: gpu if device != "cpu" else None for node, device in wanted.items()}
    on_gpu: Sequence[str] = [n for n, d in devices.items() if d is not None]
    if not on_gpu:
        summary = "cpu" + (
            " (auto: no GPU found)" if "auto" in wanted.values() or run_device == "auto" else ""
        )
    elif len(on_gpu) == len(devices):
        summary = str(name)
    else:
        summary = f"{name} for {', '.join(on_gpu)}; cpu for the rest"
    return devices, summary
