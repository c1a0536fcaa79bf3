import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { LoginProcesses, type EndReason, type LoginProcessesOptions } from '../../../bridges/core/login/index.js';
import { saveLoginSecrets } from '../../../bridges/core/crypto-store/login-secrets.js';
import type { BridgeState } from '../../../bridges/core/network/bridge-state.js';
import type { LoginId } from '../../../bridges/core/network/ids.js';
import type { NetworkClient } from '../../../bridges/core/network/network-client.js';
import type { NetworkConnector } from '../../../bridges/core/network/network-connector.js';
import { UserLoginStore, type UserLoginRecord } from '../../../bridges/core/storage/user-logins.js';
import { BRIDGE_MIGRATIONS } from '../../../bridges/core/storage/bridge-migrations.js';
import { migrate } from '../../../homeserver/storage/migrate.js';
import type { Db } from '../../../homeserver/storage/db.js';
import { registerProvisioning, type ProvisioningDeps } from '../../../provisioning/index.js';
import { FakeNetwork, FakenetConnector, testLoginContext, type TestLoginContext } from '../../fakes/fakenet/index.js';
import { freshSchemaDb } from '../../helpers/database.js';

export const SECRET = 'provisioning-test-secret-0123456789';
export const PREFIX = '/_matrix/provision/v3';

/** One schema per test file, with the bridge tables. Each fixture then uses its own bridge id. */
export async function provisioningDb(): Promise<Db & { schema: string }> {
  const db = await freshSchemaDb(4);
  await migrate(db, [BRIDGE_MIGRATIONS]);
  return db;
}

let bridgeCounter = 0;

export interface FixtureOptions {
  idleTimeoutMs?: number;
  maxPerUser?: number;
  maxTotal?: number;
  qrRefreshMs?: number;
  connector?: NetworkConnector;
  onComplete?: LoginProcessesOptions['onComplete'];
  /** Overrides applied to the deps last. */
  deps?: Partial<ProvisioningDeps>;
  app?: FastifyInstance;
}

export interface Response {
  status: number;
  body: any;
}

/** A caller with fixed credentials; paths are relative to the prefix. */
export interface Caller {
  get(path: string): Promise<Response>;
  post(path: string, payload?: unknown, opts?: { rawBody?: string }): Promise<Response>;
}

export interface Fixture {
  app: FastifyInstance;
  net: FakeNetwork;
  connector: NetworkConnector;
  store: UserLoginStore;
  processes: LoginProcesses;
  bridgeId: string;
  /** Live fakenet clients of completed logins, as the session pool would hold them. */
  sessions: Map<string, { client: NetworkClient; t: TestLoginContext }>;
  logouts: { loginId: string; remote: boolean }[];
  dms: { loginId: string; target: string }[];
  ended: { processId: string; reason: EndReason }[];
  /** Resolves at the next end of a process with this reason. */
  nextEnd(reason: EndReason): Promise<string>;
  /** Access tokens the injected verifier knows. */
  tokens: Map<string, string>;
  admin(userMxid: string): Caller;
  token(token: string, userId?: string): Caller;
  raw(opts: InjectOptions): Promise<Response>;
  openapi(): Promise<Record<string, any>>;
  close(): Promise<void>;
}

/**
 * The plugin on a bare Fastify instance over real Postgres and the fake network. Login completion
 * does what the portal engine will: upsert the login, put its secrets in a key store and start a
 * client (here a connected FakenetClient with a test LoginContext). Every response is checked
 * against the served OpenAPI document: its status must be documented and its body must match.
 */
export async function provisioningFixture(db: Db, opts: FixtureOptions = {}): Promise<Fixture> {
  const bridgeId = `fakenet${++bridgeCounter}`;
  const net = new FakeNetwork();
  const connector = opts.connector ?? new FakenetConnector(net, { qrRefreshMs: opts.qrRefreshMs ?? 60_000 });
  const store = new UserLoginStore(db, bridgeId);
  const sessions = new Map<string, { client: NetworkClient; t: TestLoginContext }>();
  const ended: { processId: string; reason: EndReason }[] = [];
  const endWaiters: { reason: EndReason; resolve: (id: string) => void }[] = [];
  const logouts: { loginId: string; remote: boolean }[] = [];
  const dms: { loginId: string; target: string }[] = [];
  const dmRooms = new Map<string, string>();
  const dmRoomsByChat = new Map<string, string>();
  const tokens = new Map<string, string>();

  const onComplete =
    opts.onComplete ??
    (async (userMxid, done): Promise<UserLoginRecord> => {
      const record = await store.upsert({ loginId: done.loginId, userMxid, remoteName: done.remoteName, metadata: done.metadata });
      const t = testLoginContext({ loginId: done.loginId, userMxid, bridgeId });
      await saveLoginSecrets(t.keys, done.secrets);
      const client = connector.loadLogin(t.ctx);
      await client.connect(t.ctx.signal);
      sessions.set(done.loginId, { client, t });
      return record;
    });

  const processes = new LoginProcesses({
    connector,
    onComplete,
    idleTimeoutMs: opts.idleTimeoutMs,
    maxPerUser: opts.maxPerUser,
    maxTotal: opts.maxTotal,
    onEnd: ({ processId, reason }) => {
      ended.push({ processId, reason });
      for (const w of endWaiters.filter((x) => x.reason === reason)) {
        endWaiters.splice(endWaiters.indexOf(w), 1);
        w.resolve(processId);
      }
    },
  });

  const deps: ProvisioningDeps = {
    bridgeId,
    connector,
    logins: store,
    processes,
    sharedSecret: SECRET,
    verifyAccessToken: async (token) => tokens.get(token),
    logout: async (login, { remote }) => {
      logouts.push({ loginId: login.loginId, remote });
      const s = sessions.get(login.loginId);
      if (s) await (remote ? s.client.logoutRemote() : s.client.disconnect());
      sessions.delete(login.loginId);
      await store.delete(login.loginId);
    },
    client: (id) => sessions.get(id)?.client,
    createDm: async (login, target) => {
      dms.push({ loginId: login.loginId, target: target.userId });
      const key = `${login.loginId}|${target.userId}`;
      const existing = dmRooms.get(key);
      if (existing) return { roomId: existing, created: false };
      const roomId = `!dm${dmRooms.size + 1}:test`;
      dmRooms.set(key, roomId);
      if (target.chatId) dmRoomsByChat.set(`${login.loginId}|${target.chatId}`, roomId);
      return { roomId, created: true };
    },
    states: () => {
      const out = new Map<LoginId, BridgeState>();
      for (const [id, s] of sessions) {
        const last = s.t.states.at(-1);
        if (last) out.set(id as LoginId, { ...last, timestamp: Math.floor(Date.now() / 1000) + 1 });
      }
      return out;
    },
    ghostMxid: (userId) => `@fakenet_${userId}:test`,
    dmRoomId: async (login, chatId) => dmRoomsByChat.get(`${login.loginId}|${chatId}`),
    info: { homeserver: 'test', bridgeBot: '@fakenetbot:test', commandPrefix: '!fakenet' },
    ...opts.deps,
  };

  const app = opts.app ?? Fastify({ logger: false });
  await registerProvisioning(app, deps);

  let validators: Map<string, ValidateFunction | null> | undefined;
  let doc: Record<string, any> | undefined;
  const loadDoc = async () => {
    if (doc) return doc;
    const res = await app.inject({ method: 'GET', url: `${PREFIX}/openapi.json` });
    doc = res.json() as Record<string, any>;
    return doc;
  };

  /** Finds the documented operation of a request and checks status and body against it. */
  const checkDocumented = async (method: string, url: string, res: Response) => {
    const d = await loadDoc();
    validators ??= new Map();
    const path = url.split('?')[0]!;
    const match = Object.keys(d.paths).find((p) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path) && d.paths[p][method]);
    // Unknown routes answer M_UNRECOGNIZED (404/405) and are, rightly, not in the document.
    if (!match) {
      if (res.status !== 404 && res.status !== 405) throw new Error(`${method} ${path} is not in the OpenAPI document`);
      return;
    }
    const op = d.paths[match][method];
    const response = op.responses[String(res.status)];
    if (!response) throw new Error(`${method} ${match} answered ${res.status}, which the OpenAPI document does not list`);
    const key = `${method} ${match} ${res.status}`;
    if (!validators.has(key)) {
      const schema = response.content?.['application/json']?.schema;
      validators.set(key, schema ? new Ajv2020({ strict: false, allErrors: true }).compile(schema) : null);
    }
    const validate = validators.get(key);
    if (validate && !validate(res.body)) {
      throw new Error(`${key}: body does not match the documented schema: ${JSON.stringify(validate.errors)} ${JSON.stringify(res.body)}`);
    }
  };

  const raw = async (o: InjectOptions): Promise<Response> => {
    const res = await app.inject(o);
    let body: any;
    try {
      body = res.json();
    } catch {
      body = res.body;
    }
    const out = { status: res.statusCode, body };
    await checkDocumented(String(o.method ?? 'GET').toLowerCase(), String(o.url), out);
    return out;
  };

  const caller = (authorization: string, userId: string | undefined): Caller => {
    const url = (path: string) =>
      `${PREFIX}${path}${userId ? `${path.includes('?') ? '&' : '?'}user_id=${encodeURIComponent(userId)}` : ''}`;
    return {
      get: (path) => raw({ method: 'GET', url: url(path), headers: { authorization } }),
      post: (path, payload, o) =>
        raw({
          method: 'POST',
          url: url(path),
          headers: { authorization, ...(payload !== undefined || o?.rawBody !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(o?.rawBody !== undefined ? { payload: o.rawBody } : payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
        }),
    };
  };

  return {
    app,
    net,
    connector,
    store,
    processes,
    bridgeId,
    sessions,
    logouts,
    dms,
    ended,
    nextEnd: (reason) => new Promise((resolve) => endWaiters.push({ reason, resolve })),
    tokens,
    admin: (userMxid) => caller(`Bearer ${SECRET}`, userMxid),
    token: (token, userId) => caller(`Bearer ${token}`, userId),
    raw,
    openapi: loadDoc,
    async close() {
      processes.close();
      for (const s of sessions.values()) await s.client.disconnect();
      if (!opts.app) await app.close();
    },
  };
}

/** Runs the phone flow to completion for a remote account with this phone number; returns the login id. */
export async function phoneLogin(f: Fixture, as: Caller, phone: string): Promise<string> {
  const start = await as.post('/login/start/phone');
  if (start.status !== 200) throw new Error(`start: ${start.status} ${JSON.stringify(start.body)}`);
  const id = start.body.login_id as string;
  const code = await as.post(`/login/step/${id}/fakenet.phone/user_input`, { phone_number: phone });
  if (code.status !== 200) throw new Error(`phone: ${code.status} ${JSON.stringify(code.body)}`);
  const done = await as.post(`/login/step/${id}/fakenet.code/user_input`, { code: f.net.lastCode(phone) });
  if (done.status !== 200 || done.body.type !== 'complete') throw new Error(`code: ${done.status} ${JSON.stringify(done.body)}`);
  return done.body.complete.user_login_id as string;
}
