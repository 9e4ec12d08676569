"""GPU and driver facts through NVML (the nvidia-ml-py package, imported as `pynvml`).

The NVML module is injectable: unit tests hand in an object with the same functions; the real
module is used everywhere else and exercised on the GPU machine.
"""

from __future__ import annotations

from typing import Any, List, Optional

from envdoctor.model import Driver, Gpu, GpuFacts
from envdoctor.probes.interface import SourceUnavailable


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def cuda_version_from_int(value: int) -> str:
    """NVML encodes the driver's CUDA version as 1000*major + 10*minor (12090 -> '12.9')."""
    return f"{value // 1000}.{(value % 1000) // 10}"


class NvmlSource:
    name = "nvml"

    def __init__(self, nvml: Any = None) -> None:
        self._nvml = nvml

    def _module(self) -> Any:
        if self._nvml is not None:
            return self._nvml
        try:
            import pynvml  # nvidia-ml-py
        except ImportError as exc:
            raise SourceUnavailable(f"nvidia-ml-py is not installed ({exc})") from exc
        return pynvml

    def read(self) -> GpuFacts:
        nvml = self._module()
        try:
            nvml.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            raise SourceUnavailable(f"nvmlInit failed: {_text(exc)}") from exc
        try:
            driver_version = _text(nvml.nvmlSystemGetDriverVersion())
            cuda_version: Optional[str] = None
            try:
                cuda_version = cuda_version_from_int(int(nvml.nvmlSystemGetCudaDriverVersion()))
            except Exception:
                cuda_version = None
            gpus: List[Gpu] = []
            for index in range(int(nvml.nvmlDeviceGetCount())):
                gpus.append(self._read_device(nvml, index))
        except SourceUnavailable:
            raise
        except Exception as exc:
            raise SourceUnavailable(f"NVML query failed: {_text(exc)}") from exc
        finally:
            try:
                nvml.nvmlShutdown()
            except Exception:
                pass
        return GpuFacts(tuple(gpus), Driver(driver_version, cuda_version, source=self.name))

    def _read_device(self, nvml: Any, index: int) -> Gpu:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        name = _text(nvml.nvmlDeviceGetName(handle))
        cc = None
        try:
            major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
            cc = (int(major), int(minor))
        except Exception:
            cc = None
        uuid = None
        try:
            uuid = _text(nvml.nvmlDeviceGetUUID(handle))
        except Exception:
            uuid = None
        memory = None
        try:
            memory = int(nvml.nvmlDeviceGetMemoryInfo(handle).total) // (1024 * 1024)
        except Exception:
            memory = None
        return Gpu(index, name, cc, uuid=uuid, memory_total_mib=memory, source=self.name)
