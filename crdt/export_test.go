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
	if leaf >= leafCap {
		panic("crdt: a leaf holds at most leafCap-1 items")
	}
	old1, old2 := maxLeaf, maxKids
	maxLeaf, maxKids = leaf, kids
	return func() { maxLeaf, maxKids = old1, old2 }
}

// SequenceIDs returns the IDs of t's code points in text order, tombstones
// and anchors included, so that a test can pick origins a peer could name.
func SequenceIDs(t *Text) []ID {
	var ids []ID
	for lf := t.first; lf != nil; lf = lf.next {
		for _, it := range lf.items {
			for k := uint64(0); k < it.length; k++ {
				ids = append(ids, ID{it.c.id, it.clock + k})
			}
		}
	}
	return ids
}

// OriginsOf returns the left and right origins of code point id of d (nil
// for none), so that a test can name origins an honest author could have.
func OriginsOf(d *Doc, id ID) (left, right *ID) {
	it := d.clients[id.Client].find(id.Clock)
	l := it.left
	if id.Clock > it.clock {
		l = ref{it.c, id.Clock - 1}
	}
	conv := func(r ref) *ID {
		if r.none() {
			return nil
		}
		return &ID{r.c.id, r.clock}
	}
	return conv(l), conv(it.right)
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
