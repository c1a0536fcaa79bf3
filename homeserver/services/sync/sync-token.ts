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
  return `s${STREAM_NAMES.map((n) => p[n]).join('_')}`;
}

export function parseSyncToken(token: string): SyncPositions {
  const m = /^s(\d{1,15}(?:_\d{1,15})*)$/.exec(token);
  if (!m) throw MatrixError.invalidParam('Invalid sync token');
  const parts = m[1]!.split('_').map(Number);
  // A bare `s<n>` is a pagination token (room events only): accept it with the other streams at 0.
  const out = Object.fromEntries(STREAM_NAMES.map((n, i) => [n, parts[i] ?? 0])) as SyncPositions;
  return out;
}

export const ZERO_POSITIONS: SyncPositions = Object.fromEntries(STREAM_NAMES.map((n) => [n, 0])) as SyncPositions;
