package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The node and cell views are read, every renewEvery, as the last value
// of every key of their bucket in one direct batch get, rather than
// watched. A watch is a consumer that lives on one server: when that
// server dies the watch stalls until the client's heartbeat check gives
// up on it (10 s and more). A direct get is answered by any server that
// holds the bucket, the first to answer.

// kvValue is a key's last value as a snapshot reads it.
type kvValue struct {
	Value   []byte
	Rev     uint64
	Written time.Time
	TTL     time.Duration // the write's own TTL (Nats-TTL), 0: none
	Deleted bool          // deleted, purged, or expired (its marker)
}

// live tells whether the value is there at now: not deleted, and not
// past its TTL. A key past its TTL is expired even before the bucket's
// leader writes its marker: that leader may be the server that died,
// and the engine expires the key by the same rule once a new one is
// elected.
func (v kvValue) live(now time.Time) bool {
	return !v.Deleted && (v.TTL == 0 || now.Sub(v.Written) < v.TTL)
}

// snapshot reads the last value of every key of bucket.
func (e *Engine) snapshot(ctx context.Context, bucket string) (map[string]kvValue, error) {
	return e.snapshotOf(ctx, bucket, ">")
}

// snapshotOf reads the last value of the keys of bucket that match keys (a
// subject pattern: "3.>").
func (e *Engine) snapshotOf(ctx context.Context, bucket, keys string) (map[string]kvValue, error) {
	inbox := e.NC.NewRespInbox()
	sub, err := e.NC.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	prefix := "$KV." + bucket + "."
	req, _ := json.Marshal(map[string]any{"multi_last": []string{prefix + keys}, "batch": maxSnapshot})
	if err := e.NC.PublishRequest("$JS.API.DIRECT.GET.KV_"+bucket, inbox, req); err != nil {
		return nil, err
	}
	out := map[string]kvValue{}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, err
		}
		switch status := m.Header.Get("Status"); status {
		case "":
		case "204": // end of the batch
			return out, nil
		case "404": // an empty bucket
			return out, nil
		default:
			return nil, fmt.Errorf("direct get %s: %s %s", bucket, status, m.Header.Get("Description"))
		}
		key, ok := strings.CutPrefix(m.Header.Get("Nats-Subject"), prefix)
		if !ok {
			continue
		}
		v := kvValue{Value: m.Data}
		v.Rev, _ = strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
		v.Written, _ = time.Parse(time.RFC3339Nano, m.Header.Get("Nats-Time-Stamp"))
		v.TTL = parseTTL(m.Header.Get("Nats-TTL"))
		op := m.Header.Get("KV-Operation")
		v.Deleted = op == "DEL" || op == "PURGE" || m.Header.Get("Nats-Marker-Reason") != ""
		out[key] = v
	}
}

// maxSnapshot bounds the keys of a snapshot: a bucket of nodes or cells
// holds at most a few thousand.
const maxSnapshot = 4096

// parseTTL reads a Nats-TTL header: a Go duration or whole seconds.
func parseTTL(s string) time.Duration {
	if s == "" || s == "never" {
		return 0
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d
	}
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second
	}
	return 0
}
