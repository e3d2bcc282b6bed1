package protocol

import (
	"errors"
	"fmt"
)

// ErrPatch is wrapped by Apply's errors: a Patch that does not fit its
// base, or one sent with no base.
var ErrPatch = errors.New("protocol: patch does not fit its base")

// MakePatch returns the Patch (Seq 0) that turns base into update: the
// longest common prefix is kept first, then the longest common suffix of
// what is left. Every implementation writes this same patch (the
// conformance vectors pin it), so that peers' bytes can be compared; a
// receiver accepts any patch that fits. The Patch shares update's memory.
//
// A Patch is worth sending only when it is smaller than the Update it
// stands for: see Smaller.
func MakePatch(base, update []byte) *Patch {
	n := min(len(base), len(update))
	front := 0
	for front < n && base[front] == update[front] {
		front++
	}
	back := 0
	for back < n-front && base[len(base)-1-back] == update[len(update)-1-back] {
		back++
	}
	return &Patch{Front: uint64(front), Back: uint64(back), Middle: update[front : len(update)-back]}
}

// Smaller reports whether p, as encoded (with its Seq, if any), takes
// fewer bytes than the Update it stands for: one carrying the update of
// length n with seq, the client's next seq for a client's Patch (which
// writes none), or the Patch's own Seq for the server's. A sender sends
// whichever is smaller, so that a patch never costs more than the update
// (an update unlike the one before it, such as another client's, keeps
// little of the base).
func (p *Patch) Smaller(n int, seq uint64) bool {
	// The Update: array, tag, seq, array(1), bin header, the update.
	update := 3 + uintSize(seq) + binHeader(n) + n
	patch := 2 + uintSize(p.Front) + uintSize(p.Back) + binHeader(len(p.Middle)) + len(p.Middle)
	if p.Seq > 0 {
		patch += uintSize(p.Seq)
	}
	return patch < update
}

// Apply returns the update p stands for: the first Front bytes of base,
// Middle, then the last Back bytes of base, in new memory. It returns an
// error wrapping ErrPatch if base is nil (no update came before the
// patch), if base is shorter than Front and Back together, or if the
// update would be longer than max bytes (no limit when max < 0), the
// largest message the receiver takes, so that a small patch cannot make
// it hold more than a message of the update would have.
func (p *Patch) Apply(base []byte, max int) ([]byte, error) {
	if base == nil {
		return nil, fmt.Errorf("%w: it has no base (no update of at most %d bytes came before it on this connection)", ErrPatch, MaxPatchBase)
	}
	keep := uint64(len(base))
	if p.Front > keep || p.Back > keep-p.Front {
		return nil, fmt.Errorf("%w: it keeps %d and %d bytes of a %d-byte base", ErrPatch, p.Front, p.Back, len(base))
	}
	n := int(p.Front) + len(p.Middle) + int(p.Back)
	if max >= 0 && n > max {
		return nil, fmt.Errorf("%w: it makes an update of %d bytes, over the %d-byte limit", ErrPatch, n, max)
	}
	u := make([]byte, 0, n)
	u = append(u, base[:p.Front]...)
	u = append(u, p.Middle...)
	return append(u, base[len(base)-int(p.Back):]...), nil
}

// Base returns what becomes the base after a message whose last update
// is u: u itself, or nil (no base) if u is longer than MaxPatchBase.
func Base(u []byte) []byte {
	if len(u) > MaxPatchBase {
		return nil
	}
	return u
}

// uintSize is the length of v as a msgpack uint in its smallest form.
func uintSize(v uint64) int {
	switch {
	case v < 128:
		return 1
	case v <= 0xff:
		return 2
	case v <= 0xffff:
		return 3
	case v <= 0xffffffff:
		return 5
	}
	return 9
}

// binHeader is the length of the header of an n-byte msgpack bin.
func binHeader(n int) int {
	switch {
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	}
	return 5
}
