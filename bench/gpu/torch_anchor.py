"""The anchor "a GRU on this GPU": torch.nn.GRU / torch.nn.LSTM (cuDNN) at lwin's bench sizes.

One training step as lwin's cells bench times it: forward over all T steps, a linear readout, MSE against targets at
every step, BPTT, AdamW. Timed with CUDA events after warm-up; median of the repeats.
Usage: python3 torch_anchor.py OUT.json BxTxHxD [BxTxHxD ...]
Writes {"skipped": reason} where PyTorch or CUDA is missing.
"""
import json
import statistics
import sys
import time


def write(path, result):
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    import os
    os.replace(path + ".tmp", path)


def bench(torch, kind, B, T, H, D, repeats=5, warmup=2):
    dev = torch.device("cuda")
    torch.manual_seed(1)
    layer = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind](D, H, batch_first=True).to(dev)
    head = torch.nn.Linear(H, 1).to(dev)
    params = list(layer.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    x = torch.randn(B, T, D, device=dev)
    y = torch.randn(B, T, device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        out, _ = layer(x)
        loss = torch.nn.functional.mse_loss(head(out).squeeze(-1), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    def forward():
        with torch.no_grad():
            layer(x)

    def timed(fn):
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return statistics.median(times)

    train_ms = timed(step)
    forward_ms = timed(forward)
    peak = torch.cuda.max_memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    return {
        "cell": kind, "size": {"batch": B, "steps": T, "hidden": H, "input": D},
        "msPerBatch": train_ms, "forwardMsPerBatch": forward_ms,
        "sequenceStepsPerSecond": B * T / (train_ms / 1000), "peakBytes": peak,
    }


def main():
    out, sizes = sys.argv[1], [tuple(int(v) for v in s.split("x")) for s in sys.argv[2:]]
    try:
        import torch
    except ImportError as e:
        return write(out, {"skipped": f"no PyTorch here ({e})"})
    if not torch.cuda.is_available():
        return write(out, {"skipped": f"PyTorch {torch.__version__} sees no CUDA device"})
    result = {
        "torch": torch.__version__, "cudnn": torch.backends.cudnn.version(), "device": torch.cuda.get_device_name(0),
        "tf32": torch.backends.cuda.matmul.allow_tf32, "results": [],
    }
    started = time.time()
    for (B, T, H, D) in sizes:
        for kind in ("gru", "lstm"):
            result["results"].append(bench(torch, kind, B, T, H, D))
            result["seconds"] = time.time() - started
            write(out, result)
            r = result["results"][-1]
            print(f"torch.nn.{kind.upper()} B={B} T={T} H={H} D={D}: {r['sequenceStepsPerSecond'] / 1e3:.1f}k sequence-steps/s, "
                  f"{r['msPerBatch']:.2f} ms per training step, forward {r['forwardMsPerBatch']:.2f} ms", flush=True)


if __name__ == "__main__":
    main()
