// Watch figures on loopback: (1) latency from a config write on agent A to the callback of a
// client watching on agent B, in a 5-agent cluster (p50/p99 over sequential writes, each one
// waited for before the next); (2) agent memory per 1,000 idle watchers, as event streams and
// as blocking queries: RSS at 0, 1,000, ... 4,000 held, since one step is within GC noise.
// Needs dist/ (npm run build).   npx tsx bench/watch-latency.ts [--writes N]
import '../src/polyfill.js'
import { setMaxListeners } from 'node:events'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { Murmur } from '../src/client/index.js'
import { Cluster, waitFor, type AgentProc } from '../test/helpers/agents.js'

const writesArg = process.argv.indexOf('--writes')
const writes = writesArg < 0 ? 200 : Number(process.argv[writesArg + 1])
const STEP = 1000
const STEPS = 4

function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]
}

function rssMiB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1]) / 1024
}

/** Median of a few samples: RSS moves with heartbeats and GC. */
async function steadyRss (pid: number): Promise<number> {
  const samples: number[] = []
  for (let i = 0; i < 7; i++) {
    samples.push(rssMiB(pid))
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  return pct(samples, 50)
}

/** Per write: when the PUT on `a` was answered, and when the watcher on `b` saw it (ms). */
async function latency (a: AgentProc, b: AgentProc): Promise<{ ack: number[], seen: number[] }> {
  let waiting: { value: number, resolve: () => void } | undefined
  const stop = new Murmur({ http: b.http }).config.watch('lat/', ev => {
    if (ev.type === 'put' && waiting !== undefined && ev.item.value === waiting.value) waiting.resolve()
  })
  const writer = new Murmur({ http: a.http })
  const ack: number[] = []
  const seen: number[] = []
  try {
    await writer.config.set('lat/warmup', -1)
    for (let i = 0; i < writes; i++) {
      const delivered = new Promise<void>(resolve => { waiting = { value: i, resolve } })
      const t0 = performance.now()
      await writer.config.set('lat/k', i)
      ack.push(performance.now() - t0)
      await Promise.race([delivered, new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`write ${i} not seen in 10 s`)), 10_000))])
      seen.push(performance.now() - t0)
    }
  } finally {
    stop()
  }
  return { ack, seen }
}

const figures = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`

/** RSS of `agent` with 0, STEP, 2 STEP, ... idle watchers of the kind `open` makes held. */
async function memory (agent: AgentProc, open: (signal: AbortSignal) => Promise<unknown>): Promise<number[]> {
  const watchers = async (): Promise<number> => (await agent.get('/v1/agent/self')).body.watchers
  const base = await watchers()
  const rss = [await steadyRss(agent.pid)]
  const ctl = new AbortController()
  setMaxListeners(0, ctl.signal) // one listener per held request, by design
  const held: Array<Promise<unknown>> = []
  try {
    for (let step = 1; step <= STEPS; step++) {
      for (let i = 0; i < STEP; i++) held.push(open(ctl.signal).catch(() => {}))
      await waitFor(`${step * STEP} watchers`, async () => (await watchers()) === base + step * STEP, 60_000, 250)
      rss.push(await steadyRss(agent.pid))
    }
    return rss
  } finally {
    ctl.abort()
    await Promise.all(held)
    await waitFor('watchers released', async () => (await watchers()) === base, 60_000, 250)
  }
}

async function main (): Promise<void> {
  const cluster = new Cluster()
  process.once('SIGINT', () => { cluster.stopAll().finally(() => process.exit(130)) })
  try {
    const first = await cluster.start({ name: 'n0' })
    const rest = await Promise.all([1, 2, 3, 4].map(async i => await cluster.start({ name: `n${i}`, join: [first.listen] })))
    const agents = [first, ...rest]
    await cluster.converged(agents.map(a => a.spec.name), 60_000)
    console.log(`5 agents on loopback converged; load average ${loadavg().map(x => x.toFixed(2)).join(' ')}`)

    const { ack, seen } = await latency(agents[0], agents[1])
    console.log(`${writes} sequential writes on n0, each awaited by a config.watch on n1:`)
    console.log(`  write -> watch callback on n1: ${figures(seen)}`)
    console.log(`  write -> PUT answered on n0:   ${figures(ack)}`)

    // Each kind on an agent of its own, so that garbage from one does not hide the other.
    const sse = await memory(agents[2], async signal => {
      const res = await fetch(`http://${agents[2].http}/v1/watch/config?prefix=mem/`, { signal })
      for await (const _chunk of res.body ?? []) { /* hold the stream open */ }
    })
    const blocking = await memory(agents[3], async signal => await fetch(`http://${agents[3].http}/v1/members?index=999999999&wait=10m`, { signal }))
    for (const [what, rss] of [['event streams', sse], ['blocking queries', blocking]] as const) {
      const per = (rss[STEPS] - rss[0]) / STEPS
      console.log(`agent RSS with 0..${STEPS * STEP} idle ${what}: ${rss.map(x => x.toFixed(1)).join(' -> ')} MiB: +${per.toFixed(1)} MiB per ${STEP}`)
    }
  } finally {
    await cluster.stopAll()
  }
}

await main()
