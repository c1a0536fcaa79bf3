import { readFileSync } from 'node:fs';
import { timingSafeEqual, createHash } from 'node:crypto';
import { MatrixError } from '../homeserver/matrix/errors.js';
import type { PubSub } from '../homeserver/runtime/ports.js';
import type { Logger } from '../homeserver/runtime/logger.js';
import type { Db } from '../homeserver/storage/db.js';
import type { AppserviceRegistration, AppserviceRegistry } from '../homeserver/services/appservices/registry-port.js';
import { conflictsWith, parseRegistration, parseRegistrationText, RegistrationError } from './registration/parse-registration.js';

/** Pub/sub topic telling every process to reload the runtime registrations from Postgres. */
export const REGISTRATIONS_TOPIC = 'as.registrations';

export interface RegistryDeps {
  db: Db;
  pubsub: PubSub;
  serverName: string;
  /** Registration files named in the config (`appservices.registration_files`). */
  registrationFiles: string[];
  log?: Logger;
}

/** The registry a process builds from its config (`server_name`, `appservices.registration_files`). */
export function registryFromConfig(
  config: { server_name: string; appservices: { registration_files: string[] } },
  deps: { db: Db; pubsub: PubSub; log?: Logger },
): Registry {
  return new Registry({ ...deps, serverName: config.server_name, registrationFiles: config.appservices.registration_files });
}

/**
 * Every application-service registration in force: those from config files (read at start) plus
 * those added at runtime, stored in `as_registrations`. A runtime change publishes on
 * REGISTRATIONS_TOPIC and every process (this one included) reloads from Postgres.
 * Lookups are synchronous over an in-memory snapshot, so the auth hot path does no I/O.
 */
export class Registry implements AppserviceRegistry {
  private fromFiles: AppserviceRegistration[] = [];
  private fromDb: AppserviceRegistration[] = [];
  private listeners = new Set<() => void>();
  /** SHA-256 of every as_token, rebuilt on reload (the auth hot path hashes only the presented token). */
  private tokenDigests: [Buffer, AppserviceRegistration][] = [];
  private unsubscribe?: () => Promise<void>;

  constructor(private deps: RegistryDeps) {}

  /** Reads the config files (throws RegistrationError naming file and field) and the stored registrations. */
  async start(): Promise<void> {
    const loaded: AppserviceRegistration[] = [];
    for (const file of this.deps.registrationFiles) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new RegistrationError([{ path: '(file)', message: `cannot be read: ${(err as Error).message}` }], file);
      }
      const reg = parseRegistrationText(text, file);
      const issues = conflictsWith(reg, loaded, this.deps.serverName);
      if (issues.length) throw new RegistrationError(issues, file);
      loaded.push(reg);
    }
    this.fromFiles = loaded;
    await this.reload();
    this.unsubscribe = await this.deps.pubsub.subscribe(REGISTRATIONS_TOPIC, () => {
      this.reload().catch((err) => this.deps.log?.warn({ err }, 'reloading appservice registrations failed'));
    });
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Re-reads the runtime registrations. A stored one that no longer validates is skipped and logged. */
  async reload(): Promise<void> {
    const { rows } = await this.deps.db.query<{ id: string; document: unknown }>(
      'SELECT id, document FROM as_registrations ORDER BY created_ts, id',
    );
    const next: AppserviceRegistration[] = [];
    for (const row of rows) {
      try {
        const reg = parseRegistration(row.document, `as_registrations ${row.id}`);
        // A config file added later may claim what a stored registration holds: the file wins.
        const issues = conflictsWith(reg, [...this.fromFiles, ...next], this.deps.serverName);
        if (issues.length) throw new RegistrationError(issues, `as_registrations ${row.id}`);
        next.push(reg);
      } catch (err) {
        this.deps.log?.error({ err, id: row.id }, 'stored appservice registration is invalid; ignored');
      }
    }
    this.fromDb = next;
    this.tokenDigests = this.all().map((reg) => [createHash('sha256').update(reg.asToken).digest(), reg]);
    for (const fn of this.listeners) fn();
  }

  all(): AppserviceRegistration[] {
    return [...this.fromFiles, ...this.fromDb];
  }

  isRuntime(id: string): boolean {
    return this.fromDb.some((r) => r.id === id);
  }

  byAsToken(token: string): AppserviceRegistration | undefined {
    // Compare fixed-length digests so neither the token's length nor its content leaks through timing;
    // every registration is compared, whichever matches.
    if (!this.tokenDigests.length) return undefined;
    const given = createHash('sha256').update(token).digest();
    let found: AppserviceRegistration | undefined;
    for (const [digest, reg] of this.tokenDigests) {
      if (timingSafeEqual(given, digest)) found ??= reg;
    }
    return found;
  }

  byId(id: string): AppserviceRegistration | undefined {
    return this.all().find((r) => r.id === id);
  }

  exclusiveOwnerOfUser(userId: string): AppserviceRegistration | undefined {
    return this.all().find(
      (r) =>
        `@${r.senderLocalpart}:${this.deps.serverName}` === userId ||
        r.namespaces.users.some((ns) => ns.exclusive && ns.regex.test(userId)),
    );
  }

  exclusiveOwnerOfAlias(alias: string): AppserviceRegistration | undefined {
    return this.all().find((r) => r.namespaces.aliases.some((ns) => ns.exclusive && ns.regex.test(alias)));
  }

  ownsUser(as: AppserviceRegistration, userId: string): boolean {
    return `@${as.senderLocalpart}:${this.deps.serverName}` === userId || as.namespaces.users.some((ns) => ns.regex.test(userId));
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Validates a registration document against those in force, stores it and tells every process. */
  async add(document: unknown): Promise<AppserviceRegistration> {
    let reg: AppserviceRegistration;
    try {
      reg = parseRegistration(document);
    } catch (err) {
      throw asMatrixError(err);
    }
    const issues = conflictsWith(reg, this.all(), this.deps.serverName);
    if (issues.length) throw asMatrixError(new RegistrationError(issues));
    const r = await this.deps.db.query(
      `INSERT INTO as_registrations (id, as_token, hs_token, document, created_ts) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING`,
      [reg.id, reg.asToken, reg.hsToken, JSON.stringify(document), Date.now()],
    );
    if (r.rowCount === 0) {
      // Another process stored one with this id between our check and the insert. With the same
      // tokens it is the same registrant, not a conflict: the workers of one bridge share its tokens
      // and each registers as it starts, possibly at the same moment (the first stored one stays).
      const { rows } = await this.deps.db.query<{ as_token: string; hs_token: string }>(
        'SELECT as_token, hs_token FROM as_registrations WHERE id = $1',
        [reg.id],
      );
      if (rows[0]?.as_token !== reg.asToken || rows[0]?.hs_token !== reg.hsToken)
        throw new MatrixError('M_INVALID_PARAM', 'id: is already used by another registration');
      await this.reload();
      return this.byId(reg.id) ?? reg;
    }
    await this.reload();
    await this.deps.pubsub.publish(REGISTRATIONS_TOPIC, { added: reg.id });
    return reg;
  }

  /** Validates the new document against every other registration in force, then stores it in place of the old one. */
  async replace(id: string, document: unknown): Promise<AppserviceRegistration> {
    let reg: AppserviceRegistration;
    try {
      reg = parseRegistration(document);
    } catch (err) {
      throw asMatrixError(err);
    }
    if (reg.id !== id) throw new MatrixError('M_INVALID_PARAM', `id: must stay ${id} (remove and add to rename)`);
    if (!this.isRuntime(id)) throw new MatrixError('M_NOT_FOUND', `No appservice ${id} was added at runtime`);
    const issues = conflictsWith(
      reg,
      this.all().filter((r) => r.id !== id),
      this.deps.serverName,
    );
    if (issues.length) throw asMatrixError(new RegistrationError(issues));
    let r;
    try {
      r = await this.deps.db.query('UPDATE as_registrations SET as_token = $2, hs_token = $3, document = $4 WHERE id = $1', [
        id,
        reg.asToken,
        reg.hsToken,
        JSON.stringify(document),
      ]);
    } catch (err) {
      // Another process stored a registration with one of these tokens meanwhile (unique constraint).
      if ((err as { code?: string }).code === '23505') throw new MatrixError('M_INVALID_PARAM', 'as_token/hs_token: already used');
      throw err;
    }
    if (r.rowCount === 0) throw new MatrixError('M_NOT_FOUND', `No appservice ${id} was added at runtime`);
    await this.reload();
    await this.deps.pubsub.publish(REGISTRATIONS_TOPIC, { replaced: id });
    return reg;
  }

  async remove(id: string): Promise<boolean> {
    const r = await this.deps.db.query('DELETE FROM as_registrations WHERE id = $1', [id]);
    if (r.rowCount === 0) return false;
    await this.reload();
    await this.deps.pubsub.publish(REGISTRATIONS_TOPIC, { removed: id });
    return true;
  }
}

function asMatrixError(err: unknown): unknown {
  if (err instanceof RegistrationError)
    return new MatrixError('M_INVALID_PARAM', err.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  return err;
}
