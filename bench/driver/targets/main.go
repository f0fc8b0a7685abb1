// Command targets writes, for vegeta's `attack -format=json`, the
// requests of call -> accept -> hangup cycles over pairs of phones
// (4690000000 + 2i calls 4690000000 + 2i + 1), spaced so that vegeta,
// sending one target every 1/rate s, makes the accept hold after the
// call's answer and the hangup hold after the accept: the same work as
// `bsc load`'s traffic model at rate/3 call attempts per second
// (bench/driver/compare.sh).
//
//	go run ./bench/driver/targets --rate 3000 --hold 166ms --duration 20s >t.json; vegeta attack -format=json -rate 3000/s -duration 20s <t.json
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

type target struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Body   []byte              `json:"body,omitempty"` // base64 in JSON, as vegeta reads it
	Header map[string][]string `json:"header,omitempty"`
}

func main() {
	base := flag.String("target", "http://127.0.0.1:18280", "base URL of the bsc")
	pairs := flag.Int("pairs", 500, "pairs of phones, attached beforehand")
	rate := flag.Int("rate", 3000, "requests per second, vegeta's -rate")
	hold := flag.Duration("hold", 166*time.Millisecond, "from a call to its accept, and from the accept to the hangup")
	duration := flag.Duration("duration", 20*time.Second, "how many targets: rate x duration")
	flag.Parse()

	// Slot k (sent at k/rate s) carries step k%3 of cycle k/3 - (k%3)*h:
	// a cycle's steps are 3h slots, hold apart. A pair's next cycle must
	// not start before its last one ended.
	h := int(hold.Seconds() * float64(*rate) / 3)
	if *pairs <= 2*h+1 {
		log.Fatalf("targets: %d pairs cannot hold %v at %d requests/s: want more than %d", *pairs, *hold, *rate, 2*h+1)
	}
	w := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(w)
	jsonType := map[string][]string{"Content-Type": {"application/json"}}
	n := int(duration.Seconds() * float64(*rate))
	for k := range n {
		step, c := k%3, k/3-(k%3)*h
		t := target{Method: http.MethodGet, URL: *base + "/healthz"} // the first slots of steps whose cycle did not start
		if c >= 0 {
			p := c % *pairs
			caller, callee := 4690000000+2*p, 4690000000+2*p+1
			t = target{Method: http.MethodPost, Header: jsonType}
			switch step {
			case 0:
				t.URL, t.Body = fmt.Sprintf("%s/api/v1/phones/%d/actions", *base, caller), fmt.Appendf(nil, `{"action":"call","to":"%d"}`, callee)
			case 1:
				t.URL, t.Body = fmt.Sprintf("%s/api/v1/phones/%d/actions", *base, callee), []byte(`{"action":"accept"}`)
			case 2:
				t.URL, t.Body = fmt.Sprintf("%s/api/v1/phones/%d/actions", *base, caller), []byte(`{"action":"hangup"}`)
			}
		}
		if err := enc.Encode(t); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
}
