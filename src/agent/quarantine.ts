// Tombstones are forgotten after `tombstoneTtlMs`. An agent that has been out of touch for
// longer may hold keys the cluster deleted meanwhile: its old entries are set aside until a
// sync shows which keys the cluster still knows (ConfigReplica.quarantine), or, alone, for a
// minute. This component keeps the time of last contact (persisted in the data dir) and
// applies that rule.
import { readLastContact, writeLastContact } from '../store/contact.js'
import type { ConfigReplica } from './config-replica.js'
import type { Logger } from './log.js'

export class Quarantine {
  readonly counters = { quarantined: 0, resurrectionsPrevented: 0 }
  /** Wall time of the last message or sync from any peer; undefined before the first. */
  private lastContact: number | undefined
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (
    private readonly replica: ConfigReplica,
    private readonly ttlMs: number,
    private readonly dataDir: string | undefined,
    private readonly logger: Logger
  ) {}

  async start (): Promise<void> {
    if (this.dataDir === undefined) return
    this.lastContact = await readLastContact(this.dataDir)
    this.checkAway()
    const dir = this.dataDir
    const t = setInterval(() => { if (this.lastContact !== undefined) writeLastContact(dir, this.lastContact).catch(() => {}) }, 30_000)
    this.timers.add(t as unknown as NodeJS.Timeout)
  }

  async stop (): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    if (this.dataDir !== undefined && this.lastContact !== undefined) await writeLastContact(this.dataDir, this.lastContact).catch(() => {})
  }

  /** Heard from the cluster (any message). */
  contact (): void {
    this.checkAway()
    this.lastContact = Date.now()
  }

  /** A sync with a peer completed: what it holds tells which quarantined keys to drop. */
  async synced (): Promise<void> {
    this.contact()
    await this.release(true)
  }

  private checkAway (): void {
    if (this.lastContact === undefined || Date.now() - this.lastContact <= this.ttlMs) return
    const away = Date.now() - this.lastContact
    this.lastContact = Date.now()
    const n = this.replica.quarantine(this.ttlMs)
    this.counters.quarantined += n
    // Alone, there is nothing to resurrect against: without a sync in a minute, serve it all.
    const t = setTimeout(() => { this.release(false).catch(() => {}) }, 60_000)
    this.timers.add(t)
    this.logger('warn', 'config', 'out of contact longer than the tombstone TTL: old entries set aside until the cluster confirms them', { awayMs: away, entries: n })
  }

  private async release (synced: boolean): Promise<void> {
    if (this.replica.quarantinedCount === 0) return
    const dropped = await this.replica.releaseQuarantine(synced)
    this.counters.resurrectionsPrevented += dropped
    if (dropped > 0) this.logger('warn', 'config', 'dropped entries the cluster no longer knows (deleted while this agent was away)', { count: dropped })
  }
}
