"""Regenerates scatter-reference.json.gz (numpy 1.24): /usr/bin/python3 test/ops/scatter_reference.py.

The values scatter.test.ts compares x.at(...).set/add/mul/min/max/get against: numpy's fancy assignment
(x[idx] = v, the last of repeated indices wins), np.add.at, np.multiply.at, np.minimum.at,
np.maximum.at and x[idx], on random shapes (size 0 and 1 included), every dtype, and index forms mixing
integers, slices, None, Ellipsis and integer arrays (repeated and negative indices). Out-of-bounds
cases (JAX's "drop" and "clip" modes, which numpy has not) are computed in numpy from the in-bounds
indices only, or from indices clipped into range. JSON has no NaN, so floats are encoded as strings
when not finite.
"""
import gzip, json, math, os
import numpy as np

rng = np.random.default_rng(18)
DTYPES = ["float64", "float32", "int32", "bool"]
UFUNC = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum}


def enc(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def values(dtype, shape):
    if dtype == "bool":
        return np.array(rng.random(shape) < 0.5)
    if dtype == "int32":
        return np.array(rng.integers(-9, 10, shape), dtype=np.int32)
    v = np.array(np.round(rng.normal(0, 2, shape), 3), dtype=dtype)
    if v.size and rng.random() < 0.2:
        v.flat[rng.integers(0, v.size)] = np.nan
    return v


def random_index(shape, oob):
    """A numpy index (list of items) and its JSON form; oob: allow out-of-bounds array entries."""
    items, spec = [], []
    rank = len(shape)
    n_axes = int(rng.integers(0, rank + 1))
    use_ellipsis = rank > 0 and rng.random() < 0.25
    ell_at = int(rng.integers(0, n_axes + 1)) if use_ellipsis else -1
    # Integer arrays share one broadcast shape (or broadcast against it).
    bshape = tuple(int(d) for d in rng.integers(0, 4, int(rng.integers(0, 3))))
    axes_after = rank - n_axes
    axis = 0
    for k in range(n_axes + 1):
        if k == ell_at:
            items.append(Ellipsis)
            spec.append("...")
            axis += axes_after
        if k == n_axes:
            break
        if rng.random() < 0.15:
            items.append(None)
            spec.append(None)
        n = shape[axis]
        r = rng.random()
        if r < 0.45:
            lo, hi = (-n - 2, n + 2) if oob else (-n, n)
            if hi <= lo or n == 0 and not oob:
                items.append(slice(None))
                spec.append({})
            else:
                sub = bshape[int(rng.integers(0, len(bshape) + 1)):]
                a = rng.integers(lo, hi, sub).astype(np.int32)
                items.append(a)
                spec.append({"array": [int(v) for v in a.flat], "shape": list(a.shape)})
        elif r < 0.65 and n > 0:
            v = int(rng.integers(-n, n))
            items.append(v)
            spec.append(v)
        else:
            start = int(rng.integers(-n - 1, n + 2)) if rng.random() < 0.5 else None
            stop = int(rng.integers(-n - 1, n + 2)) if rng.random() < 0.5 else None
            step = int(rng.choice([1, 1, 2, -1, -2, 3])) if rng.random() < 0.6 else None
            items.append(slice(start, stop, step))
            spec.append({k: v for k, v in (("start", start), ("stop", stop), ("step", step)) if v is not None})
        axis += 1
    return tuple(items), spec


def fix_index(shape, index, mode):
    """Array items made in-bounds: clipped ("clip"), or pointed at an extra slot n of a padded axis
    ("drop"), so that numpy's own indexing lays out which selected elements were out of bounds."""
    fixed, padded, axis = [], list(shape), 0
    used = sum(1 for it in index if it is not None and it is not Ellipsis)
    for it in index:
        if it is Ellipsis:
            axis += len(shape) - used
        if it is Ellipsis or it is None:
            fixed.append(it)
            continue
        if isinstance(it, np.ndarray):
            n = shape[axis]
            if n == 0:
                raise IndexError("array index into an axis of size 0")
            w = np.where(it < 0, it + n, it)
            if mode == "clip":
                w = np.clip(w, 0, n - 1)
            elif mode == "drop":
                w = np.where((w >= 0) & (w < n), w, n)
                padded[axis] = n + 1
            it = w.astype(np.int64)
        fixed.append(it)
        axis += 1
    return tuple(fixed), padded


def cases():
    out = []
    while len(out) < 400:
        dtype = DTYPES[int(rng.integers(0, len(DTYPES)))]
        rank = int(rng.integers(0, 4))
        shape = tuple(int(d) for d in rng.integers(0, 5, rank))
        if rng.random() < 0.8:
            shape = tuple(max(d, 1) for d in shape)
        x = values(dtype, shape)
        mode = str(rng.choice(["none", "none", "drop", "clip"]))
        try:
            index, spec = random_index(shape, mode != "none")
            fixed, padded = fix_index(shape, index, mode)
            iota = np.arange(int(np.prod(padded))).reshape(padded)
            coords = np.unravel_index(iota[fixed], padded)
        except IndexError:
            continue
        sel_shape = iota[fixed].shape
        keep = np.ones(sel_shape, bool)
        for c, n in zip(coords, shape):
            keep &= c < n
        clamped = tuple(np.minimum(c, max(n - 1, 0)) for c, n in zip(coords, shape))
        pos = np.ravel_multi_index(clamped, shape) if shape else np.zeros(sel_shape, int)
        if int(np.prod(sel_shape)) > 60:
            continue
        op = str(rng.choice(["set", "add", "mul", "min", "max", "get"]))
        vshape = sel_shape[int(rng.integers(0, len(sel_shape) + 1)):]
        v = values(dtype, vshape)
        flat = x.reshape(-1).copy()
        if op == "get":
            fill = {"float64": np.nan, "float32": np.nan, "int32": -(2**31), "bool": True}[dtype]
            if x.size == 0:
                expected = np.full(sel_shape, fill, dtype)
            else:
                expected = np.where(keep, flat[pos], fill).astype(dtype)
        else:
            vb = np.broadcast_to(v, sel_shape)
            pk, vk = pos[keep], vb[keep]
            if op == "set":
                flat[pk] = vk  # numpy: the last of repeated positions wins
            else:
                UFUNC[op].at(flat, pk, vk)
            expected = flat.reshape(shape)
            if mode == "none":
                # The same through numpy's own indexing on x (fancy assignment / ufunc.at).
                direct = x.copy()
                if op == "set":
                    direct[index] = vb
                else:
                    UFUNC[op].at(direct, index, vb)
                assert np.array_equal(direct, expected, equal_nan=dtype.startswith("float")), (index, op)
        out.append({
            "dtype": dtype, "shape": list(shape), "x": [enc(e) for e in x.flat], "index": spec,
            "op": op, "mode": mode, "values": [enc(e) for e in np.asarray(v).flat], "valuesShape": list(vshape),
            "expectedShape": list(np.shape(expected)), "expected": [enc(e) for e in np.asarray(expected).flat],
        })
    return out


data = {"numpy": np.__version__, "cases": cases()}
path = os.path.join(os.path.dirname(__file__), "scatter-reference.json.gz")
with gzip.GzipFile(path, "wb", mtime=0) as f:
    f.write(json.dumps(data, separators=(",", ":")).encode())
print(len(data["cases"]), "cases ->", path)
