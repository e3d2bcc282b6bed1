package crdt

// NewestVersion is the newest format version this package reads and
// writes: 2, which adds the rich records of RICH.md to version 1
// (FORMAT.md). Every version up to it is read.
const NewestVersion = richVersion

// UpdateVersion returns the format version an update or snapshot is
// written in: its first element (FORMAT.md §2.4). An encoder writes 2
// only for updates holding rich records (marks, embeds: RICH.md §R6), so
// a server can tell, from the first bytes alone, whether a peer that
// reads version 1 only could take an update. The rest of the update is
// not read: bytes that pass here may still fail to apply. Anything that
// does not open as an update gives a *DecodeError.
func UpdateVersion(update []byte) (int, error) {
	var r reader
	r.reset(update)
	n, err := r.arrayLen()
	if err != nil {
		return 0, err
	}
	if n != 5 {
		return 0, r.errorf("an update is an array of 5 elements, not %d", n)
	}
	v, err := r.uint(1 << 32)
	if err != nil {
		return 0, err
	}
	if v != formatVersion && v != richVersion {
		return 0, r.errorf("unsupported format version %d", v)
	}
	return int(v), nil
}
