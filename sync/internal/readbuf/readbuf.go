// Package readbuf pools the buffers that the server's sessions and the Go
// client read WebSocket messages into. A message is decoded into values of
// its own, so its buffer can serve the next one; the client has a package
// of its own that must not import the server, hence this one.
package readbuf

import (
	"bytes"
	"sync"
)

var pool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled is the largest buffer kept for reuse: a rare large message,
// such as a Welcome, should not pin its buffer.
const maxPooled = 64 << 10

// Get returns an empty buffer.
func Get() *bytes.Buffer {
	b := pool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

// Put gives b back for reuse, unless it grew past maxPooled.
func Put(b *bytes.Buffer) {
	if b.Cap() <= maxPooled {
		pool.Put(b)
	}
}
