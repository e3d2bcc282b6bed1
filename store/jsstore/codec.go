package jsstore

import "github.com/flowstate/flowstate/store/jsstore/internal/wire"

// The log entry and head record codecs live in package wire, which does
// not import NATS, so that their fuzz targets build without it.
type (
	head = wire.Head
	mark = wire.Mark
)
