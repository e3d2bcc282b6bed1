package crdt

// SetLocalClient makes id the client ID of d's next local edits, as a Doc
// does when it takes a fresh ID, so that the tests of package crdt_test can
// switch IDs at a chosen moment.
func SetLocalClient(d *Doc, id ClientID) { d.me = d.client(id) }
