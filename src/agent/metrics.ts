// Load metrics carried in this agent's member record, off the hot path: sampled every 5 s,
// rounded, and published (a new record version, which every member pulls by digest sync) only
// when a value moved by more than 10 % and more than its rounding step, or 30 s passed with
// some change, and never twice within 10 s (further apart above 50 members: the agent paces
// them by cluster size, core/metrics-pace.ts). Per-second metrics in gossip cost every member
// O(N) work per second; ScyllaDB moved to this rule after they broke a 50-node cluster.
import { freemem, loadavg, totalmem } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Metrics } from '../core/heartbeat.js'

const SAMPLE_MS = 5000
const REFRESH_MS = 30_000
/**
 * Metrics-only versions are at least this far apart, so a cluster of N agents makes at most
 * N / 10 of them a second however busy its hosts are (each is pulled by every member). A move
 * waits for the gap; the first sample after it compares with what was last published.
 */
export const MIN_GAP_MS = 10_000
const MOVED = 0.1
const MiB = 2 ** 20

/**
 * The 10 % rule also needs at least this absolute move, each no less than the value's rounding
 * step, so idle noise is not news however large in per cent (RSS breathing with the GC): a move
 * of less than 0.1 of a core, 16 MiB of RSS, 256 MiB of free memory or 100 ms of event-loop
 * delay waits for the 30 s refresh. The load average is not a trigger at all: it is a one-minute
 * average, as late as the refresh anyway, and the same for every agent of a host, so its moves
 * made all of them publish at once.
 */
const MIN_MOVE = { cpu: 0.1, rss: 16 * MiB, memFree: 256 * MiB, loopDelayMs: 100 } as const

export function roundMetrics (m: Metrics): Metrics {
  // Coarse on purpose: an idle agent's values then stay equal from one sample to the next,
  // and the 30 s refresh has nothing to send (each new version is pulled by every member).
  return {
    cpu: Math.round(m.cpu * 20) / 20,
    rss: Math.round(m.rss / (16 * MiB)) * 16 * MiB,
    memFree: Math.round(m.memFree / (256 * MiB)) * 256 * MiB,
    memTotal: m.memTotal,
    load1: Math.round(m.load1 * 2) / 2,
    netTx: Math.round(m.netTx / MiB) * MiB,
    netRx: Math.round(m.netRx / MiB) * MiB,
    ...(m.loopDelayMs !== undefined ? { loopDelayMs: Math.round(m.loopDelayMs / 50) * 50 } : {})
  }
}

/** The values compared for a refresh: traffic counters only ever grow, so they ride along. */
function level (m: Metrics): string {
  return JSON.stringify([m.cpu, m.rss, m.memFree, m.load1, m.loopDelayMs])
}

/**
 * True when some value moved by more than 10 % and by at least its MIN_MOVE. Compared on raw
 * readings (`a`: the sample last published), not rounded ones: a value hovering at a rounding
 * boundary would otherwise flip between two steps and be news at every flip.
 */
export function movedMuch (a: Metrics, b: Metrics): boolean {
  for (const [k, min] of Object.entries(MIN_MOVE) as Array<[keyof typeof MIN_MOVE, number]>) {
    const x = a[k] ?? 0
    const y = b[k] ?? 0
    if (Math.abs(x - y) > Math.max(MOVED * Math.abs(x), min)) return true
  }
  return false
}

export class LoadReporter {
  private lastCpu = process.cpuUsage()
  private lastAt = performance.now()
  /** Last readings that succeeded: reused when a read fails. */
  private last = { rss: 0, memFree: 0, memTotal: 0 }
  /** The raw sample behind `published`, what the next samples are compared with. */
  private publishedRaw: Metrics = firstReadings()
  private published: Metrics = roundMetrics(this.publishedRaw)
  /** When a sample was last published; undefined while the record carries the start-up readings. */
  private publishedAt: number | undefined
  private timer: NodeJS.Timeout | undefined
  private netTx = 0
  private netRx = 0
  // A starved event loop is the first sign of an overloaded agent (and host). Sampled twice a
  // second: each sample wakes the process (at 100 ms these were half of an idle agent's
  // wake-ups, and in a VM a wake-up's syscalls cost more than the work it does). A loop that
  // is starved for good is late at every sample all the same.
  private readonly loop = monitorEventLoopDelay({ resolution: 500 })

  constructor (private readonly publish: () => void) {}

  static initial (): Metrics {
    return roundMetrics(firstReadings())
  }

  start (): void {
    this.loop.enable()
    this.timer = setInterval(() => this.check(), SAMPLE_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.loop.disable()
  }

  /** The metrics to put in the next record version (the last published, refreshed if sampling said so). */
  current (netTx: number, netRx: number): Metrics {
    this.netTx = netTx
    this.netRx = netRx
    return this.published
  }

  private check (): void {
    const raw = this.sample()
    const m = roundMetrics(raw)
    const now = performance.now()
    const changed = level(m) !== level(this.published)
    // The start-up readings have no CPU share nor event-loop delay yet: the first sample
    // replaces them at once; after that, versions keep their gap.
    const since = this.publishedAt === undefined ? Infinity : now - this.publishedAt
    if (since < MIN_GAP_MS) return
    if (this.publishedAt === undefined || movedMuch(this.publishedRaw, raw) || (changed && since >= REFRESH_MS)) {
      this.published = m
      this.publishedRaw = raw
      this.publishedAt = now
      this.publish()
    }
  }

  private sample (): Metrics {
    const cpu = process.cpuUsage()
    const at = performance.now()
    const usedUs = (cpu.user - this.lastCpu.user) + (cpu.system - this.lastCpu.system)
    const share = at > this.lastAt ? usedUs / 1000 / (at - this.lastAt) : 0
    this.lastCpu = cpu
    this.lastAt = at
    // rss and memory are read from /proc, which needs a free file descriptor. With every one
    // taken (a flood of connections: EMFILE) the record must still be refreshed, so it carries
    // the previous readings instead.
    this.last = {
      rss: orLast(() => process.memoryUsage.rss(), this.last.rss),
      memFree: orLast(freemem, this.last.memFree),
      memTotal: orLast(totalmem, this.last.memTotal)
    }
    return { cpu: share, ...this.last, load1: orLast(() => loadavg()[0], 0), netTx: this.netTx, netRx: this.netRx, loopDelayMs: this.loopDelay() }
  }

  private loopDelay (): number {
    const p99 = this.loop.count > 0 ? this.loop.percentile(99) / 1e6 : 0
    this.loop.reset()
    return Math.round(p99 * 10) / 10
  }
}

/** Readings at start-up (no CPU share measured yet). */
function firstReadings (): Metrics {
  return { cpu: 0, rss: process.memoryUsage.rss(), memFree: freemem(), memTotal: totalmem(), load1: loadavg()[0], netTx: 0, netRx: 0 }
}

function orLast (read: () => number, last: number): number {
  try {
    return read()
  } catch {
    return last
  }
}
