package protocol_test

import (
	"errors"
	"fmt"

	"github.com/flowstate/flowstate/protocol"
)

func ExampleEncode() {
	// A client joins room "notes" as replica 2 with an empty document,
	// will heartbeat every 10 s, and reads rich text (document format 2).
	b, err := protocol.Encode(&protocol.Hello{
		Version:         protocol.Version,
		Room:            "notes",
		Client:          2,
		StateVector:     []byte{0x80}, // the empty crdt state vector
		HeartbeatMillis: 10000,
		Format:          2,
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)

	// Encode refuses what a peer would reject.
	_, err = protocol.Encode(&protocol.Hello{Version: protocol.Version, Room: "a/b"})
	fmt.Println(errors.Is(err, protocol.ErrInvalidMessage))
	// Output:
	// 98 00 05 a5 6e 6f 74 65 73 02 a0 c4 01 80 cd 27 10 02
	// true
}

func ExampleDecode() {
	for _, b := range [][]byte{
		{0x92, 0x03, 0x07},       // Ack{Seq: 7}
		{0x94, 0x05, 0xcd, 0x0f}, // an Error cut short
		{0x91, 0x09},             // tag 9
	} {
		m, err := protocol.Decode(b)
		switch m := m.(type) {
		case *protocol.Ack:
			fmt.Println("ack", m.Seq)
		case nil:
			if errors.Is(err, protocol.ErrUnknownType) {
				fmt.Println("close with", protocol.CodeUnknownType, int(protocol.CodeUnknownType))
			} else {
				fmt.Println("close with", protocol.CodeProtocolError, int(protocol.CodeProtocolError), "-", err)
			}
		}
	}
	// Output:
	// ack 7
	// close with protocol error 1002 - protocol: decode error at byte 0: array of 4 elements cannot fit in 3 bytes
	// close with unknown message type 4000
}
