package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"
)

const benchAPIUsage = `Usage:

	flowstate bench api --url http://HOST:PORT [flags]

Drives a running server's write API: --clients HTTP clients each post
one JSON edit (an insert of a few characters) after another to
POST /api/rooms/ROOM/edits, spread over --rooms rooms, for --duration.
Every answer comes once the edit is durable, so edits/s is the rate of
durable edits, and the latencies are those of a backend waiting for
each write. Run it against a server started with --rate-messages 0
--rate-bytes 0 only if you also drive WebSocket clients; the API itself
is not rate limited.

Flags:
`

// benchAPIFlags are the flags of "flowstate bench api".
type benchAPIFlags struct {
	url      string
	room     string
	rooms    int
	clients  int
	duration time.Duration
	token    string
}

func newBenchAPIFlagSet(f *benchAPIFlags, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bench api", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.url, "url", envOr("FLOWSTATE_API_URL", ""), "server `http://host:port` (FLOWSTATE_API_URL)")
	fs.StringVar(&f.room, "room", "bench-api", "`room` to write into; with --rooms N, ROOM-1 ... ROOM-N")
	fs.IntVar(&f.rooms, "rooms", 1, "spread the clients over this `many` rooms")
	fs.IntVar(&f.clients, "clients", 10, "concurrent HTTP `clients`")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "how long to write")
	fs.StringVar(&f.token, "token", envOr("FLOWSTATE_TOKEN", ""), "bearer `token` with write permission, if the server requires one (FLOWSTATE_TOKEN)")
	fs.Usage = func() {
		fmt.Fprint(out, benchAPIUsage)
		fs.PrintDefaults()
	}
	return fs
}

// apiResult is what benchAPI measured.
type apiResult struct {
	edits     int
	errors    int
	elapsed   time.Duration
	latencies []time.Duration // sorted
	firstErr  error
}

// quantile returns the q-quantile of r's sorted latencies.
func (r *apiResult) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

// runBenchAPI runs "flowstate bench api".
func runBenchAPI(args []string, stdout, stderr io.Writer) int {
	var f benchAPIFlags
	fs := newBenchAPIFlagSet(&f, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case f.url == "" || fs.NArg() > 0:
		fmt.Fprintln(stderr, "flowstate bench api: want --url http://HOST:PORT and no arguments")
		return 2
	case f.clients < 1 || f.rooms < 1 || f.duration <= 0:
		fmt.Fprintln(stderr, "flowstate bench api: --clients, --rooms and --duration must be positive")
		return 2
	}
	r := benchAPI(f)
	if r.edits == 0 {
		fmt.Fprintf(stderr, "flowstate bench api: no edit succeeded: %v\n", r.firstErr)
		return 1
	}
	fmt.Fprintf(stdout, "%d durable edits from %d clients into %d room(s) in %.1f s: %.0f edits/s; latency p50 %s, p99 %s, max %s; %d errors\n",
		r.edits, f.clients, f.rooms, r.elapsed.Seconds(), float64(r.edits)/r.elapsed.Seconds(),
		r.quantile(0.50).Round(10*time.Microsecond), r.quantile(0.99).Round(10*time.Microsecond), r.quantile(1).Round(10*time.Microsecond), r.errors)
	if r.errors > 0 {
		fmt.Fprintf(stderr, "flowstate bench api: first error: %v\n", r.firstErr)
		return 1
	}
	return 0
}

// benchAPI posts edits from f.clients goroutines for f.duration.
func benchAPI(f benchAPIFlags) *apiResult {
	tr := &http.Transport{MaxIdleConnsPerHost: f.clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	base := strings.TrimSuffix(f.url, "/")
	var (
		mu       stdsync.Mutex
		res      apiResult
		errCount atomic.Int64
	)
	start := time.Now()
	stop := start.Add(f.duration)
	var wg stdsync.WaitGroup
	for i := range f.clients {
		room := f.room
		if f.rooms > 1 {
			room = fmt.Sprintf("%s-%d", f.room, i%f.rooms+1)
		}
		url := base + "/api/rooms/" + room + "/edits"
		body := []byte(fmt.Sprintf(`[{"text": "body", "delta": [{"insert": "c%d "}]}]`, i))
		wg.Go(func() {
			var lat []time.Duration
			for time.Now().Before(stop) {
				t0 := time.Now()
				err := postEdit(context.Background(), client, url, f.token, body)
				if err != nil {
					if errCount.Add(1) == 1 {
						mu.Lock()
						res.firstErr = err
						mu.Unlock()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.edits = len(res.latencies)
	res.errors = int(errCount.Load())
	slices.Sort(res.latencies)
	return &res
}

// postEdit posts one body of edits and requires 200.
func postEdit(ctx context.Context, client *http.Client, url, token string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return nil
}
