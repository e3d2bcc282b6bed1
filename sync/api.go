package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
	"github.com/flowstate/flowstate/store"
	"github.com/flowstate/flowstate/sync/richexport"
)

// Errors returned by the hub's read API.
var (
	// ErrNoRoom is returned for a room that is neither open nor stored.
	ErrNoRoom = errors.New("sync: no such room")
	// ErrInvalidRoom is returned for a name protocol.ValidRoom refuses.
	ErrInvalidRoom = errors.New("sync: invalid room name")
)

// AllRooms is the room claim a token needs to list rooms through
// GET /api/rooms when Config.Auth is set: the list names every room, so it
// takes a token that grants every room.
const AllRooms = "*"

// RoomSummary describes one room in the list GET /api/rooms returns.
type RoomSummary struct {
	Room          string     `json:"room"`
	SnapshotBytes int        `json:"snapshot_bytes"`        // size of the stored snapshot
	LogEntries    int        `json:"log_entries"`           // updates stored since the snapshot
	LogBytes      int        `json:"log_bytes"`             // their total size
	LastChange    *time.Time `json:"last_change,omitempty"` // absent for a room never stored
	Open          bool       `json:"open"`                  // held in memory now
	Members       int        `json:"members"`               // sessions in the room; 0 unless open
	Quarantined   bool       `json:"quarantined,omitempty"` // refused: its stored data does not decode
}

// RoomList is the JSON body of GET /api/rooms.
type RoomList struct {
	Rooms []RoomSummary `json:"rooms"` // sorted by name
}

// RoomContent is the JSON body of GET /api/rooms/{room}: a room's document
// as plain values.
type RoomContent struct {
	Room string `json:"room"`
	// Open is true when the content was read from the open room, which
	// may hold updates a moment ahead of the store, and false when it was
	// rebuilt from the store.
	Open bool `json:"open"`
	// Texts maps each text's name to its content; an embed of rich text
	// is one U+FFFC.
	Texts map[string]string `json:"texts"`
	// Deltas maps each text's name to its Quill-shaped delta (inserts with
	// their formatting: crdt.Text.ToDelta), when the document holds rich
	// text (document format 2); it is absent otherwise, when every text's
	// delta would be [{"insert": text}].
	Deltas map[string][]crdt.RichOp `json:"deltas,omitempty"`
	// Maps maps each map's name to its entries, decoded from msgpack.
	// Binary values appear in base64, as encoding/json writes []byte.
	Maps map[string]map[string]any `json:"maps"`
	// StateVector maps each client ID, in decimal, to the next clock the
	// document expects from it.
	StateVector map[string]uint64 `json:"state_vector"`
}

// contentOf renders d as a RoomContent, with the deltas of its texts if
// rich. The caller must own d.
func contentOf(name string, d *crdt.Doc, open, rich bool) *RoomContent {
	c := &RoomContent{
		Room:        name,
		Open:        open,
		Texts:       make(map[string]string),
		Maps:        make(map[string]map[string]any),
		StateVector: make(map[string]uint64),
	}
	for _, t := range d.TextNames() {
		c.Texts[t] = d.Text(t).String()
	}
	if rich {
		c.Deltas = make(map[string][]crdt.RichOp)
		for _, t := range d.TextNames() {
			ops := d.Text(t).ToDelta()
			for i := range ops {
				ops[i].Insert = richexport.JSONValue(ops[i].Insert)
				for k, v := range ops[i].Attributes {
					ops[i].Attributes[k] = richexport.JSONValue(v)
				}
			}
			if ops == nil {
				ops = []crdt.RichOp{}
			}
			c.Deltas[t] = ops
		}
	}
	for _, name := range d.MapNames() {
		m := d.Map(name)
		entries := make(map[string]any, m.Len())
		for _, k := range m.Keys() {
			if v, ok := m.Get(k); ok {
				entries[k] = richexport.JSONValue(v)
			}
		}
		c.Maps[name] = entries
	}
	for client, clock := range d.StateVector() {
		if clock > 0 {
			c.StateVector[strconv.FormatUint(uint64(client), 10)] = clock
		}
	}
	return c
}

// Rooms lists the stored rooms and the open ones, sorted by name.
func (h *Hub) Rooms() ([]RoomSummary, error) {
	stored, err := h.store.Rooms()
	if err != nil {
		return nil, err
	}
	out := make([]RoomSummary, 0, len(stored))
	index := make(map[string]int, len(stored))
	for _, ri := range stored {
		s := RoomSummary{Room: ri.Name, SnapshotBytes: ri.SnapshotBytes, LogEntries: ri.LogEntries, LogBytes: ri.LogBytes}
		if !ri.LastChange.IsZero() {
			t := ri.LastChange.UTC()
			s.LastChange = &t
		}
		index[ri.Name] = len(out)
		out = append(out, s)
	}
	at := func(name string) *RoomSummary {
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, RoomSummary{Room: name})
		}
		return &out[i]
	}
	h.mu.Lock()
	for name, r := range h.rooms {
		s := at(name)
		s.Open, s.Members = true, r.refs
	}
	for name := range h.quarantined {
		at(name).Quarantined = true
	}
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b RoomSummary) int { return strings.Compare(a.Room, b.Room) })
	return out, nil
}

// Content returns the document of the named room: asked of the room's
// goroutine if the room is open, which is the only one that may touch its
// document, and otherwise rebuilt from the store without opening the room.
// It returns ErrInvalidRoom, ErrNoRoom, a *QuarantinedError, or the
// store's error.
func (h *Hub) Content(ctx context.Context, name string) (*RoomContent, error) {
	if !protocol.ValidRoom(name) {
		return nil, ErrInvalidRoom
	}
	h.mu.Lock()
	r := h.rooms[name]
	qerr := h.quarantined[name]
	h.mu.Unlock()
	if qerr != nil {
		return nil, &QuarantinedError{Room: name, Err: qerr}
	}
	if r != nil {
		c, err := r.content(ctx)
		if err != nil || c != nil {
			return c, err
		}
		// The room stopped, after saving: the store is current.
	}
	return storedContent(h.store, name)
}

// content asks the room's goroutine for its content. It returns nil and
// no error if the room stopped first.
func (r *room) content(ctx context.Context) (*RoomContent, error) {
	view := make(chan *RoomContent, 1)
	select {
	case r.inbox <- readEvent(view):
	case <-r.done:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case c := <-view:
		return c, nil
	case <-r.done:
		// The room may have handled the read just before it stopped.
		select {
		case c := <-view:
			return c, nil
		default:
			return nil, nil
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// storedContent rebuilds a room's document from st, as a room does when it
// opens.
func storedContent(st store.Store, name string) (*RoomContent, error) {
	snapshot, updates, err := st.Load(name)
	if err != nil {
		return nil, err
	}
	if snapshot == nil && len(updates) == 0 {
		return nil, ErrNoRoom
	}
	d, err := buildDoc(snapshot, updates)
	if err != nil {
		return nil, fmt.Errorf("sync: room %q: stored records: %w", name, err)
	}
	return contentOf(name, d, false, storedFormat(snapshot, updates) >= richFormat), nil
}

// apiError is the JSON body of every error the read API returns.
type apiError struct {
	Error string `json:"error"`
	// Code is the protocol code of an authentication failure (4401, 4403,
	// 4408), as a WebSocket session would be closed with.
	Code protocol.Code `json:"code,omitempty"`
}

// serveRooms answers GET /api/rooms.
func (s *Server) serveRooms(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, AllRooms) {
		return
	}
	rooms, err := s.hub.Rooms()
	if err != nil {
		s.storeFailed(w, "list rooms", err)
		return
	}
	writeJSON(w, http.StatusOK, RoomList{Rooms: rooms})
}

// serveRoom answers GET /api/rooms/{room}.
func (s *Server) serveRoom(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("room")
	if !protocol.ValidRoom(name) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("invalid room name %q: use 1 to %d characters of [A-Za-z0-9._~-]", truncate(name, 200), protocol.MaxRoomBytes)})
		return
	}
	if !s.authorize(w, r, name) {
		return
	}
	c, err := s.hub.Content(r.Context(), name)
	var qe *QuarantinedError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, c)
	case errors.Is(err, ErrNoRoom):
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("room %q does not exist", name)})
	case errors.As(err, &qe):
		writeJSON(w, http.StatusInternalServerError, apiError{Error: qe.Error()})
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		s.storeFailed(w, "read room "+strconv.Quote(name), err)
	}
}

// storeFailed answers a request the store could not serve: 503 if the
// store is closed (the server is shutting down), 500 otherwise.
func (s *Server) storeFailed(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, store.ErrClosed) {
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "server shutting down"})
		return
	}
	s.hub.logger.Error("read API failed", "op", what, "err", err)
	writeJSON(w, http.StatusInternalServerError, apiError{Error: "could not " + what + ": " + err.Error()})
}

// authorize decides on an API call for room (Hub.authorize) and answers
// 401, 403 or 503 if it does not pass. Any permission suffices for a
// read; write requires PermWrite and returns the caller's claims (nil on
// an open server).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, room string) bool {
	_, ok := s.authorizeFor(w, r, room, false)
	return ok
}

func (s *Server) authorizeFor(w http.ResponseWriter, r *http.Request, room string, write bool) (*Claims, bool) {
	claims, reason, text := s.hub.authorize(r, room, BearerToken(r), write)
	if reason != 0 {
		status := httpStatus(w, reason)
		writeJSON(w, status, apiError{Error: text, Code: reason.code()})
		return nil, false
	}
	if write && claims != nil && claims.Perm < PermWrite {
		writeJSON(w, http.StatusForbidden, apiError{Error: "read-only token: this call changes the room", Code: protocol.CodeForbidden})
		return nil, false
	}
	return claims, true
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header, or "" if there is none. The scheme is case-insensitive, as
// HTTP's authentication schemes are (RFC 9110, 11.1).
func BearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
