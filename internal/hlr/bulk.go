package hlr

import (
	"context"
	"errors"
	"fmt"

	"github.com/bsc-sim/bsc/internal/store"
)

// MaxBulk is the most items a CreateBulk takes (api.md).
const MaxBulk = 100_000

// CreateBulk provisions items (MSISDN and optional IMSI each) all or
// nothing. Every item is checked before anything is written; a bad one,
// including a repeat of an earlier item's MSISDN or IMSI, or an IMSI that
// belongs to another subscriber, is an *ItemError with code
// invalid_request and nothing is written. An MSISDN already provisioned
// is counted in existing and left as it is (its IMSI is not changed), so
// that a bulk load can be run again.
func (s *Subscribers) CreateBulk(ctx context.Context, items []Subscriber) (created, existing int, err error) {
	if len(items) > MaxBulk {
		return 0, 0, fmt.Errorf("%w: %d items, at most %d", ErrInvalidRequest, len(items), MaxBulk)
	}
	if err := checkBulk(items); err != nil {
		return 0, 0, err
	}
	if len(items) == 0 {
		return 0, 0, nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	now := now()
	if s.repl != nil {
		// What the check counts is what the log applies: it is logged at
		// the position it was checked at, or checked again.
		err = s.logged(ctx, createRows(items, now), func(ctx context.Context) error {
			created, err = s.insertBulk(ctx, s.st.TryInsertSubscribers, items, now)
			return err
		})
	} else if created, err = s.insertBulk(ctx, s.st.InsertSubscribers, items, now); err == nil {
		for _, it := range items {
			s.provisioned.add(it.MSISDN)
		}
	}
	if err != nil {
		return 0, 0, s.fault(err)
	}
	return created, len(items) - created, nil
}

// inserter is store.Store's InsertSubscribers, or its dry run.
type inserter func(ctx context.Context, n int, row func(i int) store.SubscriberRow) (int, error)

func checkBulk(items []Subscriber) error {
	msisdns := make(map[MSISDN]int, len(items))
	imsis := make(map[string]int)
	for i, it := range items {
		err := checkMSISDN(it.MSISDN)
		if err == nil {
			err = checkIMSI(it.IMSI)
		}
		if err != nil {
			// The HTTP status of the whole request is the item's, 400.
			return &ItemError{Index: i, Err: fmt.Errorf("%w: %v", ErrInvalidRequest, err)}
		}
		if j, dup := msisdns[it.MSISDN]; dup {
			return &ItemError{Index: i, Err: fmt.Errorf("%w: msisdn %s repeats item %d", ErrInvalidRequest, it.MSISDN, j)}
		}
		msisdns[it.MSISDN] = i
		if it.IMSI == "" {
			continue
		}
		if j, dup := imsis[it.IMSI]; dup {
			return &ItemError{Index: i, Err: fmt.Errorf("%w: imsi %s repeats item %d", ErrInvalidRequest, it.IMSI, j)}
		}
		imsis[it.IMSI] = i
	}
	return nil
}

// insertBulk writes items created at now with insert in one transaction
// and returns how many rows it created; on any error nothing is written.
func (s *Subscribers) insertBulk(ctx context.Context, insert inserter, items []Subscriber, now int64) (int, error) {
	created, err := insert(ctx, len(items), func(i int) store.SubscriberRow {
		return store.SubscriberRow{MSISDN: items[i].MSISDN.String(), IMSI: items[i].IMSI, CreatedAt: now}
	})
	if errors.Is(err, store.ErrIMSITaken) {
		var row *store.RowError // here, not above: it goes to the heap
		if errors.As(err, &row) {
			return 0, &ItemError{Index: row.Index, Err: fmt.Errorf("%w: imsi %s belongs to another subscriber", ErrInvalidRequest, items[row.Index].IMSI)}
		}
	}
	if err != nil {
		return 0, fmt.Errorf("hlr: bulk create: %w", err)
	}
	return created, nil
}
