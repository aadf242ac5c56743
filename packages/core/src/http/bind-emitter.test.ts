import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { getCurrentContext } from '../context/async-context.js';
import { bindEmitter } from './bind-emitter.js';

function setup() {
  const { tracer } = recordingTracer('svc');
  const ctx = tracer.startContext({});
  const emitter = new EventEmitter();
  bindEmitter(emitter, ctx);
  return { ctx, emitter };
}

describe('bindEmitter', () => {
  it('runs listeners in the context, whoever emits', () => {
    const { ctx, emitter } = setup();
    const seen: unknown[] = [];
    emitter.on('data', () => seen.push(getCurrentContext()));
    emitter.addListener('data', () => seen.push(getCurrentContext()));
    emitter.emit('data');
    expect(seen).toEqual([ctx, ctx]);
  });

  it('keeps removeListener and listeners() working with the original function', () => {
    const { emitter } = setup();
    const listener = () => {};
    emitter.on('end', listener);
    expect(emitter.listeners('end')).toEqual([listener]);
    emitter.removeListener('end', listener);
    expect(emitter.listenerCount('end')).toBe(0);
    emitter.once('end', listener);
    emitter.off('end', listener);
    expect(emitter.listenerCount('end')).toBe(0);
  });

  it('fires once listeners once, in the context', () => {
    const { ctx, emitter } = setup();
    const seen: unknown[] = [];
    emitter.once('end', (value) => seen.push([value, getCurrentContext()]));
    emitter.emit('end', 1);
    emitter.emit('end', 2);
    expect(seen).toEqual([[1, ctx]]);
    expect(emitter.listenerCount('end')).toBe(0);
  });

  it('binds an emitter twice without looping, the latest context winning', () => {
    const { emitter } = setup();
    const { ctx: other } = setup();
    bindEmitter(emitter, other);
    const seen: unknown[] = [];
    emitter.on('data', () => seen.push(getCurrentContext()));
    emitter.emit('data');
    expect(seen).toEqual([other]);
  });
});
