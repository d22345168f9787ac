// What every Consul read shares: the index in X-Consul-Index, blocking with `index` and `wait`
// (Go durations), `dc`, and the headers Consul's own client library insists on.
//
// Consul's index is one Raft log index shared by a cluster; murmur has none. An agent's change
// index (Agent.index and friends) starts at 1 on every start, so it is put on a scale that
// grows across restarts: CONSUL = generation × 1000 + index. The generation is at least the
// wall clock in ms at start and, with a data dir, always above the last one (src/store/
// generation.ts), so an index from an earlier life of the agent is always lower than any index
// of this one (as long as the previous life made fewer than 1000 changes per ms it ran), and
// never 0. A client that sends an index from an earlier life gets an answer at once, as Consul
// answers a client whose index is behind.
import type { Agent } from '../../agent/agent.js'
import { parseGoDuration } from '../../core/duration.js'
import { MurmurError } from '../../core/errors.js'
import { waitPast, type Watched } from '../blocking.js'
import type { Reply, Request } from '../server.js'

/** Consul's default and longest `wait`; a longer one is cut to the longest, as Consul does. */
export const CONSUL_DEFAULT_WAIT_MS = 300_000
export const CONSUL_MAX_WAIT_MS = 600_000
const SCALE = 1000n

/** The agent's index `i` as a Consul index. */
export function consulIndex (agent: Agent, i: number): number {
  return agent.generation * 1000 + i
}

/** A Consul index from a client, back on the agent's scale (below 1 when it is from an earlier life). */
export function agentIndex (agent: Agent, consul: bigint): number {
  const i = consul - BigInt(agent.generation) * SCALE
  return i < 1n ? 0 : i > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(i)
}

/** Headers on every Consul answer: there is no leader to lose touch with, so contact is current. */
export function consulHeaders (agent: Agent, index: number): Record<string, string> {
  return {
    'x-consul-index': String(consulIndex(agent, index)),
    'x-consul-knownleader': 'true',
    'x-consul-lastcontact': '0',
    'x-consul-effective-consistency': 'stale'
  }
}

export function consulReply (agent: Agent, index: number, body: unknown, status = 200): Reply {
  return { status, body, headers: consulHeaders(agent, index) }
}

/** A boolean query flag as Consul reads it: present (even empty) is true, except "false"/"0". */
export function present (req: Request, name: string): boolean {
  const v = req.query.get(name)
  return v !== null && v !== 'false' && v !== '0'
}

/**
 * Checks `dc` (this cluster is the only datacenter) and waits as a blocking query asks:
 * `index` (a Consul index) and `wait` (a Go duration, default 5 min, cut to 10 min).
 * `stale`, `consistent`, `cached` and the token are accepted: every read is local here.
 * Like `block`, a promise only when there is something to wait for: a read that can answer
 * now is answered without a detour through the microtask queue.
 */
export function consulBlock (agent: Agent, req: Request, w: Watched): Promise<void> | undefined {
  const dc = req.query.get('dc')
  if (dc !== null && dc !== '' && dc !== agent.opts.cluster) {
    throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `no path to datacenter '${dc}': this cluster is '${agent.opts.cluster}'`)
  }
  // Better a clear refusal than every instance returned as if the filter had matched.
  if (req.query.has('filter')) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', "filter expressions are not supported: use 'tag', 'node-meta' and 'passing'")
  const rawWait = req.query.get('wait')
  let waitMs = CONSUL_DEFAULT_WAIT_MS
  if (rawWait !== null && rawWait !== '') {
    const ms = parseGoDuration(rawWait)
    if (ms === undefined) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `invalid wait time '${rawWait}': use a Go duration such as 500ms, 30s, 5m or 1m30s`)
    waitMs = Math.min(ms, CONSUL_MAX_WAIT_MS)
  }
  const rawIndex = req.query.get('index')
  if (rawIndex === null || rawIndex === '') return undefined
  if (!/^\d{1,20}$/.test(rawIndex)) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `index must be a non-negative integer (got '${rawIndex}')`)
  const since = BigInt(rawIndex)
  // Index 0 never blocks, in Consul too.
  if (since === 0n) return undefined
  const past = agentIndex(agent, since)
  if (w.index() > past) return undefined
  return waitPast(agent, req.closed, w, past, waitMs)
}
