/**
 * The code of saving-loading.md: checkpoints as safetensors files. test/examples/guides.test.ts runs
 * every function, giving each a temporary directory to write in.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { layers, optim, random } from "tracegrad";
import { io } from "tracegrad/node";

const model = layers.sequential(layers.linear(4, 8), layers.relu(), layers.linear(8, 2));
const scratch = () => mkdtempSync(join(tmpdir(), "tracegrad-guide-"));

export async function saveAndLoad(dir = scratch()) {
  const params = model.init(random.key(0));
  const optimizer = optim.adam({ lr: 1e-3 });
  const optState = optimizer.init(params);
  const path = join(dir, "checkpoint.safetensors");

  // Any tree of arrays and numbers: here everything needed to resume training.
  await io.save(path, { params, optState, epoch: 3 });

  // With a template (the same structure, e.g. freshly initialised), the result has exactly its shape
  // and type, and every leaf is checked against the template's shape and dtype.
  const template = { params: model.init(random.key(1)), optState, epoch: 0 };
  const loaded = await io.load(path, template);
  if (E.isLeft(loaded)) throw new Error(loaded.left.message);
  const { params: restored, epoch } = loaded.right; // epoch: 3, a JS number again
  return { params, restored, epoch };
}

export async function loadWithoutTemplate(dir = scratch()) {
  const path = join(dir, "params.safetensors");
  await io.save(path, model.init(random.key(0)), { metadata: { model: "mlp 4-8-2" } });
  // Without a template the tree is rebuilt from the keys: "0.weight", "0.bias", "2.weight", "2.bias".
  const loaded = await io.load(path);
  return { tree: E.isRight(loaded) ? loaded.right : undefined };
}

export async function failures(dir = scratch()) {
  // load never throws: a missing or malformed file is a Left with a kind and a message.
  const missing = await io.load(join(dir, "nope.safetensors"));
  writeFileSync(join(dir, "bad.safetensors"), new Uint8Array([1, 2, 3]));
  const malformed = await io.load(join(dir, "bad.safetensors"));
  const kinds = [missing, malformed].map((r) => (E.isLeft(r) ? r.left.kind : "ok"));
  return { kinds }; // ["io-error", "header-length-beyond-file"]
}

export function inMemory() {
  const params = model.init(random.key(0));
  // The bytes of a safetensors file, and back: for sending over a network or storing elsewhere.
  const bytes = io.safetensors.encode(params, { metadata: { step: "100" } });
  const file = io.safetensors.decodeFile(bytes); // Either<DecodeError, { tensors, metadata }>
  const keys = E.isRight(file) ? Object.keys(file.right.tensors) : [];
  const metadata = E.isRight(file) ? file.right.metadata : {};
  const tree = io.safetensors.decodeTree(bytes, params); // Either<DecodeError, typeof params>
  return { keys, metadata, roundTrip: E.isRight(tree) };
}
