package sync

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/flowstate/flowstate/protocol"
)

// ParseOrigins parses a comma-separated list of browser origins, such as
// "https://example.com,http://localhost:5173", for Config.AllowedOrigins.
// Each is a scheme, a host and an optional port, without a path; "*"
// alone allows every origin. The result is in the lower case that
// browsers send.
func ParseOrigins(list string) ([]string, error) {
	var origins []string
	for o := range strings.SplitSeq(list, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o == "*" {
			origins = append(origins, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
			strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("sync: origin %q: want scheme://host[:port], such as https://example.com", o)
		}
		origins = append(origins, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	if slices.Contains(origins, "*") && len(origins) > 1 {
		return nil, fmt.Errorf("sync: origins %q: * allows every origin and cannot be combined with others", list)
	}
	return origins, nil
}

// originChecker returns the upgrader's CheckOrigin for the allowed
// origins: nil (gorilla's same-host check) for none, and otherwise a check
// that also accepts every listed origin, or every origin for "*".
// Requests without an Origin header come from programs, not browsers, and
// pass: the check exists to stop other sites' pages from using a
// visitor's browser (and its cookies or network position) to connect.
func originChecker(allowed []string) func(*http.Request) bool {
	if len(allowed) == 0 {
		return nil
	}
	if slices.Contains(allowed, "*") {
		return func(*http.Request) bool { return true }
	}
	set := make(map[string]bool, len(allowed))
	for _, o := range allowed {
		set[strings.ToLower(o)] = true
	}
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true
		}
		origin = strings.ToLower(origin)
		if set[origin] {
			return true
		}
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
}

// clientIP returns the address a connection is counted against: the
// peer's IP, or with trustProxy the last X-Forwarded-For entry, which the
// proxy in front appended (earlier entries are whatever the client sent).
func clientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// A target is what a WebSocket request's URL says: the room, and the
// token of the query parameter "token", if any.
type target struct {
	room  string
	token string
}

// parseTarget reads the room from the last segment of an escaped path
// (/ws/{room}), and the token from a raw query. It accepts anything: a
// room that does not unescape or is invalid is left for the handshake to
// refuse with 4002, so that browsers learn why. Of several token
// parameters the first counts; one that does not unescape, or is longer
// than a Hello's token may be, is dropped, and the Hello must bring one.
func parseTarget(escapedPath, rawQuery string) target {
	var t target
	seg := escapedPath[strings.LastIndexByte(escapedPath, '/')+1:]
	if room, err := url.PathUnescape(seg); err == nil {
		t.room = room
	} else {
		t.room = seg
	}
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != "token" {
			continue
		}
		if tok, err := url.QueryUnescape(v); err == nil && len(tok) <= protocol.MaxTokenBytes {
			t.token = tok
		}
		break
	}
	return t
}
