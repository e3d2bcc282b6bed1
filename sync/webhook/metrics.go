package webhook

import "github.com/prometheus/client_golang/prometheus"

// metrics are the dispatcher's series, labelled by receiver: its URL
// without user info or query, which may hold credentials.
type metrics struct {
	pending           *prometheus.GaugeVec
	delivered, failed *prometheus.CounterVec
	attempts          *prometheus.CounterVec
}

func newMetrics() *metrics {
	label := []string{"receiver"}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "flowstate", Subsystem: "webhook", Name: name, Help: help}, label)
	}
	return &metrics{
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "flowstate", Subsystem: "webhook", Name: "pending",
			Help: "Webhook events in the outbox not yet delivered to the receiver."}, label),
		delivered: counter("delivered_total", "Webhook events the receiver acknowledged with a 2xx answer."),
		failed:    counter("failed_total", "Webhook events given up: retried for the whole retry period, or dropped as the receiver had too many pending."),
		attempts:  counter("attempts_total", "Webhook requests made, retries included."),
	}
}
