package hlr

import (
	"sync"
	"unsafe"
)

// shardCount spreads the in-memory maps over independent locks so that
// attaches on different cores rarely meet; 64 is far more than the cores
// this runs on, for a negligible 4 KiB per table.
const (
	shardBits  = 6
	shardCount = 1 << shardBits
	cacheLine  = 64
)

// hash mixes every bit of m into the top bits (Fibonacci hashing). The
// low bits of an MSISDN are its length and padding zeros, so they cannot
// be used as they are. The top shardBits pick the shard, the bits below
// them the slot in a shard's table.
func hash(m MSISDN) uint64 { return uint64(m) * 0x9E3779B97F4A7C15 }

func shardOf(m MSISDN) int { return int(hash(m) >> (64 - shardBits)) }

// shardHead is the size of a shard's lock and map header; the rest of its
// cache line is padding.
const shardHead = unsafe.Sizeof(sync.RWMutex{}) + unsafe.Sizeof(map[MSISDN]int(nil))

// shard is one lock and its map, padded to a cache line of its own so that
// neighbouring shards locked from different cores do not contend.
type shard[T any] struct {
	mu sync.RWMutex
	m  map[MSISDN]T
	_  [(cacheLine - shardHead%cacheLine) % cacheLine]byte
}
