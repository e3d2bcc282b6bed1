package wire_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/store/jsstore/internal/wire"
)

func TestRoomToken(t *testing.T) {
	tests := []struct{ room, token string }{
		{"notes", "notes"},
		{"Team-42", "Team-42"},
		{"notes.v2", "notes_2Ev2"},
		{"a_b", "a_5Fb"},
		{"~x", "_7Ex"},
		{"a.b_c~d-e", "a_2Eb_5Fc_7Ed-e"},
		{"...", "_2E_2E_2E"},
		{"a*b>c d", "a_2Ab_3Ec_20d"},
		{"é", "_C3_A9"},
		{"a_2Eb", "a_5F2Eb"},
	}
	for _, tt := range tests {
		if got := wire.RoomToken(tt.room); got != tt.token {
			t.Errorf("RoomToken(%q) = %q, want %q", tt.room, got, tt.token)
		}
		if got, err := wire.RoomFromToken(tt.token); err != nil || got != tt.room {
			t.Errorf("RoomFromToken(%q) = %q, %v, want %q", tt.token, got, err, tt.room)
		}
	}
}

func TestRoomFromTokenRefuses(t *testing.T) {
	for _, token := range []string{
		"",      // no room has an empty name
		"a.b",   // '.' separates subject tokens
		"a~b",   // '~' is escaped
		"_",     // an escape needs two digits
		"_2",    // ...both of them
		"ab_4",  // ...at the end too
		"_2e",   // lower-case digits are not what RoomToken writes
		"_41",   // 'A' stands for itself
		"_2D",   // '-' stands for itself
		"_G0",   // not a hexadecimal digit
		"a b",   // space
		"a*",    // wildcard
		"a>",    // wildcard
		"a\x00", // control byte
	} {
		if got, err := wire.RoomFromToken(token); !errors.Is(err, wire.ErrToken) {
			t.Errorf("RoomFromToken(%q) = %q, %v, want ErrToken", token, got, err)
		}
	}
}

// FuzzRoomToken checks that the mapping is reversible, that tokens hold
// only characters valid in a NATS subject token and KV key, and that
// RoomFromToken accepts exactly the tokens RoomToken writes.
func FuzzRoomToken(f *testing.F) {
	for _, s := range []string{"notes", "a.b_c~d-e", "_2E", "é", "a_5Fb", "_41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s != "" {
			token := wire.RoomToken(s)
			if strings.ContainsFunc(token, func(r rune) bool {
				return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_')
			}) {
				t.Fatalf("RoomToken(%q) = %q holds a character outside [A-Za-z0-9_-]", s, token)
			}
			if back, err := wire.RoomFromToken(token); err != nil || back != s {
				t.Fatalf("RoomFromToken(RoomToken(%q)) = %q, %v", s, back, err)
			}
		}
		if room, err := wire.RoomFromToken(s); err == nil && wire.RoomToken(room) != s {
			t.Fatalf("RoomFromToken(%q) = %q, whose token is %q", s, room, wire.RoomToken(room))
		}
	})
}
