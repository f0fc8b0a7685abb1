// Package cluster is bsc's cluster mode (docs/cluster.md): several nodes,
// each running the cells it owns, on NATS. NATS is the engine: core NATS
// carries the messages between nodes (controller events, forwarded API
// requests), JetStream holds what must outlive a node (leases with an
// epoch, membership, the HLR location, subscribers, call records), with 3
// replicas and synchronous fsync. Nothing here is a consensus, a
// membership protocol or a failure detector of its own: leases are
// JetStream key-value entries with a per-key TTL, fencing is their
// revision, and replication is JetStream's.
package cluster
