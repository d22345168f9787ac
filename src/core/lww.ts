// Last-writer-wins map: the config CRDT. An entry is (value, hlc, origin); a delete is a
// tombstone (an entry without value). Entries are ordered by (hlc, origin), so merging is
// commutative, associative and idempotent: replicas that saw the same entries in any order,
// with any duplicates, hold the same map.
import { compareHlc, type Hlc } from './hlc.js'
import { fnv1a } from './hash.js'

export interface Entry {
  readonly key: string
  /** Absent on a tombstone. */
  readonly value?: unknown
  readonly deleted: boolean
  readonly hlc: Hlc
  /** Peer id of the agent that made the write; breaks ties between equal stamps. */
  readonly origin: string
}

/** Digests split keys into this many buckets; anti-entropy transfers only differing buckets. */
export const BUCKETS = 128

export function compareVersion (a: Entry, b: Entry): number {
  const c = compareHlc(a.hlc, b.hlc)
  if (c !== 0) return c
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0
}

/** Size of an entry for quotas: its key and its value as JSON, in UTF-8 bytes. */
export function entryBytes (e: Entry): number {
  return Buffer.byteLength(e.key) + (e.deleted ? 0 : Buffer.byteLength(JSON.stringify(e.value)))
}

export function bucketOf (key: string): number {
  return fnv1a(key) % BUCKETS
}

/** Identifies one version of one key; two agents agree on it without comparing values. */
function fingerprint (e: Entry): number {
  return fnv1a(`${e.hlc.wall}.${e.hlc.logical}.${e.origin}.${e.deleted ? 1 : 0}`, fnv1a(e.key))
}

export class LwwMap {
  private readonly entries = new Map<string, Entry>()
  private readonly buckets = new Uint32Array(BUCKETS)
  private tombstones = 0
  private totalBytes = 0

  get size (): number { return this.entries.size }
  get liveSize (): number { return this.entries.size - this.tombstones }
  get tombstoneCount (): number { return this.tombstones }
  /** Bytes of keys and values (as JSON) held, tombstones included: what config quotas count. */
  get bytes (): number { return this.totalBytes }

  get (key: string): Entry | undefined {
    return this.entries.get(key)
  }

  /** Merge one entry. Returns true when it changed the map (it was newer than what we had). */
  apply (entry: Entry): boolean {
    const current = this.entries.get(entry.key)
    if (current !== undefined && compareVersion(entry, current) <= 0) return false
    this.replace(current, entry)
    return true
  }

  all (): IterableIterator<Entry> {
    return this.entries.values()
  }

  /** Live (not deleted) entries whose key starts with `prefix`, sorted by key. */
  list (prefix = ''): Entry[] {
    const out: Entry[] = []
    for (const e of this.entries.values()) if (!e.deleted && e.key.startsWith(prefix)) out.push(e)
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  inBuckets (buckets: ReadonlySet<number>): Entry[] {
    const out: Entry[] = []
    for (const e of this.entries.values()) if (buckets.has(bucketOf(e.key))) out.push(e)
    return out
  }

  /** One 32-bit XOR of entry fingerprints per bucket: equal maps have equal digests. */
  digest (): Uint32Array {
    return this.buckets.slice()
  }

  /** Buckets in which `other` differs from this map. */
  differingBuckets (other: ArrayLike<number>): Set<number> {
    const out = new Set<number>()
    for (let b = 0; b < BUCKETS; b++) if ((other[b] ?? 0) !== this.buckets[b]) out.add(b)
    return out
  }

  /** Drop a key outright (not a delete: no tombstone). Used to set entries aside. */
  remove (key: string): void {
    const e = this.entries.get(key)
    if (e !== undefined) this.replace(e, undefined)
  }

  /** Forget tombstones stamped before `horizonWall`; returns how many were removed. */
  collectTombstones (horizonWall: number): number {
    let removed = 0
    for (const e of this.entries.values()) {
      if (e.deleted && e.hlc.wall < horizonWall) {
        this.replace(e, undefined)
        removed++
      }
    }
    return removed
  }

  private replace (old: Entry | undefined, next: Entry | undefined): void {
    const key = (old ?? next as Entry).key
    const b = bucketOf(key)
    if (old !== undefined) {
      this.buckets[b] ^= fingerprint(old)
      if (old.deleted) this.tombstones--
      this.totalBytes -= entryBytes(old)
    }
    if (next === undefined) {
      this.entries.delete(key)
      return
    }
    this.buckets[b] ^= fingerprint(next)
    if (next.deleted) this.tombstones++
    this.totalBytes += entryBytes(next)
    this.entries.set(key, next)
  }
}
