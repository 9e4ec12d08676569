# Smoke tests "sdpa-efficient" and "sdpa-default": FP16 scaled-dot-product attention on the GPU.
# The memo's failure 1 ("FATAL: this function is for sm80, but was built for sm370") comes from the
# memory-efficient (CUTLASS) kernel and aborts the whole process, which is why this runs in a child.
import contextlib


def _efficient_only(torch):
    """A context forcing the memory-efficient backend, in whichever spelling this torch has."""
    attention = getattr(torch.nn, "attention", None)
    if attention is not None and hasattr(attention, "sdpa_kernel"):  # torch >= 2.3
        return attention.sdpa_kernel([attention.SDPBackend.EFFICIENT_ATTENTION]), "torch.nn.attention.sdpa_kernel"
    legacy = getattr(torch.backends.cuda, "sdp_kernel", None)  # torch 2.0 - 2.2
    if legacy is not None:
        context = legacy(enable_flash=False, enable_math=False, enable_mem_efficient=True)
        return context, "torch.backends.cuda.sdp_kernel"
    return None, None


def main(smoke):
    torch = smoke.torch()
    device = smoke.device(torch)
    F = torch.nn.functional
    if not hasattr(F, "scaled_dot_product_attention"):
        smoke.skip("no-sdpa", f"torch {torch.__version__} has no scaled_dot_product_attention (added in 2.0)")
    backend = smoke.params.get("backend", "default")
    context = contextlib.nullcontext()
    if backend == "efficient":
        context, how = _efficient_only(torch)
        if context is None:
            smoke.skip("no-backend-switch", f"torch {torch.__version__} cannot force an attention backend")
        smoke.details["forced_by"] = how
    smoke.details["backend"] = backend
    gen = torch.Generator().manual_seed(0)
    # (batch, heads, tokens, head dim) like GPT-SoVITS' text-to-semantic transformer (512 = 16 x 32).
    q, k, v = (torch.randn(1, 16, 96, 32, generator=gen) for _ in range(3))
    want = F.scaled_dot_product_attention(q.half().float(), k.half().float(), v.half().float())
    with torch.no_grad(), context:
        smoke.stage("sdpa-fp16-" + backend)
        got = F.scaled_dot_product_attention(q.to(device, torch.float16), k.to(device, torch.float16),
                                             v.to(device, torch.float16))
        torch.cuda.synchronize(device)
    smoke.done_stage()
    smoke.close(got, want, atol=2e-2, rtol=2e-2, what="sdpa " + backend)
