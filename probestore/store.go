// Package probestore keeps a daemon's applied probe set and its generation
// on disk, crash-safely: the agent's probes (pushed by a controller or
// written through the REST API) and the controller's fabric probes.
package probestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Store keeps the applied probe set and its generation in a state
// directory, so a restarted daemon comes back with what was last applied. The whole set is one file replaced atomically (write a temporary
// file, fsync it, rename it over the old one, fsync the directory): a crash
// at any moment leaves the old set or the new one, never a mix.
type Store struct {
	dir string
}

// Set is the persisted probe set.
type Set struct {
	Generation uint64            `json:"generation"`
	Probes     []json.RawMessage `json:"probes"`
}

// FileName is the file in the state directory that holds the set.
const FileName = "probes.json"

const storeFile = FileName

// Open prepares dir (creating it with mode 0700 when missing).
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	// Temporary files of saves a crash interrupted are never read; drop them
	// so they do not pile up.
	stale, _ := filepath.Glob(filepath.Join(dir, storeFile+".tmp-*"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
	return &Store{dir: dir}, nil
}

// Load returns the stored set; an absent file is an empty set.
func (s *Store) Load() (Set, error) {
	var set Set
	data, err := os.ReadFile(filepath.Join(s.dir, storeFile))
	if errors.Is(err, fs.ErrNotExist) {
		return set, nil
	}
	if err != nil {
		return set, err
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return set, fmt.Errorf("%s: corrupt probe store: %w", filepath.Join(s.dir, storeFile), err)
	}
	return set, nil
}

// Save replaces the stored set atomically and durably.
func (s *Store) Save(set Set) error {
	data, err := json.Marshal(set)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, storeFile+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.dir, storeFile)); err != nil {
		return err
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
