package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// compactTxBytes bounds one transaction of CompactFile's copy, so that a
// large file is not copied in one transaction held in memory.
const compactTxBytes = 64 << 20

// CompactFile rewrites the data file at path into a fresh file holding the
// same buckets and keys, packed, and renames it over the original: a
// bbolt file never shrinks on its own, and this returns the pages that
// compactions and deletions freed. It needs the file to itself (it takes
// the lock as OpenBolt does, with opts.LockTimeout) and returns the sizes
// before and after. On error the original is left untouched.
func CompactFile(path string, opts BoltOptions) (before, after int64, err error) {
	opts.ReadOnly, opts.SyncEachAppend = false, true // no committer needed
	src, err := OpenBolt(path, opts)
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	before = fi.Size()
	tmp := path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, 0, err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := copyDB(tmp, src, fi.Mode().Perm(), opts); err != nil {
		return 0, 0, fmt.Errorf("store: compact %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, 0, err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return 0, 0, err
	}
	if fi, err = os.Stat(path); err != nil {
		return 0, 0, err
	}
	return before, fi.Size(), nil
}

// copyDB copies every bucket of src into a new file at dst and checks the
// copy as OpenBolt would.
func copyDB(dst string, src *Bolt, perm os.FileMode, opts BoltOptions) (err error) {
	db, err := bolt.Open(dst, perm, &bolt.Options{Timeout: opts.LockTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	src.mu.RLock()
	func() {
		defer recoverInto(&err)
		err = bolt.Compact(db, src.db, compactTxBytes)
	}()
	src.mu.RUnlock()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	f, err := os.Open(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkPath(f); err != nil {
		return fmt.Errorf("the copy does not check: %w", err)
	}
	// bbolt fsyncs every commit; this covers the file's metadata too.
	return f.Sync()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
