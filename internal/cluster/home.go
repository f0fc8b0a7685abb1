package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The engine's home. A write to a replicated bucket or stream goes through
// its Raft leader; when the server that led it dies, writes to it pause
// for an election (4 to 9 s on the embedded server, not tunable), and a
// lease that cannot be renewed for that long is given up. If the leaders
// were spread over the nodes, nearly every node's death would pause some
// bucket. So they are kept together, on one node, the home: the live node
// with the lowest name. The death of any other node waits on no election;
// the home's does (GET /api/v1/cluster says which node it is). The home
// asks JetStream to move to it any leader it does not have (a leader
// stepdown with a preferred server: JetStream elects, bsc only asks).

// homeEvery is how often the home checks where the leaders are, once
// they are all home.
const homeEvery = 2 * time.Second

// Home is the node that should lead the streams: the serving node with
// the lowest name (a draining node is about to stop: the leaders leave it
// before it does), or the lowest live one if all are draining.
func (n *Node) Home() string {
	if serving := n.Members.Serving(); len(serving) > 0 {
		return serving[0]
	}
	if live := n.Members.Live(); len(live) > 0 {
		return live[0]
	}
	return ""
}

// StreamLeader is a stream (or bucket) of the cluster and its leader.
type StreamLeader struct {
	Name     string   `json:"name"`
	Leader   string   `json:"leader"`
	Replicas int      `json:"replicas"`
	current  []string // the followers up to date with the leader
}

// Leaders lists bsc's streams and buckets with their leaders (those
// read in time).
func (n *Node) Leaders(ctx context.Context) []StreamLeader {
	out, _ := n.leaders(ctx)
	return out
}

// leaders is Leaders, with the error of a list not read whole.
func (n *Node) leaders(ctx context.Context) ([]StreamLeader, error) {
	var out []StreamLeader
	lister := n.Engine.JS.ListStreams(ctx)
	for info := range lister.Info() {
		if !ours(info.Config.Name) {
			continue
		}
		s := StreamLeader{Name: info.Config.Name, Replicas: info.Config.Replicas}
		if info.Cluster != nil {
			s.Leader = info.Cluster.Leader
			for _, r := range info.Cluster.Replicas {
				if r.Current && !r.Offline && r.Lag == 0 {
					s.current = append(s.current, r.Name)
				}
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b StreamLeader) int { return strings.Compare(a.Name, b.Name) })
	return out, lister.Err()
}

// ours tells whether a stream is one of bsc's.
func ours(stream string) bool {
	return strings.HasPrefix(stream, "KV_bsc-") || strings.HasPrefix(stream, "BSC_")
}

// steer runs until ctx ends: while this node is the home, it asks for the
// leaders it does not have; often while some are away, every homeEvery
// once they are all home. A node that has just become the home (it came
// back, say, in a rolling upgrade) waits homeSettle first, and asks for a
// stream's leader only once its replica is current: a leader moved to a
// replica behind pauses the writes until it has caught up (seconds, or a
// minute once in the rolling-upgrade test, while calls wait for their
// notes).
func (n *Node) steer(ctx context.Context) {
	wait := homeSoon
	var homeSince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = homeEvery
		if n.Draining() {
			if left, err := n.giveLeaders(ctx); left > 0 || err != nil {
				wait = homeSoon
			}
			continue
		}
		if n.Home() != n.Engine.Node {
			homeSince = time.Time{}
			continue
		}
		if homeSince.IsZero() {
			homeSince = time.Now()
		}
		if time.Since(homeSince) < homeSettle {
			wait = homeSoon
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, homeEvery)
		for _, s := range n.Leaders(sctx) {
			if s.Leader == n.Engine.Node || s.Replicas < 2 {
				continue
			}
			wait = homeSoon
			if !slices.Contains(s.current, n.Engine.Node) {
				continue // behind: a leader moved here would pause the writes until it caught up
			}
			if err := n.stepDown(sctx, s.Name, n.Engine.Node); err != nil {
				n.log.Debug().Err(err).Str("stream", s.Name).Msg("leader not moved home")
				continue
			}
			n.log.Info().Str("stream", s.Name).Str("from", s.Leader).Msg("stream leader moved home")
		}
		cancel()
	}
}

// homeSoon is how soon the home looks again while a leader is away.
const homeSoon = 250 * time.Millisecond

// homeSettle is how long a node is the home before it asks for the
// leaders.
const homeSettle = 3 * time.Second

// HandOverLeaders waits until the leaders this node held are on nodes
// that stay, or ctx ends. The node must be draining: its steer loop asks
// for the moves (one asker, so no stream is moved twice). A node stopping
// thus chooses when its leaders move, and to a replica it checked is
// current, while it still serves. (Left to the embedded server's
// lame-duck stop, they moved only as the process ended, and in the
// rolling-upgrade test the writes of that moment, a call's note among
// them, waited seconds.) Nothing to wait for on an external NATS cluster,
// whose servers lead.
func (n *Node) HandOverLeaders(ctx context.Context) error {
	t := time.NewTicker(homeSoon)
	defer t.Stop()
	for {
		if moves, err := n.leaderMoves(ctx); err == nil && len(moves) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stream leaders still on this node: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// giveLeaders asks for the moves leaderMoves lists that have a node to
// go to, and returns how many leaders are still here to move.
func (n *Node) giveLeaders(ctx context.Context) (left int, err error) {
	ctx, cancel := context.WithTimeout(ctx, homeEvery)
	defer cancel()
	moves, err := n.leaderMoves(ctx)
	for _, m := range moves {
		if m.to == "" {
			continue // no replica up to date: a leader there would pause the writes until it was
		}
		if err := n.stepDown(ctx, m.stream, m.to); err != nil {
			n.log.Debug().Err(err).Str("stream", m.stream).Msg("leader not handed over")
			continue
		}
		n.log.Info().Str("stream", m.stream).Str("to", m.to).Msg("stream leader handed over")
	}
	return len(moves), err
}

// leaderMove is a stream this node leads and the node to give it to: the
// home if its replica is current, else another current one, "" while
// none is.
type leaderMove struct{ stream, to string }

// leaderMoves lists the leaders this node holds that can go to a node
// that stays (serving, not draining); none when no node stays (the
// leaders are kept), or on an external NATS.
func (n *Node) leaderMoves(ctx context.Context) ([]leaderMove, error) {
	if n.Engine.srv == nil {
		return nil, nil
	}
	streams, err := n.leaders(ctx)
	if err != nil {
		return nil, err
	}
	home, staying := n.Home(), n.Members.Serving()
	staying = slices.DeleteFunc(staying, func(s string) bool { return s == n.Engine.Node })
	if len(staying) == 0 {
		return nil, nil
	}
	var moves []leaderMove
	for _, s := range streams {
		if s.Leader != n.Engine.Node || s.Replicas < 2 {
			continue
		}
		m := leaderMove{stream: s.Name}
		for _, r := range s.current {
			if slices.Contains(staying, r) && (m.to == "" || r == home) {
				m.to = r
			}
		}
		moves = append(moves, m)
	}
	return moves, nil
}

// stepDown asks the leader of stream to hand over to node to.
func (n *Node) stepDown(ctx context.Context, stream, to string) error {
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": to}})
	res, err := n.Engine.NC.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, req)
	if err != nil {
		return err
	}
	var answer struct {
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if json.Unmarshal(res.Data, &answer) == nil && answer.Error != nil {
		return errors.New(answer.Error.Description)
	}
	return nil
}
