/**
 * `npm run bench:idle` — start-up time and idle memory of the single-process platform on its
 * embedded database, next to a bare Node process measured in the same run as the floor.
 * Memory is reported as RSS of the node process and as PSS (proportional set size, which splits
 * shared pages fairly) summed over node and every embedded Postgres process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'causeway-idle-'));
chmodSync(dataDir, 0o755);
const port = 19_000 + Math.floor(Math.random() * 1000);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 5);

function kib(pid: number, field: 'Rss' | 'Pss'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Every process whose command line mentions the data directory (the embedded Postgres family). */
function postgresPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      try {
        const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        const parent = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
        return (
          comm === 'postgres' &&
          (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir) ||
            readFileSync(`/proc/${parent}/cmdline`, 'utf8').includes(dataDir))
        );
      } catch {
        return false;
      }
    });
}

async function start(): Promise<{ proc: ChildProcess; ms: number }> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'start'], {
    cwd: root,
    stdio: 'ignore',
    env: {
      ...process.env,
      CAUSEWAY__DATABASE__DATA_DIR: join(dataDir, 'pg'),
      CAUSEWAY__LISTEN__PORT: String(port),
      CAUSEWAY__LOG__LEVEL: 'warn',
    },
  });
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/_matrix/client/versions`)).ok) return { proc, ms: performance.now() - t0 };
    } catch {
      /* starting */
    }
    if (proc.exitCode !== null) throw new Error('platform exited during start-up');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const stop = (proc: ChildProcess) => new Promise<void>((done) => (proc.once('exit', () => done()), proc.kill('SIGTERM')));

async function main() {
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  const bareRss = kib(bare.pid!, 'Rss');
  bare.kill();

  const cold = await start();
  await stop(cold.proc);
  const warm = await start();
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const nodeRss = kib(warm.proc.pid!, 'Rss');
  const nodePss = kib(warm.proc.pid!, 'Pss');
  const pg = postgresPids();
  const pgPss = pg.reduce((sum, pid) => sum + kib(pid, 'Pss'), 0);
  const pgRss = pg.reduce((sum, pid) => sum + kib(pid, 'Rss'), 0);
  await stop(warm.proc);
  rmSync(dataDir, { recursive: true, force: true });

  const mib = (k: number) => `${(k / 1024).toFixed(1)} MiB`;
  console.log(`bench:idle — single-process platform on the embedded database`);
  console.log(`  cold start (initdb + migrations) to first 200: ${cold.ms.toFixed(0)} ms`);
  console.log(`  warm start to first 200:                       ${warm.ms.toFixed(0)} ms`);
  console.log(`  idle after ${IDLE_SECONDS}s: node RSS ${mib(nodeRss)} (bare node floor ${mib(bareRss)})`);
  console.log(`  embedded postgres: ${pg.length} processes, PSS ${mib(pgPss)} (RSS sum ${mib(pgRss)}, shared pages counted repeatedly)`);
  console.log(`  whole platform PSS: ${mib(nodePss + pgPss)} (goal: under 300 MiB)`);
}

main().catch((err) => {
  console.error(err);
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(1);
});
