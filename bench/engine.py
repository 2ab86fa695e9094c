"""Benchmark: the NumPy engine's training steps per second, against PyTorch eager on CPU.

    .venv/bin/python bench/engine.py            # full run, a table
    .venv/bin/python bench/engine.py --quick    # short rounds
    .venv/bin/python bench/engine.py --json     # the last line is one JSON object
    .venv/bin/python bench/engine.py --reference-only --reference ../shared/reference --cpu

Two networks, one BLAS thread:
  2-8-8-1         batch 10, tanh hidden, linear output, MSE
  784-128-64-10   batch 64, relu hidden, softmax output, softmax cross-entropy
Engine, float32 and float64, "untraced" (``model.step_batch()``) and "traced" (the same plus
reading every layer's trace as a client would: a dict of references per layer, no copies).
PyTorch (when importable), float32: nn.Linear layers, the same activations, nn.MSELoss /
nn.CrossEntropyLoss on logits, torch.optim.SGD, zero_grad/backward/step per batch.

Each measurement is a loop of steps timed after a warm-up; every variant runs one round in
turn, for several rounds (so machine noise hits all of them alike), and the median round is
reported. Both sides draw a fresh permutation of the 2,000 random rows every epoch.

The reference workload (``shared/reference/tfp_numpy.py``, beside this repository, or the
folder ``--reference`` names: TF Playground's training loop in plain NumPy — circle data, tanh,
batch 10, 250 rows, float64), on 2-8-8-1 and on 2-8-8-8-8-8-8-1: its epochs/s and the engine's
``step_batch`` on the same data, initial weights and math (our MSE's gradient is twice the
½(o − t)² one: half the learning rate), interleaved in one run; ``ratio_vs_reference`` is
engine ÷ reference (target ≥ 1.0; ``…_2-8-8-8-8-8-8-1`` for the deep net). The two are checked
to train to the same weights first. ``ratio_together_vs_reference``: the same for each of 25
copies of the engine's model stepped together (``engine/together.py``, as a class at play;
target ≥ 8). ``--reference-only`` runs this part alone.
"""

from __future__ import annotations

import os

# One BLAS thread for NumPy and PyTorch alike: set before either is imported.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import copy  # noqa: E402
import importlib.util  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app.engine import LayerConfig, Model, ModelConfig  # noqa: E402
from app.engine.together import Stack, group  # noqa: E402

try:
    import torch
except ImportError:  # the benchmark runs without PyTorch; the ratios are then null
    torch = None  # type: ignore[assignment]

if torch is not None:
    torch.set_num_threads(1)

ROWS = 2000
SEED = 0
LEARNING_RATE = 0.01
TARGET_SMALL = 8.0  # engine ≥ 8× PyTorch steps/s on 2-8-8-1 (float32, untraced)
TARGET_LARGE = 2.0  # engine ≥ 2× PyTorch on 784-128-64-10
TARGET_TRACED = 1.3  # traced step time ≤ 1.3× untraced on 2-8-8-1
TARGET_REFERENCE = 1.0  # engine ≥ 1.0× the plain-NumPy TF Playground loop's epochs/s
TARGET_TOGETHER = 8.0  # each of CLASS models stepped together ≥ 8× the reference's epochs/s
CLASS = 25  # students whose models step together on the reference workload
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
REFERENCE_SHAPES = ((2, 8, 8, 1), (2, 8, 8, 8, 8, 8, 8, 1))


@dataclass(frozen=True)
class Network:
    name: str
    sizes: tuple[int, ...]
    hidden: str
    output: str
    loss: str
    batch: int


NETWORKS = (
    Network("2-8-8-1", (2, 8, 8, 1), "tanh", "linear", "mse", 10),
    Network("784-128-64-10", (784, 128, 64, 10), "relu", "softmax", "softmax_cross_entropy", 64),
)


def make_data(net: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (ROWS, inputs), targets for the engine (ROWS, outputs), class indices (ROWS,)."""
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(ROWS, net.sizes[0]))
    n_out = net.sizes[-1]
    if net.loss == "softmax_cross_entropy":
        classes = rng.integers(0, n_out, ROWS)
        return x, np.eye(n_out)[classes], classes
    y = np.tanh(x @ rng.normal(size=(net.sizes[0], n_out)))
    return x, y, np.zeros(ROWS, dtype=np.int64)


# ----------------------------------------------------------------- engine


def engine_stepper(net: Network, dtype: str, traced: bool) -> Callable[[int], None]:
    layers = tuple(LayerConfig(units, net.hidden) for units in net.sizes[1:-1])
    config = ModelConfig(
        input_size=net.sizes[0],
        layers=(*layers, LayerConfig(net.sizes[-1], net.output)),
        loss=net.loss,
        learning_rate=LEARNING_RATE,
        batch_size=net.batch,
        initializer="he" if net.hidden == "relu" else "xavier",
        seed=SEED,
        dtype=dtype,
    )
    model = Model(config)
    x, y, _ = make_data(net)
    model.set_data(x, y)
    read: list[list[dict[str, Any]]] = []

    def untraced(steps: int) -> None:
        for _ in range(steps):
            if model.step_batch().diverged:
                raise RuntimeError(f"{net.name} diverged: the benchmark is meaningless")

    def with_trace(steps: int) -> None:
        for _ in range(steps):
            if model.step_batch().diverged:
                raise RuntimeError(f"{net.name} diverged: the benchmark is meaningless")
            # What a client reads after each step, for every layer: references only.
            read[:] = [
                [
                    {
                        "input": trace.input,
                        "z": trace.z,
                        "output": trace.output,
                        "delta": trace.delta,
                        "dW": trace.dW,
                        "db": trace.db,
                        "W": layer.W,
                        "b": layer.b,
                    }
                    for layer, trace in zip(model.layers, model.traces, strict=True)
                ]
            ]

    return with_trace if traced else untraced


# ----------------------------------------------------------------- PyTorch


def torch_stepper(net: Network) -> Callable[[int], None]:
    assert torch is not None
    nn = torch.nn
    torch.manual_seed(SEED)
    activation = {"tanh": nn.Tanh, "relu": nn.ReLU}[net.hidden]
    modules: list[Any] = []
    for k, (n_in, n_out) in enumerate(zip(net.sizes[:-1], net.sizes[1:], strict=True)):
        modules.append(nn.Linear(n_in, n_out))
        if k < len(net.sizes) - 2:
            modules.append(activation())
    model = nn.Sequential(*modules).float()
    x_np, y_np, classes = make_data(net)
    x = torch.from_numpy(x_np).float()
    if net.loss == "softmax_cross_entropy":
        criterion: Any = nn.CrossEntropyLoss()  # on logits: softmax is inside the loss
        y = torch.from_numpy(classes)
    else:
        criterion = nn.MSELoss()
        y = torch.from_numpy(y_np).float()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(SEED)
    order = torch.randperm(ROWS, generator=generator)
    position = 0

    def steps(count: int) -> None:
        nonlocal order, position
        for _ in range(count):
            if position >= ROWS:
                order = torch.randperm(ROWS, generator=generator)
                position = 0
            index = order[position : position + net.batch]
            position += net.batch
            optimizer.zero_grad()
            loss = criterion(model(x[index]), y[index])
            loss.backward()
            optimizer.step()

    return steps


# ----------------------------------------------------------------- the reference loop


def reference_epochs(
    folder: Path, shape: tuple[int, ...]
) -> tuple[dict[str, Callable[[int], None]], Callable[[], Callable[[int], None]]] | None:
    """Epoch runners for the reference loop and the engine on its workload, and a maker of
    the runner of a class together (None without the reference file)."""
    path = folder / "tfp_numpy.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("tfp_numpy", path)
    assert spec is not None and spec.loader is not None
    tfp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tfp)
    rng = np.random.default_rng(1)  # as tfp_numpy.py's own run: seed 1
    data = tfp.circle_data(rng)
    train = data[: len(data) // 2]
    Ws = [rng.random((a, b)) - 0.5 for a, b in itertools.pairwise(shape)]
    bs = [np.full(b, 0.1) for b in shape[1:]]
    x, t = np.ascontiguousarray(train[:, :2]), np.ascontiguousarray(train[:, 2])
    batches = [(x[k : k + 10], t[k : k + 10]) for k in range(0, len(x), 10)]
    net = tfp.Net(Ws, bs)

    def reference(epochs: int) -> None:
        for _ in range(epochs):
            for xb, tb in batches:
                net.train_batch(xb, tb, 0.03)

    model = Model(
        ModelConfig(
            input_size=2,
            layers=tuple(LayerConfig(units, "tanh") for units in shape[1:]),
            loss="mse",  # ∂/∂o = 2(o − t)/n: twice tfp's (o − t)/n, so half its rate
            learning_rate=0.015,
            batch_size=10,
            shuffle=False,
        )
    )
    model.set_data(x, t[:, None])
    for layer, W, b in zip(model.layers, Ws, bs, strict=True):
        layer.W, layer.b = W.copy(), b[None, :].copy()
    batches_per_epoch = len(batches)

    def engine(epochs: int) -> None:
        for _ in range(epochs * batches_per_epoch):
            model.step_batch()

    reference(20)
    engine(20)
    for got, want in zip(model.layers, net.W, strict=True):  # the same training, not just speed
        np.testing.assert_allclose(got.W, want, rtol=1e-6, atol=1e-9)

    def together() -> Callable[[int], None]:
        """A class of CLASS students on this workload, their models stepped together
        (engine/together.py); a run of ``epochs`` is an epoch of each: CLASS × epochs in all.
        Made after the pair above is measured: with these models in memory beside them,
        the pair measured apart by up to 0.15 of its ratio."""
        class_ = [copy.deepcopy(model) for _ in range(CLASS)]
        assert group(class_)[1] == [list(range(CLASS))]  # alike: one stack

        def run(epochs: int) -> None:  # one stack for the run, as a tick of play keeps one
            stack = Stack(class_)
            for _ in range(epochs * batches_per_epoch):
                stack.step()
            stack.release()

        run(1)
        return run

    return {"reference_numpy": reference, "engine_float64_untraced": engine}, together


# ----------------------------------------------------------------- timing


# The clock every measurement reads: wall time, or with --cpu this thread's CPU time (on a
# machine shared with other work, waiting for a core is not the code's cost).
CLOCK: list[Callable[[], float]] = [time.perf_counter]


def clock() -> float:
    return CLOCK[0]()


def calibrate(run: Callable[[int], None], seconds: float) -> int:
    """Warm up, then how many steps take about ``seconds``."""
    run(20)
    count, elapsed = 10, 0.0
    while elapsed < 0.05:
        start = clock()
        run(count)
        elapsed = clock() - start
        if elapsed < 0.05:
            count *= 2
    return max(10, int(count * seconds / elapsed))


def measure(
    variants: dict[str, Callable[[int], None]], rounds: int, seconds: float
) -> dict[str, float]:
    """Median steps/s of each variant; rounds interleave the variants."""
    counts = {name: calibrate(run, seconds) for name, run in variants.items()}
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            start = clock()
            run(counts[name])
            samples[name].append(counts[name] / (clock() - start))
    return {name: statistics.median(values) for name, values in samples.items()}


def blas_name() -> str:
    try:
        config: Any = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older NumPy: no dict mode
        return "unknown"


def run(quick: bool, reference: Path, reference_only: bool = False) -> dict[str, Any]:
    rounds, seconds = (3, 0.1) if quick else (7, 0.4)
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "blas": blas_name(),
            "torch": None if torch is None else torch.__version__,
            "threads": 1,
        },
        "rounds": rounds,
        "seconds_per_round": seconds,
        "clock": "cpu" if CLOCK[0] is time.thread_time else "wall",
        "steps_per_s": {},
    }
    for net in () if reference_only else NETWORKS:
        variants: dict[str, Callable[[int], None]] = {}
        for dtype in ("float32", "float64"):
            for traced in (False, True):
                label = f"engine_{dtype}_{'traced' if traced else 'untraced'}"
                variants[label] = engine_stepper(net, dtype, traced)
        if torch is not None:
            variants["torch_float32"] = torch_stepper(net)
        results["steps_per_s"][net.name] = measure(variants, rounds, seconds)

    for net in NETWORKS:
        rates = results["steps_per_s"].get(net.name, {})
        ratio = None
        if "torch_float32" in rates:
            ratio = rates["engine_float32_untraced"] / rates["torch_float32"]
        results[f"ratio_vs_torch_{net.name}"] = ratio
    results["reference"] = {}
    for shape in REFERENCE_SHAPES:
        name = "-".join(map(str, shape))
        suffix = "" if shape == REFERENCE_SHAPES[0] else f"_{name}"
        results[f"ratio_vs_reference{suffix}"] = None
        results[f"ratio_together_vs_reference{suffix}"] = None
        found = reference_epochs(reference, shape)
        if found is None:
            continue
        runners, together = found
        rates = results["reference"][name] = measure(runners, rounds * 3, seconds)
        class_rates = measure(
            {"reference_numpy": runners["reference_numpy"], "together": together()},
            rounds * 3,
            seconds,
        )  # each model's epochs/s (×CLASS below), against the reference measured with it
        rates[f"engine_float64_{CLASS}_together"] = class_rates["together"] * CLASS
        rates["reference_numpy_beside_together"] = class_rates["reference_numpy"]
        results[f"ratio_vs_reference{suffix}"] = (
            rates["engine_float64_untraced"] / rates["reference_numpy"]
        )
        results[f"ratio_together_vs_reference{suffix}"] = (
            class_rates["together"] * CLASS / class_rates["reference_numpy"]
        )
    results["targets"] = {}
    if not reference_only:
        small = results["steps_per_s"]["2-8-8-1"]
        # Step time traced ÷ untraced = untraced steps/s ÷ traced steps/s.
        results["traced_overhead_2-8-8-1"] = (
            small["engine_float32_untraced"] / small["engine_float32_traced"]
        )
        results["traced_overhead_2-8-8-1_float64"] = (
            small["engine_float64_untraced"] / small["engine_float64_traced"]
        )
        results["targets"] = {
            "ratio_vs_torch_2-8-8-1": verdict(
                results["ratio_vs_torch_2-8-8-1"], TARGET_SMALL, True
            ),
            "ratio_vs_torch_784-128-64-10": verdict(
                results["ratio_vs_torch_784-128-64-10"], TARGET_LARGE, True
            ),
            "traced_overhead_2-8-8-1": verdict(
                results["traced_overhead_2-8-8-1"], TARGET_TRACED, False
            ),
        }
    for key, target in REFERENCE_TARGETS:
        results["targets"][key] = verdict(results[key], target, True)
    return results


REFERENCE_TARGETS = (
    ("ratio_vs_reference", TARGET_REFERENCE),
    ("ratio_vs_reference_2-8-8-8-8-8-8-1", TARGET_REFERENCE),
    ("ratio_together_vs_reference", TARGET_TOGETHER),
    ("ratio_together_vs_reference_2-8-8-8-8-8-8-1", TARGET_TOGETHER),
)


def verdict(value: float | None, target: float, at_least: bool) -> str:
    if value is None:
        return "n/a (not installed)"
    met = value >= target if at_least else value <= target
    return "PASS" if met else "MISS"


def report(results: dict[str, Any]) -> None:
    machine = results["machine"]
    print(
        f"{machine['cpus']} CPUs, Python {machine['python']}, NumPy {machine['numpy']} "
        f"({machine['blas']}), PyTorch {machine['torch'] or 'not installed'}, one thread; "
        f"median of {results['rounds']} rounds of ~{results['seconds_per_round']} s"
    )
    print()
    print(f"{'network':<15} {'variant':<32} {'steps/s':>10} {'µs/step':>9}")
    for name, rates in results["steps_per_s"].items():
        for variant, rate in rates.items():
            print(f"{name:<15} {variant:<32} {rate:>10.0f} {1e6 / rate:>9.1f}")
    for name, rates in results["reference"].items():
        print(f"tfp reference {name} (epochs/s, 25 steps each; {CLASS} together: each)")
        for variant, rate in rates.items():
            print(f"{'  circle':<15} {variant:<32} {rate:>10.0f} {1e6 / rate:>9.1f}")
    print()
    targets = results["targets"]
    rows = [(key, target, "≥") for key, target in REFERENCE_TARGETS]
    if "traced_overhead_2-8-8-1" in targets:
        rows[:0] = [
            ("ratio_vs_torch_2-8-8-1", TARGET_SMALL, "≥"),
            ("ratio_vs_torch_784-128-64-10", TARGET_LARGE, "≥"),
            ("traced_overhead_2-8-8-1", TARGET_TRACED, "≤"),
        ]
    for key, target, sign in rows:
        value = results[key]
        shown = "null" if value is None else f"{value:.2f}×"
        print(f"{key:<44} {shown:>8}   target {sign} {target}×   {targets[key]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short rounds, fewer of them")
    parser.add_argument("--json", action="store_true", help="end with one line of JSON")
    parser.add_argument(
        "--reference",
        type=Path,
        default=REFERENCE,
        help=f"the folder holding tfp_numpy.py (default: {REFERENCE})",
    )
    parser.add_argument(
        "--reference-only", action="store_true", help="only the reference loop's comparisons"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="time by this thread's CPU time, not wall time"
    )
    args = parser.parse_args(argv)
    if args.cpu:
        CLOCK[0] = time.thread_time
    results = run(args.quick, args.reference, args.reference_only)
    report(results)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
