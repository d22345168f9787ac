// The network-namespace lab library itself (test/lab/netns.ts): what it builds, that links and
// loss do what they say, and that everything it makes is removed — after a test that throws,
// after a failed create, when its process crashes or is terminated, and (by scripts/lab-down.sh)
// after a SIGKILL. Needs root; skipped (with the reason) without it, except in CI, where not
// being able to run is a failure. The loss tests also need nft (package nftables).
import { execFile, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/agents.js'
import { Lab } from './netns.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PREFIX = 'mltc' // this file's labs; scripts/lab-down.sh --all knows it
const can = await Lab.canRun({ prefix: PREFIX })
const mustRun = process.env.CI === 'true'
if (!can.ok) console.warn(`[lab] ${mustRun ? 'FAILING' : 'skipping'} lab library tests: ${can.reason ?? ''}`)
const nft = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'].some(d => d !== '' && existsSync(join(d, 'nft')))
const lossSkip = can.ok && !nft && !mustRun
if (lossSkip) console.warn('[lab] skipping setLoss tests: nft is not installed (apt-get install nftables)')

if (!can.ok && mustRun) {
  describe('lab library prerequisites (required in CI)', () => {
    it('can create network namespaces and bridges', () => {
      throw new Error(`network-namespace tests cannot run in CI: ${can.reason ?? ''}`)
    })
  })
}

function sh (cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(cmd, args, { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) =>
    err !== null ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)))
}

/** Whether the root namespace reaches addr over TCP (a refusal counts: the host answered). */
async function rootReaches (addr: string, timeoutMs = 1500): Promise<boolean> {
  return await new Promise(resolve => {
    const s = connect({ host: addr, port: 9, timeout: timeoutMs })
    s.on('connect', () => { s.destroy(); resolve(true) })
    s.on('error', e => resolve((e as NodeJS.ErrnoException).code === 'ECONNREFUSED'))
    s.on('timeout', () => { s.destroy(); resolve(false) })
  })
}

/** Whether a process runs (a zombie waiting to be reaped does not count). */
function pidAlive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch { return false }
}

/**
 * A separate node process that builds a one-host lab (with a `sleep` inside it), prints
 * {id, sleeper} and then does `then`: 'crash' (uncaught exception), or 'wait' (for a signal).
 */
async function labInChild (then: 'crash' | 'wait'): Promise<{ id: string, sleeper: number, child: ReturnType<typeof spawn>, exited: Promise<number | null> }> {
  const code = `
    import { Lab } from './test/lab/netns.ts'
    const lab = await Lab.create(1, { prefix: '${PREFIX}' })
    const p = lab.spawnIn(lab.hosts[0], ['sleep', '300'])
    console.log(JSON.stringify({ id: lab.id, sleeper: p.pid }))
    ${then === 'crash' ? "setTimeout(() => { throw new Error('simulated crash') }, 100)" : 'setInterval(() => {}, 1000)'}`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', d => { out += String(d) })
  child.stderr.on('data', d => { out += String(d) })
  const exited = new Promise<number | null>(resolve => child.once('exit', c => resolve(c)))
  const line = await waitFor('the child to report its lab', () => {
    if (child.exitCode !== null && !out.includes('{')) throw new Error(`child exited: ${out}`)
    return /^\{.*\}$/m.exec(out)?.[0]
  }, 30_000, 50)
  return { ...(JSON.parse(line) as { id: string, sleeper: number }), child, exited }
}

describe.skipIf(!can.ok)('the network-namespace lab library', () => {
  const ids = new Set<string>()
  const track = (lab: Lab): Lab => { ids.add(lab.id); return lab }

  afterAll(async () => {
    // Whatever a failed test left: removed here, then the suite asserts nothing of it remains.
    await sh('sh', ['scripts/lab-down.sh', '--prefix', PREFIX, '--stale'])
    for (const id of ids) expect(await Lab.leftovers(id), `leftovers of lab ${id}`).toEqual([])
  })

  it('builds a bridge and one namespace per host in 198.18.0.0/15, all reachable, and removes all of it', async () => {
    const lab = track(await Lab.create(2, { prefix: PREFIX }))
    try {
      expect(lab.id).toMatch(new RegExp(`^${PREFIX}\\d+[a-z]$`))
      expect(lab.subnet).toMatch(/^198\.(18|19)\.\d+\.0\/24$/)
      expect(lab.hosts.map(h => h.ip)).toEqual([lab.gateway.replace(/1$/, '10'), lab.gateway.replace(/1$/, '11')])
      expect((await Lab.leftovers(lab.id)).sort()).toEqual([
        `link ${lab.id}-br`, `link ${lab.id}-h0`, `link ${lab.id}-h1`, `netns ${lab.id}-0`, `netns ${lab.id}-1`].sort())
      expect(await lab.reachable(lab.hosts[0], lab.hosts[1])).toBe(true)
      expect(await lab.reachable(lab.hosts[1], lab.gateway)).toBe(true)
      expect(await rootReaches(lab.hosts[1].ip)).toBe(true)
      const { stdout } = await lab.exec(lab.hosts[1], ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'])
      expect(stdout).toContain(`${lab.hosts[1].ip}/24`)
    } finally {
      await lab.destroy()
    }
    expect(await Lab.leftovers(lab.id)).toEqual([])
  })

  it('removes the lab, and kills what runs in it, when the code using it throws', async () => {
    let id = ''
    let sleeper = -1
    await expect(Lab.with(1, async lab => {
      id = track(lab).id
      sleeper = lab.spawnIn(lab.hosts[0], ['sleep', '300']).pid ?? -1
      await waitFor('sleep to run', () => pidAlive(sleeper), 5000, 20)
      throw new Error('the test failed here')
    }, { prefix: PREFIX })).rejects.toThrow('the test failed here')
    expect(id).not.toBe('')
    expect(await Lab.leftovers(id)).toEqual([])
    await waitFor('the sleeper to be gone', () => !pidAlive(sleeper), 5000, 20)
  })

  it('removes what it had built when Lab.create fails half-way', async () => {
    // Squat the name of every possible second namespace, so building host 1 fails after
    // the bridge, host 0's namespace and its veth exist.
    const base = `${PREFIX}${process.pid % 100000}`
    const squat = 'abcdefghijklmnopqrstuvwxyz'.split('').map(c => `${base}${c}-1`)
    await Promise.all(squat.map(async ns => await sh('ip', ['netns', 'add', ns]).catch(() => {})))
    try {
      await expect(Lab.create(2, { prefix: PREFIX })).rejects.toThrow(/exists/i)
    } finally {
      await Promise.all(squat.map(async ns => await sh('ip', ['netns', 'del', ns]).catch(() => {})))
    }
    for (const c of 'abcdefghijklmnopqrstuvwxyz') expect(await Lab.leftovers(`${base}${c}`)).toEqual([])
  })

  it('is removed by its own process when that process crashes with an uncaught exception', async () => {
    const { id, sleeper, exited } = await labInChild('crash')
    ids.add(id)
    expect(await exited).not.toBe(0)
    expect(await Lab.leftovers(id)).toEqual([])
    await waitFor('the sleeper to be gone', () => !pidAlive(sleeper), 5000, 20)
  }, 60_000)

  it('is removed by its own process on SIGTERM', async () => {
    const { id, sleeper, child, exited } = await labInChild('wait')
    ids.add(id)
    expect(await Lab.leftovers(id)).not.toEqual([])
    child.kill('SIGTERM')
    await exited
    expect(await Lab.leftovers(id)).toEqual([])
    await waitFor('the sleeper to be gone', () => !pidAlive(sleeper), 5000, 20)
  }, 60_000)

  it('survives a SIGKILL of its process, and scripts/lab-down.sh --stale removes it and its processes', async () => {
    const { id, sleeper, child, exited } = await labInChild('wait')
    ids.add(id)
    child.kill('SIGKILL')
    await exited
    expect(await Lab.leftovers(id)).not.toEqual([])
    expect(pidAlive(sleeper)).toBe(true)
    const out = await sh('sh', ['scripts/lab-down.sh', '--prefix', PREFIX, '--stale'])
    expect(out).toMatch(/removed [1-9]/)
    expect(await Lab.leftovers(id)).toEqual([])
    await waitFor('the sleeper to be gone', () => !pidAlive(sleeper), 5000, 20)
  }, 60_000)

  it('linkDown cuts a host off and linkUp restores it', async () => {
    await Lab.with(2, async lab => {
      track(lab)
      const [a, b] = lab.hosts
      expect(await lab.reachable(a, b)).toBe(true)
      await lab.linkDown(b)
      expect(await lab.reachable(a, b, 1500)).toBe(false)
      expect(await lab.reachable(b, a, 1500)).toBe(false)
      expect(await rootReaches(b.ip)).toBe(false)
      await lab.linkUp(b)
      await waitFor('b reachable again', async () => await lab.reachable(a, b, 1500), 15_000, 200)
      expect(await lab.reachable(b, a)).toBe(true)
    }, { prefix: PREFIX })
  }, 60_000)

  it.skipIf(lossSkip)('setLoss(1000) drops everything to a host, setLoss(0) restores it, spared sources get through', async () => {
    await Lab.with(3, async lab => {
      track(lab)
      const [a, b, c] = lab.hosts
      await lab.setLoss(b, 1000)
      expect(await lab.reachable(a, b, 1500)).toBe(false)
      expect(await rootReaches(b.ip)).toBe(false)
      await lab.setLoss(b, 1000, { spare: [c.ip, lab.gateway] })
      expect(await lab.reachable(c, b)).toBe(true)
      expect(await rootReaches(b.ip)).toBe(true)
      expect(await lab.reachable(a, b, 1500)).toBe(false)
      await lab.setLoss(b, 0)
      await lab.setLoss(b, 0) // idempotent
      expect(await lab.reachable(a, b)).toBe(true)
      await expect(lab.setLoss(b, 1001)).rejects.toThrow(/per mille/)
      await expect(lab.setLoss(b, 10, { spare: ['not-an-ip'] })).rejects.toThrow(/IPv4/)
    }, { prefix: PREFIX })
  }, 60_000)
})
