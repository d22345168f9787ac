// Every event counter an agent keeps: its key in `/v1/agent/self` `counters`, its Prometheus
// name and HELP text in `/metrics`. The agent's `counters` getter is typed by this table, so a
// counter cannot be added without its name and description (nor described without existing).
export const COUNTERS = {
  gossipDropped: ['murmur_gossip_dropped_total', 'Config gossip and anti-entropy messages dropped: undecodable, of an unknown kind, or outside an open exchange.'],
  heartbeatsRejected: ['murmur_heartbeats_rejected_total', 'Membership packets and member records refused: malformed, or with a bad signature.'],
  configRejected: ['murmur_config_rejected_total', 'Config entries from peers refused as malformed (bad key, value or stamp).'],
  clockDrift: ['murmur_clock_drift_total', 'Remote stamps further ahead of the local clock than --max-drift-ms (stored, not followed).'],
  syncs: ['murmur_syncs_total', 'Anti-entropy exchanges with a peer completed.'],
  syncFailures: ['murmur_sync_failures_total', 'Messages to peers dropped because their send queue was full or the stream failed.'],
  persistFailures: ['murmur_persist_failures_total', 'Replicated config entries that could not be written to the data dir.'],
  quarantined: ['murmur_quarantined_total', 'Entries set aside after this agent was away longer than the tombstone TTL.'],
  resurrectionsPrevented: ['murmur_resurrections_prevented_total', 'Set-aside entries dropped because the cluster had deleted them meanwhile.'],
  memberSuspect: ['murmur_member_suspect_total', 'Transitions of a member to suspect.'],
  memberFailed: ['murmur_member_failed_total', 'Transitions of a member to failed.'],
  memberLeft: ['murmur_member_left_total', 'Members seen leaving gracefully.'],
  memberRecovered: ['murmur_member_recovered_total', 'Members back to alive from suspect or failed.'],
  configLogDamaged: ['murmur_config_log_damaged_total', 'Damaged regions of the config log skipped at start.'],
  gossipRateLimited: ['murmur_gossip_rate_limited_total', 'Gossip messages dropped over the per-author rate (--gossip-rate, --gossip-burst).'],
  connectionsDenied: ['murmur_connections_denied_total', 'Peer connections refused because the address is outside --allow.'],
  syncGarbage: ['murmur_sync_garbage_total', 'Peers disconnected for sending malformed, oversized or unasked-for sync messages.'],
  quotaDropped: ['murmur_quota_dropped_total', 'Config entries from peers refused because a quota (--max-keys, --max-tombstones, --max-config-bytes) is full.'],
  futureTombstonesDropped: ['murmur_future_tombstones_dropped_total', 'Deletes from peers dropped because their stamp lies further ahead than --max-drift-ms.'],
  membersDropped: ['murmur_members_dropped_total', 'Records of new members dropped because the member table is full (--max-members).'],
  recordsVerified: ['murmur_records_verified_total', 'Signatures of member records checked.'],
  messagesOut: ['murmur_messages_out_total', 'Membership and sync messages sent to peers.'],
  messagesIn: ['murmur_messages_in_total', 'Membership and sync messages received from peers.'],
  messageBytesOut: ['murmur_message_out_bytes_total', 'Bytes of membership and sync messages sent to peers.'],
  messageBytesIn: ['murmur_message_in_bytes_total', 'Bytes of membership and sync messages received from peers.']
} as const satisfies Record<string, readonly [name: `murmur_${string}_total`, help: string]>

export type CounterName = keyof typeof COUNTERS
export type Counters = Record<CounterName, number>
