package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bsc-sim/bsc/internal/cluster"
	"github.com/bsc-sim/bsc/internal/config"
	"github.com/bsc-sim/bsc/internal/hlr"
	"github.com/bsc-sim/bsc/internal/httpapi"
	"github.com/bsc-sim/bsc/internal/hw"
	"github.com/bsc-sim/bsc/internal/phonefsm"
	"github.com/bsc-sim/bsc/internal/sup"
	"github.com/bsc-sim/bsc/internal/version"
)

// clusterNode is the app in cluster mode (docs/cluster.md): it joins the
// cluster in the background (the node is not ready until it has), runs a
// cell:N subtree of its bsc tree for each cell whose lease it holds,
// carries phone events to and from the other nodes, and routes the API.
type clusterNode struct {
	a       *App
	cfg     cluster.Config
	metrics *cluster.Metrics
	ex      *phonefsm.Exchange

	node   atomic.Pointer[cluster.Node] // nil until joined
	joined chan struct{}                // closed once joined and the HLR location is read

	// want is the cells the leases say this node holds, with their epochs;
	// the applier makes the running cells match it.
	mu       sync.Mutex
	want     map[int]uint64
	from     map[int]cluster.Owner // the owner each wanted cell had before
	giveUp   map[int]uint64        // cells handed off, ready to be given up
	wake     chan struct{}         // the applier has something to do
	running  map[int]*cell         // the applier's own
	owned    atomic.Int32          // len(running), for others to read
	drainBy  atomic.Value          // time.Time: when a drain must be over
	protocol atomic.Int32          // the message version last written

	calls atomic.Pointer[cluster.Mirror] // the calls stream applied to this node's database
	subs  atomic.Pointer[cluster.Mirror] // the subscriber log applied to this node's database

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newClusterNode prepares cluster mode; nothing runs yet.
func newClusterNode(a *App, build string) *clusterNode {
	cfg := a.cfg
	n := &clusterNode{a: a, metrics: cluster.NewMetrics(a.reg), joined: make(chan struct{}),
		want: map[int]uint64{}, from: map[int]cluster.Owner{}, giveUp: map[int]uint64{},
		wake: make(chan struct{}, 1), running: map[int]*cell{}}
	n.cfg = cluster.Config{
		Engine: cluster.EngineConfig{Node: cfg.Node, ClusterListen: cfg.ClusterListen, ClusterName: cfg.ClusterName, Peers: splitList(cfg.ClusterPeers),
			StoreDir: jetStreamDir(cfg.DB), URLs: splitList(cfg.NATSURL), Log: a.log},
		Cells: cfg.Cells, Version: build, Protocol: version.ProtocolVersion(), Metrics: n.metrics, Log: a.log,
		Hooks:      cluster.Hooks{Gained: n.gained, Lost: n.lost, Moved: n.moved},
		OnNodeDown: n.nodeDown,
	}
	n.ex = phonefsm.NewExchange(a.cfg.Node, n, a.phoneMetrics, a.log)
	return n
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// jetStreamDir is where the embedded server keeps JetStream: beside the
// database.
func jetStreamDir(db string) string {
	return strings.TrimSuffix(db, ".db") + ".jetstream"
}

// start joins the cluster in the background: the engine may wait for its
// peers as long as they take, and says why in the log meanwhile.
func (n *clusterNode) start() {
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		node := n.join()
		if node == nil {
			return
		}
		n.node.Store(node)
		if err := n.listen(node); err != nil {
			n.a.log.Error().Err(err).Msg("cannot receive phone events")
		}
		if err := n.mirrorCalls(n.ctx, node); err != nil {
			n.a.log.Error().Err(err).Msg("cannot mirror the call records")
		}
		if err := n.mirrorSubscribers(n.ctx, node); err != nil {
			n.a.log.Error().Err(err).Msg("cannot mirror the subscribers")
		}
		select {
		case <-node.Directory.Ready():
		case <-n.ctx.Done():
			return
		}
		close(n.joined)
		n.a.log.Info().Str("node", n.cfg.Engine.Node).Int("cells", n.cfg.Cells).Msg("joined the cluster")
		n.apply()
	}()
}

// join tries until it joins or the node stops.
func (n *clusterNode) join() *cluster.Node {
	for {
		ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
		node, err := cluster.Join(ctx, n.cfg)
		cancel()
		if err == nil {
			return node
		}
		if n.ctx.Err() != nil {
			return nil
		}
		n.a.log.Warn().Err(err).Msg("not joined the cluster yet; trying again")
		if errors.Is(err, cluster.ErrCellsDisagree) {
			n.a.failWith(err)
			return nil
		}
		select {
		case <-n.ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// ready is nil once the node has joined.
func (n *clusterNode) ready() error {
	select {
	case <-n.joined:
		return nil
	default:
		return errors.New("joining the cluster (are the peers up?)")
	}
}

// stop stops the cells (their calls end dropped, recorded), then leaves the
// cluster: the others take the cells at once.
func (n *clusterNode) stop(ctx context.Context) {
	n.cancel()
	n.wg.Wait()
	for id, c := range n.running {
		n.stopCell(ctx, id, c)
	}
	if err := n.ex.Wait(ctx); err != nil {
		n.a.log.Warn().Err(err).Msg("phone events still being handled at stop")
	}
	if node := n.node.Load(); node != nil {
		node.Leave(ctx)
	}
}

// The lease hooks run on the lease goroutine: they note what is wanted and
// wake the applier. Losing a cell also stops routing to it at once.
func (n *clusterNode) gained(cell int, epoch uint64, from cluster.Owner) {
	n.mu.Lock()
	n.want[cell] = epoch
	n.from[cell] = from
	n.mu.Unlock()
	n.signal()
}

func (n *clusterNode) lost(cell int, epoch uint64, why string) {
	n.a.dropCell(cell, epoch)
	n.mu.Lock()
	if n.want[cell] == epoch {
		delete(n.want, cell)
	}
	n.mu.Unlock()
	n.signal()
}

func (n *clusterNode) signal() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// moved tells this node's phones that a cell changed owner: a call with a
// peer there under an older epoch has lost it.
//
// A cell seen with no owner is not yet a lost peer: the view may only be
// late (a renewal stored just after the read), and the peer's node may
// still serve it. A new owner is proof the old one stopped.
func (n *clusterNode) moved(cell int, now cluster.Owner) {
	if node := n.node.Load(); node != nil && now.Node != "" {
		n.ex.CellMoved(cell, now.Epoch, node.Members)
	}
	n.a.clusterAlarms.changed(n)
}

func (n *clusterNode) nodeDown(node string, down bool) {
	if cn := n.node.Load(); down && cn != nil {
		n.ex.NodeDown(node, cn.Members.WasDraining(node))
	}
	n.a.clusterAlarms.nodeDown(n, node, down)
}

// apply makes the running cells those the leases say, hands off those
// that should be elsewhere, until the node stops.
func (n *clusterNode) apply() {
	t := time.NewTicker(renewLook)
	defer t.Stop()
	serving := map[string]time.Time{}
	for {
		n.giveUpCells()
		n.mu.Lock()
		want := maps.Clone(n.want)
		n.mu.Unlock()
		for id, c := range n.running {
			if want[id] != c.epoch {
				n.stopCell(n.ctx, id, c)
			}
		}
		for id, epoch := range want {
			if _, ok := n.running[id]; !ok {
				n.startCell(id, epoch)
			}
		}
		n.metrics.SetOwned(len(n.running))
		n.owned.Store(int32(len(n.running)))
		n.a.clusterAlarms.changed(n)
		n.handOffs(serving)
		select {
		case <-n.ctx.Done():
			return
		case <-n.wake:
		case <-t.C:
		}
	}
}

// renewLook is how often the applier looks for cells to hand off.
const renewLook = 250 * time.Millisecond

// startCell runs a cell this node took: its tree as a cell:N child of bsc,
// then its attached phones, restored idle from the HLR location.
func (n *clusterNode) startCell(id int, epoch uint64) {
	began := time.Now()
	c := newCell(n.a, id, epoch, "cell:"+strconv.Itoa(id))
	err := n.a.bsc.AddChild(n.ctx, c.childSpec())
	if err != nil {
		c.deleteMetrics()
		n.a.log.Error().Err(err).Int("cell", id).Msg("cell not started")
		return
	}
	n.running[id] = c
	restored := n.restore(c)
	if _, acting := n.node.Load().Leases.Acting(id); !acting {
		n.stopCell(n.ctx, id, c)
		return
	}
	n.a.addCell(c)
	n.mu.Lock()
	from := n.from[id]
	n.mu.Unlock()
	switch node := n.node.Load(); {
	case from.Node == "": // a cell new to the cluster: no takeover
	case node.Members.IsLive(from.Node):
		n.metrics.TookOver("handoff", time.Since(began).Seconds())
	default:
		n.metrics.TookOver("failover", time.Since(began).Seconds())
	}
	n.a.log.Info().Int("cell", id).Uint64("epoch", epoch).Int("phones", restored).Str("from", from.Node).
		Dur("took", time.Since(began)).Msg("cell serving")
	// The calls the cell's last owner left get their records meanwhile:
	// reading them needs the engine's metadata leader, which the dead
	// node may have been (an election of seconds), and the cell need not
	// wait for that.
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if dropped := n.dropLeftCalls(n.ctx, c); dropped > 0 {
			n.a.log.Info().Int("cell", id).Uint64("epoch", epoch).Int("calls_dropped", dropped).Msg("calls left by the cell's last owner recorded dropped")
		}
	}()
}

// restore attaches again, idle, the phones the HLR location puts in c.
func (n *clusterNode) restore(c *cell) int {
	p, err := c.phoneSet()
	if err != nil {
		return 0
	}
	dir := n.node.Load().Directory
	ctx, cancel := context.WithTimeout(n.ctx, restoreCatchUp)
	if err := dir.CatchUp(ctx); err != nil {
		n.a.log.Warn().Err(err).Int("cell", c.id).Msg("restoring the cell's phones from a copy of the HLR location that may be behind")
	}
	cancel()
	restored := 0
	for _, m := range dir.InCell(c.id) {
		if _, err := n.a.attachIn(n.ctx, c, p, hlr.MSISDN(m), hw.DeviceSpec{}); err == nil {
			restored++
		}
	}
	return restored
}

// restoreCatchUp bounds the wait for this node's copy of the HLR location
// before a cell's phones are attached again.
const restoreCatchUp = 5 * time.Second

// stopCell stops a cell this node no longer acts for (or stops running):
// its phones stop (calls in progress end dropped, recorded), their
// locations stay for the next owner.
func (n *clusterNode) stopCell(ctx context.Context, id int, c *cell) {
	n.a.dropCell(id, c.epoch)
	delete(n.running, id)
	if err := n.a.bsc.DeleteChild(ctx, c.name); err != nil && !errors.Is(err, sup.ErrNoChild) {
		n.a.log.Warn().Err(err).Int("cell", id).Msg("cell tree did not stop cleanly")
	}
	if p := c.names.phoneSet.whereis(); p != nil {
		n.ex.Remove(p)
	}
	c.deleteMetrics()
	n.a.log.Info().Int("cell", id).Uint64("epoch", c.epoch).Msg("cell stopped")
}

// Network (phonefsm): the HLR location, the owners, and NATS.

func (n *clusterNode) Locate(m hlr.MSISDN) (int, bool) {
	if node := n.node.Load(); node != nil {
		return node.Directory.Cell(uint64(m))
	}
	return 0, false
}

// Protocol is the message version every live node speaks (at most this
// build's); it changes as nodes of other versions come and go, and is
// logged when it does.
func (n *clusterNode) Protocol() int {
	mine := version.ProtocolVersion()
	node := n.node.Load()
	if node == nil {
		return phonefsm.EnvelopeV1
	}
	p := min(node.Members.Protocol(mine), phonefsm.EnvelopeV2)
	if old := n.protocol.Swap(int32(p)); old != int32(p) {
		n.a.log.Info().Int("protocol", p).Int32("was", old).Int("this_build", mine).Msg("cluster protocol")
	}
	return p
}

func (n *clusterNode) Transit(d time.Duration) { n.metrics.Transit(d.Seconds()) }

// CellOwner is cell's owner as this node last saw, none when that owner
// is down: the view of the leases may lag the view of the nodes by a
// moment (a drained node stopped just after handing its cells off), and
// a call sent to a node known down would be set up only to be dropped.
func (n *clusterNode) CellOwner(cell int) (string, uint64) {
	if node := n.node.Load(); node != nil {
		o := node.Leases.OwnerOf(cell)
		if o.Node != "" && o.Node != n.Node() && !node.Members.IsLive(o.Node) {
			return "", 0
		}
		return o.Node, o.Epoch
	}
	return "", 0
}

func eventSubject(node string) string { return "bsc.events." + node }

func (n *clusterNode) Send(env phonefsm.Envelope) bool {
	node := n.node.Load()
	if node == nil {
		return false
	}
	to := env.Dest()
	if to == "" {
		to = node.Leases.OwnerOf(int(env.To.Cell)).Node
	}
	if to == "" {
		return false
	}
	b, err := json.Marshal(env)
	if err != nil {
		return false
	}
	if err := node.Engine.NC.Publish(eventSubject(to), b); err != nil {
		return false
	}
	n.metrics.Message(envelopeKind(env), "out")
	return true
}

func envelopeKind(env phonefsm.Envelope) string {
	if env.Kind == "ack" {
		return "ack"
	}
	return "event"
}

// listen receives the envelopes for this node's cells, and the acks for
// the actions waiting here. An envelope for a cell this node does not act
// for at the epoch it names, or from a cell owner older than the one this
// node knows (fencing), is refused (an inbound call bounces busy) or
// dropped.
func (n *clusterNode) listen(node *cluster.Node) error {
	sub, err := node.Engine.NC.Subscribe(eventSubject(node.Engine.Node), func(m *nats.Msg) {
		var env phonefsm.Envelope
		if json.Unmarshal(m.Data, &env) != nil {
			return
		}
		n.metrics.Message(envelopeKind(env), "in")
		if env.AckFor() != "" {
			n.ex.Receive(env) // for an action waiting here, wherever its phone's cell is now
			return
		}
		if epoch, ok := node.Leases.Acting(int(env.To.Cell)); !ok || epoch != env.To.Epoch {
			if !ok || env.Kind != "inbound" {
				n.ex.Refuse(env) // an inbound call finds the callee busy
				return
			}
		}
		if env.From.Epoch < node.Leases.OwnerOf(int(env.From.Cell)).Epoch {
			return
		}
		n.ex.Receive(env)
	})
	if err != nil {
		return err
	}
	// The slow-consumer bound of the subscription is the bound of the
	// queue of events: past it NATS drops, and the senders' calls end as
	// when the peer cannot be reached.
	return sub.SetPendingLimits(65536, 64<<20)
}

// httpapi.Cluster.

func (n *clusterNode) Node() string { return n.cfg.Engine.Node }
func (n *clusterNode) Cells() int   { return n.cfg.Cells }

func (n *clusterNode) Live() []string {
	node := n.node.Load()
	if node == nil {
		return []string{n.Node()}
	}
	return node.Members.Live()
}

func (n *clusterNode) Owner(cell int) (string, bool) {
	node := n.node.Load()
	if node == nil {
		return "", false
	}
	if _, ok := node.Leases.Acting(cell); ok {
		if _, err := n.a.cell(cell); err == nil {
			return n.Node(), true
		}
		return "", false // taking it over
	}
	o := node.Leases.OwnerOf(cell)
	if o.Node == n.Node() || !node.Members.IsLive(o.Node) {
		return "", false // fenced (not renewed in time), or its owner is down
	}
	return o.Node, false
}

func (n *clusterNode) PhoneCell(ctx context.Context, m hlr.MSISDN) (int, bool, error) {
	node := n.node.Load()
	if node == nil {
		return 0, false, errNotJoined
	}
	c, ok, err := node.Directory.Lookup(ctx, uint64(m))
	if err != nil {
		return 0, false, fmt.Errorf("%w: the HLR location: %v", errRestarting, err)
	}
	return c, ok, nil
}

func (n *clusterNode) PhoneAttached(ctx context.Context, m hlr.MSISDN) (bool, error) {
	node := n.node.Load()
	if node == nil {
		return false, errNotJoined
	}
	attached, err := node.Directory.Attached(ctx, uint64(m))
	if err != nil {
		return false, fmt.Errorf("%w: the phone directory: %v", errRestarting, err)
	}
	return attached, nil
}

func (n *clusterNode) HomeCell(m hlr.MSISDN) int {
	return cluster.HomeCell(uint64(m), n.cfg.Cells)
}

func (n *clusterNode) Forward(ctx context.Context, node string, req []byte, timeout time.Duration) ([]byte, error) {
	cn := n.node.Load()
	if cn == nil {
		return nil, errors.New("not joined the cluster yet")
	}
	return cn.Forward(ctx, node, req, timeout)
}

func (n *clusterNode) Forwarded(route string) { n.metrics.Forwarded(route) }

// serve answers the requests other nodes forward to this one.
func (n *clusterNode) serve(api *httpapi.API) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		select {
		case <-n.joined:
		case <-n.ctx.Done():
			return
		}
		if err := n.node.Load().Serve(api.ServeForwarded, httpapi.RefuseForwarded, httpapi.IsLongPoll); err != nil {
			n.a.log.Error().Err(err).Msg("cannot serve forwarded requests")
		}
	}()
}

// attached writes a phone's location for the whole cluster; detached
// removes it once the phone's controller has gone.
func (n *clusterNode) attached(ctx context.Context, m hlr.MSISDN, c *cell) error {
	node := n.node.Load()
	if node == nil {
		return errNotJoined
	}
	if err := node.Directory.Attach(ctx, uint64(m), c.id); err != nil {
		return fmt.Errorf("%w: the phone's location was not written: %v", errNotJoined, err)
	}
	return nil
}

func (n *clusterNode) detached(ctx context.Context, m hlr.MSISDN, commit phonefsm.Commit) error {
	node := n.node.Load()
	if node == nil {
		return errNotJoined
	}
	if err := commit.Wait(ctx); err != nil {
		return err
	}
	return node.Directory.Detach(ctx, uint64(m))
}

var errNotJoined = fmt.Errorf("%w: not joined the cluster", errRestarting)

// leadersWait bounds the wait for the streams' leaders in the status.
const leadersWait = 500 * time.Millisecond

// status is GET /api/v1/cluster.
func (n *clusterNode) status() httpapi.ClusterStatus {
	st := httpapi.ClusterStatus{Node: n.Node(), Mode: string(n.a.cfg.Mode()), Cells: n.cfg.Cells,
		Nodes: []httpapi.NodeStatus{}, CellOwners: []httpapi.CellOwner{}}
	node := n.node.Load()
	if node == nil {
		st.Nodes = append(st.Nodes, httpapi.NodeStatus{Name: n.Node(), State: "down", Cells: []int{}})
		return st
	}
	st.Home = node.Home()
	// Listing the streams asks the engine's metadata leader, which may be
	// being elected (for seconds, if the node that led it died): the view
	// does not wait for it, and shows no streams meanwhile.
	ctx, cancel := context.WithTimeout(context.Background(), leadersWait)
	for _, s := range node.Leaders(ctx) {
		st.Streams = append(st.Streams, httpapi.StreamStatus{Name: s.Name, Leader: s.Leader, Replicas: s.Replicas})
	}
	cancel()
	infos, live := node.Members.Nodes()
	owners := node.Leases.Owners()
	var names []string
	for _, info := range infos {
		if live[info.Name] {
			names = append(names, info.Name)
		}
	}
	preferred := node.Leases.Preferred()
	byNode := map[string][]int{}
	for c, o := range owners {
		state := "serving"
		switch {
		case o.Node == "":
			state = "unowned"
		case node.Leases.HandingOff(c):
			state = "handing_off"
		case o.Node == n.Node():
			if _, err := n.a.cell(c); err != nil {
				state = "taking_over"
			}
		}
		if o.Node != "" {
			byNode[o.Node] = append(byNode[o.Node], c)
		}
		st.CellOwners = append(st.CellOwners, httpapi.CellOwner{Cell: c, Owner: o.Node, Epoch: o.Epoch,
			Preferred: preferred[c], State: state})
	}
	for _, info := range infos {
		cells := byNode[info.Name]
		if cells == nil {
			cells = []int{}
		}
		slices.Sort(cells)
		ns := httpapi.NodeStatus{Name: info.Name, State: info.State(live[info.Name]), Cells: cells, Version: info.Version}
		if !info.LastSeen.IsZero() {
			seen := info.LastSeen.UTC()
			ns.LastSeen = &seen
		}
		st.Nodes = append(st.Nodes, ns)
	}
	return st
}

// httpCluster is the cluster the API routes with: none on a single node
// (a nil interface, not a nil pointer in one).
func (a *App) httpCluster() httpapi.Cluster {
	if a.cluster == nil {
		return nil
	}
	return a.cluster
}

// clusterStatus is GET /api/v1/cluster; a single node is a cluster of one
// node and one cell.
func (a *App) clusterStatus() httpapi.ClusterStatus {
	if a.cluster != nil {
		return a.cluster.status()
	}
	state := "serving"
	if _, err := a.cell(0); err != nil {
		state = "unowned"
	}
	return httpapi.ClusterStatus{Node: a.cfg.Node, Mode: string(config.Single), Cells: 1,
		Nodes:      []httpapi.NodeStatus{{Name: a.cfg.Node, State: "up", Cells: []int{0}}},
		CellOwners: []httpapi.CellOwner{{Cell: 0, Owner: a.cfg.Node, Preferred: a.cfg.Node, State: state}}}
}
