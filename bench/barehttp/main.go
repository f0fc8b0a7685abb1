// Command barehttp is the yardstick of BENCHMARKS.md's HTTP figures: a
// bare net/http server with one JSON handler doing what a phone action's
// HTTP part does (decode a small JSON body, encode a small JSON answer)
// and nothing else, so that wrk measures bsc against the cost of HTTP
// itself on the same machine, in the same run.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"
)

type action struct {
	Action string `json:"action"`
	To     string `json:"to,omitempty"`
}

type phone struct {
	MSISDN string    `json:"msisdn"`
	State  string    `json:"state"`
	Peer   string    `json:"peer,omitempty"`
	Since  time.Time `json:"since"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/phones/{msisdn}/actions", func(w http.ResponseWriter, r *http.Request) {
		var a action
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(phone{MSISDN: r.PathValue("msisdn"), State: "idle", Peer: a.To, Since: time.Now()})
	})
	log.Fatal(http.ListenAndServe(*listen, mux))
}
