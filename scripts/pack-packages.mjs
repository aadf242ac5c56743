#!/usr/bin/env node
// Packs every published npm package of the repository into one folder, as `npm publish` would
// upload it (pnpm rewrites the `workspace:` ranges to the versions), so an application outside
// the repository can `npm install` the tarballs before a release. Build first (`pnpm build`);
// `pnpm pack:packages [folder]` does both (each package's prepack build is skipped here: it
// would rebuild what the tests beside use). Prints one tarball path a line.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const destination = resolve(process.argv[2] ?? join(root, 'dist-packages'));
mkdirSync(destination, { recursive: true });

for (const folder of readdirSync(join(root, 'packages')).sort()) {
  const directory = join(root, 'packages', folder);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8'));
  } catch {
    continue; // not a package
  }
  if (manifest.private) continue;
  const output = execFileSync(
    'pnpm',
    ['pack', '--config.ignore-scripts=true', '--pack-destination', destination],
    {
      cwd: directory,
      encoding: 'utf8',
    },
  );
  // pnpm prints the package's files, then the tarball's path on the last line.
  console.log(output.trim().split('\n').at(-1));
}
