package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/bsc-sim/bsc/internal/hlr"
)

// BulkBodyLimit bounds POST /api/v1/subscribers:bulk: 100 000 items of two
// 15-digit numbers are about 5 MiB as compact JSON, and pretty-printed
// JSON takes up to half as much again.
const BulkBodyLimit = 16 << 20

// Subscribers is the HLR's subscriber table (*hlr.Subscribers) as the
// routes use it.
type Subscribers interface {
	Create(ctx context.Context, sub hlr.Subscriber) (hlr.Subscriber, error)
	// CreateBulk creates the subscribers not there yet, all or none; a bad
	// item is an *hlr.ItemError.
	CreateBulk(ctx context.Context, items []hlr.Subscriber) (created, existing int, err error)
	// List returns up to limit subscribers whose MSISDN sorts after after.
	List(ctx context.Context, after hlr.MSISDN, limit int) ([]hlr.Subscriber, error)
	Get(ctx context.Context, m hlr.MSISDN) (hlr.Subscriber, error)
	Delete(ctx context.Context, m hlr.MSISDN) error
}

var errAttached = errcode.New(errcode.Attached, "the subscriber is attached: detach its phone first")

// SubscriberRequest is the body of POST /api/v1/subscribers and an item of
// a bulk request. The MSISDN is read as a string so that a bad one is
// invalid_msisdn (with its item's index in a bulk), not a JSON type error.
type SubscriberRequest struct {
	MSISDN string  `json:"msisdn"`
	IMSI   *string `json:"imsi,omitempty"`
}

// subscriber checks the MSISDN, and that an IMSI given is not empty (no
// IMSI is said by leaving it out); the rest of the IMSI is the HLR's to
// check.
func (req SubscriberRequest) subscriber() (hlr.Subscriber, error) {
	m, err := hlr.ParseMSISDN(req.MSISDN)
	if err != nil {
		return hlr.Subscriber{}, fmt.Errorf("msisdn: %w", err)
	}
	sub := hlr.Subscriber{MSISDN: m}
	if req.IMSI != nil {
		if *req.IMSI == "" {
			return hlr.Subscriber{}, fmt.Errorf("%w: imsi is empty: give 15 digits, or leave it out for none", errInvalidRequest)
		}
		sub.IMSI = *req.IMSI
	}
	return sub, nil
}

// BulkRequest is the body of POST /api/v1/subscribers:bulk, its items kept
// raw so that each is decoded on its own, a bad one named by its index.
type BulkRequest struct {
	Items []json.RawMessage `json:"items"`
}

// BulkResult is the answer to a bulk request.
type BulkResult struct {
	Created  int `json:"created"`
	Existing int `json:"existing"`
}

// Subscriber is a subscriber as the API shows it. api.md requires every
// field, so "none" and "never" are null rather than left out.
type Subscriber struct {
	MSISDN       hlr.MSISDN `json:"msisdn"`
	IMSI         *string    `json:"imsi"`
	Attached     bool       `json:"attached"`
	CreatedAt    time.Time  `json:"created_at"`
	LastAttachAt *time.Time `json:"last_attach_at"`
	LastDetachAt *time.Time `json:"last_detach_at,omitempty"`
}

// subscriberView shows sub, attached or not as the phones say now.
func (s *server) subscriberView(ctx context.Context, sub hlr.Subscriber) Subscriber {
	v := Subscriber{MSISDN: sub.MSISDN, Attached: s.attached(ctx, sub.MSISDN), CreatedAt: sub.CreatedAt}
	if sub.IMSI != "" {
		v.IMSI = &sub.IMSI
	}
	if !sub.LastAttachAt.IsZero() {
		v.LastAttachAt = &sub.LastAttachAt
	}
	if !sub.LastDetachAt.IsZero() {
		v.LastDetachAt = &sub.LastDetachAt
	}
	return v
}

// ItemProblem is the problem of a bulk request refused for one item: the
// item's position, from 0, is the extension member "index".
type ItemProblem struct {
	Problem
	Index int `json:"index"`
}

// DecodeSubscriber reads and checks the body of POST /api/v1/subscribers.
// Its errors are invalid_request, invalid_msisdn or too_large.
func DecodeSubscriber(r *http.Request) (hlr.Subscriber, error) {
	var req SubscriberRequest
	if err := Decode(r, &req); err != nil {
		return hlr.Subscriber{}, err
	}
	return req.subscriber()
}

// DecodeBulk reads and checks the body of POST /api/v1/subscribers:bulk. A
// bad item is an *hlr.ItemError.
func DecodeBulk(r *http.Request) ([]hlr.Subscriber, error) {
	var req BulkRequest
	if err := Decode(r, &req); err != nil {
		return nil, err
	}
	if req.Items == nil {
		return nil, fmt.Errorf("%w: items is required", errInvalidRequest)
	}
	if len(req.Items) > hlr.MaxBulk {
		return nil, fmt.Errorf("%w: %d items, at most %d", errInvalidRequest, len(req.Items), hlr.MaxBulk)
	}
	subs := make([]hlr.Subscriber, len(req.Items))
	for i, raw := range req.Items {
		var it SubscriberRequest
		err := DecodeJSON(raw, &it)
		if err == nil {
			subs[i], err = it.subscriber()
		}
		if err != nil {
			return nil, &hlr.ItemError{Index: i, Err: err}
		}
	}
	return subs, nil
}

func (s *server) mountSubscribers(r chi.Router) {
	r = need(r, s.Subscribers != nil, "subscriber database")
	r.Post("/api/v1/subscribers", handle(s.createSubscriber))
	r.With(BodyLimit(BulkBodyLimit)).Post("/api/v1/subscribers:bulk", handle(s.bulkSubscribers))
	r.Get("/api/v1/subscribers", handle(s.listSubscribers))
	r.Get("/api/v1/subscribers/{msisdn}", handle(s.getSubscriber))
	r.Delete("/api/v1/subscribers/{msisdn}", handle(s.deleteSubscriber))
}

func (s *server) createSubscriber(w http.ResponseWriter, r *http.Request) error {
	sub, err := DecodeSubscriber(r)
	if err != nil {
		return err
	}
	created, err := s.Subscribers.Create(r.Context(), sub)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/subscribers/"+created.MSISDN.String())
	WriteJSON(w, http.StatusCreated, s.subscriberView(r.Context(), created))
	return nil
}

func (s *server) bulkSubscribers(w http.ResponseWriter, r *http.Request) error {
	items, err := DecodeBulk(r)
	var created, existing int
	if err == nil {
		created, existing, err = s.Subscribers.CreateBulk(r.Context(), items)
	}
	var item *hlr.ItemError
	switch {
	case errors.As(err, &item):
		writeItemProblem(w, item)
		return nil
	case err != nil:
		return err
	}
	WriteJSON(w, http.StatusOK, BulkResult{Created: created, Existing: existing})
	return nil
}

// writeItemProblem answers a bulk request refused for one item. Item errors
// are the client's (invalid_request or invalid_msisdn), never internal.
func writeItemProblem(w http.ResponseWriter, item *hlr.ItemError) {
	code := errcode.Of(item)
	if status, known := statusOf[code]; !known || status >= http.StatusInternalServerError {
		code = errcode.InvalidRequest
	}
	p := newProblem(code, item.Error())
	writeBody(w, "application/problem+json", p.Status, ItemProblem{Problem: p, Index: item.Index})
}

func (s *server) listSubscribers(w http.ResponseWriter, r *http.Request) error {
	p, err := ParsePage(r)
	if err != nil {
		return err
	}
	after, err := msisdnCursor(p)
	if err != nil {
		return err
	}
	page, err := readPage(p, after, func(after hlr.MSISDN, n int) ([]hlr.Subscriber, error) {
		return s.Subscribers.List(r.Context(), after, n)
	}, func(sub hlr.Subscriber) hlr.MSISDN { return sub.MSISDN })
	if err != nil {
		return err
	}
	views := make([]Subscriber, len(page))
	for i, sub := range page {
		views[i] = s.subscriberView(r.Context(), sub)
	}
	WriteJSON(w, http.StatusOK, NewList(views, p, func(v Subscriber) string { return v.MSISDN.String() }))
	return nil
}

func (s *server) getSubscriber(w http.ResponseWriter, r *http.Request) error {
	m, err := pathMSISDN(r)
	if err != nil {
		return err
	}
	sub, err := s.Subscribers.Get(r.Context(), m)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, s.subscriberView(r.Context(), sub))
	return nil
}

// deleteSubscriber refuses an attached subscriber. The check and the delete
// are not atomic: a phone attached in between keeps running until it
// detaches, and cannot re-attach (without auto-provisioning) after that.
func (s *server) deleteSubscriber(w http.ResponseWriter, r *http.Request) error {
	m, err := pathMSISDN(r)
	if err != nil {
		return err
	}
	if attached, err := s.attachedNow(r.Context(), m); err != nil {
		return err
	} else if attached {
		return fmt.Errorf("%w: %s", errAttached, m)
	}
	if err := s.Subscribers.Delete(r.Context(), m); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pathMSISDN is the {msisdn} of the route; a malformed one is 400
// invalid_msisdn.
func pathMSISDN(r *http.Request) (hlr.MSISDN, error) {
	return hlr.ParseMSISDN(chi.URLParam(r, "msisdn"))
}

// msisdnCursor is the MSISDN a page of an MSISDN-ordered list starts
// after; the zero MSISDN for the first page.
func msisdnCursor(p Page) (hlr.MSISDN, error) {
	if p.After == "" {
		return 0, nil
	}
	m, err := hlr.ParseMSISDN(p.After)
	if err != nil {
		return 0, fmt.Errorf("%w: after is not a cursor from a previous page", errInvalidRequest)
	}
	return m, nil
}

// readPage reads the page p asks for plus one item, which tells NewList
// whether there is a next page. Stores cap a read at MaxLimit, so a page
// of MaxLimit takes a second read of one item after the first.
func readPage[T, K any](p Page, after K, read func(after K, n int) ([]T, error), key func(T) K) ([]T, error) {
	n := min(p.Limit+1, MaxLimit)
	items, err := read(after, n)
	if err != nil || len(items) < n || n > p.Limit {
		return items, err
	}
	more, err := read(key(items[len(items)-1]), 1)
	return append(items, more...), err
}
