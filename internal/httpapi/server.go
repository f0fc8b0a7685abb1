// Package httpapi is the HTTP layer of bsc: the router, the middleware every
// route shares (request id, access log and metrics, panic recovery, body
// limit, bearer auth, load regulation), the error and JSON writers, and the
// routes themselves, one file per feature.
//
// A feature adds a file with a mountX(r chi.Router) method on server, the
// fields it needs in Deps (an interface of the methods its routes use,
// declared beside them), and one line in routes; the middleware stays as
// it is. Its routes are mounted on need(r, ...) when the app may leave a
// dependency out. Handlers have one shape, a handler served by handle:
// they answer with WriteJSON or return the error (WriteError answers it),
// read bodies with Decode, and page lists with ParsePage and NewList.
package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/bsc-sim/bsc/internal/sup"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"
)

// Deps is what the routes need from the application. A dependency left
// out (nil) makes its routes answer 503 unavailable. The processes that
// restart are given as lookups of their current incarnation, which answer
// an unavailable error while there is none.
type Deps struct {
	Log      zerolog.Logger
	Registry *prometheus.Registry // served on /metrics; nil: a fresh NewRegistry()
	Token    string               // bearer token for mutating requests; "" = no auth

	MaxInflight int           // requests served at once, excess shed; 0 = DefaultMaxInflight
	QueueWait   time.Duration // how long a request waits for a slot before it is shed; 0 = DefaultQueueWait
	OnShed      func()        // called on each shed request (raises "overloaded"); must not block

	Ready func() error // readiness for /readyz: nil, or why not; nil func = always ready
	// Draining tells when a graceful stop began: new mutating requests and
	// new streams are refused with 503 unavailable. nil = never.
	Draining func() bool
	Tree     func() sup.Node // the supervision tree; nil = 503 unavailable

	Coffee func() CoffeeMachines // the coffee machine registry; nil or nil result = 503 unavailable

	// The per-cell processes, by cell (a single node has cell 0 only): an
	// unavailable error for a cell this node does not run.
	Allocator func(cell int) (Allocator, error)       // the frequency allocator
	Overload  func(cell int) (OverloadManager, error) // the overload manager, for the alarm and overload routes
	SetPool   func(cell int, pool []int) error        // replaces the pool, also for later restarts; nil = 503
	// Cluster routes requests to the node that owns what they name, in
	// cluster mode; nil on a single node.
	Cluster Cluster
	// ClusterStatus answers GET /api/v1/cluster; nil = 503.
	ClusterStatus func() ClusterStatus
	// DrainNode starts draining this node (cluster mode; nil: a single
	// node, which has nowhere to hand its cells).
	DrainNode func() error

	Process        func(name string) (Process, error) // introspection; a not_found error for an unknown name
	FaultInjection bool                               // enables POST /api/v1/processes/{name}:crash
	LogDir         string                             // where logger files named by clients go; "" = stdout only

	Subscribers Subscribers              // the HLR's subscriber table
	Phones      PhoneService             // attach, act and detach
	PhoneSet    func() (PhoneSet, error) // the phones attached to the current phones supervisor
	Hub         Hub                      // the phones' devices, for their replies
	Calls       CallStore                // the call detail records

	MaxStreams      int           // event streams and long polls open at once, excess shed; 0 = DefaultMaxStreams
	StreamHeartbeat time.Duration // comment sent on an idle stream; 0 = DefaultHeartbeat
}

// server holds the router being built and what the mount methods share.
type server struct {
	Deps
	router   *chi.Mux
	metrics  *httpMetrics
	limiter  *limiter
	inflight inflight
	// streaming are the routes ("METHOD pattern") whose requests last as
	// long as a stream or a long poll: Drain does not wait for them.
	streaming map[string]bool
	// documented maps "METHOD served-pattern" to the patterns the API
	// documents for it, where they differ (see customMethods).
	documented map[string][]string
}

// API is the handler serving the whole API.
type API struct{ s *server }

// New returns the API.
func New(d Deps) *API { return &API{newServer(d, nil)} }

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.s.router.ServeHTTP(w, r) }

// Drain waits, as long as ctx allows, until the requests in flight are
// answered: the first step of a graceful stop, after Draining turned true
// and while the listener still answers (readiness 503). Streams and long
// polls are not waited for: the server's Shutdown ends them.
func (a *API) Drain(ctx context.Context) error { return a.s.inflight.wait(ctx) }

// newServer builds the router; extra mounts routes inside the regulated
// group, which lets tests add routes (a panicking one, say) to the real stack.
func newServer(d Deps, extra func(*server, chi.Router)) *server {
	if d.Registry == nil {
		d.Registry = NewRegistry()
	}
	s := &server{
		Deps:       d,
		router:     chi.NewRouter(),
		metrics:    newHTTPMetrics(d.Registry),
		limiter:    newLimiter(d.MaxInflight, d.QueueWait, d.OnShed),
		streaming:  map[string]bool{},
		documented: map[string][]string{},
	}
	s.routes(extra)
	for _, rt := range s.servedRoutes() {
		// HEAD is rare: its series are born on first use rather than
		// doubling those of every GET route.
		if rt.method != http.MethodHead {
			s.metrics.init(rt.pattern, rt.method)
		}
	}
	s.metrics.init(unmatchedRoute, http.MethodGet)
	s.metrics.init(unmatchedRoute, http.MethodPost)
	return s
}

func (s *server) routes(extra func(*server, chi.Router)) {
	r := s.router
	// GetHead serves HEAD with the GET handler, whose body net/http drops
	// (and counts for Content-Length when small): what HEAD means (RFC
	// 9110 9.3.2). The stream routes answer a HEAD at once (events.go).
	r.Use(hlog.NewHandler(s.Log), requestID, s.metrics.observe, recoverer, offerGzip, middleware.GetHead)
	r.NotFound(handle(func(_ http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("%w: no route %s %s", errNotFound, r.Method, r.URL.Path)
	}))
	r.MethodNotAllowed(handle(s.methodNotAllowed))

	// Probes and scrapes bypass auth and load regulation: they must answer
	// most of all when the server is overloaded.
	s.mountProbes(r)

	r.Group(func(r chi.Router) {
		r.Use(s.refuseWhileDraining, s.trackInflight, limitBody)
		if s.Token != "" {
			r.Use(bearerAuth(s.Token)) // before the limiter: strangers take no slot
		}
		r.Use(s.limiter.middleware, s.routeCluster)
		s.mountService(r)
		s.mountSupervision(r)
		// Features mount here, one line each: s.mountFrequencies(r), ...
		s.mountCoffee(r)
		s.mountFrequencies(r)
		s.mountAlarms(r)
		s.mountProcesses(r)
		s.mountSubscribers(r)
		s.mountPhones(r)
		s.mountEvents(r)
		s.mountCalls(r)
		s.mountCluster(r)
		s.mountUI(r)
		if extra != nil {
			extra(s, r)
		}
	})
}

// admitByBody leaves the in-flight limit of a route to its handler, which
// calls admit once the body says whether the request takes resources.
func (s *server) admitByBody(method, pattern string) {
	s.limiter.byBody[method+" "+pattern] = true
}

// neverShed exempts a route from the in-flight limit, for routes that
// release resources or hold their own bound (SSE streams). pattern is the
// served chi pattern.
func (s *server) neverShed(method, pattern string) {
	s.limiter.exempt[method+" "+pattern] = true
}

// methodNotAllowed answers 405 with the Allow header chi leaves out when
// the handler is replaced.
func (s *server) methodNotAllowed(w http.ResponseWriter, r *http.Request) error {
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if s.router.Match(chi.NewRouteContext(), m, path) {
			w.Header().Add("Allow", m)
			if m == http.MethodGet {
				w.Header().Add("Allow", http.MethodHead)
			}
		}
	}
	return fmt.Errorf("%w: %s %s", errMethodNotAllowed, r.Method, r.URL.Path)
}

type route struct{ method, pattern string }

// servedRoutes lists every route as the API documents it, custom methods
// under their documented pattern, and HEAD beside every GET (GetHead).
func (s *server) servedRoutes() []route {
	var routes []route
	_ = chi.Walk(s.router, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method == http.MethodGet {
			routes = append(routes, route{http.MethodHead, pattern})
		}
		if docs, ok := s.documented[method+" "+pattern]; ok {
			for _, d := range docs {
				routes = append(routes, route{method, d})
			}
			return nil
		}
		routes = append(routes, route{method, pattern})
		return nil
	})
	return routes
}
