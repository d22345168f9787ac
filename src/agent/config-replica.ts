// This agent's replica of the config map: the LWW map, the hybrid logical clock that stamps
// local writes, and the on-disk log. Local writes are durable before they are visible or sent.
import { checkKey, valueProblem } from '../core/config.js'
import { MurmurError } from '../core/errors.js'
import { observe, stampWrite, ZERO_HLC, type Hlc } from '../core/hlc.js'
import { LwwMap, type Entry } from '../core/lww.js'
import { quotaExceeded, type ConfigQuota, type QuotaExceeded } from '../core/quota.js'
import type { ConfigLog } from '../store/config-log.js'

export interface ReplicaHooks {
  /** Called for every entry that changed the map. */
  changed: (e: Entry, source: 'local' | 'remote') => void
  /** A remote stamp was too far ahead to advance our clock. */
  drift: (e: Entry, aheadMs: number) => void
  /** Persisting a remote entry failed (it stays in memory; peers will resend it after a restart). */
  persistFailed: (err: Error) => void
  /** A remote entry was not kept: over a quota, or a tombstone stamped beyond the drift bound. */
  refused: (e: Entry, why: QuotaExceeded | 'future') => void
}

const QUOTA_ADVICE: Record<QuotaExceeded, string> = {
  keys: 'delete unused keys or raise --max-keys on every agent',
  tombstones: 'wait for tombstones to be collected (--tombstone-ttl-ms) or raise --max-tombstones',
  bytes: 'delete or shrink values, or raise --max-config-bytes on every agent'
}

export class ConfigReplica {
  readonly map = new LwwMap()
  private clock: Hlc = ZERO_HLC
  private quarantined: Entry[] = []
  private horizon = 0

  constructor (
    private readonly origin: string,
    private readonly wallNow: () => number,
    private readonly maxDriftMs: number,
    private readonly quota: ConfigQuota,
    private readonly log: ConfigLog | undefined,
    private readonly hooks: ReplicaHooks
  ) {}

  /**
   * Load entries read from disk (no persistence, no events). The drift bound holds here too:
   * a far-future entry on disk (written by a peer whose clock ran ahead) is served but does
   * not drag the clock, or every restart would re-poison it.
   */
  restore (entries: readonly Entry[]): void {
    const now = this.wallNow()
    for (const e of entries) {
      this.map.apply(e)
      this.clock = observe(this.clock, e.hlc, now, this.maxDriftMs).clock
    }
  }

  get (key: string): Entry | undefined {
    const e = this.map.get(key)
    return e === undefined || e.deleted ? undefined : e
  }

  async set (key: string, value: unknown): Promise<Entry> {
    checkKey(key)
    const problem = valueProblem(value)
    if (problem !== undefined) throw new MurmurError('MURMUR_ERR_BAD_VALUE', problem)
    return await this.writeLocal({ key, value, deleted: false })
  }

  /** Write a tombstone, whether or not the key is known here: a delete must win everywhere. */
  async delete (key: string): Promise<{ entry: Entry, existed: boolean }> {
    checkKey(key)
    const existed = this.get(key) !== undefined
    return { entry: await this.writeLocal({ key, deleted: true }), existed }
  }

  /** Merge entries from gossip or sync; returns those that changed the map. */
  async applyRemote (entries: readonly Entry[]): Promise<Entry[]> {
    const now = this.wallNow()
    const changed: Entry[] = []
    for (const e of entries) {
      // A tombstone from the far future would outlive the tombstone TTL by as much and, until
      // then, delete every later write of its key: it is not kept.
      if (e.deleted && e.hlc.wall - now > this.maxDriftMs) {
        this.hooks.refused(e, 'future')
        continue
      }
      const over = quotaExceeded(this.map, e, this.quota)
      if (over !== undefined) {
        this.hooks.refused(e, over)
        continue
      }
      const seen = observe(this.clock, e.hlc, now, this.maxDriftMs)
      this.clock = seen.clock
      if (seen.drifted) this.hooks.drift(e, e.hlc.wall - now)
      if (this.map.apply(e)) changed.push(e)
    }
    for (const e of changed) this.hooks.changed(e, 'remote')
    if (changed.length > 0) this.persist(changed).catch(err => this.hooks.persistFailed(err as Error))
    return changed
  }

  private async writeLocal (w: { key: string, value?: unknown, deleted: boolean }): Promise<Entry> {
    // The stamp is above both our clock and the version being replaced: a write made after
    // reading a key supersedes it even when that version came from a clock far ahead of ours,
    // without our clock following it there (see stampWrite).
    const stamped = stampWrite(this.clock, this.map.get(w.key)?.hlc, this.wallNow(), this.maxDriftMs)
    if (stamped === undefined) throw new MurmurError('MURMUR_ERR_BAD_KEY', `key '${w.key}' holds the last version stamp there is and cannot be overwritten`)
    const entry: Entry = { ...w, hlc: stamped.stamp, origin: this.origin }
    const over = quotaExceeded(this.map, entry, this.quota)
    if (over !== undefined) throw new MurmurError('MURMUR_ERR_QUOTA', `the cluster's config ${over} quota is reached (${this.usage()}): ${QUOTA_ADVICE[over]}`)
    this.clock = stamped.clock
    await this.persist([entry])
    if (this.map.apply(entry)) this.hooks.changed(entry, 'local')
    return entry
  }

  usage (): string {
    const q = this.quota
    return `keys ${this.map.liveSize}/${q.maxKeys}, tombstones ${this.map.tombstoneCount}/${q.maxTombstones}, bytes ${this.map.bytes}/${q.maxBytes}`
  }

  private async persist (entries: Entry[]): Promise<void> {
    if (this.log === undefined) return
    await this.log.append(entries)
  }

  /**
   * Called when this agent has been out of contact longer than the tombstone TTL: its entries
   * older than the horizon may be keys the cluster deleted and has since forgotten the
   * tombstones of. They are set aside (not served, not offered to peers) until a sync shows
   * what the cluster still has; see `releaseQuarantine`.
   */
  quarantine (ttlMs: number): number {
    this.horizon = this.wallNow() - ttlMs
    for (const e of this.map.all()) if (e.hlc.wall < this.horizon) this.quarantined.push(e)
    for (const e of this.quarantined) this.map.remove(e.key)
    return this.quarantined.length
  }

  /**
   * Bring quarantined entries back. After a sync (`synced`), if the cluster holds entries older
   * than the horizon it has kept its old state, so a quarantined key it does not know was
   * deleted there: it is dropped, in memory and on disk. If the cluster holds nothing that old
   * (it is new, or every agent was away), or no peer answered (`synced` false), every entry
   * comes back. Returns how many were dropped.
   */
  async releaseQuarantine (synced: boolean): Promise<number> {
    const held = this.quarantined
    this.quarantined = []
    let clusterKeptOld = false
    if (synced) for (const e of this.map.all()) if (e.hlc.wall < this.horizon) { clusterKeptOld = true; break }
    const dropped = new Set<string>()
    const kept: Entry[] = []
    for (const e of held) {
      if (!clusterKeptOld || this.map.get(e.key) !== undefined) kept.push(e)
      else if (!e.deleted) dropped.add(e.key)
    }
    // Readers and watchers see the entries come back like any other change.
    for (const e of kept) if (this.map.apply(e)) this.hooks.changed(e, 'remote')
    if (dropped.size > 0) await this.log?.compact(e => dropped.has(e.key) && this.map.get(e.key) === undefined)
    return dropped.size
  }

  get quarantinedCount (): number { return this.quarantined.length }

  /** Forget tombstones older than `ttlMs` (by their own stamps), in memory and on disk. */
  async collectTombstones (ttlMs: number): Promise<number> {
    const horizon = this.wallNow() - ttlMs
    const removed = this.map.collectTombstones(horizon)
    if (removed > 0) await this.log?.compact(e => e.deleted && e.hlc.wall < horizon)
    return removed
  }
}
