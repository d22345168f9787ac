// Plain aligned tables for terminals.
export function table (headers: string[], rows: unknown[][]): string {
  const cells = rows.map(r => r.map(c => (c === undefined || c === null ? '-' : String(c))))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map(r => r[i].length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [line(headers), ...cells.map(line)].join('\n') + '\n'
}

export function bytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${n.toFixed(i === 0 ? 0 : 1)}${units[i]}`
}

export function ago (iso: string, now = Date.now()): string {
  const s = Math.max(0, (now - Date.parse(iso)) / 1000)
  return s < 60 ? `${s.toFixed(1)}s` : s < 3600 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`
}
