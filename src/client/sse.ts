// A text/event-stream parser: feed it text as it arrives, get the complete events. Follows the
// WHATWG rules a client needs here (fields, comments, multi-line data, CR/LF/CRLF line ends,
// ids that persist across events); `retry:` is ignored, since `follow` has its own backoff.

export interface SseEvent {
  /** `message` when the event names no type. */
  event: string
  data: string
  /** The last event id the stream set, which a reconnect sends back as Last-Event-ID. */
  id: string | undefined
}

export class SseParser {
  /**
   * The text after the last line end, in the pieces it came in: one long line (a large
   * snapshot) arriving in many chunks is joined once, not rescanned and copied per chunk.
   */
  private rest: string[] = []
  private data: string[] = []
  private event = ''
  private id: string | undefined
  private afterCr = false

  push (text: string): SseEvent[] {
    if (text === '') return []
    // A CR that ended the previous chunk may be the first half of a CRLF.
    if (this.afterCr && text.startsWith('\n')) text = text.slice(1)
    this.afterCr = text.endsWith('\r')
    const out: SseEvent[] = []
    const eol = /\r\n|\r|\n/g
    let start = 0
    for (let m = eol.exec(text); m !== null; m = eol.exec(text)) {
      const piece = text.slice(start, m.index)
      const ev = this.line(this.rest.length === 0 ? piece : this.rest.join('') + piece)
      this.rest = []
      if (ev !== undefined) out.push(ev)
      start = eol.lastIndex
    }
    if (start < text.length) this.rest.push(text.slice(start))
    return out
  }

  private line (line: string): SseEvent | undefined {
    if (line === '') return this.dispatch()
    if (line.startsWith(':')) return undefined
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    const raw = colon < 0 ? '' : line.slice(colon + 1)
    const value = raw.startsWith(' ') ? raw.slice(1) : raw
    if (field === 'data') this.data.push(value)
    else if (field === 'event') this.event = value
    else if (field === 'id' && !value.includes('\0')) this.id = value
    return undefined
  }

  private dispatch (): SseEvent | undefined {
    const { data, event } = this
    this.data = []
    this.event = ''
    if (data.length === 0) return undefined
    return { event: event === '' ? 'message' : event, data: data.join('\n'), id: this.id }
  }
}
