package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// errNoKey: the key has no value (never written, or deleted).
var errNoKey = errors.New("no such key")

// leaderGet reads key of bucket from the bucket's Raft leader, through the
// stream API rather than a direct get (which any replica answers, one
// behind included): what a quorum acknowledged is there. It returns the
// value and its revision, or errNoKey. The leader is waited for (it may be
// being elected) as long as a forwarded request waits for its node.
func (e *Engine) leaderGet(ctx context.Context, bucket, key string) ([]byte, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultForwardTimeout)
	defer cancel()
	m, err := e.leaderMsg(ctx, bucket, map[string]any{"last_by_subj": "$KV." + bucket + "." + key})
	switch {
	case err != nil:
		return nil, 0, err
	case m.deleted:
		return nil, 0, errNoKey
	}
	return m.data, m.seq, nil
}

// leaderMsg is one message of bucket's stream, read from its leader as
// leaderGet does; req names it (by seq, last by subject, next by
// subject). errNoKey: there is none.
func (e *Engine) leaderMsg(ctx context.Context, bucket string, req any) (storedMsg, error) {
	body, _ := json.Marshal(req)
	res, err := e.leaderRequest(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, body)
	if err != nil {
		return storedMsg{}, err
	}
	var answer struct {
		Message *struct {
			Subject string `json:"subject"`
			Seq     uint64 `json:"seq"`
			Data    []byte `json:"data"`
			Hdrs    []byte `json:"hdrs"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(res.Data, &answer); err != nil {
		return storedMsg{}, err
	}
	switch {
	case answer.Error != nil && answer.Error.Code == 404:
		return storedMsg{}, errNoKey
	case answer.Error != nil:
		return storedMsg{}, fmt.Errorf("get from %s: %s", bucket, answer.Error.Description)
	case answer.Message == nil:
		return storedMsg{}, errNoKey
	}
	m := storedMsg{key: strings.TrimPrefix(answer.Message.Subject, "$KV."+bucket+"."), seq: answer.Message.Seq,
		data: bytes.Clone(answer.Message.Data)}
	if len(answer.Message.Hdrs) > 0 {
		if h, err := nats.DecodeHeadersMsg(answer.Message.Hdrs); err == nil {
			op := h.Get("KV-Operation")
			m.deleted = op == "DEL" || op == "PURGE" || h.Get("Nats-Marker-Reason") != ""
		}
	}
	return m, nil
}

// lastSeq is the sequence of the last message stream holds, from its
// leader (sent again while it is elected, as leaderRequest does).
func (e *Engine) lastSeq(ctx context.Context, stream string) (uint64, error) {
	res, err := e.leaderRequest(ctx, "$JS.API.STREAM.INFO."+stream, nil)
	if err != nil {
		return 0, err
	}
	var info struct {
		State *struct {
			LastSeq uint64 `json:"last_seq"`
		} `json:"state"`
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	switch err := json.Unmarshal(res.Data, &info); {
	case err != nil:
		return 0, err
	case info.Error != nil:
		return 0, fmt.Errorf("the state of %s: %s", stream, info.Error.Description)
	case info.State == nil:
		return 0, fmt.Errorf("the state of %s: none in the answer", stream)
	}
	return info.State.LastSeq, nil
}

// leaderRequest sends an API request that only a stream's leader answers.
// While the leader is being elected nobody answers, and a request sent
// then stays unanswered though a leader is elected a moment later (or is
// answered at once that there is none): the request is sent again every
// leaderAttempt until ctx ends. (An action on a phone this node's copy did
// not know yet, sent through it just after the home died, waited out its
// client's 5 s though the leader was elected in 3.) An attempt is not
// given up when the next is sent, so a leader slower than leaderAttempt
// is still heard: the requests are reads, and any answer is one given
// after ctx began. Each is a request on the connection's shared reply
// inbox: no subscription of its own.
func (e *Engine) leaderRequest(ctx context.Context, subject string, body []byte) (*nats.Msg, error) {
	type answer struct {
		m   *nats.Msg
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	answers := make(chan answer)
	send := func() {
		wg.Go(func() {
			m, err := e.NC.RequestWithContext(ctx, subject, body)
			select {
			case answers <- answer{m, err}:
			case <-ctx.Done():
			}
		})
	}
	send()
	tick := time.NewTicker(leaderAttempt)
	defer tick.Stop()
	for {
		select {
		case a := <-answers:
			switch {
			case a.err == nil && !electing(a.m):
				return a.m, nil
			case a.err != nil && !errors.Is(a.err, context.DeadlineExceeded) && !errors.Is(a.err, context.Canceled):
				return nil, a.err
			}
			// Electing: the next attempt is sent at its time.
		case <-tick.C:
			send()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// electing tells whether an API answer says that the stream has no
// leader now (err_code 10008, "JetStream system temporarily
// unavailable"), which a member of its group answers at once while it
// elects one.
func electing(m *nats.Msg) bool {
	var answer struct {
		Error *struct {
			ErrCode int `json:"err_code"`
		} `json:"error"`
	}
	return json.Unmarshal(m.Data, &answer) == nil && answer.Error != nil && answer.Error.ErrCode == 10008
}

// leaderAttempt bounds one request to a stream's leader: an elected
// leader answers within milliseconds.
const leaderAttempt = 500 * time.Millisecond

// storedMsg is a message of a bucket's stream: its key, value and
// revision, and whether it deletes the key.
type storedMsg struct {
	key     string
	data    []byte
	seq     uint64
	deleted bool
}
