package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/flowstate/flowstate/crdt"
	"github.com/flowstate/flowstate/sync/client"
)

// A program that edits one room of a running server. It links only the
// client, the CRDT and the protocol, not the server.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws/notes", &client.Options{Token: ""})
	var refused *client.UpgradeError
	if errors.As(err, &refused) && refused.StatusCode == http.StatusTooManyRequests {
		log.Fatal("this address holds too many connections: ", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	err = c.Edit(func(d *crdt.Doc) error {
		_, err := d.Text("body").Insert(0, "hello from Go\n")
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.WaitSynced(ctx); err != nil { // acknowledged: on the server's disk
		log.Fatal(err)
	}
	fmt.Print(c.Text("body"))
}
