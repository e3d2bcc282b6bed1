package sync_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// A program embeds FlowState: it mounts the server's handler on its own
// mux next to its own routes, decides who may edit from its own sessions
// with an Authorize hook, and hears of every durable change.
func ExampleServer_Handler() {
	// The program's own sessions: session token → user.
	sessions := map[string]string{"s3cr3t": "alice"}
	changed := make(chan string, 16)
	cfg := docsync.Config{
		Logger: slog.New(slog.DiscardHandler),
		Hooks: docsync.Hooks{
			Authorize: func(ctx context.Context, req *docsync.AuthRequest) (docsync.Grant, error) {
				user, ok := sessions[req.Token]
				if !ok {
					return docsync.Grant{}, docsync.ErrUnauthorized
				}
				return docsync.Grant{Perm: docsync.PermWrite, Subject: user}, nil
			},
			OnChange: func(ev docsync.ChangeEvent) { changed <- ev.Room },
		},
	}
	dir, err := os.MkdirTemp("", "flowstate-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := store.OpenBolt(filepath.Join(dir, "app.db"), store.BoltOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	srv := docsync.NewServer(cfg, st)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "the program's own route") })
	mux.Handle("/collab/", http.StripPrefix("/collab", srv.Handler()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	web := &http.Server{Handler: mux}
	go web.Serve(ln)
	base := ln.Addr().String() + "/collab"

	// A backend job writes into the room as the user, through the API.
	req, _ := http.NewRequest("POST", "http://"+base+"/api/rooms/notes/edits",
		strings.NewReader(`[{"text": "body", "replace": "hello from the backend"}]`))
	req.Header.Set("Authorization", "Bearer s3cr3t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	fmt.Println("changed:", <-changed)

	// An editor with the user's session joins; a guess is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := docsync.Dial(ctx, "ws://"+base+"/ws/notes", &docsync.ClientOptions{Token: "guess"}); err != nil {
		fmt.Println("guess refused")
	}
	c, err := docsync.Dial(ctx, "ws://"+base+"/ws/notes", &docsync.ClientOptions{Token: "s3cr3t"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Text("body"))

	c.Close()
	web.Shutdown(ctx)
	srv.Shutdown(ctx)
	// Output:
	// 200 OK
	// changed: notes
	// guess refused
	// hello from the backend
}
