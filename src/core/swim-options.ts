// Membership protocol settings, each with its effect and trade-off. Defaults follow
// hashicorp/memberlist's LAN profile where they fit, tightened where murmur's targets (kill -9
// noticed within seconds) ask for it; the formulas scale with the cluster size N.

export interface SwimOptions {
  /** One member is probed per interval, round-robin. Detection time and traffic scale with it. @default 1000 */
  probeIntervalMs: number
  /** Wait for a direct ack before asking others to probe (stretched by local health). @default 500 */
  probeTimeoutMs: number
  /** Members asked to probe indirectly when the direct probe gets no ack (SWIM's k). @default 3 */
  indirectChecks: number
  /**
   * Suspicion timeout floor = suspicionMult * max(1, log10 N) * probeIntervalMs: long enough
   * for the suspect to hear of it and refute, growing with the time gossip needs to reach N.
   * @default 1
   */
  suspicionMult: number
  /** Suspicion timeout ceiling, as a multiple of the floor, used while nobody confirms. @default 5 */
  suspicionMaxMult: number
  /** Independent confirmations that bring the suspicion timeout down to its floor (Lifeguard). @default 3 */
  suspicionConfirmations: number
  /** Each broadcast is sent retransmitMult * ceil(log10(N + 1)) times. @default 4 */
  retransmitMult: number
  /** Pending broadcasts go to `gossipNodes` random members every gossipIntervalMs (nothing when idle). @default 200 */
  gossipIntervalMs: number
  /** @default 3 */
  gossipNodes: number
  /** Bytes of broadcasts piggybacked on one probe or gossip message (one item always fits). @default 1400 */
  packetBudget: number
  /**
   * When the direct probe gets no ack, also ping the target over a stream while the indirect
   * probes run: the transport sends membership as datagrams, and a network that drops those
   * between two hosts must not make them take each other for dead. @default false
   */
  streamFallback: boolean
  /** Local health score ceiling (Lifeguard): timeouts stretch up to this factor. @default 8 */
  awarenessMax: number
  /**
   * Period of the digest exchange with one random member (bucket hashes of every member's
   * version; records flow only for buckets that differ). Rounds that find nothing double the
   * period, up to 8 times this; any change or difference brings it back (the next round
   * within a third of it while members are arriving), so joins converge fast while an idle
   * cluster pays one small message per agent every few seconds.
   * @default 1000
   */
  syncIntervalMs: number
  /**
   * A timer that fires this much late means this agent was stalled (SIGSTOP, a long pause):
   * its deadlines are extended by the stall. Smaller lateness (a busy host) only raises the
   * local health score, at most once per probe interval. @default 2000
   */
  stallMs: number
  /**
   * Every interval, a push-pull with one random failed member, in case it is back; with
   * probability failed / live members (Serf's rule), so the cluster makes about one attempt
   * per failed member per interval. @default 10000
   */
  reconnectIntervalMs: number
  /** Time a failed or left member is kept before it is forgotten. @default 3_600_000 */
  reapMs: number
  /**
   * Members listed at most (failed and left included). Records of new members beyond it are
   * dropped and counted: without a cluster key, a peer could otherwise push any number of
   * self-signed records, and every agent would keep them for `reapMs`. @default 10_000
   */
  maxMembers: number
}

export const SWIM_DEFAULTS: SwimOptions = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 1,
  suspicionMaxMult: 5,
  suspicionConfirmations: 3,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  packetBudget: 1400,
  streamFallback: false,
  awarenessMax: 8,
  syncIntervalMs: 1000,
  stallMs: 2000,
  reconnectIntervalMs: 10_000,
  reapMs: 3_600_000,
  maxMembers: 10_000
}

/** Suspicion timeout floor and ceiling for a cluster of `n` members. */
export function suspicionBounds (o: SwimOptions, n: number): { min: number, max: number } {
  const min = o.suspicionMult * Math.max(1, Math.log10(Math.max(1, n))) * o.probeIntervalMs
  return { min, max: min * o.suspicionMaxMult }
}
