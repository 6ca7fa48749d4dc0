"""What this process may use: cores, memory and GPUs, as CPU affinity and cgroups (containers) limit them.

Stdlib only. `available_cores()` is what `workers: auto` uses; it never probes GPUs. `machine()` also
asks CuPy, else `nvidia-smi`, for GPUs. The `/proc` and cgroup roots are parameters so tests can point
them at fake trees. A cgroup limit is the smallest one set on the process's cgroup or its ancestors
(cgroup v2 first, then v1); in a container the mount root is the container's own cgroup.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Gpu", "Machine", "available_cores", "describe", "machine"]

GIB = 1024**3
_UNLIMITED = 2**60  # cgroup v1 writes "no limit" as a page-aligned 2**63 - 1


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory_total: int  # bytes


@dataclass(frozen=True)
class Machine:
    cores: int  # what `workers: auto` uses
    logical_cpus: int
    affinity: int
    cgroup_cpu_limit: float | None  # in CPUs (quota / period)
    memory_total: int  # bytes; the smaller of physical memory and the cgroup memory limit
    memory_available: int
    cgroup_memory_limit: int | None
    gpus: tuple[Gpu, ...]


def machine(
    proc: str | Path = "/proc", cgroup: str | Path = "/sys/fs/cgroup", *, gpus: bool = True
) -> Machine:
    """Read the limits now; `gpus=False` skips the GPU probe (which may import CuPy or start a process)."""
    proc, cgroup = Path(proc), Path(cgroup)
    logical = os.cpu_count() or 1
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        affinity = logical
    cpu_limit = _cpu_limit(proc, cgroup)
    cores = max(1, min(affinity, math.ceil(cpu_limit))) if cpu_limit else max(1, affinity)
    meminfo = _meminfo(proc)
    physical = meminfo.get("MemTotal") or _sysconf("SC_PHYS_PAGES")
    available = meminfo.get("MemAvailable") or _sysconf("SC_AVPHYS_PAGES")
    mem_limit, mem_used = _memory_limit(proc, cgroup)
    total = min(physical, mem_limit) if mem_limit else physical
    if mem_limit:
        available = min(available, max(0, mem_limit - mem_used))
    return Machine(cores, logical, affinity, cpu_limit, total, available, mem_limit, _gpus() if gpus else ())


def available_cores() -> int:
    """Cores this process may use: CPU affinity bounded by a cgroup CPU quota, at least 1."""
    return machine(gpus=False).cores


def describe(m: Machine) -> list[str]:
    """The human table `graphmill resources` prints, one line per resource."""
    limit = f"cgroup CPU limit {m.cgroup_cpu_limit:g}" if m.cgroup_cpu_limit else "no cgroup CPU limit"
    mem = (
        f"cgroup memory limit {m.cgroup_memory_limit / GIB:.1f} GiB"
        if m.cgroup_memory_limit
        else "no cgroup memory limit"
    )
    lines = [
        f"cores   {m.cores} (affinity {m.affinity} of {m.logical_cpus} logical CPUs, {limit})",
        f"memory  {m.memory_total / GIB:.1f} GiB total, {m.memory_available / GIB:.1f} GiB available ({mem})",
    ]
    for gpu in m.gpus:
        lines.append(f"gpu {gpu.index}   {gpu.name}, {gpu.memory_total / GIB:.1f} GiB")
    if not m.gpus:
        lines.append(f"gpus    none found ({_no_gpu_reason()})")
    return lines


def _cpu_limit(proc: Path, cgroup: Path) -> float | None:
    limits = []
    for d in _cgroup_dirs(proc, cgroup, ""):
        fields = [_int(f) for f in _read(d / "cpu.max").split()]  # "max 100000" reads as [None, ...]
        if len(fields) == 2 and fields[0] and fields[1]:
            limits.append(fields[0] / fields[1])
    if not limits:
        for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
            for d in _cgroup_dirs(proc, cgroup / name, "cpu"):
                quota, period = _int(_read(d / "cpu.cfs_quota_us")), _int(_read(d / "cpu.cfs_period_us"))
                if quota and quota > 0 and period:
                    limits.append(quota / period)
    return min(limits) if limits else None


def _memory_limit(proc: Path, cgroup: Path) -> tuple[int | None, int]:
    """The tightest cgroup memory limit in bytes (None when there is none) and the usage it counts."""
    for base, controller, limit_file, usage_file in (
        (cgroup, "", "memory.max", "memory.current"),
        (cgroup / "memory", "memory", "memory.limit_in_bytes", "memory.usage_in_bytes"),
    ):
        dirs = [d for d in _cgroup_dirs(proc, base, controller) if (d / limit_file).exists()]
        if dirs:  # "max" and v1's huge "no limit" value are no limit
            limits = [(v, d) for d in dirs if (v := _int(_read(d / limit_file))) and v < _UNLIMITED]
            if not limits:
                return None, 0
            limit, where = min(limits)
            return limit, _int(_read(where / usage_file)) or 0
    return None, 0


def _cgroup_dirs(proc: Path, base: Path, controller: str) -> list[Path]:
    """The process's own cgroup under `base` and its ancestors, innermost first; just `base` when the
    own path is not there (a container sees its own cgroup as the root)."""
    for line in _read(proc / "self" / "cgroup").splitlines():
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        if controller in controllers.split(","):  # v2's line is "0::/path": controller ""
            own = base / path.strip().lstrip("/")
            if own != base and own.is_dir():
                return [own, *[p for p in own.parents if p.is_relative_to(base)]]
            break
    return [base]


def _meminfo(proc: Path) -> dict[str, int]:
    info = {}
    for line in _read(proc / "meminfo").splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            info[key] = int(fields[0]) * (1024 if fields[1:] == ["kB"] else 1)
    return info


def _gpus() -> tuple[Gpu, ...]:
    """GPUs from CuPy when it imports and sees a device, else from `nvidia-smi`; none on any failure."""
    return cupy_gpus() or _nvidia_smi()


def cupy_gpus() -> tuple[Gpu, ...]:
    """The CUDA devices CuPy can use (what `device: gpu` runs on); none without CuPy, driver or GPU."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import cupy

            runtime = cupy.cuda.runtime
            found = []
            for i in range(runtime.getDeviceCount()):
                props = runtime.getDeviceProperties(i)
                name = props["name"]
                name = name.decode() if isinstance(name, bytes) else str(name)
                found.append(Gpu(i, name, int(props["totalGlobalMem"])))
        return tuple(found)
    except Exception:
        return ()


def _nvidia_smi() -> tuple[Gpu, ...]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return ()
    query = [exe, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"]
    try:
        from .executable import external_env  # in the desktop bundle: not its own libraries

        env = external_env()
        out = subprocess.run(query, capture_output=True, text=True, timeout=5, check=True, env=env).stdout
        rows = [[f.strip() for f in line.split(",")] for line in out.splitlines() if line.strip()]
        return tuple(Gpu(int(index), name, int(float(mib)) * 1024**2) for index, name, mib in rows)
    except (OSError, subprocess.SubprocessError, ValueError):
        return ()


def _no_gpu_reason() -> str:
    cupy = "CuPy found none" if importlib.util.find_spec("cupy") else "no CuPy"
    smi = "nvidia-smi found none" if shutil.which("nvidia-smi") else "no nvidia-smi"
    return f"{cupy}, {smi}"


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _sysconf(name: str) -> int:
    try:
        return os.sysconf(name) * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 0
