# Smoke test "cuda": torch.cuda.is_available(), the device's properties, a first allocation.
# Run by the worker (_harness.py) in the runtime's Python; `smoke` is the harness' helper object.
import warnings


def main(smoke):
    torch = smoke.import_torch()
    smoke.stage("is-available")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = bool(torch.cuda.is_available())
    smoke.done_stage()
    # torch explains a failed CUDA init only as a warning ("driver too old", "no kernel image"...).
    notes = [str(w.message) for w in caught]
    smoke.details["warnings"] = notes[-5:]
    smoke.details["cuda_available"] = available
    flags = getattr(torch._C, "_cuda_getArchFlags", None)
    smoke.details["arch_list"] = (flags() or "").split() if flags else []
    if not available:
        why = " ".join(notes)[-2000:] or "torch.cuda.is_available() is False"
        if smoke.params.get("expect_gpu"):
            # The driver reports a GPU, so CUDA being unavailable is this test's failure, not a skip.
            raise RuntimeError("torch.cuda.is_available() is False although the driver reports a GPU. " + why)
        smoke.skip("no-cuda", why)
    device = smoke.device(torch)
    props = torch.cuda.get_device_properties(device)
    smoke.details["properties"] = {
        "name": props.name,
        "total_memory_mib": int(props.total_memory // (1024 * 1024)),
        "multi_processor_count": int(props.multi_processor_count),
        "cc": f"{props.major}.{props.minor}",
    }
    smoke.details["device_count"] = int(torch.cuda.device_count())
    cudnn = getattr(torch.backends, "cudnn", None)
    try:
        smoke.details["cudnn"] = cudnn.version() if cudnn is not None else None
    except Exception as exc:  # cuDNN that fails to load shows up here first
        smoke.details["cudnn_error"] = f"{type(exc).__name__}: {exc}"
    smoke.stage("first-allocation")
    x = torch.ones(16, device=device)
    torch.cuda.synchronize(device)
    smoke.done_stage()
    if float(x.sum().item()) != 16.0:
        raise AssertionError("a tensor of ones on the GPU does not sum to 16")
