// Blocking queries, as Consul has them: a read with `?index=N` waits until the data it reads
// has changed past N (or `wait` runs out, or the client goes away), then answers with the new
// index in X-Murmur-Index. A waiter is one listener on the agent's change event, removed when
// it returns, so idle waiters cost a closure each and nothing after they leave.
import type { AgentApi as Agent } from '../agent/api.js'
import type { ChangeKind } from '../agent/change-index.js'
import { parseDuration } from '../core/duration.js'
import { MurmurError } from '../core/errors.js'
import type { Request } from './server.js'

/** @default 60 s; at most 10 min. */
export const DEFAULT_WAIT_MS = 60_000
export const MAX_WAIT_MS = 600_000

export interface Watched {
  /** The index of the newest change to what the read returns. */
  index: () => number
  /** Whether a change event concerns what the read returns. */
  concerns: (kind: ChangeKind, key?: string) => boolean
}

/**
 * Wait, if the request asks to, until `w` changes past the requested index: a promise when
 * there is something to wait for, undefined when the read can answer now (most reads: they
 * are then answered without a detour through the microtask queue).
 */
export function block (agent: Agent, req: Request, w: Watched): Promise<void> | undefined {
  const rawIndex = req.query.get('index')
  const rawWait = req.query.get('wait')
  let waitMs = DEFAULT_WAIT_MS
  if (rawWait !== null) {
    const ms = parseDuration(rawWait)
    if (ms === undefined) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `wait must be a duration like 500ms, 30s or 5m (got '${rawWait}')`)
    if (ms > MAX_WAIT_MS) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `wait must be at most ${MAX_WAIT_MS / 60_000}m`)
    waitMs = ms
  }
  if (rawIndex === null) return undefined
  if (!/^\d{1,15}$/.test(rawIndex)) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `index must be a non-negative integer (got '${rawIndex}')`)
  if (w.index() > Number(rawIndex)) return undefined
  return waitPast(agent, req.closed, w, Number(rawIndex), waitMs)
}

/** `then` after a block: at once when there was nothing to wait for. */
export function afterBlock<T> (waiting: Promise<void> | undefined, then: () => T): T | Promise<T> {
  return waiting === undefined ? then() : waiting.then(then)
}

/** Resolve once `w` is past `since`, or after `waitMs`, or when `closed` aborts. */
export async function waitPast (agent: Agent, closed: AbortSignal, w: Watched, since: number, waitMs: number): Promise<void> {
  if (w.index() > since || closed.aborted) return
  await new Promise<void>(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      agent.off('change', onChange)
      closed.removeEventListener('abort', done)
      resolve()
    }
    const onChange = (_index: number, kind: ChangeKind, key?: string): void => {
      if (w.concerns(kind, key) && w.index() > since) done()
    }
    const timer = setTimeout(done, waitMs)
    agent.on('change', onChange)
    closed.addEventListener('abort', done)
  })
}
