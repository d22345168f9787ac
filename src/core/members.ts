// What a member looks like to the rest of the agent: its latest record, its status in this
// agent's view, and the transitions reported when that changes. The rules live in swim.ts.
import type { Heartbeat } from './heartbeat.js'

export type MemberStatus = 'alive' | 'suspect' | 'failed' | 'left'

export interface Member {
  /** The member's latest signed record (name, generation, counter, addresses, services, metrics). */
  readonly hb: Heartbeat
  readonly status: MemberStatus
  /** Local time this agent last heard from the member (an ack, a message, a new record). */
  readonly lastSeen: number
  /** Local time of the last status change. */
  readonly since: number
}

/** Alive or suspect: still a member that answers (services served, links kept, joins held, probed). */
export function isLive (m: { readonly status: MemberStatus } | undefined): boolean {
  return m?.status === 'alive' || m?.status === 'suspect'
}

export interface Transition {
  readonly id: string
  readonly name: string
  readonly from: MemberStatus | 'none'
  readonly to: MemberStatus | 'reaped'
}
