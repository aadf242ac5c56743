import {
  type SchemaOptions,
  type Static,
  type TSchema,
  type TUnsafe,
  Type,
} from '@sinclair/typebox';

// Building blocks of the API's schemas. Every schema here is the source of: the validation of
// requests (Fastify's ajv), /api/openapi.json (@fastify/swagger), the check of every answer in
// the tests (api/response-check.ts: closed objects, so answers are complete declarations), and
// the TypeScript types the handlers, the UI and the tests use (`Static<typeof Schema>`, never a
// copy).

/** `T` or null, as one `type: [T, 'null']` (plain JSON Schema, and OpenAPI 3.1). */
export function Nullable<T extends TSchema>(
  schema: T,
  options: SchemaOptions = {},
): TUnsafe<Static<T> | null> {
  const { type, ...rest } = schema as { type?: string | string[] } & Record<string, unknown>;
  if (typeof type !== 'string') throw new Error('Nullable() takes a schema with one `type`');
  return Type.Unsafe<Static<T> | null>({ ...rest, type: [type, 'null'], ...options });
}

/** One of the given strings (`type: string` with `enum`, not a union of constants). */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: SchemaOptions = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A reference to a shared schema (one registered with `app.addSchema`, see schemas/index.ts). */
export function Ref<T extends TSchema>(schema: T, options: SchemaOptions = {}): TUnsafe<Static<T>> {
  if (!schema.$id) throw new Error('Ref() takes a schema with an $id');
  return Type.Unsafe<Static<T>>({ $ref: schema.$id, ...options });
}

/** An object of any keys whose values all follow `values` (a vector clock, say). */
export function Dict<T extends TSchema>(
  values: T,
  options: SchemaOptions = {},
): TUnsafe<Record<string, Static<T>>> {
  return Type.Unsafe<Record<string, Static<T>>>({
    type: 'object',
    additionalProperties: values,
    ...options,
  });
}

/** Any JSON object. */
export function OpenObject(options: SchemaOptions = {}): TUnsafe<Record<string, unknown>> {
  return Type.Unsafe<Record<string, unknown>>({
    type: 'object',
    additionalProperties: true,
    ...options,
  });
}

export const DateTime = (options: SchemaOptions = {}) =>
  Type.String({ format: 'date-time', ...options });

/** A trace id as the API answers it: 32 lower-case hex digits. */
export const TraceId = (options: SchemaOptions = {}) =>
  Type.String({ pattern: '^[0-9a-f]{32}$', ...options });

export const Count = (options: SchemaOptions = {}) => Type.Integer({ minimum: 0, ...options });

/** Every error answer: `{error, message}` and, for some, fields that say more (`limit_bytes`). */
export const ErrorSchema = Type.Object(
  {
    error: Type.String({ description: 'A stable code, e.g. `invalid_json`' }),
    message: Type.String({ description: 'What went wrong and how to fix it' }),
  },
  { $id: 'Error', additionalProperties: true },
);
export type ApiError = Static<typeof ErrorSchema>;

/** An error answer with the description of when it happens. */
export const ErrorAnswer = (description: string) => Ref(ErrorSchema, { description });
