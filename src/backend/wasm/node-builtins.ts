/**
 * Node's built-in modules and environment, reached without an import (`process.getBuiltinModule`), so the
 * platform-neutral bundle carries no `node:` import and a browser simply gets `undefined`.
 */

interface NodeProcess {
  getBuiltinModule?: (id: string) => unknown;
  env?: Record<string, string | undefined>;
}

const nodeProcess = (): NodeProcess | undefined => (globalThis as { process?: NodeProcess }).process;

/** A Node built-in module (`node:os`, `node:v8`, ...), or undefined outside Node (or before Node 20.16). */
export function nodeBuiltin<T>(id: string): T | undefined {
  return nodeProcess()?.getBuiltinModule?.(id) as T | undefined;
}

/** An environment variable of the process, or undefined (unset, or no process environment). */
export function environmentVariable(name: string): string | undefined {
  return nodeProcess()?.env?.[name];
}
