package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DefaultLockTimeout is how long OpenBolt waits for another process to
// release the data file when BoltOptions.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// DefaultCommitInterval is BoltOptions.CommitInterval when it is zero:
// at most 50 commits a second of writes that can wait, several times an
// fsync's latency on a disk, and short beside the time a person takes to
// notice that an edit is not yet saved.
const DefaultCommitInterval = 20 * time.Millisecond

// BoltOptions configure OpenBolt. The zero value is a durable store with
// group commit.
type BoltOptions struct {
	// LockTimeout bounds the wait for the file lock that keeps a second
	// process off the file. Zero means DefaultLockTimeout.
	LockTimeout time.Duration

	// SyncEachAppend commits every Append in its own transaction (one
	// fsync each) instead of grouping concurrent writes into one. It
	// exists to measure what group commit saves; leave it false.
	SyncEachAppend bool

	// ReadOnly opens the file with a shared lock for reading: several
	// read-only opens may share a file, but none can share it with a
	// writer. Append, Compact and Delete return ErrReadOnly. The file
	// must exist.
	ReadOnly bool

	// CommitInterval is how long after the start of one group commit the
	// next may wait to start while it holds only AppendLater writes,
	// gathering more: a busy server then makes fewer, larger
	// transactions, each costing an fsync, at the price of up to this
	// much more time before those writes are durable. Writes whose
	// caller waits never wait for it. Zero means DefaultCommitInterval;
	// a negative interval, none.
	CommitInterval time.Duration

	// SkipCheck skips the walk over every page at open; the meta pages
	// and the file's length are still checked. The walk reads the whole
	// file once; skip it only for files so large that this matters, and
	// accept that a damaged page may then crash the process.
	SkipCheck bool
}

// Limits of the group commit: a batch that grows past either is cut, and
// the rest waits for the next transaction. They bound a transaction's
// memory, not its latency.
const (
	maxBatchRequests = 4096
	maxBatchBytes    = 16 << 20
)

// Bolt is a durable Store in one bbolt file. Writes from every room go
// through one committer goroutine that group-commits them: everything
// pending when a transaction starts is written by it, with one fsync, and
// every writer is released with the result.
type Bolt struct {
	db   *bolt.DB
	path string
	opts BoltOptions

	// mu guards closed and the sends on reqs; reads hold it shared for
	// their whole transaction so that Close waits for them.
	mu     sync.RWMutex
	closed bool

	reqs chan *request // to the committer; nil when read-only or SyncEachAppend
	done chan struct{} // closed when the committer has exited

	// writeMu guards journalLen and journalBytes, the size of the journal
	// after the last commit. Only writers take it: the committer, or each
	// Append with SyncEachAppend.
	writeMu      sync.Mutex
	journalLen   int
	journalBytes int

	foldEntries, foldBytes int // the journal's limits; tests lower them

	interval time.Duration // the commit interval of AppendLater writes
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens the data file at path, creating it when it does not
// exist (unless opts.ReadOnly). It fails with an error wrapping ErrLocked
// when another process holds the file for longer than opts.LockTimeout,
// ErrCorrupt when the file is damaged, and ErrFormat when it is not a
// FlowState data file or was written by a newer version. It never
// panics on a damaged file.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if err := precheck(path, opts); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db, err := openDB(path, opts)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	b := &Bolt{db: db, path: path, opts: opts, foldEntries: foldEntries, foldBytes: foldBytes, interval: opts.CommitInterval}
	if b.interval == 0 {
		b.interval = DefaultCommitInterval
	}
	if err := b.checkFormat(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if !opts.ReadOnly && !opts.SyncEachAppend {
		b.reqs = make(chan *request, maxBatchRequests)
		b.done = make(chan struct{})
		go b.commitLoop()
	}
	return b, nil
}

// lockedError is the error for a file another process holds.
func lockedError() error {
	return errorOf(ErrLocked, "the file is locked by another process (is another flowstate server running?)")
}

// precheck locks an existing file as bbolt will, and checks it with
// checkFile before bbolt maps it. The lock is released before bbolt takes
// its own, which it may then fail to get if another process slips in:
// that is reported as locked too, never misread.
func precheck(path string, opts BoltOptions) error {
	flag := os.O_RDWR
	if opts.ReadOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if errors.Is(err, fs.ErrNotExist) && !opts.ReadOnly {
		return missingDir(path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := lockFile(f, !opts.ReadOnly, opts.LockTimeout); err != nil {
		if errors.Is(err, errLockTimeout) {
			return lockedError()
		}
		return err
	}
	defer unlockFile(f)
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		// As "touch" or a volume mount leaves it: bbolt initialises an
		// empty file, so a writer may start on it.
		if opts.ReadOnly {
			return errorOf(ErrCorrupt, "the file is empty (0 bytes): nothing is stored in it yet; a server started on it initialises it")
		}
		return nil
	}
	if opts.SkipCheck {
		m, err := readMeta(f, fi.Size())
		if err == nil && (m.pgid < 2 || m.pgid > uint64(fi.Size())/uint64(m.pageSize)) {
			err = fmt.Errorf("%w: truncated: the meta page claims %d pages of %d bytes, the file holds %d bytes", errCheck, m.pgid, m.pageSize, fi.Size())
		}
		return damaged(err)
	}
	return damaged(checkFile(f, fi.Size()))
}

// missingDir returns an error naming the directory of path when it does
// not exist, where bbolt would only say "no such file or directory".
func missingDir(path string) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the directory %s does not exist: create it first (mkdir -p %s), or choose another data file", dir, dir)
	}
	return nil
}

// damaged turns checkFile's findings into ErrCorrupt errors.
func damaged(err error) error {
	if errors.Is(err, errNotBolt) {
		return errorOf(ErrFormat, "%v", err)
	}
	if errors.Is(err, errCheck) {
		return errorOf(ErrCorrupt, "the file is damaged: %s; restore it from a backup", strings.TrimPrefix(err.Error(), errCheck.Error()+": "))
	}
	return err
}

// openDB opens the file with bbolt, turning a lock timeout and a panic
// into errors.
func openDB(path string, opts BoltOptions) (db *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, errorOf(ErrCorrupt, "damaged data: bbolt: %v", p)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	mode := os.FileMode(0o600)
	db, err = bolt.Open(path, mode, &bolt.Options{
		Timeout:  opts.LockTimeout,
		ReadOnly: opts.ReadOnly,
		// The map freelist stays fast when many rooms' compactions leave
		// the file fragmented.
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, lockedError()
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, errorOf(ErrFormat, "not a FlowState data file (%v)", err)
	}
	return db, err
}

// checkFormat checks the meta bucket's format version, and lays out a new
// file.
func (b *Bolt) checkFormat() (err error) {
	defer recoverInto(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var empty bool
	var journal, journalBytes int
	err = b.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			first, _ := tx.Cursor().First()
			if first != nil {
				return errorOf(ErrFormat, "not a FlowState data file (no %q bucket)", bucketMeta)
			}
			empty = true
			return nil
		}
		v := meta.Get(keyFormat)
		if len(v) != 8 {
			return errorOf(ErrCorrupt, "the format version is missing or malformed")
		}
		switch version := binary.BigEndian.Uint64(v); {
		case version > FormatVersion:
			return errorOf(ErrFormat, "the file has format version %d, newer than this flowstate understands (%d); use a newer flowstate", version, FormatVersion)
		case version < 1:
			return errorOf(ErrCorrupt, "format version %d", version)
		}
		for _, name := range dataBuckets {
			if tx.Bucket(name) == nil {
				return errorOf(ErrCorrupt, "the %q bucket is missing", name)
			}
		}
		return tx.Bucket(bucketJournal).ForEach(func(_, v []byte) error {
			journal++
			journalBytes += len(v)
			return nil
		})
	})
	b.journalLen, b.journalBytes = journal, journalBytes
	if err != nil || !empty || b.opts.ReadOnly {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		v := make([]byte, 8)
		binary.BigEndian.PutUint64(v, FormatVersion)
		if err := meta.Put(keyFormat, v); err != nil {
			return err
		}
		for _, name := range dataBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// Path returns the data file's path.
func (b *Bolt) Path() string { return b.path }

// Load implements Store. A room whose records are damaged gives an error
// wrapping ErrCorrupt that names it; other rooms are unaffected.
func (b *Bolt) Load(room string) (snapshot []byte, updates [][]byte, err error) {
	err = b.view(func(tx *bolt.Tx) error {
		t, ok := tablesOf(tx)
		if !ok {
			return nil // a new file opened read-only
		}
		snapshot, updates, err = t.readRoom(room)
		return err
	})
	return snapshot, updates, err
}

// Rooms implements Store. A damaged room is listed with what could be
// read of it.
func (b *Bolt) Rooms() ([]RoomInfo, error) {
	var byName map[string]*RoomInfo
	err := b.view(func(tx *bolt.Tx) error {
		if t, ok := tablesOf(tx); ok {
			byName = t.describeRooms()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]RoomInfo, 0, len(byName))
	for _, ri := range byName {
		out = append(out, *ri)
	}
	slices.SortFunc(out, func(a, b RoomInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// WriteTo writes a consistent copy of the whole data file to w, from one
// read transaction, while writers carry on. It is the hot backup: the
// copy opens with OpenBolt like the original.
func (b *Bolt) WriteTo(w io.Writer) (n int64, err error) {
	err = b.view(func(tx *bolt.Tx) error {
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// view runs fn in a read transaction, unless the store is closed, turning
// a bbolt panic on a damaged page into an error.
func (b *Bolt) view(fn func(*bolt.Tx) error) (err error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	defer recoverInto(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return b.db.View(fn)
}

// recoverInto turns a panic, which bbolt raises on pages it cannot make
// sense of, into *err.
func recoverInto(err *error) {
	if p := recover(); p != nil {
		*err = errorOf(ErrCorrupt, "store: damaged data: bbolt: %v", p)
	}
}

// Close implements Store. It waits for pending writes to be committed and
// for running reads to finish.
func (b *Bolt) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	if b.reqs != nil {
		close(b.reqs)
	}
	b.mu.Unlock()
	if b.done != nil {
		<-b.done
	}
	var err error
	if !b.opts.ReadOnly && b.journalLen > 0 {
		// A file at rest keeps its appends in the rooms' logs, where
		// tools and older readers look first.
		err = b.foldNow()
	}
	if cerr := b.db.Close(); err == nil {
		err = cerr
	}
	return err
}
