package collectors

// SystemSample is the device's own CPU and memory state at a batch's time,
// as cumulative CPU time and current memory figures, so that consumers
// compute utilisation over whatever interval they choose.
type SystemSample struct {
	// SystemID identifies the device, like Interface.SystemID.
	SystemID string
	// CPUBusy and CPUTotal are cumulative CPU time over all CPUs, in
	// jiffies (USER_HZ ticks): busy is total minus idle and iowait.
	CPUBusy  uint64
	CPUTotal uint64
	// MemTotal and MemAvailable are in bytes; MemAvailable is the memory
	// available for new work without swapping.
	MemTotal     uint64
	MemAvailable uint64
	// Valid is false when the sample could not be read.
	Valid bool
}
