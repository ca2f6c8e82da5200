"""PyTorch side of test/io/torch-interop.test.ts.

    python3 torch_interop.py forward FILE   read our file, run the same model in PyTorch, print JSON
    python3 torch_interop.py write FILE     write a state_dict as safetensors (own writer), print JSON of values
    python3 torch_interop.py lstm FILE      write a model with an LSTM (state_dict and inputs), print its outputs
    python3 torch_interop.py transformer FILE   the same for a small encoder-decoder transformer (float64)
"""

import json
import os
import struct
import sys

import torch

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from read_safetensors import read_safetensors  # noqa: E402

NAMES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
# Reinterpretations numpy can serialize (numpy has no bfloat16).
RAW_VIEW = {torch.bfloat16: torch.int16, torch.float16: torch.int16}


def values(t):
    """Exact values as JSON: float64 holds every value of these dtypes; non-finite values as strings."""
    out = []
    for v in t.detach().double().flatten().tolist():
        out.append(v if v == v and abs(v) != float("inf") else repr(v))
    return out


def forward(path):
    tensors, metadata = read_safetensors(path)
    model = torch.nn.Linear(4, 3)
    # strict=True: the file must hold exactly the model's parameters under PyTorch's names.
    model.load_state_dict({"weight": tensors["linear.weight"], "bias": tensors["linear.bias"]}, strict=True)
    with torch.no_grad():
        y = torch.tanh(model(tensors["x"]))
    others = {name: {"dtype": str(t.dtype), "shape": list(t.shape), "values": values(t)} for name, t in tensors.items()}
    print(json.dumps({"metadata": metadata, "y": values(y), "y_shape": list(y.shape), "tensors": others}))


def write(path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    model(torch.randn(8, 4))  # one training step so the BatchNorm buffers are not their defaults
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}  # has 1.num_batches_tracked: int64
    state["half_weight"] = state["0.weight"].half()
    state["bf16_weight"] = state["0.weight"].bfloat16()
    state["indices"] = torch.tensor([[0, -1], [2147483647, -2147483648]], dtype=torch.int64)
    state["mask"] = torch.tensor([True, False, True])
    state["double"] = torch.tensor([1 / 3, -2.5e-300], dtype=torch.float64)
    state["bytes"] = torch.tensor([0, 255], dtype=torch.uint8)
    # Every binary16 and bfloat16 bit pattern, with PyTorch's own float32 conversion beside it.
    all_bits = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
    state["all_f16"] = all_bits.view(torch.float16)
    state["all_f16_as_f32"] = all_bits.view(torch.float16).float()
    state["all_bf16"] = all_bits.view(torch.bfloat16)
    state["all_bf16_as_f32"] = all_bits.view(torch.bfloat16).float()

    save(path, state)
    skip = {"all_f16", "all_f16_as_f32", "all_bf16", "all_bf16_as_f32"}
    print(json.dumps({name: {"dtype": str(t.dtype), "shape": list(t.shape), "values": values(t)} for name, t in state.items() if name not in skip}))


def save(path, state):
    """A safetensors file of `state` (name -> tensor), written by the spec."""
    header = {"__metadata__": {"format": "pt", "writer": "torch_interop.py"}}
    chunks = []
    offset = 0
    for name, t in state.items():
        raw = t.contiguous().view(RAW_VIEW.get(t.dtype, t.dtype)).numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


class Tagger(torch.nn.Module):
    """A bidirectional 2-layer LSTM (batch_first) and a linear head on its output."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
        self.head = torch.nn.Linear(10, 2)

    def forward(self, x, hx):
        out, (h, c) = self.lstm(x, hx)
        return self.head(out), h, c


def lstm(path):
    torch.manual_seed(0)
    model = Tagger()
    x = torch.randn(4, 6, 3)
    h0 = torch.randn(4, 4, 5)
    c0 = torch.randn(4, 4, 5)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    save(path, {**state, "input.x": x, "input.h0": h0, "input.c0": c0})
    with torch.no_grad():
        y, h, c = model(x, (h0, c0))
    print(json.dumps({"keys": list(state.keys()), **{k: {"shape": list(t.shape), "values": values(t)} for k, t in [("y", y), ("h", h), ("c", c)]}}))


class TinySeq2Seq(torch.nn.Module):
    """Embedding, a 2-layer pre-norm gelu TransformerEncoder with a final norm, a post-norm decoder layer,
    a MultiheadAttention over the memory (its weights returned) and a linear head; batch_first."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(11, 8)
        layer = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, norm_first=True, activation="gelu")
        self.encoder = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(8))
        self.decoder = torch.nn.TransformerDecoderLayer(8, 2, 16, batch_first=True)
        self.attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = torch.nn.Linear(8, 11)

    def forward(self, src, tgt, src_padding):
        memory = self.encoder(self.embed(src), src_key_padding_mask=src_padding)
        causal = torch.ones(tgt.shape[1], tgt.shape[1], dtype=torch.bool).triu(1)
        out = self.decoder(self.embed(tgt), memory, tgt_mask=causal, memory_key_padding_mask=src_padding)
        _, weights = self.attn(out, memory, memory, key_padding_mask=src_padding)
        return self.head(out), weights


def transformer(path):
    torch.manual_seed(0)
    model = TinySeq2Seq().double()
    with torch.no_grad():
        for p in model.parameters():  # off the initial values (zero biases, unit norms)
            p.add_(torch.randn(p.shape, dtype=torch.float64) * 0.1)
    model.eval()
    src = torch.randint(0, 11, (3, 6))
    tgt = torch.randint(0, 11, (3, 5))
    src_padding = torch.zeros(3, 6, dtype=torch.bool)
    src_padding[1, 4:] = True
    src_padding[2, 2:] = True
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    save(path, {**state, "input.src": src, "input.tgt": tgt, "input.src_padding": src_padding})
    # Grad stays enabled: PyTorch 1.13's inference fast path (no_grad) writes zeros at padded positions.
    y, weights = model(src, tgt, src_padding)
    print(json.dumps({"keys": list(state.keys()), **{k: {"shape": list(t.shape), "values": values(t)} for k, t in [("y", y), ("weights", weights)]}}))


if __name__ == "__main__":
    {"forward": forward, "write": write, "lstm": lstm, "transformer": transformer}[sys.argv[1]](sys.argv[2])
