package store_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind, such as
// the committer of a store never closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
