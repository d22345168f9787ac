// Anti-entropy over an in-memory stream pair: entries a peer sends with out-of-range stamps are
// dropped and counted, the rest applied.
import { streamPair } from '@libp2p/utils'
import { describe, expect, it } from 'vitest'
import { BUCKETS, type Entry } from '../../src/core/lww.js'
import { answerSync, initiateSync, type SyncState } from '../../src/net/sync.js'
import { entry } from './fixtures.js'

function state (mine: Entry[]): SyncState & { applied: Entry[], rejected: number } {
  const s = {
    applied: [] as Entry[],
    rejected: 0,
    memberVersions: () => [],
    signedHeartbeat: () => undefined,
    configDigest: () => new Uint32Array(BUCKETS),
    differingBuckets: () => new Set(Array.from({ length: BUCKETS }, (_, i) => i)),
    entriesIn: () => mine,
    applyHeartbeats: async () => {},
    applyEntries: async (es: Entry[]) => { s.applied.push(...es) },
    rejectedEntries: (n: number) => { s.rejected += n }
  }
  return s
}

describe('sync', () => {
  it('drops and counts entries with an unsafe logical counter or a wall past year 9999', async () => {
    const T = 1_700_000_000_000
    const good = entry('good', T, 1, 'peer')
    const responder = state([good, entry('unsafe', T, 2 ** 53 - 1, 'peer'), entry('far', 9e15, 0, 'peer')])
    const initiator = state([])
    const [out, inc] = await streamPair()
    await Promise.all([initiateSync(out, initiator), answerSync(inc, responder)])
    expect(initiator.applied).toEqual([good])
    expect(initiator.rejected).toBe(2)
  })
})
