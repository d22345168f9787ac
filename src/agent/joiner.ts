// Keeps this agent connected to the --join addresses: dials each until it answers, and again
// whenever the connection to it is lost, with exponential backoff (1 s doubling to 30 s).
// Like Serf's retry-join, it never gives up: the peer may simply not be up yet. For the first
// FAST_TRY_MS of trying an address it retries every second instead: agents started together
// with their contact (a host booting, a test cluster) would otherwise back off to 16 s while
// the contact loads, and join that much later.
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Host } from '../net/host.js'
import type { Logger } from './log.js'

interface Target { addr: Multiaddr, peer?: string, nextTry: number, backoffMs: number, dialing: boolean, warned: boolean, failingSince?: number }

const FIRST_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 30_000
const FAST_TRY_MS = 30_000
/** Period of the check for a target due for a dial, while one is not connected. */
const CHECK_MS = 500

export class Joiner {
  private readonly targets: Target[]
  private timer: NodeJS.Timeout | undefined
  private readonly abort = new AbortController()

  constructor (private readonly host: Host, addrs: Multiaddr[], private readonly logger: Logger) {
    this.targets = addrs.map(addr => ({ addr, nextTry: 0, backoffMs: FIRST_BACKOFF_MS, dialing: false, warned: false }))
  }

  start (): void {
    if (this.targets.length === 0) return
    this.host.on('disconnect', this.onDisconnect)
    this.check()
  }

  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.abort.abort()
    this.host.off('disconnect', this.onDisconnect)
  }

  private readonly onDisconnect = (peer: string): void => {
    let lost = false
    for (const t of this.targets) if (t.peer === peer) { t.nextTry = 0; t.backoffMs = FIRST_BACKOFF_MS; lost = true }
    if (lost) setImmediate(() => { if (!this.abort.signal.aborted) this.check() })
  }

  private check (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.abort.signal.aborted) return
    const now = Date.now()
    // Retries are a second or more apart (the backoff); a lost connection is redialled at once
    // (onDisconnect). While every address is connected nothing wakes the agent for them.
    if (this.targets.some(t => t.dialing || t.peer === undefined || !this.host.isConnected(t.peer))) this.timer = setTimeout(() => this.check(), CHECK_MS)
    for (const t of this.targets) {
      if (t.dialing || now < t.nextTry || (t.peer !== undefined && this.host.isConnected(t.peer))) continue
      t.dialing = true
      this.host.dial(t.addr, AbortSignal.any([this.abort.signal, AbortSignal.timeout(5000)]))
        .then(peer => {
          if (peer === this.host.peerId) return
          if (t.peer === undefined) this.logger('info', 'join', 'joined', { addr: t.addr.toString(), peer })
          t.peer = peer
          t.backoffMs = FIRST_BACKOFF_MS
          t.warned = false
          t.failingSince = undefined
        })
        .catch(err => {
          if (this.abort.signal.aborted) return
          if (!t.warned) this.logger('warn', 'join', 'cannot reach join address; retrying with backoff', { addr: t.addr.toString(), error: (err as Error).message })
          t.warned = true
          t.failingSince ??= Date.now()
          t.nextTry = Date.now() + t.backoffMs
          if (Date.now() - t.failingSince >= FAST_TRY_MS) t.backoffMs = Math.min(t.backoffMs * 2, MAX_BACKOFF_MS)
        })
        .finally(() => { t.dialing = false })
    }
  }
}
