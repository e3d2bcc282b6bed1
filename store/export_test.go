package store

// SetFoldLimits lowers the journal's limits so that tests fold it often.
func SetFoldLimits(b *Bolt, entries, bytes int) {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.foldEntries, b.foldBytes = entries, bytes
}

// SetWholeFileLimit sets the size up to which the open check reads a file
// in one piece, and returns a function that restores it.
func SetWholeFileLimit(n int64) (restore func()) {
	old := wholeFileLimit
	wholeFileLimit = n
	return func() { wholeFileLimit = old }
}
