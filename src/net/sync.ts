// Anti-entropy over a libp2p stream (push-pull, one round trip of digests):
//
//   initiator                               responder
//   digest {members: [id,gen,ctr], buckets} ─►
//                                        ◄─ reply {members newer here, want: ids, buckets: differing}
//                                        ◄─ entries* (our entries in the differing buckets), done
//   members (wanted), entries* (ours in those buckets), done ─►
//
// Equal states cost one digest (512 bytes of bucket hashes plus a line per member) and a tiny
// reply, however many keys there are. Frames are length-prefixed msgpack, each at most
// MAX_MESSAGE_BYTES; entries are split over as many frames as it takes. A side accepts entries
// only in the buckets the exchange named (the responder's differing buckets); anything else, or
// a frame that does not decode, is a SyncGarbage error: the agent counts it and hangs up.
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { compareHeartbeat } from '../core/heartbeat.js'
import { isEntry } from '../core/config.js'
import { BUCKETS, bucketOf, entryBytes, type Entry } from '../core/lww.js'
import { decode, encode, MAX_MESSAGE_BYTES } from './codec.js'
import { wireEntry, type SignedHeartbeat } from './wire.js'

export type MemberVersion = [id: string, generation: number, counter: number]

/** What the sync protocol needs from the agent's state. */
export interface SyncState {
  memberVersions: () => MemberVersion[]
  signedHeartbeat: (id: string) => SignedHeartbeat | undefined
  configDigest: () => Uint32Array
  differingBuckets: (other: ArrayLike<number>) => Set<number>
  entriesIn: (buckets: ReadonlySet<number>) => Entry[]
  applyHeartbeats: (signed: unknown[]) => Promise<void>
  applyEntries: (entries: Entry[]) => Promise<void>
  /** Malformed entries (bad key, value or stamp) that a peer sent were dropped. */
  rejectedEntries?: (count: number) => void
}

export interface SyncStats { sentBytes: number, receivedBytes: number, entriesSent: number, entriesReceived: number }

/** A frame of entries holds at most this many entries, and about FRAME_BYTES of keys and values as JSON. */
const CHUNK = 500
/**
 * msgpack can take more room than JSON (a float is 9 bytes, `0.1` is 3), up to about 3x: a
 * quarter of the frame limit as JSON keeps every frame under it.
 */
const FRAME_BYTES = MAX_MESSAGE_BYTES / 4
const TIMEOUT_MS = 30_000

/** The peer broke the protocol (undecodable frame, wrong type, entries it was not asked for). */
export class SyncGarbage extends Error {
  override readonly name = 'SyncGarbage'
}

/** Entries cut into frames of at most CHUNK entries and about FRAME_BYTES. */
export function frames (entries: readonly Entry[]): Entry[][] {
  const out: Entry[][] = []
  let cur: Entry[] = []
  let bytes = 0
  for (const e of entries) {
    const size = entryBytes(e) + 64
    if (cur.length > 0 && (cur.length >= CHUNK || bytes + size > FRAME_BYTES)) {
      out.push(cur)
      cur = []
      bytes = 0
    }
    cur.push(e)
    bytes += size
  }
  if (cur.length > 0) out.push(cur)
  return out
}

class Framed {
  readonly stats: SyncStats = { sentBytes: 0, receivedBytes: 0, entriesSent: 0, entriesReceived: 0 }
  private readonly lp
  private readonly signal = AbortSignal.timeout(TIMEOUT_MS)
  constructor (stream: Stream) {
    this.lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
  }

  async send (frame: Record<string, unknown>): Promise<void> {
    const bytes = encode(frame)
    this.stats.sentBytes += bytes.byteLength
    await this.lp.write(bytes, { signal: this.signal })
  }

  /** The next frame, decoded; SyncGarbage when it is not a msgpack map or is over the size limit. */
  private async frame (): Promise<Record<string, unknown>> {
    let buf: Uint8Array
    try {
      buf = (await this.lp.read({ signal: this.signal })).subarray()
    } catch (err) {
      if (/^Invalid(Data|Message)Length/.test((err as Error).name)) throw new SyncGarbage(`sync: frame over ${MAX_MESSAGE_BYTES} bytes`)
      throw err
    }
    this.stats.receivedBytes += buf.byteLength
    const f = decode(buf)
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new SyncGarbage('sync: a frame that does not decode')
    return f as Record<string, unknown>
  }

  async recv (type: string): Promise<Record<string, unknown>> {
    const f = await this.frame()
    if (f.t !== type) throw new SyncGarbage(`sync: expected a '${type}' frame`)
    return f
  }

  async sendEntries (entries: Entry[]): Promise<void> {
    for (const chunk of frames(entries)) await this.send({ t: 'entries', entries: chunk.map(wireEntry) })
    this.stats.entriesSent += entries.length
    await this.send({ t: 'done' })
  }

  /**
   * Receive entry frames until 'done'; only well-formed entries in the `asked` buckets are
   * applied, and a peer that sends others is cut off.
   */
  async recvEntries (state: SyncState, asked: ReadonlySet<number>): Promise<void> {
    for (;;) {
      const f = await this.frame()
      if (f.t === 'done') return
      if (f.t !== 'entries' || !Array.isArray(f.entries)) throw new SyncGarbage('sync: expected entries')
      const entries = f.entries.filter(isEntry)
      if (entries.length < f.entries.length) state.rejectedEntries?.(f.entries.length - entries.length)
      if (entries.some(e => !asked.has(bucketOf(e.key)))) throw new SyncGarbage('sync: entries outside the buckets asked for')
      this.stats.entriesReceived += entries.length
      await state.applyEntries(entries)
    }
  }
}

function parseVersions (x: unknown): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>()
  if (!Array.isArray(x)) return out
  for (const v of x) {
    if (Array.isArray(v) && typeof v[0] === 'string' && Number.isSafeInteger(v[1]) && Number.isSafeInteger(v[2])) out.set(v[0], [v[1], v[2]])
  }
  return out
}

function parseBuckets (x: unknown): Uint32Array {
  if (!(x instanceof Uint8Array) || x.byteLength !== BUCKETS * 4) throw new Error('sync: bad digest')
  // Copy: a decoded Buffer is a view into a shared pool, at any byte offset.
  const copy = new Uint8Array(x.byteLength)
  copy.set(x)
  return new Uint32Array(copy.buffer)
}

function signedList (state: SyncState, ids: Iterable<string>): SignedHeartbeat[] {
  const out: SignedHeartbeat[] = []
  for (const id of ids) {
    const s = state.signedHeartbeat(id)
    if (s !== undefined) out.push(s)
  }
  return out
}

export async function initiateSync (stream: Stream, state: SyncState): Promise<SyncStats> {
  const io = new Framed(stream)
  const digest = state.configDigest()
  await io.send({ t: 'digest', members: state.memberVersions(), buckets: new Uint8Array(digest.buffer) })
  const reply = await io.recv('reply')
  if (Array.isArray(reply.members)) await state.applyHeartbeats(reply.members)
  const buckets = new Set(Array.isArray(reply.buckets) ? reply.buckets.filter((b): b is number => Number.isInteger(b) && b >= 0 && b < BUCKETS) : [])
  await io.recvEntries(state, buckets)
  const want = Array.isArray(reply.want) ? reply.want.filter((id): id is string => typeof id === 'string') : []
  await io.send({ t: 'members', members: signedList(state, want) })
  await io.sendEntries(state.entriesIn(buckets))
  await stream.close()
  return io.stats
}

export async function answerSync (stream: Stream, state: SyncState): Promise<SyncStats> {
  const io = new Framed(stream)
  const digest = await io.recv('digest')
  const theirs = parseVersions(digest.members)
  const buckets = state.differingBuckets(parseBuckets(digest.buckets))
  const newerHere: string[] = []
  const want: string[] = []
  const mine = new Set<string>()
  for (const [id, generation, counter] of state.memberVersions()) {
    mine.add(id)
    const t = theirs.get(id)
    const c = t === undefined ? 1 : compareHeartbeat({ generation, counter }, { generation: t[0], counter: t[1] })
    if (c > 0) newerHere.push(id)
    else if (c < 0) want.push(id)
  }
  for (const id of theirs.keys()) if (!mine.has(id)) want.push(id)
  await io.send({ t: 'reply', members: signedList(state, newerHere), want, buckets: [...buckets] })
  await io.sendEntries(state.entriesIn(buckets))
  const members = await io.recv('members')
  if (Array.isArray(members.members)) await state.applyHeartbeats(members.members)
  await io.recvEntries(state, buckets)
  await stream.close()
  return io.stats
}
