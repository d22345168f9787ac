// Where bench agents run: a network-namespace lab (root: one namespace per agent on a private
// bridge, real mDNS possible, links can be cut and made lossy) or plain loopback (any user:
// every agent on 127.0.0.1 with its own ports, no mDNS ever). Both track every process they
// start and kill it by PID in destroy(); the lab also removes its namespaces and links, and both
// clean up if the bench process exits.
import { spawn, type ChildProcess } from 'node:child_process'
import { freePort } from '../../test/helpers/agents.js'
import { Lab, type LabHost } from '../../test/lab/netns.js'

/** A child process whose output is kept (last 64 KiB) and can be watched line by line. */
export class Proc {
  private tail = ''
  private partial = ''
  private readonly lineListeners: Array<(line: string) => void> = []
  readonly exited: Promise<number | null>

  constructor (readonly name: string, readonly child: ChildProcess) {
    child.setMaxListeners(0) // every pending wait of the bench listens for this child's exit
    const onData = (d: Buffer): void => {
      const s = String(d)
      this.tail = (this.tail + s).slice(-65536)
      if (this.lineListeners.length === 0) return
      const lines = (this.partial + s).split('\n')
      this.partial = lines.pop() ?? ''
      for (const l of lines) for (const f of this.lineListeners) f(l)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    this.exited = new Promise(resolve => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode)
      else child.once('exit', code => resolve(code))
    })
  }

  get pid (): number { return this.child.pid ?? -1 }
  get alive (): boolean { return this.child.exitCode === null && this.child.signalCode === null }
  output (): string { return this.tail }
  onLine (f: (line: string) => void): void { this.lineListeners.push(f) }

  kill (signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.child.kill(signal)
  }

  /** Signal, then wait for the exit (at most `ms`). */
  async stop (signal: NodeJS.Signals = 'SIGKILL', ms = 5000): Promise<void> {
    this.kill(signal)
    if (!this.alive) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.exited, new Promise(resolve => { timer = setTimeout(resolve, ms) })])
    clearTimeout(timer)
    if (this.alive) this.kill('SIGKILL')
  }
}

export interface NetHost {
  name: string
  ip: string
  index: number
  lab?: LabHost
}

export interface Net {
  readonly kind: 'lab' | 'loopback'
  readonly hosts: NetHost[]
  /** The lab, when there is one (links, loss). */
  readonly lab?: Lab
  /** Two ports for one agent on a host: [gossip, api]. Fixed in the lab, free ones on loopback. */
  ports: (host: NetHost, system: 'murmur' | 'serf') => Promise<[number, number]>
  spawn: (host: NetHost, name: string, cmd: string[], env?: Record<string, string>) => Proc
  destroy: () => Promise<void>
}

export class LabNet implements Net {
  readonly kind = 'lab'
  readonly hosts: NetHost[]
  private constructor (readonly lab: Lab) {
    this.hosts = lab.hosts.map(h => ({ name: h.name, ip: h.ip, index: h.index, lab: h }))
  }

  static async create (n: number, prefix = 'mbch'): Promise<LabNet> {
    return new LabNet(await Lab.create(n, { prefix }))
  }

  async ports (_host: NetHost, system: 'murmur' | 'serf'): Promise<[number, number]> {
    return system === 'murmur' ? [7400, 7401] : [7946, 7373]
  }

  spawn (host: NetHost, name: string, cmd: string[], env?: Record<string, string>): Proc {
    if (host.lab === undefined) throw new Error(`host ${host.name} is not a lab host`)
    return new Proc(name, this.lab.spawnIn(host.lab, cmd, env))
  }

  async destroy (): Promise<void> {
    await this.lab.destroy()
  }
}

// Loopback processes left running if the bench exits (a crash, Ctrl-C) are killed by PID.
const loose = new Set<ChildProcess>()
let exitHooked = false
function killLoose (): void {
  for (const c of loose) if (c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL') } catch {} }
}

export class LoopNet implements Net {
  readonly kind = 'loopback'
  readonly hosts: NetHost[]
  private readonly procs = new Set<Proc>()

  constructor (n: number) {
    this.hosts = Array.from({ length: n }, (_, i) => ({ name: `lo-${i}`, ip: '127.0.0.1', index: i }))
    if (!exitHooked) { exitHooked = true; process.on('exit', killLoose) }
  }

  async ports (): Promise<[number, number]> {
    return [await freePort(), await freePort()]
  }

  spawn (_host: NetHost, name: string, cmd: string[], env?: Record<string, string>): Proc {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    loose.add(child)
    child.once('exit', () => loose.delete(child))
    child.once('error', () => {})
    const p = new Proc(name, child)
    this.procs.add(p)
    return p
  }

  async destroy (): Promise<void> {
    await Promise.all([...this.procs].map(async p => await p.stop('SIGKILL')))
    this.procs.clear()
  }
}

/** A lab of n hosts when this process may build one, else n loopback hosts. */
export async function makeNet (n: number, useLab: boolean): Promise<Net> {
  return useLab ? await LabNet.create(n) : new LoopNet(n)
}
