// The member table: one agent's view of the cluster, built from heartbeats. Pure: every
// method takes `now` (local monotonic-ish ms) and returns the transitions it made, which the
// agent turns into logs, events and metrics.
import { ArrivalWindow, type DetectorOptions } from './detector.js'
import { compareHeartbeat, type Heartbeat } from './heartbeat.js'

export type MemberStatus = 'alive' | 'suspect' | 'failed' | 'left'

export interface Member {
  readonly hb: Heartbeat
  readonly status: MemberStatus
  /** Local time the latest heartbeat (of any path) arrived. */
  readonly lastSeen: number
  /** Local time of the last status change. */
  readonly since: number
}

export interface Transition {
  readonly id: string
  readonly name: string
  readonly from: MemberStatus | 'none'
  readonly to: MemberStatus | 'reaped'
}

export interface MembershipOptions extends DetectorOptions {
  /** phi at which a silent member becomes suspect. @default 8 */
  phiSuspect: number
  /** Time a member stays suspect, without a newer heartbeat, before it is failed. @default 2000 */
  suspicionMs: number
  /** Time a failed or left member is kept before it is forgotten. @default 3_600_000 */
  reapMs: number
}

interface Row {
  hb: Heartbeat
  status: MemberStatus
  lastSeen: number
  since: number
  window: ArrivalWindow
}

export class MemberTable {
  private readonly rows = new Map<string, Row>()

  constructor (readonly selfId: string, private readonly opts: MembershipOptions) {}

  get (id: string): Member | undefined {
    return this.rows.get(id)
  }

  list (): Member[] {
    return [...this.rows.values()].sort((a, b) => (a.hb.name < b.hb.name ? -1 : a.hb.name > b.hb.name ? 1 : 0))
  }

  phi (id: string, now: number): number {
    const row = this.rows.get(id)
    return row === undefined || id === this.selfId ? 0 : row.window.phi(now)
  }

  /** Versions (generation, counter) of every member, for anti-entropy digests. */
  versions (): Array<[string, number, number]> {
    return [...this.rows.values()].map(r => [r.hb.id, r.hb.generation, r.hb.counter])
  }

  /**
   * Apply a heartbeat. `direct` is true when it arrived by gossip as it was sent (it then
   * counts as an arrival for the failure detector); false when it was relayed by a sync.
   * Stale or duplicate heartbeats change nothing.
   */
  observe (hb: Heartbeat, now: number, direct: boolean): Transition[] {
    const row = this.rows.get(hb.id)
    if (row !== undefined && compareHeartbeat(hb, row.hb) <= 0) return []
    const to: MemberStatus = hb.status === 'left' ? 'left' : 'alive'
    if (row === undefined) {
      const window = new ArrivalWindow(this.opts)
      window.record(now)
      this.rows.set(hb.id, { hb, status: to, lastSeen: now, since: now, window })
      return [{ id: hb.id, name: hb.name, from: 'none', to }]
    }
    // A new generation is a restart: its arrival history says nothing about the new process.
    const restarted = hb.generation > row.hb.generation
    if (restarted) row.window = new ArrivalWindow(this.opts)
    // A fresh window needs a first arrival whatever the path, or phi would stay 0 forever.
    if (direct || restarted) row.window.record(now)
    row.hb = hb
    row.lastSeen = now
    return this.move(row, to, now)
  }

  /** Advance failure detection and reaping to `now`. */
  tick (now: number): Transition[] {
    const out: Transition[] = []
    for (const row of this.rows.values()) {
      if (row.hb.id === this.selfId) continue
      if (row.status === 'alive' && row.window.phi(now) >= this.opts.phiSuspect) {
        out.push(...this.move(row, 'suspect', now))
      } else if (row.status === 'suspect' && now - row.since >= this.opts.suspicionMs) {
        out.push(...this.move(row, 'failed', now))
      } else if ((row.status === 'failed' || row.status === 'left') && now - row.since >= this.opts.reapMs) {
        this.rows.delete(row.hb.id)
        out.push({ id: row.hb.id, name: row.hb.name, from: row.status, to: 'reaped' })
      }
    }
    return out
  }

  private move (row: Row, to: MemberStatus, now: number): Transition[] {
    if (row.status === to) return []
    const from = row.status
    row.status = to
    row.since = now
    return [{ id: row.hb.id, name: row.hb.name, from, to }]
  }
}
