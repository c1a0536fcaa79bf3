/**
 * A Matrix user for bridge end-to-end tests: a registered, syncing matrix-js-sdk client that
 * remembers every timeline event it received, per room, in arrival order. Kept apart from the
 * SDK's live timeline, which a gappy (limited) sync replaces, and copied on arrival, before a
 * redaction empties it.
 */
import * as sdk from 'matrix-js-sdk';
import { registerSdkClient } from './register-sdk-client.js';
import { logger } from 'matrix-js-sdk/lib/logger.js';

(logger as unknown as { disableAll(): void }).disableAll(); // the SDK's request log drowns the test output

/** A room event as it arrived; its content copied then, since a later redaction strips the SDK's copy. */
export interface Arrival {
  id: string;
  type: string;
  sender: string;
  content: Record<string, any>;
  /** For a redaction: the event it redacts. */
  redacts?: string;
}

export interface MatrixUser {
  client: sdk.MatrixClient;
  /** Every timeline event received in the room (redactions included), once each, in arrival order. */
  arrivals(roomId: string): Arrival[];
}

export async function startMatrixUser(baseUrl: string, username: string): Promise<MatrixUser> {
  const client = await registerSdkClient(baseUrl, username);
  const seen = new Map<string, Map<string, Arrival>>();
  client.on(sdk.RoomEvent.Timeline, (event: sdk.MatrixEvent, room: sdk.Room | undefined) => {
    const roomId = room?.roomId ?? event.getRoomId();
    const id = event.getId();
    if (!roomId || !id) return;
    if (!seen.has(roomId)) seen.set(roomId, new Map());
    const events = seen.get(roomId)!;
    if (events.has(id)) return;
    const content = structuredClone(event.getWireContent()) as Record<string, any>;
    const redacts = event.event.redacts ?? (content.redacts as string | undefined);
    events.set(id, { id, type: event.getType(), sender: event.getSender()!, content, ...(redacts ? { redacts } : {}) });
  });
  const prepared = new Promise<void>((resolve) => client.once(sdk.ClientEvent.Sync, () => resolve()));
  await client.startClient({ initialSyncLimit: 50 });
  await prepared;
  return { client, arrivals: (roomId) => [...(seen.get(roomId)?.values() ?? [])] };
}

/** Calls a bridge's provisioning API with the user's own Matrix access token. */
export async function provision(provisioningUrl: string, user: MatrixUser, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${provisioningUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${user.client.getAccessToken()}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
