package sync_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/store"
	docsync "github.com/flowstate/flowstate/sync"
)

// Two clients edit one room of a server on a free port.
func ExampleDial() {
	srv := docsync.NewServer(docsync.Config{Logger: slog.New(slog.DiscardHandler)}, store.NewMemory())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	url := "ws://" + ln.Addr().String() + "/ws/notes"

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alice, err := docsync.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	err = alice.Edit(func(doc *crdt.Doc) error {
		_, err := doc.Text("body").Insert(0, "hello, world")
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	// Once the server has acknowledged the edit, anyone who joins gets it.
	if err := alice.WaitSynced(ctx); err != nil {
		log.Fatal(err)
	}

	bob, err := docsync.Dial(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()
	fmt.Println(bob.Text("body"))
	// Output: hello, world
}
