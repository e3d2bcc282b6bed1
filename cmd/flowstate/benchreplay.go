package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdsync "sync"
	"time"

	"github.com/flowstate/flowstate/crdt"
	docsync "github.com/flowstate/flowstate/sync"
)

const benchReplayUsage = `Usage:

	flowstate bench replay --url ws://HOST:PORT [--room ROOM] TRACE

Replays an editing trace through a running server as one update per edit,
from one client per room (--rooms replays into several at once), then
checks that a second client reads the trace's final text in each. The server stores every update, so this measures the store under a
long single-room session; run it against a server started with
--rate-messages 0 --rate-bytes 0, or the rate limits close the client.

Flags:
`

// benchReplayFlags are the flags of "flowstate bench replay".
type benchReplayFlags struct {
	url     string
	room    string
	rooms   int
	limit   int
	timeout time.Duration
}

func newBenchReplayFlagSet(f *benchReplayFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bench replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.url, "url", envOr("FLOWSTATE_URL", ""), "server `ws://host:port` (FLOWSTATE_URL)")
	fs.StringVar(&f.room, "room", "replay", "`room` to replay into; it should be empty")
	fs.IntVar(&f.limit, "updates", 0, "stop each room's replay after this `many` updates (0: the whole trace)")
	fs.IntVar(&f.rooms, "rooms", 1, "replay into this `many` rooms at once (ROOM-1, ROOM-2, ...), one client each")
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
	tr, err := readTrace(files[0])
	if err != nil {
		return fail(stderr, "bench replay", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	if f.rooms < 1 {
		fmt.Fprintln(stderr, "flowstate bench replay: --rooms must be at least 1")
		return 2
	}
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
		wg.Go(func() { results[i], errs[i] = replayRemote(ctx, f.url+"/ws/"+room, tr, f.limit) })
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
	}
	fmt.Fprintf(stdout, "%s: %d updates into %d room(s) in %.1f s (%.0f updates/s), all acknowledged; a second client read the final text in each room (%d code points)\n",
		traceName(files[0]), total.updates, len(rooms), total.elapsed.Seconds(), float64(total.updates)/total.elapsed.Seconds(), total.length)
	return 0
}

// replayResult is what replayRemote measured.
type replayResult struct {
	updates int
	elapsed time.Duration // from the first edit to the last acknowledgement
	length  int           // code points of the final text
}

// replayRemote sends each patch of tr (the first limit of them, if limit
// > 0) as its own update through one client, waits until the server
// acknowledged all of them, and checks the text a fresh client reads.
func replayRemote(ctx context.Context, url string, tr *trace, limit int) (replayResult, error) {
	c, err := docsync.Dial(ctx, url, nil)
	if err != nil {
		return replayResult{}, err
	}
	defer c.Close()
	if err := c.WaitSynced(ctx); err != nil {
		return replayResult{}, err
	}
	if c.Text(benchTextName) != "" {
		return replayResult{}, fmt.Errorf("%s is not empty", url)
	}
	var res replayResult
	edit := func(p patch) error {
		return c.Edit(func(d *crdt.Doc) error {
			text := d.Text(benchTextName)
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
	}
	start := time.Now()
	if tr.StartContent != "" {
		if err := edit(patch{ins: tr.StartContent}); err != nil {
			return res, err
		}
		res.updates++
	}
	want := tr.EndContent
replay:
	for i, t := range tr.Txns {
		for _, p := range t.Patches {
			if limit > 0 && res.updates == limit {
				want = c.Text(benchTextName)
				break replay
			}
			if err := edit(p); err != nil {
				return res, fmt.Errorf("txn %d: %w", i, err)
			}
			res.updates++
		}
		if err := c.Err(); err != nil {
			return res, err
		}
	}
	if err := c.WaitSynced(ctx); err != nil {
		return res, err
	}
	res.elapsed = time.Since(start)

	check, err := docsync.Dial(ctx, url, nil)
	if err != nil {
		return res, err
	}
	defer check.Close()
	if err := check.WaitSynced(ctx); err != nil {
		return res, err
	}
	got := check.Text(benchTextName)
	if got != want {
		return res, fmt.Errorf("a second client reads %d bytes, the replay ended with %d (first difference at byte %d)",
			len(got), len(want), firstDifference(got, want))
	}
	res.length = len([]rune(got))
	return res, nil
}
