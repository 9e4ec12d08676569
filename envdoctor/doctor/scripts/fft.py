# Smoke tests "fft-fp32" and "fft-fp16": torch.fft.rfft(x).abs() as in v2Pro speaker verification's
# fbank (GPT_SoVITS/eres2net/kaldi.py). The complex abs is compiled at run time by NVRTC (jiterator):
# an NVRTC older than the GPU fails with "nvrtc: error: invalid value for --gpu-architecture (-arch)".
def main(smoke):
    gen_ok = True
    smoke.stage("import-torch")
    import torch

    smoke.done_stage()
    dtype = getattr(torch, smoke.params.get("dtype", "float32"))
    smoke.details["dtype"] = str(dtype)
    # (frames, padded window) like fbank's strided_input for ~2 s of 16 kHz audio.
    x = torch.randn(200, 512, generator=torch.Generator().manual_seed(0))
    # The CPU path is what "run speaker verification on the CPU" would use; prove it works here too.
    smoke.stage("rfft-cpu")
    try:
        want = torch.fft.rfft(x.to(dtype).float()).abs()
    except Exception as exc:
        gen_ok = False
        smoke.details["cpu_error"] = f"{type(exc).__name__}: {exc}"
    smoke.done_stage()
    smoke.details["cpu_ok"] = gen_ok
    torch = smoke.torch()
    device = smoke.device(torch)
    smoke.stage("rfft-abs-" + smoke.params.get("dtype", "float32"))
    got = torch.fft.rfft(x.to(device, dtype)).abs()
    torch.cuda.synchronize(device)
    smoke.done_stage()
    if gen_ok:
        tol = 1e-3 if dtype == torch.float32 else 0.5
        smoke.close(got, want, atol=tol, rtol=5e-2 if dtype != torch.float32 else 1e-4, what="rfft().abs()")
