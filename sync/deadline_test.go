package sync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowstate/flowstate/protocol"
)

// helloDeadlineTests keep a connection busy with control frames without
// ever saying Hello.
var helloDeadlineTests = []struct {
	name string
	kind int // the control frame sent every 100 ms
}{
	{"pongs", websocket.PongMessage},
	{"pings", websocket.PingMessage},
}

// TestHelloDeadlineIsAbsolute checks that control frames do not keep a
// connection that never says Hello open past Config.HelloTimeout: it is
// closed with 4003 although it sends a frame ten times a second.
func TestHelloDeadlineIsAbsolute(t *testing.T) {
	for _, tt := range helloDeadlineTests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig() // HelloTimeout: 1 s
			ts := startServer(t, cfg, nil)
			c := dialRaw(t, ts.url("hello-deadline"))
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if c.conn.WriteControl(tt.kind, nil, time.Now().Add(deadline)) != nil {
							return
						}
					}
				}
			}()
			start := time.Now()
			// expectClosed gives up after deadline (10 s), well before the
			// 60 s a pong would have granted.
			c.expectClosed(protocol.CodeHelloTimeout)
			close(stop)
			<-done
			t.Logf("closed after %v", time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestSlowConsumerLag checks that a client that stops reading is dropped
// after Config.SlowConsumerLag even while its queue has room, and that,
// once it reads again, it finds every frame whole and then the 4008
// farewell: a drop never truncates a frame.
func TestSlowConsumerLag(t *testing.T) {
	cfg := testConfig()
	cfg.SlowConsumerLag = time.Second
	cfg.SendBuffer = 4 << 10
	cfg.QueueLength, cfg.QueueBytes = 1<<20, 1<<30 // only the lag can drop it
	ts := startServer(t, cfg, nil)
	writer := dial(t, ts, "lag", nil)
	stalled := dialRaw(t, ts.url("lag"))
	stalled.hello("lag")

	start := time.Now()
	chunk := strings.Repeat("x", 4<<10)
	for metric(t, ts, "flowstate_slow_consumer_disconnects_total") == 0 {
		if time.Since(start) > deadline {
			t.Fatalf("the stalled client is still a member after %v with a lag of %v", deadline, cfg.SlowConsumerLag)
		}
		flood(t, writer, chunk)
		time.Sleep(time.Millisecond)
	}
	t.Logf("stalled client dropped after %v (lag %v)", time.Since(start).Round(time.Millisecond), cfg.SlowConsumerLag)

	// Reading again, the client gets the frames the kernel held, the end
	// of the frame the server was writing, and the farewell: gorilla
	// fails on any truncated frame.
	e := stalled.expectClosed(protocol.CodeSlowConsumer)
	t.Logf("farewell: %q", e.Message)
	waitMetric(t, ts, 1, "flowstate_sessions_closed_total", "reason", "slow consumer")

	// The writer was not held back.
	insert(t, writer, -1, "after")
	waitSynced(t, writer)
}

// TestSlowConsumerProbe checks that a client that stops reading in a
// quiet room, whose trickle of updates would take minutes to fill the
// kernel's buffers, is still dropped after Config.SlowConsumerLag: the
// server's probe pings go unanswered. The healthy members, which answer
// them, stay.
func TestSlowConsumerProbe(t *testing.T) {
	cfg := testConfig()
	// Short, but long enough for the healthy clients to answer under the
	// race detector on a busy machine.
	cfg.SlowConsumerLag = 2 * time.Second
	ts := startServer(t, cfg, nil)
	writer := dial(t, ts, "probe", nil)
	reader := dial(t, ts, "probe", nil)
	stalled := joinRaw(t, ts, "probe")

	start := time.Now()
	for i := 0; metric(t, ts, "flowstate_slow_consumer_disconnects_total") == 0; i++ {
		if time.Since(start) > deadline {
			t.Fatalf("the stalled client is still a member after %v with a lag of %v", deadline, cfg.SlowConsumerLag)
		}
		insert(t, writer, -1, "x")
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("stalled client dropped after %v (lag %v, probes every %v)", time.Since(start).Round(time.Millisecond), cfg.SlowConsumerLag, 2*time.Second)
	stalled.expectClosed(protocol.CodeSlowConsumer)

	// The members that read were probed too, and answered.
	insert(t, writer, -1, "!")
	waitSynced(t, writer)
	waitConverged(t, writer, reader)
	if got := metric(t, ts, "flowstate_slow_consumer_disconnects_total"); got != 1 {
		t.Errorf("%v slow consumers, want only the stalled one", got)
	}
}
