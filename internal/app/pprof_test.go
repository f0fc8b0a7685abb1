package app

import (
	"net/http"
	"testing"

	"github.com/rs/zerolog"
)

func TestPprofListener(t *testing.T) {
	a := &App{log: zerolog.Nop()}
	addr, stop, err := a.startPprof("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
}
