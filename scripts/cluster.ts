// A local murmur cluster to play with, until Ctrl-C.
//
//   npm run cluster -- [N] [--cluster NAME] [--loopback] [--logs]    start N agents (default 3, at most 50)
//   npm run cluster -- down                                          remove what a killed run left behind
//
// As root, each agent gets its own network namespace of the lab (test/lab/netns.ts): a private
// bridge, addresses in 198.18.0.0/15, and real mDNS discovery (no --join) that stays on the
// bridge. The root namespace reaches every agent through the bridge, so the CLI works from the
// host shell with MURMUR_HTTP_ADDR set to an agent's sidecar. Otherwise (or with --loopback) the
// agents run on 127.0.0.1 with --no-mdns, agent 0 on ports 7400/7401, agent i on 7400+10i/7401+10i
// (free ones if those are taken), the others joining agent 0.
//
// The agents share a cluster key made for the run (murmur keygen), so nothing else on the network
// can join them; in namespaces, where the sidecars listen on the bridge, writes need a token
// made for the run as well. Both files are in the state dir and removed with the run.
//
// Ctrl-C (or SIGTERM, SIGHUP) kills the agents and removes every namespace and link; so does an
// exit by error. After a SIGKILL of this script, `npm run cluster -- down` (also run at every
// start) kills the agents it left, by the PIDs it recorded, and removes its namespaces with
// scripts/lab-down.sh --prefix mclu. Builds dist/ first if it is missing.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compileAndBundle } from './bundle.mjs'
import { Lab } from '../test/lab/netns.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'murmur')
const PREFIX = 'mclu'
const STATE_DIR = join(tmpdir(), `murmur-cluster-${process.getuid?.() ?? 'u'}`)
const MAX = 50

interface State { owner: number, mode: 'lab' | 'loopback', lab?: string, pids: number[] }

function usage (code: number): never {
  (code === 0 ? console.log : console.error)(`usage: npm run cluster -- [N] [--cluster NAME] [--loopback] [--logs]
       npm run cluster -- down

  N           agents to start (default 3, at most ${MAX})
  --cluster   cluster name (default 'local')
  --loopback  agents on 127.0.0.1 with --join even when running as root
  --logs      print every agent log line (default: warnings and errors only)
  down        kill agents and remove namespaces left by a run that was killed`)
  process.exit(code)
}

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM' } }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A pid that is still a murmur agent (and not a reused pid of something else). */
function isAgent (pid: number): boolean {
  try { return /bin\/murmur\0agent\0/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8')) } catch { return false }
}

/** Stop what earlier runs left: their owner if it still runs, else their agents by PID and their labs. */
async function down (quiet: boolean): Promise<number> {
  let removed = 0
  let files: string[] = []
  try { files = readdirSync(STATE_DIR).filter(f => /^\d+\.json$/.test(f)) } catch {}
  for (const f of files) {
    const path = join(STATE_DIR, f)
    let st: State
    try { st = JSON.parse(readFileSync(path, 'utf8')) as State } catch { rmSync(path, { force: true }); continue }
    if (st.owner === process.pid) continue
    if (alive(st.owner)) {
      if (quiet) continue // a cluster that is running: leave it alone at start
      console.log(`cluster: run ${st.owner} is still going; asking it to stop (SIGTERM)`)
      try { process.kill(st.owner, 'SIGTERM') } catch {}
      for (let i = 0; i < 100 && alive(st.owner); i++) await sleep(100)
      if (alive(st.owner)) { console.log(`cluster: run ${st.owner} did not stop; leaving it`); continue }
    }
    for (const pid of st.pids) {
      if (isAgent(pid)) { try { process.kill(pid, 'SIGKILL'); removed++ } catch {} }
    }
    rmSync(path, { force: true })
    for (const ext of ['key', 'token']) rmSync(join(STATE_DIR, `${st.owner}.${ext}`), { force: true })
  }
  if (process.getuid?.() === 0) {
    const out = execFileSync('sh', [join(ROOT, 'scripts', 'lab-down.sh'), '--prefix', PREFIX, '--stale'], { encoding: 'utf8' })
    const m = /removed (\d+)/.exec(out)
    removed += Number(m?.[1] ?? 0)
    if (!quiet) process.stdout.write(out.split('\n').filter(l => l.startsWith('lab-down')).join('\n') + '\n')
  }
  if (!quiet || removed > 0) console.log(`cluster: removed ${removed} leftover process(es), namespace(s) and link(s) of earlier runs`)
  return removed
}

async function portFree (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)) })
  })
}

interface Agent { name: string, ip: string, http: string, listen: string, proc: ChildProcess, ns?: string }

async function get (http: string, path: string): Promise<any> {
  const r = await fetch(`http://${http}${path}`, { signal: AbortSignal.timeout(3000) })
  return await r.json()
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  if (args.includes('-h') || args.includes('--help')) usage(0)
  if (args[0] === 'down') { await down(false); return }
  let n = 3
  let cluster = 'local'
  let loopback = false
  let logs = false
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (/^\d+$/.test(a)) n = Number(a)
    else if (a === '--cluster') cluster = args[++i] ?? usage(2)
    else if (a.startsWith('--cluster=')) cluster = a.slice(10)
    else if (a === '--loopback') loopback = true
    else if (a === '--logs') logs = true
    else { console.error(`cluster: unknown argument '${a}'`); usage(2) }
  }
  if (n < 1 || n > MAX) { console.error(`cluster: N must be 1 to ${MAX}`); process.exit(2) }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(cluster)) { console.error('cluster: bad cluster name'); process.exit(2) }

  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
    console.log('cluster: dist/ is missing; building (npm run build)…')
    await compileAndBundle()
  }
  // The agents get their settings from flags only, not from this shell's MURMUR_* variables.
  for (const k of Object.keys(process.env)) if (k.startsWith('MURMUR_')) delete process.env[k]

  await down(true)
  const can = loopback ? { ok: false, reason: '--loopback' } : await Lab.canRun({ prefix: PREFIX })
  const agents: Agent[] = []
  let lab: Lab | undefined
  mkdirSync(STATE_DIR, { recursive: true })
  const stateFile = join(STATE_DIR, `${process.pid}.json`)
  const keyFile = join(STATE_DIR, `${process.pid}.key`)
  const tokenFile = join(STATE_DIR, `${process.pid}.token`)
  execFileSync(process.execPath, [BIN, 'keygen', keyFile], { stdio: 'ignore' })
  writeFileSync(tokenFile, randomBytes(24).toString('hex') + '\n', { mode: 0o600 })
  const keyed = ['--cluster-key', keyFile]
  const saveState = (): void => {
    const st: State = { owner: process.pid, mode: lab === undefined ? 'loopback' : 'lab', lab: lab?.id, pids: agents.map(a => a.proc.pid ?? -1).filter(p => p > 0) }
    writeFileSync(stateFile, JSON.stringify(st) + '\n')
  }

  // Cleanup, synchronous so that it also runs from 'exit' (an error, process.exit).
  let cleaned = false
  const cleanup = (): void => {
    if (cleaned) return
    cleaned = true
    for (const a of agents) if (a.proc.exitCode === null && a.proc.signalCode === null) { try { a.proc.kill('SIGKILL') } catch {} }
    lab?.destroySync()
    rmSync(stateFile, { force: true })
    rmSync(keyFile, { force: true })
    rmSync(tokenFile, { force: true })
  }
  process.on('exit', cleanup)
  let stopping = false
  const stop = async (sig: string): Promise<void> => {
    if (stopping) return
    stopping = true
    process.stdout.write(`\ncluster: ${sig}: stopping ${agents.length} agents${lab !== undefined ? `, removing lab ${lab.id}` : ''}…\n`)
    const id = lab?.id
    cleanup()
    // SIGKILL is sent; give the kernel a moment to take the processes down before checking.
    const running = (): Agent[] => agents.filter(a => a.proc.exitCode === null && a.proc.signalCode === null && a.proc.pid !== undefined && isAgent(a.proc.pid))
    for (let i = 0; i < 50 && running().length > 0; i++) await sleep(100)
    const rest = id === undefined ? [] : await Lab.leftovers(id).catch(() => [])
    const left = running().length
    console.log(rest.length === 0 && left === 0
      ? `cluster: all agents stopped${id !== undefined ? ', namespaces and links removed' : ''}`
      : `cluster: left behind: ${[...rest, `${left} agents`].join(', ')} (npm run cluster -- down removes them)`)
    process.exit(0)
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { stop(sig).catch(() => process.exit(1)) })

  const watch = (a: Agent): void => {
    let partial = ''
    const onData = (d: Buffer): void => {
      const lines = (partial + String(d)).split('\n')
      partial = lines.pop() ?? ''
      for (const l of lines) if (logs || / (WARN|ERROR) /.test(l)) console.log(`[${a.name}] ${l}`)
    }
    a.proc.stdout?.on('data', onData)
    a.proc.stderr?.on('data', onData)
    a.proc.once('exit', (code, signal) => { if (!stopping) console.log(`cluster: agent ${a.name} exited (${signal ?? String(code)}); the others keep running`) })
  }

  if (can.ok) {
    lab = await Lab.create(n, { prefix: PREFIX })
    for (const h of lab.hosts) {
      const name = `n${h.index}`
      const http = `${h.ip}:7401`
      const listen = `${h.ip}:7400`
      const proc = lab.spawnIn(h, [process.execPath, BIN, 'agent', '--node', name, '--cluster', cluster, '--listen', listen, '--http', http, ...keyed, '--http-token-file', tokenFile])
      agents.push({ name, ip: h.ip, http, listen, proc, ns: h.name })
    }
  } else {
    if (!loopback) console.log(`cluster: not using network namespaces (${can.reason ?? ''}); agents on 127.0.0.1 with --join, mDNS off`)
    for (let i = 0; i < n; i++) {
      const name = `n${i}`
      let [p, h] = [7400 + 10 * i, 7401 + 10 * i]
      if (!(await portFree(p)) || !(await portFree(h))) [p, h] = [await freePort(), await freePort()]
      const listen = `127.0.0.1:${p}`
      const http = `127.0.0.1:${h}`
      const join = i === 0 ? [] : ['--join', agents[0].listen]
      const proc = spawn(process.execPath, [BIN, 'agent', '--node', name, '--cluster', cluster, '--no-mdns', '--listen', listen, '--http', http, ...keyed, ...join],
        { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT })
      agents.push({ name, ip: '127.0.0.1', http, listen, proc })
    }
  }
  saveState()
  for (const a of agents) watch(a)

  // Wait until every agent answers and lists all N alive (bounded; the cluster stays up anyway).
  const t0 = Date.now()
  const names = agents.map(a => a.name).sort().join(',')
  let converged = false
  while (!stopping && Date.now() - t0 < 90_000) {
    const views = await Promise.all(agents.map(async a => await get(a.http, '/v1/members').catch(() => undefined)))
    converged = views.every(v => Array.isArray(v) && v.filter((m: any) => m.status === 'alive').map((m: any) => m.name).sort().join(',') === names)
    if (converged) break
    await sleep(250)
  }
  if (stopping) return
  const secs = ((Date.now() - t0) / 1000).toFixed(1)
  const how = lab !== undefined ? 'found each other by mDNS inside the lab' : 'joined n0 on loopback'
  console.log(converged
    ? `\nmurmur cluster '${cluster}': ${n} agents up, all alive everywhere after ${secs} s (${how})`
    : `\nmurmur cluster '${cluster}': ${n} agents started, but not every agent lists all ${n} alive after ${secs} s (${how}); they keep trying`)
  if (lab !== undefined) console.log(`lab ${lab.id}: bridge ${lab.bridge} ${lab.gateway} (${lab.subnet}), one namespace per agent`)
  console.log('')
  const w = Math.max(4, ...agents.map(a => a.name.length))
  console.log(`  ${'node'.padEnd(w)}  ${'sidecar (MURMUR_HTTP_ADDR)'.padEnd(26)}  ${'libp2p'.padEnd(22)}  pid${lab !== undefined ? '      namespace' : ''}`)
  for (const a of agents) console.log(`  ${a.name.padEnd(w)}  ${a.http.padEnd(26)}  ${a.listen.padEnd(22)}  ${String(a.proc.pid).padEnd(7)}${a.ns !== undefined ? `  ${a.ns}` : ''}`)
  const first = agents[0]
  const second = agents[1] ?? first
  console.log(`\ncluster key: ${keyFile} (an agent started with --cluster-key ${keyFile} joins them)`)
  const token = lab !== undefined ? `  export MURMUR_HTTP_TOKEN=$(cat ${tokenFile})   # writes need it: the sidecars listen on the bridge\n` : ''
  console.log(`
Point the CLI at any agent${lab !== undefined ? ' (this shell reaches the lab through the bridge)' : ''}:
${token}  MURMUR_HTTP_ADDR=${first.http} node bin/murmur members
  MURMUR_HTTP_ADDR=${first.http} node bin/murmur config set app/greeting '"hello"'
  MURMUR_HTTP_ADDR=${second.http} node bin/murmur config get app/greeting
  curl -s http://${second.http}/v1/members${lab !== undefined ? `\nRun anything inside an agent's namespace: ip netns exec ${first.ns ?? ''} <command>` : ''}
Ctrl-C stops the agents and removes everything this made.`)
  // Runs until a signal; the timer keeps the event loop alive.
  setInterval(() => {}, 1 << 30)
}

main().catch(err => {
  console.error(`cluster: ${(err as Error).stack ?? String(err)}`)
  process.exit(1)
})
