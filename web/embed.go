// Package web embeds FlowState's browser client and demo page in the
// binary and serves them over HTTP.
//
// The bundles in dist/ are built from src/ by build.mjs and committed, so a
// Go build needs no Node.js; the demo in demo/ loads them as ES modules.
// Handler serves:
//
//	/                         the demo page (demo/index.html)
//	/flowstate.js             the client core bundle
//	/flowstate-textarea.js    the <textarea> binding, which imports /flowstate.js
//	/flowstate-persistence.js the Doc kept in IndexedDB, which imports /flowstate.js
//	/flowstate-richdelta.js   Text.applyDelta for rich texts, which imports /flowstate.js
//	/flowstate-codemirror.js  the CodeMirror 6 binding, with CodeMirror
//	/flowstate-prosemirror.js the ProseMirror binding, with ProseMirror
//	/flowstate-tiptap.js      the TipTap extension and binding, with TipTap
//	/flowstate-quill.js       the Quill 2 binding, which imports /flowstate.js (the page brings Quill)
//	/demo.js, /demo.css       the demo's script and style
//
// Every response carries a strong ETag (a hash of the content) and
// "Cache-Control: no-cache": the URLs are fixed, because pages import them
// by name, so browsers revalidate and get 304 Not Modified until the binary
// changes. Clients that accept gzip get the assets compressed once at
// start-up.
//
// The bundles are public code meant to be imported by pages on other
// origins (an editor on app.example.com syncing through sync.example.com),
// so they carry "Access-Control-Allow-Origin: *", which a cross-origin
// module script needs. This does not open the WebSocket endpoint to other
// origins: the server checks the Origin of each upgrade on its own.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed dist demo
var files embed.FS

// csp is the demo page's Content-Security-Policy: everything comes from
// the server itself, WebSockets included. Inline styles are allowed
// because CodeMirror and the remote cursors set style attributes.
const csp = "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// routes maps each served URL path to its embedded file and content type.
// public marks the bundles that any origin may load.
var routes = []struct {
	path, file, contentType string
	public                  bool
}{
	{"/", "demo/index.html", "text/html; charset=utf-8", false},
	{"/flowstate.js", "dist/flowstate.js", "text/javascript; charset=utf-8", true},
	{"/flowstate-textarea.js", "dist/flowstate-textarea.js", "text/javascript; charset=utf-8", true},
	{"/flowstate-persistence.js", "dist/flowstate-persistence.js", "text/javascript; charset=utf-8", true},
	{"/flowstate-richdelta.js", "dist/flowstate-richdelta.js", "text/javascript; charset=utf-8", true},
	{"/flowstate-codemirror.js", "dist/flowstate-codemirror.js", "text/javascript; charset=utf-8", true},
	{"/flowstate-prosemirror.js", "dist/flowstate-prosemirror.js", "text/javascript; charset=utf-8", true},
	{"/flowstate-tiptap.js", "dist/flowstate-tiptap.js", "text/javascript; charset=utf-8", true},
	{"/flowstate-quill.js", "dist/flowstate-quill.js", "text/javascript; charset=utf-8", true},
	{"/demo.js", "demo/demo.js", "text/javascript; charset=utf-8", false},
	{"/demo.css", "demo/demo.css", "text/css; charset=utf-8", false},
}

// An asset is one served file, prepared at start-up.
type asset struct {
	name        string // the file name, for http.ServeContent
	contentType string
	body        []byte
	etag        string // quoted strong ETag of body
	gzipBody    []byte // body gzipped; nil when that would not be smaller
	gzipETag    string // quoted strong ETag of gzipBody
	html        bool   // a page, which gets the security headers
	public      bool   // loadable from any origin (CORS)
}

// Handler returns an http.Handler that serves the demo page at "/" and the
// client bundles and demo assets at their paths (see the package doc),
// answering GET and HEAD, and 404 Not Found for any other path. It is safe
// for concurrent use, and each call shares the same prepared assets.
func Handler() http.Handler {
	return handler
}

// handler serves the assets prepared once, when the package loads: they
// are part of the binary, so a failure here is a broken build.
var handler = mustNewHandler(files)

// assetHandler serves a fixed set of assets by URL path.
type assetHandler map[string]*asset

func mustNewHandler(fsys fs.FS) assetHandler {
	h, err := newHandler(fsys)
	if err != nil {
		panic(err)
	}
	return h
}

// newHandler reads and prepares every route's file from fsys.
func newHandler(fsys fs.FS) (assetHandler, error) {
	h := make(assetHandler, len(routes))
	for _, r := range routes {
		body, err := fs.ReadFile(fsys, r.file)
		if err != nil {
			return nil, fmt.Errorf("web: embedded asset: %w", err)
		}
		a := &asset{
			name:        r.file[strings.LastIndexByte(r.file, '/')+1:],
			contentType: r.contentType,
			body:        body,
			etag:        etagOf(body, ""),
			html:        strings.HasSuffix(r.file, ".html"),
			public:      r.public,
		}
		if gz := gzipBytes(body); len(gz) < len(body) {
			a.gzipBody = gz
			a.gzipETag = etagOf(body, "-gz")
		}
		h[r.path] = a
	}
	return h, nil
}

// etagOf returns a quoted strong ETag for body; suffix tells encodings of
// the same body apart, as a strong ETag must.
func etagOf(body []byte, suffix string) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:12]) + suffix + `"`
}

// gzipBytes compresses b at the best compression: it runs once per asset.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	zw.Write(b)                                              // a bytes.Buffer never fails
	zw.Close()
	return buf.Bytes()
}

// ServeHTTP serves the asset at the request's path.
func (h assetHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := h[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if a.public {
		// Set before ServeContent, so that 304 and HEAD carry it too.
		hdr.Set("Access-Control-Allow-Origin", "*")
	}
	if a.html {
		hdr.Set("Content-Security-Policy", csp)
		hdr.Set("Referrer-Policy", "no-referrer")
	}
	body, etag := a.body, a.etag
	if a.gzipBody != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			body, etag = a.gzipBody, a.gzipETag
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("ETag", etag)
	// ServeContent answers If-None-Match with 304 and handles HEAD and
	// ranges; the zero time leaves Last-Modified out (the ETag suffices).
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether Accept-Encoding header values allow gzip:
// "gzip" (or "x-gzip") listed without q=0, or else "*" without q=0.
func acceptsGzip(values []string) bool {
	named, star := false, false
	var gzipOK, starOK bool
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				named, gzipOK = true, !qZero(params)
			case "*":
				star, starOK = true, !qZero(params)
			}
		}
	}
	if named {
		return gzipOK
	}
	return star && starOK
}

// qZero reports whether the parameters of an Accept-Encoding entry hold a
// zero quality value (q=0, q=0.0, q=0.000).
func qZero(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		return strings.Trim(v, "0.") == "" && v != ""
	}
	return false
}
