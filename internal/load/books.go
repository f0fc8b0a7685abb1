package load

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BooksResult is the check of the server's books at the end of a run
// (operations.md): what the driver saw must be what the server recorded.
type BooksResult struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
	// Answered calls the driver saw, and how many of them have a record.
	AnsweredSeen     int `json:"answered_seen"`
	AnsweredRecorded int `json:"answered_recorded"`
	// Frequencies still allocated to the population's phones.
	FrequenciesLeft []int `json:"frequencies_left,omitempty"`
	// Phones of the population still attached.
	PhonesLeft int `json:"phones_left"`
	// Alarm no_frequency: sets minus clears, from the overload counters.
	NoFrequencyAlarmBalance int64 `json:"no_frequency_alarm_balance"`
}

// Bounds of the books check. Call records are written in batches, and a
// release may trail a detach by a moment, so a check that fails is tried
// again until booksSettle has passed.
const (
	booksSettle   = 5 * time.Second
	booksInterval = 250 * time.Millisecond
	booksMaxPages = 10_000 // of 1000 items: far more than a run can make
	pageLimit     = 1000
)

// checkBooks checks the books, retrying a failed check for booksSettle.
func (d *driver) checkBooks(ctx context.Context) *BooksResult {
	deadline := time.Now().Add(max(booksSettle, d.cfg.Timeout))
	tick := time.NewTicker(booksInterval)
	defer tick.Stop()
	for {
		r := d.books(ctx)
		if r.OK || time.Now().After(deadline) {
			return r
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return r
		}
	}
}

func (d *driver) books(ctx context.Context) *BooksResult {
	r := &BooksResult{}
	problem := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }
	if err := d.booksCalls(ctx, r); err != nil {
		problem("calls: %v", err)
	}
	if err := d.booksFrequencies(ctx, r); err != nil {
		problem("frequencies: %v", err)
	}
	if err := d.booksPhones(ctx, r); err != nil {
		problem("phones: %v", err)
	}
	if err := d.booksAlarm(ctx, r); err != nil {
		problem("alarm no_frequency: %v", err)
	}
	r.OK = len(r.Problems) == 0
	return r
}

// mine tells whether an MSISDN belongs to the population.
func (d *driver) mine(msisdn string) bool {
	n, err := strconv.ParseUint(msisdn, 10, 64)
	return err == nil && n >= d.cfg.MSISDNBase && n < d.cfg.MSISDNBase+uint64(d.cfg.Phones)
}

// pages reads a paged list (api.md: ?limit=&after=, {"items", "next"}),
// handing each page's items to each. The lists the books read (calls,
// phones) are the cluster's on every node: they are read once, every page
// from one target.
func pages[T any](ctx context.Context, d *driver, path string, q url.Values, each func([]T)) error {
	q.Set("limit", strconv.Itoa(pageLimit))
	t := d.c.spread()
	for range booksMaxPages {
		var page struct {
			Items []T    `json:"items"`
			Next  string `json:"next"`
		}
		a := d.c.do(ctx, t, http.MethodGet, path+"?"+q.Encode(), nil, &page)
		if !a.ok() {
			return fmt.Errorf("GET %s: %s", path, describe(a))
		}
		each(page.Items)
		if page.Next == "" {
			return nil
		}
		q.Set("after", page.Next)
	}
	return fmt.Errorf("GET %s: more than %d pages", path, booksMaxPages)
}

func describe(a answer) string {
	if a.status == 0 {
		return a.code
	}
	return fmt.Sprintf("%d %s", a.status, a.code)
}

// booksCalls checks that every call the driver saw answered has a record
// that says it was answered, matching caller and callee pairs as often as
// the driver saw them. Records of the run are those set up since its start.
func (d *driver) booksCalls(ctx context.Context, r *BooksResult) error {
	type record struct {
		Caller     string  `json:"caller"`
		Callee     string  `json:"callee"`
		AnsweredAt *string `json:"answered_at"`
	}
	recorded := map[pair]int{}
	since := d.start.Add(-time.Second).UTC().Format(time.RFC3339Nano)
	err := pages(ctx, d, "/api/v1/calls", url.Values{"since": {since}}, func(items []record) {
		for _, rec := range items {
			if rec.AnsweredAt != nil && *rec.AnsweredAt != "" && d.mine(rec.Caller) {
				recorded[pair{rec.Caller, rec.Callee}]++
			}
		}
	})
	if err != nil {
		return err
	}
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	var missing []string
	for p, n := range d.st.answered {
		r.AnsweredSeen += n
		got := min(recorded[p], n)
		r.AnsweredRecorded += got
		if got < n {
			missing = append(missing, fmt.Sprintf("%s->%s x%d", p.caller, p.callee, n-got))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%d answered calls have no record: %s", r.AnsweredSeen-r.AnsweredRecorded, clip(missing, 5))
	}
	return nil
}

// booksFrequencies checks that no phone of the population still holds a
// frequency, in any cell. Other owners (API clients, other runs) are not
// ours to judge.
func (d *driver) booksFrequencies(ctx context.Context, r *BooksResult) error {
	cells, err := cellsOf[frequencies](ctx, d, "/api/v1/frequencies")
	if err != nil {
		return err
	}
	for _, c := range cells {
		for _, al := range c.body.Allocated {
			if d.mine(strings.TrimPrefix(al.Owner, "msisdn:")) {
				r.FrequenciesLeft = append(r.FrequenciesLeft, al.Frequency)
			}
		}
	}
	if len(r.FrequenciesLeft) > 0 {
		return fmt.Errorf("%d still allocated to the population's phones: %v", len(r.FrequenciesLeft), r.FrequenciesLeft)
	}
	return nil
}

// booksPhones checks that no phone of the population is still attached.
func (d *driver) booksPhones(ctx context.Context, r *BooksResult) error {
	var left []string
	err := pages(ctx, d, "/api/v1/phones", url.Values{}, func(items []struct {
		MSISDN string `json:"msisdn"`
	}) {
		for _, it := range items {
			if d.mine(it.MSISDN) {
				left = append(left, it.MSISDN)
			}
		}
	})
	if err != nil {
		return err
	}
	r.PhonesLeft = len(left)
	if len(left) > 0 {
		return fmt.Errorf("%d still attached: %s", len(left), clip(left, 5))
	}
	return nil
}

// booksAlarm checks that alarm no_frequency was cleared as often as it was
// set, or is set once more (still active because another owner holds the
// last frequency), in every cell: each cell's allocator raises its own.
// The balance reported is the sum over the cells.
func (d *driver) booksAlarm(ctx context.Context, r *BooksResult) error {
	cells, err := cellsOf[struct {
		Counters map[string]int64 `json:"counters"`
	}](ctx, d, "/api/v1/overload/counters")
	if err != nil {
		return err
	}
	var bad []string
	for _, c := range cells {
		balance := c.body.Counters["set_alarm:no_frequency"] - c.body.Counters["clear_alarm:no_frequency"]
		r.NoFrequencyAlarmBalance += balance
		if balance != 0 && balance != 1 {
			bad = append(bad, fmt.Sprintf("%d in cell %d", balance, c.cell))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("set minus clear is %s, want 0 or 1", strings.Join(bad, ", "))
	}
	return nil
}

// clip lists the first n of items, saying how many more there are.
func clip(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(", and %d more", len(items)-n)
}
