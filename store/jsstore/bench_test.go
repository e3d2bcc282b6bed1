package jsstore_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures acknowledged appends of one 100-byte update:
// one at a time (the latency of a PubAck), and from 100 rooms at once
// (the throughput of a node), on one server with one replica and on a
// three-node cluster with three.
func BenchmarkAppend(b *testing.B) {
	update := make([]byte, 100)
	for _, size := range []int{1, 3} {
		c := startCluster(b, size)
		st := c.open(0, size, 10*time.Second)
		b.Run(fmt.Sprintf("nodes=%d/sequential", size), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				update[0], update[1] = byte(i), byte(i>>8)
				if err := st.Append("bench", update); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("nodes=%d/rooms=100", size), func(b *testing.B) {
			var room atomic.Int64
			b.SetParallelism(50) // 100 goroutines on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				name := fmt.Sprintf("room%d", room.Add(1))
				u := make([]byte, 100)
				for i := 0; pb.Next(); i++ {
					u[0], u[1], u[2] = byte(i), byte(i>>8), byte(i>>16)
					if err := st.Append(name, u); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
