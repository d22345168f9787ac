// Leave, restart with the same data dir, and crash safety of acknowledged writes.
import { readFileSync, writeFileSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, waitFor, type AgentProc } from '../helpers/agents.js'

const cluster = new Cluster()
let seed: AgentProc

async function statusOf (observer: AgentProc, name: string): Promise<any> {
  const { body } = await observer.get('/v1/members')
  return body.find((m: any) => m.name === name)
}

beforeAll(async () => {
  seed = await cluster.start({ name: 'seed' })
})

afterAll(async () => { await cluster.stopAll() })

describe('agent lifecycle', () => {
  it('shows a SIGTERM-ed agent as left (not failed) and drops its services at once', async () => {
    const leaver = await cluster.start({ name: 'leaver', join: [seed.listen] })
    await leaver.req('PUT', '/v1/agent/services', { name: 'gone-soon', port: 1234 })
    await waitFor('service visible', async () => (await seed.get('/v1/services/gone-soon')).body.length === 1)
    leaver.kill('SIGTERM')
    expect(await leaver.exited).toBe(0)
    expect(leaver.output).toMatch(/leaving/)
    await waitFor('left on seed', async () => (await statusOf(seed, 'leaver'))?.status === 'left', 10_000)
    expect((await seed.get('/v1/services/gone-soon')).body).toEqual([])
    // A left member stays left: the detector never turns it into a failure.
    await new Promise(resolve => setTimeout(resolve, 4000))
    expect((await statusOf(seed, 'leaver')).status).toBe('left')
  })

  it('joins through a contact that takes no datagrams (--no-udp), and lets such an agent join through one that does', async () => {
    // A hello to the --no-udp contact is refused (its UDP port is closed): the joiner dials it.
    const plain = await cluster.start({ name: 'plain', extra: ['--no-udp'] })
    const joiner = await cluster.start({ name: 'hello-joiner', join: [plain.listen] })
    // An agent with --no-udp asks no hello: it dials the seed, which takes datagrams.
    const streamer = await cluster.start({ name: 'streamer', join: [seed.listen], extra: ['--no-udp'] })
    for (const [observer, name] of [[plain, 'hello-joiner'], [joiner, 'plain'], [seed, 'streamer'], [streamer, 'seed']] as const) {
      await waitFor(`${name} alive on ${observer.spec.name}`, async () => (await statusOf(observer, name))?.status === 'alive')
    }
    for (const a of [plain, joiner, streamer]) a.kill('SIGTERM')
    await Promise.all([plain.exited, joiner.exited, streamer.exited])
  })

  it('comes back after a restart with the same data dir as the same peer, higher generation, state intact', async () => {
    const dir = cluster.tempDir()
    const first = await cluster.start({ name: 'phoenix', join: [seed.listen], dataDir: dir })
    await first.req('PUT', '/v1/agent/services', { name: 'rebirth', port: 4000, tags: ['t'] })
    await first.req('PUT', '/v1/config/phoenix/key', { n: 1 })
    const self1 = (await first.get('/v1/agent/self')).body
    await waitFor('phoenix alive on seed', async () => (await statusOf(seed, 'phoenix'))?.status === 'alive')
    first.kill('SIGKILL')
    await first.exited

    const second = await cluster.start({ name: 'phoenix', join: [seed.listen], dataDir: dir, listenPort: Number(first.listen.split(':')[1]) })
    const self2 = (await second.get('/v1/agent/self')).body
    expect(self2.id).toBe(self1.id)
    expect(self2.generation).toBeGreaterThan(self1.generation)
    expect((await second.get('/v1/config/phoenix/key')).body.value).toEqual({ n: 1 })
    expect((await second.get('/v1/agent/services')).body).toMatchObject([{ id: 'rebirth', port: 4000 }])
    await waitFor('seen alive again with the new generation, once', async () => {
      const { body } = await seed.get('/v1/members')
      const rows = body.filter((m: any) => m.name === 'phoenix')
      return rows.length === 1 && rows[0].status === 'alive' && rows[0].generation === self2.generation
    })
    await waitFor('its service is back', async () => (await seed.get('/v1/services/rebirth')).body.length === 1)
  })

  it('replaces the row of an agent restarted without a data dir (new peer id, same address), and refuses a name thief', async () => {
    const first = await cluster.start({ name: 'amnesiac', join: [seed.listen] })
    await waitFor('amnesiac alive on seed', async () => (await statusOf(seed, 'amnesiac'))?.status === 'alive')
    const oldId = (await first.get('/v1/agent/self')).body.id
    first.kill('SIGKILL')
    await first.exited
    const second = await cluster.start({ name: 'amnesiac', join: [seed.listen], listenPort: Number(first.listen.split(':')[1]) })
    const newId = (await second.get('/v1/agent/self')).body.id
    expect(newId).not.toBe(oldId)
    await waitFor('one row, the new one, alive', async () => {
      const rows = (await seed.get('/v1/members')).body.filter((m: any) => m.name === 'amnesiac')
      return rows.length === 1 && rows[0].id === newId && rows[0].status === 'alive'
    }, 30_000)
    // Another process taking the name of a live member from another address is refused.
    const thief = await cluster.start({ name: 'amnesiac', join: [seed.listen] })
    await waitFor('thief told why', async () => /node name 'amnesiac' belongs to live member/.test(thief.output), 30_000)
    const rows = (await seed.get('/v1/members')).body.filter((m: any) => m.name === 'amnesiac')
    expect(rows.map((m: any) => m.id)).toEqual([newId])
    expect(seed.output).toMatch(/refused a member: its name is taken/)
    thief.kill('SIGKILL')
    second.kill('SIGKILL')
  })

  it('keeps every acknowledged write across kill -9 at random moments', async () => {
    const dir = cluster.tempDir()
    const acked = new Map<string, number>()
    for (let round = 0; round < 4; round++) {
      const agent = await cluster.start({ name: 'crashy', dataDir: dir })
      for (const [key, value] of acked) {
        const r = await agent.get(`/v1/config/${key}`)
        expect({ key, status: r.status, value: r.body?.value }).toEqual({ key, status: 200, value })
      }
      // A stream of writes, 4 in flight at a time; the kill lands somewhere in the middle.
      const killAt = 30 + Math.floor(Math.random() * 120)
      let n = 0
      const writer = async (): Promise<void> => {
        while (agent.alive) {
          const i = n++
          if (i === killAt) agent.kill('SIGKILL')
          const key = `crash/${round}/${i}`
          try {
            const r = await agent.req('PUT', `/v1/config/${key}`, i)
            if (r.status === 200) acked.set(key, i)
          } catch { /* the agent died mid-request: not acknowledged */ }
        }
      }
      await Promise.all([writer(), writer(), writer(), writer()])
      await agent.exited
    }
    const last = await cluster.start({ name: 'crashy', dataDir: dir })
    const { body } = await last.get('/v1/config?prefix=crash/')
    const stored = new Map(body.items.map((i: any) => [i.key, i.value]))
    for (const [key, value] of acked) expect(stored.get(key)).toBe(value)
    expect(acked.size).toBeGreaterThan(100)
  })

  it('reports a torn config log at start, keeps what is intact, and goes on', async () => {
    const dir = cluster.tempDir()
    const agent = await cluster.start({ name: 'torn', dataDir: dir })
    for (let i = 0; i < 5; i++) await agent.req('PUT', `/v1/config/t/${i}`, i)
    agent.kill('SIGKILL')
    await agent.exited
    const log = join(dir, 'config.log')
    const bytes = readFileSync(log)
    writeFileSync(log, bytes.subarray(0, bytes.byteLength - 3))
    appendFileSync(log, Buffer.from([0xde, 0xad]))
    const again = await cluster.start({ name: 'torn', dataDir: dir })
    expect(again.output).toMatch(/dropped \d+ damaged bytes/)
    const { body } = await again.get('/v1/config?prefix=t/')
    expect(body.items.map((i: any) => i.value)).toEqual([0, 1, 2, 3])
    expect((await again.req('PUT', '/v1/config/t/9', 9)).status).toBe(200)
  })

  it('refuses to start, with a clear message, when the data dir is not usable', async () => {
    const dir = cluster.tempDir()
    const file = join(dir, 'not-a-dir')
    writeFileSync(file, 'x')
    await expect(cluster.start({ name: 'nodir', dataDir: file })).rejects.toThrow(/exited with 1:[\s\S]*not a writable directory/)
  })
})
