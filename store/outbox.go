package store

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// An Outbox keeps small records that must outlive the process for a part
// of the server other than the rooms: the webhook deliveries not yet
// acknowledged by their receivers. Its records share the data file, and
// the group commit, with the rooms, so that a write to it costs no fsync
// of its own. Keys are chosen by the caller; their order is byte-wise.
// The store never decodes the values.
type Outbox interface {
	// WriteOutbox stores every record of put, replacing a record of the
	// same key, and removes every key of del, all or none, as durably as
	// Append. A key both put and deleted is deleted.
	WriteOutbox(put []OutboxRecord, del []string) error

	// ReadOutbox returns the records whose keys begin with prefix, in key
	// order; the values are the caller's to keep.
	ReadOutbox(prefix string) ([]OutboxRecord, error)
}

// An OutboxRecord is one record of an Outbox.
type OutboxRecord struct {
	Key   string
	Value []byte
}

var (
	_ Outbox = (*Bolt)(nil)
	_ Outbox = (*Memory)(nil)
)

// checkOutbox refuses keys bbolt cannot store, before anything is written.
func checkOutbox(put []OutboxRecord, del []string) error {
	for _, r := range put {
		if r.Key == "" || len(r.Key) > bolt.MaxKeySize {
			return fmt.Errorf("store: outbox key of %d bytes: keys hold 1 to %d bytes", len(r.Key), bolt.MaxKeySize)
		}
		if len(r.Value) > bolt.MaxValueSize {
			return fmt.Errorf("store: outbox record %q: a value of %d bytes", r.Key, len(r.Value))
		}
	}
	for _, k := range del {
		if k == "" || len(k) > bolt.MaxKeySize {
			return fmt.Errorf("store: outbox key of %d bytes: keys hold 1 to %d bytes", len(k), bolt.MaxKeySize)
		}
	}
	return nil
}

// WriteOutbox implements Outbox, group-committed like Append.
func (b *Bolt) WriteOutbox(put []OutboxRecord, del []string) error {
	if err := checkOutbox(put, del); err != nil {
		return err
	}
	if len(put) == 0 && len(del) == 0 {
		return b.closedErr()
	}
	return b.submit(&request{kind: opOutbox, outboxPut: put, outboxDel: del})
}

// ReadOutbox implements Outbox.
func (b *Bolt) ReadOutbox(prefix string) (out []OutboxRecord, err error) {
	err = b.view(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketOutbox)
		if bk == nil {
			return nil
		}
		p := []byte(prefix)
		c := bk.Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if v == nil {
				return errorOf(ErrCorrupt, "store: outbox record %q is a bucket, not a value", k)
			}
			out = append(out, OutboxRecord{Key: string(k), Value: slices.Clone(v)})
		}
		return nil
	})
	return out, err
}

// writeOutbox performs an opOutbox request in w's transaction.
func (w *writeTx) writeOutbox(r *request) error {
	bk, err := w.tx.CreateBucketIfNotExists(bucketOutbox)
	if err != nil {
		return fmt.Errorf("store: outbox: %w", err)
	}
	for _, rec := range r.outboxPut {
		if err := bk.Put([]byte(rec.Key), rec.Value); err != nil {
			return fmt.Errorf("store: outbox record %q: %w", rec.Key, err)
		}
	}
	for _, k := range r.outboxDel {
		if err := bk.Delete([]byte(k)); err != nil {
			return fmt.Errorf("store: outbox record %q: %w", k, err)
		}
	}
	return nil
}

// WriteOutbox implements Outbox.
func (m *Memory) WriteOutbox(put []OutboxRecord, del []string) error {
	if err := checkOutbox(put, del); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.outbox == nil {
		m.outbox = make(map[string][]byte)
	}
	for _, r := range put {
		m.outbox[r.Key] = slices.Clone(r.Value)
	}
	for _, k := range del {
		delete(m.outbox, k)
	}
	return nil
}

// ReadOutbox implements Outbox.
func (m *Memory) ReadOutbox(prefix string) ([]OutboxRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	var out []OutboxRecord
	for k, v := range m.outbox {
		if strings.HasPrefix(k, prefix) {
			out = append(out, OutboxRecord{Key: k, Value: slices.Clone(v)})
		}
	}
	slices.SortFunc(out, func(a, b OutboxRecord) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
