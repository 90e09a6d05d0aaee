"""Model throughput against the machine's own best matrix and convolution FLOP/s, in one run.

    python -m benchmarks.model_bench [--configs default,paper,16x256] [--batch 256] [--device cpu]
    python -m benchmarks.model_bench --configs default --profile     # where a step's time goes

A configuration is a name from ``CONFIGS`` or ``WIDTHxHIDDEN`` (the paper's
structure with that many partial-conv maps and that hidden/feature size).

For each configuration: patch-days per second of inference (one day of a
batch of 40 x 40 patches through ``LSTMCNN.step``, state carried), FLOPs
per patch-day (:func:`count_flops`), and the achieved FLOP/s. The roofline
is the best of a large square matrix product and a plain 64 -> 64 3 x 3
convolution on the same batch (in both memory layouts, NCHW and channels-last),
all measured in the same run on the same device (a 16 -> 16 convolution is
reported beside them for comparison, not counted in the best). The model runs channels-last,
with the allocator thresholds of :mod:`sgdsm_dask.runtime.malloc`, as
:class:`~sgdsm_dask.model.fill.Filler` runs it. Prints one JSON object; ``compute_over_roofline`` per configuration
is the ratio (target >= 0.5).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from sgdsm_dask.model.network import CONFIGS, LSTMCNN, ModelConfig, count_flops
from sgdsm_dask.runtime import malloc


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def _rate(fn, flops: float, dev: torch.device, repeat: int) -> float:
    """Best FLOP/s of ``repeat`` timed calls after a warm-up call."""
    fn()
    _sync(dev)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        _sync(dev)
        best = min(best, time.perf_counter() - t)
    return flops / best


def roofline(dev: torch.device, batch: int, repeat: int) -> dict[str, float]:
    n = 4096 if dev.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    mm = _rate(lambda: a @ b, 2.0 * n**3, dev, repeat)
    conv_flops = 2.0 * batch * 40 * 40 * 64 * 64 * 9
    rates = {}
    for fmt_name, fmt in (("conv_flops", torch.contiguous_format), ("conv_channels_last_flops", torch.channels_last)):
        x = torch.randn(batch, 64, 40, 40, device=dev).contiguous(memory_format=fmt)
        conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(dev).to(memory_format=fmt)
        with torch.inference_mode():
            rates[fmt_name] = _rate(lambda: conv(x), conv_flops, dev, repeat)  # noqa: B023 (called at once)
    # for comparison only (not in best_flops): the 16 -> 16 convolution of the default model's inner layers
    x16 = torch.randn(batch, 16, 40, 40, device=dev).contiguous(memory_format=torch.channels_last)
    conv16 = torch.nn.Conv2d(16, 16, 3, padding=1).to(dev).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        conv16_rate = _rate(lambda: conv16(x16), conv_flops / 16, dev, repeat)
    best = max(mm, *rates.values())
    return {"matmul_flops": mm, **rates, "conv16_channels_last_flops": conv16_rate, "best_flops": best}


def parse_config(name: str) -> ModelConfig:
    if name in CONFIGS:
        return CONFIGS[name]
    width, _, hidden = name.partition("x")
    return ModelConfig(name=name, width=int(width), feature=int(hidden), hidden=int(hidden))


def _step_inputs(name: str, dev: torch.device, batch: int):
    """The network (channels-last, as Filler runs it), one day of random maps and a zero state."""
    cfg = parse_config(name)
    torch.manual_seed(0)
    net = LSTMCNN(cfg).to(dev).eval().to(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(0)
    s = torch.rand(batch, 1, 40, 40, generator=g).to(dev)
    m = (torch.rand(batch, 1, 40, 40, generator=g) > 0.5).float().to(dev)
    p = torch.rand(batch, 1, 40, 40, generator=g).to(dev)
    land = (torch.rand(batch, 1, 40, 40, generator=g) > 0.3).float().to(dev)
    return cfg, net, (s, m, p, land, net.zero_state(batch))


def model_rate(name: str, dev: torch.device, batch: int, repeat: int) -> dict[str, float]:
    cfg, net, args = _step_inputs(name, dev, batch)
    flops = count_flops(cfg)
    with torch.inference_mode():
        rate = _rate(lambda: net.step(*args), flops * batch, dev, repeat)
    return {"flops_per_patch_day": flops, "achieved_flops": rate, "patch_days_per_s": rate / flops}


def profile_table(name: str, dev: torch.device, batch: int, steps: int = 5) -> str:
    """``torch.profiler``'s table of one configuration's step, by operator and input shape (``--profile``)."""
    from torch.profiler import ProfilerActivity, profile

    _, net, args = _step_inputs(name, dev, batch)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with torch.inference_mode():
        net.step(*args)  # warm-up
        with profile(activities=activities, record_shapes=True) as prof:
            for _ in range(steps):
                net.step(*args)
            _sync(dev)
    table = prof.key_averages(group_by_input_shape=True)
    return table.table(
        sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=30, max_shapes_column_width=70
    )


def measure(configs: list[str], dev: torch.device, batch: int = 256, repeat: int = 5) -> dict:
    """The roofline and each configuration's rate, all in this call."""
    malloc.tune()  # the allocator as Filler sets it: the model as it runs in sgdsm (sgdsm_dask/runtime/malloc.py)
    roof = roofline(dev, batch, repeat)
    result = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads"
        + (f", {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else ""),
        "device": str(dev),
        "batch": batch,
        **roof,
        "configs": {},
    }
    for name in configs:
        r = model_rate(name, dev, batch, repeat)
        r["compute_over_roofline"] = r["achieved_flops"] / roof["best_flops"]
        r["compute_over_conv"] = r["achieved_flops"] / max(roof["conv_flops"], roof["conv_channels_last_flops"])
        result["configs"][name] = r
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="default,paper")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--profile", action="store_true", help="print torch.profiler's table of each configuration's step")
    args = ap.parse_args()
    dev = torch.device(args.device)
    if args.profile:
        malloc.tune()
        for name in args.configs.split(","):
            print(f"{name} (batch {args.batch}, {torch.get_num_threads()} threads)")
            print(profile_table(name, dev, args.batch))
        return
    print(json.dumps(measure(args.configs.split(","), dev, args.batch, args.repeat), indent=1))


if __name__ == "__main__":
    main()
