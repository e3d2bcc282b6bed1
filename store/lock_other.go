//go:build !unix

package store

import (
	"errors"
	"os"
	"time"
)

// errLockTimeout is returned by lockFile when the lock stays held.
var errLockTimeout = errors.New("lock timeout")

// lockFile does nothing where flock is missing: the check before opening
// then runs unlocked, and bbolt's own lock still keeps a second server
// out.
func lockFile(*os.File, bool, time.Duration) error { return nil }

// unlockFile releases lockFile's lock.
func unlockFile(*os.File) error { return nil }
