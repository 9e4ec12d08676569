# Smoke tests "elementwise", "matmul-fp32/fp16", "conv1d-fp32/fp16": plain prebuilt kernels.
# A torch build without code for this GPU fails here with "no kernel image is available".
def main(smoke):
    torch = smoke.torch()
    device = smoke.device(torch)
    op = smoke.params.get("op", "elementwise")
    dtype = getattr(torch, smoke.params.get("dtype", "float32"))
    smoke.details["op"] = op
    smoke.details["dtype"] = str(dtype)
    gen = torch.Generator().manual_seed(0)
    tol = {"atol": 1e-4, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 5e-2, "rtol": 5e-2}
    if op == "conv1d" and dtype == torch.float32:
        # cuDNN convolutions run in TF32 by default on Ampere and newer (torch.backends.cudnn.allow_tf32),
        # as GPT-SoVITS runs them: a 10-bit mantissa, so ~1e-3 relative error is the right answer there.
        tol = {"atol": 5e-3, "rtol": 5e-3}
    if op == "elementwise":
        a = torch.randn(4096, generator=gen)
        b = torch.randn(4096, generator=gen)
        want = a * 2.0 + b
        smoke.stage("elementwise")
        got = a.to(device, dtype) * 2.0 + b.to(device, dtype)
        torch.cuda.synchronize(device)
    elif op == "matmul":
        a = torch.randn(256, 128, generator=gen) / 8
        b = torch.randn(128, 64, generator=gen) / 8
        want = a.to(dtype).float() @ b.to(dtype).float()
        smoke.stage("matmul")
        got = a.to(device, dtype) @ b.to(device, dtype)
        torch.cuda.synchronize(device)
    elif op == "conv1d":
        # Shaped like the HuBERT/VITS convolutions: (batch, channels, time).
        x = torch.randn(1, 64, 400, generator=gen) / 4
        conv = torch.nn.Conv1d(64, 32, kernel_size=5, padding=2)
        with torch.no_grad():
            want = conv(x.to(dtype).float())
            smoke.stage("conv1d")
            got = conv.to(device, dtype)(x.to(device, dtype))
            torch.cuda.synchronize(device)
    else:
        raise ValueError(f"unknown op {op!r}")
    smoke.done_stage()
    smoke.close(got, want, what=op, **tol)
