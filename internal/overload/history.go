package overload

import (
	"context"
	"sort"
	"sync"

	"github.com/bsc-sim/bsc/internal/store"
)

// memHistorySize bounds the history kept when there is no HistoryStore.
const memHistorySize = 1000

// memHistory is the alarm history when no HistoryStore is configured: the
// last size records, numbered like the database would, lost with the
// Manager. Readers come from other goroutines (the HTTP API), hence the lock.
type memHistory struct {
	mu   sync.Mutex
	size int
	recs []store.AlarmRecord // oldest first
	last int64
}

func newMemHistory(size int) *memHistory { return &memHistory{size: size} }

func (h *memHistory) AppendAlarm(_ context.Context, rec store.AlarmRecord) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last++
	rec.ID = h.last
	if len(h.recs) == h.size {
		copy(h.recs, h.recs[1:])
		h.recs = h.recs[:h.size-1]
	}
	h.recs = append(h.recs, rec)
	return rec.ID, nil
}

func (h *memHistory) AlarmHistory(_ context.Context, afterID int64, limit int) ([]store.AlarmRecord, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := sort.Search(len(h.recs), func(i int) bool { return h.recs[i].ID > afterID })
	n := min(store.PageLimit(limit), len(h.recs)-i)
	return append([]store.AlarmRecord{}, h.recs[i:i+n]...), nil
}
