package crdt

// NewestVersion is the newest format version this package reads and
// writes: 3, which writes the rich records of RICH.md (version 2) with
// compact marks and a mark table. Every version up to it is read; version
// 2 is no longer written.
const NewestVersion = compactVersion

// UpdateVersion returns the format version an update or snapshot is
// written in: its first element (FORMAT.md §2.4). An encoder writes 3
// only for updates holding rich records (marks, embeds: RICH.md §R6), so
// a server can tell, from the first bytes alone, whether a peer that
// reads version 1 only could take an update. The rest of the update is
// not read: bytes that pass here may still fail to apply. Anything that
// does not open as an update gives a *DecodeError.
func UpdateVersion(update []byte) (int, error) {
	var r reader
	r.reset(update)
	v, err := openUpdate(&r)
	if err != nil {
		return 0, err
	}
	return int(v), nil
}
