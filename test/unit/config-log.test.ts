import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { ConfigLog, parseLog } from '../../src/store/config-log.js'
import { MurmurError } from '../../src/core/errors.js'
import { LwwMap, type Entry } from '../../src/core/lww.js'
import { encode } from '../../src/net/codec.js'
import { entry, tombstone } from './fixtures.js'

let dir: string
let file: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'murmur-config-log-'))
  file = join(dir, 'config.log')
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const SAMPLE: Entry[] = [
  entry('app/name', 1000, 0, 'n1', 'murmur'),
  entry('app/db', 1001, 0, 'n1', { hosts: ['a', 'b'], port: 5432, tls: true, extra: null }),
  entry('ünïcode/ключ', 1002, 3, 'n2', 'значение 😀'),
  tombstone('app/old', 1003, 0, 'n2'),
  entry('app/list', 1004, 0, 'n3', [1, 2.5, -3, 'x', false]),
  entry('app/name', 1005, 0, 'n1', 'murmur-2')
]

async function openLog (): Promise<Awaited<ReturnType<typeof ConfigLog.open>>> {
  return await ConfigLog.open(dir)
}

async function reopenEntries (): Promise<{ entries: Entry[], problem?: string }> {
  const { log, report } = await openLog()
  await log.close()
  return report
}

/** Write SAMPLE to a fresh log and return the file image and the record boundaries [start, end). */
async function writeSample (): Promise<{ image: Buffer, records: Array<[number, number]> }> {
  const { log } = await openLog()
  await log.append(SAMPLE)
  await log.close()
  const image = await readFile(file)
  const records: Array<[number, number]> = []
  for (let off = 0; off < image.byteLength;) {
    const end = off + 8 + image.readUInt32BE(off)
    records.push([off, end])
    off = end
  }
  expect(records.length).toBe(SAMPLE.length)
  expect(records.at(-1)?.[1]).toBe(image.byteLength)
  return { image, records }
}

function frame (x: unknown): Buffer {
  const body = Buffer.from(encode(x))
  const head = Buffer.alloc(8)
  head.writeUInt32BE(body.byteLength, 0)
  head.writeUInt32BE(crc32(body), 4)
  return Buffer.concat([head, body])
}

describe('ConfigLog: append and reopen', () => {
  it('starts empty, and a reopen returns every appended entry in order', async () => {
    const { log, report } = await openLog()
    expect(report).toEqual({ entries: [] })
    await log.append(SAMPLE.slice(0, 2))
    await log.append(SAMPLE.slice(2))
    await log.close()
    const back = await reopenEntries()
    expect(back.problem).toBeUndefined()
    expect(back.entries).toEqual(SAMPLE)
    expect(back.entries[3]).not.toHaveProperty('value')
  })

  it('group-commits concurrent appends and acknowledges each once it is durable', async () => {
    const { log } = await openLog()
    const acks = SAMPLE.map(e => log.append([e]))
    await Promise.all(acks)
    expect(log.bytes).toBe((await stat(file)).size)
    await log.close()
    expect((await reopenEntries()).entries).toEqual(SAMPLE)
  })

  it('appends to what was there across several reopen cycles', async () => {
    for (const e of SAMPLE) {
      const { log } = await openLog()
      await log.append([e])
      await log.close()
    }
    expect((await reopenEntries()).entries).toEqual(SAMPLE)
  })

  it('rejects appends after close with MURMUR_ERR_STORAGE', async () => {
    const { log } = await openLog()
    await log.close()
    const err = await log.append([SAMPLE[0]]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MurmurError)
    expect((err as MurmurError).code).toBe('MURMUR_ERR_STORAGE')
  })
})

describe('parseLog', () => {
  it('parses exactly the complete records of every prefix of a log', async () => {
    const { image, records } = await writeSample()
    for (let cut = 0; cut <= image.byteLength; cut++) {
      const complete = records.filter(([, end]) => end <= cut).length
      const { entries, goodBytes } = parseLog(image.subarray(0, cut))
      expect(entries).toEqual(SAMPLE.slice(0, complete))
      expect(goodBytes).toBe(complete === 0 ? 0 : records[complete - 1][1])
    }
  })

  it('stops at any flipped byte and keeps the records before it', async () => {
    const { image, records } = await writeSample()
    for (const [i, [start, end]] of records.entries()) {
      for (let at = start; at < end; at++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const bad = Buffer.from(image)
          bad[at] ^= mask
          const { entries, goodBytes } = parseLog(bad)
          expect(entries).toEqual(SAMPLE.slice(0, i))
          expect(goodBytes).toBe(start)
        }
      }
    }
  })

  it('stops at a well-framed record that is not a valid entry', () => {
    const good = frame(SAMPLE[0])
    const image = Buffer.concat([good, frame({ key: 'a b', value: 1, deleted: false, hlc: { wall: 1, logical: 0 }, origin: 'x' }), frame(SAMPLE[1])])
    expect(parseLog(image)).toEqual({ entries: [SAMPLE[0]], goodBytes: good.byteLength })
    expect(parseLog(Buffer.concat([good, frame({ hello: 'world' })]))).toEqual({ entries: [SAMPLE[0]], goodBytes: good.byteLength })
  })

  it('returns nothing for an empty or garbage image', () => {
    expect(parseLog(Buffer.alloc(0))).toEqual({ entries: [], goodBytes: 0 })
    expect(parseLog(Buffer.from('this is not a config log at all'))).toEqual({ entries: [], goodBytes: 0 })
    expect(parseLog(Buffer.alloc(64))).toEqual({ entries: [], goodBytes: 0 }) // zero-length bodies fail the entry check
  })
})

describe('ConfigLog: damaged files', () => {
  it('a torn last record (cut at offsets throughout it) is dropped and reported; later appends are readable', async () => {
    const { image, records } = await writeSample()
    const [lastStart, lastEnd] = records[records.length - 1]
    const extra = entry('after/repair', 2000, 0, 'n9', 'ok')
    // Every cut inside the header, then a sample through the body, and the last byte.
    const cuts = new Set<number>()
    for (let cut = lastStart + 1; cut <= lastStart + 9; cut++) cuts.add(cut)
    for (let cut = lastStart + 10; cut < lastEnd; cut += 7) cuts.add(cut)
    cuts.add(lastEnd - 1)
    for (const cut of cuts) {
      await writeFile(file, image.subarray(0, cut))
      const { log, report } = await openLog()
      expect(report.entries).toEqual(SAMPLE.slice(0, -1))
      expect(report.problem).toContain(`offset ${lastStart}`)
      expect(report.problem).toContain(`dropped ${cut - lastStart} damaged bytes`)
      expect(log.bytes).toBe(lastStart)
      await log.append([extra])
      await log.close()
      const back = await reopenEntries()
      expect(back.problem).toBeUndefined()
      expect(back.entries).toEqual([...SAMPLE.slice(0, -1), extra])
    }
  })

  it('a flipped byte in the middle keeps the complete records before it; appends after reopening survive', async () => {
    const { image, records } = await writeSample()
    const middle = Math.floor(image.byteLength / 2)
    const hit = records.findIndex(([start, end]) => start <= middle && middle < end)
    expect(hit).toBeGreaterThan(0)
    const bad = Buffer.from(image)
    bad[middle] ^= 0x5a
    await writeFile(file, bad)

    const { log, report } = await openLog()
    expect(report.entries).toEqual(SAMPLE.slice(0, hit))
    expect(report.problem).toContain(`offset ${records[hit][0]}`)
    const extra = [entry('after/flip', 3000, 0, 'n9', 1), tombstone('app/name', 3001, 0, 'n9')]
    await log.append(extra)
    await log.close()

    const back = await reopenEntries()
    expect(back.problem).toBeUndefined()
    expect(back.entries).toEqual([...SAMPLE.slice(0, hit), ...extra])
  })

  it('a file of garbage opens empty with a problem, and is usable afterwards', async () => {
    await writeFile(file, Buffer.from('\x00\x00\x10\x00garbage'))
    const { log, report } = await openLog()
    expect(report.entries).toEqual([])
    expect(report.problem).toMatch(/dropped 11 damaged bytes at offset 0/)
    await log.append([SAMPLE[0]])
    await log.close()
    expect(await reopenEntries()).toEqual({ entries: [SAMPLE[0]] })
  })
})

describe('ConfigLog: compaction', () => {
  const KEYS = Array.from({ length: 10 }, (_, i) => `key/${i}`)

  /** `rounds` overwrites of every key, appended in batches of one round. */
  async function overwrite (log: ConfigLog, rounds: number, wall0 = 1): Promise<Entry[]> {
    let wall = wall0
    let last: Entry[] = []
    for (let r = 0; r < rounds; r++) {
      last = KEYS.map(k => entry(k, wall++, 0, 'n1', { round: r, k }))
      await log.append(last)
    }
    return last
  }

  const byKey = (es: Entry[]): Entry[] => [...es].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const newestPerKey = (es: Entry[]): Entry[] => {
    const m = new LwwMap()
    for (const e of es) m.apply(e)
    return byKey([...m.all()])
  }

  /** Size of a log holding just `entries`. */
  async function sizeOf (entries: Entry[]): Promise<number> {
    const other = await mkdtemp(join(tmpdir(), 'murmur-config-log-ref-'))
    try {
      const { log } = await ConfigLog.open(other)
      await log.append(entries)
      await log.close()
      return (await stat(join(other, 'config.log'))).size
    } finally {
      await rm(other, { recursive: true, force: true })
    }
  }

  it('does not compact below the threshold (records <= 2 * keys + 1000)', async () => {
    const { log } = await openLog()
    await overwrite(log, 100) // 1000 records for 10 keys
    await log.close()
    const back = await reopenEntries()
    expect(back.entries.length).toBe(1000)
  })

  it('rewrites the log once it holds mostly superseded records: the file shrinks and reopening gives the latest value per key', async () => {
    const { log } = await openLog()
    // The flush of round 103 brings the log to 1030 records > 2 * 10 + 1000: it triggers a compaction.
    const latest = await overwrite(log, 103)
    await log.close() // runs after the compaction queued by the last flush
    const size = (await stat(file)).size
    expect(size).toBe(await sizeOf(latest))
    expect(log.bytes).toBe(size)
    const back = await reopenEntries()
    expect(back.problem).toBeUndefined()
    expect(byKey(back.entries)).toEqual(byKey(latest))
  })

  it('keeps appending correctly after an automatic compaction', async () => {
    const { log } = await openLog()
    const latest = await overwrite(log, 150)
    const after = [entry('key/0', 99_999, 0, 'n2', 'after'), entry('new/key', 99_999, 0, 'n2', 'new')]
    await log.append(after)
    await log.close()
    const { entries, problem } = await reopenEntries()
    expect(problem).toBeUndefined()
    expect(entries.length).toBeLessThan(1000) // compacted at 1030 records, then 470 + 2 more
    expect(entries.slice(-2)).toEqual(after)
    expect(newestPerKey(entries)).toEqual(byKey([...latest.slice(1), ...after]))
  })

  it('keeps the newest version per key, not the last appended', async () => {
    const { log } = await openLog()
    const newer = entry('k', 10, 0, 'n2', 'newer')
    await log.append([newer, entry('k', 10, 0, 'n1', 'older by origin'), entry('k', 9, 5, 'n3', 'older by stamp')])
    await log.compact()
    await log.close()
    expect((await reopenEntries()).entries).toEqual([newer])
  })

  it('compact(forget) drops what forget selects and keeps the rest', async () => {
    const { log } = await openLog()
    const keep = [entry('live/a', 100), entry('live/b', 50), tombstone('dead/recent', 500)]
    await log.append([entry('dead/old', 10), tombstone('dead/old', 20), entry('dead/older', 5), tombstone('dead/older', 30), ...keep])
    const horizon = 200
    await log.compact(e => e.deleted && e.hlc.wall < horizon)
    const extra = entry('later', 600)
    await log.append([extra])
    await log.close()
    const { entries, problem } = await reopenEntries()
    expect(problem).toBeUndefined()
    expect(byKey(entries)).toEqual([tombstone('dead/recent', 500), extra, entry('live/a', 100), entry('live/b', 50)])
  })

  it('a forgotten key that is written again is kept by the next compaction', async () => {
    const { log } = await openLog()
    await log.append([tombstone('k', 1)])
    await log.compact(e => e.deleted)
    await log.append([entry('k', 2)])
    await log.compact(e => e.deleted)
    await log.close()
    expect((await reopenEntries()).entries).toEqual([entry('k', 2)])
  })
})
