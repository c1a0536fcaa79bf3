import { cp, mkdir, mkdtemp, copyFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Directory of an installed package (found through its package.json, which `exports` may not expose). */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  while (!dir.endsWith(join('node_modules', name))) {
    if (dirname(dir) === dir) throw new Error(`cannot locate the ${name} package directory`);
    dir = dirname(dir);
  }
  return dir;
}

/**
 * Bundles the Hydrogen e2e page (app.ts + hydrogen-view-sdk) with esbuild into a fresh temp
 * directory and copies the SDK's runtime assets next to it, laid out as app.ts's `assetPaths`
 * expect:
 *
 *   index.html, app.js     the page
 *   sw.js                  Hydrogen's service worker (authenticated media)
 *   assets/                hydrogen-view-sdk/asset-build/assets: theme CSS, fonts, icons,
 *                          main.js (olm worker), download-sandbox.html
 *   olm/                   @matrix-org/olm: olm.js, olm.wasm, olm_legacy.js
 */
export async function buildHydrogenPage(outDir?: string): Promise<string> {
  const dir = outDir ?? (await mkdtemp(join(tmpdir(), 'causeway-hydrogen-')));
  const sdk = packageDir('hydrogen-view-sdk');
  const olm = packageDir('@matrix-org/olm');

  await build({
    entryPoints: [join(here, 'app.ts')],
    outfile: join(dir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome110',
    sourcemap: 'inline',
    logLevel: 'warning',
    // The SDK imports olm.js for its side effects; olm's emscripten loader only require()s these
    // under Node. The page loads olm itself through assetPaths.olm.
    external: ['fs', 'path', 'crypto'],
  });

  await copyFile(join(here, 'index.html'), join(dir, 'index.html'));
  await copyFile(join(sdk, 'lib-build', 'sw.js'), join(dir, 'sw.js'));
  await cp(join(sdk, 'asset-build', 'assets'), join(dir, 'assets'), { recursive: true });
  await mkdir(join(dir, 'olm'), { recursive: true });
  for (const file of ['olm.js', 'olm.wasm', 'olm_legacy.js']) await copyFile(join(olm, file), join(dir, 'olm', file));
  return dir;
}
