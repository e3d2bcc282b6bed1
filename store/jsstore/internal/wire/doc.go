// Package wire holds the byte forms package jsstore writes to NATS
// JetStream: the log entry that carries the updates of one Append, the
// head record of a room's latest snapshot, and the token that names a
// room in subjects, keys and object names.
//
// It imports nothing of NATS, so that its decoders can be fuzzed without
// building the NATS server with fuzzing instrumentation.
package wire
