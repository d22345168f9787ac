// The config log's first on-disk format, written by hand so tests of upgrades and damage do not
// depend on the writer's code.
import { crc32 } from 'node:zlib'
import { encode } from '../../src/net/codec.js'

/** A record in the first log format ([u32 length][u32 crc32][msgpack], no sync marker). */
export function frameV1 (x: unknown): Buffer {
  const body = Buffer.from(encode(x))
  const head = Buffer.alloc(8)
  head.writeUInt32BE(body.byteLength, 0)
  head.writeUInt32BE(crc32(body), 4)
  return Buffer.concat([head, body])
}
