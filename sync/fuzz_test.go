package sync

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/protocol"
)

// FuzzRoomFromPath feeds parseTarget arbitrary paths and queries. It must
// never panic, never return a token longer than a Hello may carry, and
// what it returns must survive being escaped into a URL and parsed again,
// which is how a client builds the URL.
func FuzzRoomFromPath(f *testing.F) {
	for _, seed := range []struct{ path, query string }{
		{"/ws/notes", ""},
		{"/ws/notes", "token=eyJhbGciOiJIUzI1NiJ9.e30.sig"},
		{"/ws/a%2Fb", "x=1&token=a%20b&token=c"},
		{"/ws/%zz", "token=%zz"},
		{"/ws/", "token="},
		{"", "token"},
		{"/prefix/ws/team-a", "token=" + strings.Repeat("t", protocol.MaxTokenBytes+1)},
		{"/ws/caf%C3%A9", "&&token=+%2B+&"},
	} {
		f.Add(seed.path, seed.query)
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		got := parseTarget(path, query)
		if len(got.token) > protocol.MaxTokenBytes {
			t.Fatalf("parseTarget(%q, %q): token of %d bytes", path, query, len(got.token))
		}
		if strings.Contains(path, "/") && strings.Contains(got.room, "/") && !strings.Contains(path, "%") {
			t.Fatalf("parseTarget(%q, %q): room %q spans segments", path, query, got.room)
		}
		again := parseTarget("/ws/"+url.PathEscape(got.room), "token="+url.QueryEscape(got.token))
		if again != got {
			t.Fatalf("parseTarget(%q, %q) = %+v, but the URL built from it parses as %+v", path, query, got, again)
		}
		if protocol.ValidRoom(got.room) && url.PathEscape(got.room) != got.room {
			t.Fatalf("valid room %q needs escaping", got.room)
		}
	})
}

// targetTests are URLs as clients send them.
var targetTests = []struct {
	path, query string
	want        target
}{
	{"/ws/notes", "", target{room: "notes"}},
	{"/ws/notes", "token=abc", target{room: "notes", token: "abc"}},
	{"/ws/notes", "v=1&token=a%2Bb&token=second", target{room: "notes", token: "a+b"}},
	{"/ws/notes", "token=%zz&token=second", target{room: "notes"}},
	{"/ws/a%2Fb", "", target{room: "a/b"}},
	{"/ws/%zz", "", target{room: "%zz"}},
	{"/base/ws/team-a", "token=", target{room: "team-a"}},
}

func TestParseTarget(t *testing.T) {
	for _, tt := range targetTests {
		if got := parseTarget(tt.path, tt.query); got != tt.want {
			t.Errorf("parseTarget(%q, %q) = %+v, want %+v", tt.path, tt.query, got, tt.want)
		}
	}
}

// FuzzHostCheck feeds ParseHosts arbitrary allow-lists and the checker
// arbitrary Host headers. Neither may panic; a list that parses must parse
// again to itself; every listed name must pass as a Host, and a name
// the list does not mention must be refused, unless it is an address or
// localhost.
func FuzzHostCheck(f *testing.F) {
	for _, seed := range []struct{ list, host string }{
		{"", "evil.example:8080"},
		{"sync.example.com", "SYNC.example.com."},
		{"*.example.com,a.example:443", "b.example.com:1"},
		{"*", "anything"},
		{"", "[::1]:8080"},
		{"", "[::1"},
		{"x:y:z", ":::"},
		{"", "localhost."},
	} {
		f.Add(seed.list, seed.host)
	}
	f.Fuzz(func(t *testing.T, list, host string) {
		hosts, err := ParseHosts(list)
		if err != nil {
			return
		}
		again, err := ParseHosts(strings.Join(hosts, ","))
		if err != nil || strings.Join(again, ",") != strings.Join(hosts, ",") {
			t.Fatalf("ParseHosts(%q) = %q, which parses again as %q, %v", list, hosts, again, err)
		}
		c := newHostChecker(&Config{AllowedHosts: hosts})
		for _, h := range hosts {
			if h != "*" && !strings.HasPrefix(h, "*.") && !c.allows(h) {
				t.Fatalf("list %q refuses its own %q", hosts, h)
			}
		}
		if c.allows(host) && !c.any {
			name, _ := splitHost(host)
			listed := name == "localhost" || net.ParseIP(name) != nil || host == ""
			for _, h := range hosts {
				n, _ := splitHost(h)
				listed = listed || n == name || strings.HasPrefix(n, "*.") && strings.HasSuffix(name, n[1:])
			}
			if !listed {
				t.Fatalf("list %q lets in %q", hosts, host)
			}
		}
	})
}
