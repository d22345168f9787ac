// Durations as users write them: "500ms", "10s", "5m", or a bare number of seconds.
export function parseDuration (s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s)
  if (m === null) return undefined
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  return unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000
}

// Go writes microseconds as µs (U+00B5) or μs (U+03BC). Both appear here as escapes: one
// character outside ASCII anywhere in the agent's bundle makes V8 hold its whole source (1.4 MB)
// as a two-byte string, decoded and scanned more slowly at every start.
const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, '\u00b5s': 1e-3, '\u03bcs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * Durations as Go's time.ParseDuration reads them (Consul's `wait=`): a sequence of decimal
 * numbers each with a unit, such as "120000ms", "5m", "1m30s", "1.5h"; "0" alone is zero.
 * Negative durations are refused (a wait cannot be negative). Result in ms.
 */
export function parseGoDuration (s: string): number | undefined {
  if (s === '0') return 0
  if (s.length === 0 || s.length > 64) return undefined
  let ms = 0
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/y
  for (let at = 0; at < s.length;) {
    part.lastIndex = at
    const m = part.exec(s)
    if (m === null) return undefined
    ms += Number(m[1]) * GO_UNITS[m[2]]
    at = part.lastIndex
  }
  return ms
}
