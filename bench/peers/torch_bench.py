"""PyTorch (CPU, eager) side of the tracegrad benchmark: a runner process, `torch_bench.py --threads N`.

It speaks bench/peers/protocol.ts's line protocol: once torch is loaded it prints `BENCH_READY <json>`,
then answers each request line on stdin (one workload and its timing budget, as JSON) with one line
`BENCH_RESULT <json>`, until stdin closes. The workloads and the timing loop mirror bench/workloads.ts
and bench/timing.ts; the BLAS library is chosen by the caller through LD_LIBRARY_PATH, and this script
reports which one the process actually loaded.
"""

import ctypes
import json
import statistics
import sys
import time

READY_PREFIX = "BENCH_READY "
RESULT_PREFIX = "BENCH_RESULT "
CHAIN_PATTERN = ["mul 1.5", "add 0.1", "maximum -1", "minimum 1"]
LEARNING_RATE = 0.01


def say(prefix, payload):
    sys.stdout.write("\n" + prefix + json.dumps(payload) + "\n")
    sys.stdout.flush()


try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as error:  # the caller checks first, but stay well-behaved
    say(READY_PREFIX, {"status": "not installed", "description": f"torch: {error}"})
    sys.exit(0)


def log(line):
    print(line, file=sys.stderr, flush=True)


def time_call(call, budget):
    """Warm-up, then timed calls until the budget is spent (bench/timing.ts, line for line)."""
    warmup_started = time.perf_counter()
    done = 0
    while True:
        spent = (time.perf_counter() - warmup_started) * 1000
        if done > 0 and (
            spent >= budget["budgetMs"] or (done >= budget["warmup"] and spent >= budget["warmupMs"])
        ):
            break
        call()
        done += 1
    samples = []
    started = time.perf_counter()
    while True:
        spent = (time.perf_counter() - started) * 1000
        if len(samples) >= budget["maxIterations"]:
            break
        if spent >= budget["hardCapMs"]:
            if samples:
                break
        elif len(samples) >= budget["minIterations"] and spent >= budget["budgetMs"]:
            break
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    return {
        "medianMs": statistics.median(samples),
        "minMs": min(samples),
        "iterations": len(samples),
    }


class LeNet(nn.Module):
    """The tutorial's Net."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def mlp(sizes):
    inp, h1, h2, classes = sizes
    return nn.Sequential(
        nn.Linear(inp, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, classes)
    )


def train_step(model, loss_fn, x, y):
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        loss.item()  # read the loss back, as every runner does

    return step


class Block(nn.Module):
    """docs/examples/char-gpt.ts's block: pre-norm, one packed q/k/v projection, causal attention, 4x MLP."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(width)
        self.attn = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width)
        self.fc_proj = nn.Linear(4 * width, width)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.attn(self.ln1(x)).split(c, dim=2)
        q, k, v = (a.view(b, t, self.heads, c // self.heads).transpose(1, 2) for a in (q, k, v))
        # PyTorch 1.13 has no F.scaled_dot_product_attention: the causal softmax attention by hand.
        scores = (q @ k.transpose(-2, -1)) / (k.shape[-1] ** 0.5)
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        weights = F.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        y = (weights @ v).transpose(1, 2).reshape(b, t, c)
        x = x + self.proj(y)
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class CharGpt(nn.Module):
    def __init__(self, vocab, context, width, layers, heads):
        super().__init__()
        self.wte = nn.Embedding(vocab, width)
        self.wpe = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)

    def forward(self, tokens):
        t = tokens.shape[1]
        x = self.wte(tokens) + self.wpe(torch.arange(t))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def gpt_train_step(w):
    """bench/workloads.ts's GptTrainWorkload: clip to global norm 1, AdamW with decay on matrices only."""
    model = CharGpt(w["vocab"], w["context"], w["width"], w["layers"], w["heads"])
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith(("wte", "wpe"))]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or n.startswith(("wte", "wpe"))]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3,
        betas=(0.9, 0.99),
    )
    x = torch.randint(0, w["vocab"], (w["batch"], w["context"]))
    y = torch.randint(0, w["vocab"], (w["batch"], w["context"]))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).reshape(-1, w["vocab"]), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss.item()

    return step


def linalg_call(op, n):
    """bench/workloads.ts's LinalgWorkload: float64 matrices from one M of standard normals."""
    m = torch.randn(n, n, dtype=torch.float64)
    eye = torch.eye(n, dtype=torch.float64)
    if op == "cholesky":
        a = m @ m.T / n + eye
        return lambda: torch.linalg.cholesky(a)
    if op == "solve":
        a = m + n * eye
        b = torch.randn(n, dtype=torch.float64)
        return lambda: torch.linalg.solve(a, b)
    if op == "qr":
        return lambda: torch.linalg.qr(m)
    if op == "eigh":
        a = (m + m.T) / 2
        return lambda: torch.linalg.eigh(a)
    if op == "svd":
        return lambda: torch.linalg.svd(m, full_matrices=False)
    raise ValueError(f"unknown linalg op {op}")


def make_call(w):
    kind = w["kind"]
    if kind == "lenet-train":
        x = torch.randn(w["batch"], 1, 32, 32)
        y = torch.randn(w["batch"], 10)
        return train_step(LeNet(), F.mse_loss, x, y)
    if kind == "lenet-infer":
        model = LeNet().eval()
        x = torch.randn(w["batch"], 1, 32, 32)

        def infer():
            with torch.no_grad():
                model(x)

        return infer
    if kind == "mlp-train":
        sizes = w["sizes"]
        x = torch.randn(w["batch"], sizes[0])
        labels = torch.randint(0, sizes[-1], (w["batch"],))
        return train_step(mlp(sizes), F.cross_entropy, x, labels)
    if kind == "lstm-train":
        model = nn.LSTM(w["hidden"], w["hidden"])
        x = torch.randn(w["seq"], w["batch"], w["hidden"])
        y = torch.randn(w["seq"], w["batch"], w["hidden"])
        return train_step(model, lambda out, target: F.mse_loss(out[0], target), x, y)
    if kind == "gpt-train":
        return gpt_train_step(w)
    if kind == "matmul":
        a = torch.randn(w["size"], w["size"])
        b = torch.randn(w["size"], w["size"])
        return lambda: torch.mm(a, b)
    if kind == "conv":
        n, cin, cout, size, k = w["batch"], w["inChannels"], w["outChannels"], w["size"], w["kernel"]
        x = torch.randn(n, cin, size, size, requires_grad=w["inputGradient"])
        weight = torch.randn(cout, cin, k, k, requires_grad=True)
        bias = torch.randn(cout, requires_grad=True)
        cotangent = torch.randn(n, cout, size - k + 1, size - k + 1)

        def conv_fwd_bwd():
            for t in (x, weight, bias):
                t.grad = None
            F.conv2d(x, weight, bias).backward(cotangent)

        return conv_fwd_bwd
    if kind == "chain":
        x = torch.randn(w["elements"])

        def chain():
            y = x
            for _ in range(w["repeats"]):
                for op in CHAIN_PATTERN:
                    if op == "mul 1.5":
                        y = y * 1.5
                    elif op == "add 0.1":
                        y = y + 0.1
                    elif op == "maximum -1":
                        y = torch.clamp_min(y, -1.0)
                    else:
                        y = torch.clamp_max(y, 1.0)
            return y

        return chain
    if kind == "sort":
        x = torch.randn(w["elements"])
        if w["k"] is None:
            return lambda: torch.sort(x)
        return lambda: torch.topk(x, w["k"])
    if kind == "linalg":
        return linalg_call(w["op"], w["size"])
    if kind == "scatter-add":
        x = torch.zeros(w["size"])
        positions = torch.randint(0, w["size"], (w["updates"],))
        updates = torch.randn(w["updates"])
        return lambda: x.index_add(0, positions, updates)  # out of place, as x.at(i).add(u)
    raise ValueError(f"unknown workload kind {kind}")


def loaded_blas():
    """The BLAS/LAPACK shared objects this process mapped, and OpenBLAS's core if it is one of them."""
    paths = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if ("blas" in path or "lapack" in path) and path not in paths:
                paths.append(path)
    description = ", ".join(paths) or "none found"
    for path in paths:
        if "openblas" in path:
            try:
                lib = ctypes.CDLL(path)
                lib.openblas_get_corename.restype = ctypes.c_char_p
                description += f" (OpenBLAS core {lib.openblas_get_corename().decode()})"
            except (OSError, AttributeError):
                pass
            break
    return description


def measure(w, budget, threads):
    try:
        timing = time_call(make_call(w), budget)
        log(f"torch {threads}T  {w['id']:<22} {timing['medianMs']:.2f} ms")
        return {"ok": True, "timing": timing}
    except Exception as error:  # one workload failing must not stop the runner
        log(f"torch {threads}T  {w['id']:<22} failed: {error}")
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}


def main():
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    description = (
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), BLAS: {loaded_blas()}"
    )
    say(READY_PREFIX, {"status": "ok", "description": description})
    # readline, not `for line in sys.stdin`: a request is answered as soon as its line arrives.
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        if not line.strip():
            continue
        request = json.loads(line)
        w = request["workload"]
        measurement = measure(w, request["budget"], threads)
        say(RESULT_PREFIX, {"seq": request["seq"], "id": w["id"], "measurement": measurement})


if __name__ == "__main__":
    main()
