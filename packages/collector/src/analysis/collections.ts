/**
 * The value of `key`, created with `create` on first use.
 *
 * @example
 * getOrCreate(byResource, access.resource, () => []).push(access);
 */
export function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

/** Orders ids (or any strings) by code unit, as `<` does. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
