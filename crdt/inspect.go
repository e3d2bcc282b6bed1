package crdt

// A Run is the clocks [Start, End) of one client that an update holds
// records of.
type Run struct {
	Client     ClientID
	Start, End uint64
}

// Writes returns the runs of clocks update holds records of (text, map
// and skip records), one per client, in ascending client order. Its
// delete set is not included: deleting another client's characters writes
// nothing under that client's ID. A server uses it to tell whose client
// IDs an update writes under before applying it. Bytes that are not a
// valid update return the error Apply would.
func Writes(update []byte) ([]Run, error) {
	u := decodedPool.Get().(*decoded)
	defer func() {
		u.release()
		decodedPool.Put(u)
	}()
	if err := u.decode(update); err != nil {
		return nil, err
	}
	runs := make([]Run, 0, len(u.blocks))
	for _, b := range u.blocks {
		runs = append(runs, Run{Client: b.client, Start: b.start, End: b.end})
	}
	return runs, nil
}
