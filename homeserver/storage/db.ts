import pg from 'pg';

/** Anything that runs SQL: the pool or an open transaction. Table modules accept either. */
export interface Queryable {
  // No named (prepared) statements: measured with bench:events, their generic plans doubled
  // Postgres's CPU per event on the write path compared with unnamed statements.
  query<R extends pg.QueryResultRow = Record<string, any>>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface Tx extends Queryable {
  /** Runs after COMMIT succeeds (notifications must never announce a write that rolled back). */
  afterCommit(fn: () => void): void;
}

export interface Db extends Queryable {
  withTransaction<R>(fn: (tx: Tx) => Promise<R>): Promise<R>;
  close(): Promise<void>;
  /** Connection details, for tools that need their own client (psql in tests, LISTEN). */
  readonly connection: pg.PoolConfig;
}

// BIGINT columns (stream positions, timestamps) fit in a JS number; parse them as such.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** How long close() waits for connections still checked out. */
const CLOSE_WAIT_MS = 10_000;

export interface DbOptions {
  connection: pg.PoolConfig;
  poolSize: number;
  /** A Postgres schema to confine every query to (one per test file). Created if missing. */
  schema?: string;
}

export async function openDb(opts: DbOptions): Promise<Db> {
  const searchPath = opts.schema ? { options: `-c search_path=${opts.schema}` } : {};
  if (opts.schema) {
    const admin = new pg.Client(opts.connection);
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(opts.schema)}`);
    } finally {
      await admin.end();
    }
  }
  const connection: pg.PoolConfig = { ...opts.connection, ...searchPath };
  const pool = new pg.Pool({ ...connection, max: opts.poolSize });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  return {
    connection,
    query: (sql, params) => pool.query(sql, params as unknown[]),
    async withTransaction(fn) {
      const client = await pool.connect();
      const after: (() => void)[] = [];
      const tx: Tx = {
        query: (sql, params) => client.query(sql, params as unknown[]),
        afterCommit: (f) => void after.push(f),
      };
      try {
        await client.query('BEGIN');
        const result = await fn(tx);
        await client.query('COMMIT');
        for (const f of after) f();
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async close() {
      // pool.end() waits for every checked-out connection; one never released (a bug elsewhere)
      // must not turn a graceful shutdown into a hang, so wait a bounded time and say so.
      const ended = pool.end().then(() => true);
      const timedOut = new Promise<false>((resolve) => setTimeout(resolve, CLOSE_WAIT_MS, false).unref());
      if (!(await Promise.race([ended, timedOut]))) {
        process.emitWarning(`database: ${pool.totalCount - pool.idleCount} connection(s) still checked out at shutdown; not waiting`);
      }
    },
  };
}
