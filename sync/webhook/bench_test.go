package webhook

import (
	"fmt"
	"testing"
	"time"

	docsync "github.com/flowstate/flowstate/sync"
)

// BenchmarkOnChange measures what the hub's hook goroutine pays per
// change, over 100 rooms, with the receiver up, down (nothing listening)
// and hanging, while the dispatcher writes the debounced events to a real
// data file and delivers them in the background. A receiver that is down
// must cost no more than one that is up.
func BenchmarkOnChange(b *testing.B) {
	for _, mode := range []string{"up", "down", "hang"} {
		b.Run(mode, func(b *testing.B) {
			url := "http://127.0.0.1:1/hook" // nothing listens on port 1
			if mode != "down" {
				r := newReceiver(b)
				r.setHang(mode == "hang")
				url = r.srv.URL
			}
			st, _ := openBolt(b)
			cfg := fastConfig(Endpoint{URL: url})
			cfg.Debounce = 10 * time.Millisecond
			d := start(b, cfg, st)
			rooms := make([]string, 100)
			for i := range rooms {
				rooms[i] = fmt.Sprintf("room-%d", i)
			}
			sv := []byte{1, 2, 3, 4, 5, 6, 7, 8}
			texts := []string{"body"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				d.OnChange(docsync.ChangeEvent{Room: rooms[i%len(rooms)], StateVector: sv, Size: i, Texts: texts})
			}
		})
	}
}
