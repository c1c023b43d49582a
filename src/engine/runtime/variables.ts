import type { Variables } from '../types.js';

/** Variables from outside are copied through JSON so no `__proto__` key reaches an object. */
export function safeCopy(variables: Variables): Variables {
  const copy: Variables = Object.create(null);
  for (const [key, value] of Object.entries(variables ?? {})) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    copy[key] = value;
  }
  return { ...copy };
}
