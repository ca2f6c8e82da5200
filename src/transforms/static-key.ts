/**
 * Cache keys of jit's static arguments. Two static values share a key only when the function traced
 * with one would trace the same program with the other:
 * - numbers by their exact value (`Object.is`): NaN is one value, -0 and 0 differ (x * -0 is not x * 0);
 * - strings, booleans, bigints, null and undefined by value;
 * - plain arrays and plain objects (prototype Object or null) structurally, element by element and
 *   key by key (key order does not matter);
 * - everything else (functions and closures, class instances, Sets, Maps, arrays, symbols) by identity:
 *   the same object hits the cache, another one with equal contents traces again, and mutating an object
 *   after a call is not seen (pass a new object, or give `jit` a `staticKey` that reads its contents).
 */

/** Identities of the objects seen as static values; numbers are never reused, so keys never collide. */
const identities = new WeakMap<object, number>();
let nextIdentity = 0;

/** Symbols are few and registered ones live forever anyway: a plain map holds their identities. */
const symbols = new Map<symbol, number>();

function identityKey(value: object | symbol): string {
  const isSymbol = typeof value === "symbol";
  let id = isSymbol ? symbols.get(value) : identities.get(value);
  if (id === undefined) {
    id = nextIdentity++;
    if (isSymbol) symbols.set(value, id);
    else identities.set(value, id);
  }
  return `#${id}`;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && Object.getOwnPropertySymbols(value).length === 0;
}

/**
 * The cache key of one static value (see the module comment for the rules). `who` names the function
 * in the error thrown for a plain array or object that contains itself.
 */
export function staticValueKey(who: string, value: unknown): string {
  const open = new Set<object>();
  const key = (v: unknown): string => {
    switch (typeof v) {
      case "undefined":
        return "u";
      case "boolean":
        return v ? "t" : "f";
      case "number":
        return Object.is(v, -0) ? "-0" : `${v}`;
      case "bigint":
        return `${v}n`;
      case "string":
        return JSON.stringify(v);
      case "symbol":
      case "function":
        return identityKey(v);
    }
    if (v === null) return "null";
    const obj = v as object;
    const plainArray = Array.isArray(obj) && Object.getPrototypeOf(obj) === Array.prototype;
    if (!plainArray && !isPlainObject(obj)) return identityKey(obj);
    if (open.has(obj)) {
      throw new TypeError(
        `${who}: a static argument contains itself; give jit a staticKey option that returns a key for it`,
      );
    }
    open.add(obj);
    const parts = plainArray
      ? Array.from(obj as unknown[], key).join(",")
      : Object.keys(obj)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${key((obj as Record<string, unknown>)[k])}`)
          .join(",");
    open.delete(obj);
    return plainArray ? `[${parts}]` : `{${parts}}`;
  };
  return key(value);
}
