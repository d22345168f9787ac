// The load sampler in a process out of file descriptors: reading its own memory from /proc
// throws EMFILE there, and the sampler must return the last readings instead of throwing out
// of its timer (which would end the process). Runs a child under prlimit (dist/ is built by the global setup).
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SAMPLER = fileURLToPath(new URL('../../dist/agent/metrics.js', import.meta.url))
const SCRIPT = `
import { openSync } from 'node:fs'
const { LoadReporter } = await import(process.argv[1])
const s = new LoadReporter(() => {})
const before = s['sample']()
const fds = []
try { for (let i = 0; i < 100000; i++) fds.push(openSync('/dev/null', 'r')) } catch {}
let raw = 'ok'
try { process.memoryUsage.rss() } catch (e) { raw = e.code }
console.log(JSON.stringify({ raw, before, after: s['sample']() }))
`
const prlimit = ['/usr/bin/prlimit', '/bin/prlimit'].find(existsSync)

// util-linux's prlimit is on every Debian machine: in CI its absence is a failure, not a skip.
const canRun = prlimit !== undefined || process.env.CI === 'true'
if (!canRun) console.warn('metrics.test.ts: skipping the EMFILE test: prlimit is not installed')

describe.skipIf(!canRun)('LoadReporter', () => {
  it('keeps sampling, with the last readings, when no file descriptor is left', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(prlimit as string, ['--nofile=64', '--', process.execPath, '--input-type=module', '-e', SCRIPT, SAMPLER], { timeout: 30_000 }, (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`${err.message}\n${stderr}`))
        else resolve(stdout)
      })
    })
    const { raw, before, after } = JSON.parse(out)
    expect(raw).toBe('EMFILE')
    expect(after).toMatchObject({ rss: before.rss, memTotal: before.memTotal })
  })
})

describe('load metrics publication rule', () => {
  const MiB = 2 ** 20
  const base = { cpu: 0.02, rss: 88 * MiB, memFree: 4096 * MiB, memTotal: 8192 * MiB, load1: 0.3, netTx: 0, netRx: 0, loopDelayMs: 20 }

  it('is news when a value moved by more than 10 % and by its minimum move', async () => {
    const { movedMuch } = await import('../../src/agent/metrics.js')
    expect(movedMuch(base, { ...base, cpu: 0.5 })).toBe(true)
    expect(movedMuch(base, { ...base, loopDelayMs: 400 })).toBe(true)
    expect(movedMuch(base, { ...base, rss: 120 * MiB })).toBe(true)
  })

  it('is no news for idle noise, however large in per cent, nor for a value hovering at a rounding boundary', async () => {
    const { movedMuch, roundMetrics } = await import('../../src/agent/metrics.js')
    expect(movedMuch(base, { ...base, cpu: 0.07 })).toBe(false)
    expect(movedMuch(base, { ...base, rss: 100 * MiB })).toBe(false)
    expect(movedMuch(base, { ...base, loopDelayMs: 110 })).toBe(false)
    // 87.9 and 88.1 MiB round to different 16 MiB steps, but moved by 0.2 MiB.
    const a = { ...base, rss: 87.9 * MiB }
    const b = { ...base, rss: 88.1 * MiB }
    expect(roundMetrics(a).rss).not.toBe(roundMetrics(b).rss)
    expect(movedMuch(a, b)).toBe(false)
  })

  it('takes no move of the host-wide load average for news: it waits for the refresh', async () => {
    const { movedMuch } = await import('../../src/agent/metrics.js')
    expect(movedMuch(base, { ...base, load1: 4 })).toBe(false)
    expect(movedMuch({ ...base, load1: 14 }, { ...base, load1: 30 })).toBe(false)
  })
})
