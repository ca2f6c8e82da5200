/**
 * Running a program in ONNX Runtime (the `onnxruntime-node` package, an optional peer dependency): one
 * InferenceSession per compiled signature, fed and read as typed arrays. The package is loaded on first
 * use by a dynamic import whose name bundlers do not follow, so the browser build and installs without
 * it are unaffected; only the structural slice of its API used here is typed.
 */
import { ConcreteArray, type NdArray } from "../core/array.js";
import type { DType, TypedArray } from "../core/dtype.js";
import type { Program } from "../core/ir.js";
import { programToOnnx } from "./onnx-export.js";

interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

interface OrtModule {
  readonly InferenceSession: {
    create(model: Uint8Array, options: Record<string, unknown>): Promise<OrtSession>;
  };
  readonly Tensor: new (type: string, data: TypedArray, dims: readonly number[]) => OrtTensor;
  readonly env: { readonly versions?: { readonly node?: string; readonly common?: string } };
}

/** The package the backend loads. */
export const ONNX_RUNTIME_PACKAGE = "onnxruntime-node";

let ortModule: Promise<OrtModule> | null = null;

/** onnxruntime-node, loaded once; rejects with an error that says how to install it. */
export function loadOnnxRuntime(): Promise<OrtModule> {
  ortModule ??= (async () => {
    // A specifier in a variable: bundlers (the browser build) leave the import alone.
    const specifier: string = ONNX_RUNTIME_PACKAGE;
    try {
      const m = (await import(/* @vite-ignore */ specifier)) as OrtModule & { default?: OrtModule };
      return m.InferenceSession ? m : m.default!;
    } catch (err) {
      ortModule = null;
      throw new Error(
        `jit backend "onnxruntime": the optional peer dependency ${ONNX_RUNTIME_PACKAGE} could not be loaded (npm install ${ONNX_RUNTIME_PACKAGE}): ${(err as Error).message}`,
      );
    }
  })();
  return ortModule;
}

/** The version of onnxruntime-node once loaded, else null. */
export async function onnxRuntimeVersion(): Promise<string | null> {
  const ort = await loadOnnxRuntime();
  return ort.env.versions?.node ?? ort.env.versions?.common ?? null;
}

const TENSOR_TYPE: Partial<Record<DType, string>> = {
  float32: "float32",
  float64: "float64",
  int32: "int32",
  uint32: "uint32",
  int16: "int16",
  uint16: "uint16",
  int8: "int8",
  uint8: "uint8",
  bool: "bool",
};

/** A program compiled into one ONNX Runtime session. */
export interface OnnxRuntimePlan {
  /** Runs the session on the program's inputs; outputs are new arrays over the runtime's buffers. */
  run(inputs: readonly ConcreteArray[]): Promise<ConcreteArray[]>;
  /** Frees the native session. */
  release(): Promise<void>;
}

/** Settings of the sessions. */
export interface OnnxRuntimeSettings {
  /** ONNX Runtime's intraOpNumThreads: threads one operator may use. */
  readonly threads: number;
}

/**
 * Compiles `program` (constants stored as initializers) into an ONNX Runtime session with `settings`.
 * Throws an OnnxExportError (from the exporter) for a primitive without an ONNX lowering.
 */
export async function compileForOnnxRuntime(
  program: Program,
  consts: readonly NdArray[],
  settings: OnnxRuntimeSettings,
): Promise<OnnxRuntimePlan> {
  // The passes jit runs before planning (simplification, constant folding, CSE, dead code): the traced
  // program still holds what transposition leaves, such as products with zeros.
  // Loaded here, not at the top: passes.ts reaches the ops through a cycle that only resolves when the
  // library's entry point loads first, and the bench's runner imports this module before it.
  const { optimize } = await import("./passes.js");
  const optimized = optimize({ program, consts: [...consts] });
  // Loop bodies too: simplification turns a reverse scan's sums of padded pieces into one Concat.
  const model = programToOnnx(optimized.program, optimized.consts, { optimizeSubprogram: optimize });
  const ort = await loadOnnxRuntime();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: settings.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const outAvals = program.outAvals;
  return {
    async run(inputs) {
      const feeds: Record<string, OrtTensor> = {};
      inputs.forEach((x, i) => {
        const type = TENSOR_TYPE[x.dtype];
        if (type === undefined)
          throw new Error(`jit backend "onnxruntime": ${x.dtype} inputs are not supported`);
        // The typed array is passed as is (no copy on the JS side); bool is stored as bytes already.
        feeds[session.inputNames[i]!] = new ort.Tensor(type, x.storage, x.shape);
      });
      const results = await session.run(feeds);
      return session.outputNames.map((name, i) => {
        const aval = outAvals[i]!;
        const data = results[name]!.data as TypedArray;
        return new ConcreteArray(aval.shape, aval.dtype, data);
      });
    },
    release: () => session.release(),
  };
}
