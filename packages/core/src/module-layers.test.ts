// Core has floors: clocks and context storage at the bottom, then what records events, then the
// tracer and its transport, then the HTTP lifecycle. A module may import from its own floor and
// below, never from above, so no import cycle can form. This test reads every module's imports
// with TypeScript's own pre-processor and fails on any cycle, naming it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const srcDir = dirname(fileURLToPath(import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.startsWith('test-')
      ? [path]
      : [];
  });
}

/**
 * The modules a module imports. Type-only imports count too: they vanish from the build, but
 * a type cycle is the same tangle of responsibilities.
 */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .filter(({ fileName }) => fileName.startsWith('.'))
    .map(({ fileName }) => resolve(dirname(file), fileName.replace(/\.js$/, '.ts')))
    .map((path) => (path.endsWith('.ts') ? path : join(path, 'index.ts')));
}

/** Strongly connected components of more than one module (Tarjan), each a cycle. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const lowlinks = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    indices.set(node, index);
    lowlinks.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        visit(next);
        lowlinks.set(node, Math.min(lowlinks.get(node)!, lowlinks.get(next)!));
      } else if (onStack.has(next)) {
        lowlinks.set(node, Math.min(lowlinks.get(node)!, indices.get(next)!));
      }
    }
    if (lowlinks.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!indices.has(node)) visit(node);
  return found;
}

describe('packages/core/src module floors', () => {
  it('has no import cycle', () => {
    const graph = new Map(sourceFiles(srcDir).map((file) => [file, importsOf(file)]));
    const named = cycles(graph).map((cycle) => cycle.map((f) => relative(srcDir, f)).join(' <-> '));
    expect(named).toEqual([]);
  });
});
