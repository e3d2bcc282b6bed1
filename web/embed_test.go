package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// assetTests lists every served path, the file it must serve byte for
// byte, and its content type.
var assetTests = []struct {
	path, file, contentType string
}{
	{"/", "demo/index.html", "text/html; charset=utf-8"},
	{"/flowstate.js", "dist/flowstate.js", "text/javascript; charset=utf-8"},
	{"/flowstate-textarea.js", "dist/flowstate-textarea.js", "text/javascript; charset=utf-8"},
	{"/flowstate-persistence.js", "dist/flowstate-persistence.js", "text/javascript; charset=utf-8"},
	{"/flowstate-richdelta.js", "dist/flowstate-richdelta.js", "text/javascript; charset=utf-8"},
	{"/flowstate-codemirror.js", "dist/flowstate-codemirror.js", "text/javascript; charset=utf-8"},
	{"/flowstate-prosemirror.js", "dist/flowstate-prosemirror.js", "text/javascript; charset=utf-8"},
	{"/flowstate-tiptap.js", "dist/flowstate-tiptap.js", "text/javascript; charset=utf-8"},
	{"/flowstate-quill.js", "dist/flowstate-quill.js", "text/javascript; charset=utf-8"},
	{"/demo.js", "demo/demo.js", "text/javascript; charset=utf-8"},
	{"/demo.css", "demo/demo.css", "text/css; charset=utf-8"},
}

// get serves one request through Handler and returns the response.
func get(t *testing.T, method, path string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec.Result()
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandler_ServesAssets(t *testing.T) {
	for _, tt := range assetTests {
		t.Run(tt.path, func(t *testing.T) {
			want, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatalf("%s is empty", tt.file)
			}
			res := get(t, http.MethodGet, tt.path, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			checkHeader(t, res, "Content-Type", tt.contentType)
			checkHeader(t, res, "Cache-Control", "no-cache")
			checkHeader(t, res, "X-Content-Type-Options", "nosniff")
			checkHeader(t, res, "Content-Encoding", "")
			if res.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if got := readAll(t, res.Body); !bytes.Equal(got, want) {
				t.Errorf("body differs from %s (%d bytes, want %d)", tt.file, len(got), len(want))
			}
		})
	}
}

func TestHandler_Gzip(t *testing.T) {
	for _, tt := range assetTests {
		t.Run(tt.path, func(t *testing.T) {
			want, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			plain := get(t, http.MethodGet, tt.path, nil)
			res := get(t, http.MethodGet, tt.path, http.Header{"Accept-Encoding": {"br, gzip"}})
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			checkHeader(t, res, "Content-Type", tt.contentType)
			checkHeader(t, res, "Vary", "Accept-Encoding")
			checkHeader(t, res, "Content-Encoding", "gzip")
			if res.Header.Get("ETag") == plain.Header.Get("ETag") {
				t.Errorf("gzip and identity share the ETag %s", res.Header.Get("ETag"))
			}
			zr, err := gzip.NewReader(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, zr); !bytes.Equal(got, want) {
				t.Errorf("gunzipped body differs from %s", tt.file)
			}
		})
	}
}

func TestHandler_NotModified(t *testing.T) {
	for _, tt := range assetTests {
		t.Run(tt.path, func(t *testing.T) {
			for _, enc := range []string{"", "gzip"} {
				first := get(t, http.MethodGet, tt.path, http.Header{"Accept-Encoding": {enc}})
				etag := first.Header.Get("ETag")
				res := get(t, http.MethodGet, tt.path, http.Header{"Accept-Encoding": {enc}, "If-None-Match": {etag}})
				if res.StatusCode != http.StatusNotModified {
					t.Errorf("encoding %q: If-None-Match %s: status %d, want 304", enc, etag, res.StatusCode)
				}
				res = get(t, http.MethodGet, tt.path, http.Header{"Accept-Encoding": {enc}, "If-None-Match": {`"stale"`}})
				if res.StatusCode != http.StatusOK {
					t.Errorf("encoding %q: stale If-None-Match: status %d, want 200", enc, res.StatusCode)
				}
			}
		})
	}
}

func TestHandler_Head(t *testing.T) {
	res := get(t, http.MethodHead, "/flowstate.js", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", res.StatusCode)
	}
	checkHeader(t, res, "Content-Type", "text/javascript; charset=utf-8")
	if b := readAll(t, res.Body); len(b) != 0 {
		t.Errorf("HEAD sent %d body bytes", len(b))
	}
}

var refusedTests = []struct {
	method, path string
	status       int
}{
	{http.MethodGet, "/index.html", http.StatusNotFound},
	{http.MethodGet, "/dist/flowstate.js", http.StatusNotFound},
	{http.MethodGet, "/flowstate.js/", http.StatusNotFound},
	{http.MethodGet, "/embed.go", http.StatusNotFound},
	{http.MethodGet, "/src/index.js", http.StatusNotFound},
	{http.MethodPost, "/", http.StatusMethodNotAllowed},
	{http.MethodDelete, "/flowstate.js", http.StatusMethodNotAllowed},
}

func TestHandler_Refuses(t *testing.T) {
	for _, tt := range refusedTests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := get(t, tt.method, tt.path, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.status == http.StatusMethodNotAllowed {
				checkHeader(t, res, "Allow", "GET, HEAD")
			}
		})
	}
}

func TestHandler_PageHeaders(t *testing.T) {
	res := get(t, http.MethodGet, "/", nil)
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if js := get(t, http.MethodGet, "/demo.js", nil); js.Header.Get("Content-Security-Policy") != "" {
		t.Error("a script carries the page's Content-Security-Policy")
	}
}

// localRefs finds the URLs a page or script refers to: src and href
// attributes, and module specifiers.
var localRefs = regexp.MustCompile(`(?:src|href)="([^"]*)"|from '([^']*)'|import\('([^']*)'\)`)

// TestDemo_SelfContained checks that every resource the demo refers to is
// served by Handler and that nothing is loaded from another host: the demo
// must work on a machine without Internet access.
func TestDemo_SelfContained(t *testing.T) {
	for _, file := range []string{"demo/index.html", "demo/demo.js", "demo/demo.css"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`url\(\s*['"]?(https?:)?//`).Find(b); m != nil {
			t.Errorf("%s loads %q from another host", file, m)
		}
		for _, m := range localRefs.FindAllSubmatch(b, -1) {
			ref := string(bytes.Join(m[1:], nil))
			switch {
			case strings.HasPrefix(ref, "data:"):
				continue
			case strings.Contains(ref, "//"):
				t.Errorf("%s refers to %q on another host", file, ref)
			case !strings.HasPrefix(ref, "/"):
				t.Errorf("%s refers to the relative URL %q; use an absolute path", file, ref)
			default:
				if res := get(t, http.MethodGet, ref, nil); res.StatusCode != http.StatusOK {
					t.Errorf("%s refers to %q, which answers %d", file, ref, res.StatusCode)
				}
			}
		}
	}
}

func TestNewHandler_MissingAsset(t *testing.T) {
	fsys := fstest.MapFS{"dist/flowstate.js": {Data: []byte("export {}")}}
	if _, err := newHandler(fsys); err == nil || !strings.Contains(err.Error(), "web: embedded asset") {
		t.Fatalf("newHandler with missing files: err = %v, want an embedded asset error", err)
	}
}

var acceptsGzipTests = []struct {
	values []string
	want   bool
}{
	{nil, false},
	{[]string{""}, false},
	{[]string{"gzip"}, true},
	{[]string{"GZip"}, true},
	{[]string{"x-gzip"}, true},
	{[]string{"br, gzip, deflate"}, true},
	{[]string{"br", "gzip"}, true},
	{[]string{"gzip;q=0.5"}, true},
	{[]string{"gzip; q=0"}, false},
	{[]string{"gzip;q=0.000"}, false},
	{[]string{"*"}, true},
	{[]string{"*;q=0"}, false},
	{[]string{"*, gzip;q=0"}, false},
	{[]string{"gzip;q=0, *"}, false},
	{[]string{"*;q=0, gzip"}, true},
	{[]string{"identity"}, false},
	{[]string{"gzipx"}, false},
}

func TestAcceptsGzip(t *testing.T) {
	for _, tt := range acceptsGzipTests {
		if got := acceptsGzip(tt.values); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.values, got, tt.want)
		}
	}
}

func checkHeader(t *testing.T, res *http.Response, key, want string) {
	t.Helper()
	if got := res.Header.Get(key); got != want {
		t.Errorf("%s: %q, want %q", key, got, want)
	}
}

// The bundles may be imported by a page on any origin (CORS), on every
// kind of answer a browser can get; the demo's own files may not.
func TestHandler_CORS(t *testing.T) {
	for _, tt := range assetTests {
		public := strings.HasPrefix(tt.path, "/flowstate")
		want := ""
		if public {
			want = "*"
		}
		t.Run(tt.path, func(t *testing.T) {
			origin := http.Header{"Origin": {"https://app.example.com"}}
			first := get(t, http.MethodGet, tt.path, origin)
			revalidate := http.Header{"Origin": origin["Origin"], "If-None-Match": {first.Header.Get("ETag")}}
			for name, res := range map[string]*http.Response{
				"GET":  first,
				"HEAD": get(t, http.MethodHead, tt.path, origin),
				"304":  get(t, http.MethodGet, tt.path, revalidate),
				"gzip": get(t, http.MethodGet, tt.path, http.Header{"Origin": origin["Origin"], "Accept-Encoding": {"gzip"}}),
			} {
				if got := res.Header.Get("Access-Control-Allow-Origin"); got != want {
					t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", name, got, want)
				}
			}
		})
	}
}
