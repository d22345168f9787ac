// A minimal client of Serf's RPC protocol (msgpack over TCP, as `serf members` and friends use):
// handshake, members, event, tags, leave and stream. The bench uses it instead of spawning the
// serf CLI per poll, so observing 20 agents costs no process starts, and `stream` delivers
// user and member events the moment the agent has them (what an event handler would see).
//
// Wire format: every request is a header {Command, Seq} optionally followed by a body; every
// response is a header {Seq, Error} optionally followed by a body. Whether a body follows is
// known from the command; a stream answers once with a bare header, then with header + body per
// event.
import { connect, type Socket } from 'node:net'
import { Packr, UnpackrStream } from 'msgpackr'

export interface SerfMember {
  Name: string
  Addr: Uint8Array
  Port: number
  Tags: Record<string, string>
  Status: string
}

export interface SerfEvent {
  Event: string
  /** user events */
  Name?: string
  Payload?: Uint8Array
  LTime?: number
  /** member events */
  Members?: SerfMember[]
}

interface Pending {
  body: boolean
  resolve: (v: unknown) => void
  reject: (e: Error) => void
}

const packr = new Packr({ useRecords: false, variableMapSize: true })

export class SerfRpc {
  private seq = 0
  private readonly pending = new Map<number, Pending>()
  private readonly streams = new Map<number, { acked: boolean, onEvent: (e: SerfEvent, at: number) => void }>()
  /** A header whose body is still to come. */
  private awaiting: { seq: number, error: string } | undefined
  private closedErr: Error | undefined

  private constructor (private readonly sock: Socket) {
    const unpack = new UnpackrStream({ mapsAsObjects: true, useRecords: false } as any)
    sock.pipe(unpack)
    unpack.on('data', (v: unknown) => this.onValue(v as Record<string, unknown>))
    unpack.on('error', (e: Error) => this.fail(e))
    sock.on('error', (e: Error) => this.fail(e))
    sock.on('close', () => this.fail(new Error('serf rpc connection closed')))
  }

  /** Connect and handshake, retrying until `timeoutMs` (the agent may still be starting). */
  static async connect (addr: string, timeoutMs = 15_000): Promise<SerfRpc> {
    const [host, port] = splitHostPort(addr)
    const deadline = Date.now() + timeoutMs
    let last: Error | undefined
    while (Date.now() < deadline) {
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect({ host, port })
          s.once('connect', () => { s.off('error', reject); resolve(s) })
          s.once('error', reject)
        })
        sock.setNoDelay(true)
        const rpc = new SerfRpc(sock)
        await rpc.call('handshake', { Version: 1 }, false)
        return rpc
      } catch (err) {
        last = err as Error
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
    throw new Error(`serf rpc at ${addr} did not answer within ${timeoutMs} ms: ${last?.message ?? ''}`)
  }

  async members (): Promise<SerfMember[]> {
    return ((await this.call('members', undefined, true)) as { Members: SerfMember[] }).Members
  }

  async event (name: string, payload: string, coalesce = false): Promise<void> {
    await this.call('event', { Name: name, Payload: Buffer.from(payload), Coalesce: coalesce }, false)
  }

  async tags (tags: Record<string, string>, del: string[] = []): Promise<void> {
    await this.call('tags', { Tags: tags, DeleteTags: del }, false)
  }

  async leave (): Promise<void> {
    await this.call('leave', undefined, false)
  }

  /** Subscribe to events, e.g. 'user,member-join,member-failed'; `at` is performance.now() on arrival. */
  async stream (type: string, onEvent: (e: SerfEvent, at: number) => void): Promise<void> {
    const seq = this.seq++
    this.streams.set(seq, { acked: false, onEvent })
    await new Promise((resolve, reject) => {
      this.pending.set(seq, { body: false, resolve, reject })
      this.write({ Command: 'stream', Seq: seq }, { Type: type })
    })
  }

  close (): void {
    this.closedErr ??= new Error('serf rpc closed')
    this.sock.destroy()
  }

  private async call (command: string, body: unknown, wantBody: boolean): Promise<unknown> {
    if (this.closedErr !== undefined) throw this.closedErr
    const seq = this.seq++
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq)
        reject(new Error(`serf rpc ${command} timed out`))
      }, 15_000)
      this.pending.set(seq, {
        body: wantBody,
        resolve: v => { clearTimeout(timer); resolve(v) },
        reject: e => { clearTimeout(timer); reject(e) }
      })
      this.write({ Command: command, Seq: seq }, body)
    })
  }

  private write (header: unknown, body: unknown): void {
    const parts = [packr.pack(header)]
    if (body !== undefined) parts.push(packr.pack(body))
    this.sock.write(Buffer.concat(parts))
  }

  private onValue (v: Record<string, unknown>): void {
    const at = performance.now()
    if (this.awaiting !== undefined) {
      const { seq, error } = this.awaiting
      this.awaiting = undefined
      const s = this.streams.get(seq)
      if (s !== undefined) { if (error === '') s.onEvent(v as unknown as SerfEvent, at); return }
      const p = this.pending.get(seq)
      this.pending.delete(seq)
      if (error !== '') p?.reject(new Error(`serf rpc: ${error}`))
      else p?.resolve(v)
      return
    }
    const seq = Number(v.Seq)
    const error = String(v.Error ?? '')
    const s = this.streams.get(seq)
    if (s !== undefined) {
      if (!s.acked) {
        s.acked = true
        const p = this.pending.get(seq)
        this.pending.delete(seq)
        if (error !== '') { this.streams.delete(seq); p?.reject(new Error(`serf rpc: ${error}`)) } else p?.resolve(undefined)
        return
      }
      this.awaiting = { seq, error }
      return
    }
    const p = this.pending.get(seq)
    if (p === undefined) return
    if (p.body && error === '') { this.awaiting = { seq, error }; return }
    this.pending.delete(seq)
    if (error !== '') p.reject(new Error(`serf rpc: ${error}`))
    else p.resolve(undefined)
  }

  private fail (e: Error): void {
    this.closedErr ??= e
    for (const p of this.pending.values()) p.reject(this.closedErr)
    this.pending.clear()
  }
}

export function splitHostPort (addr: string): [string, number] {
  const i = addr.lastIndexOf(':')
  return [addr.slice(0, i).replace(/^\[|\]$/g, ''), Number(addr.slice(i + 1))]
}
