/**
 * A least-recently-used cache bounded by bytes, shared by every login of a crypto store, with a
 * byte count per owner (login) for the session pool's memory accounting. A Map keeps insertion
 * order, so re-inserting on access makes its first key the least recently used.
 *
 * Sizes are estimates that move with the contents: the value's bytes, the key string (UTF-16)
 * and a fixed overhead for the Map entry, the entry object and the Uint8Array header.
 */
export const ENTRY_OVERHEAD_BYTES = 160;

interface Entry<V> {
  owner: string;
  value: V;
  bytes: number;
}

export class ByteLru<V> {
  private entries = new Map<string, Entry<V>>();
  private owners = new Map<string, number>();
  private total = 0;

  constructor(
    readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: string): { value: V } | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  set(key: string, owner: string, value: V): void {
    this.delete(key);
    const bytes = ENTRY_OVERHEAD_BYTES + 2 * key.length + this.sizeOf(value);
    // An entry larger than the whole cache would only evict everything else and then itself.
    if (bytes > this.maxBytes) return;
    this.entries.set(key, { owner, value, bytes });
    this.account(owner, bytes);
    for (const [k, old] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(k);
      this.account(old.owner, -old.bytes);
    }
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.account(e.owner, -e.bytes);
  }

  /** Drops every entry of one owner (O(size): used on logout only). */
  deleteOwner(owner: string): void {
    if (!this.owners.has(owner)) return;
    for (const [k, e] of this.entries) if (e.owner === owner) this.delete(k);
  }

  bytes(): number {
    return this.total;
  }

  ownerBytes(owner: string): number {
    return this.owners.get(owner) ?? 0;
  }

  get size(): number {
    return this.entries.size;
  }

  private account(owner: string, delta: number) {
    this.total += delta;
    const n = (this.owners.get(owner) ?? 0) + delta;
    if (n > 0) this.owners.set(owner, n);
    else this.owners.delete(owner);
  }
}
