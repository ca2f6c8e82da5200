/**
 * The PyTorch "Neural Networks" tutorial, walked through the functional way:
 *
 *   1. define the network           -> `lenet`, a `{ init, apply }` value (docs/examples/lenet.ts)
 *   2. print it, count parameters   -> `layers.summary`, `tree.leaves`, `tree.size`
 *   3. run a random 1x1x32x32 input -> `lenet.apply(params, input)`
 *   4. out.backward(torch.randn(1, 10)) -> `vjp` and a random cotangent
 *   5. MSE loss against a dummy target, conv1.bias.grad -> `grad(loss)(...).conv1.bias`
 *   6. p.data.sub_(p.grad * lr)      -> `tree.map` over params and grads
 *   7. optim.SGD, zero_grad, step    -> `optim.sgd`: `update` + `applyUpdates`; nothing to zero
 *   8. the graph autograd built      -> the traced program (`makeProgram`), and as a Graphviz picture
 *
 *   npx tsx docs/examples/tutorial.ts [--out out]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  grad,
  jit,
  layers,
  makeProgram,
  type NdArray,
  nn,
  optim,
  random,
  tree,
  valueAndGrad,
  viz,
  vjp,
} from "tracegrad";
import { type LeNetParams, lenet } from "./lenet.js";

export interface TutorialOptions {
  /** Where the graph (.dot, and .svg when Graphviz is installed) is written. */
  outDir: string;
  quiet: boolean;
}

export interface TutorialResult {
  /** The number of parameter arrays (10) and of parameters (61,706). */
  parameterArrays: number;
  parameterCount: number;
  outputShape: readonly number[];
  /** The gradient of the loss with respect to conv1's bias, as the tutorial prints it. */
  conv1BiasGrad: number[];
  /** The loss before any update, after the manual SGD update, and after one `optim.sgd` step. */
  losses: { initial: number; afterManualUpdate: number; afterOptimizerStep: number };
  /** The printed program of the loss and its gradient. */
  program: string;
  dot: string;
  dotPath: string;
  /** Set when Graphviz's `dot` was found and rendered the graph. */
  svgPath: string | undefined;
}

/** Renders DOT text to SVG with Graphviz's `dot`, or returns undefined when it is not installed. */
export function renderDot(dot: string): string | undefined {
  const result = spawnSync("dot", ["-Tsvg"], { input: dot, encoding: "utf8" });
  return result.status === 0 ? result.stdout : undefined;
}

export function main(overrides: Partial<TutorialOptions> = {}): TutorialResult {
  const options: TutorialOptions = { outDir: "out", quiet: false, ...overrides };
  const say = (...lines: string[]) => {
    if (!options.quiet) process.stdout.write(`${lines.join("\n")}\n`);
  };
  const [initKey, inputKey, cotangentKey, targetKey] = random.split(random.key(0), 4);

  // 1-2. The network is a value; its parameters are a tree we create and hold ourselves.
  let params: LeNetParams = lenet.init(initKey!);
  say("## print(net)", layers.summary(lenet, params));
  const parameterArrays = tree.leaves(params).length;
  const parameterCount = tree.size(params);
  say(
    `\n## len(list(net.parameters())) -> ${parameterArrays} arrays, ${parameterCount.toLocaleString("en-US")} numbers`,
  );
  say(`conv1's weight: ${params.conv1.weight.shape.join("x")}`);

  // 3. A forward pass on a random 32x32 image (a batch of one, one channel).
  const input = random.normal(inputKey!, [1, 1, 32, 32]);
  const out = lenet.apply(params, input);
  say("\n## out = net(input)", String(out));

  // 4. out.backward(torch.randn(1, 10)): the vector-Jacobian product with a random cotangent. There
  //    is no net.zero_grad(): vjp returns fresh gradients instead of adding into .grad fields.
  const [, pullback] = vjp((p: LeNetParams) => lenet.apply(p, input), params);
  const [cotangentGrads] = pullback(random.normal(cotangentKey!, [1, 10]));
  say("\n## out.backward(torch.randn(1, 10)) -> vjp", `conv1.bias: ${cotangentGrads.conv1.bias}`);

  // 5. A loss against a dummy target, and its gradient: loss.backward() is grad(loss).
  const target = random.normal(targetKey!, [1, 10]);
  const loss = (p: LeNetParams, x: NdArray, y: NdArray) => nn.mseLoss(lenet.apply(p, x), y);
  const initialLoss = loss(params, input, target).item();
  say("\n## loss = criterion(output, target)", `loss: ${initialLoss.toFixed(6)}`);
  const grads = grad(loss)(params, input, target);
  say("\n## conv1.bias.grad after loss.backward()", String(grads.conv1.bias));

  // 6. The manual update, for each parameter p: p <- p - lr * grad. Pure: params is a new tree.
  const learningRate = 0.01;
  const manual = tree.map((p: NdArray, g: NdArray) => p.sub(g.mul(learningRate)), params, grads);
  const afterManualUpdate = loss(manual, input, target).item();
  say("\n## p.data.sub_(p.grad.data * learning_rate) -> tree.map", `loss: ${afterManualUpdate.toFixed(6)}`);

  // 7. torch.optim.SGD: the optimizer is a pair of pure functions and its state is ours to keep.
  //    optimizer.zero_grad() has no counterpart, and optimizer.step() is update + applyUpdates.
  const optimizer = optim.sgd({ lr: learningRate });
  let optState = optimizer.init(params);
  const [value, stepGrads] = valueAndGrad(loss)(params, input, target);
  const [updates, nextState] = optimizer.update(stepGrads, optState, params);
  params = optim.applyUpdates(params, updates);
  optState = nextState;
  const afterOptimizerStep = loss(params, input, target).item();
  say(
    "\n## optimizer.step() -> optimizer.update + optim.applyUpdates",
    `loss: ${value.item().toFixed(6)} -> ${afterOptimizerStep.toFixed(6)}`,
  );

  // 8. What autograd records as grad_fn links, we get as a program: the forward pass, then the
  //    backward pass that linearize + transpose derived from it.
  const traced = makeProgram(valueAndGrad(loss))(params, input, target);
  const program = traced.toString();
  say("\n## the traced forward + backward program (makeProgram(valueAndGrad(loss)))", program);

  // The same computation after jit's clean-up (dead code, common subexpressions), as a picture:
  // forward equations blue, backward orange, dashed edges for the forward values the backward pass reuses.
  const optimized = jit(valueAndGrad(loss)).lower(params, input, target).executable.program;
  const dot = viz.programToDot(
    { program: optimized, inTree: traced.inTree, outTree: traced.outTree },
    {
      title: "LeNet: loss and gradient for one 32x32 image (after jit's simplification)",
      forwardOutputs: [0],
      argNames: ["params", "input", "target"],
      resultNames: ["loss", "grads"],
    },
  );
  mkdirSync(options.outDir, { recursive: true });
  const dotPath = join(options.outDir, "lenet-graph.dot");
  writeFileSync(dotPath, dot);
  const svg = renderDot(dot);
  const svgPath = svg === undefined ? undefined : join(options.outDir, "lenet-graph.svg");
  if (svg !== undefined && svgPath !== undefined) writeFileSync(svgPath, svg);
  say(`\nwrote ${dotPath}${svgPath ? ` and ${svgPath}` : " (install Graphviz to render it: dot -Tsvg)"}`);

  return {
    parameterArrays,
    parameterCount,
    outputShape: out.shape,
    conv1BiasGrad: [...grads.conv1.bias.toTypedArray()],
    losses: { initial: initialLoss, afterManualUpdate, afterOptimizerStep },
    program,
    dot,
    dotPath,
    svgPath,
  };
}

// Run as a script (not when imported by the tests).
if (process.argv[1] && /tutorial\.ts$/.test(process.argv[1])) {
  const outIndex = process.argv.indexOf("--out");
  main(outIndex >= 0 ? { outDir: process.argv[outIndex + 1]! } : {});
}
