// What murmur's own code costs per sidecar GET, without sockets or Node's HTTP stack: a real
// agent in this process (127.0.0.1, no mDNS), the sidecar's request handler (routing, the route,
// the request-duration histogram) called with stand-in request and response objects, CPU time
// per call. Runs the tsc output in dist/ (`npm run build` first), not src/ through tsx: tsx keeps
// function names by wrapping every closure in a defineProperty call, which made a route that
// allocates closures per request look four times dearer than it is.
//   node bench/handler-cost.mjs [CALLS]        (default 300,000 per path and round, 7 rounds)
import { Agent } from '../dist/agent/agent.js'
import { SidecarMetrics } from '../dist/http/metrics.js'
import { routes } from '../dist/http/routes.js'
import { createHandler } from '../dist/http/server.js'
import { VERSION } from '../dist/version.js'

const calls = Number(process.argv[2] ?? 300_000)
const port = 20_000 + (process.pid % 20_000)
const agent = await Agent.start({ node: 'h0', cluster: `handler-cost-${process.pid}`, listen: `127.0.0.1:${port}`, http: '127.0.0.1:0', mdns: false, logLevel: 'warn' })
try {
  const metrics = new SidecarMetrics(agent, VERSION)
  const handle = createHandler(routes(agent, () => {}, metrics), { observe: metrics.observe })
  // The bench's sidecar scenario reads the same data.
  for (let i = 1; i <= 3; i++) await agent.register({ name: 'web', id: `web-${i}`, port: 8080 + i, tags: ['v1', `i${i}`], meta: { zone: 'a' } })
  await agent.setConfig('app/db.url', 'postgres://db:5432/app')
  const res = { destroyed: false, writeHead () {}, end () {} }
  const paths = { 'GET /v1/services/:name': '/v1/services/web', 'GET /v1/config/:key': '/v1/config/app/db.url' }
  const ns = Object.fromEntries(Object.keys(paths).map(k => [k, []]))
  for (let round = 0; round < 7; round++) {
    for (const [label, url] of Object.entries(paths)) {
      const req = { method: 'GET', url, headers: {}, socket: {} }
      const t0 = process.cpuUsage()
      for (let i = 0; i < calls; i++) handle(req, res)
      const t = process.cpuUsage(t0)
      ns[label].push((t.user + t.system) * 1000 / calls)
    }
  }
  const median = a => [...a].sort((x, y) => x - y)[a.length >> 1]
  for (const [label, v] of Object.entries(ns)) console.log(`${label}: ${median(v).toFixed(0)} ns per request (median of 7 rounds of ${calls}; rounds ${v.map(x => x.toFixed(0)).join(' ')})`)
} finally {
  await agent.stop()
}
process.exit(0)
