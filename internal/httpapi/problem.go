package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/rs/zerolog/hlog"
)

// statusOf is the one table from the stable error codes of api.md to HTTP
// statuses. Domain packages only declare codes (errcode.New); a code missing
// here is served as 500 internal, so a new code needs a row.
var statusOf = map[string]int{
	"invalid_request": http.StatusBadRequest,
	"invalid_msisdn":  http.StatusBadRequest,
	"unknown_drink":   http.StatusBadRequest,
	"unknown_event":   http.StatusBadRequest,
	"invalid_coin":    http.StatusBadRequest,

	"unauthorized": http.StatusUnauthorized,
	"not_owner":    http.StatusForbidden,

	"not_found":          http.StatusNotFound,
	"unknown_subscriber": http.StatusNotFound,
	"not_attached":       http.StatusNotFound,
	"invalid_number":     http.StatusNotFound,
	"not_allocated":      http.StatusNotFound,
	"not_installed":      http.StatusNotFound,

	"method_not_allowed": http.StatusMethodNotAllowed,
	"not_acceptable":     http.StatusNotAcceptable,

	"already_exists":    http.StatusConflict,
	"already_attached":  http.StatusConflict,
	"already_installed": http.StatusConflict,
	"attached":          http.StatusConflict,
	"busy":              http.StatusConflict,
	"invalid_state":     http.StatusConflict,
	"no_frequency":      http.StatusConflict,

	"too_large": http.StatusRequestEntityTooLarge,

	"internal":    http.StatusInternalServerError,
	"unavailable": http.StatusServiceUnavailable,
	"overloaded":  http.StatusServiceUnavailable,
}

// Errors of the HTTP layer itself, with the same codes as the domain's.
var (
	errInvalidRequest   = errcode.New("invalid_request", "invalid request")
	errTooLarge         = errcode.New("too_large", "request body too large")
	errUnauthorized     = errcode.New("unauthorized", "missing or wrong bearer token")
	errNotFound         = errcode.New("not_found", "no such resource")
	errMethodNotAllowed = errcode.New("method_not_allowed", "method not allowed")
	errOverloaded       = errcode.New("overloaded", "overloaded: request shed, retry later")
	errUnavailable      = errcode.New("unavailable", "service unavailable")
)

// Problem is an RFC 9457 problem details body, served as
// application/problem+json for every error.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

// ProblemType is the type URI of the problems with a code; the code is the
// stable part clients match on.
func ProblemType(code string) string { return "urn:bsc:problem:" + code }

// WriteError answers with the problem for err: its errcode code mapped to a
// status, and its message as detail. An error without a known code, or with
// code internal, is a 500 whose detail only gives the request id: the Go
// error is logged, never sent.
//
// A context error is no fault of the service. When the request's own
// context is done, the client went away and the domain gave up because of
// it: nothing is logged above debug and no body is written, only the
// status for the access log and metrics. Otherwise, without a code, the
// context was ours (a deadline of the service, a process stopping): the
// service could not answer in time, which is 503 unavailable.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	ctxErr := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	if ctxErr && r.Context().Err() != nil {
		hlog.FromRequest(r).Debug().Err(err).Msg("client gone")
		w.WriteHeader(statusClientClosedRequest)
		return
	}
	code := errcode.Of(err)
	if ctxErr && code == "" {
		hlog.FromRequest(r).Warn().Err(err).Msg("gave up waiting")
		writeLogged(w, r, "unavailable", "service unavailable: gave up waiting")
		return
	}
	status, known := statusOf[code]
	if !known || status == http.StatusInternalServerError {
		hlog.FromRequest(r).Error().Err(err).Msg("internal error")
		writeInternal(w, r)
		return
	}
	writeProblem(w, Problem{
		Type:   ProblemType(code),
		Title:  http.StatusText(status),
		Status: status,
		Detail: err.Error(),
		Code:   code,
	})
}

// statusClientClosedRequest is nginx's status for a request whose client
// went away before the answer, which no client ever sees: it keeps such
// requests apart from the served ones in the access log and metrics.
const statusClientClosedRequest = 499

// writeInternal answers 500 internal for an error already logged.
func writeInternal(w http.ResponseWriter, r *http.Request) {
	writeLogged(w, r, "internal", "internal error")
}

// writeLogged answers the problem code for an error already logged, whose
// Go text stays on the server: the detail tells what happened and the
// request id to find the log line by.
func writeLogged(w http.ResponseWriter, r *http.Request, code, what string) {
	status := statusOf[code]
	writeProblem(w, Problem{
		Type:   ProblemType(code),
		Title:  http.StatusText(status),
		Status: status,
		Detail: what + ", logged with request id " + RequestID(r),
		Code:   code,
	})
}

// writeProblem answers p. A 503 (overloaded, unavailable) says when to
// try again: the cause, a full queue or a database that cannot be written,
// is expected to pass.
func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeBody(w, "application/problem+json", p.Status, p)
}

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, "application/json", status, v)
}

func writeBody(w http.ResponseWriter, contentType string, status int, v any) {
	// Encoding first means a value that cannot be encoded is still a clean
	// 500: the panic is a programming error, logged with its stack by the
	// recovery middleware before anything was sent.
	body, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Errorf("httpapi: encoding %T: %w", v, err))
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
