/**
 * The server side of end-to-end encryption: it stores and relays public keys, signatures,
 * encrypted to-device messages and encrypted key backups, and never sees plaintext.
 *
 * What sync wires (all on `services.e2e.sync`):
 *   - `toDevice`: the `to_device` StreamSource (section `{ events }`, oldest first, at most 100);
 *     take next_batch's to_device position from `toDevice.read(...).position`, not `to`.
 *   - `deviceLists`: the `device_lists` StreamSource (key changes only, own positions).
 *   - `deviceListsSection(userId, from, to)`: the full `{ changed, left }` including membership
 *     changes; takes both the events and device_lists positions.
 *   - `otkCounts(userId, deviceId)`: `device_one_time_keys_count` + `device_unused_fallback_key_types`.
 *   - `ackToDevice(userId, deviceId, upTo)`: delete messages the device synced past.
 */
import { OtkChangeFeed } from './otk-change-feed.js';
import type { Logger } from '../../runtime/logger.js';
import type { PubSub } from '../../runtime/ports.js';
import type { Db } from '../../storage/db.js';
import type { Accounts } from '../accounts/accounts.js';
import type { StreamSource } from '../sync/stream-source.js';
import { DeviceLists, type DeviceListPositions, type DeviceListsSection } from './device-lists.js';
import { KeyBackup } from './key-backup.js';
import { E2eKeys, type OtkCounts } from './keys.js';
import { ToDevice, type ToDeviceStream } from './to-device.js';

export { parseDeviceListPosition, type DeviceListPositions, type DeviceListsSection } from './device-lists.js';
export type { OtkCounts } from './keys.js';
export { TO_DEVICE_SYNC_LIMIT, type ToDeviceEvent, type ToDeviceRead, type ToDeviceSection, type ToDeviceStream } from './to-device.js';

export interface E2eSync {
  toDevice: ToDeviceStream;
  deviceLists: StreamSource<DeviceListsSection>;
  otkCounts(userId: string, deviceId: string): Promise<OtkCounts>;
  deviceListsSection(userId: string, from: DeviceListPositions, to: DeviceListPositions): Promise<DeviceListsSection>;
  ackToDevice(userId: string, deviceId: string, upTo: number): Promise<void>;
}

export class E2e {
  readonly deviceLists: DeviceLists;
  readonly keys: E2eKeys;
  readonly toDevice: ToDevice;
  readonly backup: KeyBackup;
  /** Key count changes, for in-memory copies of the counts (sync). */
  readonly otkChanges: OtkChangeFeed;
  /** Plain functions (no `this` needed) for sync. */
  readonly sync: E2eSync;

  constructor(deps: { db: Db; pubsub: PubSub; accounts: Accounts; serverName: string; log: Logger }) {
    const { db, pubsub, accounts, serverName } = deps;
    const log = deps.log.child({ component: 'e2e' });
    this.deviceLists = new DeviceLists(db, pubsub, log);
    this.otkChanges = new OtkChangeFeed(pubsub);
    this.keys = new E2eKeys(db, this.deviceLists, serverName, this.otkChanges);
    this.toDevice = new ToDevice(db, pubsub, log, serverName);
    this.backup = new KeyBackup(db);
    accounts.onDevicesDeleted((tx, userId, deviceIds) => this.keys.devicesDeleted(tx, userId, deviceIds));
    this.sync = {
      toDevice: this.toDevice.stream,
      deviceLists: this.deviceLists.stream,
      otkCounts: (userId, deviceId) => this.keys.otkCounts(userId, deviceId),
      deviceListsSection: (userId, from, to) => this.deviceLists.section(userId, from, to),
      ackToDevice: (userId, deviceId, upTo) => this.toDevice.ack(userId, deviceId, upTo),
    };
  }
}
