"""The sequence-model ops of issue 21 for test/golden/generate.py: seq_ops.json.

Functional ops (activations, normalization, embedding, attention, losses) and the modules nn.LayerNorm,
nn.GroupNorm and nn.Embedding, as "vjp" cases in generate.py's format and with its conventions (each case
seeded from its name, inputs drawn in the order listed, then a random cotangent; losses use cotangent 1).

PyTorch 1.13 has neither F.scaled_dot_product_attention (PyTorch 2.0) nor F.rms_norm (2.4): their cases are
computed from the formulas those functions document, in torch float64 (`sdpa_reference`, `rms_norm_reference`),
and say so in their "torch" field. Bool masks are stored as int64 0/1 (the format has no bool arrays); the
case's attrs name which inputs are masks. Module cases hold the parameters under their state_dict names and
run the module itself with them (torch.nn.utils.stateless.functional_call).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.stateless import functional_call

F64 = torch.float64
FILE = "seq_ops.json"
DESCRIPTION = (
    "issue 21's functional ops (activations, layer/rms/group/batch norm, embedding, scaled dot-product and "
    "multi-head attention, kl_div, cosine_embedding, margin_ranking, cross_entropy with weight and label "
    "smoothing) and the modules LayerNorm, GroupNorm, Embedding (forward and every gradient)"
)


# ---------------------------------------------------------------------------------------------------
# input generators (each draws from torch's global generator)


def avoiding(lo, hi, kinks, gap=0.1):
    """Uniform in [lo, hi), values within `gap` of a kink moved 2*gap up: no element sits on a kink."""

    def draw(shape):
        x = torch.rand(shape, dtype=F64) * (hi - lo) + lo
        for k in kinks:
            x = torch.where((x - k).abs() < gap, x + 2 * gap, x)
        return x

    return draw


def probabilities(axis):
    """Positive rows summing to 1 along `axis` (a softmax of normal draws)."""
    return lambda shape: torch.softmax(torch.randn(shape, dtype=F64), dim=axis)


def signs(shape):
    """Labels of 1 and -1 (int64)."""
    return torch.randint(0, 2, shape) * 2 - 1


def keep_mask(shape):
    """A 0/1 int64 mask [..., L, S] with at least one 1 per row (column 0 and the diagonal are kept)."""
    m = torch.randint(0, 2, shape)
    m[..., 0] = 1
    return m


def padding_mask(shape):
    """A 0/1 int64 key-padding mask [N, S], 1 = padding; key 0 is never padding."""
    m = (torch.rand(shape, dtype=F64) < 0.4).to(torch.int64)
    m[..., 0] = 0
    return m


def blocked_mask(shape):
    """A 0/1 int64 attention mask [L, S] or [B, L, S], 1 = blocked; key 0 is never blocked."""
    m = (torch.rand(shape, dtype=F64) < 0.4).to(torch.int64)
    m[..., 0] = 0
    return m


# ---------------------------------------------------------------------------------------------------
# references for the functions PyTorch 1.13 lacks


def sdpa_reference(q, k, v, mask=None, is_causal=False, scale=None):
    """F.scaled_dot_product_attention's documented math (PyTorch 2.0), without dropout."""
    length, source = q.size(-2), k.size(-2)
    scale = 1 / math.sqrt(q.size(-1)) if scale is None else scale
    bias = torch.zeros(length, source, dtype=q.dtype)
    if is_causal:
        bias = bias.masked_fill(torch.ones(length, source, dtype=torch.bool).tril(diagonal=0).logical_not(), float("-inf"))
    if mask is not None:
        bias = bias.masked_fill(mask.logical_not(), float("-inf")) if mask.dtype == torch.bool else bias + mask
    weights = torch.softmax(q @ k.transpose(-2, -1) * scale + bias, dim=-1)
    return weights @ v


def rms_norm_reference(x, normalized_shape, weight=None, eps=None):
    """F.rms_norm's documented math (PyTorch 2.4): eps None is torch.finfo(x.dtype).eps."""
    eps = torch.finfo(x.dtype).eps if eps is None else eps
    dims = tuple(range(-len(normalized_shape), 0))
    y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
    return y if weight is None else y * weight


# ---------------------------------------------------------------------------------------------------
# cases: (name, op, torch expression, attrs, note, shapes) as generate.py's specs


def spec(name, op, expr, attrs, shapes, note=None):
    return (name, op, expr, attrs, note, shapes)


ACTIVATIONS = [
    (spec("mish_3x4", "mish", "F.mish(x)", {}, {"x": [3, 4]}), lambda x: F.mish(x), lambda g: g.normal(2.0)),
    (spec("selu_3x4", "selu", "F.selu(x)", {}, {"x": [3, 4]}), lambda x: F.selu(x), lambda g: g.away_from_zero(0.1, 2.0)),
    (spec("relu6_3x5", "relu6", "F.relu6(x)", {}, {"x": [3, 5]}), lambda x: F.relu6(x), lambda g: avoiding(-3.0, 9.0, [0.0, 6.0])),
    (spec("hardtanh_3x4", "hardtanh", "F.hardtanh(x)", {"min_val": -1.0, "max_val": 1.0}, {"x": [3, 4]}),
     lambda x: F.hardtanh(x), lambda g: avoiding(-2.5, 2.5, [-1.0, 1.0])),
    (spec("hardtanh_-0.5_2_3x4", "hardtanh", "F.hardtanh(x, min_val=-0.5, max_val=2.0)", {"min_val": -0.5, "max_val": 2.0}, {"x": [3, 4]}),
     lambda x: F.hardtanh(x, min_val=-0.5, max_val=2.0), lambda g: avoiding(-2.0, 3.5, [-0.5, 2.0])),
    (spec("hardswish_4x5", "hardswish", "F.hardswish(x)", {}, {"x": [4, 5]}), lambda x: F.hardswish(x), lambda g: avoiding(-5.0, 5.0, [-3.0, 3.0])),
    (spec("logsigmoid_3x4", "logsigmoid", "F.logsigmoid(x)", {}, {"x": [3, 4]}), lambda x: F.logsigmoid(x), lambda g: g.normal(3.0)),
    (spec("logsigmoid_large_3x4", "logsigmoid", "F.logsigmoid(x)", {}, {"x": [3, 4]}, "rows around +800, -900 and +1000"),
     lambda x: F.logsigmoid(x), lambda g: g.offset_rows(g.LARGE_OFFSETS, 3.0)),
    (spec("glu_4x6_dim-1", "glu", "F.glu(x, dim=-1)", {"dim": -1}, {"x": [4, 6]}), lambda x: F.glu(x, dim=-1), lambda g: g.normal()),
    (spec("glu_2x4x3_dim1", "glu", "F.glu(x, dim=1)", {"dim": 1}, {"x": [2, 4, 3]}), lambda x: F.glu(x, dim=1), lambda g: g.normal()),
    (spec("softsign_3x4", "softsign", "F.softsign(x)", {}, {"x": [3, 4]}), lambda x: F.softsign(x), lambda g: g.normal(2.0)),
    (spec("celu_3x4", "celu", "F.celu(x)", {"alpha": 1.0}, {"x": [3, 4]}), lambda x: F.celu(x), lambda g: g.away_from_zero(0.1, 2.0)),
    (spec("celu_alpha0.5_3x4", "celu", "F.celu(x, alpha=0.5)", {"alpha": 0.5}, {"x": [3, 4]}),
     lambda x: F.celu(x, alpha=0.5), lambda g: g.away_from_zero(0.1, 2.0)),
]


def activation_case(g, entry):
    s, fn, draw = entry
    return g.vjp_case(s, g.out(fn), g.each(draw(g)), False)


def normalization_cases(g):
    cases = []
    n = lambda **kw: g.per_input(**kw)  # noqa: E731
    for name, shape, normalized, affine, eps in [
        ("layer_norm_3x5", [3, 5], [5], True, 1e-5),
        ("layer_norm_2x3x4_last2", [2, 3, 4], [3, 4], True, 1e-5),
        ("layer_norm_4x6_plain_eps1e-3", [4, 6], [6], False, 1e-3),
    ]:
        expr = f"F.layer_norm(x, {normalized}, weight, bias, eps={eps})" if affine else f"F.layer_norm(x, {normalized}, eps={eps})"
        shapes = {"x": shape, "weight": normalized, "bias": normalized} if affine else {"x": shape}
        attrs = {"normalized_shape": normalized, "eps": eps}
        fn = (lambda x, weight, bias, ns=normalized, e=eps: F.layer_norm(x, ns, weight, bias, eps=e)) if affine else (
            lambda x, ns=normalized, e=eps: F.layer_norm(x, ns, eps=e))
        draw = n(x=g.normal(2.0), weight=g.normal(), bias=g.normal()) if affine else n(x=g.normal(2.0))
        cases.append(g.vjp_case(spec(name, "layer_norm", expr, attrs, shapes), g.out(fn), draw, False))
    for name, shape, normalized, weighted, eps in [
        ("rms_norm_3x5", [3, 5], [5], True, None),
        ("rms_norm_2x3x4_last2_eps1e-6", [2, 3, 4], [3, 4], False, 1e-6),
    ]:
        expr = f"rms_norm_reference(x, {normalized}, {'weight' if weighted else 'None'}, eps={eps})  # F.rms_norm (torch 2.4) from its formula"
        shapes = {"x": shape, "weight": normalized} if weighted else {"x": shape}
        attrs = {"normalized_shape": normalized, "eps": eps}
        fn = (lambda x, weight, ns=normalized, e=eps: rms_norm_reference(x, ns, weight, e)) if weighted else (
            lambda x, ns=normalized, e=eps: rms_norm_reference(x, ns, None, e))
        draw = n(x=g.normal(2.0), weight=g.normal()) if weighted else n(x=g.normal(2.0))
        cases.append(g.vjp_case(spec(name, "rms_norm", expr, attrs, shapes), g.out(fn), draw, False))
    for name, shape, groups, affine in [
        ("group_norm_2x6x4_g3", [2, 6, 4], 3, True),
        ("group_norm_2x4x3x3_g2", [2, 4, 3, 3], 2, True),
        ("group_norm_3x4x5_g4_plain", [3, 4, 5], 4, False),
    ]:
        c = shape[1]
        expr = f"F.group_norm(x, {groups}, weight, bias, eps=1e-5)" if affine else f"F.group_norm(x, {groups}, eps=1e-5)"
        shapes = {"x": shape, "weight": [c], "bias": [c]} if affine else {"x": shape}
        fn = (lambda x, weight, bias, gr=groups: F.group_norm(x, gr, weight, bias, eps=1e-5)) if affine else (
            lambda x, gr=groups: F.group_norm(x, gr, eps=1e-5))
        draw = n(x=g.normal(2.0), weight=g.normal(), bias=g.normal()) if affine else n(x=g.normal(2.0))
        cases.append(g.vjp_case(spec(name, "group_norm", expr, {"num_groups": groups, "eps": 1e-5}, shapes), g.out(fn), draw, False))
    for name, shape, training in [
        ("batch_norm_train_4x3x5", [4, 3, 5], True),
        ("batch_norm_train_6x3", [6, 3], True),
        ("batch_norm_eval_4x3x2x2", [4, 3, 2, 2], False),
    ]:
        c = shape[1]
        attrs = {"training": training, "momentum": 0.1, "eps": 1e-5, "running_stats_after": "intermediates running_mean, running_var"}
        expr = f"F.batch_norm(x, running_mean, running_var, weight, bias, training={training}, momentum=0.1, eps=1e-5)"

        def fn(x, running_mean, running_var, weight, bias, t=training):
            return F.batch_norm(x, running_mean.clone(), running_var.clone(), weight, bias, training=t, momentum=0.1, eps=1e-5)

        def after(x, running_mean, running_var, weight, bias, t=training):
            mean, var = running_mean.detach().clone(), running_var.detach().clone()
            F.batch_norm(x.detach(), mean, var, weight.detach(), bias.detach(), training=t, momentum=0.1, eps=1e-5)
            return {"running_mean": mean, "running_var": var}

        draw = n(x=g.normal(2.0), running_mean=g.normal(), running_var=g.uniform(0.5, 2.0), weight=g.normal(), bias=g.normal())
        shapes = {"x": shape, "running_mean": [c], "running_var": [c], "weight": [c], "bias": [c]}
        cases.append(g.vjp_case(spec(name, "batch_norm", expr, attrs, shapes), g.out(fn), draw, False,
                                no_grad=("running_mean", "running_var"), intermediates_of=after))
    return cases


def embedding_cases(g):
    cases = []
    for name, rows, dim, index_shape, padding in [
        ("embedding_7x3_idx5", 7, 3, [5], None),
        ("embedding_6x4_idx2x5_pad1", 6, 4, [2, 5], 1),
        ("embedding_5x2_idx8_pad-1", 5, 2, [8], -1),
    ]:
        attrs = {"padding_idx": padding}
        expr = f"F.embedding(indices, weight, padding_idx={padding})"

        def draw(shapes, rows=rows, padding=padding):
            weight = torch.randn(shapes["weight"], dtype=F64)
            indices = torch.randint(0, rows, shapes["indices"])
            flat = indices.view(-1)
            flat[2] = flat[0]  # a repeated index accumulates its gradient
            if padding is not None:
                # The padding row is looked up twice, and gets no gradient.
                flat[1] = padding % rows
                flat[-1] = padding % rows
            return {"weight": weight, "indices": indices}

        fn = lambda weight, indices, p=padding: F.embedding(indices, weight, padding_idx=p)  # noqa: E731
        cases.append(g.vjp_case(spec(name, "embedding", expr, attrs, {"weight": [rows, dim], "indices": index_shape}), g.out(fn), draw, False))
    return cases


def sdpa_cases(g):
    cases = []
    qkv = lambda shapes: {k: torch.randn(s, dtype=F64) for k, s in shapes.items()}  # noqa: E731
    for name, q, k, v, mask, causal, scale in [
        ("sdpa_2x3x4_nomask", [2, 3, 4], [2, 5, 4], [2, 5, 3], None, False, None),
        ("sdpa_2x2x4x6_boolmask", [2, 2, 4, 6], [2, 2, 5, 6], [2, 2, 5, 3], "bool", False, None),
        ("sdpa_2x4x3_floatmask_scale0.3", [2, 4, 3], [2, 6, 3], [2, 6, 2], "float", False, 0.3),
        ("sdpa_2x5x4_causal", [2, 5, 4], [2, 5, 4], [2, 5, 4], None, True, None),
        ("sdpa_1x3x4_causal_rect", [1, 3, 4], [1, 6, 4], [1, 6, 2], None, True, None),
        ("sdpa_bcast_1x2x3x4_2x1x5x4", [1, 2, 3, 4], [2, 1, 5, 4], [2, 1, 5, 3], None, False, None),
    ]:
        length, source = q[-2], k[-2]
        attrs = {"mask": mask, "is_causal": causal, "scale": scale, "mask_meaning": "int64 0/1 for bool masks, 1 = may attend"}
        expr = f"sdpa_reference(q, k, v, mask, is_causal={causal}, scale={scale})  # F.scaled_dot_product_attention (torch 2) from its formula"
        shapes = {"q": q, "k": k, "v": v}
        if mask is not None:
            shapes["mask"] = [length, source]

        def draw(shapes, mask=mask):
            out = qkv({n: shapes[n] for n in ("q", "k", "v")})
            if mask == "bool":
                out["mask"] = keep_mask(shapes["mask"])
            elif mask == "float":
                out["mask"] = torch.randn(shapes["mask"], dtype=F64)
            return out

        def fn(q, k, v, mask=None, kind=mask, c=causal, sc=scale):
            m = None if mask is None else (mask.bool() if kind == "bool" else mask)
            return sdpa_reference(q, k, v, m, is_causal=c, scale=sc)

        no_grad = ("mask",) if mask == "float" else ()
        cases.append(g.vjp_case(spec(name, "scaled_dot_product_attention", expr, attrs, shapes), g.out(fn), draw, False, no_grad=no_grad))
    return cases


def mha_cases(g):
    cases = []
    for name, length, source, batch, embed, heads, opts in [
        ("mha_self_4x2x6_h2", 4, 4, 2, 6, 2, {"self": True}),
        ("mha_cross_3x2x8_s5_h4_kpm_floatmask_perhead", 3, 5, 2, 8, 4, {"kpm": True, "attn": "float", "average": False}),
        ("mha_5x3x4_h2_boolmask_nobias", 5, 5, 3, 4, 2, {"attn": "bool", "bias": False}),
        ("mha_unbatched_4x6_s3_h3", 4, 3, None, 6, 3, {"kpm": True}),
        ("mha_3dmask_3x2x4_h2", 3, 4, 2, 4, 2, {"attn": "bool3d"}),
    ]:
        bias = opts.get("bias", True)
        average = opts.get("average", True)
        seq = lambda t: [t, embed] if batch is None else [t, batch, embed]  # noqa: E731
        shapes = {"query": seq(length), "key": seq(source), "value": seq(source)}
        shapes["in_proj_weight"] = [3 * embed, embed]
        if bias:
            shapes["in_proj_bias"] = [3 * embed]
        shapes["out_proj_weight"] = [embed, embed]
        if bias:
            shapes["out_proj_bias"] = [embed]
        attn = opts.get("attn")
        if attn in ("bool", "float"):
            shapes["attn_mask"] = [length, source]
        elif attn == "bool3d":
            shapes["attn_mask"] = [batch * heads, length, source]
        if opts.get("kpm"):
            shapes["key_padding_mask"] = [source] if batch is None else [batch, source]
        attrs = {
            "num_heads": heads,
            "embed_dim": embed,
            "need_weights": True,
            "average_attn_weights": average,
            "attn_mask": attn,
            "self_attention": bool(opts.get("self")),
            "mask_meaning": "int64 0/1 for bool masks, 1 = blocked (attn_mask) or padding (key_padding_mask)",
            "layout": "[L, N, E] (seq first), or [L, E] unbatched",
        }
        expr = (
            "F.multi_head_attention_forward(query, key, value, embed_dim, num_heads, in_proj_weight, in_proj_bias, None, None, "
            "False, 0.0, out_proj_weight, out_proj_bias, training=False, key_padding_mask=key_padding_mask, need_weights=True, "
            f"attn_mask=attn_mask, average_attn_weights={average})"
        )

        def draw(shapes, attn=attn, embed=embed, self_attention=bool(opts.get("self"))):
            out = {}
            for k, s in shapes.items():
                if k in ("query", "key", "value"):
                    out[k] = torch.randn(s, dtype=F64)
                elif k.endswith("weight"):
                    out[k] = torch.randn(s, dtype=F64) / math.sqrt(embed)
                elif k.endswith("bias"):
                    out[k] = torch.randn(s, dtype=F64) * 0.1
                elif k == "attn_mask":
                    out[k] = torch.randn(s, dtype=F64) if attn == "float" else blocked_mask(s)
                else:
                    out[k] = padding_mask(s)
            if self_attention:
                # Self-attention: one tensor for query, key and value (torch's packed projection path).
                out["key"] = out["query"].clone()
                out["value"] = out["query"].clone()
            return out

        def fn(query, key, value, in_proj_weight, out_proj_weight, in_proj_bias=None, out_proj_bias=None, attn_mask=None,
               key_padding_mask=None, heads=heads, embed=embed, attn=attn, average=average):
            mask = None if attn_mask is None else (attn_mask if attn == "float" else attn_mask.bool())
            kpm = None if key_padding_mask is None else key_padding_mask.bool()
            output, weights = F.multi_head_attention_forward(
                query, key, value, embed, heads, in_proj_weight, in_proj_bias, None, None, False, 0.0,
                out_proj_weight, out_proj_bias, training=False, key_padding_mask=kpm, need_weights=True,
                attn_mask=mask, average_attn_weights=average,
            )
            return {"out": output, "weights": weights}

        no_grad = ("attn_mask",) if attn == "float" else ()
        cases.append(g.vjp_case(spec(name, "multi_head_attention", expr, attrs, shapes), fn, draw, False, no_grad=no_grad))
    return cases


def loss_cases(g):
    cases = []
    n = lambda **kw: g.per_input(**kw)  # noqa: E731
    for name, shape, reduction, log_target in [
        ("kl_div_4x5_batchmean", [4, 5], "batchmean", False),
        ("kl_div_4x5_mean", [4, 5], "mean", False),
        ("kl_div_3x2x4_sum", [3, 2, 4], "sum", False),
        ("kl_div_4x5_none", [4, 5], "none", False),
        ("kl_div_4x5_batchmean_logtarget", [4, 5], "batchmean", True),
    ]:
        attrs = {"reduction": reduction, "log_target": log_target}
        expr = f"F.kl_div(input, target, reduction='{reduction}', log_target={log_target})"
        fn = lambda input, target, r=reduction, lt=log_target: F.kl_div(input, target, reduction=r, log_target=lt)  # noqa: E731
        target = (lambda s: torch.log_softmax(torch.randn(s, dtype=F64), dim=-1)) if log_target else probabilities(-1)
        draw = n(input=lambda s: torch.log_softmax(torch.randn(s, dtype=F64), dim=-1), target=target)
        cases.append(g.vjp_case(spec(name, "kl_div", expr, attrs, {"input": shape, "target": shape}), g.out(fn), draw, True))
    for name, shape, margin, reduction in [
        ("cosine_embedding_5x4_mean", [5, 4], 0.0, "mean"),
        ("cosine_embedding_6x3_margin0.2_sum", [6, 3], 0.2, "sum"),
        ("cosine_embedding_5x4_margin-0.3_none", [5, 4], -0.3, "none"),
        ("cosine_embedding_4_single", [4], 0.0, "mean"),
    ]:
        attrs = {"margin": margin, "reduction": reduction}
        expr = f"F.cosine_embedding_loss(x1, x2, y, margin={margin}, reduction='{reduction}')"
        fn = lambda x1, x2, y, m=margin, r=reduction: F.cosine_embedding_loss(x1, x2, y, margin=m, reduction=r)  # noqa: E731
        draw = n(x1=g.normal(), x2=g.normal(), y=signs)
        shapes = {"x1": shape, "x2": shape, "y": shape[:-1]}
        cases.append(g.vjp_case(spec(name, "cosine_embedding_loss", expr, attrs, shapes), g.out(fn), draw, True))
    for name, shape, margin, reduction in [
        ("margin_ranking_8_mean", [8], 0.0, "mean"),
        ("margin_ranking_3x4_margin0.5_sum", [3, 4], 0.5, "sum"),
        ("margin_ranking_6_margin0.3_none", [6], 0.3, "none"),
    ]:
        attrs = {"margin": margin, "reduction": reduction}
        expr = f"F.margin_ranking_loss(x1, x2, y, margin={margin}, reduction='{reduction}')"
        fn = lambda x1, x2, y, m=margin, r=reduction: F.margin_ranking_loss(x1, x2, y, margin=m, reduction=r)  # noqa: E731
        cases.append(g.vjp_case(spec(name, "margin_ranking_loss", expr, attrs, {"x1": shape, "x2": shape, "y": shape}), g.out(fn),
                                n(x1=g.normal(), x2=g.normal(), y=signs), True))
    for name, shape, classes, reduction, smoothing, ignore, probs in [
        ("cross_entropy_weight_5x4_mean", [5, 4], 4, "mean", 0.0, True, False),
        ("cross_entropy_weight_ls0.1_5x4_mean", [5, 4], 4, "mean", 0.1, True, False),
        ("cross_entropy_weight_ls0.2_5x4_sum", [5, 4], 4, "sum", 0.2, True, False),
        ("cross_entropy_weight_ls0.1_5x4_none", [5, 4], 4, "none", 0.1, True, False),
        ("cross_entropy_ls0.15_2x3x4_mean", [2, 3, 4], 3, "mean", 0.15, True, False),
        ("cross_entropy_probs_weight_ls0.1_4x3", [4, 3], 3, "mean", 0.1, False, True),
    ]:
        weighted = not name.startswith("cross_entropy_ls")
        attrs = {"reduction": reduction, "label_smoothing": smoothing, "ignore_index": -100, "weighted": weighted,
                 "target": "class probabilities" if probs else "class indices (int64)"}
        expr = f"F.cross_entropy(input, target, weight={'weight' if weighted else 'None'}, ignore_index=-100, reduction='{reduction}', label_smoothing={smoothing})"
        target_shape = shape if probs else [shape[0], *shape[2:]]

        def draw(shapes, classes=classes, probs=probs, ignore=ignore):
            out = {"input": torch.randn(shapes["input"], dtype=F64) * 1.5}
            if probs:
                out["target"] = torch.softmax(torch.randn(shapes["target"], dtype=F64), dim=1)
            else:
                t = torch.randint(0, classes, shapes["target"])
                if ignore:
                    t.view(-1)[1] = -100
                out["target"] = t
            if "weight" in shapes:
                out["weight"] = torch.rand(shapes["weight"], dtype=F64) * 1.5 + 0.25
            return out

        shapes = {"input": shape, "target": target_shape}
        if weighted:
            shapes["weight"] = [classes]

        def fn(input, target, weight=None, r=reduction, s=smoothing):
            return F.cross_entropy(input, target, weight=weight, ignore_index=-100, reduction=r, label_smoothing=s)

        # torch differentiates neither the target nor the class weights.
        no_grad = ("target", "weight")
        cases.append(g.vjp_case(spec(name, "cross_entropy", expr, attrs, shapes), g.out(fn), draw, True, no_grad=no_grad))
    return cases


def module_cases(g):
    """nn.LayerNorm, nn.GroupNorm and nn.Embedding run with the drawn parameters (state_dict names)."""
    cases = []
    modules = [
        ("module_LayerNorm_2x3x4_last2", "nn.LayerNorm([3, 4])", {"module": "LayerNorm", "normalized_shape": [3, 4], "eps": 1e-5, "elementwise_affine": True},
         lambda: nn.LayerNorm([3, 4]), {"input": [2, 3, 4], "weight": [3, 4], "bias": [3, 4]}),
        ("module_LayerNorm_4x5_eps1e-3", "nn.LayerNorm(5, eps=1e-3)", {"module": "LayerNorm", "normalized_shape": [5], "eps": 1e-3, "elementwise_affine": True},
         lambda: nn.LayerNorm(5, eps=1e-3), {"input": [4, 5], "weight": [5], "bias": [5]}),
        ("module_GroupNorm_2x6x5_g3", "nn.GroupNorm(3, 6)", {"module": "GroupNorm", "num_groups": 3, "num_channels": 6, "eps": 1e-5, "affine": True},
         lambda: nn.GroupNorm(3, 6), {"input": [2, 6, 5], "weight": [6], "bias": [6]}),
        ("module_GroupNorm_2x4x3x3_g2", "nn.GroupNorm(2, 4)", {"module": "GroupNorm", "num_groups": 2, "num_channels": 4, "eps": 1e-5, "affine": True},
         lambda: nn.GroupNorm(2, 4), {"input": [2, 4, 3, 3], "weight": [4], "bias": [4]}),
        ("module_Embedding_10x4_pad0", "nn.Embedding(10, 4, padding_idx=0)", {"module": "Embedding", "num_embeddings": 10, "embedding_dim": 4, "padding_idx": 0},
         lambda: nn.Embedding(10, 4, padding_idx=0), {"input": [3, 5], "weight": [10, 4]}),
        ("module_Embedding_8x3", "nn.Embedding(8, 3)", {"module": "Embedding", "num_embeddings": 8, "embedding_dim": 3, "padding_idx": None},
         lambda: nn.Embedding(8, 3), {"input": [6], "weight": [8, 3]}),
    ]
    for name, expr, attrs, make, shapes in modules:
        attrs = {**attrs, "params": "inputs other than 'input', under the module's state_dict names"}
        rows = attrs.get("num_embeddings")

        def draw(shapes, rows=rows, padding=attrs.get("padding_idx")):
            out = {}
            for k, s in shapes.items():
                if k == "input" and rows is not None:
                    idx = torch.randint(0, rows, s)
                    if padding is not None:
                        idx.view(-1)[0] = padding
                    out[k] = idx
                else:
                    out[k] = torch.randn(s, dtype=F64)
            return out

        def fn(input, make=make, **params):
            module = make().to(F64)
            return functional_call(module, params, (input,))

        cases.append(g.vjp_case(spec(name, "module", f"functional_call({expr}, params, (input,))", attrs, shapes), g.out(fn), draw, False))
    return cases


def cases(g):
    """Every case of seq_ops.json; `g` is generate.py (its vjp_case, generators and conventions)."""
    return [
        *[activation_case(g, e) for e in ACTIVATIONS],
        *normalization_cases(g),
        *embedding_cases(g),
        *sdpa_cases(g),
        *mha_cases(g),
        *loss_cases(g),
        *module_cases(g),
    ]
