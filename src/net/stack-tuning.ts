// Two fixes to the libp2p stack's per-message cost, measured on an idle agent (issue 10): socket
// writes were a quarter of its CPU, and a membership message cost four of them.
//
// 1. yamux (@libp2p/yamux 8) answers every data frame it receives with a window update, so each
//    message costs the receiver a frame back. hashicorp/yamux and go-yamux send one only once
//    half the receive window is used up (or a flag is due); so does this.
// 2. The TCP connection writes each buffer of a send separately (one syscall each), and Noise
//    hands it every frame as two buffers: its length and its ciphertext. On loopback each write
//    also runs the receiver's side of the kernel, so one write per send halves that cost.
//
// Both are applied once, to the classes' prototypes, and only when the methods look as
// expected: a libp2p upgrade that changes them leaves them unpatched, which costs CPU but
// nothing else (bench/scale.ts shows it).
import type { Connection } from '@libp2p/interface'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

interface WindowFields { state: StreamState, recvWindow: number, recvWindowCapacity: number }

let yamuxPatched = false

/** Window updates only when at least half the receive window is consumed, or a flag is due. */
export function patchYamuxWindowUpdates (): boolean {
  if (yamuxPatched) return true
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate?: () => void }
  const original = proto.sendWindowUpdate
  if (typeof original !== 'function') return false
  proto.sendWindowUpdate = function (this: WindowFields) {
    // Init and SYNReceived owe the peer a SYN or an ACK flag; Paused is the original's business.
    const flagDue = this.state === StreamState.Init || this.state === StreamState.SYNReceived
    if (!flagDue && this.state !== StreamState.Paused && this.recvWindowCapacity > this.recvWindow / 2) return
    original.call(this)
  }
  yamuxPatched = true
  return true
}

interface ByteList { byteLength: number, subarray: () => Uint8Array }
interface SocketConn { socket?: { write: (b: Uint8Array) => boolean }, sendData?: (data: ByteList) => { sentBytes: number, canSendMore: boolean } }

const tcpPatched = new WeakSet<object>()

/**
 * One socket write per send on a TCP connection's class (found from a live connection: the
 * class is internal to @libp2p/tcp). Idempotent; false when the connection does not look like
 * @libp2p/tcp's.
 */
export function patchTcpWrites (conn: Connection): boolean {
  const raw = (conn as unknown as { maConn?: SocketConn }).maConn
  if (raw === undefined || raw.socket === undefined || typeof raw.socket.write !== 'function') return false
  const proto = Object.getPrototypeOf(raw) as SocketConn
  if (tcpPatched.has(proto)) return true
  if (!Object.prototype.hasOwnProperty.call(proto, 'sendData') || typeof proto.sendData !== 'function') return false
  proto.sendData = function (this: Required<SocketConn>, data: ByteList) {
    // Uint8ArrayList.subarray() is the bytes in one buffer (a copy only when there are several).
    const bytes = data.subarray()
    return { sentBytes: bytes.byteLength, canSendMore: this.socket.write(bytes) }
  }
  tcpPatched.add(proto)
  return true
}
