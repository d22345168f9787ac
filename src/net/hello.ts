// "Who listens at this address?" by one datagram each way. A joiner knows its contact's address
// (--join HOST:PORT), not its peer id; libp2p learns the id by dialling: TCP, a Noise handshake,
// yamux, identify. With every agent of a cluster starting at once that was most of what the
// contact did while they joined, one joiner after another (issue 10). A hello costs the contact
// one signature check and one answer, tagged under the key of the pair (pair-keys.ts); the
// joiner then pushes its state to the peer id the answer came from, in datagrams like the rest
// of membership.
//
// Wire (the payload of a HELLO_CHANNEL datagram, see datagram.ts): [kind][nonce, 8 bytes].
// The question names no recipient; the answer names the asker and echoes its nonce, so an
// answer nobody asked for (a replay, a stray) is dropped.
import { randomBytes } from 'node:crypto'
import { HELLO_CHANNEL, type DatagramSocket, type UdpAddress } from './datagram.js'

const ASK = 1
const ANSWER = 2
const NONCE_BYTES = 8
const FIRST_RESEND_MS = 250
const MAX_RESEND_MS = 1000

export interface Greeting { peer: string, address: UdpAddress }

export class Hellos {
  /** Questions waiting for their answer, by nonce (hex). */
  private readonly pending = new Map<string, (g: Greeting) => void>()

  constructor (private readonly socket: DatagramSocket) {}

  /**
   * Ask who listens at `address`; undefined when nobody answered before `signal` aborted, or
   * nothing listens on that UDP port (the host answered "port unreachable": an agent with
   * --no-udp, or none started yet). The question is sent again, 250 ms after the first, then at
   * doubling gaps up to a second: an agent too busy to answer at once, or a lost datagram, does
   * not cost a retry period. The first question also goes from a socket of its own connected
   * to `address`, the only kind Linux tells of a refusal (its answer is dropped there).
   */
  async ask (address: UdpAddress, signal: AbortSignal): Promise<Greeting | undefined> {
    const nonce = randomBytes(NONCE_BYTES)
    const key = nonce.toString('hex')
    const question = Buffer.concat([Buffer.of(ASK), nonce])
    return await new Promise(resolve => {
      let timer: NodeJS.Timeout | undefined
      const done = (g: Greeting | undefined): void => {
        this.pending.delete(key)
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        resolve(g)
      }
      const onAbort = (): void => done(undefined)
      const send = (gapMs: number): void => {
        if (!this.socket.send('', address, HELLO_CHANNEL, question)) return done(undefined)
        timer = setTimeout(() => send(Math.min(2 * gapMs, MAX_RESEND_MS)), gapMs)
      }
      if (signal.aborted) return done(undefined)
      signal.addEventListener('abort', onAbort)
      this.pending.set(key, done)
      this.socket.send('', address, HELLO_CHANNEL, question, () => done(undefined))
      send(FIRST_RESEND_MS)
    })
  }

  /** A hello datagram from `from` (its signature or tag checked) that came from `source`. */
  receive (from: string, payload: Uint8Array, source: UdpAddress): void {
    if (payload.byteLength !== 1 + NONCE_BYTES) return
    const nonce = payload.subarray(1)
    if (payload[0] === ASK) this.socket.send(from, source, HELLO_CHANNEL, Buffer.concat([Buffer.of(ANSWER), nonce]))
    else if (payload[0] === ANSWER) this.pending.get(Buffer.from(nonce).toString('hex'))?.({ peer: from, address: source })
  }
}
