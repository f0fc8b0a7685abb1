package frequency

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// model is the allocator written the obvious way, slow and unconcurrent,
// against which random operation sequences are checked.
type model struct {
	pool    []int
	free    []int // head first
	owner   map[int]string
	since   map[int]time.Time
	expires map[int]time.Time
	order   map[int]int // allocation number: ReleaseOwner goes newest first, equal expiries oldest first
	blocked map[int]bool
	n       int
}

func newModel(pool []int) *model {
	return &model{
		pool: slices.Clone(pool), free: slices.Clone(pool), owner: map[int]string{},
		since: map[int]time.Time{}, expires: map[int]time.Time{}, order: map[int]int{}, blocked: map[int]bool{},
	}
}

func (m *model) allocate(owner string, ttl time.Duration, now time.Time) (int, error) {
	if len(m.free) == 0 {
		return 0, ErrNoFrequency
	}
	f := m.free[0]
	m.free = m.free[1:]
	m.n++
	m.owner[f], m.since[f], m.order[f] = owner, now, m.n
	if ttl > 0 {
		m.expires[f] = now.Add(ttl)
	}
	return f, nil
}

func (m *model) deallocate(owner string, f int) error {
	switch o, ok := m.owner[f]; {
	case !ok:
		return ErrNotAllocated
	case o != owner:
		return ErrNotOwner
	}
	m.release(f)
	return nil
}

func (m *model) release(f int) {
	delete(m.owner, f)
	delete(m.since, f)
	delete(m.expires, f)
	delete(m.order, f)
	if m.blocked[f] {
		delete(m.blocked, f)
		return
	}
	m.free = append([]int{f}, m.free...)
}

func (m *model) releaseOwner(owner string) []int {
	var fs []int
	for f, o := range m.owner {
		if o == owner {
			fs = append(fs, f)
		}
	}
	slices.SortFunc(fs, func(x, y int) int { return m.order[y] - m.order[x] })
	for _, f := range fs {
		m.release(f)
	}
	return fs
}

func (m *model) expire(now time.Time) {
	var due []int
	for f, e := range m.expires {
		if !e.After(now) {
			due = append(due, f)
		}
	}
	slices.SortFunc(due, func(x, y int) int {
		if c := m.expires[x].Compare(m.expires[y]); c != 0 {
			return c
		}
		return m.order[x] - m.order[y]
	})
	for _, f := range due {
		m.release(f)
	}
}

func (m *model) setPool(pool []int) {
	var free []int
	for _, f := range m.free {
		if slices.Contains(pool, f) {
			free = append(free, f)
		}
	}
	for _, f := range pool {
		if _, held := m.owner[f]; !held && !slices.Contains(m.free, f) {
			free = append(free, f)
		}
	}
	for f := range m.owner {
		m.blocked[f] = !slices.Contains(pool, f)
		if !m.blocked[f] {
			delete(m.blocked, f)
		}
	}
	m.pool, m.free = slices.Clone(pool), free
}

func (m *model) view() View {
	v := View{Pool: slices.Clone(m.pool), Free: slices.Clone(m.free), Allocated: []Allocation{}, Blocked: []int{}}
	if v.Free == nil {
		v.Free = []int{}
	}
	for f := range m.blocked {
		v.Blocked = append(v.Blocked, f)
	}
	slices.Sort(v.Blocked)
	for _, f := range append(slices.Clone(m.pool), v.Blocked...) {
		if o, ok := m.owner[f]; ok {
			al := Allocation{Frequency: f, Owner: o, Since: m.since[f]}
			if e, ok := m.expires[f]; ok {
				al.ExpiresAt = &e
			}
			v.Allocated = append(v.Allocated, al)
		}
	}
	return v
}

var modelOwners = []string{"a", "b", "c", "msisdn:123"}

// maxOps bounds a sequence: with six to twelve frequencies, longer ones
// explore nothing new and only slow the fuzzer's minimisation down.
const maxOps = 64

// runOps decodes data, three bytes an operation, applies each to an
// allocator and to the model, and checks that they agree and that the
// invariants hold after every step.
func runOps(t *testing.T, data []byte) {
	data = data[:min(len(data), 3*maxOps)]
	clk := newClock()
	initial := []int{1, 2, 3, 4, 5, 6}
	a, rec, _ := start(t, initial, Config{Now: clk.Now})
	m := newModel(initial)
	for step := 0; len(data) >= 3; step++ {
		op, x, y := data[0], data[1], data[2]
		data = data[3:]
		owner := modelOwners[int(x)%len(modelOwners)]
		var desc string
		switch op % 6 {
		case 0, 1:
			ttl := time.Duration(y%4) * 10 * time.Millisecond
			desc = fmt.Sprintf("Allocate(%s, %v)", owner, ttl)
			al, err := a.Allocate(owner, ttl)
			f, werr := m.allocate(owner, ttl, clk.Now())
			if !sameErr(err, werr) || (err == nil && al.Frequency != f) {
				t.Fatalf("step %d %s = %d, %v; model %d, %v", step, desc, al.Frequency, err, f, werr)
			}
		case 2:
			f := int(y % 12)
			desc = fmt.Sprintf("Deallocate(%s, %d)", owner, f)
			if err, werr := a.Deallocate(owner, f), m.deallocate(owner, f); !sameErr(err, werr) {
				t.Fatalf("step %d %s = %v; model %v", step, desc, err, werr)
			}
		case 3:
			desc = fmt.Sprintf("ReleaseOwner(%s)", owner)
			if got, want := a.ReleaseOwner(owner), m.releaseOwner(owner); !slices.Equal(got, want) {
				t.Fatalf("step %d %s = %v; model %v", step, desc, got, want)
			}
		case 4:
			pool := poolFrom(x, y)
			desc = fmt.Sprintf("SetPool(%v)", pool)
			_, err := a.SetPool(pool)
			if (err == nil) != (len(pool) > 0) {
				t.Fatalf("step %d %s = %v", step, desc, err)
			}
			if err == nil {
				m.setPool(pool)
			}
		case 5:
			d := time.Duration(x%40) * time.Millisecond
			desc = fmt.Sprintf("advance %v and reap", d)
			clk.advance(d)
			a.reap()
			m.expire(clk.Now())
		}
		got := a.View()
		if want := m.view(); !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d after %s:\n got  %+v\n want %+v", step, desc, got, want)
		}
		if err := invariants(a, got, rec); err != nil {
			t.Fatalf("step %d after %s: %v", step, desc, err)
		}
		rec.check(t)
	}
}

// invariants checks what must hold whatever the model says: no frequency
// held twice or lost, blocked ones allocated and outside the pool, and the
// alarms matching the state.
func invariants(a *Allocator, v View, rec *recorder) error {
	seen := map[int]string{}
	for _, f := range v.Free {
		if _, dup := seen[f]; dup {
			return fmt.Errorf("%d twice in the free list", f)
		}
		seen[f] = "free"
	}
	for _, al := range v.Allocated {
		if where, dup := seen[al.Frequency]; dup {
			return fmt.Errorf("%d allocated to %s and %s", al.Frequency, al.Owner, where)
		}
		seen[al.Frequency] = al.Owner
	}
	want := slices.Clone(v.Pool)
	for _, f := range v.Blocked {
		if slices.Contains(v.Pool, f) {
			return fmt.Errorf("blocked %d is in the pool", f)
		}
		if where := seen[f]; where == "" || where == "free" {
			return fmt.Errorf("blocked %d is not allocated", f)
		}
		want = append(want, f)
	}
	if len(seen) != len(want) {
		return fmt.Errorf("free ∪ allocated has %d frequencies, pool ∪ blocked %d", len(seen), len(want))
	}
	for _, f := range want {
		if _, ok := seen[f]; !ok {
			return fmt.Errorf("%d lost", f)
		}
	}
	if rec.isActive(alarmNoFrequency) != (len(v.Free) == 0) {
		return fmt.Errorf("no_frequency active %v with %d free", rec.isActive(alarmNoFrequency), len(v.Free))
	}
	inPool := len(v.Allocated) - len(v.Blocked)
	used, total := 10*inPool, len(v.Free)+inPool
	if high := rec.isActive(alarmPoolHigh); high && used < 7*total || !high && used >= 8*total {
		return fmt.Errorf("frequency_pool_high active %v with %d of %d in use", high, inPool, total)
	}
	if a.allocated != inPool || a.blocked != len(v.Blocked) {
		return fmt.Errorf("counts allocated=%d blocked=%d, view says %d and %d", a.allocated, a.blocked, inPool, len(v.Blocked))
	}
	return nil
}

// poolFrom picks a subset of 1..12 from the bits of x and y and rotates it,
// so that pools shrink, grow, reorder and sometimes come out empty.
func poolFrom(x, y byte) []int {
	bits := uint16(x) | uint16(y&0x0f)<<8
	var pool []int
	for f := 1; f <= 12; f++ {
		if bits&(1<<(f-1)) != 0 {
			pool = append(pool, f)
		}
	}
	if len(pool) > 0 {
		k := int(y>>4) % len(pool)
		pool = append(pool[k:], pool[:k]...)
	}
	return pool
}

func sameErr(err, want error) bool {
	if want == nil {
		return err == nil
	}
	var e *errcode.Error
	return errors.As(want, &e) && errors.Is(err, e)
}

func TestRandomOperations(t *testing.T) {
	iterations := 2000
	if testing.Short() {
		iterations = 200
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range iterations {
		data := make([]byte, 3*(1+rng.IntN(100)))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		if !t.Run(fmt.Sprint(i), func(t *testing.T) { runOps(t, data) }) {
			t.Fatalf("failing sequence: %x", data)
		}
	}
}

func FuzzAllocator(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 0, 2, 0, 1})
	f.Add([]byte{0, 0, 1, 0, 1, 2, 4, 0x3c, 0x01, 5, 15, 0, 3, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 4, 0x07, 0x20, 5, 39, 0})
	f.Fuzz(runOps)
}
