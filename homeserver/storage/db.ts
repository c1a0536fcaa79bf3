import pg from 'pg';

/** Anything that runs SQL: the pool or an open transaction. Table modules accept either. */
export interface Queryable {
  /**
   * `name` makes it a named prepared statement on each connection: Postgres parses it once per
   * connection instead of on every call. Only for hot statements whose text never varies under
   * that name. Connections run with plan_cache_mode = force_custom_plan, so a named statement is
   * still planned for its actual arguments each time: generic plans (Postgres's default after five
   * runs) raised Postgres's CPU per event on the write path with batches (bench:events, sessions 1
   * and 3), while skipping only the parse of the send statement moved bench:events from 2,354-3,073
   * to 2,510-3,464 events/s and its p50 at 1,000 events/s from 4.1-6.2 to 2.9-4.3 ms (noisy VM).
   */
  query<R extends pg.QueryResultRow = Record<string, any>>(sql: string, params?: unknown[], name?: string): Promise<pg.QueryResult<R>>;
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

const statement = (text: string, params: unknown[] | undefined, name: string | undefined): pg.QueryConfig => ({
  text,
  values: params,
  ...(name ? { name } : {}),
});

export async function openDb(opts: DbOptions): Promise<Db> {
  // Named statements are planned per call (see Queryable); the schema confines a test's queries.
  const options = [
    opts.connection.options,
    '-c plan_cache_mode=force_custom_plan',
    ...(opts.schema ? [`-c search_path=${opts.schema}`] : []),
  ]
    .filter(Boolean)
    .join(' ');
  if (opts.schema) {
    const admin = new pg.Client(opts.connection);
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(opts.schema)}`);
    } finally {
      await admin.end();
    }
  }
  const connection: pg.PoolConfig = { ...opts.connection, options };
  const pool = new pg.Pool({ ...connection, max: opts.poolSize });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  return {
    connection,
    query: (sql, params, name) => pool.query(statement(sql, params, name)),
    async withTransaction(fn) {
      const client = await pool.connect();
      const after: (() => void)[] = [];
      const tx: Tx = {
        query: (sql, params, name) => client.query(statement(sql, params, name)),
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
