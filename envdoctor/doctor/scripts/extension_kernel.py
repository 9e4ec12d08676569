# Smoke test "extension": launch a kernel from a CUDA library built elsewhere (a compiled extension).
# The library must export `int envdoctor_smoke_kernel(char *message, int size)` returning the CUDA
# error code of one kernel launch (0 = ran) and writing cudaGetErrorString into `message`.
# tests/gpu/build_sm75_extension.sh builds one for sm_75 only: on any newer GPU it must fail with
# "no kernel image is available for execution on the device", whatever TORCH_CUDA_ARCH_LIST says.
import ctypes
import os


def main(smoke):
    path = smoke.params.get("library")
    if not path:
        smoke.skip("no-extension", "no extension library was given (--extension PATH)")
    if not os.path.isfile(path):
        smoke.skip("no-extension", f"extension library {path} does not exist")
    smoke.details["library"] = path
    smoke.details["TORCH_CUDA_ARCH_LIST"] = os.environ.get("TORCH_CUDA_ARCH_LIST")
    smoke.stage("load")
    library = ctypes.CDLL(path)
    smoke.done_stage()
    entry = library.envdoctor_smoke_kernel
    entry.restype = ctypes.c_int
    entry.argtypes = [ctypes.c_char_p, ctypes.c_int]
    buffer = ctypes.create_string_buffer(512)
    smoke.stage("launch")
    code = entry(buffer, 512)
    smoke.done_stage()
    smoke.details["cuda_error_code"] = code
    if code != 0:
        raise RuntimeError(f"CUDA error: {buffer.value.decode('utf-8', 'replace')} (code {code})")
