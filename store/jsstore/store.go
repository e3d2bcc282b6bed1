package jsstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowstate/flowstate/store"
	"github.com/flowstate/flowstate/store/jsstore/internal/wire"
)

// Errors returned by Open and the Store's methods.
var (
	// ErrNoMerge is returned by Open without Options.Merge.
	ErrNoMerge = errors.New("jsstore: Options.Merge is required")

	// ErrTooLarge is returned by Append for an update that does not fit
	// in one message of the NATS server (its max_payload).
	ErrTooLarge = errors.New("jsstore: update larger than the NATS server's max_payload")
)

// nodeHeader names the header that carries the ID of the store that
// published a log entry, so that a store knows its own entries.
const nodeHeader = "Flowstate-Node"

// Defaults of the Options fields.
const (
	DefaultPrefix     = "flowstate"
	DefaultTimeout    = 5 * time.Second
	DefaultPurgeDelay = time.Minute
)

// Options configures a Store. The zero value of each field but Merge
// selects its default.
type Options struct {
	// Prefix starts every subject and names the stream and buckets (see
	// the package documentation). Zero means DefaultPrefix ("flowstate").
	// Letters, digits, '-' and '_' only.
	Prefix string

	// Replicas is how many servers keep a copy of every message and
	// snapshot (the stream's and buckets' replicas): an append is
	// acknowledged once a majority of them stored it. At most 5; zero
	// means 1. Existing streams and buckets are updated to it.
	Replicas int

	// Merge folds updates into snapshot and returns the resulting
	// snapshot (with package crdt: apply all to an empty document and
	// encode it). A compaction uses it to take in what other nodes wrote
	// that the caller's snapshot may lack. Required.
	Merge func(snapshot []byte, updates [][]byte) ([]byte, error)

	// Timeout bounds each call to the servers: an Append without an
	// acknowledgement within it fails (and the room retries). Zero means
	// DefaultTimeout (5 s).
	Timeout time.Duration

	// Node identifies this store's entries in the log. Zero means a
	// random ID, new with each Open.
	Node string

	// PurgeDelay is how long a room's log entries are kept after a
	// snapshot holds them, for the rooms on other nodes that follow the
	// log and are behind. Zero means DefaultPurgeDelay (1 minute); a
	// negative value purges at the next compaction.
	PurgeDelay time.Duration

	// Server is the embedded server the store's connection goes to, if
	// any (StartServer). Only through it can ClusterInfo tell the
	// JetStream meta leader, which clients cannot ask for.
	Server *server.Server
}

// A Store keeps rooms in NATS JetStream (see the package documentation
// for the layout). It is safe for concurrent use, and any number of
// Stores, in any number of processes, may share one JetStream.
type Store struct {
	opts    Options
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  jetstream.Stream
	buckets atomic.Pointer[buckets]
	// reopening is held while the handles are made again after no
	// responders, so that reads failing together (a leader election
	// answers no one too) make them once, not once each.
	reopening sync.Mutex
	subject   string // the prefix of room subjects, with its final '.'

	mu sync.Mutex
	// mu guards the fields below.
	known  map[string]known
	closed bool

	// followers are the running Follows by room token, for the heads
	// watcher (watchHeads), which starts with the first Follow.
	followers   map[string]map[*follower]struct{}
	headsWatch  jetstream.KeyWatcher
	watchCancel context.CancelFunc
	watchMu     sync.Mutex // held while the heads watcher starts

	publishSeconds prometheus.Histogram
	pendingGauge   prometheus.GaugeFunc
	// pending adds up the log entries each Follow has yet to deliver.
	pending atomic.Int64
}

// buckets are the handles of the buckets a store keeps its heads, owners
// and snapshots in. A handle reads its bucket the way the bucket's stream
// was set up when the handle was made (see openBuckets), so the handles
// are made again when that changed under them.
type buckets struct {
	heads   jetstream.KeyValue
	owners  jetstream.KeyValue
	objects jetstream.ObjectStore
}

func (s *Store) heads() jetstream.KeyValue      { return s.buckets.Load().heads }
func (s *Store) owners() jetstream.KeyValue     { return s.buckets.Load().owners }
func (s *Store) objects() jetstream.ObjectStore { return s.buckets.Load().objects }

// known is what the caller of Load holds of a room: the log up to seq
// (and its own appends), and the snapshot of head revision rev (0: none,
// or one it does not hold).
type known struct {
	seq uint64
	rev uint64
}

var _ store.Store = (*Store)(nil)

// Open makes (or updates) the stream and buckets the store uses, over
// nc, which stays the caller's to close. In a cluster that is still
// electing its leaders, it retries until ctx ends.
func Open(ctx context.Context, nc *nats.Conn, opts Options) (*Store, error) {
	if opts.Merge == nil {
		return nil, ErrNoMerge
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if !validPrefix(opts.Prefix) {
		return nil, fmt.Errorf("jsstore: invalid prefix %q: letters, digits, '-' and '_' only", opts.Prefix)
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.Replicas < 1 || opts.Replicas > 5 {
		return nil, fmt.Errorf("jsstore: replicas %d: from 1 to 5", opts.Replicas)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.PurgeDelay == 0 {
		opts.PurgeDelay = DefaultPurgeDelay
	}
	if opts.Node == "" {
		opts.Node = nuid.Next()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jsstore: %w", err)
	}
	s := &Store{opts: opts, nc: nc, js: js, subject: opts.Prefix + ".room.", known: make(map[string]known), followers: make(map[string]map[*follower]struct{})}
	s.newMetrics()
	for {
		err = s.setUp(ctx)
		if err == nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("jsstore: set up JetStream: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// setUp makes the stream and buckets.
func (s *Store) setUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	p, r := s.opts.Prefix, s.opts.Replicas
	var err error
	s.stream, err = s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        streamName(p),
		Description: "FlowState: the updates of each room since its snapshot",
		Subjects:    []string{s.subject + "*"},
		Storage:     jetstream.FileStorage,
		Replicas:    r,
		Duplicates:  2 * time.Minute,
		// Message gets go to the stream's leader: a direct get may be
		// answered by a replica that lags, and a load must see every
		// append acknowledged before it.
		AllowDirect: false,
	})
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	_, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      p + "_heads",
		Description: "FlowState: where each room's snapshot is and the log sequence it covers",
		Storage:     jetstream.FileStorage,
		Replicas:    r,
	})
	if err != nil {
		return fmt.Errorf("heads bucket: %w", err)
	}
	_, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      p + "_owners",
		Description: "FlowState: the identity each client ID is bound to, per room",
		Storage:     jetstream.FileStorage,
		Replicas:    r,
	})
	if err != nil {
		return fmt.Errorf("owners bucket: %w", err)
	}
	_, err = s.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      p + "_snapshots",
		Description: "FlowState: room snapshots",
		Storage:     jetstream.FileStorage,
		Replicas:    r,
	})
	if err != nil {
		return fmt.Errorf("snapshots bucket: %w", err)
	}
	return s.readFromLeaders(ctx)
}

// readFromLeaders makes the buckets' reads go to their streams' leaders,
// as the room stream's do. nats.go makes a bucket's stream with
// AllowDirect, so a Get is a direct get that any replica may answer: one
// that lags returns an old head (and a load misses acknowledged appends),
// and one that is paused or cut off swallows the request until the route
// to it is found dead, minutes later, so that every load on the node
// routed to it times out.
func (s *Store) readFromLeaders(ctx context.Context) error {
	for _, name := range bucketStreams(s.opts.Prefix) {
		st, err := s.js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		cfg := st.CachedInfo().Config
		if !cfg.AllowDirect {
			continue
		}
		cfg.AllowDirect = false
		if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("stream %s: read from its leader: %w", name, err)
		}
	}
	return s.openBuckets(ctx)
}

// openBuckets makes the buckets' handles. A handle makes direct gets if
// its stream allowed them when it was made, and a stream that has
// stopped allowing them has no one to answer them: every read through
// that handle fails with no responders. That happens when stores open
// at once: each makes the buckets again (nats.go allows direct gets
// then) before it turns direct gets off, so a store can make its
// handles between another's two steps. A read that meets no responders
// therefore makes the handles again (see retryable), and they read from
// the leader from then on.
func (s *Store) openBuckets(ctx context.Context) error {
	p := s.opts.Prefix
	var b buckets
	var err error
	if b.heads, err = s.js.KeyValue(ctx, p+"_heads"); err != nil {
		return fmt.Errorf("heads bucket: %w", err)
	}
	if b.owners, err = s.js.KeyValue(ctx, p+"_owners"); err != nil {
		return fmt.Errorf("owners bucket: %w", err)
	}
	if b.objects, err = s.js.ObjectStore(ctx, p+"_snapshots"); err != nil {
		return fmt.Errorf("snapshots bucket: %w", err)
	}
	s.buckets.Store(&b)
	return nil
}

func streamName(prefix string) string { return strings.ToUpper(prefix) + "_ROOMS" }

// bucketStreams names the streams nats.go keeps the buckets in.
func bucketStreams(prefix string) []string {
	return []string{"KV_" + prefix + "_heads", "KV_" + prefix + "_owners", "OBJ_" + prefix + "_snapshots"}
}

func validPrefix(p string) bool {
	for i := 0; i < len(p); i++ {
		if !wire.Plain(p[i]) && p[i] != '_' {
			return false
		}
	}
	return p != ""
}

// Node returns the ID that marks this store's log entries.
func (s *Store) Node() string { return s.opts.Node }

// Subject returns the subject of a room's log entries.
func (s *Store) Subject(room string) string { return s.subject + RoomToken(room) }

// check refuses calls on a closed store and room names without a token.
func (s *Store) check(room string) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return store.ErrClosed
	}
	if room == "" || len(room) > maxRoomBytes {
		return store.ErrRoomName
	}
	return nil
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.Timeout)
}

// An entry is one log message of a room.
type entry struct {
	seq     uint64
	node    string
	updates [][]byte
}

// getHead returns the room's head and its revision, or a zero head and
// revision 0 if the room has no snapshot.
func (s *Store) getHead(ctx context.Context, token string) (head, uint64, error) {
	e, err := s.heads().Get(ctx, token)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return head{}, 0, nil
	}
	if err != nil {
		return head{}, 0, fmt.Errorf("jsstore: head: %w", err)
	}
	h, err := wire.DecodeHead(e.Value())
	if err != nil {
		return head{}, 0, fmt.Errorf("jsstore: %w: %w", store.ErrCorrupt, err)
	}
	return h, e.Revision(), nil
}

// errRaced means a compaction changed the room while it was read; the
// reader starts again.
var errRaced = errors.New("jsstore: the room changed while it was read")

// maxAttempts bounds how often a read or compaction starts again after
// racing another node's compaction.
const maxAttempts = 10

// retryable reports whether err is worth another attempt within ctx:
// a race with a compaction (or a consumer on a replica that has not
// caught up with the leader yet), or a server that is not ready to
// answer yet (a stream or consumer whose leader is being elected answers
// no one, and so does a bucket's stream to a handle that makes direct
// gets it no longer allows: the handles are made again), after a short
// pause.
func (s *Store) retryable(ctx context.Context, err error) bool {
	if !errors.Is(err, errRaced) && !errors.Is(err, nats.ErrNoResponders) {
		return false
	}
	if errors.Is(err, nats.ErrNoResponders) && s.reopening.TryLock() {
		// A failure leaves the handles as they were, for the next try.
		_ = s.openBuckets(ctx)
		s.reopening.Unlock()
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(100 * time.Millisecond):
		return true
	}
}

// retried runs f until it succeeds, fails for good, or has run
// maxAttempts times (see retryable).
func (s *Store) retried(ctx context.Context, f func() error) error {
	for range maxAttempts - 1 {
		if err := f(); !s.retryable(ctx, err) {
			return err
		}
	}
	return f()
}

// shortLog is how many entries readLog fetches one by one before it
// makes a consumer for the rest of a room's log.
const shortLog = 32

// readLog returns the room's log entries after seq, in order, and the
// sequence of the last (after, if none).
func (s *Store) readLog(ctx context.Context, subject string, after uint64) ([]entry, uint64, error) {
	last, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, after, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("jsstore: last log entry: %w", err)
	}
	if last.Sequence <= after {
		return nil, after, nil
	}
	// A short log is read one entry at a time, each a message get that
	// the stream's leader answers: a consumer costs a proposal to the
	// cluster's meta leader and an election of its own, which a node that
	// opens many rooms at once (its clients moved over from a node that
	// died) would wait for in turn.
	var entries []entry
	next := after + 1
	for range shortLog {
		m, err := s.stream.GetMsg(ctx, next, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, 0, errRaced // purged by a compaction meanwhile
		}
		if err != nil {
			return nil, 0, fmt.Errorf("jsstore: read log: %w", err)
		}
		updates, err := wire.DecodeEntry(m.Data)
		if err != nil {
			return nil, 0, fmt.Errorf("jsstore: %w: sequence %d: %w", store.ErrCorrupt, m.Sequence, err)
		}
		entries = append(entries, entry{seq: m.Sequence, node: m.Header.Get(nodeHeader), updates: updates})
		if m.Sequence >= last.Sequence {
			return entries, last.Sequence, nil
		}
		next = m.Sequence + 1
	}
	// One plain consumer for the rest, fetched from until the last entry:
	// an ordered consumer would be made anew for every fetch.
	cons, err := s.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject: subject,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   next,
		AckPolicy:     jetstream.AckNonePolicy,
		MemoryStorage: true,
		Replicas:      1,
		// The servers drop it soon after the read, rather than after
		// the default five minutes, with no request to delete it.
		InactiveThreshold: 5 * time.Second,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("jsstore: read log: consumer: %w", err)
	}
	for empty := 0; ; {
		// What the stream holds is there to take: a fetch that waited
		// would only wait for its expiry.
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return nil, 0, fmt.Errorf("jsstore: read log: fetch: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return nil, 0, fmt.Errorf("jsstore: read log: %w", err)
			}
			updates, err := wire.DecodeEntry(m.Data())
			if err != nil {
				return nil, 0, fmt.Errorf("jsstore: %w: sequence %d: %w", store.ErrCorrupt, md.Sequence.Stream, err)
			}
			entries = append(entries, entry{seq: md.Sequence.Stream, node: m.Headers().Get(nodeHeader), updates: updates})
			if md.Sequence.Stream >= last.Sequence {
				return entries, last.Sequence, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, 0, fmt.Errorf("jsstore: read log: batch: %w", err)
		}
		if got == 0 {
			// The last entry went before it was read (a compaction
			// purged the log meanwhile), or the consumer is on a
			// replica that lags: a few more tries, then the load
			// starts again.
			if empty++; empty > 3 {
				return nil, 0, errRaced
			}
			time.Sleep(time.Duration(empty) * 20 * time.Millisecond)
		}
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("jsstore: read log: %w", ctx.Err())
		}
	}
}

// Load returns the room's snapshot and the updates of the log entries
// after it. It reads the head, the snapshot and the log, then the head
// again: a compaction that finished meanwhile may have purged what it
// read, so it starts again.
func (s *Store) Load(room string) ([]byte, [][]byte, error) {
	snapshot, updates, _, err := s.LoadSeq(room)
	return snapshot, updates, err
}

// LoadSeq is Load, and also returns the stream sequence up to which the
// result holds the room's log: a follower of the room's subject starts
// after it.
func (s *Store) LoadSeq(room string) ([]byte, [][]byte, uint64, error) {
	if err := s.check(room); err != nil {
		return nil, nil, 0, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	token := RoomToken(room)
	var last error
	for range maxAttempts {
		snapshot, updates, k, err := s.load(ctx, token)
		if s.retryable(ctx, err) {
			last = err
			continue
		}
		if err != nil {
			return nil, nil, 0, err
		}
		s.mu.Lock()
		s.known[room] = k
		s.mu.Unlock()
		return snapshot, updates, k.seq, nil
	}
	return nil, nil, 0, fmt.Errorf("jsstore: load room %q: tried %d times: %w", room, maxAttempts, last)
}

func (s *Store) load(ctx context.Context, token string) ([]byte, [][]byte, known, error) {
	h, rev, err := s.getHead(ctx, token)
	if err != nil {
		return nil, nil, known{}, err
	}
	var snapshot []byte
	if rev != 0 {
		snapshot, err = s.objects().GetBytes(ctx, h.Object)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, nil, known{}, errRaced
		}
		if err != nil {
			return nil, nil, known{}, fmt.Errorf("jsstore: snapshot: %w", err)
		}
	}
	entries, last, err := s.readLog(ctx, s.subject+token, h.Seq)
	if err != nil {
		return nil, nil, known{}, err
	}
	if _, rev2, err := s.getHead(ctx, token); err != nil {
		return nil, nil, known{}, err
	} else if rev2 != rev {
		return nil, nil, known{}, errRaced
	}
	var updates [][]byte
	for _, e := range entries {
		updates = append(updates, e.updates...)
	}
	return snapshot, updates, known{seq: last, rev: rev}, nil
}

// Append publishes updates to the room's subject and returns once
// JetStream acknowledged them, that is once a majority of the replicas
// stored them. Updates that fit go in one message (atomically); more
// than a message holds take several, each stored whole. Every message
// carries a message ID that is a hash of its subject and bytes, so that
// JetStream stores a resend (an Append retried after a failure) once.
func (s *Store) Append(room string, updates ...[]byte) error {
	if err := s.check(room); err != nil {
		return err
	}
	if len(updates) == 0 {
		return nil
	}
	limit := int(s.nc.MaxPayload()) - 1024 // headers
	subject := s.Subject(room)
	ctx, cancel := s.ctx()
	defer cancel()
	for len(updates) > 0 {
		n := 0
		for n < len(updates) && wire.EntrySize(updates[:n+1]) <= limit {
			n++
		}
		if n == 0 {
			return fmt.Errorf("%w: %d bytes, %d allowed", ErrTooLarge, len(updates[0]), limit)
		}
		if err := s.publish(ctx, subject, wire.EncodeEntry(updates[:n])); err != nil {
			return err
		}
		updates = updates[n:]
	}
	return nil
}

func (s *Store) publish(ctx context.Context, subject string, data []byte) error {
	m := nats.NewMsg(subject)
	m.Data = data
	m.Header.Set(nodeHeader, s.opts.Node)
	start := time.Now()
	_, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgID(msgID(subject, data)), jetstream.WithExpectStream(streamName(s.opts.Prefix)))
	s.publishSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("jsstore: append: %w", err)
	}
	return nil
}

// msgID is a message's JetStream message ID: a hash of its subject and
// bytes. Equal bytes on one subject are equal updates, which JetStream
// then keeps once (within the stream's duplicate window); applying an
// update twice would change nothing anyway.
func msgID(subject string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write(data)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// Compact stores snapshot as the room's snapshot, covering the room's
// log up to its last entry, and then purges the log up to what earlier
// snapshots at least Options.PurgeDelay old covered. The
// caller's snapshot holds what it loaded and appended; what other nodes
// appended since it loaded, and a snapshot another node stored since, are
// folded in with Options.Merge. The head is replaced by compare-and-set on
// its revision: of two nodes compacting at once one wins, and the other
// starts again from the winner's snapshot, so concurrent compactions lose
// nothing. The log is purged only once the new head is stored, and the
// old snapshot deleted after that.
func (s *Store) Compact(room string, snapshot []byte) error {
	if err := s.check(room); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*s.opts.Timeout)
	defer cancel()
	token := RoomToken(room)
	var err error
	for range maxAttempts {
		err = s.compact(ctx, room, token, snapshot)
		if !s.retryable(ctx, err) {
			return err
		}
	}
	return fmt.Errorf("jsstore: compact room %q: tried %d times: %w", room, maxAttempts, err)
}

func (s *Store) compact(ctx context.Context, room, token string, snapshot []byte) error {
	s.mu.Lock()
	k := s.known[room]
	s.mu.Unlock()
	h, rev, err := s.getHead(ctx, token)
	if err != nil {
		return err
	}
	var extra [][]byte
	if rev != 0 && rev != k.rev {
		// Another node compacted since the caller loaded, or this one
		// merged what the caller lacked into the snapshot: the snapshot
		// may hold what the caller never saw, and its log below it is
		// purged.
		other, err := s.objects().GetBytes(ctx, h.Object)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return errRaced
		}
		if err != nil {
			return fmt.Errorf("jsstore: snapshot: %w", err)
		}
		extra = append(extra, other)
	}
	entries, last, err := s.readLog(ctx, s.subject+token, h.Seq)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.node != s.opts.Node && e.seq > k.seq {
			extra = append(extra, e.updates...)
		}
	}
	if len(extra) > 0 {
		if snapshot, err = s.opts.Merge(snapshot, extra); err != nil {
			return fmt.Errorf("jsstore: compact room %q: merge: %w", room, err)
		}
	}
	name := token + "." + nuid.Next()
	if _, err := s.objects().PutBytes(ctx, name, snapshot); err != nil {
		return fmt.Errorf("jsstore: store snapshot: %w", err)
	}
	now := time.Now()
	nh := head{Seq: max(last, h.Seq), Object: name, Bytes: len(snapshot), Time: now.UnixNano(), Purged: h.Purged}
	// The log up to an earlier head's sequence may go once that head is
	// PurgeDelay old; the younger ones are kept in the new head.
	var purge uint64
	marks := h.Marks
	if rev != 0 {
		marks = append(slices.Clip(marks), mark{Seq: h.Seq, Time: h.Time})
	}
	for _, m := range marks {
		if now.Sub(time.Unix(0, m.Time)) >= s.opts.PurgeDelay {
			purge = max(purge, m.Seq)
		} else {
			nh.Marks = append(nh.Marks, m)
		}
	}
	nh.Purged = max(nh.Purged, purge)
	if n := len(nh.Marks); n > wire.MaxMarks {
		// The newest marks cover the oldest ones' entries too.
		nh.Marks = nh.Marks[n-wire.MaxMarks:]
	}
	var newRev uint64
	if rev == 0 {
		newRev, err = s.heads().Create(ctx, token, wire.EncodeHead(nh))
	} else {
		newRev, err = s.heads().Update(ctx, token, wire.EncodeHead(nh), rev)
	}
	if err != nil {
		s.objects().Delete(ctx, name) // a leftover would only take space
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return errRaced
		}
		return fmt.Errorf("jsstore: store head: %w", err)
	}
	// The caller holds the new snapshot only if nothing was merged into
	// it; otherwise its next compaction must take the snapshot in too.
	k = known{seq: nh.Seq, rev: newRev}
	if len(extra) > 0 {
		k.rev = 0
	}
	s.mu.Lock()
	s.known[room] = k
	s.mu.Unlock()
	// The new head is stored: the log it covers may go, once no
	// follower may still be reading it. A failure here leaves entries
	// that a load never reads, and an object that only takes space.
	//
	// Loads read only after the head, but a room on another node that
	// follows the log (Follow) and fell behind (its consumer was on a
	// node that died, and is being made again) must still find every
	// entry it has yet to read: the log is purged only up to a head at
	// least PurgeDelay old.
	if purge > 0 {
		s.stream.Purge(ctx, jetstream.WithPurgeSubject(s.subject+token), jetstream.WithPurgeSequence(purge+1))
	}
	if rev != 0 {
		s.objects().Delete(ctx, h.Object)
	}
	return nil
}

// Follow calls deliver, in order, with the updates of each log entry of
// the room after sequence after that other stores appended (LoadSeq
// tells where a room's log was read up to), until deliver returns false
// or stop is called. It skips this store's own entries, which its caller
// has. deliver may block; following waits for it. An entry that does not
// decode is skipped and reported to bad.
func (s *Store) Follow(room string, after uint64, deliver func(updates [][]byte) bool, bad func(error)) (stop func(), err error) {
	if err := s.check(room); err != nil {
		return nil, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	cons, err := s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{s.Subject(room)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    after + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("jsstore: follow room %q: %w", room, err)
	}
	f := &follower{room: room, deliver: deliver}
	f.last.Store(after)
	var mu sync.Mutex
	// mu guards stopped and cc.
	var stopped bool
	var cc jetstream.ConsumeContext
	// pending is what this follower adds to s.pending: the entries after
	// the one being delivered, and that one until deliver returns; zero
	// once stopped, even if a delivery under way ends after.
	var pmu sync.Mutex
	var pending int64
	var ended bool
	setPending := func(n int64) {
		pmu.Lock()
		defer pmu.Unlock()
		if ended {
			n = 0
		}
		s.pending.Add(n - pending)
		pending = n
	}
	done := make(chan struct{})
	stop = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		stopped = true
		s.unfollow(RoomToken(room), f)
		setPending(0)
		pmu.Lock()
		ended = true
		pmu.Unlock()
		close(done)
		if cc != nil {
			cc.Stop()
		}
	}
	consuming, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case <-done:
			return
		default:
		}
		var left int64
		var seq uint64
		if md, err := m.Metadata(); err == nil {
			left = int64(md.NumPending)
			seq = md.Sequence.Stream
		}
		defer f.advance(seq)
		if m.Headers().Get(nodeHeader) == s.opts.Node {
			setPending(left)
			return
		}
		updates, err := wire.DecodeEntry(m.Data())
		if err != nil {
			if bad != nil {
				bad(fmt.Errorf("jsstore: %w: room %q: %w", store.ErrCorrupt, room, err))
			}
			setPending(left)
			return
		}
		setPending(left + 1)
		ok := f.call(updates)
		setPending(left)
		if !ok {
			go stop() // not from inside the handler it waits for
		}
	},
		// A consumer on a node that died is noticed by its missing
		// heartbeats and made again on a live one, from where it was:
		// within seconds rather than the default's minute.
		jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return nil, fmt.Errorf("jsstore: follow room %q: %w", room, err)
	}
	mu.Lock()
	cc = consuming
	if stopped {
		cc.Stop()
	}
	mu.Unlock()
	f.stop = stop
	if err := s.follow(RoomToken(room), f); err != nil {
		stop()
		return nil, fmt.Errorf("jsstore: follow room %q: %w", room, err)
	}
	return stop, nil
}

// A follower is one running Follow, as the heads watcher sees it.
//
// A compaction purges the log up to a head at least PurgeDelay old. A
// follower further behind than that (its node was cut off, or stopped,
// for longer) would skip the purged entries without knowing: the
// consumer just delivers the next entry there is. So every head records
// how far its compaction purged (head.Purged), and when a follower sees
// a head that purged past the last entry it had, it is handed that
// head's snapshot, which holds every purged entry (applying what a
// document has already changes nothing).
type follower struct {
	room    string
	deliver func(updates [][]byte) bool
	stop    func()
	last    atomic.Uint64 // the stream sequence of the last entry seen
	mu      sync.Mutex    // serialises deliver; guards covered
	covered uint64        // the sequence the last snapshot handed over covers
}

// advance records that the entry at seq was seen.
func (f *follower) advance(seq uint64) {
	for {
		old := f.last.Load()
		if seq <= old || f.last.CompareAndSwap(old, seq) {
			return
		}
	}
}

// call delivers updates, one delivery at a time.
func (f *follower) call(updates [][]byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deliver(updates)
}

// follow registers f for the heads of the room token, starting the heads
// watcher with the first follower.
func (s *Store) follow(token string, f *follower) error {
	if err := s.watchHeadsOnce(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if s.followers[token] == nil {
		s.followers[token] = make(map[*follower]struct{})
	}
	s.followers[token][f] = struct{}{}
	return nil
}

// watchHeadsOnce starts the heads watcher if it is not running. Making it
// is a request to the cluster (its meta leader, under load seconds away),
// so s.mu is not held meanwhile: loads and compactions go on.
func (s *Store) watchHeadsOnce() error {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	s.mu.Lock()
	running, closed := s.headsWatch != nil, s.closed
	s.mu.Unlock()
	if closed {
		return store.ErrClosed
	}
	if running {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := s.heads().WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		cancel()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		w.Stop()
		cancel()
		return store.ErrClosed
	}
	s.headsWatch, s.watchCancel = w, cancel
	go s.watchHeads(w)
	return nil
}

// unfollow removes f.
func (s *Store) unfollow(token string, f *follower) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.followers[token], f)
	if len(s.followers[token]) == 0 {
		delete(s.followers, token)
	}
}

// watchHeads hands the followers of a room whose head purged past them
// that head's snapshot (see follower), until w stops.
func (s *Store) watchHeads(w jetstream.KeyWatcher) {
	for e := range w.Updates() {
		if e == nil || e.Operation() != jetstream.KeyValuePut {
			continue
		}
		h, err := wire.DecodeHead(e.Value())
		if err != nil || h.Purged == 0 {
			continue
		}
		s.mu.Lock()
		var behind []*follower
		for f := range s.followers[e.Key()] {
			behind = append(behind, f)
		}
		s.mu.Unlock()
		for _, f := range behind {
			s.catchUp(f, h)
		}
	}
}

// catchUp hands f the snapshot of h if h's compaction purged entries f
// has not seen.
func (s *Store) catchUp(f *follower, h head) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h.Purged <= max(f.last.Load(), f.covered) {
		return
	}
	ctx, cancel := s.ctx()
	var snapshot []byte
	err := s.retried(ctx, func() (err error) {
		snapshot, err = s.objects().GetBytes(ctx, h.Object)
		return err
	})
	cancel()
	if err != nil {
		// Replaced already (a newer head follows, and is handled the
		// same way), or unreachable: the room is reloaded when it opens
		// again.
		return
	}
	f.covered = h.Seq
	if !f.deliver([][]byte{snapshot}) {
		go f.stop()
	}
}

// PresenceSubject returns the core NATS subject of a room's presence.
func (s *Store) PresenceSubject(room string) string {
	return s.opts.Prefix + ".presence." + RoomToken(room)
}

// PublishPresence sends msg to the other stores' subscribers of the
// room's presence, over core NATS: at most once, never stored.
func (s *Store) PublishPresence(room string, msg []byte) error {
	if err := s.check(room); err != nil {
		return err
	}
	m := nats.NewMsg(s.PresenceSubject(room))
	m.Data = msg
	m.Header.Set(nodeHeader, s.opts.Node)
	return s.nc.PublishMsg(m)
}

// SubscribePresence calls deliver with each message other stores
// publish to the room's presence, until stop is called. deliver must not
// block.
func (s *Store) SubscribePresence(room string, deliver func(msg []byte)) (stop func(), err error) {
	if err := s.check(room); err != nil {
		return nil, err
	}
	sub, err := s.nc.Subscribe(s.PresenceSubject(room), func(m *nats.Msg) {
		if m.Header.Get(nodeHeader) != s.opts.Node {
			deliver(m.Data)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("jsstore: subscribe to room %q presence: %w", room, err)
	}
	return func() { sub.Unsubscribe() }, nil
}

// WatchOwners calls deliver with each binding of a client ID of the room
// stored from now on, by any store, until stop is called; deliver may
// block. A room uses it to learn of bindings made on other nodes.
func (s *Store) WatchOwners(room string, deliver func(client uint64, identity string)) (stop func(), err error) {
	if err := s.check(room); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	prefix := RoomToken(room) + "."
	w, err := s.owners().Watch(ctx, prefix+"*", jetstream.UpdatesOnly())
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jsstore: watch room %q owners: %w", room, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range w.Updates() {
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			id, err := strconv.ParseUint(strings.TrimPrefix(e.Key(), prefix), 10, 64)
			if err != nil {
				continue
			}
			deliver(id, string(e.Value()))
		}
	}()
	return func() {
		cancel()
		w.Stop()
		// The updates end once the unsubscription is through; a
		// deliver that blocks past it is the caller's to end.
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}, nil
}

// Owners returns the room's client IDs bound to identities.
func (s *Store) Owners(room string) (map[uint64]string, error) {
	if err := s.check(room); err != nil {
		return nil, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	var owners map[uint64]string
	err := s.retried(ctx, func() (err error) {
		owners, err = s.readOwners(ctx, RoomToken(room))
		return err
	})
	return owners, err
}

func (s *Store) readOwners(ctx context.Context, token string) (map[uint64]string, error) {
	prefix := token + "."
	lister, err := s.owners().ListKeysFiltered(ctx, prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("jsstore: owners: %w", err)
	}
	var owners map[uint64]string
	for key := range lister.Keys() {
		id, err := strconv.ParseUint(strings.TrimPrefix(key, prefix), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("jsstore: %w: owner key %q", store.ErrCorrupt, key)
		}
		e, err := s.owners().Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted with its room meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("jsstore: owners: %w", err)
		}
		if owners == nil {
			owners = make(map[uint64]string)
		}
		owners[id] = string(e.Value())
	}
	return owners, nil
}

// SetOwners binds each client ID to its identity, each with a create
// that fails if the ID is bound already, so that a binding is never
// changed, whichever node binds first. A failure part way leaves some
// bindings stored; the room retries the call, which then stores the rest.
func (s *Store) SetOwners(room string, owners map[uint64]string) error {
	if err := s.check(room); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return s.retried(ctx, func() error { return s.setOwners(ctx, RoomToken(room), owners) })
}

func (s *Store) setOwners(ctx context.Context, token string, owners map[uint64]string) error {
	for _, id := range slices.Sorted(maps.Keys(owners)) {
		_, err := s.owners().Create(ctx, token+"."+strconv.FormatUint(id, 10), []byte(owners[id]))
		if err != nil && !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("jsstore: bind owner: %w", err)
		}
	}
	return nil
}

// Rooms lists the rooms with a snapshot or log entries. LogEntries counts
// the log messages the stream holds for the room (each holds the updates
// of one Append), those the last compaction folded into the snapshot
// included, as they are purged one compaction late; LogBytes is not
// counted, and is 0.
func (s *Store) Rooms() ([]store.RoomInfo, error) {
	if err := s.check("-"); err != nil {
		return nil, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(s.subject+"*"))
	if err != nil {
		return nil, fmt.Errorf("jsstore: rooms: %w", err)
	}
	rooms := make(map[string]*store.RoomInfo)
	get := func(token string) *store.RoomInfo {
		name, err := RoomFromToken(token)
		if err != nil {
			return nil // not written by a Store
		}
		ri := rooms[name]
		if ri == nil {
			ri = &store.RoomInfo{Name: name}
			rooms[name] = ri
		}
		return ri
	}
	for subject, n := range info.State.Subjects {
		if ri := get(strings.TrimPrefix(subject, s.subject)); ri != nil {
			ri.LogEntries = int(n)
			if m, err := s.stream.GetLastMsgForSubject(ctx, subject); err == nil {
				ri.LastChange = m.Time
			}
		}
	}
	lister, err := s.heads().ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("jsstore: rooms: %w", err)
	}
	for token := range lister.Keys() {
		var h head
		var rev uint64
		err := s.retried(ctx, func() (err error) {
			h, rev, err = s.getHead(ctx, token)
			return err
		})
		if err != nil || rev == 0 {
			continue
		}
		if ri := get(token); ri != nil {
			ri.SnapshotBytes = h.Bytes
			if t := time.Unix(0, h.Time); t.After(ri.LastChange) {
				ri.LastChange = t
			}
		}
	}
	list := make([]store.RoomInfo, 0, len(rooms))
	for _, ri := range rooms {
		list = append(list, *ri)
	}
	slices.SortFunc(list, func(a, b store.RoomInfo) int { return strings.Compare(a.Name, b.Name) })
	return list, nil
}

// Delete removes the room's log, snapshot and owners.
func (s *Store) Delete(room string) error {
	if err := s.check(room); err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	err := s.retried(ctx, func() error { return s.delete(ctx, room) })
	if err == nil {
		s.mu.Lock()
		delete(s.known, room)
		s.mu.Unlock()
	}
	return err
}

func (s *Store) delete(ctx context.Context, room string) error {
	token := RoomToken(room)
	h, rev, err := s.getHead(ctx, token)
	if err != nil && !errors.Is(err, store.ErrCorrupt) {
		return err
	}
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(s.subject+token)); err != nil {
		return fmt.Errorf("jsstore: delete room %q: %w", room, err)
	}
	if err := s.heads().Purge(ctx, token); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("jsstore: delete room %q: %w", room, err)
	}
	if rev != 0 {
		s.objects().Delete(ctx, h.Object)
	}
	lister, err := s.owners().ListKeysFiltered(ctx, token+".*")
	if err != nil {
		return fmt.Errorf("jsstore: delete room %q: owners: %w", room, err)
	}
	for key := range lister.Keys() {
		if err := s.owners().Purge(ctx, key); err != nil {
			return fmt.Errorf("jsstore: delete room %q: owners: %w", room, err)
		}
	}
	return nil
}

// Ready reports whether the store can reach its NATS server: nil while
// connected and open. Quorum is not checked here: an Append without
// one fails, and the room then says so (Hub.Ready).
func (s *Store) Ready() error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return store.ErrClosed
	}
	if !s.nc.IsConnected() {
		return errors.New("jsstore: not connected to NATS")
	}
	return nil
}

// Close marks the store closed; its connection stays the caller's.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.closed = true
	if s.headsWatch != nil {
		s.headsWatch.Stop()
		s.watchCancel()
	}
	return nil
}
