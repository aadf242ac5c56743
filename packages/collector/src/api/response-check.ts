import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';

// For tests: every answer is validated against the response schema its route declares for its
// status code, before it is serialised (JSON.stringify, see server.ts: a field no schema declares
// would go out unnoticed). ajv in strict mode; an object schema that does not say otherwise is
// closed (`additionalProperties: false`). An answer that does not match is replaced by a 500
// `response_does_not_match_schema` naming the difference.

type Json = Record<string, unknown>;

// ajv-formats is CommonJS: its default import is the plugin itself.
const addFormats = ajvFormats as unknown as typeof ajvFormats.default;

/** A copy of `schema` with every object schema closed unless it says what else it takes. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    // The values of `properties` are schemas, its keys are names.
    out[key] =
      key === 'properties'
        ? Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, closed(v)]))
        : closed(value);
  }
  if (out.properties !== undefined && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

/**
 * Installs the check on `app` (before its routes). `sharedSchemas` are the `$ref` targets the
 * routes' schemas use.
 */
export function checkResponses(app: FastifyInstance, sharedSchemas: object[]): void {
  const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  for (const schema of sharedSchemas) ajv.addSchema(closed(schema) as Json);
  const compiled = new WeakMap<object, ValidateFunction>();
  /** Requests already answered with a mismatch: the 500 itself is not checked. */
  const failed = new WeakSet<FastifyRequest>();
  /** Requests whose answer was checked before serialisation. */
  const checked = new WeakSet<FastifyRequest>();

  function check(request: FastifyRequest, reply: FastifyReply, payload: unknown): void {
    if (request.is404 || failed.has(request)) return;
    checked.add(request);
    const what = `${request.method} ${request.routeOptions.url} answered ${reply.statusCode}`;
    const responses = (request.routeOptions.schema?.response ?? {}) as Record<string, object>;
    const schema =
      responses[reply.statusCode] ??
      responses[`${String(reply.statusCode)[0]}xx`] ??
      responses.default;
    let problem: string | null = null;
    if (schema === undefined) {
      problem = `${what}, a status its schema does not declare`;
    } else {
      let validate = compiled.get(schema);
      if (!validate) {
        validate = ajv.compile(closed(schema) as Json);
        compiled.set(schema, validate);
      }
      if (!validate(payload)) {
        problem = `${what} with a body its schema does not declare: ${ajv.errorsText(validate.errors, { dataVar: 'body' })}`;
      }
    }
    if (problem !== null) {
      failed.add(request);
      throw new HttpError(500, 'response_does_not_match_schema', problem);
    }
  }

  app.addHook('preSerialization', async (request, reply, payload) => {
    check(request, reply, payload);
    return payload;
  });
  // Answers sent already serialised (the trace page) are read back.
  app.addHook('onSend', async (request, reply, payload) => {
    const type = String(reply.getHeader('content-type') ?? '');
    if (typeof payload === 'string' && type.includes('json') && !checked.has(request)) {
      check(request, reply, JSON.parse(payload));
    }
    return payload;
  });
}
