import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

export interface CliProcess {
  child: ChildProcess;
  /** Everything the process wrote (stdout and stderr), for failure messages. */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM (graceful shutdown), then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<number | string>;
}

/**
 * Spawns `node --import tsx <entry> <args>` from the repository root, as an operator runs
 * `causeway`: a real process with its own event loop, configured through CAUSEWAY__* variables.
 * With `ipc`, the child gets an IPC channel using structured clone (see fakenet-worker.ts).
 */
export function spawnCli(opts: { entry?: string; args: string[]; env: Record<string, string>; ipc?: boolean }): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', opts.entry ?? 'cli/main.ts', ...opts.args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.ipc ? (['ipc'] as const) : [])],
    ...(opts.ipc ? { serialization: 'advanced' as const } : {}),
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    output: () => output,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited.finally(() => clearTimeout(timer));
      }
      return exited;
    },
  };
}

/** A port free right now (the kernel's pick for port 0), for a process that must be told its port up front. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether anything accepts TCP connections on 127.0.0.1:port. */
export async function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Polls until `check` returns a value; fails with the process output if `proc` exits first or after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  opts: { timeoutMs?: number; procs?: CliProcess[] } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 45_000);
  for (;;) {
    const dead = opts.procs?.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead) throw new Error(`${what}: a process exited (${dead.child.exitCode ?? dead.child.signalCode}):\n${dead.output()}`);
    const value = await check().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${opts.timeoutMs ?? 45_000} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
