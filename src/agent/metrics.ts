// Load metrics carried in heartbeats, so every agent can see the cluster's state.
import { freemem, loadavg, totalmem } from 'node:os'
import type { Metrics } from '../core/heartbeat.js'

export class MetricsSampler {
  private lastCpu = process.cpuUsage()
  private lastAt = performance.now()

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
      netRx
    }
  }
}
