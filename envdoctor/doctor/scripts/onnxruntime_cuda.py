# Smoke test "onnxruntime-cuda": onnxruntime-gpu's CUDA execution provider running a tiny model.
# GPT-SoVITS' G2PW text frontend runs on it. The model (Z = X * Y + X) is written here as raw protobuf
# bytes so the test needs neither the onnx package nor a model file.
def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, payload):
    """A length-delimited protobuf field (wire type 2)."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def _int_field(number, value):
    return _varint(number << 3) + _varint(value)


def _text(number, text):
    return _field(number, text.encode("utf-8"))


def _value_info(name, size):
    dim = _field(1, _int_field(1, size))  # TensorShapeProto.dim { dim_value }
    tensor = _int_field(1, 1) + _field(2, dim)  # elem_type FLOAT, shape
    return _text(1, name) + _field(2, _field(1, tensor))  # ValueInfoProto { name, type { tensor_type } }


def _node(inputs, output, op):
    body = b"".join(_text(1, i) for i in inputs) + _text(2, output) + _text(4, op)
    return body


def tiny_model(size=1024):
    graph = (
        _field(1, _node(["X", "Y"], "T", "Mul"))
        + _field(1, _node(["T", "X"], "Z", "Add"))
        + _text(2, "envdoctor-smoke")
        + _field(11, _value_info("X", size))
        + _field(11, _value_info("Y", size))
        + _field(12, _value_info("Z", size))
    )
    opset = _text(1, "") + _int_field(2, 13)
    return _int_field(1, 7) + _text(2, "envdoctor") + _field(7, graph) + _field(8, opset)


def main(smoke):
    # Import torch first when it is there, as GPT-SoVITS does: it loads the CUDA libraries ORT may reuse.
    try:
        import torch  # noqa: F401
    except Exception:
        pass
    smoke.stage("import-onnxruntime")
    import numpy as np
    import onnxruntime as ort

    smoke.done_stage()
    smoke.details["onnxruntime"] = ort.__version__
    providers = list(ort.get_available_providers())
    smoke.details["providers"] = providers
    model = tiny_model()
    x = np.linspace(-1.0, 1.0, 1024, dtype=np.float32)
    y = np.full(1024, 0.5, dtype=np.float32)
    want = x * y + x
    smoke.stage("cpu-provider")
    cpu = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    smoke.details["cpu_ok"] = bool(np.allclose(cpu.run(None, {"X": x, "Y": y})[0], want, atol=1e-6))
    smoke.done_stage()
    if "CUDAExecutionProvider" not in providers:
        smoke.skip("no-cuda-provider", f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (a CPU build)")
    if not smoke.params.get("expect_gpu", True):
        smoke.skip("no-gpu", "no NVIDIA GPU was selected")
    smoke.stage("cuda-provider-session")
    options = {"device_id": int(smoke.params.get("device", 0))}
    session = ort.InferenceSession(model, providers=[("CUDAExecutionProvider", options), "CPUExecutionProvider"])
    smoke.done_stage()
    active = list(session.get_providers())
    smoke.details["session_providers"] = active
    if not active or active[0] != "CUDAExecutionProvider":
        # ORT logs why (missing cuDNN/cuBLAS DLLs, CUDA version) to stderr and falls back to the CPU.
        raise RuntimeError("onnxruntime could not create the CUDAExecutionProvider and fell back to %s"
                           % (", ".join(active) or "nothing"))
    smoke.stage("cuda-provider-run")
    got = session.run(None, {"X": x, "Y": y})[0]
    smoke.done_stage()
    if not np.allclose(got, want, atol=1e-5):
        raise AssertionError("onnxruntime CUDA result differs from the expected values")

