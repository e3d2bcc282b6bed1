package sync_test

import (
	"testing"

	"github.com/flowstate/flowstate/crdt"
)

// forgedUpdate is FORMAT.md §5.3's example under client 5 in text "body":
// a (5:0), b (5:1, after a), and x (5:2) whose origins skip a, naming no
// left origin and b as right origin. It was never neighbours with either
// for its author, so every replica drops x.
func forgedUpdate() []byte {
	return []byte{0x95, 0x01, 0x91, 0x92, 0x00, 0xa4, 'b', 'o', 'd', 'y', 0x91, 0x05, 0x90, 0x91, 0x95, 0x00, 0x00,
		0xc4, 0x05, 0x07, 0x81, 0x01, 0x41, 0x01, 0xa3, 'a', 'b', 'x', 0x90}
}

// TestForgedOriginsKeepReplicasTogether: a writer forging origins cannot
// make the server's replica, its members, a late joiner and the room
// reloaded from its bbolt file after a restart read different texts.
// Before FORMAT.md §5.3's check, the member that had typed "h" read
// "axbh" while the server's snapshot loaded as "ahxb" in every joiner.
func TestForgedOriginsKeepReplicasTogether(t *testing.T) {
	d := crdt.NewDocWithClient(1)
	if err := d.Apply(forgedUpdate()); err != nil || d.Text("body").String() != "ab" {
		t.Fatalf("the forged update reads %q (%v), want x dropped", d.Text("body").String(), err)
	}
	st := openBolt(t)
	ts := startServerWithStore(t, testConfig(), st)
	const room = "forged"
	member := dial(t, ts, room, nil)
	insert(t, member, 0, "h")
	waitSynced(t, member)
	hostile := dialRaw(t, ts.url(room))
	hostile.id = 5 // below the member's random ID: its "a" goes before "h"
	hostile.hello(room)
	hostile.waitAck(hostile.sendUpdates(forgedUpdate()))
	late := dial(t, ts, room, nil)
	waitText(t, "abh", member, late)
	if got := storedDoc(t, st, room).Text("body").String(); got != "abh" {
		t.Fatalf("stored: %q, want %q", got, "abh")
	}
	if err := ts.shutdown(); err != nil {
		t.Fatal(err)
	}
	ts = startServerWithStore(t, testConfig(), st)
	waitText(t, "abh", member, late, dial(t, ts, room, nil))
}
