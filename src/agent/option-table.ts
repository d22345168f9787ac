// The one table of agent options: each row names the AgentOptions field, its flag (which is
// also its key in a --config file), its env twin, its type, the default as shown to people,
// and what it does. Flag parsing, env and file reading, `murmur agent --help`, the check for
// unknown keys and the README's flag table are all derived from it (a unit test checks the
// README against `optionsMarkdown()`).
import type { AgentOptions } from './options.js'

export type OptionType = 'string' | 'number' | 'boolean' | 'list'

export type OptionGroup = 'agent' | 'sidecar' | 'peers' | 'membership' | 'config' | 'deprecated'

export interface OptionSpec {
  key: keyof AgentOptions
  /** Flag without dashes and key in a config file: `--data-dir`, `data-dir = "..."`. */
  name: string
  type: OptionType
  /** Env twin. Derived from `name` (MURMUR_DATA_DIR) unless given. */
  env: string
  /** A boolean that is on by default is turned off by `--no-NAME` / `MURMUR_NO_NAME=1`. */
  negated?: boolean
  /** Placeholder of the value in help text. */
  arg?: string
  /** The default as help and README show it. */
  shown: string
  doc: string
  group: OptionGroup
  /** Changed without a restart when SIGHUP re-reads the config file. */
  live?: boolean
}

type Row = Omit<OptionSpec, 'env' | 'group'> & { env?: string }

const rows: Array<[OptionGroup, Row[]]> = [
  ['agent', [
    { key: 'node', name: 'node', type: 'string', arg: 'NAME', shown: 'hostname', doc: 'member name shown to others' },
    { key: 'cluster', name: 'cluster', type: 'string', arg: 'NAME', shown: '`default`', doc: 'agents of different clusters ignore each other (topics, sync protocol and mDNS tag carry the name)' },
    { key: 'dataDir', name: 'data-dir', type: 'string', arg: 'DIR', shown: 'none (ephemeral)', doc: 'keeps identity (peer id), generation, config log and local services; locked by one agent at a time' },
    { key: 'logLevel', name: 'log-level', type: 'string', arg: 'LEVEL', shown: '`info`', doc: '`debug`, `info`, `warn`, `error`', live: true },
    { key: 'logFormat', name: 'log-format', type: 'string', arg: 'FORMAT', shown: '`text`', doc: '`text` (for people) or `json` (one object per line; see "Logs and metrics")' }
  ]],
  ['sidecar', [
    { key: 'http', name: 'http', env: 'MURMUR_HTTP_LISTEN', type: 'string', arg: 'HOST:PORT', shown: '`127.0.0.1:7401`', doc: 'sidecar address; off loopback, set a token (a warning at start says so). `MURMUR_HTTP_ADDR` is the CLI\'s target; the agent still reads it when `MURMUR_HTTP_LISTEN` is unset, with a deprecation warning' },
    { key: 'httpTokenFile', name: 'http-token-file', type: 'string', arg: 'FILE', shown: 'none (writes open)', doc: 'file with the token every sidecar write must carry (see "Security")' },
    { key: 'httpReadTokenFile', name: 'http-read-token-file', type: 'string', arg: 'FILE', shown: 'none (reads open)', doc: 'file with a token reads need too (the write token also reads); needs `--http-token-file`' },
    { key: 'httpMaxConnections', name: 'http-max-connections', type: 'number', arg: 'N', shown: 'half the open-file limit, at most 1024', doc: 'sidecar connections served at once; 64 more are answered 503, the rest closed' }
  ]],
  ['peers', [
    { key: 'listen', name: 'listen', type: 'string', arg: 'HOST:PORT', shown: '`0.0.0.0:7400`', doc: 'libp2p TCP address; membership datagrams use the same port over UDP (open both in a firewall)' },
    { key: 'advertise', name: 'advertise', type: 'string', arg: 'HOST', shown: 'listen host, else first LAN IPv4', doc: 'address given to other members for this host\'s services' },
    { key: 'join', name: 'join', type: 'list', arg: 'ADDR', shown: 'none', doc: '`HOST:PORT` or a multiaddr (repeatable; comma-separated in env); no peer id needed. Reached by a hello datagram (a libp2p dial when that is refused or unanswered); retried until it answers (every 250 ms for 10 s while the agent is in no cluster, every second until 30 s, then backing off to 30 s), and again whenever it fails or leaves (at a random moment within 5 s while other members keep the agent joined)' },
    { key: 'udp', name: 'udp', negated: true, type: 'boolean', shown: 'UDP on', doc: 'membership probes, gossip and digests (config digests too, never config values) as authenticated UDP datagrams on the listen port (sealed with the cluster key when there is one); `--no-udp` sends them over libp2p streams: use it on every agent of a network that drops UDP between hosts (only probes fall back to streams on their own)' },
    { key: 'mdns', name: 'mdns', negated: true, type: 'boolean', shown: 'mDNS on', doc: 'LAN discovery by mDNS (`--no-mdns`, `MURMUR_NO_MDNS=1` or `mdns = false` turn it off)' },
    { key: 'clusterKeyFile', name: 'cluster-key', env: 'MURMUR_CLUSTER_KEY_FILE', type: 'string', arg: 'FILE', shown: 'none (anyone may join)', doc: 'key file from `murmur keygen`: only agents holding the same key can connect' },
    { key: 'allow', name: 'allow', type: 'list', arg: 'CIDR', shown: 'any address', doc: 'CIDR block (repeatable; comma-separated in env) peers must be in; others are refused and never dialled' },
    { key: 'gossipRate', name: 'gossip-rate', type: 'number', arg: 'N', shown: '100', doc: 'gossip messages a second taken (and relayed) from one author; the rest are dropped, counted, and arrive by anti-entropy' },
    { key: 'gossipBurst', name: 'gossip-burst', type: 'number', arg: 'N', shown: '1000', doc: 'messages one author may send at once before `--gossip-rate` applies' }
  ]],
  ['membership', [
    { key: 'probeIntervalMs', name: 'probe-interval-ms', type: 'number', arg: 'MS', shown: '1000', doc: 'one member is probed per interval (SWIM); detection time and probe traffic scale with it' },
    { key: 'probeTimeoutMs', name: 'probe-timeout-ms', type: 'number', arg: 'MS', shown: '500', doc: 'wait for a direct ack before asking others to probe; stretched by local health (Lifeguard)' },
    { key: 'indirectChecks', name: 'indirect-checks', type: 'number', arg: 'K', shown: '3', doc: 'members asked to probe when the direct probe gets no ack (SWIM\'s k)' },
    { key: 'suspicionMult', name: 'suspicion-mult', type: 'number', arg: 'X', shown: '1', doc: 'suspicion timeout floor = mult × max(1, log10 N) × probe interval' },
    { key: 'suspicionMaxMult', name: 'suspicion-max-mult', type: 'number', arg: 'X', shown: '5', doc: 'timeout ceiling (× floor) while nobody confirms the suspicion' },
    { key: 'retransmitMult', name: 'retransmit-mult', type: 'number', arg: 'X', shown: '4', doc: 'each change is piggybacked mult × ceil(log10(N + 1)) times' },
    { key: 'gossipIntervalMs', name: 'gossip-interval-ms', type: 'number', arg: 'MS', shown: '200', doc: 'pending changes go to 3 random members this often (nothing when idle)' },
    { key: 'syncIntervalMs', name: 'sync-interval-ms', type: 'number', arg: 'MS', shown: '1000', doc: 'membership digest exchange with one random member; doubles up to 8x while rounds find nothing, back at any change' },
    { key: 'reconnectIntervalMs', name: 'reconnect-interval-ms', type: 'number', arg: 'MS', shown: '10000', doc: 'each interval, with probability failed / live members, a push-pull with a random failed member, in case it is back' },
    { key: 'reapMs', name: 'reap-ms', type: 'number', arg: 'MS', shown: '3600000', doc: 'failed/left members are forgotten after this' },
    { key: 'maxMembers', name: 'max-members', type: 'number', arg: 'N', shown: '10000', doc: 'members listed at most (failed and left included); records of new members beyond are dropped and counted (`murmur_members_dropped_total`)' },
    { key: 'leaveWaitMs', name: 'leave-wait-ms', type: 'number', arg: 'MS', shown: '500', doc: 'how long a graceful leave waits for its announcement to spread before the agent exits' }
  ]],
  ['config', [
    { key: 'antiEntropyMs', name: 'anti-entropy-ms', type: 'number', arg: 'MS', shown: '3000', doc: 'period (±20 %) of the digest exchange with a random peer; up to 3x while rounds find the maps equal, back at any change' },
    { key: 'tombstoneTtlMs', name: 'tombstone-ttl-ms', type: 'number', arg: 'MS', shown: '86400000', doc: 'deleted keys are remembered this long (see "Deletes")' },
    { key: 'maxDriftMs', name: 'max-drift-ms', type: 'number', arg: 'MS', shown: '60000', doc: 'stamps further ahead than this (remote, on disk, or of a key being overwritten) do not advance the local clock (see "Clock"); tombstones that far ahead are dropped' },
    { key: 'maxKeys', name: 'max-keys', type: 'number', arg: 'N', shown: '100000', doc: 'live config keys; new keys beyond are refused (507 `MURMUR_ERR_QUOTA` locally, dropped and counted from peers)' },
    { key: 'maxTombstones', name: 'max-tombstones', type: 'number', arg: 'N', shown: '100000', doc: 'tombstones of keys not held; deleting a held key always works' },
    { key: 'maxConfigBytes', name: 'max-config-bytes', type: 'number', arg: 'N', shown: '67108864 (64 MiB)', doc: 'bytes of keys and JSON values; growth beyond is refused' },
    { key: 'controlIntervalMs', name: 'control-interval-ms', type: 'number', arg: 'MS', shown: '1000', doc: 'period of the control loop\'s round (every rule evaluated once)' },
    { key: 'clockSkewMs', name: 'clock-skew-ms', type: 'number', arg: 'MS', shown: '0', doc: 'testing aid: offset added to this agent\'s wall clock for its stamps' }
  ]],
  ['deprecated', [
    { key: 'heartbeatMs', name: 'heartbeat-ms', type: 'number', arg: 'MS', shown: '', doc: 'murmur 0.1: sets `--probe-interval-ms`' },
    { key: 'suspicionMs', name: 'suspicion-ms', type: 'number', arg: 'MS', shown: '', doc: 'murmur 0.1: sets the suspicion floor at 10 members' },
    { key: 'phiSuspect', name: 'phi-threshold', type: 'number', arg: 'PHI', shown: '', doc: 'murmur 0.1: ignored (detection is SWIM probing now)' }
  ]]
]

const envOf = (name: string): string => 'MURMUR_' + name.toUpperCase().replace(/-/g, '_')

export const OPTION_TABLE: readonly OptionSpec[] = rows.flatMap(([group, list]) => list.map(r => ({
  ...r,
  group,
  env: r.env ?? envOf(r.negated === true ? `no-${r.name}` : r.name)
})))

export const GROUP_TITLES: Record<OptionGroup, string> = {
  agent: 'Agent',
  sidecar: 'Sidecar (HTTP)',
  peers: 'Peers',
  membership: 'Membership (SWIM + Lifeguard)',
  config: 'Config store and control loop',
  deprecated: 'Accepted for murmur 0.1 command lines'
}

/** The flag as typed: `--data-dir`, `--no-mdns`. */
export function flagOf (s: OptionSpec): string {
  return `--${s.negated === true ? 'no-' : ''}${s.name}`
}

/** The option whose flag or file key is `name`, if any. */
export function optionNamed (name: string): OptionSpec | undefined {
  return OPTION_TABLE.find(s => s.name === name)
}

const KEYS = new Set<string>(OPTION_TABLE.map(s => s.key))

export function isOptionKey (k: string): k is keyof AgentOptions {
  return KEYS.has(k)
}

/** `murmur agent --help`: every option, grouped, with its env twin and default. */
export function optionsHelp (): string {
  const out: string[] = []
  for (const [group] of rows) {
    out.push(`${GROUP_TITLES[group]}:`)
    for (const s of OPTION_TABLE.filter(x => x.group === group)) {
      const left = `  ${flagOf(s)}${s.type === 'boolean' ? '' : ' ' + (s.arg ?? 'VALUE')}${s.type === 'list' ? ' ...' : ''}`
      const right = `${plain(s.doc)}${s.shown === '' ? '' : ` [default: ${plain(s.shown)}]`} (${s.env})`
      const lines = wrap(right, 70)
      out.push(left.length >= 30 ? `${left}` : `${left.padEnd(30)}${lines.shift() ?? ''}`)
      for (const l of lines) out.push(' '.repeat(30) + l)
    }
    out.push('')
  }
  return out.join('\n')
}

/** The README's flag table (between its `options:begin` / `options:end` markers). */
export function optionsMarkdown (): string {
  const lines = ['| flag | env | default | effect |', '| --- | --- | --- | --- |']
  for (const s of OPTION_TABLE.filter(x => x.group !== 'deprecated')) {
    lines.push(`| \`${flagOf(s)}\` | \`${s.env}\` | ${s.shown} | ${s.doc}${s.live === true ? ' (reloaded on SIGHUP)' : ''} |`)
  }
  return lines.join('\n')
}

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
function wrap (text: string, width: number): string[] {
  const lines: string[] = []
  let cur = ''
  for (const w of text.split(' ')) {
    if (cur !== '' && cur.length + 1 + w.length > width) { lines.push(cur); cur = w } else cur = cur === '' ? w : `${cur} ${w}`
  }
  if (cur !== '') lines.push(cur)
  return lines
}

function plain (md: string): string {
  return md.replace(/`/g, '')
}
