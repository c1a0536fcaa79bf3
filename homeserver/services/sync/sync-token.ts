import { MatrixError } from '../../matrix/errors.js';

/**
 * A sync token is the position of every stream at the moment a response was built:
 * `s<events>_<typing>_<receipts>_<account_data>_<to_device>_<device_lists>_<presence>`.
 * All positions are rows in Postgres, so a token stays valid across restarts and processes.
 * The order below is part of the wire format: append new streams at the end only.
 */
export const STREAM_NAMES = ['events', 'typing', 'receipts', 'account_data', 'to_device', 'device_lists', 'presence'] as const;
export type StreamName = (typeof STREAM_NAMES)[number];
export type SyncPositions = Record<StreamName, number>;

export function formatSyncToken(p: SyncPositions): string {
  return `s${p.events}_${p.typing}_${p.receipts}_${p.account_data}_${p.to_device}_${p.device_lists}_${p.presence}`;
}

/** Each part is 1 to 15 decimal digits (positions are bigints in Postgres, far below 2^53). */
function isPosition(part: string): boolean {
  if (part.length < 1 || part.length > 15) return false;
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

// Parsed on every sync request: plain string operations, no regex or Object.fromEntries.
export function parseSyncToken(token: string): SyncPositions {
  const parts = token.charCodeAt(0) === 115 /* s */ ? token.slice(1).split('_') : [];
  if (!parts.length || !parts.every(isPosition)) throw MatrixError.invalidParam('Invalid sync token');
  // A bare `s<n>` is a pagination token (room events only): accept it with the other streams at 0.
  const out = { ...ZERO_POSITIONS };
  for (let i = 0; i < STREAM_NAMES.length && i < parts.length; i++) out[STREAM_NAMES[i]!] = Number(parts[i]);
  return out;
}

export const ZERO_POSITIONS: SyncPositions = Object.fromEntries(STREAM_NAMES.map((n) => [n, 0])) as SyncPositions;
