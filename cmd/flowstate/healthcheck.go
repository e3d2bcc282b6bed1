package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

const healthcheckUsageText = `Usage:

	flowstate healthcheck [--url URL] [--timeout D]

Asks a running server whether it is ready (GET /readyz) and exits 0 if it
answers 200, 1 otherwise. It exists for container images without curl,
such as distroless ones: HEALTHCHECK CMD ["/flowstate", "healthcheck"].
The default URL is built from FLOWSTATE_ADDR, as the server reads it; a
--url without a path, such as http://host:8080, asks that server's /readyz.
When FLOWSTATE_TLS_CERT is set, as for a server serving TLS, the default URL
is https:// and the server must present exactly that certificate (its name
need not match the address asked).

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
	fs.StringVar(&f.url, "url", "", "readiness `URL` to ask, or the server's http://host:port (default from FLOWSTATE_ADDR)")
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

// pinnedTLS returns a TLS configuration that accepts exactly the first
// certificate of the PEM file certFile: the health check asks its own
// server on a loopback address, which the certificate does not name, so
// it pins the certificate instead of checking the name.
func pinnedTLS(certFile string) (*tls.Config, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", certFile)
	}
	want := block.Bytes
	return &tls.Config{
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], want) {
				return errors.New("the server presented another certificate than FLOWSTATE_TLS_CERT")
			}
			return nil
		},
		MinVersion: tls.VersionTLS12,
	}, nil
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
	httpClient := http.DefaultClient
	if f.url == "" {
		f.url = defaultReadyURL(envOr("FLOWSTATE_ADDR", defaultAddr))
		if cert := os.Getenv("FLOWSTATE_TLS_CERT"); cert != "" {
			tlsConfig, err := pinnedTLS(cert)
			if err != nil {
				fmt.Fprintf(stderr, "flowstate healthcheck: FLOWSTATE_TLS_CERT: %v\n", err)
				return 2
			}
			f.url = "https" + strings.TrimPrefix(f.url, "http")
			httpClient = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}
		}
	}
	f.url = readyURL(f.url)
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "flowstate healthcheck: %v\n", err)
		return 2
	}
	resp, err := httpClient.Do(req)
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
