package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowstate/flowstate/store"
	"github.com/flowstate/flowstate/store/jsstore"
	docsync "github.com/flowstate/flowstate/sync"
)

// adminNATSWait bounds how long an admin command waits for the cluster:
// long enough for a leader election, short enough to tell an operator
// soon that something is wrong.
const adminNATSWait = 30 * time.Second

// natsFlag registers --nats on an admin command.
func natsFlag(fs *flag.FlagSet, urls *string) {
	fs.StringVar(urls, "nats", envOr("FLOWSTATE_NATS", ""), "comma-separated `URLs` of the cluster's NATS servers: work on the rooms kept there instead of the data file (FLOWSTATE_NATS)")
}

// openNATS connects to the cluster at urls and opens its JetStream store.
// The store keeps the replicas the cluster's stream has, since Open
// updates the stream to the count it is given, and an admin command must
// not change how the servers keep rooms. release releases the store and the
// connection.
func openNATS(urls string) (st *jsstore.Store, release func(), err error) {
	nc, err := nats.Connect(urls, nats.Name("flowstate admin"), nats.Timeout(5*time.Second), nats.MaxReconnects(5))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w (is the URL right, and the cluster up?)", urls, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminNATSWait)
	defer cancel()
	replicas := min(3, len(nc.Servers()))
	if js, err := jetstream.New(nc); err == nil {
		if s, err := js.Stream(ctx, strings.ToUpper(jsstore.DefaultPrefix)+"_ROOMS"); err == nil {
			replicas = s.CachedInfo().Config.Replicas
		}
	}
	st, err = jsstore.Open(ctx, nc, jsstore.Options{Replicas: replicas, Merge: docsync.MergeUpdates})
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("JetStream at %s: %w", urls, err)
	}
	return st, func() { st.Close(); nc.Close() }, nil
}

// openAdminStore opens the rooms an admin command works on: the cluster's
// with --nats, else the data file (read-only unless write).
func openAdminStore(data, urls string, write bool) (store.Store, func(), error) {
	if urls != "" {
		st, release, err := openNATS(urls)
		if err != nil {
			return nil, nil, err
		}
		return st, release, nil
	}
	st, err := openData(data, !write, write)
	if err != nil {
		return nil, nil, err
	}
	return st, func() { st.Close() }, nil
}

// where names the store of an admin command in its messages.
func where(data, urls string) string {
	if urls != "" {
		return "the cluster at " + urls
	}
	return data
}

// runMigrate copies every room of a data file into a cluster.
func runMigrate(args []string, stdout, stderr io.Writer) int {
	var data, urls string
	fs := newAdminFlagSet("migrate", "flowstate migrate --from FILE --nats URLS\n\n"+
		"Copies every room of a stopped single-node server's data file, its\n"+
		"document and its client-ID owners, into the cluster at URLS (an\n"+
		"external NATS cluster, or an embedded node started with\n"+
		"--cluster-client-listen). A room the cluster has already is merged\n"+
		"into, so running it again changes nothing, and the cluster's servers\n"+
		"may keep running meanwhile. An owner keeps its first binding.", stderr)
	fs.StringVar(&data, "from", envOr("FLOWSTATE_DATA", "./flowstate.db"), "the data `file` to copy (FLOWSTATE_DATA)")
	natsFlag(fs, &urls)
	if _, status, ok := parseAdmin(fs, args, 0, stderr); !ok {
		return status
	}
	if urls == "" {
		fmt.Fprintln(stderr, "flowstate migrate: --nats URLS is required: the cluster to copy the rooms into")
		return 2
	}
	src, err := openData(data, true, false)
	if err != nil {
		return fail(stderr, "migrate", err)
	}
	defer src.Close()
	dst, closeDst, err := openNATS(urls)
	if err != nil {
		return fail(stderr, "migrate", err)
	}
	defer closeDst()
	rooms, err := src.Rooms()
	if err != nil {
		return fail(stderr, "migrate", err)
	}
	counts := map[string]int{}
	owners, failed := 0, 0
	for _, r := range rooms {
		what, n, err := migrateRoom(stdout, src, dst, r.Name)
		if err != nil {
			fmt.Fprintf(stderr, "flowstate migrate: room %q: %v\n", r.Name, err)
			failed++
			continue
		}
		counts[what]++
		owners += n
	}
	fmt.Fprintf(stdout, "migrated %d of %d rooms from %s (%d new, %d merged, %d unchanged), %d owners bound\n",
		len(rooms)-failed, len(rooms), data, counts["new"], counts["merged"], counts["unchanged"], owners)
	if failed > 0 {
		fmt.Fprintf(stderr, "flowstate migrate: %d rooms failed; fix the cause and run it again\n", failed)
		return 1
	}
	return 0
}

// migrateRoom merges room from src into dst, with its owners, printing a
// line. what is "new", "merged" or "unchanged"; bound counts the owners
// newly bound in dst.
//
// It appends what dst lacks rather than compacting dst's snapshot, so that
// servers on the cluster may write to the room meanwhile: an append never
// races with theirs, and a server folds it in at its next compaction.
func migrateRoom(stdout io.Writer, src, dst store.Store, room string) (what string, bound int, err error) {
	doc, _, err := loadDoc(src, room)
	if err != nil {
		return "", 0, err
	}
	if doc.HasPending() {
		// Its snapshot would drop the changes waiting for their
		// dependencies: the loss this command promises not to make.
		return "", 0, errors.New("it holds changes whose dependencies are missing; nothing was copied")
	}
	have, found, err := loadDoc(dst, room)
	if err != nil {
		return "", 0, err
	}
	before := have.Snapshot()
	diff := doc.Diff(have.StateVector())
	if err := have.Apply(diff); err != nil {
		return "", 0, err
	}
	what = "unchanged"
	if !bytes.Equal(have.Snapshot(), before) {
		err := dst.Append(room, diff)
		if errors.Is(err, jsstore.ErrTooLarge) {
			// Larger than a NATS message: a snapshot goes to the object
			// store in chunks, and a compaction merges what servers
			// append meanwhile. Members open on a server see it when
			// they join again.
			err = dst.Compact(room, have.Snapshot())
		}
		if err != nil {
			return "", 0, err
		}
		what = "merged"
		if !found {
			what = "new"
		}
	}
	owners, err := src.Owners(room)
	if err != nil {
		return "", 0, err
	}
	old, err := dst.Owners(room)
	if err != nil {
		return "", 0, err
	}
	kept := 0
	for id, identity := range owners {
		switch first, ok := old[id]; {
		case !ok:
			bound++
		case first != identity:
			kept++
		}
	}
	if bound > 0 {
		if err := dst.SetOwners(room, owners); err != nil {
			return "", 0, err
		}
	}
	line := fmt.Sprintf("room %q: %s, %d bytes, %d owners (%d newly bound)", room, what, len(have.Snapshot()), len(owners), bound)
	if kept > 0 {
		line += fmt.Sprintf("; %d bound to another user in the cluster already, which keeps its binding", kept)
	}
	fmt.Fprintln(stdout, line)
	return what, bound, nil
}
