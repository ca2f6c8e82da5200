"""Attention and transformer layers for generate.py: seq_attn.json.

nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.TransformerEncoder and
nn.TransformerDecoder in float64 and eval mode (dropout off), forward and every gradient. Each case builds
the module under torch.manual_seed(seed_of(name)) in float64, then moves every parameter by N(0, 0.1^2)
draws (so zero-initialized biases and unit norm weights are not special), draws the inputs and masks in the
order listed, runs the module, and draws one N(0, 1) cotangent per output.

Bool masks are stored as int64 0/1 (1 = not allowed, PyTorch's convention for these modules); a case's
"masks" names each mask input and its kind (bool or float). PyTorch 1.13 has no is_causal argument: a case
with "is_causal" in its call runs torch with the causal bool mask (triu(ones(L, S), 1)) in that place and
stores no mask; tracegrad's side passes isCausal / tgtIsCausal instead.
"""

import torch
import torch.nn as nn

F64 = torch.float64
FILE = "seq_attn.json"
DESCRIPTION = (
    "nn.MultiheadAttention (batch_first both ways, bool/float/3D masks, key padding, causal, kdim/vdim, "
    "bias_kv, zero_attn, unbatched), nn.TransformerEncoderLayer/DecoderLayer (norm_first both ways, relu/gelu, "
    "masks) and 2-layer TransformerEncoder/Decoder stacks with a final norm, eval mode: outputs, attention "
    "weights, grads of every parameter and input"
)

E, HEADS, FF = 8, 2, 16


def blocked(shape):
    """A bool mask, True = not allowed; key 0 is always allowed, so no query row is fully masked."""
    m = torch.rand(shape, dtype=F64) < 0.35
    m[..., 0] = False
    return m


def float_mask(shape):
    return torch.randn(shape, dtype=F64) * 0.5


def causal(length, source):
    return torch.ones(length, source, dtype=torch.bool).triu(1)


def mask_array(g, t):
    return g.arr(t.to(torch.int64)) if t.dtype == torch.bool else g.arr(t)


def module_case(g, name, make, attrs, inputs, masks, call, forward, output_names):
    """inputs: [(name, shape)] float inputs (requires grad); masks: [(name, kind, shape)]; call: the
    keyword arguments as stored (JSON) and given to forward(module, tensors, masks)."""
    seed = g.seed_of(name)
    torch.manual_seed(seed)
    module = g.float64_module(make)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, dtype=F64) * 0.1)
    module.eval()
    tensors = {k: torch.randn(shape, dtype=F64, requires_grad=True) for k, shape in inputs}
    mask_tensors = {k: blocked(shape) if kind == "bool" else float_mask(shape) for k, kind, shape in masks}
    outputs = forward(module, tensors, mask_tensors)
    outputs = {k: v for k, v in zip(output_names, outputs) if v is not None}
    cotangent = {k: torch.randn(v.shape, dtype=F64) for k, v in outputs.items()}
    named = list(module.named_parameters())
    wrt = [p for _, p in named] + list(tensors.values())
    grads = torch.autograd.grad(list(outputs.values()), wrt, grad_outputs=list(cotangent.values()))
    return {
        "name": name,
        "kind": "module",
        "module": type(module).__name__,
        "torch": repr(module),
        "attrs": attrs,
        "call": call,
        "masks": {k: kind for k, kind, _ in masks},
        "seed": seed,
        "param_order": [k for k, _ in named],
        "params": {k: g.arr(p) for k, p in named},
        "inputs": {**{k: g.arr(v) for k, v in tensors.items()}, **{k: mask_array(g, v) for k, v in mask_tensors.items()}},
        "outputs": {k: g.arr(v) for k, v in outputs.items()},
        "cotangent": {k: g.arr(v) for k, v in cotangent.items()},
        "grads": {k: g.arr(v) for k, v in zip([k for k, _ in named] + list(tensors.keys()), grads)},
    }


# ---------------------------------------------------------------------------------------------------
# nn.MultiheadAttention


def mha(g, name, L, S, N, attrs=None, call=None, masks=(), self_attention=False, batched=True):
    attrs = {"embed_dim": E, "num_heads": HEADS, **(attrs or {})}
    call = dict(call or {})
    batch_first = attrs.get("batch_first", False)
    kdim, vdim = attrs.get("kdim") or E, attrs.get("vdim") or E

    def layout(length, features):
        if not batched:
            return (length, features)
        return (N, length, features) if batch_first else (length, N, features)

    if self_attention:
        inputs = [("x", layout(L, E))]
    else:
        inputs = [("query", layout(L, E)), ("key", layout(S, kdim)), ("value", layout(S, vdim))]
    source = L if self_attention else S
    mask_shapes = {
        "attn_mask": (L, source),
        "attn_mask_3d": (N * HEADS, L, source),
        "key_padding_mask": (N, source) if batched else (source,),
    }
    mask_list = [(k, kind, mask_shapes[k]) for k, kind in masks]

    def forward(module, t, m):
        q, k, v = (t["x"],) * 3 if self_attention else (t["query"], t["key"], t["value"])
        attn_mask = m.get("attn_mask", m.get("attn_mask_3d"))
        if call.get("is_causal"):
            attn_mask = causal(L, source)
        return module(
            q,
            k,
            v,
            key_padding_mask=m.get("key_padding_mask"),
            need_weights=call.get("need_weights", True),
            attn_mask=attn_mask,
            average_attn_weights=call.get("average_attn_weights", True),
        )

    return module_case(
        g, name, lambda: nn.MultiheadAttention(**attrs), attrs, inputs, mask_list, call, forward, ["output", "weights"]
    )


# ---------------------------------------------------------------------------------------------------
# transformer layers and stacks


def layer_attrs(**kw):
    return {"d_model": E, "nhead": HEADS, "dim_feedforward": FF, "dropout": 0.0, **kw}


def encoder(g, name, L, N, attrs, masks=(), call=None, layers=None, batched=True):
    attrs = layer_attrs(**attrs)
    call = dict(call or {})
    batch_first = attrs.get("batch_first", False)
    shape = ((N, L, E) if batch_first else (L, N, E)) if batched else (L, E)
    mask_shapes = {"src_mask": (L, L), "src_key_padding_mask": (N, L) if batched else (L,)}
    mask_list = [(k, kind, mask_shapes[k]) for k, kind in masks]

    def make():
        layer = nn.TransformerEncoderLayer(**attrs)
        if layers is None:
            return layer
        return nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(E, eps=attrs.get("layer_norm_eps", 1e-5)))

    def forward(module, t, m):
        mask = causal(L, L) if call.get("is_causal") else m.get("src_mask")
        kpm = m.get("src_key_padding_mask")
        if layers is None:
            return (module(t["src"], src_mask=mask, src_key_padding_mask=kpm),)
        return (module(t["src"], mask=mask, src_key_padding_mask=kpm),)

    stored = {**attrs, **({} if layers is None else {"num_layers": layers, "norm": True})}
    return module_case(g, name, make, stored, [("src", shape)], mask_list, call, forward, ["output"])


def decoder(g, name, T, S, N, attrs, masks=(), call=None, layers=None, batched=True):
    attrs = layer_attrs(**attrs)
    call = dict(call or {})
    batch_first = attrs.get("batch_first", False)

    def layout(length):
        if not batched:
            return (length, E)
        return (N, length, E) if batch_first else (length, N, E)

    mask_shapes = {
        "tgt_mask": (T, T),
        "memory_mask": (T, S),
        "tgt_key_padding_mask": (N, T) if batched else (T,),
        "memory_key_padding_mask": (N, S) if batched else (S,),
    }
    mask_list = [(k, kind, mask_shapes[k]) for k, kind in masks]

    def make():
        layer = nn.TransformerDecoderLayer(**attrs)
        if layers is None:
            return layer
        return nn.TransformerDecoder(layer, layers, norm=nn.LayerNorm(E, eps=attrs.get("layer_norm_eps", 1e-5)))

    def forward(module, t, m):
        tgt_mask = causal(T, T) if call.get("tgt_is_causal") else m.get("tgt_mask")
        return (
            module(
                t["tgt"],
                t["memory"],
                tgt_mask=tgt_mask,
                memory_mask=m.get("memory_mask"),
                tgt_key_padding_mask=m.get("tgt_key_padding_mask"),
                memory_key_padding_mask=m.get("memory_key_padding_mask"),
            ),
        )

    stored = {**attrs, **({} if layers is None else {"num_layers": layers, "norm": True})}
    inputs = [("tgt", layout(T)), ("memory", layout(S))]
    return module_case(g, name, make, stored, inputs, mask_list, call, forward, ["output"])


def cases(g):
    """Every case; `g` is generate.py (its seed_of, float64_module and arr)."""
    return [
        # nn.MultiheadAttention
        mha(g, "mha_cross_seq_first", 4, 5, 3),
        mha(g, "mha_self_batch_first_bool_mask_per_head", 4, 4, 3, {"batch_first": True},
            {"average_attn_weights": False}, [("attn_mask", "bool")], self_attention=True),
        mha(g, "mha_float_mask_key_padding", 4, 5, 3, call={}, masks=[("attn_mask", "float"), ("key_padding_mask", "bool")]),
        mha(g, "mha_3d_bool_mask_batch_first", 4, 5, 2, {"batch_first": True}, masks=[("attn_mask_3d", "bool")]),
        mha(g, "mha_float_key_padding", 3, 5, 2, masks=[("key_padding_mask", "float")]),
        mha(g, "mha_causal_self_key_padding", 5, 5, 2, call={"is_causal": True}, masks=[("key_padding_mask", "bool")],
            self_attention=True),
        mha(g, "mha_kdim_vdim_no_bias", 4, 6, 2, {"kdim": 3, "vdim": 5, "bias": False, "batch_first": True}),
        mha(g, "mha_unbatched_key_padding", 4, 5, 1, masks=[("key_padding_mask", "bool")], batched=False),
        mha(g, "mha_bias_kv_zero_attn", 4, 5, 2, {"add_bias_kv": True, "add_zero_attn": True},
            masks=[("attn_mask", "bool"), ("key_padding_mask", "bool")]),
        mha(g, "mha_no_weights", 4, 5, 2, call={"need_weights": False}, masks=[("attn_mask", "bool")]),
        # nn.TransformerEncoderLayer
        encoder(g, "encoder_layer_post_norm_relu", 5, 3, {}, masks=[("src_mask", "float"), ("src_key_padding_mask", "bool")]),
        encoder(g, "encoder_layer_pre_norm_gelu_batch_first_causal", 5, 3,
                {"norm_first": True, "activation": "gelu", "batch_first": True}, masks=[("src_key_padding_mask", "bool")],
                call={"is_causal": True}),
        encoder(g, "encoder_layer_bool_mask_eps", 4, 2, {"layer_norm_eps": 1e-3}, masks=[("src_mask", "bool")]),
        encoder(g, "encoder_layer_unbatched_pre_norm", 4, 1, {"norm_first": True}, masks=[("src_key_padding_mask", "bool")],
                batched=False),
        # nn.TransformerDecoderLayer
        decoder(g, "decoder_layer_post_norm_relu_causal", 4, 6, 2, {},
                masks=[("memory_key_padding_mask", "bool"), ("tgt_key_padding_mask", "bool")], call={"tgt_is_causal": True}),
        decoder(g, "decoder_layer_pre_norm_gelu_batch_first", 4, 5, 3,
                {"norm_first": True, "activation": "gelu", "batch_first": True},
                masks=[("tgt_mask", "float"), ("memory_mask", "bool")]),
        decoder(g, "decoder_layer_unbatched", 3, 4, 1, {"norm_first": True}, masks=[("memory_mask", "float")], batched=False),
        # stacks
        encoder(g, "encoder_2_layers_norm", 5, 2, {"batch_first": True}, masks=[("src_key_padding_mask", "bool")],
                call={"is_causal": True}, layers=2),
        decoder(g, "decoder_2_layers_norm_pre_norm", 4, 5, 2, {"norm_first": True, "activation": "gelu"},
                masks=[("memory_key_padding_mask", "bool")], call={"tgt_is_causal": True}, layers=2),
    ]
