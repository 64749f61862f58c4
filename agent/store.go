package agent

import "github.com/probe-agent/probe-agent/probestore"

// Store is the crash-safe probe set in state_dir (probestore, shared with
// the controller).
type Store = probestore.Store

// StoredSet is the persisted probe set.
type StoredSet = probestore.Set

// OpenStore prepares the state directory (probestore.Open).
var OpenStore = probestore.Open

// storeFile is the store's file in state_dir.
const storeFile = probestore.FileName
