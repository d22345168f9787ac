// The config map on disk: an append-only log of entries, each record framed as
// [magic "\xC1mr1"][u32 length][u32 crc32][msgpack entry]. Appends are group-committed (one
// write and one fdatasync for everything queued), so a write is acknowledged only once it is on
// disk in full; a short write (disk full) fails the batch and is cut back off, so the log stays
// a sequence of whole records. kill -9 at any moment leaves at worst a torn last record.
//
// Loading keeps every intact record: a damaged one is skipped by resynchronising on the next
// magic (0xC1 never occurs in msgpack and is not UTF-8; the CRC rejects chance matches), and
// before the damaged file is rewritten without it, the original is kept beside it as
// config.log.corrupt-TIME. Logs of the first format (no magic) are still read.
// When the log grows to several times the live data it is rewritten from the map (compaction).
import { open } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import { join } from 'node:path'
import { isEntry } from '../core/config.js'
import { compareVersion, type Entry } from '../core/lww.js'
import { decode, encode } from '../net/codec.js'
import { readIfExists, storageError, writeFileAtomic } from './files.js'

export interface LoadReport {
  entries: Entry[]
  /** Damaged regions skipped (a torn last record, from a crash mid-write, is not counted). */
  damaged: number
  /** Human-readable description of damage found, if any. */
  problem?: string
}

/** The part of a file handle the log uses (tests substitute one that runs out of space). */
export interface LogFile {
  write: (buf: Uint8Array) => Promise<{ bytesWritten: number }>
  datasync: () => Promise<void>
  truncate: (len: number) => Promise<void>
  close: () => Promise<void>
}

export interface LogOptions {
  /** Opens the log for appending. */
  openFile?: (path: string) => Promise<LogFile>
  /** A compaction failed (the longer log is still valid; it is retried after more appends). */
  onCompactionFailed?: (err: Error) => void
}

const MAGIC = Buffer.from([0xc1, 0x6d, 0x72, 0x31])
const HEADER = 12
const V1_HEADER = 8
/** No valid record is larger (512-byte key, 64 KiB value, stamp, origin): bounds a resync scan. */
const MAX_RECORD_BODY = 256 * 1024
/** After a failed compaction, wait for this many more records before trying again. */
const COMPACTION_RETRY_RECORDS = 1000

function frame (e: Entry): Buffer {
  const body = encode(e)
  const out = Buffer.allocUnsafe(HEADER + body.byteLength)
  out.set(MAGIC, 0)
  out.writeUInt32BE(body.byteLength, 4)
  out.writeUInt32BE(crc32(body), 8)
  out.set(body, HEADER)
  return out
}

type Probe =
  | { kind: 'entry', entry: Entry, end: number, v2: boolean }
  | { kind: 'invalid', end: number } // intact framing, but not an entry we accept
  | { kind: 'incomplete' } // the header promises more bytes than the file has
  | { kind: 'bad' }

/** What is at `off`: a record of either format, or not. */
function probe (buf: Buffer, off: number, v1: boolean): Probe {
  const left = buf.byteLength - off
  const v2 = buf[off] === MAGIC[0]
  if (v2) {
    if (left < HEADER) return buf.compare(MAGIC, 0, Math.min(left, 4), off, off + Math.min(left, 4)) === 0 ? { kind: 'incomplete' } : { kind: 'bad' }
    if (buf.compare(MAGIC, 0, 4, off, off + 4) !== 0) return { kind: 'bad' }
  } else if (!v1 || left < V1_HEADER) {
    return v1 && left < V1_HEADER ? { kind: 'incomplete' } : { kind: 'bad' }
  }
  const head = v2 ? HEADER : V1_HEADER
  const lenAt = v2 ? off + 4 : off
  const len = buf.readUInt32BE(lenAt)
  if (len === 0 || len > MAX_RECORD_BODY) return { kind: 'bad' }
  const end = off + head + len
  if (end > buf.byteLength) return { kind: 'incomplete' }
  const body = buf.subarray(off + head, end)
  if (crc32(body) !== buf.readUInt32BE(lenAt + 4)) return { kind: 'bad' }
  const e = decode(body)
  return isEntry(e) ? { kind: 'entry', entry: e, end, v2 } : { kind: 'invalid', end }
}

/** The next offset after `from` where a record starts (or the end of the image). */
function resync (buf: Buffer, from: number, v1: boolean): number {
  if (!v1) {
    for (let at = buf.indexOf(MAGIC[0], from); at >= 0; at = buf.indexOf(MAGIC[0], at + 1)) {
      const p = probe(buf, at, false)
      if (p.kind === 'entry' || p.kind === 'invalid') return at
    }
    return buf.byteLength
  }
  // First-format records carry no marker: try every offset (their length bound keeps it cheap).
  for (let at = from; at < buf.byteLength; at++) {
    const p = probe(buf, at, true)
    if (p.kind === 'entry' || p.kind === 'invalid') return at
  }
  return buf.byteLength
}

export interface Skipped { offset: number, bytes: number, torn: boolean }

/**
 * Parse a log image. Damaged or unacceptable records are skipped and listed; `torn` marks an
 * incomplete record at the very end (a write cut short), which was never acknowledged.
 */
export function parseLog (buf: Buffer): { entries: Entry[], skipped: Skipped[] } {
  const entries: Entry[] = []
  const skipped: Skipped[] = []
  // Once a new-format record is seen the rest is new format too (appends and compactions
  // write only that): from then on a resync looks for the magic only.
  let v1 = true
  let off = 0
  while (off < buf.byteLength) {
    const p = probe(buf, off, v1)
    if (p.kind === 'entry') {
      entries.push(p.entry)
      if (p.v2) v1 = false
      off = p.end
      continue
    }
    const next = p.kind === 'invalid' ? p.end : resync(buf, off + 1, v1)
    skipped.push({ offset: off, bytes: next - off, torn: p.kind === 'incomplete' && next === buf.byteLength })
    off = next
  }
  return { entries, skipped }
}

/** The image without the skipped regions. */
function withoutSkipped (buf: Buffer, skipped: Skipped[]): Buffer {
  const parts: Buffer[] = []
  let off = 0
  for (const s of skipped) {
    parts.push(buf.subarray(off, s.offset))
    off = s.offset + s.bytes
  }
  parts.push(buf.subarray(off))
  return Buffer.concat(parts)
}

interface Pending { entries: readonly Entry[], bufs: Buffer[], resolve: () => void, reject: (err: Error) => void }

async function openAppend (path: string): Promise<LogFile> {
  return await open(path, 'a', 0o600)
}

export class ConfigLog {
  private fh: LogFile | undefined
  private size = 0
  private records = 0
  /** Bytes past `size` may be on disk (a failed write whose cut-back failed too). */
  private dirty = false
  private retryCompactionAt = 0
  /** The newest entry per key in the log: what a compaction keeps. */
  private readonly latest = new Map<string, Entry>()
  private queue: Pending[] = []
  private flushScheduled = false
  /** Flushes and compactions run one at a time, in order. */
  private chain: Promise<void> = Promise.resolve()

  private constructor (private readonly path: string, private readonly opts: LogOptions) {}

  /** Open (creating if needed) the log in `dataDir` and return what it holds. */
  static async open (dataDir: string, opts: LogOptions = {}): Promise<{ log: ConfigLog, report: LoadReport }> {
    const log = new ConfigLog(join(dataDir, 'config.log'), opts)
    const buf = await readIfExists(log.path) ?? Buffer.alloc(0)
    const { entries, skipped } = parseLog(buf)
    const damage = skipped.filter(s => !s.torn)
    const report: LoadReport = { entries, damaged: damage.length }
    let size = buf.byteLength
    if (skipped.length > 0) {
      const where = skipped.map(s => `dropped ${s.bytes} damaged bytes at offset ${s.offset}${s.torn ? ' (a write cut short)' : ''}`).join(', ')
      report.problem = `${log.path}: ${where}; kept ${entries.length} records (peers will resend what was lost)`
      // Keep the original before rewriting it smaller, unless all that goes is a torn write.
      if (damage.length > 0) {
        const copy = `${log.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`
        await writeFileAtomic(copy, buf)
        report.problem += `; the original is kept as ${copy}`
      }
      // Rewrite the intact records so new appends do not land behind garbage.
      const clean = withoutSkipped(buf, skipped)
      await writeFileAtomic(log.path, clean)
      size = clean.byteLength
    }
    try {
      log.fh = await (opts.openFile ?? openAppend)(log.path)
    } catch (err) {
      throw storageError(`cannot open ${log.path}`, err)
    }
    log.size = size
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
      this.fh = await (this.opts.openFile ?? openAppend)(this.path)
      this.size = image.byteLength
      this.records = this.latest.size
      this.dirty = false
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

  /** Write all of `image` (a short write continues; one that writes nothing is disk full). */
  private async writeAll (fh: LogFile, image: Buffer): Promise<void> {
    for (let off = 0; off < image.byteLength;) {
      const { bytesWritten } = await fh.write(image.subarray(off))
      if (bytesWritten <= 0) throw Object.assign(new Error(`short write: ${off} of ${image.byteLength} bytes`), { code: 'ENOSPC' })
      off += bytesWritten
    }
  }

  private async flush (): Promise<void> {
    this.flushScheduled = false
    const batch = this.queue
    this.queue = []
    if (batch.length === 0) return
    const image = Buffer.concat(batch.flatMap(p => p.bufs))
    try {
      if (this.fh === undefined) throw new Error('log is closed')
      // A torn write from a failed append that could not be cut back goes first.
      if (this.dirty) {
        await this.fh.truncate(this.size)
        this.dirty = false
      }
      await this.writeAll(this.fh, image)
      await this.fh.datasync()
      this.size += image.byteLength
      this.records += batch.reduce((n, p) => n + p.bufs.length, 0)
      // Only what is on disk may survive a compaction: a failed append must stay failed.
      for (const p of batch) for (const e of p.entries) this.remember(e)
      for (const p of batch) p.resolve()
    } catch (err) {
      // Cut a partly written batch back off: later appends must follow whole records. If that
      // fails as well, the next append tries again first (and loading would skip the torn part).
      this.dirty = true
      await this.fh?.truncate(this.size).then(() => { this.dirty = false }, () => {})
      const e = storageError('cannot append to the config log', err)
      for (const p of batch) p.reject(e)
      return
    }
    // Rewrite the log once it holds mostly superseded records. Queued behind this flush (not
    // awaited here: that would wait on itself); if it fails the longer log is still valid.
    if (this.records > 2 * this.latest.size + 1000 && this.records >= this.retryCompactionAt) {
      this.compact().catch((err: Error) => {
        this.retryCompactionAt = this.records + COMPACTION_RETRY_RECORDS
        this.opts.onCompactionFailed?.(storageError('cannot compact the config log', err))
      })
    }
  }
}
