// Each artifact built as a release would publish it, then installed into a fresh project
// outside the repository the way its README says. Each install gives a Launch of the
// fixtures' /hop service (fixtures/<language>/), built against what was installed.
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Launch } from '../../../tooling/test-processes.js';
import { fixture, nodeHeadersEnv, repo, run } from './commands.js';

/** `pnpm pack:packages` without the build (the build ran first): the tarballs' paths. */
export async function packNpm(destination: string): Promise<Map<string, string>> {
  const out = await run(process.execPath, [join(repo, 'scripts/pack-packages.mjs'), destination], {
    cwd: repo,
  });
  const tarballs = new Map<string, string>();
  for (const path of out.trim().split('\n')) {
    const name = /raceway-([a-z0-9-]+)-\d+\.\d+\.\d+[^/]*\.tgz$/.exec(path)?.[1];
    if (name) tarballs.set(`@raceway/${name}`, path);
  }
  return tarballs;
}

/** The README's `npm install` of the tarballs (and the libraries the quick start uses). */
export async function installNpm(
  project: string,
  tarballs: Map<string, string>,
  packages: string[],
): Promise<void> {
  mkdirSync(project, { recursive: true });
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'fresh-app', version: '0.0.0', private: true }),
  );
  const specs = packages.map((name) => tarballs.get(name) ?? name);
  await run('npm', ['install', '--no-audit', '--no-fund', ...specs], {
    cwd: project,
    env: nodeHeadersEnv(),
  });
}

const pythonSdk = join(repo, 'sdks/python');

/** The wheel and the sdist, built by the SDK's virtualenv (made by its test script). */
export async function buildPython(destination: string): Promise<{ wheel: string; sdist: string }> {
  await run(
    join(pythonSdk, '.venv/bin/python'),
    ['-m', 'build', '--sdist', '--wheel', '--no-isolation', '--outdir', destination, pythonSdk],
    { cwd: pythonSdk },
  );
  const built = readdirSync(destination);
  const find = (suffix: string) => join(destination, built.find((f) => f.endsWith(suffix))!);
  return { wheel: find('.whl'), sdist: find('.tar.gz') };
}

/** A fresh virtualenv with `pip install <what>`; the hop service run by its Python. */
export async function installPython(venv: string, what: string[]): Promise<Launch> {
  await run('python3', ['-m', 'venv', venv], { cwd: repo });
  await run(
    join(venv, 'bin/python'),
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...what],
    { cwd: venv },
  );
  return { command: join(venv, 'bin/python'), args: [fixture('python/hop.py')], cwd: venv };
}

const goModule = 'github.com/raceway-dev/raceway/sdks/go';
const goSdk = join(repo, 'sdks/go');

/** A fresh module holding the hop service; `require` adds the SDK; the built binary. */
async function buildGo(
  project: string,
  env: Record<string, string>,
  require: (project: string) => Promise<void>,
): Promise<Launch> {
  mkdirSync(project, { recursive: true });
  const go = (args: string[]) => run('go', args, { cwd: project, env });
  await go(['mod', 'init', 'example.com/hop']);
  cpSync(fixture('go/main.go'), join(project, 'main.go'));
  await require(project);
  await go(['build', '-o', 'hop', '.']);
  return { command: join(project, 'hop'), args: [] };
}

/** The Go README's install from a checkout: a `replace` directive, offline. */
export function installGoWithReplace(project: string): Promise<Launch> {
  const env = { GOFLAGS: '-mod=mod', GOPROXY: 'off', GOWORK: 'off' };
  return buildGo(project, env, async (dir) => {
    await run(
      'go',
      ['mod', 'edit', `-require=${goModule}@v0.1.0`, `-replace=${goModule}=${goSdk}`],
      { cwd: dir, env },
    );
    // The SDK's go.sum holds the checksums of its dependencies: with it `go mod tidy` verifies
    // them offline instead of asking the checksum database (not reachable from every machine).
    cpSync(join(goSdk, 'go.sum'), join(dir, 'go.sum'));
    await run('go', ['mod', 'tidy'], { cwd: dir, env });
  });
}

/**
 * The Go release: a repository holding the module at sdks/go tagged `sdks/go/v0.1.0` (the tag
 * layout of a module in a subdirectory), fetched by `go get` as from GitHub. Git rewrites the
 * GitHub URL to the local repository; the SDK's own dependencies come from the module cache.
 */
export async function installGoFromTag(work: string): Promise<Launch> {
  const origin = join(work, 'origin');
  mkdirSync(origin, { recursive: true });
  // What a commit of the module holds: not the built binaries of bin/ (ignored by git).
  cpSync(goSdk, join(origin, 'sdks/go'), {
    recursive: true,
    filter: (source) => !source.startsWith(join(goSdk, 'bin')),
  });
  const gitConfig = join(work, 'gitconfig');
  writeFileSync(
    gitConfig,
    [
      `[url "file://${origin}"]`,
      '  insteadOf = https://github.com/raceway-dev/raceway',
      '[protocol "file"]',
      '  allow = always',
      '[user]',
      '  name = Release Dry Run',
      '  email = release@example.invalid',
      '',
    ].join('\n'),
  );
  const gitEnv = { GIT_CONFIG_GLOBAL: gitConfig, GIT_CONFIG_NOSYSTEM: '1' };
  const git = (args: string[]) => run('git', args, { cwd: origin, env: gitEnv });
  await git(['init', '--quiet']);
  await git(['add', '.']);
  await git(['commit', '--quiet', '-m', 'release']);
  await git(['tag', 'sdks/go/v0.1.0']);
  const modCache = (await run('go', ['env', 'GOMODCACHE'], { cwd: work })).trim();
  const env = {
    ...gitEnv,
    GOFLAGS: '-mod=mod',
    GOWORK: 'off',
    GOPRIVATE: 'github.com/raceway-dev',
    GOPROXY: `file://${modCache}/cache/download`,
    GOSUMDB: 'off',
  };
  return buildGo(join(work, 'app'), env, async (dir) => {
    await run('go', ['get', `${goModule}@v0.1.0`], { cwd: dir, env });
  });
}

const rustSdk = join(repo, 'sdks/rust');

/** The crate as `cargo package` makes it for crates.io, unpacked: its folder. */
export async function packageCrate(destination: string): Promise<string> {
  // --allow-dirty: a working copy may hold changes not yet committed. --no-verify: the fresh
  // project below builds the packaged sources, which is what verification does.
  await run('cargo', ['package', '--locked', '--allow-dirty', '--no-verify', '--quiet'], {
    cwd: rustSdk,
  });
  const version = /^version = "([^"]+)"/m.exec(
    readFileSync(join(rustSdk, 'Cargo.toml'), 'utf8'),
  )![1];
  const crate = join(rustSdk, `target/package/raceway-client-${version}.crate`);
  mkdirSync(destination, { recursive: true });
  await run('tar', ['-xzf', crate, '-C', destination], { cwd: destination });
  return join(destination, `raceway-client-${version}`);
}

/**
 * A fresh project with a path dependency on `crate` (the README's install from a checkout, or
 * the unpacked package). Offline: the SDK's Cargo.lock pins every crate, already in Cargo's
 * cache, and the SDK's target folder means nothing but the crate and the service is rebuilt.
 */
export async function installRust(project: string, crate: string): Promise<Launch> {
  mkdirSync(join(project, 'src'), { recursive: true });
  cpSync(join(rustSdk, 'Cargo.lock'), join(project, 'Cargo.lock'));
  cpSync(fixture('rust/main.rs'), join(project, 'src/main.rs'));
  writeFileSync(
    join(project, 'Cargo.toml'),
    `[package]
name = "hop"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
raceway-client = { path = ${JSON.stringify(crate)} }
axum = { version = "0.8", default-features = false, features = ["tokio", "http1", "matched-path"] }
reqwest = { version = "0.12", default-features = false }
reqwest-middleware = { version = "0.4", default-features = false }
tokio = { version = "1", features = ["rt-multi-thread", "macros", "net", "signal"] }

[workspace]
`,
  );
  const target = join(rustSdk, 'target');
  await run('cargo', ['build', '--offline', '--quiet'], {
    cwd: project,
    env: { CARGO_TARGET_DIR: target },
  });
  // Copied out: the next fixture build writes the same path in the shared target folder.
  const binary = join(project, 'hop');
  cpSync(join(target, 'debug/hop'), binary);
  return { command: binary, args: [] };
}
