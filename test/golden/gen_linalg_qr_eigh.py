"""linalg_qr_eigh.json: torch.linalg.qr (modes reduced, complete, r; tall, square, wide) and torch.linalg.eigh /
eigvalsh in float64, batched and unbatched, values and vector-Jacobian products.

Imported by generate.py (which owns the file list, seeds and the writing); see README.md beside it.

eigh's eigenvectors are sign-normalised as tracegrad's are: each column's largest-magnitude component is made
positive (torch leaves the sign to LAPACK). The matrix handed to eigh is built from the input `a` as tracegrad's
np.linalg.eigh reads it (attrs.read): "sym" (a + aᵀ)/2 (symmetrizeInput), "L" the lower triangle mirrored
(UPLO "L", numpy's default), "U" the upper one; so the stored gradient is that of the function tracegrad
computes (torch.linalg.eigh's own backward assumes a symmetric input and ignores which triangle it read).
Inputs are redrawn until the eigenvalues are at least 0.2 apart and each eigenvector's two largest magnitudes
differ by 0.05 (the sign convention is then unambiguous); QR inputs until the leading min(m, n) columns have a
smallest singular value of at least 0.3 (R invertible: the derivative exists). The larger QR cases (values only)
are there for the blocked kernel: 80x64 is blocked in np.linalg.qr itself, and the tests factor every case again
with small panels. So are the larger eigh cases (values only): 80x80 and 70x70 are blocked in np.linalg.eigh
itself, and the tests solve every case again with small panels; their inputs are Q diag(w) Qᵀ with a random
orthogonal Q and eigenvalues 0.25 apart (random matrices of that order have close ones), and each eigenvector's
two largest magnitudes need only differ by 1e-6 (far above rounding, so the sign is still unambiguous).
"""

import torch

# generate.py's helpers, handed over by linalg_qr_eigh_cases (no import back: generate.py imports this module).
F64 = values_case = vjp_case = None


def well_conditioned(shape):
    """N(0, 1) matrices whose leading min(m, n) columns are well conditioned (redrawn together)."""
    m, n = shape[-2], shape[-1]
    while True:
        a = torch.randn(shape, dtype=F64)
        lead = a[..., :, : min(m, n)]
        if torch.linalg.svdvals(lead).min().item() >= 0.3:
            return a


def symmetric_from(a, read):
    """The symmetric matrix tracegrad's eigh computes with, from `a` and how it is read."""
    if read == "sym":
        return (a + a.mT) / 2
    t = a if read == "L" else a.mT
    return t.tril() + t.tril(-1).mT


def normalize_signs(v):
    """Columns times the sign of their largest-magnitude component (the first one on a tie)."""
    index = v.detach().abs().argmax(dim=-2, keepdim=True)
    return v * torch.sign(torch.gather(v.detach(), -2, index))


def well_separated(read):
    """N(0, 1) inputs whose eigenvalues are 0.2 apart and whose eigenvectors' sign is unambiguous."""

    def draw(shapes):
        while True:
            a = torch.randn(shapes["a"], dtype=F64)
            w, v = torch.linalg.eigh(symmetric_from(a, read))
            gaps_ok = w.shape[-1] < 2 or (w[..., 1:] - w[..., :-1]).min().item() >= 0.2
            top2 = v.abs().sort(dim=-2, descending=True).values
            ties_ok = v.shape[-1] < 2 or (top2[..., 0, :] - top2[..., 1, :]).min().item() >= 0.05
            if gaps_ok and ties_ok:
                return {"a": a}

    return draw


BLOCKED_NOTE = "values only: sized for the blocked kernel (several panels; test/ops/linalg-qr.test.ts)"


def spread_spectrum(read):
    """Q diag(w) Qᵀ, Q random orthogonal, w 0.25 apart with jitter: large eigh cases with distinct eigenvalues."""

    def draw(shapes):
        shape = shapes["a"]
        n = shape[-1]
        while True:
            q, _ = torch.linalg.qr(torch.randn(shape, dtype=F64))
            w = (torch.arange(n, dtype=F64) - n / 2) * 0.25 + 0.05 * torch.rand(shape[:-1], dtype=F64)
            a = (q * w.unsqueeze(-2)) @ q.mT
            w, v = torch.linalg.eigh(symmetric_from(a, read))
            top2 = v.abs().sort(dim=-2, descending=True).values
            if (w[..., 1:] - w[..., :-1]).min().item() >= 0.2 and (top2[..., 0, :] - top2[..., 1, :]).min() >= 1e-6:
                return {"a": a}

    return draw


def qr_spec(mode, shape, differentiable=True, note=None):
    name = f"qr_{mode}_{'x'.join(map(str, shape))}"
    expr = f"torch.linalg.qr(a, mode={mode!r})" if mode != "r" else "torch.linalg.qr(a, mode='reduced').R"
    if not differentiable:
        note = "no derivative (Q's last m - n columns are not unique): values only"
    return (name, "qr", expr, {"mode": mode}, note, {"a": shape})


QR = [
    qr_spec("reduced", [4, 3]),
    qr_spec("reduced", [3, 3]),
    qr_spec("reduced", [3, 5]),
    qr_spec("reduced", [1, 1]),
    qr_spec("reduced", [6, 1]),
    qr_spec("reduced", [2, 5, 3]),
    qr_spec("reduced", [2, 2, 3, 4]),
    qr_spec("complete", [3, 3]),
    qr_spec("complete", [3, 5]),
    qr_spec("complete", [2, 2, 2]),
    qr_spec("complete", [5, 3], differentiable=False),
    qr_spec("complete", [2, 4, 2], differentiable=False),
    qr_spec("r", [4, 3]),
    qr_spec("r", [2, 3, 4]),
    qr_spec("reduced", [80, 64], note=BLOCKED_NOTE),
    qr_spec("reduced", [2, 20, 30], note=BLOCKED_NOTE),
    qr_spec("complete", [40, 27], note=BLOCKED_NOTE),
]


def qr(spec):
    _, _, _, attrs, _, shape = spec
    mode = attrs["mode"]

    def outputs_of(a):
        q, r = torch.linalg.qr(a, mode="reduced" if mode == "r" else mode)
        return {"r": r} if mode == "r" else {"q": q, "r": r}

    draw = lambda shapes: {"a": well_conditioned(shapes["a"])}  # noqa: E731
    if spec[4] is not None:
        return values_case(spec, outputs_of, draw)
    return vjp_case(spec, outputs_of, draw, False)


EIGH_BLOCKED_NOTE = "values only: sized for the blocked kernel (several panels; test/ops/linalg-eigh.test.ts)"


def eigh_spec(op, read, shape, note=None):
    name = f"{op}_{read}_{'x'.join(map(str, shape))}"
    matrix = {"sym": "(a + a.mT) / 2", "L": "a.tril() + a.tril(-1).mT", "U": "a.triu() + a.triu(1).mT"}[read]
    expr = (
        f"w, v = torch.linalg.eigh({matrix}); v = v * sign(v's largest-magnitude entry per column)"
        if op == "eigh"
        else f"torch.linalg.eigvalsh({matrix})"
    )
    return (name, op, expr, {"read": read}, note, {"a": shape})


EIGH = [
    eigh_spec("eigh", "sym", [4, 4]),
    eigh_spec("eigh", "sym", [1, 1]),
    eigh_spec("eigh", "sym", [6, 6]),
    eigh_spec("eigh", "sym", [3, 3, 3]),
    eigh_spec("eigh", "sym", [2, 2, 4, 4]),
    eigh_spec("eigh", "L", [5, 5]),
    eigh_spec("eigh", "U", [5, 5]),
    eigh_spec("eigh", "L", [2, 3, 3]),
    eigh_spec("eigvalsh", "sym", [5, 5]),
    eigh_spec("eigvalsh", "L", [2, 4, 4]),
    eigh_spec("eigvalsh", "U", [4, 4]),
    eigh_spec("eigh", "sym", [80, 80], EIGH_BLOCKED_NOTE),
    eigh_spec("eigh", "L", [2, 24, 24], EIGH_BLOCKED_NOTE),
    eigh_spec("eigvalsh", "U", [70, 70], EIGH_BLOCKED_NOTE),
]


def eigh(spec):
    _, op, _, attrs, _, _ = spec
    read = attrs["read"]

    def outputs_of(a):
        s = symmetric_from(a, read)
        if op == "eigvalsh":
            return {"w": torch.linalg.eigvalsh(s)}
        w, v = torch.linalg.eigh(s)
        return {"w": w, "v": normalize_signs(v)}

    if spec[4] is not None:
        return values_case(spec, outputs_of, spread_spectrum(read))
    return vjp_case(spec, outputs_of, well_separated(read), False)


def linalg_qr_eigh_cases(generate):
    """Every case, made with the helpers of `generate` (the generate.py module)."""
    global F64, values_case, vjp_case
    F64, values_case, vjp_case = generate.F64, generate.values_case, generate.vjp_case
    return [qr(s) for s in QR] + [eigh(s) for s in EIGH]
