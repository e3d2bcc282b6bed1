package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/sync/client"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and localhost
// and its key as PEM files in dir, and returns their paths and a pool that
// trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "flowstate test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// serveLogged runs the binary with args and env until the test ends, and
// returns the fields of its "listening" log line.
func serveLogged(t *testing.T, bin string, env []string, args ...string) (addr, demo, ws string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0", "--log-format", "json", "--data", ":memory:"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var rec struct{ Msg, Addr, Demo, Websocket string }
	lines := bufio.NewScanner(stderr)
	var log strings.Builder
	for rec.Msg != "listening" && lines.Scan() {
		log.Write(lines.Bytes())
		_ = json.Unmarshal(lines.Bytes(), &rec)
	}
	if rec.Msg != "listening" {
		t.Fatalf("the server exited before listening:\n%s", log.String())
	}
	go io.Copy(io.Discard, stderr) // the server must not block on its log
	return rec.Addr, rec.Demo, rec.Websocket
}

// The server serves HTTPS and wss:// with --tls-cert and --tls-key, or
// the FLOWSTATE_ variables, and a client that trusts the certificate
// syncs through it; plain HTTP on that port is refused.
func TestServeTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	otherCert, _, _ := selfSigned(t, t.TempDir())
	tests := []struct {
		name string
		env  []string
		args []string
	}{
		{"flags", nil, []string{"--tls-cert", certFile, "--tls-key", keyFile}},
		{"environment", []string{"FLOWSTATE_TLS_CERT=" + certFile, "FLOWSTATE_TLS_KEY=" + keyFile}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, demo, ws := serveLogged(t, bin, tt.env, tt.args...)
			if demo != "https://"+addr+"/" || ws != "wss://"+addr+"/ws/{room}" {
				t.Errorf("the log names the demo %q and WebSockets %q", demo, ws)
			}
			https := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
			resp, err := https.Get("https://" + addr + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /readyz over HTTPS: %s", resp.Status)
			}
			if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					t.Error("plain HTTP was served on the TLS port")
				}
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			opts := func() *client.Options { return &client.Options{TLSConfig: &tls.Config{RootCAs: pool}} }
			a, err := client.Dial(ctx, "wss://"+addr+"/ws/notes", opts())
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.Edit(func(d *crdt.Doc) error { _, err := d.Text("body").Insert(0, "over TLS"); return err }); err != nil {
				t.Fatal(err)
			}
			if err := a.WaitSynced(ctx); err != nil {
				t.Fatal(err)
			}
			b, err := client.Dial(ctx, "wss://"+addr+"/ws/notes", opts())
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if got := b.Text("body"); got != "over TLS" {
				t.Errorf("the second client reads %q", got)
			}
			// The container health check finds the server as the server
			// reads its settings, over TLS.
			hc := exec.Command(bin, "healthcheck")
			hc.Env = append(os.Environ(), "FLOWSTATE_ADDR="+addr, "FLOWSTATE_TLS_CERT="+certFile)
			if out, err := hc.CombinedOutput(); err != nil || !strings.Contains(string(out), "https://"+addr+"/readyz") {
				t.Errorf("healthcheck: %v\n%s", err, out)
			}
			// A certificate other than the server's is refused.
			hc = exec.Command(bin, "healthcheck")
			hc.Env = append(os.Environ(), "FLOWSTATE_ADDR="+addr, "FLOWSTATE_TLS_CERT="+otherCert)
			if out, err := hc.CombinedOutput(); err == nil || !strings.Contains(string(out), "another certificate") {
				t.Errorf("healthcheck with another certificate: %v\n%s", err, out)
			}
			// Without the certificate, the client refuses the server.
			if c, err := client.Dial(ctx, "wss://"+addr+"/ws/notes", nil); err == nil {
				c.Close()
				t.Error("a client that does not trust the certificate connected")
			}
		})
	}
}

// A half-given or unusable certificate stops the server at once, saying
// what is wrong.
func TestServeTLSMisuse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		status int
		want   []string
	}{
		{"cert without key", []string{"--tls-cert", certFile}, 2, []string{"--tls-cert and --tls-key go together"}},
		{"key without cert", []string{"--tls-key", keyFile}, 2, []string{"--tls-cert and --tls-key go together"}},
		{"not a certificate", []string{"--tls-cert", junk, "--tls-key", keyFile}, 1, []string{junk, "TLS certificate"}},
		{"missing key file", []string{"--tls-cert", certFile, "--tls-key", filepath.Join(dir, "none.pem")}, 1, []string{"none.pem", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, append([]string{"--addr", "127.0.0.1:0", "--data", ":memory:"}, tt.args...)...).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.status {
				t.Fatalf("exit: %v, want status %d\n%s", err, tt.status, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
