package httpapi

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bsc-sim/bsc/internal/store"
)

// historyPos is a record's place in the cluster's alarm history, which
// merges every cell's in time order: its time (unix nanoseconds), then its
// cell, then its seq (a cell's records are listed from one node, whose
// seqs are unique). It is the cursor of that list, and of a cell's list
// read in that order; a single node's cursor stays the seq alone.
type historyPos struct {
	at   int64
	cell int
	seq  int64
}

// historyStart is the place before every record.
var historyStart = historyPos{at: math.MinInt64, cell: -1}

func (p historyPos) String() string { return fmt.Sprintf("%d.%d.%d", p.at, p.cell, p.seq) }

// parseHistoryPos reads back a historyPos's String; false for anything else.
func parseHistoryPos(s string) (historyPos, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return historyPos{}, false
	}
	at, errAt := strconv.ParseInt(parts[0], 10, 64)
	cell, errCell := strconv.Atoi(parts[1])
	seq, errSeq := strconv.ParseInt(parts[2], 10, 64)
	return historyPos{at: at, cell: cell, seq: seq}, errAt == nil && errCell == nil && errSeq == nil
}

// posIn is rec's place, rec being cell's.
func posIn(rec store.AlarmRecord, cell int) historyPos {
	return historyPos{at: rec.At.UnixNano(), cell: cell, seq: rec.ID}
}

func (p historyPos) compare(o historyPos) int {
	return cmp.Or(cmp.Compare(p.at, o.at), cmp.Compare(p.cell, o.cell), cmp.Compare(p.seq, o.seq))
}

// query is the store query of cell's records after p, in time order: of
// the records of p's time, those of a later cell all come after p, those
// of p's cell after its seq, those of an earlier cell none.
func (p historyPos) query(cell, limit int) store.AlarmQuery {
	q := store.AlarmQuery{ByTime: true, AfterAt: time.Unix(0, p.at), Limit: limit}
	switch {
	case cell == p.cell:
		q.AfterID = p.seq
	case cell < p.cell:
		q.AfterID = math.MaxInt64
	}
	return q
}

// spreadHistory answers GET /api/v1/alarms/history naming no cell: every
// cell's history, each read from its owner, merged in time order
// (historyPos) and paged as a single node's is; the cursor of the next
// page is the last record's place. A cell failing over shows nothing.
func (s *server) spreadHistory(w http.ResponseWriter, r *http.Request) error {
	p, err := ParsePage(r)
	if err != nil {
		return err
	}
	from := historyStart
	if p.After != "" {
		var ok bool
		if from, ok = parseHistoryPos(p.After); !ok {
			return errNotACursor
		}
	}
	// Each cell is asked for its page after from: a historyPos cursor
	// asks for it in time order.
	sub := r.Clone(r.Context())
	q := sub.URL.Query()
	q.Set("after", cursor(from.String()))
	sub.URL.RawQuery = q.Encode()
	type placed struct {
		pos historyPos
		rec store.AlarmRecord
	}
	all, next := mergePages(s.askAll(sub), p.Limit,
		func(rec store.AlarmRecord, cell int) placed { return placed{posIn(rec, cell), rec} },
		func(x, y placed) int { return x.pos.compare(y.pos) },
		func(x placed) string { return x.pos.String() })
	l := List[store.AlarmRecord]{Items: make([]store.AlarmRecord, 0, len(all)), Next: next}
	for _, x := range all {
		l.Items = append(l.Items, x.rec)
	}
	WriteJSON(w, http.StatusOK, l)
	return nil
}
