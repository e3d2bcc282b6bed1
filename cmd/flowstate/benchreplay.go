package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	stdsync "sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	docsync "github.com/flowstate/flowstate/sync"
)

const benchReplayUsage = `Usage:

	flowstate bench replay --url ws://HOST:PORT[,ws://HOST:PORT...] [--room ROOM] TRACE

Replays an editing trace through a running server as one update per edit,
from one client per room (--rooms replays into several at once), then
checks that a second client reads the trace's final text in each. The
server acknowledges an update only once it is stored, so this measures
durable updates per second, and the time from sending each update to its
acknowledgement (p50, p99). Each client keeps at most --window updates
unacknowledged. Run it against a server started with --rate-messages 0
--rate-bytes 0 --max-conns-per-ip 0, or the limits close the clients.

With several URLs (the nodes of a cluster), the rooms are spread over
them round-robin, and each room's second client reads it on the next
node, which did not take its updates.

Flags:
`

// benchReplayFlags are the flags of "flowstate bench replay".
type benchReplayFlags struct {
	url     string
	room    string
	rooms   int
	limit   int
	window  int
	timeout time.Duration
}

func newBenchReplayFlagSet(f *benchReplayFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bench replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.url, "url", envOr("FLOWSTATE_URL", ""), "server `ws://host:port`, or several separated by commas, one per node (FLOWSTATE_URL)")
	fs.StringVar(&f.room, "room", "replay", "`room` to replay into; it should be empty")
	fs.IntVar(&f.limit, "updates", 0, "stop each room's replay after this `many` updates (0: the whole trace)")
	fs.IntVar(&f.rooms, "rooms", 1, "replay into this `many` rooms at once (ROOM-1, ROOM-2, ...), one client each")
	fs.IntVar(&f.window, "window", 1000, "most updates a client keeps unacknowledged (`n`); it sends the next once an Ack comes")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this `duration`")
	fs.Usage = func() {
		fmt.Fprint(stderr, benchReplayUsage)
		fs.PrintDefaults()
	}
	return fs
}

// runBenchReplay runs "flowstate bench replay".
func runBenchReplay(args []string, stdout, stderr io.Writer) int {
	var f benchReplayFlags
	fs := newBenchReplayFlagSet(&f, stderr)
	files, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if f.url == "" || len(files) != 1 {
		fmt.Fprintln(stderr, "flowstate bench replay: want --url and one trace file")
		return 2
	}
	var bases []string
	for _, raw := range strings.Split(f.url, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			fmt.Fprintf(stderr, "flowstate bench replay: --url %q: want ws://HOST:PORT, or several separated by commas\n", f.url)
			return 2
		}
		bases = append(bases, strings.TrimSuffix(u.String(), "/"))
	}
	if f.rooms < 1 || f.window < 1 {
		fmt.Fprintln(stderr, "flowstate bench replay: --rooms and --window must be at least 1")
		return 2
	}
	tr, err := readTrace(files[0])
	if err != nil {
		return fail(stderr, "bench replay", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	rooms := []string{f.room}
	if f.rooms > 1 {
		rooms = rooms[:0]
		for i := range f.rooms {
			rooms = append(rooms, fmt.Sprintf("%s-%d", f.room, i+1))
		}
	}
	results := make([]replayResult, len(rooms))
	errs := make([]error, len(rooms))
	var wg stdsync.WaitGroup
	for i, room := range rooms {
		write, check := bases[i%len(bases)], bases[(i+1)%len(bases)]
		wg.Go(func() { results[i], errs[i] = replayRemote(ctx, write, check, room, tr, f.limit, f.window) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		hint := ""
		for _, e := range errs {
			if hint = capHint(e); hint != "" {
				break
			}
		}
		fmt.Fprintf(stderr, "flowstate bench replay: %v%s\n", err, hint)
		return 1
	}
	var total replayResult
	for _, r := range results {
		total.updates += r.updates
		total.elapsed = max(total.elapsed, r.elapsed)
		total.length = r.length
		total.latencies = append(total.latencies, r.latencies...)
	}
	slices.Sort(total.latencies)
	p50, p99 := ackPercentile(total.latencies, 50), ackPercentile(total.latencies, 99)
	where := "a second client read the final text in each room"
	if len(bases) > 1 {
		where = fmt.Sprintf("rooms spread over %d nodes; a second client read the final text of each room on another node", len(bases))
	}
	fmt.Fprintf(stdout, "%s: %d updates into %d room(s) in %.1f s (%.0f updates/s), all acknowledged; ack latency p50 %.2f ms, p99 %.2f ms (window %d); %s (%d code points)\n",
		traceName(files[0]), total.updates, len(rooms), total.elapsed.Seconds(), float64(total.updates)/total.elapsed.Seconds(),
		p50, p99, f.window, where, total.length)
	return 0
}

// ackPercentile returns the p-th percentile of sorted, or 0 if it is empty.
func ackPercentile(sorted []float32, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)*p/100, len(sorted)-1)])
}

// replayResult is what replayRemote measured.
type replayResult struct {
	updates   int
	elapsed   time.Duration // from the first edit to the last acknowledgement
	length    int           // code points of the final text
	latencies []float32     // per update, from its sending to its Ack, in ms
}

// replayRemote sends each patch of tr (the first limit of them, if limit
// > 0) as its own Update message into room at the server write, keeping
// at most window of them unacknowledged, waits until the server
// acknowledged all of them, and checks the text a fresh client of the
// server check reads. It speaks the protocol itself, rather than through
// the Go client, to see the Ack of each message.
func replayRemote(ctx context.Context, write, check, room string, tr *trace, limit, window int) (replayResult, error) {
	var res replayResult
	doc := crdt.NewDoc()
	conn, err := replayJoin(ctx, write+"/ws/"+room, room, doc)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	if doc.Text(benchTextName).Len() != 0 {
		return res, fmt.Errorf("room %s at %s is not empty", room, write)
	}

	// sent[i] is when message i+1 went out. The reader takes Acks, which
	// acknowledge every message up to theirs, and frees window slots.
	var mu stdsync.Mutex
	// mu guards sent, acked and readErr.
	var (
		sent    []time.Time
		acked   int
		readErr error
	)
	slots := make(chan struct{}, window)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			_, b, err := conn.ReadMessage()
			if err == nil {
				var m protocol.Message
				if m, err = protocol.Decode(b); err == nil {
					switch m := m.(type) {
					case *protocol.Ack:
						now := time.Now()
						mu.Lock()
						for ; acked < int(min(m.Seq, uint64(len(sent)))); acked++ {
							res.latencies = append(res.latencies, float32(now.Sub(sent[acked]).Seconds()*1000))
							<-slots
						}
						mu.Unlock()
					case *protocol.Error:
						err = fmt.Errorf("server error %d: %s", m.Code, m.Message)
					}
				}
			}
			if err != nil {
				mu.Lock()
				readErr = err
				mu.Unlock()
				return
			}
		}
	}()
	stopped := func() error {
		mu.Lock()
		defer mu.Unlock()
		return readErr
	}
	send := func(p patch) error {
		update, err := doc.Transact(func() error {
			text := doc.Text(benchTextName)
			if p.del > 0 {
				if _, err := text.Delete(p.pos, p.del); err != nil {
					return err
				}
			}
			if p.ins != "" {
				_, err := text.Insert(p.pos, p.ins)
				return err
			}
			return nil
		})
		if err != nil || len(update) == 0 {
			return err
		}
		select {
		case slots <- struct{}{}:
		case <-readDone:
			return stopped()
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		sent = append(sent, time.Now())
		seq := uint64(len(sent))
		mu.Unlock()
		b, err := protocol.Encode(&protocol.Update{Seq: seq, Updates: [][]byte{update}})
		if err != nil {
			return err
		}
		res.updates++
		if err := conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
			// The server's close frame, which the reader gets, says why
			// better than the failed write.
			select {
			case <-readDone:
				return fmt.Errorf("%w (%w)", stopped(), err)
			case <-time.After(time.Second):
				return err
			}
		}
		return nil
	}
	start := time.Now()
	if tr.StartContent != "" {
		if err := send(patch{ins: tr.StartContent}); err != nil {
			return res, err
		}
	}
	want := tr.EndContent
replay:
	for i, t := range tr.Txns {
		for _, p := range t.Patches {
			if limit > 0 && res.updates == limit {
				want = doc.Text(benchTextName).String()
				break replay
			}
			if err := send(p); err != nil {
				return res, fmt.Errorf("txn %d: %w", i, err)
			}
		}
	}
	// Every slot free: every message acknowledged.
	for range window {
		select {
		case slots <- struct{}{}:
		case <-readDone:
			return res, fmt.Errorf("waiting for Acks: %w", stopped())
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	res.elapsed = time.Since(start)
	conn.Close()
	<-readDone
	mu.Lock()
	res.latencies = slices.Clone(res.latencies)
	mu.Unlock()

	c, err := docsync.Dial(ctx, check+"/ws/"+room, nil)
	if err != nil {
		return res, err
	}
	defer c.Close()
	if err := c.WaitSynced(ctx); err != nil {
		return res, err
	}
	got := c.Text(benchTextName)
	if got != want {
		return res, fmt.Errorf("a second client at %s reads %d bytes of room %s, the replay ended with %d (first difference at byte %d)",
			check, len(got), room, len(want), firstDifference(got, want))
	}
	res.length = len([]rune(got))
	return res, nil
}

// replayJoin opens a WebSocket to rawURL, says hello as doc's client,
// and applies the Welcome to doc.
func replayJoin(ctx context.Context, rawURL, room string, doc *crdt.Doc) (*websocket.Conn, error) {
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, rawURL, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w", rawURL, &docsync.UpgradeError{StatusCode: resp.StatusCode, Status: resp.Status})
		}
		return nil, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	b, err := protocol.Encode(&protocol.Hello{Version: 1, Room: room, Client: uint64(doc.ClientID()), StateVector: doc.StateVector().Encode()})
	if err == nil {
		err = conn.WriteMessage(websocket.BinaryMessage, b)
	}
	var m protocol.Message
	if err == nil {
		_, b, err = conn.ReadMessage()
	}
	if err == nil {
		m, err = protocol.Decode(b)
	}
	if err == nil {
		switch m := m.(type) {
		case *protocol.Welcome:
			err = doc.Apply(m.Update)
		case *protocol.Error:
			err = fmt.Errorf("server error %d: %s", m.Code, m.Message)
		default:
			err = fmt.Errorf("expected a Welcome, got %s", m.Type())
		}
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("join %s: %w", rawURL, err)
	}
	return conn, nil
}
