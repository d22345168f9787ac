// A logger whose threshold can change while the agent runs (SIGHUP reloads --log-level): the
// inner logger gets every line at or above the current level.
import type { Level, Logger } from './log.js'

const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export class AdjustableLevel {
  constructor (public level: Level) {}

  wrap (inner: Logger): Logger {
    return (level, component, message, fields) => {
      if (RANK[level] >= RANK[this.level]) inner(level, component, message, fields)
    }
  }
}
