// Blocking queries against a fake agent: when they return, and that they leave no listener.
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import type { Agent } from '../../src/agent/agent.js'
import { MurmurError } from '../../src/core/errors.js'
import { block, type Watched } from '../../src/http/blocking.js'
import type { Request } from '../../src/http/server.js'

function setup (query: string): { agent: EventEmitter, req: Request, close: () => void, w: Watched & { value: number } } {
  const agent = new EventEmitter()
  const closed = new AbortController()
  const req = { method: 'GET', path: '/', query: new URLSearchParams(query), headers: {}, closed: closed.signal, json: async () => undefined, raw: async () => Buffer.alloc(0) } satisfies Request
  const w = { value: 5, index: () => w.value, concerns: (kind: string, key?: string) => kind === 'config' && key === 'k' }
  return { agent, req, close: () => closed.abort(), w }
}

const run = async (s: ReturnType<typeof setup>): Promise<void> => await block(s.agent as unknown as Agent, s.req, s.w)

async function settled (p: Promise<unknown>): Promise<boolean> {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  for (let i = 0; i < 5; i++) await Promise.resolve()
  return done
}

describe('block', () => {
  it('returns at once without an index, or when the data is already past it', async () => {
    for (const q of ['', 'index=4', 'index=4&wait=1m']) {
      const s = setup(q)
      expect(await settled(run(s))).toBe(true)
      expect(s.agent.listenerCount('change')).toBe(0)
    }
  })

  it('waits for a change that concerns it and moves the index, then removes its listener', async () => {
    const s = setup('index=5')
    const p = run(s)
    expect(s.agent.listenerCount('change')).toBe(1)
    s.agent.emit('change', 6, 'config', 'other')
    s.w.value = 6
    s.agent.emit('change', 7, 'member')
    expect(await settled(p)).toBe(false)
    s.agent.emit('change', 8, 'config', 'k')
    expect(await settled(p)).toBe(true)
    expect(s.agent.listenerCount('change')).toBe(0)
  })

  it('returns when the wait runs out', async () => {
    const s = setup('index=5&wait=20ms')
    await run(s)
    expect(s.agent.listenerCount('change')).toBe(0)
  })

  it('returns and removes its listener when the client goes away', async () => {
    const s = setup('index=5')
    const p = run(s)
    s.close()
    expect(await settled(p)).toBe(true)
    expect(s.agent.listenerCount('change')).toBe(0)
  })

  it('rejects a bad index or wait with a bad-request error', async () => {
    for (const q of ['index=abc', 'index=-1', 'index=1.5', 'wait=soon', 'index=1&wait=11m', 'wait=-1s']) {
      const err = await run(setup(q)).catch(e => e)
      expect(err, q).toBeInstanceOf(MurmurError)
      expect((err as MurmurError).code).toBe('MURMUR_ERR_BAD_REQUEST')
    }
  })
})
