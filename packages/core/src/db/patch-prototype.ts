import { bindContext } from '../context/async-context.js';
import { RacewayConfigError } from '../errors.js';

/** A method as a driver prototype holds it. */
export type PrototypeMethod = (this: unknown, ...args: unknown[]) => unknown;

type Patchable = Record<string | symbol, unknown>;

/**
 * The object of `proto`'s prototype chain that defines `name` itself (pg.Pool extends pg-pool's
 * Pool, mysql2's Connection extends BaseConnection): patching there covers every subclass.
 * Undefined when no object of the chain below `Object.prototype` defines it.
 */
export function prototypeDefining(proto: object | undefined, name: string): object | undefined {
  for (let p = proto; p != null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, name)) return p;
  }
  return undefined;
}

/**
 * Replaces the method `name` of `target` with `wrap(method)`, and keeps the method on the
 * wrapper under `originalKey`, a registered symbol (`Symbol.for`) of the driver package. Does
 * nothing when `target` is undefined, has no such method, or the method is already wrapped.
 *
 * Why a registered symbol: the ESM and CJS builds of a driver package, loaded side by side,
 * must see each other's wrapper, or every query would be recorded twice.
 */
export function wrapPrototypeMethod(
  target: object | undefined,
  name: string,
  originalKey: symbol,
  wrap: (original: PrototypeMethod) => PrototypeMethod,
): void {
  const methods = target as Patchable | undefined;
  const current = methods?.[name] as (PrototypeMethod & Patchable) | undefined;
  if (
    methods === undefined ||
    typeof current !== 'function' ||
    current[originalKey] !== undefined
  ) {
    return;
  }
  const wrapped = wrap(current);
  Object.defineProperty(wrapped, originalKey, { value: current });
  methods[name] = wrapped;
}

/** Puts back the method {@link wrapPrototypeMethod} wrapped under `originalKey`, if it did. */
export function unwrapPrototypeMethod(
  target: object | undefined,
  name: string,
  originalKey: symbol,
): void {
  const methods = target as Patchable | undefined;
  const current = methods?.[name] as (PrototypeMethod & Patchable) | undefined;
  const original = current?.[originalKey];
  if (methods !== undefined && original !== undefined) methods[name] = original;
}

/**
 * `proto`, checked to have the method `name`: the sign that an instrument function was given
 * the driver module it asks for. Otherwise throws a `RacewayConfigError`
 * (`RACEWAY_INVALID_ARGUMENTS`) with `usage`, which says what to pass. Why: instrumenting
 * something else would wrap nothing, and no query would ever be recorded, silently.
 */
export function driverPrototype(proto: object | undefined, name: string, usage: string): object {
  if (typeof (proto as Patchable | undefined)?.[name] !== 'function') {
    throw new RacewayConfigError('RACEWAY_INVALID_ARGUMENTS', usage);
  }
  return proto as object;
}

/**
 * Wraps a pool's checkout method `name` (pg's `pool.connect(cb)`, mysql2's
 * `pool.getConnection(cb)`), on the prototype of `poolProto`'s chain that defines it, so that a
 * callback given first runs in the context that called it; the original is kept under
 * `originalKey` (see {@link wrapPrototypeMethod}). Why: a pool hands a connection to a waiting
 * callback from whatever released one, that is from another request's context; the callback
 * (and `pool.query`, built on it) must run in the caller's instead.
 */
export function bindPoolCheckoutCallbacks(
  poolProto: object | undefined,
  name: string,
  originalKey: symbol,
): void {
  wrapPrototypeMethod(prototypeDefining(poolProto, name), name, originalKey, (checkout) => {
    return function boundCheckout(this: unknown, ...args: unknown[]) {
      if (typeof args[0] === 'function') args[0] = bindContext(args[0] as PrototypeMethod);
      return checkout.apply(this, args);
    };
  });
}
