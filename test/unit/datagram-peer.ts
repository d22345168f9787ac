// A datagram socket bound on 127.0.0.1 with a fresh Ed25519 identity, for the datagram and
// hello tests: its peer id and the reasons of what it refused. Without pair keys it signs
// every datagram, as for a recipient whose id has no Ed25519 key.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { DatagramSocket, type DatagramOptions } from '../../src/net/datagram.js'
import { PairKeys } from '../../src/net/pair-keys.js'
import { Records, signingKey } from '../../src/net/records.js'

export interface BoundPeer { id: string, socket: DatagramSocket, refused: string[] }

export async function boundPeer (extra: Partial<DatagramOptions> = {}, port = 0, pairKeys = true): Promise<BoundPeer> {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  const records = new Records(signingKey(key))
  const pairs = new PairKeys(id, key.raw.subarray(0, 32))
  const refused: string[] = []
  const socket = new DatagramSocket({
    self: id,
    crypto: { sign: b => records.signBytes(b), verify: (p, b, s) => new Records().verify(p, b, s), tag: (p, b) => pairKeys ? pairs.tag(p, b) : undefined, check: (p, b, t) => pairs.check(p, b, t) },
    refused: why => refused.push(why),
    ...extra
  })
  if (!await socket.bind('127.0.0.1', port)) throw new Error(`cannot bind 127.0.0.1:${port}`)
  return { id, socket, refused }
}
