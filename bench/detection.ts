// Failure-detection figures on loopback: kill -9 to failed everywhere (5 and 10 agents),
// SIGTERM to left everywhere, and a health check turning critical to ?healthy=true dropping
// the instance on another agent. Each observer holds a blocking query, so a change is seen
// when it happens.   npx tsx bench/detection.ts [--reps N]
import '../src/polyfill.js'
import { createServer } from 'node:http'
import { Cluster, type AgentProc } from '../test/helpers/agents.js'

const repsAt = process.argv.indexOf('--reps')
const reps = repsAt < 0 ? 5 : Number(process.argv[repsAt + 1])

function stats (xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b)
  return `median ${s[Math.floor(s.length / 2)].toFixed(0)} ms, max ${s[s.length - 1].toFixed(0)} ms (n=${s.length})`
}

async function start (n: number): Promise<{ cluster: Cluster, agents: AgentProc[] }> {
  const cluster = new Cluster()
  const first = await cluster.start({ name: 'n0' })
  const rest = await Promise.all(Array.from({ length: n - 1 }, async (_, i) => await cluster.start({ name: `n${i + 1}`, join: [first.listen] })))
  const agents = [first, ...rest]
  await cluster.converged(agents.map(a => a.spec.name), 60_000)
  await new Promise(resolve => setTimeout(resolve, 3000)) // detectors learn the interval
  return { cluster, agents }
}

/** Resolve when `name` has `status` on `a`, using blocking queries on /v1/members. */
async function until (a: AgentProc, name: string, status: string): Promise<void> {
  let index = '0'
  for (;;) {
    const r = await a.get(`/v1/members?index=${index}&wait=10s`)
    index = r.headers.get('x-murmur-index') ?? '0'
    if (r.body.find((m: any) => m.name === name)?.status === status) return
  }
}

async function memberEvent (n: number, signal: 'SIGKILL' | 'SIGTERM', status: string): Promise<number[]> {
  const out: number[] = []
  for (let r = 0; r < reps; r++) {
    const { cluster, agents } = await start(n)
    try {
      const victim = agents[n - 1]
      const watchers = agents.slice(0, -1).map(async a => await until(a, victim.spec.name, status))
      const t0 = performance.now()
      victim.kill(signal)
      await Promise.all(watchers)
      out.push(performance.now() - t0)
    } finally { await cluster.stopAll() }
  }
  return out
}

async function checkToExcluded (): Promise<number[]> {
  let status = 200
  const server = createServer((_q, res) => { res.writeHead(status); res.end() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const { cluster, agents } = await start(3)
  const out: number[] = []
  try {
    await agents[0].req('PUT', '/v1/agent/services', { name: 'web', port, check: { http: `http://127.0.0.1:${port}/`, interval: '1s' } })
    for (let r = 0; r < reps; r++) {
      status = 200
      const healthy = async (want: number): Promise<void> => {
        let index = '0'
        for (;;) {
          const res = await agents[2].get(`/v1/services/web?healthy=true&index=${index}&wait=10s`)
          index = res.headers.get('x-murmur-index') ?? '0'
          if (res.body.length === want) return
        }
      }
      await healthy(1)
      const t0 = performance.now()
      status = 500 // the check turns critical at its next run (interval 1 s), then gossip
      await healthy(0)
      out.push(performance.now() - t0)
    }
  } finally {
    server.close()
    await cluster.stopAll()
  }
  return out
}

console.log(`kill -9 to failed on all others, 5 agents:  ${stats(await memberEvent(5, 'SIGKILL', 'failed'))}`)
console.log(`kill -9 to failed on all others, 10 agents: ${stats(await memberEvent(10, 'SIGKILL', 'failed'))}`)
console.log(`SIGTERM to left on all others, 5 agents:    ${stats(await memberEvent(5, 'SIGTERM', 'left'))}`)
console.log(`HTTP check starts failing to ?healthy=true excluding it on another agent (1 s interval): ${stats(await checkToExcluded())}`)
