import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import YAML from 'yaml';
import type { Queryable } from '../../../homeserver/storage/db.js';
import type { AppserviceRegistry } from '../../../homeserver/services/appservices/registry-port.js';
import { botLocalpart } from '../ids.js';

/** The bridge's appservice registration document (the YAML format Synapse and every bridge use). */
export interface RegistrationDocument {
  id: string;
  url: string | null;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  namespaces: { users: { regex: string; exclusive: boolean }[]; aliases: { regex: string; exclusive: boolean }[]; rooms: [] };
  rate_limited: boolean;
  receive_ephemeral: boolean;
  'de.sorunome.msc2409.push_ephemeral': boolean;
  protocols: string[];
}

/** Hands the registration to the homeserver (runtime registry, a file, an admin API). */
export type Registrar = (doc: RegistrationDocument) => Promise<void>;

/**
 * The bridge's tokens: generated at the first start and kept in `bridge_appservice`, so a restart
 * (or another worker) presents the same registration. Never logged.
 */
export async function loadOrCreateTokens(db: Queryable, bridgeId: string): Promise<{ asToken: string; hsToken: string }> {
  const token = () => randomBytes(32).toString('base64url');
  await db.query(
    'INSERT INTO bridge_appservice (bridge_id, as_token, hs_token, created_ts) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
    [bridgeId, token(), token(), Date.now()],
  );
  const { rows } = await db.query<{ as_token: string; hs_token: string }>(
    'SELECT as_token, hs_token FROM bridge_appservice WHERE bridge_id = $1',
    [bridgeId],
  );
  return { asToken: rows[0]!.as_token, hsToken: rows[0]!.hs_token };
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function registrationDocument(opts: {
  bridgeId: string;
  networkId: string;
  serverName: string;
  url: string | null;
  asToken: string;
  hsToken: string;
}): RegistrationDocument {
  const server = escapeRegex(opts.serverName);
  return {
    id: opts.bridgeId,
    url: opts.url,
    as_token: opts.asToken,
    hs_token: opts.hsToken,
    sender_localpart: botLocalpart(opts.bridgeId),
    namespaces: {
      users: [{ regex: `@${escapeRegex(opts.bridgeId)}_.*:${server}`, exclusive: true }],
      aliases: [{ regex: `#${escapeRegex(opts.bridgeId)}_.*:${server}`, exclusive: true }],
      rooms: [],
    },
    // Ghosts speak for whole networks: the homeserver's per-user send limits would drop traffic.
    rate_limited: false,
    receive_ephemeral: true,
    'de.sorunome.msc2409.push_ephemeral': true,
    protocols: [opts.networkId],
  };
}

/**
 * Registers through the homeserver's registry port (the platform's runtime registrations). An
 * identical registration is left alone; a runtime one that differs (new url) is replaced; one from
 * a config file belongs to the operator and is never touched.
 */
export function registryRegistrar(registry: AppserviceRegistry): Registrar {
  return async (doc) => {
    const existing = registry.byId(doc.id);
    if (existing) {
      const same = existing.asToken === doc.as_token && existing.hsToken === doc.hs_token && existing.url === doc.url;
      if (same || !registry.isRuntime?.(doc.id)) return;
      await registry.remove?.(doc.id);
    }
    if (!registry.add) throw new Error('the homeserver cannot add appservice registrations at runtime');
    await registry.add(doc);
  };
}

/** Writes the registration file for another homeserver's config (owner-only permissions: it holds tokens). */
export function fileRegistrar(path: string): Registrar {
  return async (doc) => {
    await writeFile(path, YAML.stringify(doc), { mode: 0o600 });
  };
}
