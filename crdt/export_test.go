package crdt

// SetLocalClient makes id the client ID of d's next local edits, as a Doc
// does when it takes a fresh ID, so that the tests of package crdt_test can
// switch IDs at a chosen moment.
func SetLocalClient(d *Doc, id ClientID) { d.me = d.client(id) }

// SetScanSkips turns the conflict scan's skipping of leaves on or off, so
// that tests can check that it changes no result.
func SetScanSkips(on bool) { scanSkips = on }

// PendingBytes returns what d's pending data counts against MaxPendingBytes.
func PendingBytes(d *Doc) int { return d.pendingBytes }

// ScanSteps returns how many items d's conflict scans have examined.
func ScanSteps(d *Doc) int { return d.scanSteps }

// SetFanout makes leaves and nodes hold at most leaf items and kids
// children, so that the tests of package crdt_test can grow deep trees
// from a few edits; it returns what restores the shipped sizes.
func SetFanout(leaf, kids int) (restore func()) {
	old1, old2 := maxLeaf, maxKids
	maxLeaf, maxKids = leaf, kids
	return func() { maxLeaf, maxKids = old1, old2 }
}

// SplitAt cuts the item holding the visible code point at pos of t in front
// of it, if it is not an item's first: the text and every encoding stay the
// same, only how t holds it changes, as it differs between replicas and
// between Go and JavaScript.
func SplitAt(t *Text, pos int) {
	lf, i, off := t.locate(pos)
	if off > 0 {
		t.split(lf.items[i], off)
	}
}
