/**
 * Validation of option bags. TypeScript catches a misspelled or unsupported option only in typed code;
 * a JavaScript caller's `{ mode: "reflect" }` or `{ wieght }` would otherwise be ignored silently.
 */

/**
 * Throws unless `options` is undefined or a plain object whose keys are all in `allowedKeys`: an unknown
 * key is a TypeError naming `fnName`, the key and the allowed keys. A key whose value is `undefined`
 * counts as absent only if it is allowed.
 */
export function checkOptions(fnName: string, options: unknown, allowedKeys: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    const got = Array.isArray(options)
      ? "an array"
      : options === null
        ? "null"
        : `${typeof options} ${String(options)}`;
    throw new TypeError(
      `${fnName}: options must be an object${allowedKeys.length ? ` with keys among ${fmtKeys(allowedKeys)}` : ""}, got ${got}`,
    );
  }
  for (const key in options) {
    if (!allowedKeys.includes(key)) {
      throw new TypeError(
        allowedKeys.length
          ? `${fnName}: unknown option '${key}'; the options are ${fmtKeys(allowedKeys)}`
          : `${fnName}: unknown option '${key}'; it takes no options`,
      );
    }
  }
}

/**
 * The keys of an options interface as a list for `checkOptions`, written as an object so the compiler
 * checks that the list is complete and has no extra key: `optionKeys<LineChartOptions>({ title: true, ... })`.
 * A new option added to the interface then fails to compile until it is listed here too.
 */
export function optionKeys<T extends object>(
  keys: { readonly [K in keyof Required<T>]: true },
): readonly string[] {
  return Object.keys(keys);
}

/**
 * Throws a RangeError naming `fnName` and the allowed values unless `value` is undefined (the default) or
 * one of `allowed`: for options whose other values the function does not implement.
 */
export function checkOptionValue<T extends string | number | boolean>(
  fnName: string,
  key: string,
  value: unknown,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined || (allowed as readonly unknown[]).includes(value)) return value as T | undefined;
  throw new RangeError(
    `${fnName}: option ${key} must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}, got ${fmtValue(value)}`,
  );
}

function fmtKeys(keys: readonly string[]): string {
  return keys.map((k) => `'${k}'`).join(", ");
}

function fmtValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object" && value !== null) return Array.isArray(value) ? "an array" : "an object";
  return String(value);
}
