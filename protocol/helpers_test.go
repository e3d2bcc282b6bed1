package protocol_test

import (
	"reflect"

	"github.com/flowstate/flowstate/protocol"
)

// normalize returns a copy of m in which every nil byte slice and nil
// slice of updates or entries is empty: Encode writes nil and empty alike,
// so they are the same message.
func normalize(m protocol.Message) protocol.Message {
	nb := func(b []byte) []byte {
		if b == nil {
			return []byte{}
		}
		return b
	}
	switch m := m.(type) {
	case *protocol.Hello:
		c := *m
		c.StateVector = nb(c.StateVector)
		return &c
	case *protocol.Welcome:
		return &protocol.Welcome{StateVector: nb(m.StateVector), Update: nb(m.Update)}
	case *protocol.Update:
		c := &protocol.Update{Seq: m.Seq, Updates: make([][]byte, len(m.Updates))}
		for i, u := range m.Updates {
			c.Updates[i] = nb(u)
		}
		return c
	case *protocol.Patch:
		c := *m
		c.Middle = nb(c.Middle)
		return &c
	case *protocol.Presence:
		c := &protocol.Presence{Entries: make([]protocol.PresenceEntry, len(m.Entries))}
		for i, e := range m.Entries {
			c.Entries[i] = protocol.PresenceEntry{Client: e.Client, State: nb(e.State)}
		}
		return c
	}
	return m
}

// equalMessages reports whether a and b are the same message, nil and
// empty slices being equal.
func equalMessages(a, b protocol.Message) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}
