package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/protocol"
)

// An API calls the HTTP write API of a FlowState server, for a backend
// that changes documents without holding a session: each call returns
// once the server has made the change durable, with the document's state
// vector after it. It is safe for concurrent use.
type API struct {
	// BaseURL is the server's address, "http://host:port" (or https),
	// with the path prefix the server is mounted under, if any.
	BaseURL string
	// Token is sent as the bearer token when not empty: a write token
	// for the room, or the admin token for DeleteRoom.
	Token string
	// HTTPClient makes the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// An APIError is an error answer of the API: nothing of the call was
// applied, except after a 5xx from a server that lost the answer.
type APIError struct {
	StatusCode int           // such as 400
	Message    string        // the server's explanation
	Code       protocol.Code // the protocol code of a refused token, or 0
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("sync: API answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// PostUpdate sends a binary update (the crdt format) to room.
func (a *API) PostUpdate(ctx context.Context, room string, update []byte) (crdt.StateVector, error) {
	return a.call(ctx, "POST", room, "/updates", "application/octet-stream", update)
}

// PostEdits sends edits to room, applied as one transaction: anything
// encoding/json encodes as the JSON array of edits, such as a []sync.Edit
// or a []map[string]any.
func (a *API) PostEdits(ctx context.Context, room string, edits any) (crdt.StateVector, error) {
	b, err := json.Marshal(edits)
	if err != nil {
		return nil, fmt.Errorf("sync: encode edits: %w", err)
	}
	return a.call(ctx, "POST", room, "/edits", "application/json", b)
}

// CreateRoom creates room from a snapshot (or any update); a room with
// content gives an *APIError with StatusCode 409.
func (a *API) CreateRoom(ctx context.Context, room string, snapshot []byte) (crdt.StateVector, error) {
	return a.call(ctx, "PUT", room, "", "application/octet-stream", snapshot)
}

// CreateRoomContent creates room with texts and maps (map name → key →
// JSON value); a room with content gives an *APIError with StatusCode
// 409.
func (a *API) CreateRoomContent(ctx context.Context, room string, texts map[string]string, maps map[string]map[string]any) (crdt.StateVector, error) {
	b, err := json.Marshal(struct {
		Texts map[string]string         `json:"texts,omitempty"`
		Maps  map[string]map[string]any `json:"maps,omitempty"`
	}{texts, maps})
	if err != nil {
		return nil, fmt.Errorf("sync: encode content: %w", err)
	}
	return a.call(ctx, "PUT", room, "", "application/json", b)
}

// DeleteRoom deletes room and its history; it takes the server's admin
// token as Token.
func (a *API) DeleteRoom(ctx context.Context, room string) error {
	_, err := a.call(ctx, "DELETE", room, "", "", nil)
	return err
}

// call makes one request of the API and decodes its answer.
func (a *API) call(ctx context.Context, method, room, suffix, contentType string, body []byte) (crdt.StateVector, error) {
	u := strings.TrimSuffix(a.BaseURL, "/") + "/api/rooms/" + url.PathEscape(room) + suffix
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	hc := a.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		e := &APIError{StatusCode: resp.StatusCode}
		var body struct {
			Error string        `json:"error"`
			Code  protocol.Code `json:"code"`
		}
		if json.Unmarshal(raw, &body) == nil && body.Error != "" {
			e.Message, e.Code = body.Error, body.Code
		} else {
			e.Message = strings.TrimSpace(string(raw))
		}
		return nil, e
	}
	if resp.StatusCode == http.StatusNoContent {
		return nil, nil
	}
	var answer struct {
		StateVector map[string]uint64 `json:"state_vector"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return nil, fmt.Errorf("sync: API answer: %w", err)
	}
	sv := make(crdt.StateVector, len(answer.StateVector))
	for client, clock := range answer.StateVector {
		id, err := strconv.ParseUint(client, 10, 64)
		if err != nil || id > uint64(crdt.MaxClientID) {
			return nil, fmt.Errorf("sync: API answer: client ID %q", client)
		}
		sv[crdt.ClientID(id)] = clock
	}
	return sv, nil
}
