"""linalg_degenerate.json (issue 20): derivatives of det, slogdet and pinv at degenerate points, float64.

Imported by generate.py (which owns the file list, seeds and the writing); see README.md beside it. The
helpers are generate.py's, handed over by `cases(generate)` (no import back).

References, and where PyTorch 1.13 is not one:
- det at singular matrices: the gradient of det is the cofactor matrix everywhere (det is a polynomial).
  PyTorch 1.13 returns zeros wherever its determinant comes out exactly 0 (recorded as "torch_grads",
  not compared), so "grads" are the exact cofactors of the stored float64 matrix, computed in rational
  arithmetic (fractions.Fraction: every float64 is a rational, so nothing is rounded but the result),
  times the cotangent. Matrices: exactly singular integer ones whose LU factorization (partial pivoting)
  leaves the zero pivot last, in the middle, or two of them (a nilpotent Jordan block, rank n - 1), rank
  n - 2 ones (cofactors 0), and products B C of random factors (rank n - 1 or n - 2 up to rounding).
- slogdet: PyTorch's vjp (random cotangent on logabsdet; the sign has none), checked here against
  ct · a⁻ᵀ before it is written.
- pinv where singular values repeat (full rank: a⁺ is smooth in every direction there): PyTorch's vjp of
  torch.linalg.pinv, checked here against the vjp of the smooth formulas (aᵀa)⁻¹aᵀ, aᵀ(aaᵀ)⁻¹ or a⁻¹.
- pinv at a rank-deficient matrix with repeated nonzero singular values: a⁺ is differentiable only along
  perturbations that keep the rank, so the case is a jvp ("kind": "jvp"): the tangent da = E a + a F (E, F
  random), and the reference derivative is d/dt pinv((I + tE) a (I + tF)) at t = 0, computed by autograd
  through the full-rank factorization a = B C, a⁺ = Cᵀ(CCᵀ)⁻¹(BᵀB)⁻¹Bᵀ (no SVD). PyTorch's pinv vjp is
  stored too ("cotangent", "grads") and checked against it by the dot-product test before writing.
- lstsq's solution where singular values repeat: PyTorch's vjp in a and b (driver gelsd; its backward is
  pinv's, x = a⁺ b), checked against the vjp of the smooth formula for a⁺ b before it is written.
"""

from fractions import Fraction

import torch

# generate.py's helpers, handed over by `cases` (no import back: generate.py imports this module).
F64 = seed_of = arr = None

FILE = "linalg_degenerate.json"
DESCRIPTION = (
    "derivatives at degenerate points: det at singular matrices (exact cofactors; torch 1.13 gives zeros there), "
    "slogdet (torch vjp = ct·a⁻ᵀ), pinv where singular values repeat (torch vjp, checked against smooth formulas) "
    "and at a rank-deficient matrix (a jvp along a rank-keeping direction, by autograd through a = B C); "
    "lstsq's solution where singular values repeat (torch vjp in a and b)"
)


def exact_cofactors(a):
    """The cofactor matrix of one float64 matrix, in exact rational arithmetic, rounded once."""
    n = a.shape[-1]
    rows = [[Fraction(float(v)) for v in row] for row in a.tolist()]

    def det(m):
        m = [r[:] for r in m]
        size, result = len(m), Fraction(1)
        for k in range(size):
            pivot = next((i for i in range(k, size) if m[i][k] != 0), None)
            if pivot is None:
                return Fraction(0)
            if pivot != k:
                m[k], m[pivot] = m[pivot], m[k]
                result = -result
            result *= m[k][k]
            for i in range(k + 1, size):
                f = m[i][k] / m[k][k]
                for j in range(k, size):
                    m[i][j] -= f * m[k][j]
        return result

    out = torch.zeros((n, n), dtype=F64)
    for i in range(n):
        for j in range(n):
            minor = [r[:j] + r[j + 1 :] for k, r in enumerate(rows) if k != i]
            out[i, j] = float((-1) ** (i + j) * det(minor))
    return out


def fixed(rows):
    return lambda: torch.tensor(rows, dtype=F64)


def product(n, rank, batch=()):
    """B C with B [.., n, rank] and C [.., rank, n] standard normal: rank `rank` up to rounding."""
    return lambda: torch.randn((*batch, n, rank), dtype=F64) @ torch.randn((*batch, rank, n), dtype=F64)


def stacked(*draws):
    return lambda: torch.stack([d() for d in draws])


def jordan(n):
    return fixed([[1.0 if j == i + 1 else 0.0 for j in range(n)] for i in range(n)])


# name, how the matrix is drawn, note
DET = [
    ("det_singular_last_pivot_3x3", fixed([[2, 1, 0], [1, 3, 1], [3, 4, 1]]), "rank 2; LU's zero pivot is the last one (JAX's case)"),
    ("det_singular_1to9_3x3", fixed([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), "rank 2; LU's last pivot is 6.7e-16, not 0"),
    ("det_singular_middle_pivot_3x3", fixed([[1, 2, 3], [2, 4, 7], [3, 6, 1]]), "rank 2; LU's zero pivot is the middle one (JAX's rule gives 0 here)"),
    ("det_nilpotent_2x2", fixed([[0, 1], [0, 0]]), "rank 1 = n - 1; both pivots of LU are 0 (aᵀ's LU has one)"),
    ("det_jordan_block_4x4", jordan(4), "nilpotent Jordan block, rank 3: four zero pivots in LU, one in aᵀ's"),
    ("det_rank_n_minus_2_4x4", fixed([[1, -1, 2, 0], [2, -2, 4, 0], [3, -3, 6, 0], [0, 0, 0, 1]]), "rank 2: every cofactor 0"),
    ("det_zero_3x3", fixed([[0, 0, 0], [0, 0, 0], [0, 0, 0]]), "the zero matrix: every cofactor 0"),
    ("det_product_rank4_5x5", product(5, 4), "B C, rank 4 up to rounding"),
    ("det_product_rank3_5x5", product(5, 3), "B C, rank 3 up to rounding: cofactors of order 1e-16"),
    (
        "det_batch_mixed_3x4x4",
        stacked(product(4, 3), lambda: torch.randn((4, 4), dtype=F64), fixed([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]])),
        "a batch: rank 3 up to rounding, nonsingular, and an exactly singular 0/1 matrix",
    ),
]


def det_case(name, draw, note):
    seed = seed_of(name)
    torch.manual_seed(seed)
    a = draw()
    ct = torch.randn(a.shape[:-2], dtype=F64)
    t = a.clone().requires_grad_(True)
    d = torch.linalg.det(t)
    (torch_grads,) = torch.autograd.grad(d, t, ct)
    flat = a.reshape(-1, a.shape[-2], a.shape[-1])
    cofactors = torch.stack([exact_cofactors(m) for m in flat]).reshape(a.shape)
    return {
        "name": name,
        "kind": "vjp",
        "op": "det",
        "torch": "torch.linalg.det(a); grads: exact cofactors times ct",
        "attrs": {},
        "seed": seed,
        "note": note,
        "inputs": {"a": arr(a)},
        "outputs": {"out": arr(d)},
        "cotangent": {"out": arr(ct)},
        "grads": {"a": arr(ct[..., None, None] * cofactors)},
        "torch_grads": {"a": arr(torch_grads)},
    }


SLOGDET = [
    ("slogdet_4x4", ()),
    ("slogdet_batch_2x3x3", (2,)),
    ("slogdet_6x6", ()),
]


def slogdet_case(name, batch):
    seed = seed_of(name)
    torch.manual_seed(seed)
    n = int(name.split("x")[-1])
    a = torch.randn((*batch, n, n), dtype=F64)
    ct = torch.randn(batch, dtype=F64)
    t = a.clone().requires_grad_(True)
    sign, logabsdet = torch.linalg.slogdet(t)
    (grads,) = torch.autograd.grad(logabsdet, t, ct)
    expected = ct[..., None, None] * torch.linalg.inv(a).mT
    assert torch.allclose(grads, expected, rtol=1e-12, atol=1e-12), name
    return {
        "name": name,
        "kind": "vjp",
        "op": "slogdet",
        "torch": "torch.linalg.slogdet(a) (cotangent on logabsdet)",
        "attrs": {},
        "seed": seed,
        "inputs": {"a": arr(a)},
        "outputs": {"sign": arr(sign), "logabsdet": arr(logabsdet)},
        "cotangent": {"logabsdet": arr(ct)},
        "grads": {"a": arr(grads)},
    }


def orthonormal(m, n, batch=()):
    """m x n with orthonormal columns (m >= n) or rows (m < n)."""
    k = max(m, n)
    q, _ = torch.linalg.qr(torch.randn((*batch, k, min(m, n)), dtype=F64))
    return q if m >= n else q.mT


def smooth_pinv(a):
    m, n = a.shape[-2:]
    if m == n:
        return torch.linalg.inv(a)
    if m > n:
        return torch.linalg.solve(a.mT @ a, a.mT)
    return a.mT @ torch.linalg.inv(a @ a.mT)


# name, how the matrix is drawn (after seeding), note
PINV = [
    ("pinv_orthogonal_times2_3x3", lambda: 2 * orthonormal(3, 3), "every singular value 2"),
    ("pinv_orthonormal_columns_5x3", lambda: 3 * orthonormal(5, 3), "tall, every singular value 3"),
    ("pinv_orthonormal_rows_3x5", lambda: 0.5 * orthonormal(3, 5), "wide, every singular value 0.5"),
    (
        "pinv_two_equal_4x3",
        lambda: orthonormal(4, 3) @ torch.diag(torch.tensor([2.0, 2.0, 1.0], dtype=F64)) @ orthonormal(3, 3),
        "singular values 2, 2, 1",
    ),
    ("pinv_batch_2x3x3", lambda: 1.5 * orthonormal(3, 3, (2,)), "a batch, every singular value 1.5"),
]


def pinv_case(name, draw, note):
    seed = seed_of(name)
    torch.manual_seed(seed)
    a = draw()
    ct = torch.randn(a.mT.shape, dtype=F64)
    t = a.clone().requires_grad_(True)
    p = torch.linalg.pinv(t)
    (grads,) = torch.autograd.grad(p, t, ct)
    s = a.clone().requires_grad_(True)
    (smooth,) = torch.autograd.grad(smooth_pinv(s), s, ct)
    assert torch.allclose(grads, smooth, rtol=1e-10, atol=1e-12), name
    return {
        "name": name,
        "kind": "vjp",
        "op": "pinv",
        "torch": "torch.linalg.pinv(a)",
        "attrs": {},
        "seed": seed,
        "note": note + "; torch's vjp equals that of a smooth formula for a⁺ (checked when generated)",
        "inputs": {"a": arr(a)},
        "outputs": {"out": arr(p)},
        "cotangent": {"out": arr(ct)},
        "grads": {"a": arr(grads)},
    }


def pinv_rank_deficient(name, m, n, values):
    """a = U diag(values) V with zeros among the values: a jvp along (I + tE) a (I + tF)."""
    seed = seed_of(name)
    torch.manual_seed(seed)
    r = sum(1 for v in values if v != 0)
    u = orthonormal(m, len(values))
    v = orthonormal(len(values), n)
    b0 = u[:, :r] * torch.tensor(values[:r], dtype=F64)  # m x r
    c0 = v[:r, :]  # r x n
    a = b0 @ c0
    e = torch.randn((m, m), dtype=F64)
    f = torch.randn((n, n), dtype=F64)
    da = e @ a + a @ f
    ct = torch.randn((n, m), dtype=F64)

    def along(t):
        b = (torch.eye(m, dtype=F64) + t * e) @ b0
        c = c0 @ (torch.eye(n, dtype=F64) + t * f)
        return c.mT @ torch.linalg.inv(c @ c.mT) @ torch.linalg.inv(b.mT @ b) @ b.mT

    zero = torch.zeros((), dtype=F64)
    _, tangent = torch.autograd.functional.jvp(along, zero, torch.ones((), dtype=F64))
    t = a.clone().requires_grad_(True)
    p = torch.linalg.pinv(t)
    (grads,) = torch.autograd.grad(p, t, ct)
    assert torch.allclose(p, along(zero), rtol=1e-10, atol=1e-12), name
    lhs, rhs = (grads * da).sum().item(), (ct * tangent).sum().item()
    assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(rhs)), (name, lhs, rhs)
    return {
        "name": name,
        "kind": "jvp",
        "op": "pinv",
        "torch": "d/dt pinv((I + tE) a (I + tF)) at 0, by autograd through a = B C; torch.linalg.pinv's vjp",
        "attrs": {"singular_values": values},
        "seed": seed,
        "note": "rank-deficient with a repeated nonzero singular value: differentiable along rank-keeping directions only",
        "inputs": {"a": arr(a)},
        "tangents": {"a": arr(da)},
        "outputs": {"out": arr(p)},
        "tangents_out": {"out": arr(tangent)},
        "cotangent": {"out": arr(ct)},
        "grads": {"a": arr(grads)},
    }


def smooth_lstsq(a, b):
    return smooth_pinv(a) @ b


# name, how a and b are drawn (after seeding), note
LSTSQ = [
    ("lstsq_orthonormal_columns_5x3_k2", lambda: (3 * orthonormal(5, 3), torch.randn((5, 2), dtype=F64)), "tall, every singular value 3"),
    ("lstsq_orthogonal_times2_3x3_vector", lambda: (2 * orthonormal(3, 3), torch.randn((3,), dtype=F64)), "square, every singular value 2, a 1-D b"),
    ("lstsq_orthonormal_rows_3x5_k2", lambda: (0.5 * orthonormal(3, 5), torch.randn((3, 2), dtype=F64)), "wide (the minimum-norm solution), every singular value 0.5"),
    (
        "lstsq_two_equal_4x3_k1",
        lambda: (
            orthonormal(4, 3) @ torch.diag(torch.tensor([2.0, 2.0, 1.0], dtype=F64)) @ orthonormal(3, 3),
            torch.randn((4, 1), dtype=F64),
        ),
        "singular values 2, 2, 1",
    ),
]


def lstsq_case(name, draw, note):
    seed = seed_of(name)
    torch.manual_seed(seed)
    a, b = draw()
    m, n = a.shape
    x_shape = (n,) if b.ndim == 1 else (n, b.shape[1])
    ct = torch.randn(x_shape, dtype=F64)
    ta, tb = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    # gelsd: the SVD-based driver, numpy's (the default gelsy is a QR with column pivoting; same x here).
    x = torch.linalg.lstsq(ta, tb if b.ndim == 2 else tb[:, None], driver="gelsd").solution
    x = x if b.ndim == 2 else x[:, 0]
    grads = torch.autograd.grad(x, (ta, tb), ct)
    sa, sb = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    smooth = torch.autograd.grad(smooth_lstsq(sa, sb), (sa, sb), ct)
    for ours, reference in zip(grads, smooth):
        assert torch.allclose(ours, reference, rtol=1e-10, atol=1e-12), name
    return {
        "name": name,
        "kind": "vjp",
        "op": "lstsq",
        "torch": "torch.linalg.lstsq(a, b, driver='gelsd').solution",
        "attrs": {},
        "seed": seed,
        "note": note + "; torch's vjp equals that of a smooth formula for a⁺ b (checked when generated)",
        "inputs": {"a": arr(a), "b": arr(b)},
        "outputs": {"out": arr(x)},
        "cotangent": {"out": arr(ct)},
        "grads": {"a": arr(grads[0]), "b": arr(grads[1])},
    }


def cases(generate):
    """Every case, made with the helpers of `generate` (the generate.py module)."""
    global F64, seed_of, arr
    F64, seed_of, arr = generate.F64, generate.seed_of, generate.arr
    return (
        [det_case(*c) for c in DET]
        + [slogdet_case(*c) for c in SLOGDET]
        + [pinv_case(*c) for c in PINV]
        + [
            pinv_rank_deficient("pinv_rank2_repeated_4x3", 4, 3, [2.0, 2.0, 0.0]),
            pinv_rank_deficient("pinv_rank2_repeated_3x5", 3, 5, [1.0, 1.0, 0.0]),
        ]
        + [lstsq_case(*c) for c in LSTSQ]
    )
