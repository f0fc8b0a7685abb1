package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"

	"github.com/bsc-sim/bsc/internal/errcode"
	"github.com/rs/zerolog/hlog"
)

// statusOf is the one table from the stable error codes of api.md to HTTP
// statuses. Domain packages only declare errors with a code (errcode.New);
// TestEveryCodeHasAStatus fails when a code of errcode.All has no row here.
var statusOf = map[errcode.Code]int{
	errcode.InvalidRequest: http.StatusBadRequest,
	errcode.InvalidMSISDN:  http.StatusBadRequest,
	errcode.UnknownDrink:   http.StatusBadRequest,
	errcode.UnknownEvent:   http.StatusBadRequest,
	errcode.InvalidCoin:    http.StatusBadRequest,

	errcode.Unauthorized: http.StatusUnauthorized,
	errcode.NotOwner:     http.StatusForbidden,

	errcode.NotFound:          http.StatusNotFound,
	errcode.UnknownSubscriber: http.StatusNotFound,
	errcode.NotAttached:       http.StatusNotFound,
	errcode.InvalidNumber:     http.StatusNotFound,
	errcode.NotAllocated:      http.StatusNotFound,
	errcode.NotInstalled:      http.StatusNotFound,

	errcode.MethodNotAllowed: http.StatusMethodNotAllowed,
	errcode.NotAcceptable:    http.StatusNotAcceptable,

	errcode.AlreadyExists:    http.StatusConflict,
	errcode.AlreadyAttached:  http.StatusConflict,
	errcode.AlreadyInstalled: http.StatusConflict,
	errcode.Attached:         http.StatusConflict,
	errcode.Busy:             http.StatusConflict,
	errcode.InvalidState:     http.StatusConflict,
	errcode.NoFrequency:      http.StatusConflict,

	errcode.TooLarge:             http.StatusRequestEntityTooLarge,
	errcode.UnsupportedMediaType: http.StatusUnsupportedMediaType,

	errcode.Internal:    http.StatusInternalServerError,
	errcode.Unavailable: http.StatusServiceUnavailable,
	errcode.Overloaded:  http.StatusServiceUnavailable,
}

// Errors of the HTTP layer itself, with the same codes as the domain's.
var (
	errInvalidRequest   = errcode.New(errcode.InvalidRequest, "invalid request")
	errTooLarge         = errcode.New(errcode.TooLarge, "request body too large")
	errUnsupportedMedia = errcode.New(errcode.UnsupportedMediaType, "unsupported media type")
	errUnauthorized     = errcode.New(errcode.Unauthorized, "missing or wrong bearer token")
	errNotFound         = errcode.New(errcode.NotFound, "no such resource")
	errMethodNotAllowed = errcode.New(errcode.MethodNotAllowed, "method not allowed")
	errOverloaded       = errcode.New(errcode.Overloaded, "overloaded: request shed, retry later")
	errUnavailable      = errcode.New(errcode.Unavailable, "service unavailable")
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
func ProblemType(code errcode.Code) string { return "urn:bsc:problem:" + code.String() }

// newProblem is the problem of code, with its status from statusOf.
func newProblem(code errcode.Code, detail string) Problem {
	status := statusOf[code]
	return Problem{
		Type:   ProblemType(code),
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code.String(),
	}
}

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
	if ctxErr && code == errcode.None {
		hlog.FromRequest(r).Warn().Err(err).Msg("gave up waiting")
		writeLogged(w, r, errcode.Unavailable, "service unavailable: gave up waiting")
		return
	}
	status, known := statusOf[code]
	if !known || status == http.StatusInternalServerError {
		hlog.FromRequest(r).Error().Err(err).Msg("internal error")
		writeInternal(w, r)
		return
	}
	writeProblem(w, newProblem(code, err.Error()))
}

// statusClientClosedRequest is nginx's status for a request whose client
// went away before the answer, which no client ever sees: it keeps such
// requests apart from the served ones in the access log and metrics.
const statusClientClosedRequest = 499

// writeInternal answers 500 internal for an error already logged.
func writeInternal(w http.ResponseWriter, r *http.Request) {
	writeLogged(w, r, errcode.Internal, "internal error")
}

// writeLogged answers the problem code for an error already logged, whose
// Go text stays on the server: the detail tells what happened and the
// request id to find the log line by.
func writeLogged(w http.ResponseWriter, r *http.Request, code errcode.Code, what string) {
	writeProblem(w, newProblem(code, what+", logged with request id "+RequestID(r)))
}

// writeProblem answers p. A 503 (overloaded, unavailable) says when to
// try again: the cause, a full queue or a database that cannot be written,
// is expected to pass.
func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter())
	}
	writeBody(w, "application/problem+json", p.Status, p)
}

// retryAfter is the Retry-After of a 503: 1 or 2 seconds, drawn at
// random. Every client shed in one burst and told the same second came
// back in one burst, to be shed again: at twice the peak over 2,000
// connections, spreading them over two seconds raised the goodput and
// lowered the health checks' p99 (BENCHMARKS.md, overload).
func retryAfter() string { return retryAfters[rand.IntN(len(retryAfters))] }

var retryAfters = [...]string{"1", "2"}

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
	body = compressBody(w, append(body, '\n'))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
