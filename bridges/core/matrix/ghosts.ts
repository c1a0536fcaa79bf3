import type { Logger } from '../../../homeserver/runtime/logger.js';
import { ghostMxid } from '../ids.js';
import type { UserInfo } from '../network/chat-info.js';
import type { RemoteUserId } from '../network/ids.js';
import type { NetworkClient } from '../network/network-client.js';
import type { GhostStore } from '../storage/ghosts.js';
import type { Intent } from './intent.js';
import type { MatrixSide } from './matrix-side.js';

/**
 * Ghosts: the Matrix users standing for remote users. A ghost is registered once
 * (m.login.application_service) and its display name and avatar follow the remote profile: pushed
 * when first seen and again whenever the network reports a different name or avatar id.
 */
export class Ghosts {
  /** Ghosts known registered with a current profile in this process (bounded, oldest dropped). */
  private ready = new Set<string>();

  constructor(private deps: { store: GhostStore; matrix: MatrixSide; bridgeId: string; serverName: string; log: Logger }) {}

  mxid(userId: RemoteUserId): string {
    return ghostMxid(this.deps.bridgeId, this.deps.serverName, userId);
  }

  async displayName(userId: RemoteUserId): Promise<string | undefined> {
    return (await this.deps.store.get(userId))?.name ?? undefined;
  }

  /** The ghost's intent, registered and with its profile synced; `info` refreshes the profile. */
  async ensure(userId: RemoteUserId, client?: NetworkClient, info?: UserInfo): Promise<Intent> {
    const mxid = this.mxid(userId);
    const intent = this.deps.matrix.intent(mxid);
    if (this.ready.has(mxid) && !info) return intent;
    const row = await this.deps.store.getOrCreate(userId, mxid);
    if (!row.nameSet || info) {
      await intent.register();
      if (!info && client)
        info = await client.getUserInfo(userId).catch((err) => (this.deps.log.debug({ err }, 'getUserInfo failed'), undefined));
      if (info) {
        let changed = false;
        if (info.name && (info.name !== row.name || !row.nameSet)) {
          await intent.setDisplayName(info.name);
          row.name = info.name;
          row.nameSet = true;
          changed = true;
        }
        if (info.avatar && (info.avatar.avatarId !== row.avatarId || !row.avatarSet)) {
          const mxc = await intent.uploadStream(await info.avatar.open(), info.avatar.mimeType, 'avatar');
          await intent.setAvatarUrl(mxc);
          Object.assign(row, { avatarId: info.avatar.avatarId, avatarMxc: mxc, avatarSet: true });
          changed = true;
        }
        if (info.identifiers) {
          row.identifiers = info.identifiers;
          changed = true;
        }
        if (info.isBot !== undefined) {
          row.isBot = info.isBot;
          changed = true;
        }
        if (changed) await this.deps.store.update(row);
      }
    }
    if (this.ready.size >= 10_000) this.ready.delete(this.ready.values().next().value!);
    this.ready.add(mxid);
    return intent;
  }
}
