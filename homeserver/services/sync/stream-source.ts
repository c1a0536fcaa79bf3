/**
 * The contract between sync and every per-user data stream (account data, to-device messages,
 * device list changes, receipts, typing, presence, ...). Each stream keeps its own monotonically
 * increasing position in Postgres (a BIGSERIAL or sequence), so a sync token is just the tuple of
 * stream positions and survives restarts; any process can serve any sync.
 *
 * Writers publish `{ stream, position, userIds? , roomIds? }` on STREAM_TOPIC after their commit, so
 * long-polling syncs in every process wake at once (the pub/sub port carries wake-ups only; the
 * data is always read back from Postgres).
 */
export const STREAM_TOPIC = 'hs.streams';

export interface StreamWakeUp {
  stream: string;
  position: number;
  /** Users whose sync must wake; omit for room-scoped streams and give roomIds instead. */
  userIds?: string[];
  roomIds?: string[];
  /** Whose own data moved (receipts: the receipt's owner), so caches of it can be dropped exactly. */
  actors?: string[];
}

/** Called by sync to assemble one response; all reads are bounded by (from, to]. */
export interface StreamSource<Section> {
  /** Short, stable name; part of the sync token format, never change it. */
  readonly name: string;
  /** The highest position written so far (read at the start of each sync). */
  currentPosition(): Promise<number>;
  /**
   * The user's part of the stream between two positions (from exclusive, to inclusive), or the
   * full current state for an initial sync (from = 0). Returns undefined when there is nothing new,
   * so an incremental sync can keep waiting.
   */
  sectionFor(
    userId: string,
    deviceId: string | undefined,
    from: number,
    to: number,
    rooms: { joined: string[] },
  ): Promise<Section | undefined>;
}
