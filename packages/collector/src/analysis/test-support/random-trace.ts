import fc from 'fast-check';
import type { Event } from '../event.js';
import { type SimCall, type SimContext, TraceSimulator } from './trace-simulator.js';

/** One step of a random program; indices are taken modulo what exists at that point. */
export interface Step {
  op: 'access' | 'lock' | 'fork' | 'join' | 'call' | 'return' | 'tick';
  ctx: number;
  arg: number;
  write: boolean;
  atomic: boolean;
}

const ops: Step['op'][] = [
  'access',
  'access',
  'access',
  'access',
  'lock',
  'fork',
  'join',
  'call',
  'return',
  'tick',
];

/** Random programs over a few contexts, resources and locks. */
export function arbitraryProgram(maxSteps = 60): fc.Arbitrary<Step[]> {
  return fc.array(
    fc.record({
      op: fc.nat({ max: ops.length - 1 }).map((i) => ops[i]!),
      ctx: fc.nat({ max: 7 }),
      arg: fc.nat({ max: 11 }),
      write: fc.boolean(),
      atomic: fc.nat({ max: 3 }).map((n) => n === 0),
    }),
    { minLength: 5, maxLength: maxSteps, size: 'max' },
  );
}

interface Live {
  ctx: SimContext;
  /** For a callee: the call it serves (answered by `return`). */
  call: SimCall | null;
  /** For a forked branch: its parent (joined by `join`). */
  parent: SimContext | null;
  locks: Set<string>;
}

/**
 * Runs a random program through the clock rules: contexts read and write a few resources, take
 * and release locks, fork and join branches, call services (new contexts) and return to the
 * caller (which merges the callee's clock). The result is a valid happens-before graph with
 * valid vector clocks, as the SDKs would record it.
 */
export function runProgram(
  steps: readonly Step[],
  options: { resources?: number; locks?: number } = {},
): Event[] {
  const resources = options.resources ?? 2;
  const lockCount = options.locks ?? 2;
  const sim = new TraceSimulator({ autoAdvanceUs: 7 });
  const services = ['api', 'order', 'inventory'].map((name) => sim.service(name));
  const root = sim.request(services[0]!);
  const live: Live[] = [{ ctx: root, call: null, parent: null, locks: new Set() }];
  for (const step of steps) {
    const at = live[step.ctx % live.length]!;
    switch (step.op) {
      case 'access': {
        const resource = `r${step.arg % resources}`;
        if (step.write) at.ctx.write(resource, { value: step.arg, atomic: step.atomic });
        else at.ctx.read(resource, { value: step.arg % 3 });
        break;
      }
      case 'lock': {
        const lock = `L${step.arg % lockCount}`;
        if (at.locks.has(lock)) {
          at.ctx.unlock(lock);
          at.locks.delete(lock);
        } else {
          at.ctx.lock(lock);
          at.locks.add(lock);
        }
        break;
      }
      case 'fork':
        if (live.length < 8)
          live.push({ ctx: at.ctx.fork(), call: null, parent: at.ctx, locks: new Set() });
        break;
      case 'join': {
        const index = live.findIndex((l) => l.parent === at.ctx);
        if (index > 0) {
          at.ctx.join(live[index]!.ctx);
          live.splice(index, 1);
        }
        break;
      }
      case 'call':
        if (live.length < 8) {
          const call = at.ctx.call(services[step.arg % services.length]!);
          live.push({ ctx: call.serve(), call, parent: null, locks: new Set() });
        }
        break;
      case 'return':
        // A callee answers; its caller (still live, or the answer is never received) merges it.
        if (
          at.call !== null &&
          !live.some((l) => l.parent === at.ctx || l.call?.caller === at.ctx)
        ) {
          at.ctx.respond();
          if (live.some((l) => l.ctx === at.call!.caller)) at.call.receive();
          live.splice(live.indexOf(at), 1);
        }
        break;
      case 'tick':
        sim.advance(step.arg);
        break;
    }
  }
  return sim.events;
}
