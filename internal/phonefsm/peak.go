package phonefsm

import (
	"sync/atomic"
	"time"
)

// peakWindow is how far back bsc_process_mailbox_depth looks.
const peakWindow = 10

// peak is the largest value seen over the last peakWindow seconds, kept in
// one slot per second so that reading it changes nothing: any number of
// scrapers see the same value. Each slot packs the second (high bits) and
// the largest value seen in it (low 16 bits; mailboxes are far smaller).
type peak struct {
	slots [peakWindow]atomic.Uint64
	now   func() int64 // unix seconds
}

func newPeak() *peak { return &peak{now: func() int64 { return time.Now().Unix() }} }

// note records v.
func (p *peak) note(v int) {
	if v > 0xffff {
		v = 0xffff
	}
	sec := uint64(p.now())
	slot := &p.slots[sec%peakWindow]
	for {
		cur := slot.Load()
		if cur>>16 == sec && int(cur&0xffff) >= v {
			return
		}
		// An older second's slot, or a smaller value in this one.
		if slot.CompareAndSwap(cur, sec<<16|uint64(v)) {
			return
		}
	}
}

// max is the largest value noted in the last peakWindow seconds.
func (p *peak) max() int {
	sec := uint64(p.now())
	best := 0
	for i := range p.slots {
		cur := p.slots[i].Load()
		if sec-cur>>16 < peakWindow && int(cur&0xffff) > best {
			best = int(cur & 0xffff)
		}
	}
	return best
}
