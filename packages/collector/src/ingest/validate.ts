import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import batchSchema from '../schemas/batch.schema.json' with { type: 'json' };
import eventSchema from '../schemas/event.schema.json' with { type: 'json' };

/** Errors found in one event, as short sentences naming the field (`/data/status must be integer`). */
export type EventErrors = string[];

/**
 * Validators compiled once from the contract's schemas (copied from spec/schemas into the
 * package; a test keeps the copies identical to spec/).
 */
export interface Validators {
  /** null when the batch has the right shape, otherwise the reasons. */
  batch(value: unknown): EventErrors | null;
  /** null when the event is valid, otherwise the reasons. */
  event(value: unknown): EventErrors | null;
}

export function createValidators(): Validators {
  // Every pattern of the contract is ASCII: non-unicode regular expressions do the same
  // checks about a quarter faster.
  const ajv = new Ajv2020({ allErrors: true, strict: false, unicodeRegExp: false });
  const batch = ajv.compile(batchSchema);
  const event = ajv.compile(eventSchema);
  return {
    batch: (value) => check(batch, value),
    event: (value) => check(event, value),
  };
}

function check(validate: ValidateFunction, value: unknown): EventErrors | null {
  if (validate(value)) return null;
  return describe(validate.errors ?? []);
}

/**
 * Turns ajv's errors into sentences a person can act on. The `if/then` wrappers of the
 * per-kind rules add "must match then schema" noise next to the real error: dropped.
 */
export function describe(errors: ErrorObject[]): EventErrors {
  const out = new Set<string>();
  for (const e of errors) {
    if (e.keyword === 'if') continue;
    const where = e.instancePath || '(event)';
    let text: string;
    switch (e.keyword) {
      case 'required':
        text = `${where === '(event)' ? '' : `${where}/`}${(e.params as { missingProperty: string }).missingProperty} is required`;
        break;
      case 'additionalProperties':
        text = `${where} has unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"`;
        break;
      case 'enum':
        text = `${where} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'not':
        text = `${where} must not be all zeros`;
        break;
      default:
        text = `${where} ${e.message ?? 'is invalid'}`;
    }
    out.add(text);
  }
  return [...out];
}
