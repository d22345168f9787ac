// Load metrics carried in heartbeats, so every agent can see the cluster's state.
import { freemem, loadavg, totalmem } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Metrics } from '../core/heartbeat.js'

export class MetricsSampler {
  private lastCpu = process.cpuUsage()
  private lastAt = performance.now()
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
    return {
      cpu: Math.round(share * 1000) / 1000,
      rss: process.memoryUsage.rss(),
      memFree: freemem(),
      memTotal: totalmem(),
      load1: Math.round(loadavg()[0] * 100) / 100,
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
