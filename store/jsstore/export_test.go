package jsstore

import "context"

// OpenBuckets makes s's bucket handles again, as Open does last.
func OpenBuckets(ctx context.Context, s *Store) error { return s.openBuckets(ctx) }
