package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

const healthcheckUsageText = `Usage:

	flowstate healthcheck [--url URL] [--timeout D]

Asks a running server whether it is ready (GET /readyz) and exits 0 if it
answers 200, 1 otherwise. It exists for container images without curl,
such as distroless ones: HEALTHCHECK CMD ["/flowstate", "healthcheck"].
The default URL is built from FLOWSTATE_ADDR, as the server reads it; a
--url without a path, such as http://host:8080, asks that server's /readyz.

Flags:
`

// healthcheckFlags are the flags of "flowstate healthcheck".
type healthcheckFlags struct {
	url     string
	timeout time.Duration
}

func newHealthcheckFlagSet(f *healthcheckFlags, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&f.url, "url", defaultReadyURL(envOr("FLOWSTATE_ADDR", defaultAddr)), "readiness `URL` to ask, or the server's http://host:port")
	fs.DurationVar(&f.timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		fmt.Fprint(w, healthcheckUsageText)
		fs.PrintDefaults()
	}
	return fs
}

// defaultReadyURL returns the readiness URL of a server listening on addr.
// A server listening on every interface is asked on loopback.
func defaultReadyURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/readyz"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}

// readyURL returns raw with the path /readyz when it has no path of its
// own: "/" is the demo page, which answers 200 whether or not the server
// is ready.
func readyURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return raw // a bad URL fails in NewRequest, naming itself
	}
	u.Path = "/readyz"
	return u.String()
}

// runHealthcheck asks the server at the flags' URL whether it is ready.
func runHealthcheck(args []string, stdout, stderr io.Writer) int {
	var f healthcheckFlags
	fs := newHealthcheckFlagSet(&f, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "flowstate healthcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	f.url = readyURL(f.url)
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "flowstate healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "flowstate healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "flowstate healthcheck: %s: %s %s\n", f.url, resp.Status, body)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s", f.url, body)
	return 0
}
