//go:build unix

package store

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// lockPoll is how often a contended lock is retried, as bbolt does.
const lockPoll = 50 * time.Millisecond

// errLockTimeout is returned by lockFile when the lock stays held.
var errLockTimeout = errors.New("lock timeout")

// lockFile takes an flock on f, shared or exclusive, retrying until
// timeout. bbolt takes the same kind of lock on its own descriptor, so a
// lock held here excludes other processes and other opens in this one.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if time.Now().After(deadline) {
			return errLockTimeout
		}
		time.Sleep(lockPoll)
	}
}

// unlockFile releases lockFile's lock.
func unlockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
