package hlr

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestRegistryLifecycle(t *testing.T) {
	var r Registry[string] // the zero value is ready
	m := msisdn(t, "123")
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"detach unattached", func() error { _, err := r.Detach(m); return err }, ErrNotAttached},
		{"replace unattached", func() error {
			if r.Replace(m, "x") {
				return errors.New("replaced an unattached MSISDN")
			}
			return nil
		}, nil},
		{"attach", func() error { return r.Attach(m, "c1") }, nil},
		{"attach again", func() error { return r.Attach(m, "c2") }, ErrAlreadyAttached},
		{"lookup", func() error { return expectLookup(&r, m, "c1") }, nil},
		{"replace (restarted controller)", func() error {
			if !r.Replace(m, "c1'") {
				return errors.New("Replace of an attached MSISDN refused")
			}
			return expectLookup(&r, m, "c1'")
		}, nil},
		{"other MSISDN untouched", func() error {
			if _, ok := r.Lookup(msisdn(t, "0123")); ok {
				return errors.New("0123 found after attaching 123")
			}
			return nil
		}, nil},
		{"detach", func() error {
			v, err := r.Detach(m)
			if err == nil && v != "c1'" {
				return fmt.Errorf("Detach returned %q", v)
			}
			return err
		}, nil},
		{"detach again", func() error { _, err := r.Detach(m); return err }, ErrNotAttached},
		{"lookup after detach", func() error {
			if _, ok := r.Lookup(m); ok {
				return errors.New("still found")
			}
			return nil
		}, nil},
	}
	for _, s := range steps {
		if err := s.do(); !errors.Is(err, s.want) {
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
	}
	if r.Len() != 0 {
		t.Fatalf("Len %d after detaching everything", r.Len())
	}
}

func expectLookup(r *Registry[string], m MSISDN, want string) error {
	if v, ok := r.Lookup(m); !ok || v != want {
		return fmt.Errorf("Lookup(%s) = %q, %v; want %q", m, v, ok, want)
	}
	return nil
}

func TestRegistryConcurrentAttachOneWins(t *testing.T) {
	var r Registry[int]
	const contenders = 32
	for round := 0; round < 50; round++ {
		m := msisdn(t, fmt.Sprintf("%02d", round))
		start := make(chan struct{})
		results := make(chan error, contenders)
		var wg sync.WaitGroup
		for i := 0; i < contenders; i++ {
			wg.Go(func() {
				<-start
				results <- r.Attach(m, i)
			})
		}
		close(start)
		wg.Wait()
		close(results)
		wins := 0
		for err := range results {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ErrAlreadyAttached):
				t.Fatal(err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d attaches of %s won, want exactly 1", round, wins, m)
		}
	}
	if r.Len() != 50 {
		t.Fatalf("Len %d, want 50", r.Len())
	}
}

func TestRegistryListPages(t *testing.T) {
	var r Registry[struct{}]
	strs := []string{"123", "0123", "124", "1", "10", "0", "00", "999999999999999", "2", "12", "125", "000000000000001"}
	for _, s := range strs {
		if err := r.Attach(msisdn(t, s), struct{}{}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(strs)
	for _, limit := range []int{1, 3, 5, len(strs), 1000} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			var got []string
			var after MSISDN
			for pages := 0; ; pages++ {
				if pages > len(strs) {
					t.Fatal("paging does not end")
				}
				page := r.List(after, limit)
				if len(page) == 0 {
					break
				}
				if len(page) > limit {
					t.Fatalf("page of %d, limit %d", len(page), limit)
				}
				for _, m := range page {
					got = append(got, m.String())
				}
				after = page[len(page)-1]
			}
			if !slices.Equal(got, strs) {
				t.Fatalf("paged %v, want %v", got, strs)
			}
		})
	}
	if page := r.List(0, 0); len(page) != len(strs) {
		t.Fatalf("limit 0 gave %d, want the default page (all %d)", len(page), len(strs))
	}
}

// TestRegistryListLarge pages through more entries than the collection
// buffer, in every shard, so the buffer's truncation and bound are used.
func TestRegistryListLarge(t *testing.T) {
	var r Registry[struct{}]
	const n = 2000
	for i := 0; i < n; i++ {
		if err := r.Attach(msisdn(t, fmt.Sprint(i)), struct{}{}); err != nil {
			t.Fatal(err)
		}
	}
	var prev MSISDN
	count := 0
	for after := MSISDN(0); ; {
		page := r.List(after, 7)
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			if m <= prev {
				t.Fatalf("%s after %s: not increasing", m, prev)
			}
			prev = m
			count++
		}
		after = page[len(page)-1]
	}
	if count != n {
		t.Fatalf("paged %d, want %d", count, n)
	}
}

func TestRegistryClear(t *testing.T) {
	var r Registry[int]
	for i := 0; i < 100; i++ {
		if err := r.Attach(msisdn(t, fmt.Sprint(i)), i); err != nil {
			t.Fatal(err)
		}
	}
	r.Clear()
	if r.Len() != 0 || len(r.List(0, 1000)) != 0 {
		t.Fatalf("after Clear: Len %d", r.Len())
	}
	if err := r.Attach(msisdn(t, "1"), 1); err != nil {
		t.Fatalf("attach after Clear: %v", err)
	}
}
