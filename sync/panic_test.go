package sync_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// evilUpdate is an update of a client of its own that inserts text into
// "body": the update the tests make the CRDT panic on.
func evilUpdate(t *testing.T) []byte {
	t.Helper()
	u, err := crdt.NewDocWithClient(666).Text("body").Insert(0, "EVIL")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// metricValue returns the value of the series name on ts's /metrics page.
func metricValue(t *testing.T, ts *testServer, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + ts.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	t.Fatalf("no series %s on /metrics", name)
	return ""
}

// An update that makes the CRDT panic halfway through closes its sender
// with 4004; the room goes on with its document as it was before that
// update (rebuilt from the store and what it had not written yet), and the
// panic is counted.
func TestApplyPanicClosesTheSenderOnly(t *testing.T) {
	evil := evilUpdate(t)
	docsync.PanicOn(t, evil)
	ts := startServer(t, testConfig(), nil)

	a := dial(t, ts, "doc", clientOptions())
	insert(t, a, 0, "hello")
	waitSynced(t, a)

	b := joinRaw(t, ts, "doc")
	b.sendUpdates(evil)
	b.expectClosed(protocol.CodeInvalidUpdate)

	insert(t, a, 5, " world")
	waitSynced(t, a)
	late := dial(t, ts, "doc", clientOptions())
	waitText(t, "hello world", a, late)
	if got := storedDoc(t, ts.st, "doc").Text("body").String(); got != "hello world" {
		t.Fatalf("stored text %q, want %q", got, "hello world")
	}
	if v := metricValue(t, ts, "flowstate_apply_panics_total"); v != "1" {
		t.Fatalf("flowstate_apply_panics_total = %s, want 1", v)
	}
	if q := ts.srv.Hub().Quarantined(); len(q) != 0 {
		t.Fatalf("quarantined %v", q)
	}
}

// When the document cannot be rebuilt after a panic (here the store
// cannot load), the room is quarantined: its members are closed, joins
// refused, its records left as they are, and other rooms serve on.
func TestApplyPanicQuarantinesAnUntrustedRoom(t *testing.T) {
	evil := evilUpdate(t)
	docsync.PanicOn(t, evil)
	fs := newFaultStore(store.NewMemory(), 1)
	ts := startServerWithStore(t, testConfig(), fs)

	a := dial(t, ts, "doc", clientOptions())
	insert(t, a, 0, "hello")
	waitSynced(t, a)
	other := dial(t, ts, "other", clientOptions())

	b := joinRaw(t, ts, "doc")
	fs.set(opLoad, 1)
	b.sendUpdates(evil)
	b.expectClosed(protocol.CodeInvalidUpdate)
	waitFor(t, deadline, func() error {
		if _, ok := ts.srv.Hub().Quarantined()["doc"]; !ok {
			return errString("room not quarantined")
		}
		return nil
	})
	fs.heal()

	late := dialRaw(t, ts.url("doc"))
	late.send(&protocol.Hello{Version: protocol.Version, Room: "doc", Client: late.id, StateVector: late.doc.StateVector().Encode()})
	if e := late.expectClosed(protocol.CodeInternalError); !strings.Contains(e.Message, "quarantined") {
		t.Errorf("error message %q does not say the room is quarantined", e.Message)
	}

	insert(t, other, 0, "still here")
	waitSynced(t, other)
	if got := storedDoc(t, ts.st, "doc").Text("body").String(); got != "hello" {
		t.Fatalf("stored text %q, want %q", got, "hello")
	}
}

type errString string

func (e errString) Error() string { return string(e) }
