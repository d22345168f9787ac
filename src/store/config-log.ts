// The config map on disk: an append-only log of entries, each record framed as
// [u32 length][u32 crc32][msgpack entry]. Appends are group-committed (one write and one
// fdatasync for everything queued), so a write is acknowledged only once it is on disk, and
// kill -9 at any moment leaves at worst a torn last record, which loading detects and drops.
// When the log grows to several times the live data it is rewritten from the map (compaction).
import { open, type FileHandle } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import { join } from 'node:path'
import { isEntry } from '../core/config.js'
import { compareVersion, type Entry } from '../core/lww.js'
import { decode, encode } from '../net/codec.js'
import { readIfExists, storageError, writeFileAtomic } from './files.js'

export interface LoadReport {
  entries: Entry[]
  /** Human-readable description of damage found, if any. */
  problem?: string
}

const HEADER = 8

function frame (e: Entry): Buffer {
  const body = encode(e)
  const out = Buffer.allocUnsafe(HEADER + body.byteLength)
  out.writeUInt32BE(body.byteLength, 0)
  out.writeUInt32BE(crc32(body), 4)
  out.set(body, HEADER)
  return out
}

/** Parse a log image; stops at the first torn or damaged record. */
export function parseLog (buf: Buffer): { entries: Entry[], goodBytes: number } {
  const entries: Entry[] = []
  let off = 0
  while (off + HEADER <= buf.byteLength) {
    const len = buf.readUInt32BE(off)
    const end = off + HEADER + len
    if (end > buf.byteLength) break
    const body = buf.subarray(off + HEADER, end)
    if (crc32(body) !== buf.readUInt32BE(off + 4)) break
    const e = decode(body)
    if (!isEntry(e)) break
    entries.push(e)
    off = end
  }
  return { entries, goodBytes: off }
}

interface Pending { entries: readonly Entry[], bufs: Buffer[], resolve: () => void, reject: (err: Error) => void }

export class ConfigLog {
  private fh: FileHandle | undefined
  private size = 0
  private records = 0
  /** The newest entry per key in the log: what a compaction keeps. */
  private readonly latest = new Map<string, Entry>()
  private queue: Pending[] = []
  private flushScheduled = false
  /** Flushes and compactions run one at a time, in order. */
  private chain: Promise<void> = Promise.resolve()

  private constructor (private readonly path: string) {}

  /** Open (creating if needed) the log in `dataDir` and return what it holds. */
  static async open (dataDir: string): Promise<{ log: ConfigLog, report: LoadReport }> {
    const log = new ConfigLog(join(dataDir, 'config.log'))
    const buf = await readIfExists(log.path) ?? Buffer.alloc(0)
    const { entries, goodBytes } = parseLog(buf)
    const report: LoadReport = { entries }
    if (goodBytes < buf.byteLength) {
      report.problem = `${log.path}: kept ${entries.length} records, dropped ${buf.byteLength - goodBytes} damaged bytes at offset ${goodBytes} (peers will resend what was lost)`
      // Rewrite the good part so new appends do not land behind garbage.
      await writeFileAtomic(log.path, buf.subarray(0, goodBytes))
    }
    try {
      log.fh = await open(log.path, 'a', 0o600)
    } catch (err) {
      throw storageError(`cannot open ${log.path}`, err)
    }
    log.size = goodBytes
    log.records = entries.length
    for (const e of entries) log.remember(e)
    return { log, report }
  }

  get bytes (): number { return this.size }

  /** Append entries; resolves once they are durable. */
  append (entries: readonly Entry[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, bufs: entries.map(frame), resolve, reject })
      if (!this.flushScheduled) {
        this.flushScheduled = true
        this.run(async () => await this.flush())
      }
    })
  }

  /**
   * Rewrite the log with the newest entry per key, leaving out those `forget` picks (collected
   * tombstones). Runs after every append queued before it, so nothing acknowledged is lost.
   */
  compact (forget: (e: Entry) => boolean = () => false): Promise<void> {
    return this.run(async () => {
      for (const [k, e] of this.latest) if (forget(e)) this.latest.delete(k)
      const image = Buffer.concat([...this.latest.values()].map(frame))
      await writeFileAtomic(this.path, image)
      await this.fh?.close()
      this.fh = await open(this.path, 'a', 0o600)
      this.size = image.byteLength
      this.records = this.latest.size
    })
  }

  async close (): Promise<void> {
    await this.run(async () => {
      await this.fh?.close()
      this.fh = undefined
    })
  }

  private run (step: () => Promise<void>): Promise<void> {
    const next = this.chain.then(step)
    this.chain = next.catch(() => {})
    return next
  }

  private remember (e: Entry): void {
    const cur = this.latest.get(e.key)
    if (cur === undefined || compareVersion(e, cur) > 0) this.latest.set(e.key, e)
  }

  private async flush (): Promise<void> {
    this.flushScheduled = false
    const batch = this.queue
    this.queue = []
    if (batch.length === 0) return
    const image = Buffer.concat(batch.flatMap(p => p.bufs))
    try {
      if (this.fh === undefined) throw new Error('log is closed')
      await this.fh.write(image)
      await this.fh.datasync()
      this.size += image.byteLength
      this.records += batch.reduce((n, p) => n + p.bufs.length, 0)
      // Only what is on disk may survive a compaction: a failed append must stay failed.
      for (const p of batch) for (const e of p.entries) this.remember(e)
      for (const p of batch) p.resolve()
    } catch (err) {
      // A short write (disk full) must not leave a torn record that later appends follow.
      await this.fh?.truncate(this.size).catch(() => {})
      const e = storageError('cannot append to the config log', err)
      for (const p of batch) p.reject(e)
      return
    }
    // Rewrite the log once it holds mostly superseded records. Queued behind this flush (not
    // awaited here: that would wait on itself); if it fails the longer log is still valid.
    if (this.records > 2 * this.latest.size + 1000) this.compact().catch(() => {})
  }
}
