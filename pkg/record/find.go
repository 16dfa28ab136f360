package record

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// How Find matched a query.
const (
	ByID     = "id"
	ByName   = "name"
	ByPrefix = "id prefix"
)

// Candidate is a container id a query could mean.
type Candidate struct {
	ID    string
	Names []string  // of its latest life
	Live  bool      // it has a live record
	Time  time.Time // its latest life's creation
}

// AmbiguousError: a name or id prefix matches more than one container.
type AmbiguousError struct {
	Query      string
	By         string // ByName or ByPrefix
	Candidates []Candidate
}

func (e *AmbiguousError) Error() string {
	var list []string
	for _, c := range e.Candidates {
		state := "stopped"
		if c.Live {
			state = "live"
		}
		item := c.ID + " (" + state
		if len(c.Names) > 0 {
			item += ", " + strings.Join(c.Names, ", ")
		}
		list = append(list, item+")")
	}
	return fmt.Sprintf("%d containers match this %s: %s", len(e.Candidates), e.By, strings.Join(list, "; "))
}

// Find resolves what a user calls a container to its id, as engines do: an
// exact container id first, then a name the engine recorded (EngineNames),
// then a unique id prefix (e.g. the 12-character short id). A name or
// prefix that matches several containers is an *AmbiguousError listing
// them; no match at all wraps fs.ErrNotExist.
func (s Store) Find(query string) (id, by string, err error) {
	if query == "" {
		return "", "", errors.New("empty container id or name")
	}
	if ValidID(query) == nil {
		if _, err := s.Lives(query); err == nil {
			return query, ByID, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", "", err
		}
	}
	ids, err := s.IDs()
	if err != nil {
		return "", "", err
	}
	var named, prefixed []Candidate
	for _, id := range ids {
		lives, err := s.Lives(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // gone meanwhile
		}
		if err != nil {
			return "", "", err
		}
		latest := lives[len(lives)-1]
		c := Candidate{ID: id, Names: latest.Names, Live: latest.Live, Time: latest.Time}
		for _, l := range lives {
			if slices.Contains(l.Names, query) {
				named = append(named, c)
				break
			}
		}
		if strings.HasPrefix(id, query) {
			prefixed = append(prefixed, c)
		}
	}
	for _, m := range []struct {
		by    string
		found []Candidate
	}{{ByName, named}, {ByPrefix, prefixed}} {
		switch len(m.found) {
		case 0:
			continue
		case 1:
			return m.found[0].ID, m.by, nil
		}
		return "", "", &AmbiguousError{Query: query, By: m.by, Candidates: m.found}
	}
	return "", "", fmt.Errorf("no container with the id, name or id prefix %q has a record in %s or %s: %w", query, s.RunDir, s.ArchiveDir, fs.ErrNotExist)
}

// IDs lists the container ids that have a live or archived record, sorted.
func (s Store) IDs() ([]string, error) {
	seen := map[string]bool{}
	run, err := os.ReadDir(s.RunDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range run {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && e.Type().IsRegular() && ValidID(id) == nil {
			seen[id] = true
		}
	}
	arch, err := os.ReadDir(s.ArchiveDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range arch {
		if e.IsDir() && ValidID(e.Name()) == nil {
			seen[e.Name()] = true
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}
