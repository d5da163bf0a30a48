package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// ManifestDir is the directory, relative to the repository root, that holds
// release manifests.
const ManifestDir = "releases"

// ManifestVersion is the version of the manifest format written.
const ManifestVersion = 1

// Image actions recorded in a manifest.
const (
	// ActionBuilt: the image was built for this release: from its source
	// commit (the manifest's commit), by this run or by an interrupted
	// attempt of the same release — its LabelRevision says so.
	ActionBuilt = "built"
	// ActionRetagged: an image built from an earlier commit (an earlier
	// release or build with the same inputs) was carried over and only got
	// the tag.
	ActionRetagged = "retagged"
)

// Manifest is releases/<tag>.json: what a GitOps repository consumes to
// deploy a release.
type Manifest struct {
	// Version is ManifestVersion.
	Version int `json:"version"`
	// Tag is the release tag, on every image and on the git commit.
	Tag string `json:"tag"`
	// Commit is the commit the images were built from (the release's
	// frozen sources).
	Commit string `json:"commit"`
	// Created is the committer time of Commit, RFC 3339 in UTC, so that
	// re-running a release reproduces the same file.
	Created string `json:"created"`
	// Services are sorted by name.
	Services []ManifestService `json:"services"`
}

// ManifestService is one service of a release manifest.
type ManifestService struct {
	// Name is the service's name.
	Name string `json:"name"`
	// Image is REPO@DIGEST, the immutable reference to deploy.
	Image string `json:"image"`
	// Digest is the image's manifest digest.
	Digest string `json:"digest"`
	// Lockfile is the service's lockfile path relative to the repository
	// root.
	Lockfile string `json:"lockfile"`
	// LockfileSHA256 is the hex SHA-256 of the lockfile at Commit.
	LockfileSHA256 string `json:"lockfile_sha256"`
	// Action is ActionBuilt or ActionRetagged; "" for a shadow service not stamped.
	Action string `json:"action,omitempty"`
	// Shadow is set on a shadow service (see Service.Shadow).
	Shadow bool `json:"shadow,omitempty"`
	// Stamped, on a shadow service, says whether its image got the tag. One that did not has
	// no image, digest nor lockfile here; Note says why.
	Stamped *bool `json:"stamped,omitempty"`
	// Note says why a shadow service was not stamped.
	Note string `json:"note,omitempty"`
}

// describe is the service's line in commit and tag messages: its image and action, or why a
// shadow service was not stamped.
func (s ManifestService) describe() string {
	if s.Stamped != nil && !*s.Stamped {
		return "shadow, not stamped: " + s.Note
	}
	return s.Image + " (" + s.Action + ")"
}

// addShadows marks the stamped shadow services of services and adds the unstamped ones, keeping
// the services sorted by name.
func (m *Manifest) addShadows(services []Service, unstamped []Unstamped) {
	yes, no := true, false
	for _, s := range services {
		for i := range m.Services {
			if m.Services[i].Name == s.Name && s.Shadow {
				m.Services[i].Shadow, m.Services[i].Stamped = true, &yes
			}
		}
	}
	for _, u := range unstamped {
		m.Services = append(m.Services, ManifestService{Name: u.Service, Shadow: true, Stamped: &no, Note: u.Why})
	}
	sort.Slice(m.Services, func(i, j int) bool { return m.Services[i].Name < m.Services[j].Name })
}

// ManifestPath returns releases/<tag>.json.
func ManifestPath(tag string) string { return path.Join(ManifestDir, tag+".json") }

// NewManifest assembles the manifest of a release from its stamped images
// and lockfiles (matched by service name).
func NewManifest(tag, commit string, commitTime time.Time, images []ServiceImage, lockfiles []Lockfile) (Manifest, error) {
	locks := map[string]Lockfile{}
	for _, l := range lockfiles {
		for _, n := range l.names() {
			locks[n] = l
		}
	}
	m := Manifest{
		Version: ManifestVersion,
		Tag:     tag,
		Commit:  commit,
		Created: commitTime.UTC().Format(time.RFC3339),
	}
	for _, img := range images {
		l, ok := locks[img.Service]
		if !ok {
			return Manifest{}, fmt.Errorf("building manifest of %q: no lockfile for service %q", tag, img.Service)
		}
		if img.Digest == "" {
			return Manifest{}, fmt.Errorf("building manifest of %q: service %q has no digest", tag, img.Service)
		}
		action := ActionRetagged
		if img.Changed {
			action = ActionBuilt
		}
		m.Services = append(m.Services, ManifestService{
			Name:           img.Service,
			Image:          img.Repo + "@" + img.Digest,
			Digest:         img.Digest,
			Lockfile:       l.Path,
			LockfileSHA256: l.SHA256,
			Action:         action,
		})
	}
	sort.Slice(m.Services, func(i, j int) bool { return m.Services[i].Name < m.Services[j].Name })
	return m, nil
}

// Marshal renders the manifest as indented JSON with a final newline; the
// same manifest always gives the same bytes.
func (m Manifest) Marshal() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		panic(err) // only strings and ints: cannot fail
	}
	return b.Bytes()
}

// ParseManifest parses a manifest written by Marshal.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("parsing release manifest: %w", err)
	}
	if m.Tag == "" || m.Commit == "" {
		return Manifest{}, fmt.Errorf("parsing release manifest: tag or commit missing")
	}
	return m, nil
}

// Images returns the manifest's stamped services as ServiceImages
// (repository, digest, Changed for ActionBuilt): not the shadow services the
// release went on without.
func (m Manifest) Images() []ServiceImage {
	out := make([]ServiceImage, 0, len(m.Services))
	for _, s := range m.Services {
		if s.Stamped != nil && !*s.Stamped {
			continue // a shadow service the release went on without
		}
		repo, _, _ := strings.Cut(s.Image, "@")
		out = append(out, ServiceImage{Service: s.Name, Repo: repo, Digest: s.Digest, Changed: s.Action == ActionBuilt})
	}
	return out
}
