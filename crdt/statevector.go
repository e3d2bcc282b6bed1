package crdt

import (
	"bytes"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
)

// A StateVector maps each client to the next clock the holder expects from
// it, which is also the number of clocks of that client it has seen. A client
// absent from the map has clock 0.
type StateVector map[ClientID]uint64

// Equal reports whether sv and o describe the same state, treating absent
// clients and clients at clock 0 alike.
func (sv StateVector) Equal(o StateVector) bool {
	for c, k := range sv {
		if o[c] != k {
			return false
		}
	}
	for c, k := range o {
		if sv[c] != k {
			return false
		}
	}
	return true
}

// Clone returns a copy of sv.
func (sv StateVector) Clone() StateVector {
	out := make(StateVector, len(sv))
	for c, k := range sv {
		out[c] = k
	}
	return out
}

// Encode returns the msgpack encoding of sv: a map from client to clock with
// keys in ascending order and zero clocks left out (see FORMAT.md).
func (sv StateVector) Encode() []byte {
	clients := make([]ClientID, 0, len(sv))
	for c, k := range sv {
		if k > 0 {
			clients = append(clients, c)
		}
	}
	slices.Sort(clients)
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	_ = enc.EncodeMapLen(len(clients))
	for _, c := range clients {
		_ = enc.EncodeUint(uint64(c))
		_ = enc.EncodeUint(sv[c])
	}
	return buf.Bytes()
}

// DecodeStateVector decodes a state vector written by Encode. Keys must be
// valid client IDs in strictly ascending order and clocks at most 2^53.
func DecodeStateVector(b []byte) (StateVector, error) {
	var r reader
	r.reset(b)
	n, err := r.arrayOrMapLen(true)
	if err != nil {
		return nil, err
	}
	sv := make(StateVector, min(n, len(b)/2))
	var prev ClientID
	for i := 0; i < n; i++ {
		c, err := r.clientID()
		if err != nil {
			return nil, err
		}
		if i > 0 && c <= prev {
			return nil, r.errorf("state vector clients not in ascending order")
		}
		prev = c
		k, err := r.uint(maxClock)
		if err != nil {
			return nil, err
		}
		if k == 0 {
			return nil, r.errorf("state vector holds a zero clock")
		}
		sv[c] = k
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return sv, nil
}
