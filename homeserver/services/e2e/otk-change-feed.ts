import { randomUUID } from 'node:crypto';
import type { PubSub } from '../../runtime/ports.js';

/** A device whose one-time or fallback key counts changed: [userId, deviceId]; device id '*' means all of the user's devices. */
export type DeviceRef = [string, string];

const TOPIC = 'e2e.otk_counts_changed';

/**
 * Tells every process that some devices' key counts changed (upload, claim, device deletion), so
 * in-memory copies of the counts (sync's cache) are dropped. This process's listeners are called
 * synchronously before the publish, so a client that uploads keys and then syncs against the same
 * process never sees the old count; other processes drop theirs when the message arrives.
 */
export class OtkChangeFeed {
  private listeners = new Set<(devices: DeviceRef[]) => void>();
  /** Marks this process's messages: its own listeners were already told, synchronously. */
  private readonly origin = randomUUID();

  constructor(private pubsub: PubSub) {}

  changed(devices: DeviceRef[]): void {
    if (!devices.length) return;
    this.notify(devices);
    void this.pubsub.publish(TOPIC, { devices, origin: this.origin }).catch(() => undefined);
  }

  /** Subscribes to changes made here and in other processes; returns the unsubscribe function. */
  async listen(listener: (devices: DeviceRef[]) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    const unsubscribe = await this.pubsub.subscribe(TOPIC, (message) => {
      const { devices, origin } = message as { devices?: unknown; origin?: unknown };
      if (origin !== this.origin && Array.isArray(devices)) listener(devices.filter(isDeviceRef));
    });
    return async () => {
      this.listeners.delete(listener);
      await unsubscribe();
    };
  }

  private notify(devices: DeviceRef[]): void {
    for (const l of this.listeners) l(devices);
  }
}

function isDeviceRef(d: unknown): d is DeviceRef {
  return Array.isArray(d) && d.length === 2 && typeof d[0] === 'string' && typeof d[1] === 'string';
}
