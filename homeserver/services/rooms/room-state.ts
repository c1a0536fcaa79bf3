import type { Pdu } from '../../matrix/pdu.js';
import type { RoomVersionId } from '../../matrix/room-versions.js';
import type { AuthState } from '../../matrix/auth-rules.js';

/** A stored event: the PDU plus the id and position it was persisted under. */
export interface StoredEvent {
  eventId: string;
  pdu: Pdu;
}

export const stateMapKey = (type: string, stateKey: string) => `${type}\u0000${stateKey}`;

/**
 * The current state of one room as held in memory by the process that writes it: every state
 * event by (type, state_key), the chain head, and the room version. Auth checks and event
 * building read only this, so the write path does not query the database.
 */
export class RoomState implements AuthState {
  /**
   * Moves whenever `state` changes (a committed chain with state events mutates this object in
   * place): caches of facts derived from the state (member counts, power levels) key on it.
   */
  stateGeneration = 0;

  constructor(
    readonly roomId: string,
    readonly version: RoomVersionId,
    readonly state: Map<string, StoredEvent>,
    public headEventId: string | null,
    public headDepth: number,
  ) {}

  get(type: string, stateKey: string): Pdu | undefined {
    return this.state.get(stateMapKey(type, stateKey))?.pdu;
  }

  getStored(type: string, stateKey: string): StoredEvent | undefined {
    return this.state.get(stateMapKey(type, stateKey));
  }

  membershipOf(userId: string): string | undefined {
    return this.get('m.room.member', userId)?.content.membership as string | undefined;
  }

  /** A view that sees `overlay` on top of this state: used to build a chain before it commits. */
  overlay(): RoomStateOverlay {
    return new RoomStateOverlay(this);
  }
}

/** Speculative changes over a RoomState; applied to the base only when the chain is accepted. */
export class RoomStateOverlay implements AuthState {
  readonly changes = new Map<string, StoredEvent>();
  headEventId: string | null;
  headDepth: number;

  constructor(readonly base: RoomState) {
    this.headEventId = base.headEventId;
    this.headDepth = base.headDepth;
  }

  get(type: string, stateKey: string): Pdu | undefined {
    return this.getStored(type, stateKey)?.pdu;
  }

  getStored(type: string, stateKey: string): StoredEvent | undefined {
    const key = stateMapKey(type, stateKey);
    return this.changes.get(key) ?? this.base.state.get(key);
  }

  membershipOf(userId: string): string | undefined {
    return this.get('m.room.member', userId)?.content.membership as string | undefined;
  }

  append(event: StoredEvent, depth: number): void {
    if (event.pdu.state_key !== undefined) this.changes.set(stateMapKey(event.pdu.type, event.pdu.state_key), event);
    this.headEventId = event.eventId;
    this.headDepth = depth;
  }

  /** Copies the accepted changes into the base state (after the chain committed). */
  commit(): void {
    for (const [k, v] of this.changes) this.base.state.set(k, v);
    if (this.changes.size) this.base.stateGeneration++;
    this.base.headEventId = this.headEventId;
    this.base.headDepth = this.headDepth;
  }
}
