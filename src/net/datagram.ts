// Membership packets as UDP datagrams, the way hashicorp/memberlist sends them. Over libp2p every
// probe and ack took a yamux frame inside a Noise frame on a TCP connection that had to be
// dialled and upgraded first: measured on idle and joining agents (issue 10), that stack was
// most of an agent's CPU, and probing round-robin made every agent dial every other one. A
// datagram costs one sendto and needs no connection.
//
// What libp2p gave, a datagram keeps:
// - the sender's identity: every datagram names its sender and recipient and carries an HMAC
//   under the key of that pair of agents (pair-keys.ts), which only those two can compute, so
//   it cannot be forged, nor replayed to another agent;
// - the cluster key: with one, the datagram is sealed with AES-256-GCM under a key derived
//   from it, so a host without the key can neither read membership nor inject any;
// - --allow: datagrams from other addresses are dropped.
// Replays to the same agent are harmless: packets carry sequence numbers and versioned records.
// One exception to "names its recipient": a joiner knows its contact's address, not its peer id,
// so a hello (HELLO_CHANNEL) may name nobody. With no recipient there is no pair key: a hello
// is signed with the sender's Ed25519 peer key instead, as every datagram was before pair keys
// (a signature cost 36 µs to make and 108 µs to check here, an HMAC a few µs). A hello only
// asks "who are you?": the answer is a datagram as small as the question, so a replayed hello
// gets nothing but that answer.
//
// Wire: [version][channel][from length][from][to length][to][payload][authenticator], where
// version 2 is a pair HMAC of 16 bytes and version 1 an Ed25519 signature of 64 (hellos, and
// any peer id without an Ed25519 key), then with a cluster key: [nonce, 12][ciphertext][GCM tag, 16].
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'
import type { AddressCheck } from './allow.js'
import { MAC_BYTES } from './pair-keys.js'

const SIGNED = 1
const TAGGED = 2
const SIG_BYTES = 64
const NONCE_BYTES = 12
const TAG_BYTES = 16

/**
 * The largest datagram sent: an Ethernet MTU less the IPv6 and UDP headers, so nothing is
 * fragmented on a LAN. Bigger messages (push-pull of the full state) take the stream.
 */
export const MAX_DATAGRAM_BYTES = 1452

export interface DatagramCrypto {
  /** Sign with this agent's peer key. */
  sign: (bytes: Uint8Array) => Uint8Array
  /** Check a signature by `peer` (its public key is in its peer id). */
  verify: (peer: string, bytes: Uint8Array, sig: Uint8Array) => boolean
  /** The HMAC tag of `bytes` under the key this agent shares with `peer` (PairKeys); undefined when there is none. */
  tag: (peer: string, bytes: Uint8Array) => Uint8Array | undefined
  /** Whether `tag` is that of `bytes` under the key shared with `peer`. */
  check: (peer: string, bytes: Uint8Array, tag: Uint8Array) => boolean
}

export interface DatagramOptions {
  self: string
  crypto: DatagramCrypto
  /** The cluster key's bytes (the swarm key file): seal every datagram with a key derived from it. */
  psk?: Uint8Array
  allow?: AddressCheck
  /** A datagram was dropped: from an address outside --allow, or malformed, unsealable, unsigned. */
  refused?: (why: 'denied' | 'bad', from: string) => void
}

/**
 * The channel of hellos (see above), apart from the transport's channels (which count up
 * from 0): the only one whose datagrams may name no recipient.
 */
export const HELLO_CHANNEL = 255

/** `source`: the address it came from (a hello is answered there). */
export type DatagramHandler = (channel: number, from: string, payload: Uint8Array, source: UdpAddress) => void

export interface UdpAddress { host: string, port: number }

/**
 * Whether a payload can fit one datagram with the sender's and the recipient's peer ids of
 * these byte lengths in its header, the shortest authenticator and, `sealed`, the cluster
 * key's nonce and tag. (A signed datagram, for a peer without a pair key, takes 48 bytes
 * more; send checks that once it knows.)
 */
export function fitsDatagram (selfIdBytes: number, toIdBytes: number, payloadBytes: number, sealed = false): boolean {
  return 4 + selfIdBytes + toIdBytes + payloadBytes + MAC_BYTES + (sealed ? NONCE_BYTES + TAG_BYTES : 0) <= MAX_DATAGRAM_BYTES
}

/**
 * The socket type for a bind address: only an IPv6 literal holds a colon (a name or an IPv4
 * address gets udp4). Not net.isIPv6: its regular expression takes 3 ms to build at an agent's
 * start and 0.9 ms per call on an IPv4 address (Node 20 and 22), once per watched probe.
 */
function udpType (host: string): 'udp4' | 'udp6' {
  return host.includes(':') ? 'udp6' : 'udp4'
}

export class DatagramSocket {
  readonly counters = { out: 0, in: 0, bytesOut: 0, bytesIn: 0 }
  private socket: Socket | undefined
  private readonly key: Buffer | undefined
  private readonly selfBytes: Buffer
  private bound: UdpAddress | undefined
  private watchers: Watchers | undefined
  /** GCM nonces: a random prefix per process and a counter, so no two datagrams share one. */
  private noncePrefix = randomBytes(NONCE_BYTES - 4)
  private nonceCount = 0

  private onMessage: DatagramHandler = () => {}

  constructor (private readonly opts: DatagramOptions) {
    this.selfBytes = Buffer.from(opts.self, 'utf8')
    this.key = opts.psk === undefined ? undefined : Buffer.from(hkdfSync('sha256', opts.psk, Buffer.alloc(0), 'murmur membership datagrams v1', 32))
  }

  /** Bind host:port; resolves to false (and stays unbound) when the port cannot be had. */
  async bind (host: string, port: number): Promise<boolean> {
    const socket = createSocket({ type: udpType(host), reuseAddr: false })
    const ok = await new Promise<boolean>(resolve => {
      socket.once('error', () => resolve(false))
      socket.bind(port, host, () => resolve(true))
    })
    if (!ok) {
      socket.close()
      return false
    }
    socket.on('error', () => {})
    grow(socket)
    socket.on('message', (msg, rinfo) => this.receive(msg, { host: rinfo.address, port: rinfo.port }))
    this.socket = socket
    this.bound = { host, port: socket.address().port }
    this.watchers = new Watchers(host)
    return true
  }

  get address (): UdpAddress | undefined { return this.bound }

  /** Where verified datagrams go (those that arrive before this is called are dropped). */
  listen (handler: DatagramHandler): void {
    this.onMessage = handler
  }

  close (): void {
    this.socket?.close()
    this.socket = undefined
    this.watchers?.close()
    this.watchers = undefined
  }

  /**
   * Send `payload` to `to` at `addr` (`to` '': to whoever is there, on HELLO_CHANNEL only);
   * false when it does not fit in one datagram (or unbound).
   * `refused`: called if the host at `addr` answers that nothing listens on that port (ICMP
   * port unreachable: the agent's process is gone). Linux reports that only on a connected
   * socket, so such a datagram goes out from a socket connected to `addr` for the wait
   * (Watchers); replies still come to the bound socket (they go to the address we advertise).
   */
  send (to: string, addr: UdpAddress, channel: number, payload: Uint8Array, refused?: () => void): boolean {
    if (this.socket === undefined || this.bound === undefined) return false
    const toBytes = Buffer.from(to, 'utf8')
    const head = 4 + this.selfBytes.length + toBytes.length
    const sealing = this.key === undefined ? 0 : NONCE_BYTES + TAG_BYTES
    // Too big even with the shortest authenticator: refused before any crypto. The exact size
    // is checked below, once it is known whether a tag or a signature goes.
    if (!fitsDatagram(this.selfBytes.length, toBytes.length, payload.byteLength, sealing > 0) || this.selfBytes.length > 255 || toBytes.length > 255) return false
    const plain = Buffer.allocUnsafe(head + payload.byteLength + SIG_BYTES)
    plain[0] = to === '' ? SIGNED : TAGGED
    plain[1] = channel
    plain[2] = this.selfBytes.length
    this.selfBytes.copy(plain, 3)
    plain[3 + this.selfBytes.length] = toBytes.length
    toBytes.copy(plain, 4 + this.selfBytes.length)
    plain.set(payload, head)
    const body = plain.subarray(0, head + payload.byteLength)
    const tag = to === '' ? undefined : this.opts.crypto.tag(to, body)
    // No pair key with the recipient (an id without an Ed25519 key): signed, as a hello is.
    if (tag === undefined) plain[0] = SIGNED
    const auth = tag ?? this.opts.crypto.sign(body)
    const end = body.length + auth.byteLength
    if (end + sealing > MAX_DATAGRAM_BYTES) return false
    plain.set(auth, body.length)
    const wire = this.key === undefined ? plain.subarray(0, end) : sealed(this.key, this.nonce(), plain.subarray(0, end))
    if (refused === undefined || this.watchers === undefined) this.socket.send(wire, addr.port, addr.host)
    else this.watchers.send(addr, wire, refused)
    this.counters.out++
    this.counters.bytesOut += wire.length
    return true
  }

  private nonce (): Buffer {
    if (this.nonceCount === 0xffffffff) {
      this.noncePrefix = randomBytes(NONCE_BYTES - 4)
      this.nonceCount = 0
    }
    const n = Buffer.allocUnsafe(NONCE_BYTES)
    this.noncePrefix.copy(n)
    n.writeUInt32BE(this.nonceCount++, NONCE_BYTES - 4)
    return n
  }

  private receive (msg: Buffer, source: UdpAddress): void {
    if (this.opts.allow !== undefined && !this.opts.allow(source.host)) {
      this.opts.refused?.('denied', source.host)
      return
    }
    const plain = this.key === undefined ? msg : open(this.key, msg)
    const parsed = plain === undefined ? undefined : parse(plain)
    const addressed = parsed !== undefined && (parsed.to === this.opts.self || (parsed.to === '' && parsed.channel === HELLO_CHANNEL && !parsed.tagged))
    if (!addressed || !(parsed.tagged
      ? this.opts.crypto.check(parsed.from, parsed.body, parsed.auth)
      : this.opts.crypto.verify(parsed.from, parsed.body, parsed.auth))) {
      this.opts.refused?.('bad', source.host)
      return
    }
    this.counters.in++
    this.counters.bytesIn += msg.length
    this.onMessage(parsed.channel, parsed.from, parsed.payload, source)
  }
}

/**
 * The receive buffer asked for: a push-pull of the full state arrives as up to
 * MAX_STATE_DATAGRAMS (core/swim.ts) datagrams back to back, beside the probes of others, and
 * Linux's default (208 KiB, ~90 datagrams of this size counting the kernel's overhead) drops the
 * rest when the agent is busy. memberlist asks for 2 MiB too.
 */
const RECV_BUFFER_BYTES = 2 * 1024 * 1024

/** Ask for RECV_BUFFER_BYTES; the kernel caps it at net.core.rmem_max, and a refusal keeps the default. */
function grow (socket: Socket): void {
  try {
    if (socket.getRecvBufferSize() < RECV_BUFFER_BYTES) socket.setRecvBufferSize(RECV_BUFFER_BYTES)
  } catch {}
}

/** How long a watched datagram's socket waits for a refusal: a live host answers within a round trip. */
const REFUSAL_WAIT_MS = 1000
/** Watch sockets kept for reuse when none is waiting (probes come one a second; relays add a few). */
const WATCHERS_KEPT = 4

interface Watcher {
  socket: Socket
  bound: boolean
  /** Counts the socket's uses: callbacks of an earlier use find it moved on. */
  use: number
  refused?: () => void
  timer?: NodeJS.Timeout
}

/**
 * The sockets of watched datagrams (see DatagramSocket.send). Each is connected to one
 * datagram's address for REFUSAL_WAIT_MS, then disconnected and kept for the next one: a
 * socket made for each datagram (created, bound, connected, closed) cost about 0.5 ms of CPU
 * more, and every agent sends one a second (its probe), a twentieth of an idle agent's CPU.
 */
class Watchers {
  private readonly kept: Watcher[] = []
  private readonly waiting = new Set<Watcher>()

  constructor (private readonly host: string) {}

  send (addr: UdpAddress, wire: Buffer, refused: () => void): void {
    const w = this.kept.pop() ?? this.create()
    const use = ++w.use
    w.refused = refused
    w.timer = setTimeout(() => { this.release(w) }, REFUSAL_WAIT_MS)
    this.waiting.add(w)
    const connect = (): void => {
      if (w.use !== use) return
      try {
        w.socket.connect(addr.port, addr.host, () => {
          if (w.use === use) w.socket.send(wire)
        })
      } catch {
        // An address Node refuses outright (a bad port): nothing was sent, nothing to watch.
        this.discard(w)
      }
    }
    if (w.bound) connect()
    else {
      w.socket.bind(0, this.host, () => {
        w.bound = true
        connect()
      })
    }
  }

  close (): void {
    for (const w of [...this.kept, ...this.waiting]) this.discard(w)
  }

  private create (): Watcher {
    const w: Watcher = { socket: createSocket({ type: udpType(this.host) }), bound: false, use: 0 }
    w.socket.on('error', (err: NodeJS.ErrnoException) => {
      const refused = w.refused
      if (err.code === 'ECONNREFUSED' && refused !== undefined) {
        this.release(w)
        refused()
      } else this.discard(w)
    })
    // Nothing is read from it: datagrams from the peer go to the agent's bound socket.
    w.socket.on('message', () => {})
    return w
  }

  /** The wait is over (or the refusal came): disconnect the socket and keep it. */
  private release (w: Watcher): void {
    if (!this.waiting.delete(w)) return
    endUse(w)
    try {
      w.socket.disconnect()
    } catch {
      // Not connected yet (its bind or address lookup is still pending): not reusable.
      this.discard(w)
      return
    }
    if (this.kept.length < WATCHERS_KEPT) this.kept.push(w)
    else w.socket.close()
  }

  private discard (w: Watcher): void {
    this.waiting.delete(w)
    const i = this.kept.indexOf(w)
    if (i >= 0) this.kept.splice(i, 1)
    endUse(w)
    try { w.socket.close() } catch {}
  }
}

/** The watcher's current use is over: its timer and refusal callback go, late callbacks find it moved on. */
function endUse (w: Watcher): void {
  clearTimeout(w.timer)
  w.refused = undefined
  w.use++
}

interface Parsed { channel: number, from: string, to: string, payload: Uint8Array, tagged: boolean, body: Uint8Array, auth: Uint8Array }

function parse (b: Buffer): Parsed | undefined {
  const tagged = b[0] === TAGGED
  if (!tagged && b[0] !== SIGNED) return undefined
  const authAt = b.length - (tagged ? MAC_BYTES : SIG_BYTES)
  if (authAt < 4) return undefined
  const fromEnd = 3 + b[2]
  if (fromEnd + 1 > authAt) return undefined
  const toEnd = fromEnd + 1 + b[fromEnd]
  if (toEnd > authAt || b[2] === 0) return undefined
  return {
    channel: b[1],
    from: b.toString('utf8', 3, fromEnd),
    to: b.toString('utf8', fromEnd + 1, toEnd),
    payload: b.subarray(toEnd, authAt),
    tagged,
    body: b.subarray(0, authAt),
    auth: b.subarray(authAt)
  }
}

function sealed (key: Buffer, nonce: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, nonce)
  const body = c.update(plain)
  c.final()
  return Buffer.concat([nonce, body, c.getAuthTag()])
}

function open (key: Buffer, wire: Buffer): Buffer | undefined {
  if (wire.length < NONCE_BYTES + TAG_BYTES) return undefined
  try {
    const d = createDecipheriv('aes-256-gcm', key, wire.subarray(0, NONCE_BYTES))
    d.setAuthTag(wire.subarray(wire.length - TAG_BYTES))
    const body = d.update(wire.subarray(NONCE_BYTES, wire.length - TAG_BYTES))
    d.final()
    return body
  } catch {
    return undefined
  }
}
