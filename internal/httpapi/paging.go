package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
)

// Paging bounds of api.md.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is a parsed ?limit=&after= pair: at most Limit items whose key sorts
// after After ("" is the first page).
type Page struct {
	Limit int
	After string
}

// ParsePage reads ?limit= (1 to MaxLimit, default DefaultLimit) and ?after=
// (a cursor from a previous List.Next). A bad value is 400 invalid_request.
func ParsePage(r *http.Request) (Page, error) {
	q := r.URL.Query()
	p := Page{Limit: DefaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return Page{}, fmt.Errorf("%w: limit must be 1 to %d", errInvalidRequest, MaxLimit)
		}
		p.Limit = n
	}
	if s := q.Get("after"); s != "" {
		key, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(key) == 0 {
			return Page{}, fmt.Errorf("%w: after is not a cursor from a previous page", errInvalidRequest)
		}
		p.After = string(key)
	}
	return p, nil
}

// List is the body of a paged list. Next is the cursor of the following
// page, omitted on the last one, and only there: a page may hold fewer
// items than the limit, even none, and still have a Next, when the store
// bounds the work of one page (filtered lists of calls and phones).
type List[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// NewList makes the page from items: those sorting after p.After, in key
// order, as many as p.Limit+1 (the store asks for one more than the limit to
// learn whether there is a next page without counting). key gives the
// sort key of an item, which the cursor wraps opaquely. Fewer items make
// the last page, unless the caller sets Next to a cursor of its own.
func NewList[T any](items []T, p Page, key func(T) string) List[T] {
	l := List[T]{Items: items}
	if len(items) > p.Limit {
		l.Items = items[:p.Limit]
		l.Next = cursor(key(items[p.Limit-1]))
	}
	if l.Items == nil {
		l.Items = []T{} // "items": [] rather than null
	}
	return l
}

// cursor is the opaque form of key, the after of the page following it,
// which ParsePage reads back.
func cursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }
