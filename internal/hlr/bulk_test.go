package hlr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// TestCreateBulkAllOrNothing: a bad item anywhere, found while checking or
// only by the database, refuses the request with that item's index and
// writes nothing.
func TestCreateBulkAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db := tempDB(t)
	s := newSubs(t, db)
	holder := Subscriber{MSISDN: msisdn(t, "999"), IMSI: imsiA}
	if _, err := s.Create(ctx, holder); err != nil {
		t.Fatal(err)
	}
	// good(i) is a fresh, valid item numbered i.
	good := func(i int) Subscriber {
		return Subscriber{MSISDN: msisdn(t, fmt.Sprint(1000+i)), IMSI: fmt.Sprintf("00101%010d", 100+i)}
	}
	items := func(bad int, item Subscriber) []Subscriber {
		list := []Subscriber{good(0), good(1), good(2), good(3), good(4), good(5)}
		list[bad] = item
		return list
	}
	cases := []struct {
		name  string
		items []Subscriber
		index int
		why   string
	}{
		{"bad imsi", items(2, Subscriber{MSISDN: msisdn(t, "2000"), IMSI: "123"}), 2, "imsi"},
		{"no msisdn", items(1, Subscriber{IMSI: imsiB}), 1, "msisdn is required"},
		{"malformed msisdn", items(5, Subscriber{MSISDN: 1<<lenBits | 3}), 5, "invalid MSISDN"},
		{"msisdn repeated", items(3, good(0)), 3, "repeats item 0"},
		{"imsi repeated", items(4, Subscriber{MSISDN: msisdn(t, "2000"), IMSI: good(1).IMSI}), 4, "repeats item 1"},
		// Only the database knows: the rows before it are inserted, then
		// rolled back.
		{"imsi of an existing subscriber", items(4, Subscriber{MSISDN: msisdn(t, "2000"), IMSI: imsiA}), 4, "belongs to another"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			created, existing, err := s.CreateBulk(ctx, c.items)
			var ie *ItemError
			if !errors.As(err, &ie) || ie.Index != c.index || errcode.Of(err) != errcode.InvalidRequest ||
				!strings.Contains(err.Error(), c.why) {
				t.Fatalf("CreateBulk = %d, %d, %v; want an invalid_request ItemError at %d mentioning %q",
					created, existing, err, c.index, c.why)
			}
			if n := rowCount(t, db); n != 1 {
				t.Fatalf("%d rows after a refused bulk, want only the 1 there before", n)
			}
			for _, it := range c.items {
				if it.MSISDN != holder.MSISDN && s.Provisioned(it.MSISDN) {
					t.Fatalf("%s provisioned by a refused bulk", it.MSISDN)
				}
			}
		})
	}

	tooMany := make([]Subscriber, MaxBulk+1)
	_, _, err := s.CreateBulk(ctx, tooMany)
	var ie *ItemError
	if errcode.Of(err) != errcode.InvalidRequest || errors.As(err, &ie) {
		t.Fatalf("CreateBulk of %d items = %v, want invalid_request about the whole request", len(tooMany), err)
	}
}

func TestCreateBulkCounts(t *testing.T) {
	ctx := context.Background()
	db := tempDB(t)
	s := newSubs(t, db)
	pre := Subscriber{MSISDN: msisdn(t, "0123"), IMSI: imsiA}
	if _, err := s.Create(ctx, pre); err != nil {
		t.Fatal(err)
	}
	batch := []Subscriber{
		{MSISDN: msisdn(t, "123")},
		{MSISDN: pre.MSISDN, IMSI: imsiB}, // exists: counted, left unchanged
		{MSISDN: msisdn(t, "124"), IMSI: "001010000000003"},
	}
	steps := []struct{ created, existing int }{{2, 1}, {0, 3}}
	for i, want := range steps {
		created, existing, err := s.CreateBulk(ctx, batch)
		if err != nil || created != want.created || existing != want.existing {
			t.Fatalf("run %d: created %d existing %d, %v; want %d, %d", i, created, existing, err, want.created, want.existing)
		}
	}
	if got, err := s.Get(ctx, pre.MSISDN); err != nil || got.IMSI != imsiA {
		t.Fatalf("existing subscriber after the bulk: %+v, %v; want its IMSI unchanged", got, err)
	}
	for _, it := range batch {
		if !s.Provisioned(it.MSISDN) {
			t.Errorf("%s not provisioned", it.MSISDN)
		}
	}
	if n := rowCount(t, db); n != 3 {
		t.Fatalf("%d rows, want 3", n)
	}
	if created, existing, err := s.CreateBulk(ctx, nil); created != 0 || existing != 0 || err != nil {
		t.Fatalf("empty bulk = %d, %d, %v", created, existing, err)
	}
}
