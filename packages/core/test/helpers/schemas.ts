import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';

const schemaDir = fileURLToPath(new URL('../../../../spec/schemas/', import.meta.url));

function load(name: string): object {
  return JSON.parse(readFileSync(`${schemaDir}${name}`, 'utf8')) as object;
}

const ajv = new Ajv2020({ allErrors: true, strict: false });

/** Validates against spec/schemas/event.schema.json; returns ajv's errors as text, '' when valid. */
export const validateEvent = ajv.compile(load('event.schema.json'));
/** Validates against spec/schemas/batch.schema.json. */
export const validateBatch = ajv.compile(load('batch.schema.json'));

/** The errors of the last validation, as one line. */
export function schemaErrors(validate: { errors?: unknown }): string {
  return ajv.errorsText(validate.errors as never);
}
