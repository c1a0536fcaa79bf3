/**
 * Activity inside this window keeps `currently_active` (Synapse: 60 s); it is also how often
 * repeated activity of an already active user is written (each write is a stream entry others sync).
 */
export const LAST_ACTIVE_GRANULARITY_MS = 60_000;

/** The idle timers (config `presence.offline_after_ms` / `idle_after_ms`). */
export interface PresenceTimeouts {
  offlineAfterMs: number;
  idleAfterMs: number;
}

/** The window for `currently_active`: Synapse's 60 s, shortened when the idle timeout is shorter still. */
export function activeWindowMs(t: PresenceTimeouts): number {
  return Math.max(1, Math.min(LAST_ACTIVE_GRANULARITY_MS, Math.floor(t.idleAfterMs / 2)));
}
