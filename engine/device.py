"""Device and numeric precision: CUDA when present, bf16 where the hardware runs it fast."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Literal, TypeVar

import torch
from torch import nn

Precision = Literal["auto", "fp32", "bf16", "fp16"]
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but no CUDA GPU is available")
        return torch.device(name)
    raise ValueError(f"device must be auto, cpu or cuda, got {name!r}")


# oneDNN's documented cap on the instructions it may use (ONEDNN_MAX_CPU_ISA, or its older
# name DNNL_MAX_CPU_ISA): under any cap below these it emulates bf16, slower than fp32. Setting
# ONEDNN_MAX_CPU_ISA=AVX2 makes an AVX-512 machine run (and choose) as an AVX2-only one.
ISAS_WITH_NATIVE_BF16 = frozenset(
    {
        "ALL",
        "AVX512_CORE_BF16",
        "AVX512_CORE_FP16",
        "AVX512_CORE_AMX",
        "AVX512_CORE_AMX_FP16",
        "AVX10_1_512",
        "AVX10_1_512_AMX",
        "AVX10_1_512_AMX_FP16",
        "AVX10_2_512",
        "AVX10_2_512_AMX_2",
    }
)


def cpu_isa_cap() -> str:
    """The instruction set oneDNN is capped at here ('ALL' when uncapped)."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "ALL"
    return cap.strip().upper()


def cpu_has_fast_bf16() -> bool:
    """AMX or AVX-512 BF16 (and no oneDNN cap below them) make bf16 convolutions about twice
    as fast as fp32 on the CPU; elsewhere bf16 is emulated and slower."""
    if cpu_isa_cap() not in ISAS_WITH_NATIVE_BF16:
        return False
    cpu = torch.cpu
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(cpu, name, lambda: False)() for name in checks)


def resolve_precision(device: torch.device, requested: Precision = "auto") -> Precision:
    """The precision to run the generator in on this device."""
    if requested != "auto":
        if requested == "fp16" and device.type == "cpu":
            raise ValueError("precision 'fp16' needs a CUDA device; use bf16 or fp32 on CPU")
        return requested
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


@contextlib.contextmanager
def autocast(device: torch.device, precision: Precision) -> Iterator[None]:
    """Mixed precision for the generator's convolutions; a no-op in fp32."""
    dtype = _DTYPES.get(precision)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        yield


# The process's torch (OpenMP) thread count outside `one_cpu_thread`. torch keeps one count for
# the whole process, read by every thread it has not met yet: a save and restore around a
# block, as `one_cpu_thread` does on several threads at once, could otherwise restore another
# block's 1 and leave every later thread, and every model loaded later, on one core.
_torch_threads = 0
_threads_lock = threading.Lock()


def torch_threads() -> int:
    """How many threads torch runs ops on in this process (outside `one_cpu_thread`): as set
    by `set_torch_threads`, else torch's own count when first asked (before any block)."""
    global _torch_threads
    with _threads_lock:
        if not _torch_threads:
            _torch_threads = torch.get_num_threads()
        return _torch_threads


def set_torch_threads(count: int) -> None:
    """Give torch `count` threads, process-wide (what `one_cpu_thread` restores)."""
    global _torch_threads
    with _threads_lock:
        _torch_threads = count
        torch.set_num_threads(count)


@contextlib.contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run many small CPU ops on the calling thread alone; a no-op off the CPU.

    Each op on a 256 px mask is just big enough for torch to open an OpenMP parallel region.
    In a worker thread (the engine service's network thread, the bot's engine threads) every
    region costs a wake-up of its team: the edges segmenter's ~700 small ops took 37 ms there
    against 6 ms on one thread, which it needs no more than. On leaving, torch gets the
    process's own count back (`torch_threads`), whatever other threads did meanwhile.
    """
    if device.type != "cpu":
        yield
        return
    restore = torch_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(restore)


ModuleT = TypeVar("ModuleT", bound=nn.Module)


def place(module: ModuleT, device: torch.device) -> ModuleT:
    """Move a network to `device` in channels-last layout, which oneDNN and cuDNN run fastest."""
    module.to(device)
    module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return module
