// Package loadtest starts a real bsc in-process for the tests of the load
// driver (internal/load and cmd/bsc): the same assembly as `bsc serve`,
// with its database in a temporary directory, behind an httptest server on
// loopback.
package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/bsc-sim/bsc/internal/app"
	"github.com/bsc-sim/bsc/internal/config"
)

// Start runs a bsc until the test ends. mutate, if not nil, adjusts the
// config (config.Default() otherwise). Kill, on the returned server, makes
// it die as seen from its clients.
func Start(t testing.TB, mutate func(*config.Config)) *Server {
	t.Helper()
	return StartWrapped(t, mutate, nil)
}

// StartWrapped is Start with the API behind wrap, if not nil: a test sees
// or alters the requests on their way in.
func StartWrapped(t testing.TB, mutate func(*config.Config), wrap func(http.Handler) http.Handler) *Server {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DB = filepath.Join(dir, "bsc.db")
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.LogLevel = zerolog.WarnLevel
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := app.New(context.Background(), cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(cfg.LogLevel))
	if err != nil {
		t.Fatal(err)
	}
	a.OverloadLog = filepath.Join(dir, "overload.log")
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var h http.Handler = a.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	s := &Server{Server: httptest.NewServer(h), App: a}
	t.Cleanup(func() {
		s.Kill()
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

// Server is a running bsc.
type Server struct {
	*httptest.Server
	App *app.App
}

// Kill makes the server vanish for its clients, as a crashed process
// would: nothing listens any more and every open connection is closed.
// (httptest's Close would wait for the event streams to end.)
func (s *Server) Kill() {
	_ = s.Listener.Close()
	s.CloseClientConnections()
}
