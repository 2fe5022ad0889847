# PyTorch's side of bench/train.ts, run with Debian's /usr/bin/python3 (python3-torch): trains the
# bench's models (bench/train_models.ts) as a PyTorch user writes them (nn.Module, autograd,
# torch.optim.SGD / Adam), reading each step's loss with .item(). Speaks bench/train_engine.ts's
# protocol: one JSON command per stdin line, one JSON answer per stdout line.
#
# The inputs and weights are the same numbers as the other runners' (xorshift values, written
# out below as bench/wasm_workloads.ts's `values`). Stats report which BLAS the process mapped
# (Debian's libblas.so.3 alternative should resolve to OpenBLAS, not the reference BLAS) and
# torch's thread count.
import json, math, os, statistics, sys, time
import numpy as np
import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)

def values(n, seed):
    out = np.empty(n, dtype=np.float32)
    s = seed & 0xFFFFFFFF or 1
    for i in range(n):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        out[i] = (s / 4294967296) * 2 - 1
    return out

SHAPES = {
    "mlp": [[784, 256], [256], [256, 10], [10]],
    "cnn": [[3, 3, 1, 16], [16], [3, 3, 16, 32], [32], [512, 64], [64], [64, 10], [10]],
}

def weights(shape, seed):
    fan_in = shape[0] * shape[1] * shape[2] if len(shape) == 4 else shape[0]
    fan_out = shape[0] * shape[1] * shape[3] if len(shape) == 4 else shape[-1]
    limit = math.sqrt(6 / (fan_in + fan_out))
    return values(int(np.prod(shape)), seed) * limit

def blas_library():
    # The BLAS shared object this process mapped, resolved through Debian's alternatives.
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    return sorted({os.path.realpath(p) for p in paths})

_weights = {}

def make_params(model):
    # The initial values are computed once (a Python loop): the race times building the model,
    # not generating the bench's pseudo-random numbers.
    params = []
    for i, s in enumerate(SHAPES[model]):
        if (model, i) not in _weights:
            _weights[(model, i)] = weights(s, i + 1)
        w = torch.from_numpy(_weights[(model, i)].copy()).reshape(s)
        if len(s) == 4:
            w = w.permute(3, 2, 0, 1).contiguous()  # HWIO -> OIHW
        params.append(torch.nn.Parameter(w))
    return params

def forward_of(model, params):
    def forward(x):
        p = params
        batch = x.shape[0]
        if model == "mlp":
            h = torch.relu(x @ p[0] + p[1])
            return h @ p[2] + p[3]
        h = torch.relu(torch.nn.functional.conv2d(x, p[0], p[1], padding=1))
        h = torch.relu(torch.nn.functional.conv2d(h, p[2], p[3], padding=1))
        h = torch.nn.functional.max_pool2d(h, 2)
        h = h.permute(0, 2, 3, 1).reshape(batch, 512)  # NHWC order, as the dense weights expect
        h = torch.relu(h @ p[4] + p[5])
        return h @ p[6] + p[7]
    return forward

def prepare(model):
    if model == "mlp":
        batch, shape = 128, [128, 784]
    else:
        batch, shape = 64, [64, 8, 8, 1]
    x = torch.from_numpy((values(int(np.prod(shape)), 11) + 1) / 2).reshape(shape)
    y = torch.tensor([i % 10 for i in range(batch)], dtype=torch.long)
    params = make_params(model)
    forward = forward_of(model, params)
    if model == "cnn":
        x = x.permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW

    opt = torch.optim.SGD(params, lr=0.01) if model == "mlp" else torch.optim.Adam(params, lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step

def run_for(fn, ms, min_runs):
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or (time.perf_counter() - start) * 1000 < ms:
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return times

def race():
    # bench/train_race.ts's race: the plan's data and batch order, the bench's initial weights,
    # Adam lr 1e-3, test accuracy after every epoch; timed from building the model.
    with open(os.environ["BENCH_RACE_FILE"]) as f:
        plan = json.load(f)
    side = 8
    nchw = lambda a: torch.tensor(a, dtype=torch.float32).reshape(-1, side, side, 1).permute(0, 3, 1, 2).contiguous()
    train_x, test_x = nchw(plan["trainX"]), nchw(plan["testX"])
    train_y = torch.tensor(plan["trainY"], dtype=torch.long)
    test_y = torch.tensor(plan["testY"], dtype=torch.long)
    orders = [torch.tensor(o, dtype=torch.long) for o in plan["orders"]]
    batch = plan["batch"]
    make_params("cnn")
    start = time.perf_counter()
    params = make_params("cnn")
    forward = forward_of("cnn", params)
    opt = torch.optim.Adam(params, lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    steps, accuracy = 0, 0.0
    for order in orders:
        for s in range(0, len(order) - batch + 1, batch):
            idx = order[s:s + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(forward(train_x[idx]), train_y[idx])
            loss.backward()
            opt.step()
            loss.item()
            steps += 1
        with torch.no_grad():
            accuracy = (forward(test_x).argmax(1) == test_y).float().mean().item()
        if accuracy >= plan["target"]:
            break
    return {"workload": "race", "seconds": time.perf_counter() - start, "steps": steps,
            "accuracy": accuracy, "reached": accuracy >= plan["target"]}

prepared = {}
for line in sys.stdin:
    if not line.strip():
        continue
    cmd = json.loads(line)
    name = cmd["workload"]
    if name == "race":
        print(json.dumps(race()), flush=True)
        continue
    if name not in prepared:
        prepared[name] = prepare(name)
        run_for(prepared[name], 300, 5)
    run_for(prepared[name], 100, 2)
    cpu0 = time.process_time()
    times = run_for(prepared[name], cmd["windowMs"], 3)
    cpu_ms = (time.process_time() - cpu0) * 1000 / len(times)
    print(json.dumps({
        "workload": name,
        "median": statistics.median(times),
        "runs": len(times),
        "cpuMs": cpu_ms,
        "stats": {"threads": torch.get_num_threads()},
        "blas": blas_library(),
    }), flush=True)
