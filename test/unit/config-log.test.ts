import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigLog, parseLog, type LogFile } from '../../src/store/config-log.js'
import { MurmurError } from '../../src/core/errors.js'
import { LwwMap, type Entry } from '../../src/core/lww.js'
import { frameV1 } from '../helpers/log-format.js'
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
    const end = off + 12 + image.readUInt32BE(off + 4)
    records.push([off, end])
    off = end
  }
  expect(records.length).toBe(SAMPLE.length)
  expect(records.at(-1)?.[1]).toBe(image.byteLength)
  return { image, records }
}

describe('ConfigLog: append and reopen', () => {
  it('starts empty, and a reopen returns every appended entry in order', async () => {
    const { log, report } = await openLog()
    expect(report).toEqual({ entries: [], damaged: 0 })
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
  it('parses exactly the complete records of every prefix of a log; a cut record is a torn tail', async () => {
    const { image, records } = await writeSample()
    for (let cut = 0; cut <= image.byteLength; cut++) {
      const complete = records.filter(([, end]) => end <= cut).length
      const { entries, skipped } = parseLog(image.subarray(0, cut))
      expect(entries).toEqual(SAMPLE.slice(0, complete))
      const goodEnd = complete === 0 ? 0 : records[complete - 1][1]
      expect(skipped).toEqual(goodEnd === cut ? [] : [{ offset: goodEnd, bytes: cut - goodEnd, torn: true }])
    }
  })

  it('skips a record with any flipped byte and keeps every other record', async () => {
    const { image, records } = await writeSample()
    for (const [i, [start, end]] of records.entries()) {
      for (let at = start; at < end; at++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const bad = Buffer.from(image)
          bad[at] ^= mask
          const { entries, skipped } = parseLog(bad)
          if (i === 0 && at < 4) {
            // The first record's marker is gone, but what follows it is a whole record of the
            // first format (no marker yet seen in this file): it is recovered.
            expect(entries).toEqual(SAMPLE)
            expect(skipped.map(x => [x.offset, x.bytes])).toEqual([[0, 4]])
            continue
          }
          expect(entries).toEqual(SAMPLE.filter((_, j) => j !== i))
          expect(skipped.map(x => [x.offset, x.bytes])).toEqual([[start, end - start]])
        }
      }
    }
  })

  it('skips a well-framed record that is not a valid entry (e.g. an out-of-range stamp) and keeps the rest', () => {
    const image = Buffer.concat([
      frameV1(SAMPLE[0]),
      frameV1({ key: 'a b', value: 1, deleted: false, hlc: { wall: 1, logical: 0 }, origin: 'x' }),
      frameV1({ ...SAMPLE[1], hlc: { wall: 1, logical: 2 ** 53 - 1 } }),
      frameV1(SAMPLE[1])
    ])
    const { entries, skipped } = parseLog(image)
    expect(entries).toEqual([SAMPLE[0], SAMPLE[1]])
    expect(skipped).toHaveLength(2)
    expect(parseLog(Buffer.concat([frameV1(SAMPLE[0]), frameV1({ hello: 'world' })])).entries).toEqual([SAMPLE[0]])
  })

  it('reads logs of the first format (no sync marker), resynchronising past damage', () => {
    const frames = SAMPLE.map(frameV1)
    const image = Buffer.concat(frames)
    expect(parseLog(image)).toEqual({ entries: SAMPLE, skipped: [] })
    const at = frames[0].byteLength + frames[1].byteLength + 9
    const bad = Buffer.from(image)
    bad[at] ^= 0x20
    const { entries, skipped } = parseLog(bad)
    expect(entries).toEqual(SAMPLE.filter((_, j) => j !== 2))
    expect(skipped.map(x => x.bytes)).toEqual([frames[2].byteLength])
  })

  it('returns nothing for an empty or garbage image, and reports the garbage', () => {
    expect(parseLog(Buffer.alloc(0))).toEqual({ entries: [], skipped: [] })
    expect(parseLog(Buffer.from('this is not a config log at all')).skipped).toEqual([{ offset: 0, bytes: 31, torn: false }])
    expect(parseLog(Buffer.alloc(64)).entries).toEqual([])
  })
})

async function copies (): Promise<string[]> {
  return (await readdir(dir)).filter(f => f.startsWith('config.log.corrupt-'))
}

describe('ConfigLog: damaged files', () => {
  it('a torn last record (cut at offsets throughout it) is dropped and reported; later appends are readable', async () => {
    const { image, records } = await writeSample()
    const [lastStart, lastEnd] = records[records.length - 1]
    const extra = entry('after/repair', 2000, 0, 'n9', 'ok')
    const cuts = new Set<number>()
    for (let cut = lastStart + 1; cut <= lastStart + 13; cut++) cuts.add(cut)
    for (let cut = lastStart + 14; cut < lastEnd; cut += 7) cuts.add(cut)
    cuts.add(lastEnd - 1)
    for (const cut of cuts) {
      await writeFile(file, image.subarray(0, cut))
      const { log, report } = await openLog()
      expect(report.entries).toEqual(SAMPLE.slice(0, -1))
      expect(report.problem).toContain(`dropped ${cut - lastStart} damaged bytes at offset ${lastStart}`)
      expect(log.bytes).toBe(lastStart)
      await log.append([extra])
      await log.close()
      const back = await reopenEntries()
      expect(back.problem).toBeUndefined()
      expect(back.entries).toEqual([...SAMPLE.slice(0, -1), extra])
    }
    // A write cut short by a crash was never acknowledged: no copy is kept for it.
    expect(await copies()).toEqual([])
  })

  it('one damaged record in 1,000 costs that record only; the original file is kept aside', async () => {
    const { log } = await openLog()
    const all = Array.from({ length: 1000 }, (_, i) => entry(`k/${i}`, 1000 + i, 0, 'n1', { i, pad: 'x'.repeat(i % 50) }))
    await log.append(all)
    await log.close()
    const image = await readFile(file)
    for (const victim of [500, 10, 0, 999]) {
      await writeFile(file, image)
      const start = image.indexOf(Buffer.from(`k/${victim}`)) // inside the record's body
      const bad = Buffer.from(image)
      bad[start] ^= 0x01
      await writeFile(file, bad)
      const opened = await openLog()
      await opened.log.close()
      expect(opened.report.entries).toEqual(all.filter((_, j) => j !== victim))
      expect(opened.report.damaged).toBe(1)
      expect(opened.report.problem).toMatch(/kept 999 records/)
      const kept = await copies()
      expect(kept).toHaveLength(1)
      expect(opened.report.problem).toContain(kept[0])
      expect(await readFile(join(dir, kept[0]))).toEqual(bad)
      await rm(join(dir, kept[0]))
      // Reopening the repaired file finds no damage and the same entries.
      const again = await reopenEntries()
      expect(again.problem).toBeUndefined()
      expect(again.entries).toEqual(all.filter((_, j) => j !== victim))
    }
  })

  it('a bad CRC on the first record keeps every later record', async () => {
    const { image, records } = await writeSample()
    const bad = Buffer.from(image)
    bad[records[0][0] + 8] ^= 0xff // the CRC field
    await writeFile(file, bad)
    const { log, report } = await openLog()
    await log.close()
    expect(report.entries).toEqual(SAMPLE.slice(1))
    expect(await copies()).toHaveLength(1)
  })

  it('a flipped byte in the middle keeps every other record; appends after reopening survive', async () => {
    const { image, records } = await writeSample()
    const middle = Math.floor(image.byteLength / 2)
    const hit = records.findIndex(([start, end]) => start <= middle && middle < end)
    expect(hit).toBeGreaterThan(0)
    const bad = Buffer.from(image)
    bad[middle] ^= 0x5a
    await writeFile(file, bad)

    const { log, report } = await openLog()
    const survivors = SAMPLE.filter((_, j) => j !== hit)
    expect(report.entries).toEqual(survivors)
    expect(report.problem).toContain(`offset ${records[hit][0]}`)
    const extra = [entry('after/flip', 3000, 0, 'n9', 1), tombstone('app/name', 3001, 0, 'n9')]
    await log.append(extra)
    await log.close()

    const back = await reopenEntries()
    expect(back.problem).toBeUndefined()
    expect(back.entries).toEqual([...survivors, ...extra])
  })

  it('a file of garbage opens empty with a problem, keeps a copy, and is usable afterwards', async () => {
    await writeFile(file, Buffer.from('garbage, not a log'))
    const { log, report } = await openLog()
    expect(report.entries).toEqual([])
    expect(report.problem).toMatch(/dropped 18 damaged bytes at offset 0/)
    expect(await copies()).toHaveLength(1)
    await log.append([SAMPLE[0]])
    await log.close()
    expect(await reopenEntries()).toMatchObject({ entries: [SAMPLE[0]], damaged: 0 })
  })

  it('an old-format log is read, appended to in the new format, and read back whole', async () => {
    await writeFile(file, Buffer.concat(SAMPLE.slice(0, 3).map(frameV1)))
    const { log, report } = await openLog()
    expect(report.problem).toBeUndefined()
    expect(report.entries).toEqual(SAMPLE.slice(0, 3))
    await log.append(SAMPLE.slice(3))
    await log.close()
    expect((await reopenEntries()).entries).toEqual(SAMPLE)
  })
})

/** A real log file whose writes stop short once `space` bytes are used up, like a full disk. */
class FullDisk {
  space = Number.POSITIVE_INFINITY
  failTruncates = 0
  async open (path: string): Promise<LogFile> {
    const fh = await open(path, 'a', 0o600)
    return {
      write: async (buf: Uint8Array) => {
        if (this.space <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
        const n = Math.min(buf.byteLength, this.space)
        this.space -= n
        return await fh.write(buf.subarray(0, n))
      },
      datasync: async () => await fh.datasync(),
      truncate: async (len: number) => {
        if (this.failTruncates > 0) { this.failTruncates--; throw new Error('EIO: truncate failed') }
        await fh.truncate(len)
      },
      close: async () => await fh.close()
    }
  }
}

describe('ConfigLog: full disk', () => {
  it('a short write is an error: nothing is acknowledged, the log stays well-formed, writes resume when space returns', async () => {
    const disk = new FullDisk()
    const { log } = await ConfigLog.open(dir, { openFile: async p => await disk.open(p) })
    await log.append([SAMPLE[0]])
    const good = (await stat(file)).size
    disk.space = 10 // the next record gets 10 of its bytes written, then the disk is full
    await expect(log.append([SAMPLE[1]])).rejects.toMatchObject({ code: 'MURMUR_ERR_STORAGE' })
    expect((await stat(file)).size).toBe(good)
    expect(log.bytes).toBe(good)
    await expect(log.append([SAMPLE[2], SAMPLE[3]])).rejects.toMatchObject({ code: 'MURMUR_ERR_STORAGE', message: expect.stringMatching(/disk full/) })
    expect((await stat(file)).size).toBe(good)
    disk.space = Number.POSITIVE_INFINITY
    await log.append([SAMPLE[4]])
    await log.close()
    const back = await reopenEntries()
    expect(back.problem).toBeUndefined()
    expect(back.entries).toEqual([SAMPLE[0], SAMPLE[4]])
  })

  it('when cutting a torn write back fails, the next append cuts it first (or fails too)', async () => {
    const disk = new FullDisk()
    const { log } = await ConfigLog.open(dir, { openFile: async p => await disk.open(p) })
    await log.append([SAMPLE[0]])
    disk.space = 20
    disk.failTruncates = 2 // the cut after the short write, and the retry before the next append
    await expect(log.append([SAMPLE[1]])).rejects.toMatchObject({ code: 'MURMUR_ERR_STORAGE' })
    disk.space = Number.POSITIVE_INFINITY
    await expect(log.append([SAMPLE[2]])).rejects.toMatchObject({ code: 'MURMUR_ERR_STORAGE' })
    await log.append([SAMPLE[3]])
    await log.close()
    expect(await reopenEntries()).toMatchObject({ entries: [SAMPLE[0], SAMPLE[3]], damaged: 0 })
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

  it('a failed compaction is reported and leaves a valid log; it is retried later', async () => {
    const failures: Error[] = []
    const { log } = await ConfigLog.open(dir, { onCompactionFailed: err => failures.push(err) })
    // The compaction's temp file cannot be created: a directory is in its way.
    await mkdir(`${file}.tmp-${process.pid}`)
    const latest = await overwrite(log, 103)
    await log.append([])
    // The compaction runs after the append is acknowledged: wait for its report.
    for (let i = 0; failures.length === 0 && i < 1000; i++) await new Promise(resolve => setTimeout(resolve, 10))
    await log.close()
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatchObject({ code: 'MURMUR_ERR_STORAGE' })
    const back = await reopenEntries()
    expect(back.problem).toBeUndefined()
    expect(back.entries).toHaveLength(1030)
    expect(newestPerKey(back.entries)).toEqual(byKey(latest))
  })
})
