// Values no field of this platform has a use for, found wherever they hide in parsed input.

/** JSON bodies nest at most this deep (a template needs about 6 levels). */
export const MAX_BODY_DEPTH = 32;

/** Half of a UTF-16 pair without its other half: no UTF-8 text (nor PostgreSQL's jsonb) can hold it. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type Problem = { field: string; message: string };

/** `body` + `tasks`/`0` → `body.tasks[0]`. */
function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/**
 * The first string (value or key) carrying a NUL byte or a lone surrogate, or the first place nested deeper than
 * `maxDepth`, walking iteratively so that no input can exhaust the stack.
 */
export function findHostileValue(value: unknown, root: string, maxDepth = MAX_BODY_DEPTH): Problem | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: root, depth: 0 }];
  while (stack.length) {
    const { value: current, path, depth } = stack.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return { field: path, message: 'must not contain NUL bytes' };
      if (LONE_SURROGATE.test(current)) return { field: path, message: 'must be valid Unicode text (it has a lone surrogate)' };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return { field: path, message: `is nested more than ${maxDepth} levels deep` };
    if (Array.isArray(current)) {
      current.forEach((item, i) => stack.push({ value: item, path: childPath(path, i), depth: depth + 1 }));
      continue;
    }
    for (const [key, item] of Object.entries(current)) {
      if (key.includes('\u0000') || LONE_SURROGATE.test(key))
        return { field: path, message: 'must not have a property name containing NUL bytes or lone surrogates' };
      stack.push({ value: item, path: childPath(path, key), depth: depth + 1 });
    }
  }
  return undefined;
}
