/**
 * Dot-separated property paths (spec appendix "Dot-separated property paths"), split once when a
 * ruleset is compiled and then walked per event.
 */

/** `.` separates keys, `\.` is a literal dot and `\\` a literal backslash; any other backslash is kept as is. */
export function splitPath(key: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < key.length; i++) {
    const ch = key[i]!;
    const next = key[i + 1];
    if (ch === '\\' && (next === '.' || next === '\\')) {
      current += next;
      i++;
    } else if (ch === '.') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

/** The value at already split path `parts`, descending through objects only (own keys); undefined when absent. */
export function valueAtPath(root: unknown, parts: readonly string[]): unknown {
  let v = root;
  for (let i = 0; i < parts.length; i++) {
    if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, parts[i]!)) return undefined;
    v = v[parts[i]!];
  }
  return v;
}

/** The value at a dot-separated path (splits it on every call: for one-off lookups). */
export function propertyAt(root: unknown, key: string): unknown {
  return valueAtPath(root, splitPath(key));
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
