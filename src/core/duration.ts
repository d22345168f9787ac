// Durations as users write them: "500ms", "10s", "5m", or a bare number of seconds.
export function parseDuration (s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s)
  if (m === null) return undefined
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  return unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000
}
