// Writes the events of one event stream to its response in pieces, with backpressure. One big
// event (a snapshot of many large values) is handed to the socket 64 KiB at a time as the
// client reads it; the slow-reader limit counts only the events queued behind the one being
// sent, so it cuts off a client that does not read, not one that is reading a large event.
import type { Writable } from 'node:stream'

const PIECE_BYTES = 64 * 1024

export class EventWriter {
  private readonly events: Buffer[] = []
  /** How much of events[0] has been handed to the response. */
  private offset = 0
  /** Bytes of the events behind events[0]. */
  private waiting = 0

  constructor (private readonly res: Writable, private readonly maxBacklogBytes: number) {
    res.on('drain', () => this.pump())
  }

  /** Queue one event's text; a client this far behind is cut off (it reconnects and resumes). */
  write (text: string): void {
    if (this.res.destroyed) return
    const buf = Buffer.from(text)
    this.events.push(buf)
    if (this.events.length > 1) this.waiting += buf.byteLength
    if (this.waiting > this.maxBacklogBytes) {
      this.res.destroy()
      return
    }
    if (this.events.length === 1) this.pump()
  }

  private pump (): void {
    while (this.events.length > 0 && !this.res.destroyed) {
      const head = this.events[0]
      while (this.offset < head.byteLength) {
        const piece = head.subarray(this.offset, this.offset + PIECE_BYTES)
        this.offset += piece.byteLength
        if (!this.res.write(piece)) return // resumed by 'drain'
      }
      this.events.shift()
      this.offset = 0
      if (this.events.length > 0) this.waiting -= this.events[0].byteLength
    }
  }
}
