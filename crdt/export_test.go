package crdt

// SetScanSkips turns the conflict scan's skipping of leaves on or off, so
// that tests can check that it changes no result.
func SetScanSkips(on bool) { scanSkips = on }

// PendingBytes returns what d's pending data counts against MaxPendingBytes.
func PendingBytes(d *Doc) int { return d.pendingBytes }

// ScanSteps returns how many items d's conflict scans have examined.
func ScanSteps(d *Doc) int { return d.scanSteps }
