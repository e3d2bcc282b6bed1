package sync

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ParseHosts parses a comma-separated list of host names for
// Config.AllowedHosts, such as "sync.example.com,*.example.org:8443". Each
// is a name, optionally with a port (without one, every port matches),
// and may start with "*." to match every subdomain of the name after it;
// "*" alone matches every host. The result is in lower case.
func ParseHosts(list string) ([]string, error) {
	var hosts []string
	for h := range strings.SplitSeq(list, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if h == "*" {
			hosts = append(hosts, h)
			continue
		}
		name, port := splitHost(h)
		if strings.ContainsAny(h, "/?#@ ") || !validHostName(strings.TrimPrefix(name, "*.")) || port == "" && strings.HasSuffix(h, ":") {
			return nil, fmt.Errorf("sync: host %q: want a name such as sync.example.com, with an optional :port, or *.example.com for its subdomains", h)
		}
		hosts = append(hosts, h)
	}
	if slices.Contains(hosts, "*") && len(hosts) > 1 {
		return nil, fmt.Errorf("sync: hosts %q: * allows every host and cannot be combined with others", list)
	}
	return hosts, nil
}

// validHostName reports whether s is a DNS name or an IP address.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	if net.ParseIP(strings.Trim(s, "[]")) != nil {
		return true
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// splitHost splits a Host header into its lower-case name, without the
// brackets of an IPv6 address or a final dot, and its port, if any.
func splitHost(host string) (name, port string) {
	name = host
	if h, p, err := net.SplitHostPort(host); err == nil {
		name, port = h, p
	}
	name = strings.TrimSuffix(strings.Trim(strings.ToLower(name), "[]"), ".")
	return name, port
}

// A hostChecker decides which Host headers the server answers: the
// defence against DNS rebinding, in which a page of another site has its
// own name resolve to this server's address, making the browser treat the
// server as part of that site, with the attacker's name in the Host
// header. IP addresses and localhost always pass: a rebinding attack
// needs a name of the attacker's, and a page that uses an address or
// localhost is the server's own origin, not another site's. Names pass
// only when configured.
type hostChecker struct {
	any       bool
	names     map[string]bool // names allowed on every port
	hostPorts map[string]bool // "name:port" pairs
	suffixes  []string        // ".example.com" for "*.example.com"
}

// newHostChecker returns the checker of Config.AllowedHosts, plus the
// hosts of Config.AllowedOrigins: a page allowed to connect may also name
// the server in its URL.
func newHostChecker(cfg *Config) *hostChecker {
	c := &hostChecker{names: make(map[string]bool), hostPorts: make(map[string]bool)}
	for _, h := range cfg.AllowedHosts {
		c.add(h)
	}
	for _, o := range cfg.AllowedOrigins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			// A page's host names the server only when the server serves
			// that origin itself; either way it was invited.
			c.add(u.Host)
		}
	}
	return c
}

func (c *hostChecker) add(h string) {
	h = strings.ToLower(h)
	if h == "*" {
		c.any = true
		return
	}
	name, port := splitHost(h)
	switch {
	case strings.HasPrefix(name, "*."):
		c.suffixes = append(c.suffixes, name[1:]) // port ignored: subdomains on any port
	case port != "":
		c.hostPorts[net.JoinHostPort(name, port)] = true
	default:
		c.names[name] = true
	}
}

// allows reports whether the server answers requests for host, the
// request's Host header. An empty Host (HTTP/1.0) comes from no browser,
// so it cannot be rebinding, and passes.
func (c *hostChecker) allows(host string) bool {
	if c.any || host == "" {
		return true
	}
	name, port := splitHost(host)
	if name == "localhost" || net.ParseIP(name) != nil || c.names[name] {
		return true
	}
	if port != "" && c.hostPorts[net.JoinHostPort(name, port)] {
		return true
	}
	for _, s := range c.suffixes {
		if strings.HasSuffix(name, s) && len(name) > len(s) {
			return true
		}
	}
	return false
}

// checkHost answers 421 Misdirected Request, logs and counts it, and
// returns false when the request's Host is not one the server answers.
func (h *Hub) checkHost(w http.ResponseWriter, r *http.Request) bool {
	if h.hosts.allows(r.Host) {
		return true
	}
	h.refuse(w, r, refusedHost, fmt.Sprintf("this server does not answer for host %q (a guard against DNS rebinding); "+
		"if it should, add the name to its allowed hosts (flowstate serve --allowed-hosts)", truncate(r.Host, 200)))
	return false
}

// hostChecked wraps next so that requests for a Host the server does not
// answer get 421, whatever their route.
func (h *Hub) hostChecked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.checkHost(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}
