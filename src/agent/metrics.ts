// Load metrics carried in heartbeats, so every agent can see the cluster's state.
import { freemem, loadavg, totalmem } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Metrics } from '../core/heartbeat.js'

export class MetricsSampler {
  private lastCpu = process.cpuUsage()
  private lastAt = performance.now()
  /** Last readings that succeeded: reused when a read fails. */
  private last = { rss: 0, memFree: 0, memTotal: 0 }
  // A starved event loop is the first sign of an overloaded agent (and host).
  private readonly loop = monitorEventLoopDelay({ resolution: 100 })

  constructor () {
    this.loop.enable()
  }

  stop (): void {
    this.loop.disable()
  }

  sample (netTx: number, netRx: number): Metrics {
    const cpu = process.cpuUsage()
    const at = performance.now()
    const usedUs = (cpu.user - this.lastCpu.user) + (cpu.system - this.lastCpu.system)
    const share = at > this.lastAt ? usedUs / 1000 / (at - this.lastAt) : 0
    this.lastCpu = cpu
    this.lastAt = at
    // rss and memory are read from /proc, which needs a free file descriptor. With every one
    // taken (a flood of connections: EMFILE) the heartbeat must still go out, or peers would
    // declare this agent failed: it carries the previous readings instead.
    this.last = {
      rss: orLast(() => process.memoryUsage.rss(), this.last.rss),
      memFree: orLast(freemem, this.last.memFree),
      memTotal: orLast(totalmem, this.last.memTotal)
    }
    return {
      cpu: Math.round(share * 1000) / 1000,
      ...this.last,
      load1: Math.round(orLast(() => loadavg()[0], 0) * 100) / 100,
      netTx,
      netRx,
      loopDelayMs: this.loopDelay()
    }
  }

  private loopDelay (): number {
    const p99 = this.loop.count > 0 ? this.loop.percentile(99) / 1e6 : 0
    this.loop.reset()
    return Math.round(p99 * 10) / 10
  }
}

function orLast (read: () => number, last: number): number {
  try {
    return read()
  } catch {
    return last
  }
}
