package hlr

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/bsc-sim/bsc/internal/store"
)

// Subscriber is a provisioned subscriber as api.md shows it. Attached is
// not stored: the caller fills it from its Registry. Times are UTC; a zero
// last attach or detach time means never and is left out of the JSON.
type Subscriber struct {
	MSISDN       MSISDN    `json:"msisdn"`
	IMSI         string    `json:"imsi,omitempty"`
	Attached     bool      `json:"attached"`
	CreatedAt    time.Time `json:"created_at"`
	LastAttachAt time.Time `json:"last_attach_at,omitzero"`
	LastDetachAt time.Time `json:"last_detach_at,omitzero"`
}

// Stats are the figures worth exporting as metrics.
type Stats struct {
	Provisioned  int    // subscribers in the in-memory set
	TouchPending int    // MSISDNs whose attach/detach times wait to be written
	TouchDropped uint64 // attach/detach time updates given up (see Touch)
}

// Subscribers is the durable subscriber table (the store's), fronted by an
// in-memory set of the provisioned MSISDNs so that an attach checks
// provisioning without SQL. It owns two goroutines, the auto-provisioner
// and the timestamp writer, which Close stops. Every method is safe for
// concurrent use.
type Subscribers struct {
	st     *store.Store
	log    zerolog.Logger
	health *store.Health // told of storage faults; nil: none is told

	provisioned msisdnSet
	// repl, in cluster mode, is the log every write goes through; the
	// table and the set then change only as the log is applied.
	repl Log
	// wmu is held from before a write that adds or removes rows until the
	// set matches it, so the set changes in commit order: otherwise a Delete
	// and an auto-provision of one MSISDN could commit in one order and
	// update the set in the other. SQLite has a single writer anyway, so
	// this costs no write concurrency.
	wmu sync.Mutex

	touches touchQueue
	provq   chan provisionReq
	quit    chan struct{} // closed by Close: the goroutines finish
	// closing is cancelled by Close, to flush the times without pacing.
	closing    context.Context
	endPacing  context.CancelFunc
	touchLimit *rate.Limiter
	provDone   chan struct{}
	touchDone  chan struct{}
	closeOnce  sync.Once
	closeErr   error // of the final timestamp flush
}

// NewSubscribers loads the provisioned MSISDNs of st into memory and
// starts the goroutines. ctx bounds the load only. A write the storage
// refuses (a full disk, say) is reported to health, if not nil, and fails
// with store.ErrStorage.
func NewSubscribers(ctx context.Context, st *store.Store, log zerolog.Logger, health *store.Health) (*Subscribers, error) {
	s := &Subscribers{
		st:         st,
		log:        log,
		health:     health,
		provq:      make(chan provisionReq, provisionQueueLen),
		quit:       make(chan struct{}),
		touchLimit: rate.NewLimiter(touchRate, touchTxRows),
		provDone:   make(chan struct{}),
		touchDone:  make(chan struct{}),
	}
	s.touches.init(touchQueueLimit)
	s.closing, s.endPacing = context.WithCancel(context.Background())
	start := time.Now()
	if err := s.load(ctx); err != nil {
		return nil, fmt.Errorf("hlr: load subscribers: %w", err)
	}
	go s.provisionLoop()
	go s.touchLoop()
	log.Info().Int("subscribers", s.provisioned.len()).Dur("took", time.Since(start)).Msg("HLR subscribers loaded")
	return s, nil
}

func (s *Subscribers) load(ctx context.Context) error {
	n, err := s.st.CountSubscribers(ctx)
	if err != nil {
		return err
	}
	s.provisioned.reserve(n)
	// The bytes, not a string per row: a million rows load at start.
	return s.st.EachSubscriberMSISDN(ctx, func(raw []byte) error {
		m, err := parseMSISDN(raw)
		if err != nil {
			return err
		}
		s.provisioned.add(m)
		return nil
	})
}

// Close flushes the pending attach/detach times, stops the goroutines and
// returns the final flush's error. Auto-provisions still queued fail with
// ErrClosed, and later Touches are dropped; the methods that need only the
// database and the set keep working. The database is the caller's to
// close, after this.
func (s *Subscribers) Close() error {
	s.closeOnce.Do(func() {
		s.endPacing()
		s.touches.close()
		close(s.quit)
		<-s.provDone
		<-s.touchDone
	})
	return s.closeErr
}

// Provisioned reports whether m is a subscriber, from memory.
func (s *Subscribers) Provisioned(m MSISDN) bool { return s.provisioned.has(m) }

// Stats are the current figures.
func (s *Subscribers) Stats() Stats {
	pending, dropped := s.touches.stats()
	return Stats{Provisioned: s.provisioned.len(), TouchPending: pending, TouchDropped: dropped}
}

// Create provisions sub.MSISDN with sub.IMSI (optional); the other fields
// are ignored. ErrAlreadyExists if the MSISDN is provisioned or the IMSI
// belongs to another subscriber.
func (s *Subscribers) Create(ctx context.Context, sub Subscriber) (Subscriber, error) {
	if err := checkMSISDN(sub.MSISDN); err != nil {
		return Subscriber{}, err
	}
	if err := checkIMSI(sub.IMSI); err != nil {
		return Subscriber{}, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	now := now()
	row := store.SubscriberRow{MSISDN: sub.MSISDN.String(), IMSI: sub.IMSI, CreatedAt: now}
	insert := s.st.InsertSubscribers
	if s.repl != nil {
		insert = s.st.TryInsertSubscribers
	}
	check := func(ctx context.Context) error {
		n, err := insert(ctx, 1, func(int) store.SubscriberRow { return row })
		return createdOne(sub, n, err)
	}
	var err error
	if s.repl != nil {
		err = s.logged(ctx, createRows([]Subscriber{sub}, now), check)
	} else if err = check(ctx); err == nil {
		s.provisioned.add(sub.MSISDN)
	}
	if err != nil {
		return Subscriber{}, s.fault(err)
	}
	return Subscriber{MSISDN: sub.MSISDN, IMSI: sub.IMSI, CreatedAt: fromNanos(now)}, nil
}

// createdOne is the error of an insert of sub that created n rows.
func createdOne(sub Subscriber, n int, err error) error {
	if errors.Is(err, store.ErrIMSITaken) {
		return fmt.Errorf("%w: imsi %s belongs to another subscriber", ErrAlreadyExists, sub.IMSI)
	}
	if err != nil {
		return fmt.Errorf("hlr: create %s: %w", sub.MSISDN, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrAlreadyExists, sub.MSISDN)
	}
	return nil
}

// Get reads m; ErrUnknownSubscriber if it is not provisioned. Its times
// include those not yet written: a Touch that returned before Get is seen.
func (s *Subscribers) Get(ctx context.Context, m MSISDN) (Subscriber, error) {
	if err := s.catchUp(ctx); err != nil {
		return Subscriber{}, err
	}
	// Before the read: a time written meanwhile is then in the row, and one
	// not written yet is in this copy.
	pending := s.touches.peek(m)
	row, ok, err := s.st.Subscriber(ctx, m.String())
	if err != nil {
		return Subscriber{}, err
	}
	if !ok {
		return Subscriber{}, fmt.Errorf("%w: %s", ErrUnknownSubscriber, m)
	}
	sub, err := subscriberOf(row)
	if err != nil {
		return Subscriber{}, fmt.Errorf("hlr: get %s: %w", m, err)
	}
	pending.apply(&sub)
	return sub, nil
}

// List returns up to store.PageLimit(limit) subscribers with an MSISDN
// greater than after (the zero MSISDN: from the first), in MSISDN order;
// the last one's MSISDN is the next page's cursor. The times not yet
// written are added after the read, so a batch written during the read can
// be missing from the page (Get has no such gap).
func (s *Subscribers) List(ctx context.Context, after MSISDN, limit int) ([]Subscriber, error) {
	if err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	rows, err := s.st.ListSubscribers(ctx, after.String(), limit)
	if err != nil {
		return nil, err
	}
	subs := make([]Subscriber, len(rows))
	for i, row := range rows {
		if subs[i], err = subscriberOf(row); err != nil {
			return nil, fmt.Errorf("hlr: list subscribers: %w", err)
		}
	}
	s.touches.overlay(subs)
	return subs, nil
}

// Delete removes m; ErrUnknownSubscriber if it is not provisioned. Whether
// m is attached is the caller's to check first: this package does not know
// the phones.
func (s *Subscribers) Delete(ctx context.Context, m MSISDN) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.repl != nil {
		return s.fault(s.logged(ctx, logWrite{Op: opDelete, Rows: []logRow{{MSISDN: m.String()}}}, func(ctx context.Context) error {
			if _, ok, err := s.st.Subscriber(ctx, m.String()); err != nil || !ok {
				return cmp.Or(err, fmt.Errorf("%w: %s", ErrUnknownSubscriber, m))
			}
			return nil
		}))
	}
	ok, err := s.st.DeleteSubscriber(ctx, m.String())
	if err != nil {
		return s.fault(err)
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownSubscriber, m)
	}
	s.provisioned.remove(m)
	return nil
}

// catchUp, in cluster mode, waits until this node's table holds every
// write logged before: a read on any node sees what any node answered.
func (s *Subscribers) catchUp(ctx context.Context) error {
	if s.repl == nil {
		return nil
	}
	_, err := s.repl.CatchUp(ctx)
	return err
}

// fault marks a write error that is the storage's (store.ErrStorage) and
// reports it, so that the service knows the database cannot be written.
func (s *Subscribers) fault(err error) error {
	if s.health == nil {
		return store.Fault(err)
	}
	return s.health.Fault("subscribers", err)
}

// subscriberOf reads a stored row.
func subscriberOf(row store.SubscriberRow) (Subscriber, error) {
	m, err := ParseMSISDN(row.MSISDN)
	if err != nil {
		return Subscriber{}, err
	}
	sub := Subscriber{MSISDN: m, IMSI: row.IMSI, CreatedAt: fromNanos(row.CreatedAt)}
	if row.LastAttachAt != 0 {
		sub.LastAttachAt = fromNanos(row.LastAttachAt)
	}
	if row.LastDetachAt != 0 {
		sub.LastDetachAt = fromNanos(row.LastDetachAt)
	}
	return sub, nil
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func checkMSISDN(m MSISDN) error {
	switch {
	case m == 0:
		return fmt.Errorf("%w: msisdn is required", ErrInvalidMSISDN)
	case !m.Valid():
		return fmt.Errorf("%w: %s", ErrInvalidMSISDN, m)
	}
	return nil
}

// checkIMSI accepts no IMSI or 15 ASCII digits.
func checkIMSI(imsi string) error {
	if imsi == "" {
		return nil
	}
	if len(imsi) != 15 {
		return fmt.Errorf("%w: imsi is %d bytes long, want 15 digits", ErrInvalidRequest, len(imsi))
	}
	for i := 0; i < len(imsi); i++ {
		if imsi[i] < '0' || imsi[i] > '9' {
			return fmt.Errorf("%w: imsi %q: byte %d is not a digit 0-9", ErrInvalidRequest, imsi, i+1)
		}
	}
	return nil
}
