package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowstate/flowstate/crdt"
	docsync "github.com/flowstate/flowstate/sync"
)

const loadUsageText = `Usage:

	flowstate bench load --url ws://HOST:PORT[,ws://HOST:PORT...] [flags]

Opens ROOMS x CLIENTS WebSocket clients against a running server; each
client inserts RATE characters per second at random places in its room's
text for DURATION. Reports the delivery latency (from an edit to its arrival
at every other member of the room), deliveries per second, errors, the
server's memory from /healthz, and whether every room converged.

Every client connects from this machine's address, and a server accepts at
most --max-conns-per-ip connections from one address (64 by default)
before it answers 429 Too Many Requests: for more than that, start the
server with --max-conns-per-ip 0 (or FLOWSTATE_MAX_CONNS_PER_IP=0).

With several URLs (the nodes of a cluster), clients are spread over them
round-robin, the members of a room among them, and each moves to the next
node if its own goes away; the server's memory and CPU are the first
node's. Independent single-node servers do not share rooms: against them,
use --rate 0, or --clients 1.

Flags:
`

// loadFlags are the flags of "flowstate bench load".
type loadFlags struct {
	url         string
	rooms       int
	clients     int
	rate        float64
	duration    time.Duration
	json        bool
	dialWorkers int
	settle      time.Duration
	cpuProf     string
	memProf     string
	serverPID   int
}

func newLoadFlagSet(f *loadFlags, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.url, "url", "ws://127.0.0.1:8080", "server `URL` (ws:// or wss://, without a path), or several separated by commas, one per node")
	fs.IntVar(&f.rooms, "rooms", 10, "number of rooms")
	fs.IntVar(&f.clients, "clients", 10, "clients per room")
	fs.Float64Var(&f.rate, "rate", 2, "edits per second per client (0: connect and stay idle)")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "how long clients edit (or stay idle)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of text")
	fs.IntVar(&f.dialWorkers, "dial-workers", 32, "connections opened concurrently while ramping up")
	fs.DurationVar(&f.settle, "settle", 15*time.Second, "how long to wait at the end for acknowledgements and convergence")
	fs.StringVar(&f.cpuProf, "cpuprofile", "", "write a CPU profile of the load generator to `file`")
	fs.IntVar(&f.serverPID, "server-pid", 0, "the server's process `ID`, to read its CPU time, context switches and writes from /proc (default: the pid /healthz reports, for a server on a loopback address)")
	fs.StringVar(&f.memProf, "memprofile", "", "write a heap profile of the load generator, taken before it disconnects, to `file`")
	fs.Usage = func() {
		fmt.Fprint(out, loadUsageText)
		fs.PrintDefaults()
	}
	return fs
}

// loadResult is what "bench load --json" prints.
type loadResult struct {
	P50Ms          float64 `json:"p50_ms"`
	P99Ms          float64 `json:"p99_ms"`
	MaxMs          float64 `json:"max_ms"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	Errors         int64   `json:"errors"`
	Converged      bool    `json:"converged"`
	Connections    int     `json:"connections"`
	Edits          int64   `json:"edits"`
	Deliveries     int64   `json:"deliveries"`
	ServerRSSIdle  int64   `json:"server_rss_before_bytes,omitempty"`
	ServerRSSConn  int64   `json:"server_rss_connected_bytes,omitempty"`
	ServerRSSEnd   int64   `json:"server_rss_end_bytes,omitempty"`
	RSSPerConn     float64 `json:"server_rss_per_connection_bytes,omitempty"`
	ConnectS       float64 `json:"connect_s"`
	// The server's use during the editing window, per delivery: CPU time
	// (user and system, from /proc/PID/stat, or from /healthz where /proc
	// cannot be read), context switches summed over its threads, and write
	// system calls (/proc/PID/io, where readable).
	ServerCPUUs    float64  `json:"server_cpu_us_per_delivery,omitempty"`
	ServerUserUs   float64  `json:"server_user_us_per_delivery,omitempty"`
	ServerSystemUs float64  `json:"server_system_us_per_delivery,omitempty"`
	ServerVCSW     float64  `json:"server_voluntary_switches_per_delivery,omitempty"`
	ServerIVCSW    float64  `json:"server_involuntary_switches_per_delivery,omitempty"`
	ServerWrites   *float64 `json:"server_writes_per_delivery,omitempty"`
	// The bytes the server queued to clients (its bytes_sent_total,
	// WebSocket framing, acks and presence included) per delivery.
	ServerBytesSent float64 `json:"server_bytes_sent_per_delivery,omitempty"`
	ServerPID       int     `json:"server_pid,omitempty"`

	// The server's goroutines before and after connecting (go_goroutines
	// of its /metrics): what an idle connection holds besides memory.
	ServerGoroutinesIdle int `json:"server_goroutines_before,omitempty"`
	ServerGoroutinesConn int `json:"server_goroutines_connected,omitempty"`
}

// loadClient is one simulated editor.
type loadClient struct {
	c    *docsync.Client
	id   crdt.ClientID
	room *loadRoom

	// sends has room for every edit the client will make; its editor
	// fills it in order and then publishes the count in nsends, which the
	// other members' receive callbacks read.
	sends  []sentEdit
	nsends atomic.Int64

	// Owned by the client's receive callback (under the Client's lock).
	seen      []int     // per room member: how many of its sends arrived
	latencies []float32 // milliseconds
}

// A sentEdit records when an edit was made and the clock its client
// reached with it: a member has received the edit once its document's
// clock for that client has reached end.
type sentEdit struct {
	end uint64
	at  time.Time
}

type loadRoom struct {
	name    string
	members []*loadClient
	active  atomic.Bool // set once every member is connected
}

func runBenchLoad(args []string, stdout, stderr io.Writer) int {
	var f loadFlags
	fs := newLoadFlagSet(&f, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if f.rooms < 1 || f.clients < 1 || f.rate < 0 || f.duration <= 0 || f.dialWorkers < 1 {
		fmt.Fprintln(stderr, "flowstate bench load: --rooms and --clients must be positive, --rate not negative, --duration positive")
		return 2
	}
	var bases []*url.URL
	for _, raw := range strings.Split(f.url, ",") {
		base, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || (base.Scheme != "ws" && base.Scheme != "wss") {
			fmt.Fprintf(stderr, "flowstate bench load: --url %q: want ws://HOST:PORT, or several separated by commas\n", f.url)
			return 2
		}
		bases = append(bases, base)
	}
	raiseFileLimit(stderr)
	// The generator shares the machine with the server it measures; a
	// larger heap target spends less of that machine on its collector.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	stopProfile, err := startCPUProfile(f.cpuProf)
	if err != nil {
		fmt.Fprintf(stderr, "flowstate bench load: %v\n", err)
		return 1
	}
	defer stopProfile()
	res, err := benchLoad(f, bases, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "flowstate bench load: %v\n", err)
		return 1
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		_ = enc.Encode(res)
	} else {
		printLoadResult(stdout, res)
	}
	if !res.Converged || res.Errors > 0 {
		return 1
	}
	return 0
}

// benchLoad runs the load against the nodes at bases; the server's
// figures are the first node's.
func benchLoad(f loadFlags, bases []*url.URL, progress io.Writer) (*loadResult, error) {
	base := bases[0]
	res := &loadResult{}
	var errs atomic.Int64
	health := healthURL(base)
	res.ServerRSSIdle = serverHealth(health).RSSBytes
	res.ServerGoroutinesIdle = serverGoroutines(base)

	// Connect every client, a few at a time.
	prefix := fmt.Sprintf("bench-%d-", time.Now().UnixNano()%1e9)
	rooms := make([]*loadRoom, f.rooms)
	for i := range rooms {
		rooms[i] = &loadRoom{name: fmt.Sprintf("%s%d", prefix, i)}
		for range f.clients {
			rooms[i].members = append(rooms[i].members, &loadClient{room: rooms[i], seen: make([]int, f.clients)})
		}
	}
	all := make([]*loadClient, 0, f.rooms*f.clients)
	for _, r := range rooms {
		all = append(all, r.members...)
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var dialErr atomic.Value
	for range f.dialWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(all) {
					return
				}
				if err := all[i].dial(bases, i, &errs); err != nil {
					dialErr.CompareAndSwap(nil, err)
					errs.Add(1)
					return
				}
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, lc := range all {
			if lc.c != nil {
				lc.c.Close()
			}
		}
	}()
	if err, _ := dialErr.Load().(error); err != nil {
		connected := 0
		for _, lc := range all {
			if lc.c != nil {
				connected++
			}
		}
		return nil, fmt.Errorf("connecting client %d of %d: %w%s", connected+1, len(all), err, capHint(err))
	}
	res.Connections = len(all)
	res.ConnectS = time.Since(start).Seconds()
	fmt.Fprintf(progress, "connected %d clients in %.1fs\n", len(all), res.ConnectS)
	time.Sleep(time.Second) // let the server settle before reading its memory
	res.ServerRSSConn = serverHealth(health).RSSBytes
	res.ServerGoroutinesConn = serverGoroutines(base)
	if res.ServerRSSIdle > 0 && res.ServerRSSConn > 0 {
		res.RSSPerConn = float64(res.ServerRSSConn-res.ServerRSSIdle) / float64(len(all))
	}

	// Edit for the duration.
	var edits atomic.Int64
	for _, r := range rooms {
		r.active.Store(true)
	}
	stop := make(chan struct{})
	if f.rate > 0 {
		period := time.Duration(float64(time.Second) / f.rate)
		capacity := int(f.duration/period) + 2
		for _, lc := range all {
			lc.sends = make([]sentEdit, capacity)
			wg.Add(1)
			go func() {
				defer wg.Done()
				lc.edit(period, stop, &edits, &errs)
			}()
		}
	}
	editStart := time.Now()
	sentStart := serverMetric(base, "flowstate_bytes_sent_total")
	h := serverHealth(health)
	cpuStart := h.CPUSeconds
	pid := f.serverPID
	if pid == 0 && isLoopbackHost(base.Hostname()) {
		pid = h.PID
	}
	procStart, procErr := readProcStat(pid)
	if pid == 0 {
		procErr = errors.New("no server pid")
	}
	ticker := time.NewTicker(time.Second)
	deadline := time.After(f.duration)
loop:
	for {
		select {
		case <-ticker.C:
			var n int64
			for _, lc := range all {
				lc.c.Read(func(*crdt.Doc) { n += int64(len(lc.latencies)) })
			}
			fmt.Fprintf(progress, "%5.0fs  edits %d  deliveries %d  errors %d\n",
				time.Since(editStart).Seconds(), edits.Load(), n, errs.Load())
		case <-deadline:
			break loop
		}
	}
	ticker.Stop()
	close(stop)
	wg.Wait()
	elapsed := time.Since(editStart)
	cpuEnd := serverHealth(health).CPUSeconds
	var procEnd procStat
	if procErr == nil {
		procEnd, procErr = readProcStat(pid)
	}
	if procErr != nil && pid != 0 {
		fmt.Fprintf(progress, "server counters from /proc: %v\n", procErr)
	}

	// Wait for every edit to be acknowledged and every room to converge.
	ctx, cancel := context.WithTimeout(context.Background(), f.settle)
	defer cancel()
	for _, lc := range all {
		if err := lc.c.WaitSynced(ctx); err != nil {
			errs.Add(1)
		}
	}
	res.Converged = waitConverged(ctx, rooms)
	if f.memProf != "" {
		if err := writeHeapProfile(f.memProf); err != nil {
			fmt.Fprintf(progress, "heap profile: %v\n", err)
		}
	}
	res.ServerRSSEnd = serverHealth(health).RSSBytes
	sentEnd := serverMetric(base, "flowstate_bytes_sent_total")

	var lat []float32
	for _, lc := range all {
		lc.c.Read(func(*crdt.Doc) { lat = append(lat, lc.latencies...) })
	}
	slices.Sort(lat)
	res.Edits = edits.Load()
	res.Deliveries = int64(len(lat))
	res.DeliveriesPerS = float64(len(lat)) / elapsed.Seconds()
	if len(lat) > 0 {
		res.P50Ms = float64(lat[len(lat)/2])
		res.P99Ms = float64(lat[len(lat)*99/100])
		res.MaxMs = float64(lat[len(lat)-1])
	}
	if sentEnd > sentStart && len(lat) > 0 {
		res.ServerBytesSent = (sentEnd - sentStart) / float64(len(lat))
	}
	if procErr == nil {
		res.ServerPID = pid
		res.setPerDelivery(procStart, procEnd, int64(len(lat)))
	} else if cpuEnd > cpuStart && len(lat) > 0 {
		res.ServerCPUUs = (cpuEnd - cpuStart) * 1e6 / float64(len(lat))
	}
	// Every edit must reach every other member of its room.
	if want := res.Edits * int64(f.clients-1); res.Deliveries < want {
		errs.Add(1)
		fmt.Fprintf(progress, "missing deliveries: %d of %d\n", want-res.Deliveries, want)
	}
	res.Errors = errs.Load()
	return res, nil
}

// capHint returns, for a connection refused by the server's per-address
// cap, a sentence that says how to lift it, and "" for any other error:
// a load generator opens every connection from one address.
func capHint(err error) string {
	var ue *docsync.UpgradeError
	if !errors.As(err, &ue) || ue.StatusCode != http.StatusTooManyRequests {
		return ""
	}
	return "\nevery client comes from this machine's address: start the server with --max-conns-per-ip 0 (or FLOWSTATE_MAX_CONNS_PER_IP=0) to lift the per-address cap"
}

// dial connects the i-th client to the node i modulo their number, with
// the others after it to move to; any later disconnection counts as an
// error.
func (lc *loadClient) dial(bases []*url.URL, i int, errs *atomic.Int64) error {
	urls := make([]string, len(bases))
	for k := range bases {
		u := *bases[(i+k)%len(bases)]
		u.Path = "/ws/" + lc.room.name
		urls[k] = u.String()
	}
	connected := false
	c, err := docsync.DialAny(context.Background(), urls, &docsync.ClientOptions{
		OnRemoteUpdate: lc.received,
		OnStatus: func(s docsync.Status) {
			if s == docsync.StatusOffline || s == docsync.StatusClosed && connected {
				errs.Add(1)
			}
			if s == docsync.StatusConnected || s == docsync.StatusSynced {
				connected = true
			}
		},
	})
	if err != nil {
		return err
	}
	lc.c = c
	lc.id = crdt.ClientID(c.ClientID())
	return nil
}

// edit inserts one character every period, at a random place, until stop.
func (lc *loadClient) edit(period time.Duration, stop <-chan struct{}, edits, errs *atomic.Int64) {
	select { // spread the clients' ticks over the period
	case <-time.After(rand.N(period)):
	case <-stop:
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		// Publish the edit before making it: a member may receive it
		// before Edit returns. One inserted code point takes one clock.
		n := lc.nsends.Load()
		if int(n) == len(lc.sends) {
			return // out of room: a stalled ticker caught up late
		}
		var clock uint64
		lc.c.Read(func(d *crdt.Doc) { clock = d.Clock(d.ClientID()) })
		lc.sends[n] = sentEdit{end: clock + 1, at: time.Now()}
		lc.nsends.Store(n + 1)
		err := lc.c.Edit(func(d *crdt.Doc) error {
			text := d.Text("body")
			_, err := text.Insert(rand.IntN(text.Len()+1), string(rune('a'+rand.IntN(26))))
			return err
		})
		if err != nil {
			errs.Add(1)
		} else {
			edits.Add(1)
		}
		select {
		case <-t.C:
		case <-stop:
			return
		}
	}
}

// received runs after each remote message is applied: every edit of another
// member that the document now holds, and did not before, has arrived.
func (lc *loadClient) received(d *crdt.Doc) {
	if !lc.room.active.Load() {
		return // still connecting
	}
	now := time.Now()
	for i, m := range lc.room.members {
		if m == lc {
			continue
		}
		n := int(m.nsends.Load())
		if lc.seen[i] == n {
			continue // nothing in flight from m
		}
		clock := d.Clock(m.id)
		sends := m.sends[:n]
		for lc.seen[i] < n && sends[lc.seen[i]].end <= clock {
			lc.latencies = append(lc.latencies, float32(now.Sub(sends[lc.seen[i]].at).Seconds()*1000))
			lc.seen[i]++
		}
	}
}

// waitConverged polls until every room's clients hold the same text.
func waitConverged(ctx context.Context, rooms []*loadRoom) bool {
	for {
		ok := true
		for _, r := range rooms {
			want := r.members[0].c.Text("body")
			for _, m := range r.members[1:] {
				if m.c.Text("body") != want {
					ok = false
					break
				}
			}
			if !ok {
				break
			}
		}
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// isLoopbackHost reports whether host names this machine.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func healthURL(base *url.URL) string {
	u := *base
	u.Scheme = strings.Replace(u.Scheme, "ws", "http", 1)
	u.Path = "/healthz"
	return u.String()
}

// serverHealth reads the server's /healthz, or returns zeros.
func serverHealth(healthURL string) docsync.Health {
	var h docsync.Health
	resp, err := http.Get(healthURL)
	if err != nil {
		return h
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&h)
	return h
}

// serverGoroutines reads go_goroutines from the server's /metrics, or
// returns 0.
func serverGoroutines(base *url.URL) int {
	return int(serverMetric(base, "go_goroutines"))
}

// serverMetric reads the series name, without labels, from the server's
// /metrics, or returns 0.
func serverMetric(base *url.URL, name string) float64 {
	u := *base
	u.Scheme = strings.Replace(u.Scheme, "ws", "http", 1)
	u.Path = "/metrics"
	resp, err := http.Get(u.String())
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return n
		}
	}
	return 0
}

// raiseFileLimit lifts the soft limit on open files to the hard limit:
// every client is a socket.
func raiseFileLimit(stderr io.Writer) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintf(stderr, "flowstate bench load: raising the open-file limit: %v\n", err)
		}
	}
}

func printLoadResult(w io.Writer, r *loadResult) {
	fmt.Fprintf(w, "connections       %d (connected in %.1fs)\n", r.Connections, r.ConnectS)
	fmt.Fprintf(w, "edits             %d\n", r.Edits)
	fmt.Fprintf(w, "deliveries        %d (%.0f/s)\n", r.Deliveries, r.DeliveriesPerS)
	fmt.Fprintf(w, "latency           p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", r.P50Ms, r.P99Ms, r.MaxMs)
	if r.ServerCPUUs > 0 {
		fmt.Fprintf(w, "server CPU        %.2f µs per delivery", r.ServerCPUUs)
		if r.ServerPID != 0 {
			fmt.Fprintf(w, " (user %.2f, system %.2f); context switches %.3f voluntary, %.3f involuntary",
				r.ServerUserUs, r.ServerSystemUs, r.ServerVCSW, r.ServerIVCSW)
			if r.ServerWrites != nil {
				fmt.Fprintf(w, "; writes %.3f", *r.ServerWrites)
			}
		}
		fmt.Fprintln(w)
	}
	if r.ServerBytesSent > 0 {
		fmt.Fprintf(w, "server sent       %.1f bytes per delivery (framing, acks and presence included)\n", r.ServerBytesSent)
	}
	fmt.Fprintf(w, "errors            %d\n", r.Errors)
	fmt.Fprintf(w, "converged         %t\n", r.Converged)
	if r.ServerRSSConn > 0 {
		fmt.Fprintf(w, "server RSS        %.1f MiB idle, %.1f MiB connected (%.0f B per connection), %.1f MiB at the end\n",
			float64(r.ServerRSSIdle)/(1<<20), float64(r.ServerRSSConn)/(1<<20), r.RSSPerConn, float64(r.ServerRSSEnd)/(1<<20))
	}
	if r.ServerGoroutinesConn > 0 {
		fmt.Fprintf(w, "server goroutines %d idle, %d connected\n", r.ServerGoroutinesIdle, r.ServerGoroutinesConn)
	}
}
