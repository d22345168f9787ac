// A network lab made of Linux network namespaces: one bridge with no real interface attached,
// and n namespaces, each joined to the bridge by a veth pair. Addresses come from 198.18.0.0/15
// (the benchmarking range) only; multicast (mDNS) stays on the bridge, inside the lab.
//
//   root namespace:  bridge <id>-br  198.18.X.1/24  (ports: <id>-h0 … <id>-h{n-1})
//   namespace <id>-i: eth0          198.18.X.(10+i)/24, lo up, route 224.0.0.0/4 dev eth0
//
// <id> is prefix + (pid % 100000) + a letter, e.g. mlab4242a: unique per process and per lab,
// within the 15-character limit on interface names. The /24 is claimed atomically (its route is
// added with NLM_F_EXCL), so parallel labs never share a subnet. Needs root.
//
// Everything a lab makes, including processes started with spawnIn, is removed by destroy(),
// and also on process exit, SIGINT and SIGTERM. scripts/lab-down.sh removes leftovers of labs
// whose process was killed with SIGKILL.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, existsSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'

export const DEFAULT_PREFIX = 'mlab'
const MAX_HOSTS = 99
const IFNAMSIZ = 15

export interface LabHost {
  /** Network namespace name, e.g. mlab4242a-0. */
  name: string
  /** IPv4 address of the namespace, in the lab's /24. */
  ip: string
  /** Interface inside the namespace (always 'eth0'). */
  veth: string
  /** Root-namespace end of the veth pair, a port of the bridge, e.g. mlab4242a-h0. */
  peer: string
  index: number
}

export interface ExecResult { stdout: string, stderr: string }

function which (cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin']
  for (const d of dirs) {
    if (d === '') continue
    const p = join(d, cmd)
    try { accessSync(p, constants.X_OK); return p } catch {}
  }
  return undefined
}

const IP = existsSync('/usr/sbin/ip') ? '/usr/sbin/ip' : (which('ip') ?? 'ip')

async function execFileP (file: string, args: string[], timeoutMs = 30_000): Promise<ExecResult> {
  return await new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) {
        const e = new Error(`${file} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`) as Error & { stderr: string, code: unknown }
        e.stderr = String(stderr)
        e.code = (err as { code?: unknown }).code
        reject(e)
      } else {
        resolve({ stdout: String(stdout), stderr: String(stderr) })
      }
    })
  })
}

async function ip (...args: string[]): Promise<ExecResult> {
  return await execFileP(IP, args)
}

/** Best effort, for cleanup paths: never throws. */
function ipSync (...args: string[]): void {
  try { execFileSync(IP, args, { stdio: 'ignore', timeout: 10_000 }) } catch {}
}

function setRootSysctl (path: string, value: string): void {
  try { writeFileSync(`/proc/sys/${path}`, value) } catch {}
}

function pidAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

// Labs alive in this process, removed synchronously if the process exits or is signalled.
const live = new Set<Lab>()
let hooked = false
const onExit = (): void => { for (const lab of [...live]) lab.destroySync() }
const onSignal = (signal: NodeJS.Signals): void => {
  onExit()
  unhook()
  // Let whoever else listens handle the signal, or the default action end the process.
  process.kill(process.pid, signal)
}
function hook (): void {
  if (hooked) return
  hooked = true
  process.on('exit', onExit)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
}
function unhook (): void {
  if (!hooked) return
  hooked = false
  process.off('exit', onExit)
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
}

let labSeq = 0

export class Lab {
  readonly hosts: LabHost[] = []
  /** e.g. '198.18.57.0/24' once claimed. */
  subnet = ''
  /** The bridge's own address: the root namespace reaches the hosts through it. */
  gateway = ''
  private readonly procs = new Set<ChildProcess>()
  private readonly namespaces: string[] = []
  private readonly links: string[] = []
  private destroying: Promise<void> | undefined

  private constructor (readonly prefix: string, readonly id: string, readonly bridge: string) {}

  /** Whether this process can build labs here; the reason when it cannot. */
  static async canRun (opts: { prefix?: string } = {}): Promise<{ ok: boolean, reason?: string }> {
    if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` }
    const uid = process.getuid?.()
    if (uid !== 0) return { ok: false, reason: `network namespaces need root (uid is ${String(uid)})` }
    if (!existsSync(IP) && which('ip') === undefined) return { ok: false, reason: 'the ip command (iproute2) is not installed' }
    if (which('sysctl') === undefined) return { ok: false, reason: 'the sysctl command (procps) is not installed' }
    // Probe names (scripts/lab-down.sh knows them); a leftover of a killed run is replaced.
    const probe = `${opts.prefix ?? DEFAULT_PREFIX}${process.pid % 100000}-p`
    const attempt = async (what: string, add: string[], del: string[]): Promise<string | undefined> => {
      for (let i = 0; i < 2; i++) {
        try {
          await ip(...add)
          await ip(...del).catch(() => {})
          return undefined
        } catch (err) {
          if (i === 0 && /exists/i.test((err as Error).message)) { await ip(...del).catch(() => {}); continue }
          return `cannot create a ${what}: ${(err as Error).message}`
        }
      }
      return `cannot create a ${what}`
    }
    const reason = await attempt('network namespace', ['netns', 'add', probe], ['netns', 'del', probe]) ??
      await attempt('bridge', ['link', 'add', probe, 'type', 'bridge'], ['link', 'del', 'dev', probe])
    return reason === undefined ? { ok: true } : { ok: false, reason }
  }

  /** A bridge and n namespaces on it, addressed and up. Removes what it made if it fails. */
  static async create (n: number, opts: { prefix?: string } = {}): Promise<Lab> {
    const prefix = opts.prefix ?? DEFAULT_PREFIX
    // At most 4 characters, so that names fit in 15 (mlab12345a-h99); scripts/lab-down.sh matches this form.
    if (!/^[a-z][a-z0-9]{1,3}$/.test(prefix)) throw new Error(`lab prefix must be 2-4 lowercase letters/digits, starting with a letter (got '${prefix}')`)
    if (!Number.isInteger(n) || n < 1 || n > MAX_HOSTS) throw new Error(`a lab has 1 to ${MAX_HOSTS} hosts (got ${n})`)

    // Claim a unique name: creating the bridge fails if another lab already has it.
    let lab: Lab | undefined
    for (let tries = 0; tries < 26 && lab === undefined; tries++) {
      const id = `${prefix}${process.pid % 100000}${String.fromCharCode(97 + (labSeq++ % 26))}`
      const bridge = `${id}-br`
      if (`${id}-h${n - 1}`.length > IFNAMSIZ) throw new Error(`interface names for lab '${id}' would exceed ${IFNAMSIZ} characters`)
      try {
        await ip('link', 'add', bridge, 'type', 'bridge', 'mcast_snooping', '0')
        lab = new Lab(prefix, id, bridge)
      } catch (err) {
        if (!/exists/i.test((err as Error).message)) throw err
      }
    }
    if (lab === undefined) throw new Error('no free lab name (26 tries)')
    live.add(lab)
    hook()
    try {
      await lab.build(n)
    } catch (err) {
      await lab.destroy()
      throw err
    }
    return lab
  }

  private async build (n: number): Promise<void> {
    const br = this.bridge
    this.links.push(br)
    // The owner's pid, for scripts/lab-down.sh --stale; IPv6 off on the root side of the lab.
    await ip('link', 'set', 'dev', br, 'alias', `murmur-lab pid=${process.pid}`)
    setRootSysctl(`net/ipv6/conf/${br}/disable_ipv6`, '1')
    await ip('link', 'set', 'dev', br, 'up')
    await this.claimSubnet()

    for (let i = 0; i < n; i++) {
      const name = `${this.id}-${i}`
      const peer = `${this.id}-h${i}`
      const host: LabHost = { name, ip: this.addr(10 + i), veth: 'eth0', peer, index: i }
      await ip('netns', 'add', name)
      this.namespaces.push(name)
      // DAD off before eth0 exists (it inherits 'default'), or first sends on it fail.
      await this.exec(host, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'])
      await ip('link', 'add', peer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name)
      this.links.push(peer)
      setRootSysctl(`net/ipv6/conf/${peer}/disable_ipv6`, '1')
      await ip('link', 'set', 'dev', peer, 'master', br, 'up')
      await ip('-n', name, 'link', 'set', 'dev', 'lo', 'up')
      await ip('-n', name, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0')
      await ip('-n', name, 'link', 'set', 'dev', 'eth0', 'up')
      await ip('-n', name, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
      this.hosts.push(host)
    }
    await this.checkPaths()
  }

  /** Fail early, with the likely cause, if the bridge does not carry traffic. */
  private async checkPaths (): Promise<void> {
    const [a, b] = this.hosts
    const checks = [this.reachable(a, this.gateway)]
    if (b !== undefined) checks.push(this.reachable(a, b))
    const [toRoot, toPeer] = await Promise.all(checks)
    if (!toRoot) throw new Error(`lab ${this.id}: ${a.name} cannot reach the bridge address ${this.gateway}`)
    if (toPeer === false) {
      throw new Error(`lab ${this.id}: ${a.name} cannot reach ${b.name} across bridge ${this.bridge}. ` +
        'If br_netfilter is loaded (sysctl net.bridge.bridge-nf-call-iptables = 1) and the iptables FORWARD ' +
        'policy is DROP (Docker sets it), bridged packets are dropped: allow them with ' +
        `'iptables -I FORWARD -i ${this.prefix}+ -o ${this.prefix}+ -j ACCEPT'.`)
    }
  }

  /** Take a /24 of 198.18.0.0/15, starting from one derived from the pid; the route is the lock. */
  private async claimSubnet (): Promise<void> {
    const start = (process.pid + labSeq * 97) % 512
    for (let k = 0; k < 512; k++) {
      const idx = (start + k) % 512
      const base = `198.${18 + (idx >> 8)}.${idx & 255}`
      if ((await ip('-o', '-4', 'addr', 'show', 'to', `${base}.0/24`)).stdout.trim() !== '') continue
      try {
        await ip('route', 'add', `${base}.0/24`, 'dev', this.bridge, 'proto', 'static', 'scope', 'link')
      } catch (err) {
        if (/exists/i.test((err as Error).message)) continue
        throw err
      }
      await ip('addr', 'add', `${base}.1/24`, 'dev', this.bridge, 'noprefixroute')
      this.subnet = `${base}.0/24`
      this.gateway = `${base}.1`
      return
    }
    throw new Error('no free /24 in 198.18.0.0/15')
  }

  private addr (host: number): string {
    return this.gateway.replace(/\.1$/, `.${host}`)
  }

  /** Run a command inside a host's namespace; rejects on a non-zero exit. */
  async exec (host: LabHost, cmd: string[], timeoutMs = 30_000): Promise<ExecResult> {
    return await execFileP(IP, ['netns', 'exec', host.name, ...cmd], timeoutMs)
  }

  /**
   * Start a long-running command inside a host's namespace, tracked and killed by destroy().
   * `ip netns exec` execs the command (no fork), so the returned process's pid is the command's.
   */
  spawnIn (host: LabHost, cmd: string[], env?: Record<string, string>): ChildProcess {
    if (this.destroying !== undefined) throw new Error(`lab ${this.id} is destroyed`)
    const proc = spawn(IP, ['netns', 'exec', host.name, ...cmd], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env }
    })
    this.procs.add(proc)
    proc.once('exit', () => this.procs.delete(proc))
    return proc
  }

  /**
   * Whether `from` reaches `to` (a host or an address) over TCP: a connection, or a refusal from
   * the far end, counts as reachable; a timeout or an unreachable network does not.
   */
  async reachable (from: LabHost, to: LabHost | string, timeoutMs = 3000): Promise<boolean> {
    const addr = typeof to === 'string' ? to : to.ip
    const script = `const s = require('net').connect({ host: ${JSON.stringify(addr)}, port: 9, timeout: ${timeoutMs} });
      s.on('connect', () => { console.log('yes'); s.destroy() });
      s.on('error', e => { console.log(e.code === 'ECONNREFUSED' ? 'yes' : 'no') });
      s.on('timeout', () => { console.log('no'); s.destroy() })`
    const { stdout } = await this.exec(from, [process.execPath, '-e', script], timeoutMs + 30_000)
    return stdout.trim() === 'yes'
  }

  /** Cut a host off the bridge (its root-side veth goes down: no carrier on eth0). */
  async linkDown (host: LabHost): Promise<void> {
    await ip('link', 'set', 'dev', host.peer, 'down')
  }

  async linkUp (host: LabHost): Promise<void> {
    await ip('link', 'set', 'dev', host.peer, 'up')
  }

  /**
   * Drop this share (per mille, 0-1000) of the packets arriving at a host, with an nftables
   * netdev ingress rule inside its namespace; 0 removes the rule. Needs nft (package nftables).
   * `spare`: IPv4 source addresses whose packets (IP and ARP) are never dropped, e.g. the lab's
   * gateway, so that a measuring process in the root namespace observes the hosts without
   * suffering the loss itself.
   */
  async setLoss (host: LabHost, permille: number, opts: { spare?: string[] } = {}): Promise<void> {
    if (!Number.isInteger(permille) || permille < 0 || permille > 1000) throw new Error(`loss is an integer per mille, 0-1000 (got ${permille})`)
    const spare = opts.spare ?? []
    for (const a of spare) if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(a)) throw new Error(`spare addresses are IPv4 addresses (got '${a}')`)
    const nft = which('nft')
    if (nft === undefined) throw new Error('setLoss needs nft, which is not installed (apt-get install nftables)')
    // Declaring then deleting the table makes the script idempotent.
    const script = ['table netdev murmurlab', 'delete table netdev murmurlab']
    if (permille > 0) {
      script.push(
        'table netdev murmurlab {',
        `  chain ingress { type filter hook ingress device "${host.veth}" priority 0; policy accept; ${spare.length > 0 ? `ip saddr { ${spare.join(', ')} } accept; arp saddr ip { ${spare.join(', ')} } accept; ` : ''}${permille === 1000 ? '' : `numgen random mod 1000 < ${permille} `}drop; }`,
        '}')
    }
    await new Promise<void>((resolve, reject) => {
      const p = spawn(IP, ['netns', 'exec', host.name, nft, '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
      let err = ''
      p.stderr.on('data', d => { err += String(d) })
      p.once('error', reject)
      p.once('exit', code => code === 0 ? resolve() : reject(new Error(`nft in ${host.name} failed (exit ${String(code)}): ${err.trim()}`)))
      p.stdin.end(script.join('\n') + '\n')
    })
  }

  /**
   * A lab for the duration of `fn`: created, handed to it, and destroyed when it returns or
   * throws (the error goes on to the caller).
   */
  static async with<T> (n: number, fn: (lab: Lab) => Promise<T> | T, opts: { prefix?: string } = {}): Promise<T> {
    const lab = await Lab.create(n, opts)
    try {
      return await fn(lab)
    } finally {
      await lab.destroy()
    }
  }

  /** Kill tracked processes, then delete veths, bridge and namespaces. Idempotent. */
  async destroy (): Promise<void> {
    this.destroying ??= this.teardown()
    await this.destroying
  }

  private async teardown (): Promise<void> {
    const procs = [...this.procs]
    for (const p of procs) {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
    }
    await Promise.all(procs.map(async p => {
      if (p.exitCode !== null || p.signalCode !== null) return
      await Promise.race([
        new Promise(resolve => p.once('exit', resolve)),
        new Promise(resolve => setTimeout(resolve, 5000).unref())
      ])
    }))
    // Anything still inside a namespace was started there by this lab (children of tracked ones).
    for (const ns of this.namespaces) {
      const pids = await ip('netns', 'pids', ns).then(r => r.stdout.split(/\s+/).filter(s => /^\d+$/.test(s)).map(Number), () => [])
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
    }
    // Deleting a veth end deletes the pair at once; namespace teardown would delete it later.
    for (const link of [...this.links].reverse()) await ip('link', 'del', 'dev', link).catch(() => {})
    for (const ns of this.namespaces) await ip('netns', 'del', ns).catch(() => {})
    this.links.length = 0
    this.namespaces.length = 0
    live.delete(this)
    if (live.size === 0) unhook()
  }

  /** destroy() for exit and signal handlers: synchronous, best effort. */
  destroySync (): void {
    for (const p of this.procs) {
      if (p.pid !== undefined && p.exitCode === null && p.signalCode === null && pidAlive(p.pid)) {
        try { process.kill(p.pid, 'SIGKILL') } catch {}
      }
    }
    for (const ns of this.namespaces) {
      let pids: string[] = []
      try { pids = execFileSync(IP, ['netns', 'pids', ns], { timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).toString().split(/\s+/) } catch {}
      for (const pid of pids.filter(s => /^\d+$/.test(s))) { try { process.kill(Number(pid), 'SIGKILL') } catch {} }
    }
    for (const link of [...this.links].reverse()) ipSync('link', 'del', 'dev', link)
    for (const ns of this.namespaces) ipSync('netns', 'del', ns)
    this.links.length = 0
    this.namespaces.length = 0
    this.destroying ??= Promise.resolve()
    live.delete(this)
    if (live.size === 0) unhook()
  }

  /** Namespaces and root-namespace links whose names carry a lab id (empty after destroy()). */
  static async leftovers (id: string): Promise<string[]> {
    const ns = (await ip('netns', 'list')).stdout.split('\n').map(l => l.split(' ')[0]).filter(Boolean)
    const links = (await ip('-o', 'link', 'show')).stdout.split('\n').map(l => l.split(': ')[1]?.split('@')[0]).filter((x): x is string => x !== undefined)
    const mine = (name: string): boolean => name === id || name.startsWith(`${id}-`)
    return [...ns.filter(mine).map(n => `netns ${n}`), ...links.filter(mine).map(l => `link ${l}`)]
  }
}
