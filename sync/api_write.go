package sync

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
)

// Errors returned by the hub's write API.
var (
	// ErrRoomExists is returned by CreateRoom for a room that has content.
	ErrRoomExists = errors.New("sync: room exists")
	// ErrRoomDeleted is returned for a write the room accepted but could
	// not make durable before the room was deleted.
	ErrRoomDeleted = errors.New("sync: room deleted")
	// ErrStoreFailing is returned for a write refused, unapplied, because
	// the room cannot store updates now; try again later.
	ErrStoreFailing = errors.New("sync: the server cannot store updates now")
	// ErrDocTooBig is returned for a write that would grow the document
	// past Config.MaxDocBytes; nothing of it was applied.
	ErrDocTooBig = errors.New("sync: the document would grow past its size limit")
	// ErrNotOwner is returned for an update that writes under a client ID
	// bound to another identity (owners.go); nothing of it was applied.
	ErrNotOwner = errors.New("sync: the update writes under another user's client ID")
)

// An InvalidUpdateError refuses a write whose update does not decode or
// apply; nothing of it was applied.
type InvalidUpdateError struct{ Err error }

func (e *InvalidUpdateError) Error() string { return "sync: invalid update: " + e.Err.Error() }

func (e *InvalidUpdateError) Unwrap() error { return e.Err }

// A write is one change of the write API, on its way to a room: a binary
// update, or edits the room turns into one under a client ID of the
// server's (apiClient). Its answer comes on done once the change is
// durable, or at once if it is refused.
type write struct {
	subject string // the caller's identity; "" on an open server
	update  []byte // an update, or nil for edits
	edits   []Edit
	size    int  // what the change may add to the document, for MaxDocBytes
	create  bool // only into a room with no content (PUT)
	done    chan writeResult
}

// A writeResult is a room's answer to a write.
type writeResult struct {
	sv  crdt.StateVector // the document's state vector after the write
	err error
}

// A writeDue is the answer to a write, due once the first upto updates the
// room applied are written.
type writeDue struct {
	w    *write
	upto uint64
	sv   crdt.StateVector
}

// WriteUpdate applies a binary update (the crdt update format) to the
// named room, as the identity subject ("" on an open server, which binds
// nothing), relays it to the room's members, and returns once it is
// durable, with the document's state vector after it. The update is
// refused whole, changing nothing, with an *InvalidUpdateError,
// ErrNotOwner (it writes under a client ID bound to another identity),
// ErrDocTooBig or ErrStoreFailing; the other errors are those of
// joining a room (ErrInvalidRoom, ErrShuttingDown, ErrTooManyRooms, a
// *QuarantinedError) and ErrRoomDeleted.
func (h *Hub) WriteUpdate(ctx context.Context, room, subject string, update []byte) (crdt.StateVector, error) {
	return h.write(ctx, room, &write{subject: subject, update: update, size: len(update)})
}

// WriteEdits applies edits (as DecodeEdits returns them) to the named
// room in one transaction, under a client ID of the server's bound to
// subject, and returns as WriteUpdate does. An edit that does not fit the
// document (a delta past the end of its text) refuses them all with an
// *EditError.
func (h *Hub) WriteEdits(ctx context.Context, room, subject string, edits []Edit) (crdt.StateVector, error) {
	return h.write(ctx, room, &write{subject: subject, edits: edits, size: editsSize(edits)})
}

// CreateRoom fills a room that has no content with a snapshot (or any
// update), or, if snapshot is nil, with edits, and returns as WriteUpdate
// does; a room with content gives ErrRoomExists and is left unchanged.
func (h *Hub) CreateRoom(ctx context.Context, room, subject string, snapshot []byte, edits []Edit) (crdt.StateVector, error) {
	w := &write{subject: subject, update: snapshot, size: len(snapshot), create: true}
	if snapshot == nil {
		w.edits, w.size = edits, editsSize(edits)
	}
	return h.write(ctx, room, w)
}

// editsSize bounds what edits add to a document, for Config.MaxDocBytes:
// their inserted text and values, plus a record's overhead each.
func editsSize(edits []Edit) int {
	const overhead = 32
	n := 0
	for _, e := range edits {
		n += overhead
		if e.Replace != nil {
			n += len(*e.Replace)
		}
		for _, op := range e.Delta {
			n += overhead
			if op.Insert != nil {
				n += len(*op.Insert)
			}
		}
		for k, v := range e.Set {
			b, _ := json.Marshal(v)
			n += overhead + len(k) + len(b)
		}
		n += overhead * len(e.Delete)
	}
	return n
}

// write hands w to its room, holding the room open meanwhile, and waits
// for the answer.
func (h *Hub) write(ctx context.Context, name string, w *write) (crdt.StateVector, error) {
	if !protocol.ValidRoom(name) {
		return nil, ErrInvalidRoom
	}
	r, err := h.acquireLoaded(name)
	if err != nil {
		return nil, err
	}
	defer h.release(r)
	w.done = make(chan writeResult, 1)
	if !r.send(writeEvent(w)) {
		return nil, ErrShuttingDown
	}
	select {
	case res := <-w.done:
		return res.sv, res.err
	case <-r.done:
		select {
		case res := <-w.done:
			return res.sv, res.err
		default:
			return nil, ErrShuttingDown
		}
	case <-ctx.Done():
		// The write goes on; nobody waits for its answer.
		return nil, ctx.Err()
	}
}

// acquireLoaded acquires the named room, as a joining session does, and
// waits for it to load.
func (h *Hub) acquireLoaded(name string) (*room, error) {
	r, err := h.acquire(name)
	if err != nil {
		return nil, err
	}
	<-r.loaded
	if r.err != nil {
		h.release(r)
		if errors.Is(r.err, errCorruptRoom) {
			return nil, &QuarantinedError{Room: name, Err: r.err}
		}
		return nil, fmt.Errorf("sync: room %q could not be loaded: %w", name, r.err)
	}
	return r, nil
}

// applyWrite applies a write of the API, on the room's goroutine, through
// the path of a member's update: relayed to every member, written with
// the room's next Append, answered once written.
func (r *room) applyWrite(w *write) {
	done := w.done
	answer := func(err error) { done <- writeResult{err: err} }
	switch {
	case r.failing:
		answer(ErrStoreFailing)
		return
	case w.create && hasContent(r.doc):
		answer(ErrRoomExists)
		return
	case !r.docFits(w.size):
		answer(ErrDocTooBig)
		return
	}
	u := w.update
	var writes []uint64
	if u != nil {
		var reason closeReason
		var text string
		reason, text, writes = r.checkUpdates(w.subject, 0, "the update", [][]byte{u})
		switch reason {
		case 0:
		case closedForbidden:
			answer(fmt.Errorf("%w: %s", ErrNotOwner, text))
			return
		default:
			answer(&InvalidUpdateError{Err: errors.New(text)})
			return
		}
		r.counters.updates++
		r.counters.updateBytes += len(u)
		if err := applyUpdate(r.doc, u); err != nil {
			if errors.Is(err, errApplyPanicked) {
				r.rebuildAfterPanic(0, u, err)
			}
			answer(&InvalidUpdateError{Err: err})
			return
		}
	} else {
		id := r.apiClient(w.subject)
		if err := r.doc.ResumeClientID(crdt.ClientID(id)); err != nil {
			answer(err)
			return
		}
		var err error
		u, err = applyEdits(r.doc, w.edits)
		if err != nil && u == nil {
			answer(err)
			return
		}
		if err != nil {
			// Checked edits cannot fail; if one did, what the transaction
			// changed is in the document and in u, which must then be
			// stored and relayed like any change, or replicas would
			// part.
			r.hub.logger.Error("an API edit failed halfway; what it changed is kept", "room", r.name, "err", err)
			defer answer(fmt.Errorf("sync: edits applied in part: %w", err))
			w = &write{done: make(chan writeResult, 1)} // nobody waits for its answer
		}
		if got := uint64(r.doc.ClientID()); got != id {
			// The document took a fresh ID: someone wrote under ours.
			r.apiClients[w.subject] = got
			id = got
		}
		writes = []uint64{id}
	}
	if u != nil {
		r.unwritten = append(r.unwritten, u)
		r.applied++
		r.batch = append(r.batch, batchedUpdate{update: u, n: r.applied})
		r.docBytes += len(u)
		r.docExact = false
		r.noteChange(u)
		r.took(u)
		r.bindTo(w.subject, writes)
	}
	r.writesDue = append(r.writesDue, writeDue{w: w, upto: r.applied, sv: r.doc.StateVector()})
	r.answerWrites()
}

// answerWrites answers the writes whose changes are written.
func (r *room) answerWrites() {
	i := 0
	for ; i < len(r.writesDue) && r.writesDue[i].upto <= r.written; i++ {
		d := r.writesDue[i]
		d.w.done <- writeResult{sv: d.sv}
	}
	if i > 0 {
		left := copy(r.writesDue, r.writesDue[i:])
		clear(r.writesDue[left:])
		r.writesDue = r.writesDue[:left]
	}
}

// abandonWrites answers the writes still waiting when the room stops
// without having written them: they are not durable, and a deleted
// room never will hold them.
func (r *room) abandonWrites(err error) {
	for _, d := range r.writesDue {
		d.w.done <- writeResult{err: err}
	}
	r.writesDue = nil
}

// apiClient returns the client ID the room's document writes the API's
// edits of subject under: one of the server's own for each identity,
// chosen so that it collides with no client ID the room has seen, bound
// to nobody else, and kept while the room is open. A new one is chosen
// when the room opens again, as the document cannot tell whether another
// replica has reused the old one meanwhile.
func (r *room) apiClient(subject string) uint64 {
	if id, ok := r.apiClients[subject]; ok {
		return id
	}
	for {
		id := rand.Uint64N(uint64(crdt.MaxClientID)) + 1
		if _, owned := r.owners[id]; owned || r.byClient[id] != nil || r.doc.Clock(crdt.ClientID(id)) > 0 {
			continue
		}
		if r.apiClients == nil {
			r.apiClients = make(map[string]uint64)
		}
		r.apiClients[subject] = id
		return id
	}
}

// hasContent reports whether doc holds anything.
func hasContent(doc *crdt.Doc) bool {
	for _, clock := range doc.StateVector() {
		if clock > 0 {
			return true
		}
	}
	return false
}

// The HTTP side.

// writeResponse is the JSON body of a successful write.
type writeResponse struct {
	Room string `json:"room"`
	// StateVector maps each client ID, in decimal, to the next clock the
	// document expects from it, as in RoomContent.
	StateVector map[string]uint64 `json:"state_vector"`
}

// roomContentBody is the JSON body PUT /api/rooms/{room} takes: the
// content of GET /api/rooms/{room}, whose room, open and state_vector
// are ignored.
type roomContentBody struct {
	Texts       map[string]string         `json:"texts"`
	Maps        map[string]map[string]any `json:"maps"`
	Room        json.RawMessage           `json:"room"`
	Open        json.RawMessage           `json:"open"`
	StateVector json.RawMessage           `json:"state_vector"`
	Deltas      json.RawMessage           `json:"deltas"`
}

// editsOfContent turns the body of PUT /api/rooms/{room} into edits, in
// the order of their names.
func editsOfContent(body []byte) ([]Edit, error) {
	var c roomContentBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, &EditError{Index: -1, Msg: "not a JSON object of texts and maps: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &EditError{Index: -1, Msg: "data after the object"}
	}
	if len(c.Deltas) > 0 && string(c.Deltas) != "null" {
		// Writing texts alone would drop the formatting the deltas hold.
		return nil, &EditError{Index: -1, Msg: "deltas (rich text) cannot be written as JSON content: PUT the room's snapshot instead (flowstate export --format snapshot)"}
	}
	var edits []Edit
	for _, name := range slices.Sorted(maps.Keys(c.Texts)) {
		s := c.Texts[name]
		edits = append(edits, Edit{Text: name, Replace: &s})
	}
	for _, name := range slices.Sorted(maps.Keys(c.Maps)) {
		if set := c.Maps[name]; len(set) > 0 {
			edits = append(edits, Edit{Map: name, Set: set})
		}
	}
	for i := range edits {
		if err := edits[i].check(); err != nil {
			return nil, &EditError{Index: -1, Msg: err.Error()}
		}
	}
	return edits, nil
}

// serveUpdates answers POST /api/rooms/{room}/updates.
func (s *Server) serveUpdates(w http.ResponseWriter, r *http.Request) {
	name, body, claims, ok := s.writeRequest(w, r, "application/octet-stream")
	if !ok {
		return
	}
	sv, err := s.hub.WriteUpdate(r.Context(), name, claims.identity(), body)
	s.answerWrite(w, r, name, http.StatusOK, sv, err)
}

// serveEdits answers POST /api/rooms/{room}/edits.
func (s *Server) serveEdits(w http.ResponseWriter, r *http.Request) {
	name, body, claims, ok := s.writeRequest(w, r, "application/json")
	if !ok {
		return
	}
	edits, err := DecodeEdits(body)
	if err != nil {
		s.answerWrite(w, r, name, 0, nil, err)
		return
	}
	sv, err := s.hub.WriteEdits(r.Context(), name, claims.identity(), edits)
	s.answerWrite(w, r, name, http.StatusOK, sv, err)
}

// serveCreate answers PUT /api/rooms/{room}: a snapshot
// (application/octet-stream) or JSON content (application/json).
func (s *Server) serveCreate(w http.ResponseWriter, r *http.Request) {
	name, body, claims, ok := s.writeRequest(w, r, "application/octet-stream", "application/json")
	if !ok {
		return
	}
	var snapshot []byte
	var edits []Edit
	if mediaType(r) == "application/json" {
		var err error
		if edits, err = editsOfContent(body); err != nil {
			s.answerWrite(w, r, name, 0, nil, err)
			return
		}
	} else {
		snapshot = body
	}
	sv, err := s.hub.CreateRoom(r.Context(), name, claims.identity(), snapshot, edits)
	s.answerWrite(w, r, name, http.StatusCreated, sv, err)
}

// identity returns the claims' subject, or "" for nil claims (an open
// server).
func (c *Claims) identity() string {
	if c == nil {
		return ""
	}
	return c.Subject
}

// mediaType returns the request's media type, without parameters.
func mediaType(r *http.Request) string {
	t, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return t
}

// writeRequest checks a write's room, permission, media type and body
// size, and reads its body; it answers the request itself when one does
// not pass. The first of types is the default when no Content-Type is
// given.
func (s *Server) writeRequest(w http.ResponseWriter, r *http.Request, types ...string) (name string, body []byte, claims *Claims, ok bool) {
	name = r.PathValue("room")
	if !protocol.ValidRoom(name) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("invalid room name %q: use 1 to %d characters of [A-Za-z0-9._~-]", truncate(name, 200), protocol.MaxRoomBytes)})
		return "", nil, nil, false
	}
	if !s.hub.checkWriteOrigin(w, r) {
		return "", nil, nil, false
	}
	if claims, ok = s.authorizeFor(w, r, name, true); !ok {
		return "", nil, nil, false
	}
	if t := mediaType(r); r.Header.Get("Content-Type") != "" && !slices.Contains(types, t) {
		writeJSON(w, http.StatusUnsupportedMediaType, apiError{Error: fmt.Sprintf("content type %q: send %s", truncate(r.Header.Get("Content-Type"), 100), joinOr(types))})
		return "", nil, nil, false
	}
	limit := s.hub.cfg.MaxMessageSize
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limit)))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: fmt.Sprintf("body over the %d-byte limit", limit)})
		return "", nil, nil, false
	case err != nil:
		writeJSON(w, http.StatusBadRequest, apiError{Error: "reading the body: " + err.Error()})
		return "", nil, nil, false
	}
	return name, body, claims, true
}

// checkWriteOrigin refuses (403) a write whose Origin header names a page
// the WebSocket upgrade would refuse too (Config.AllowedOrigins): a page
// of another site can send a POST without asking the server first (a
// "simple" request), and an open server on loopback must not take edits
// from it. Requests without an Origin, from programs, pass.
func (h *Hub) checkWriteOrigin(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Origin") == "" {
		return true
	}
	ok := false
	if check := h.upgrader.CheckOrigin; check != nil {
		ok = check(r)
	} else if u, err := url.Parse(r.Header.Get("Origin")); err == nil {
		ok = strings.EqualFold(u.Host, r.Host)
	}
	if !ok {
		h.refuse(w, r, refusedOrigin, fmt.Sprintf("pages of origin %q may not write here: only the server's own origin and its allowed origins may (flowstate serve --allowed-origins)",
			truncate(r.Header.Get("Origin"), 200)))
	}
	return ok
}

// answerWrite answers a write with status and the state vector, or with
// the status of err.
func (s *Server) answerWrite(w http.ResponseWriter, r *http.Request, name string, status int, sv crdt.StateVector, err error) {
	var (
		ee *EditError
		ie *InvalidUpdateError
		qe *QuarantinedError
	)
	switch {
	case err == nil:
		resp := writeResponse{Room: name, StateVector: make(map[string]uint64, len(sv))}
		for client, clock := range sv {
			if clock > 0 {
				resp.StateVector[strconv.FormatUint(uint64(client), 10)] = clock
			}
		}
		writeJSON(w, status, resp)
	case errors.As(err, &ee), errors.As(err, &ie):
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
	case errors.Is(err, ErrNotOwner):
		writeJSON(w, http.StatusForbidden, apiError{Error: err.Error(), Code: protocol.CodeForbidden})
	case errors.Is(err, ErrRoomExists):
		writeJSON(w, http.StatusConflict, apiError{Error: fmt.Sprintf("room %q exists: it has content", name)})
	case errors.Is(err, ErrDocTooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: fmt.Sprintf("the document would grow past its %d-byte limit; nothing was applied", s.hub.cfg.MaxDocBytes)})
	case errors.Is(err, ErrRoomDeleted):
		writeJSON(w, http.StatusGone, apiError{Error: err.Error()})
	case errors.As(err, &qe):
		writeJSON(w, http.StatusInternalServerError, apiError{Error: qe.Error()})
	case errors.Is(err, ErrStoreFailing), errors.Is(err, ErrTooManyRooms), errors.Is(err, ErrShuttingDown):
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: err.Error() + "; nothing was applied, try again later"})
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		s.hub.logger.Error("write API failed", "room", name, "err", err)
		writeJSON(w, http.StatusInternalServerError, apiError{Error: err.Error()})
	}
}

// joinOr joins media types for a message: "a", "a or b".
func joinOr(types []string) string {
	out := types[0]
	for _, t := range types[1:] {
		out += " or " + t
	}
	return out
}

// serveDelete answers DELETE /api/rooms/{room}, which takes
// Config.AdminToken.
func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("room")
	if !protocol.ValidRoom(name) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("invalid room name %q", truncate(name, 200))})
		return
	}
	if !s.hub.checkWriteOrigin(w, r) {
		return
	}
	admin := s.hub.cfg.AdminToken
	switch {
	case len(admin) < MinSecretBytes:
		writeJSON(w, http.StatusForbidden, apiError{Error: "deleting rooms is disabled: the server has no admin token"})
		return
	case subtle.ConstantTimeCompare([]byte(BearerToken(r)), []byte(admin)) != 1:
		w.Header().Set("WWW-Authenticate", `Bearer realm="flowstate", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "deleting a room takes the admin token", Code: protocol.CodeUnauthorized})
		return
	}
	err := s.hub.DeleteRoom(r.Context(), name)
	var qe *QuarantinedError
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrNoRoom):
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("room %q does not exist", name)})
	case errors.As(err, &qe):
		writeJSON(w, http.StatusInternalServerError, apiError{Error: qe.Error()})
	case errors.Is(err, ErrShuttingDown):
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: err.Error()})
	case r.Context().Err() != nil:
	default:
		s.storeFailed(w, "delete room "+strconv.Quote(name), err)
	}
}

// apiWrites counts the write API's answers by operation and status.
type apiWrites struct {
	answers *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

// counted wraps a handler of the write API so that its answers are
// counted (flowstate_api_writes_total) and timed
// (flowstate_api_write_seconds) under op.
func (s *Server) counted(op string, h http.HandlerFunc) http.Handler {
	if s.apiWrites == nil {
		s.apiWrites = &apiWrites{
			answers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "api_writes_total",
				Help: "Answers of the write API, by operation (updates, edits, create, delete) and HTTP status."}, []string{"op", "status"}),
			seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "api_write_seconds",
				Help: "Time to answer a write of the API, which waits until the write is durable.", Buckets: latencyBuckets}, []string{"op"}),
		}
		s.hub.metrics.reg.MustRegister(s.apiWrites.answers, s.apiWrites.seconds)
	}
	m := s.apiWrites
	m.seconds.WithLabelValues(op)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h(sw, r)
		m.answers.WithLabelValues(op, strconv.Itoa(sw.status)).Inc()
		m.seconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
	})
}

// A statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}
