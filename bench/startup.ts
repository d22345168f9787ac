// Start-up cost: N agents spawned at once on 127.0.0.1 (each joining the first, --no-mdns, a
// fresh data dir each), every sidecar polled every 25 ms until GET /v1/agent/self answers 200
// with its own name. Prints the time from the spawn to each agent answering (first, median,
// last), the CPU seconds each process had used by then (user + system, from /proc), and the
// load average. `--bin` runs another build of the CLI, e.g. tsc's output through a wrapper.
//   npx tsx bench/startup.ts [--n 10] [--bin bin/murmur] [-- node flags, e.g. --cpu-prof]
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { BIN, freePort } from '../test/helpers/agents.js'

const arg = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag)
  return i < 0 ? undefined : process.argv[i + 1]
}
const n = Number(arg('--n') ?? 1)
const bin = arg('--bin') ?? BIN
const dash = process.argv.indexOf('--')
const nodeFlags = dash < 0 ? [] : process.argv.slice(dash + 1)
if (!Number.isInteger(n) || n < 1 || n > 99) {
  console.error('usage: npx tsx bench/startup.ts [--n 1..99] [--bin PATH] [-- NODE_FLAGS]')
  process.exit(2)
}

/** User + system CPU seconds of a process so far. */
function cpuSeconds (pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

const ports: number[] = []
for (let i = 0; i < 2 * n; i++) ports.push(await freePort())
const root = mkdtempSync(join(tmpdir(), 'murmur-startup-'))
const procs: ChildProcess[] = []
const t0 = performance.now()
for (let i = 0; i < n; i++) {
  procs.push(spawn(process.execPath, [...nodeFlags, bin, 'agent', '--no-mdns', '--node', `s${i}`, '--cluster', `startup${process.pid}`,
    '--data-dir', join(root, `s${i}`), '--listen', `127.0.0.1:${ports[2 * i]}`, '--http', `127.0.0.1:${ports[2 * i + 1]}`,
    ...(i > 0 ? ['--join', `127.0.0.1:${ports[0]}`] : [])], { stdio: 'ignore' }))
}

/** Seconds from the spawn to the first 200 naming this agent, and its CPU seconds then. */
async function ready (i: number): Promise<{ wall: number, cpu: number }> {
  const deadline = performance.now() + 180_000
  while (performance.now() < deadline && procs[i].exitCode === null) {
    try {
      const r = await fetch(`http://127.0.0.1:${ports[2 * i + 1]}/v1/agent/self`)
      const self = await r.json() as { name?: string }
      if (r.status === 200 && self.name === `s${i}`) return { wall: (performance.now() - t0) / 1000, cpu: cpuSeconds(procs[i].pid as number) }
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  throw new Error(`agent s${i} did not answer (exit code ${String(procs[i].exitCode)})`)
}

try {
  const res = await Promise.all(procs.map(async (_p, i) => await ready(i)))
  const walls = res.map(r => r.wall).sort((a, b) => a - b)
  const cpus = res.map(r => r.cpu).sort((a, b) => a - b)
  const mid = (xs: number[]): string => xs[Math.floor(xs.length / 2)].toFixed(2)
  console.log(`N=${n}: answering after first ${walls[0].toFixed(2)} s, median ${mid(walls)} s, last ${walls[n - 1].toFixed(2)} s; ` +
    `CPU per agent by then median ${mid(cpus)} s, max ${cpus[n - 1].toFixed(2)} s; load average ${loadavg().map(l => l.toFixed(1)).join(' ')}`)
} finally {
  for (const p of procs) p.kill('SIGTERM')
  // A graceful leave takes a moment; one that hangs is killed after 15 s.
  await Promise.all(procs.map(async p => await new Promise(resolve => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve(null)
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000)
    p.once('exit', () => { clearTimeout(timer); resolve(null) })
  })))
  rmSync(root, { recursive: true, force: true })
}
